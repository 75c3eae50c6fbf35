"""Permission matrix: every messaging page and API endpoint, every persona.

case_a belongs to ``citizen`` and service A (agent_a and the supervisor work there); agent_b and
citizen2 are strangers to it. Strangers get a 404 (existence is not disclosed), staff get a 403
on citizen-only pages, anonymous visitors are sent to the login page (pages) or get a 403 (API).
"""

import pytest
from django.test import Client
from django.urls import reverse

from contactcenter.models import Case
from messaging import services
from messaging.models import Attachment

from .conftest import pdf_file, png_file

pytestmark = pytest.mark.django_db

PERSONAS = ["citizen", "citizen2", "agent_a", "agent_b", "supervisor", "anonymous"]


@pytest.fixture
def world(case_a, case_b, citizen, citizen2, agent_a, agent_b, supervisor):
    event = services.post_citizen_message(case_a, citizen, "Pièce", files=[pdf_file()])
    attachment = event.attachments.get()
    draft = Attachment(
        case=case_a,
        uploaded_by=agent_a,
        original_name="brouillon.png",
        content_type="image/png",
        size=10,
        sha256="0" * 64,
    )
    draft.file.save("png", png_file(), save=False)
    draft.save()
    return {
        "case": case_a,
        "attachment": attachment,
        "draft": draft,
        "people": {
            "citizen": citizen,
            "citizen2": citizen2,
            "agent_a": agent_a,
            "agent_b": agent_b,
            "supervisor": supervisor,
            "anonymous": None,
        },
    }


def client_for(world, persona):
    client = Client()
    user = world["people"][persona]
    if user is not None:
        client.force_login(user)
    return client


def is_login_redirect(response):
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- pages ----------------------------------------------------------------------------------

CITIZEN_PAGES = ["space", "new_request", "history", "preferences", "access_log"]


@pytest.mark.parametrize("page", CITIZEN_PAGES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_citizen_pages(world, persona, page):
    response = client_for(world, persona).get(reverse(f"messaging:{page}"))
    expected = {"citizen": 200, "citizen2": 200, "agent_a": 403, "agent_b": 403, "supervisor": 403}
    if persona == "anonymous":
        assert is_login_redirect(response)
    else:
        assert response.status_code == expected[persona]


CASE_PAGES = [
    ("case_detail", "get", {}, 200),
    ("case_reply", "post", {"body": "Bonjour"}, 302),
    ("case_close", "post", {}, 302),
    ("case_reopen", "post", {}, 302),  # open case: error message then redirect
    ("case_rate", "post", {"score": "5"}, 400),  # not answered yet
]


@pytest.mark.parametrize(("page", "method", "data", "owner_status"), CASE_PAGES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_case_pages(world, persona, page, method, data, owner_status):
    url = reverse(f"messaging:{page}", args=[world["case"].reference])
    response = getattr(client_for(world, persona), method)(url, data)
    expected = {
        "citizen": owner_status,
        "citizen2": 404,
        "agent_a": 403,
        "agent_b": 403,
        "supervisor": 403,
    }
    if persona == "anonymous":
        assert is_login_redirect(response)
    else:
        assert response.status_code == expected[persona]


def test_stranger_cannot_change_anything(world):
    case = world["case"]
    client = client_for(world, "citizen2")
    client.post(reverse("messaging:case_reply", args=[case.reference]), {"body": "Intrus"})
    client.post(reverse("messaging:case_close", args=[case.reference]))
    case.refresh_from_db()
    assert case.status == Case.Status.NEW
    assert not case.events.filter(body="Intrus").exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_attachment_download(world, persona):
    url = reverse("messaging:attachment", args=[world["attachment"].public_id])
    response = client_for(world, persona).get(url)
    expected = {"citizen": 200, "citizen2": 404, "agent_a": 200, "agent_b": 404, "supervisor": 200}
    if persona == "anonymous":
        assert is_login_redirect(response)
    else:
        assert response.status_code == expected[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_draft_attachment_is_only_for_its_uploader(world, persona):
    url = reverse("messaging:attachment", args=[world["draft"].public_id])
    response = client_for(world, persona).get(url)
    if persona == "anonymous":
        assert is_login_redirect(response)
    else:
        assert response.status_code == (200 if persona == "agent_a" else 404)


def test_unknown_attachment_is_404(world):
    response = client_for(world, "citizen").get(
        reverse("messaging:attachment", args=["00000000-0000-0000-0000-000000000000"])
    )
    assert response.status_code == 404


# --- API ------------------------------------------------------------------------------------

VISIBLE = {
    "citizen": True,
    "citizen2": False,
    "agent_a": True,
    "agent_b": False,
    "supervisor": True,
}


def api_expect(persona, ok):
    if persona == "anonymous":
        return 403
    return ok if VISIBLE[persona] else 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_case_list_shows_only_visible_cases(world, persona, case_b):
    response = client_for(world, persona).get("/api/cases/")
    if persona == "anonymous":
        assert response.status_code == 403
        return
    references = {row["reference"] for row in response.json()["results"]}
    expected = {
        "citizen": {world["case"].reference},
        "citizen2": {case_b.reference},
        "agent_a": {world["case"].reference},
        "agent_b": {case_b.reference},
        "supervisor": {world["case"].reference},
    }
    assert references == expected[persona]


@pytest.mark.parametrize(
    ("suffix", "method", "data", "ok"),
    [
        ("", "get", None, 200),
        ("messages/", "get", None, 200),
        ("attachments/", "get", None, 200),
        ("messages/", "post", {"body": "Bonjour"}, 201),
        ("reopen/", "post", {}, 409),  # the case is open
    ],
)
@pytest.mark.parametrize("persona", PERSONAS)
def test_api_case_endpoints(world, persona, suffix, method, data, ok):
    url = f"/api/cases/{world['case'].reference}/{suffix}"
    client = client_for(world, persona)
    response = (
        client.get(url)
        if method == "get"
        else client.post(url, data, content_type="application/json")
    )
    assert response.status_code == api_expect(persona, ok)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_upload_attachment(world, persona):
    url = f"/api/cases/{world['case'].reference}/attachments/"
    response = client_for(world, persona).post(url, {"file": pdf_file()})
    assert response.status_code == api_expect(persona, 201)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_close(world, persona):
    url = f"/api/cases/{world['case'].reference}/close/"
    response = client_for(world, persona).post(
        url, {"resolution": "answered"}, content_type="application/json"
    )
    assert response.status_code == api_expect(persona, 200)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_rating(world, persona):
    url = f"/api/cases/{world['case'].reference}/rating/"
    response = client_for(world, persona).post(url, {"score": 5}, content_type="application/json")
    expected = {
        "citizen": 409,  # not yet closed
        "citizen2": 404,
        "agent_a": 403,
        "agent_b": 403,
        "supervisor": 403,
        "anonymous": 403,
    }
    assert response.status_code == expected[persona]


@pytest.mark.parametrize("suffix", ["", "download/"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_api_attachment(world, persona, suffix):
    url = f"/api/attachments/{world['attachment'].public_id}/{suffix}"
    assert client_for(world, persona).get(url).status_code == api_expect(persona, 200)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_draft_attachment_only_for_uploader(world, persona):
    url = f"/api/attachments/{world['draft'].public_id}/"
    response = client_for(world, persona).get(url)
    if persona == "anonymous":
        assert response.status_code == 403
    else:
        assert response.status_code == (200 if persona == "agent_a" else 404)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_create_case_is_for_citizens(world, persona, topic_a):
    response = client_for(world, persona).post(
        "/api/cases/",
        {"topic": "impots", "kind": "question", "subject": "S", "body": "B"},
        content_type="application/json",
    )
    expected = {
        "citizen": 201,
        "citizen2": 201,
        "agent_a": 403,
        "agent_b": 403,
        "supervisor": 403,
        "anonymous": 403,
    }
    assert response.status_code == expected[persona]


def test_api_writes_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["people"]["citizen"])
    response = client.post(
        f"/api/cases/{world['case'].reference}/messages/",
        {"body": "Sans jeton"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not world["case"].events.filter(body="Sans jeton").exists()
