"""Co-browsing pages: who may open what, precise errors, the invitation action, no inline script."""

import re

import pytest
from django.contrib.messages import get_messages
from django.template.loader import render_to_string
from django.urls import reverse

from cobrowse import services
from cobrowse.models import CobrowseSession

pytestmark = pytest.mark.django_db

Status = CobrowseSession.Status


def _inline_scripts(html: str) -> list[str]:
    return [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag]


# --- Access -----------------------------------------------------------------------------------
def test_citizen_page_is_for_citizens(client, client_as, citizen, agent_a):
    url = reverse("cobrowse:citizen")
    assert client.get(url).status_code == 302
    assert client_as(agent_a).get(url).status_code == 403
    response = client_as(citizen).get(url)
    assert response.status_code == 200
    assert "Obtenir un code" in response.content.decode()


def test_agent_pages_are_for_staff(client_as, citizen, offered):
    assert client_as(citizen).get(reverse("cobrowse:agent")).status_code == 403
    viewer = reverse("cobrowse:viewer", args=[offered.pk])
    assert client_as(citizen).get(viewer).status_code == 403
    assert client_as(citizen).post(reverse("cobrowse:invite"), {"citizen_id": 1}).status_code == 403


def test_viewer_is_only_for_the_sessions_agent(client_as, agent_a, agent_b, supervisor, offered):
    viewer = reverse("cobrowse:viewer", args=[offered.pk])
    assert client_as(agent_b).get(viewer).status_code == 404
    assert client_as(supervisor).get(viewer).status_code == 404
    response = client_as(agent_a).get(viewer)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-ws-path="/ws/cobrowse/agent/{offered.pk}/"' in html
    assert "En attente de l’accord de l’usager" in html


def test_ended_session_viewer_shows_the_end_without_replay(client_as, agent_a, offered):
    services.end_session(offered.pk, CobrowseSession.EndReason.AGENT)
    html = client_as(agent_a).get(reverse("cobrowse:viewer", args=[offered.pk])).content.decode()
    assert "Session terminée" in html
    assert "agent.js" not in html and "cobrowse-stage" not in html


def test_no_inline_script_on_cobrowse_pages(client_as, citizen, agent_a, offered):
    pages = [
        client_as(citizen).get(reverse("cobrowse:citizen")),
        client_as(agent_a).get(reverse("cobrowse:agent")),
        client_as(agent_a).get(reverse("cobrowse:viewer", args=[offered.pk])),
    ]
    for response in pages:
        html = response.content.decode()
        assert _inline_scripts(html) == [], response.request["PATH_INFO"]
        assert " on" not in re.sub(r"\s+", " ", "".join(re.findall(r"<[^>]+ on\w+=", html)))
        assert "script-src 'self'" in response["Content-Security-Policy"]


def test_citizen_pages_carry_the_loader_and_agent_pages_do_not(client_as, citizen, agent_a):
    citizen_html = client_as(citizen).get(reverse("cobrowse:citizen")).content.decode()
    assert 'id="cobrowse-citizen"' in citizen_html
    assert "cobrowse/js/citizen.js" in citizen_html
    assert "Un agent voit votre écran" in citizen_html
    assert "Arrêter le partage" in citizen_html
    agent_html = client_as(agent_a).get(reverse("cobrowse:agent")).content.decode()
    assert 'id="cobrowse-citizen"' not in agent_html


# --- Citizen code -----------------------------------------------------------------------------
def test_citizen_gets_a_code_in_the_modal(client_as, citizen):
    response = client_as(citizen).post(
        reverse("cobrowse:code"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="cobrowse-code-result"
    )
    html = response.content.decode()
    digits = re.search(r"data-cobrowse-code>(\d{3} \d{3})<", html).group(1)
    session = CobrowseSession.objects.get(citizen=citizen)
    assert session.code_digest == services.code_digest(digits.replace(" ", ""))
    assert f'data-cobrowse-code-session="{session.pk}"' in html
    assert 'hx-target="#cobrowse-code-result"' in html
    assert "<html" not in html  # a fragment


def test_citizen_gets_a_code_without_javascript(client_as, citizen):
    response = client_as(citizen).post(reverse("cobrowse:code"))
    assert response.status_code == 200
    assert re.search(r"data-cobrowse-code>\d{3} \d{3}<", response.content.decode())


def test_code_while_sharing_is_refused_with_a_message(client_as, citizen, offered):
    services.accept(offered.pk, citizen, "x")
    response = client_as(citizen).post(reverse("cobrowse:code"), HTTP_HX_REQUEST="true")
    assert "Un partage d'écran est déjà en cours" in response.content.decode().replace(
        "&#x27;", "'"
    )


def test_agent_cannot_ask_for_a_code(client_as, agent_a):
    assert client_as(agent_a).post(reverse("cobrowse:code")).status_code == 403


def test_stop_button_ends_the_citizens_session(client_as, citizen, offered):
    services.accept(offered.pk, citizen, "x")
    response = client_as(citizen).post(
        reverse("cobrowse:end_current"), HTTP_X_REQUESTED_WITH="fetch"
    )
    assert response.status_code == 204
    offered.refresh_from_db()
    assert offered.status == Status.ENDED
    assert offered.end_reason == CobrowseSession.EndReason.CITIZEN


# --- Agent code form ---------------------------------------------------------------------------
def test_malformed_code_is_explained_and_kept(client_as, agent_a):
    response = client_as(agent_a).post(reverse("cobrowse:agent"), {"code": "12 3"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Le code comporte exactement 6 chiffres (vous en avez saisi 3)." in html
    assert 'value="12 3"' in html
    assert 'aria-invalid="true"' in html


def test_empty_code_is_explained(client_as, agent_a):
    response = client_as(agent_a).post(reverse("cobrowse:agent"), {"code": ""})
    assert response.status_code == 400
    assert "Saisissez le code à 6 chiffres" in response.content.decode()


def test_unknown_code_says_how_many_tries_are_left(client_as, citizen, agent_a):
    _session, code = services.create_code(citizen)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = client_as(agent_a).post(reverse("cobrowse:agent"), {"code": wrong})
    assert response.status_code == 400
    assert "Code inconnu" in response.content.decode()
    assert "encore 4 essais avant blocage" in response.content.decode()


def test_locked_out_agent_sees_until_when(client_as, citizen, agent_a):
    _session, code = services.create_code(citizen)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    client = client_as(agent_a)
    for _ in range(5):
        client.post(reverse("cobrowse:agent"), {"code": wrong})
    html = client.get(reverse("cobrowse:agent")).content.decode()
    assert "Saisie bloquée" in html
    assert re.search(r'<button type="submit"[^>]*disabled', html)
    response = client.post(reverse("cobrowse:agent"), {"code": code})
    assert response.status_code == 400
    assert "Trop de codes erronés" in response.content.decode()


def test_right_code_opens_the_viewer(client_as, citizen, agent_a):
    _session, code = services.create_code(citizen)
    response = client_as(agent_a).post(reverse("cobrowse:agent"), {"code": code})
    session = CobrowseSession.objects.get(citizen=citizen)
    assert response.status_code == 302
    assert response["Location"] == reverse("cobrowse:viewer", args=[session.pk])
    assert session.agent == agent_a and session.status == Status.OFFERED


def test_recent_sessions_are_listed(client_as, citizen, agent_a, offered):
    html = client_as(agent_a).get(reverse("cobrowse:agent")).content.decode()
    assert "Camille Martin" in html
    assert reverse("cobrowse:viewer", args=[offered.pk]) in html


# --- Invitation -------------------------------------------------------------------------------
def test_invite_from_a_case_of_another_service_is_404(client_as, agent_b, case_a, citizen):
    services.mark_online(citizen.pk)
    response = client_as(agent_b).post(reverse("cobrowse:invite"), {"case_id": case_a.pk})
    assert response.status_code == 404
    assert not CobrowseSession.objects.exists()


@pytest.mark.parametrize("value", ["999999", "abc", ""])
def test_invite_unknown_citizen_is_404_or_explained(client_as, agent_a, value):
    response = client_as(agent_a).post(reverse("cobrowse:invite"), {"citizen_id": value})
    if value:
        assert response.status_code == 404
    else:
        assert response.status_code == 302


def test_invite_staff_member_as_citizen_is_404(client_as, agent_a, agent_b):
    response = client_as(agent_a).post(reverse("cobrowse:invite"), {"citizen_id": agent_b.pk})
    assert response.status_code == 404


def test_invite_offline_citizen_goes_back_with_the_reason(client_as, agent_a, case_a):
    client = client_as(agent_a)
    back = "/console/demandes/x/"
    response = client.post(reverse("cobrowse:invite"), {"case_id": case_a.pk, "next": back})
    assert response.status_code == 302 and response["Location"] == back
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("n'est pas connecté(e)" in m for m in messages)


def test_invite_rejects_an_offsite_next(client_as, agent_a, case_a):
    response = client_as(agent_a).post(
        reverse("cobrowse:invite"), {"case_id": case_a.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("cobrowse:agent")


def test_invite_online_citizen_opens_the_viewer(client_as, agent_a, case_a, citizen):
    services.mark_online(citizen.pk)
    response = client_as(agent_a).post(reverse("cobrowse:invite"), {"case_id": case_a.pk})
    session = CobrowseSession.objects.get()
    assert response["Location"] == reverse("cobrowse:viewer", args=[session.pk])
    assert session.case == case_a and session.origin == "invitation"


def test_invite_needs_post(client_as, agent_a):
    assert client_as(agent_a).get(reverse("cobrowse:invite")).status_code == 405


def test_invite_button_tells_whether_the_citizen_is_online(rf, agent_a, case_a, citizen):
    request = rf.get("/console/")
    request.user = agent_a
    html = render_to_string("cobrowse/_invite_button.html", {"case": case_a}, request=request)
    assert "Hors ligne" in html and f'name="case_id" value="{case_a.pk}"' in html
    services.mark_online(citizen.pk)
    html = render_to_string("cobrowse/_invite_button.html", {"citizen": citizen}, request=request)
    assert "En ligne" in html and f'name="citizen_id" value="{citizen.pk}"' in html


def test_agent_end_fallback(client_as, agent_a, agent_b, offered, citizen):
    services.accept(offered.pk, citizen, "x")
    url = reverse("cobrowse:agent_end", args=[offered.pk])
    assert client_as(agent_b).post(url).status_code == 404
    assert client_as(agent_a).post(url).status_code == 302
    offered.refresh_from_db()
    assert offered.end_reason == CobrowseSession.EndReason.AGENT


# --- The replay's document --------------------------------------------------------------------
def test_player_has_a_strict_policy_allowing_only_guichet_static_files(client):
    response = client.get(reverse("cobrowse:player"))
    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"].split() == [
        "http://testserver/static/cobrowse/js/player.js",
        "http://testserver/static/vendor/rrweb-replay/replay.js",
    ]
    sheets = policy["style-src"].split()
    assert "'self'" not in sheets and "http://testserver/static/guichet/css/guichet.css" in sheets
    assert all(s == "'unsafe-inline'" or s.startswith("http://testserver/static/") for s in sheets)
    assert policy["img-src"] == policy["font-src"] == "data: http://testserver/static/"
    for directive in ("connect-src", "frame-src", "form-action", "base-uri", "object-src"):
        assert policy[directive] == "'none'", directive
    assert policy["frame-ancestors"] == "'self'"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    html = response.content.decode()
    assert _inline_scripts(html) == []
    assert "cobrowse/js/player.js" in html


def test_viewer_embeds_the_player_not_the_replay_itself(client_as, agent_a, offered):
    html = client_as(agent_a).get(reverse("cobrowse:viewer", args=[offered.pk])).content.decode()
    assert f'data-player-src="{reverse("cobrowse:player")}"' in html
    assert "rrweb-replay" not in html


def test_invite_from_the_workstation_answers_with_the_viewer_in_place(
    client_as, agent_a, case_a, citizen
):
    # htmx (the workstation's dialog): no redirect, the viewer itself, mounted by the page.
    client = client_as(agent_a)
    refused = client.post(
        reverse("cobrowse:invite"), {"case_id": case_a.pk}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 400
    assert "pas connecté(e)" in refused.content.decode()
    services.mark_online(citizen.pk)
    response = client.post(
        reverse("cobrowse:invite"), {"case_id": case_a.pk}, HTTP_HX_REQUEST="true"
    )
    session = CobrowseSession.objects.get()
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-ws-path="/ws/cobrowse/agent/{session.pk}/"' in html
    assert 'id="ws-dialog-title"' in html and "<h1" not in html
    full = client.get(reverse("cobrowse:viewer", args=[session.pk])).content.decode()
    assert "<h1" in full and 'id="cobrowse-viewer"' in full  # the full page still works


def test_ended_session_viewer_offers_to_write_what_to_remember(
    client_as, agent_a, citizen, offered, case_a
):
    viewer = reverse("cobrowse:viewer", args=[offered.pk])
    live = client_as(agent_a).get(viewer).content.decode()
    assert "<p data-cobrowse-trace hidden>" in live  # shown by agent.js when the session ends
    CobrowseSession.objects.filter(pk=offered.pk).update(case=case_a)
    services.accept(offered.pk, citizen, "citizen-channel")
    services.end_session(offered.pk, CobrowseSession.EndReason.AGENT)
    offered.refresh_from_db()
    assert offered.event_id is not None
    html = client_as(agent_a).get(reverse("cobrowse:viewer", args=[offered.pk])).content.decode()
    assert f"/console/contacts/{offered.event_id}/a-retenir/" in html
