"""Alert preferences per category and channel, the alerts' language, and the one-click
unsubscribe (RFC 8058) of non-essential categories."""

import re
import time

import pytest
from django.core import mail, signing
from django.test import Client

from messaging import notifications, preferences, services
from messaging.models import AlertPreference, Notification

pytestmark = pytest.mark.django_db

DEMARCHE = {"reference": "PASS-1", "service": "Titres", "step": "Pièce manquante"}


def queue(citizen, kind, case=None, key="k", params=None):
    rows = notifications.queue_for_citizen(
        citizen.pk, case.pk if case else None, kind, key=key, params=params or DEMARCHE
    )
    for row in rows:
        notifications.deliver(row.pk)
    return rows


@pytest.fixture
def sms_citizen(citizen):
    citizen.notify_sms = True
    citizen.save(update_fields=["notify_sms"])
    return citizen


def test_a_category_turned_off_on_one_channel_only(sms_citizen, case_a):
    AlertPreference.objects.create(user=sms_citizen, demarches_email=False)
    assert {row.channel for row in queue(sms_citizen, "demarche_step")} == {"sms"}
    assert {row.channel for row in queue(sms_citizen, "reply", case_a, "r")} == {"email", "sms"}


def test_a_choice_changed_after_queueing_cancels_the_alert(sms_citizen):
    rows = notifications.queue_for_citizen(
        sms_citizen.pk, None, "demarche_step", key="k", params=DEMARCHE
    )
    AlertPreference.objects.create(user=sms_citizen, demarches_sms=False)
    outcomes = {row.channel: notifications.deliver(row.pk).status for row in rows}
    assert outcomes == {"email": "sent", "sms": "cancelled"}


def test_non_essential_email_has_rfc8058_headers_and_footer_link(citizen, case_a):
    queue(citizen, "demarche_step")
    message = mail.outbox[-1]
    url = preferences.unsubscribe_url(citizen.pk, "demarche_step")
    assert url and "/alertes/desabonnement/" in url
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in message.body
    queue(citizen, "reply", case_a, "r")
    essential = mail.outbox[-1]
    assert "List-Unsubscribe" not in essential.extra_headers
    assert "/alertes/desabonnement/" not in essential.body


def test_one_click_post_without_session_or_csrf_unsubscribes(citizen):
    url = preferences.unsubscribe_url(citizen.pk, "appointment_reminder")
    path = url.split("://", 1)[1].split("/", 1)[1]
    client = Client(enforce_csrf_checks=True)
    page = client.get("/" + path)
    assert page.status_code == 200 and "Me désabonner" in page.content.decode()
    assert not AlertPreference.objects.exists()  # GET changes nothing
    response = client.post(
        "/" + path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    choice = AlertPreference.objects.get(user=citizen)
    assert (choice.appointments_email, choice.appointments_sms, choice.demarches_email) == (
        False,
        True,
        True,
    )
    assert client.post("/" + path).status_code == 200  # again: still off, no error


def test_tampered_or_essential_tokens_are_refused(citizen):
    url = preferences.unsubscribe_url(citizen.pk, "demarche_step")
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    assert Client().post(path[:-3] + "xx/").status_code == 400
    forged = preferences.unsubscribe_token(citizen.pk, "requests")
    assert Client().post(f"/alertes/desabonnement/{forged}/").status_code == 400
    assert not AlertPreference.objects.exists()
    assert preferences.unsubscribe_url(citizen.pk, "reply") == ""


def test_preferences_page_saves_categories_and_language(
    client_as, citizen, topic_a, django_capture_on_commit_callbacks
):
    client = client_as(citizen)
    page = client.get("/espace/preferences/").content.decode()
    assert "Mes démarches" in page and 'name="demarches_sms"' in page
    data = {
        "notify_email": "on",
        "mobile_phone": "",
        "requests_email": "on",
        "appointments_email": "on",
        "language": "en",
    }
    assert client.post("/espace/preferences/", data).status_code == 302
    choice = AlertPreference.objects.get(user=citizen)
    assert (choice.demarches_email, choice.requests_email, choice.language) == (False, True, "en")
    with django_capture_on_commit_callbacks(execute=True):
        case = services.create_request(citizen, topic_a, "question", "Sujet", "Texte")
    row = Notification.objects.get(case=case, kind="acknowledgement")
    assert row.subject == f"Acknowledgement of your request {case.reference}"


def test_preferences_page_refuses_a_bad_language(client_as, citizen):
    data = {"notify_email": "on", "mobile_phone": "", "language": "de"}
    response = client_as(citizen).post("/espace/preferences/", data)
    assert response.status_code == 400
    assert not AlertPreference.objects.exists()


def test_a_placeholder_address_cannot_turn_email_alerts_on(client_as, citizen):
    """An account FranceConnect created without an address (".invalid") sees the box disabled
    with why; ticking it anyway is refused with a clear message; other choices still save."""
    citizen.email = citizen.username = "franceconnect-0123456789abcdef0123@franceconnect.invalid"
    citizen.notify_email = False
    citizen.save()
    client = client_as(citizen)
    page = client.get("/espace/preferences/").content.decode()
    box = re.search(r'<input[^>]*name="notify_email"[^>]*>', page).group(0)
    assert "disabled" in box and "checked" not in box
    assert "pas encore d&#x27;adresse électronique vérifiée" in page
    assert 'href="/compte/adresse/"' in page and "franceconnect.invalid" not in page
    data = {"notify_email": "on", "notify_sms": "on", "mobile_phone": "06 12 34 56 78"}
    response = client.post("/espace/preferences/", {**data, "language": "fr"})
    assert response.status_code == 400
    assert "Les alertes par courriel ne peuvent pas être activées" in response.content.decode()
    citizen.refresh_from_db()
    assert not citizen.notify_email
    del data["notify_email"]
    assert client.post("/espace/preferences/", {**data, "language": "fr"}).status_code == 302
    citizen.refresh_from_db()
    assert (citizen.notify_email, citizen.notify_sms) == (False, True)
    # With a real address, the box is an ordinary one again.
    citizen.email = citizen.username = "camille.martin@example.fr"
    citizen.save()
    page = client.get("/espace/preferences/").content.decode()
    box = re.search(r'<input[^>]*name="notify_email"[^>]*>', page).group(0)
    assert "disabled" not in box and "no-address" not in page
    assert client.post("/espace/preferences/", {**data, "notify_email": "on"}).status_code == 302
    citizen.refresh_from_db()
    assert citizen.notify_email


def test_the_unsubscribe_link_is_the_same_whenever_it_is_made(citizen, monkeypatch):
    """The header (made at delivery) and the footer (made when queued) carry one link, even
    when the clock ticks between the two; a link sent with a timestamped token still works."""
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    first = preferences.unsubscribe_url(citizen.pk, "demarche_step")
    monkeypatch.setattr(time, "time", lambda: now + 5)
    assert preferences.unsubscribe_url(citizen.pk, "demarche_step") == first
    token = first.rstrip("/").rsplit("/", 1)[-1]
    assert preferences.read_token(token) == (citizen, "demarches")
    legacy = signing.dumps({"u": citizen.pk, "c": "demarches"}, salt=preferences.SALT)
    assert preferences.read_token(legacy) == (citizen, "demarches")
    assert preferences.read_token(legacy[:-2] + "xx") is None
    assert preferences.read_token("not-a-token") is None
