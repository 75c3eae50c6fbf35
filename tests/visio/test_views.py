"""Visio pages: starting from a case, the room page, the citizen's entry."""

import pytest

from contactcenter.models import AuditLog, Case
from visio.models import Room

pytestmark = pytest.mark.django_db


def test_agent_starts_a_visio_and_lands_in_the_room(client_as, assigned_case, agent_a):
    client = client_as(agent_a)
    url = f"/visio/demande/{assigned_case.reference}/ouvrir/"
    response = client.post(url)
    room = Room.objects.get(case=assigned_case)
    token = room.participants.get(user=agent_a).token
    assert response.status_code == 302 and response["Location"] == f"/visio/salle/{token}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "camera=(self)" in page["Permissions-Policy"]
    assert b"visio/js/room.js" in page.content
    assert b"Verser les sous-titres au dossier" in page.content
    assert AuditLog.objects.filter(actor=agent_a, case=assigned_case, reason="visio").exists()
    assert client.post(url).status_code == 302
    assert Room.objects.filter(case=assigned_case).count() == 1


def test_workstation_gets_the_room_link_in_its_dialog(client_as, assigned_case, agent_a):
    response = client_as(agent_a).post(
        f"/visio/demande/{assigned_case.reference}/ouvrir/", HTTP_HX_REQUEST="true"
    )
    token = Room.objects.get(case=assigned_case).participants.get(user=agent_a).token
    assert response.status_code == 200
    assert f'href="/visio/salle/{token}/"' in response.content.decode()
    assert 'id="ws-dialog-title"' in response.content.decode()


def test_case_of_another_service_is_404_and_citizens_are_refused(
    client_as, assigned_case, agent_b, citizen
):
    url = f"/visio/demande/{assigned_case.reference}/ouvrir/"
    assert client_as(agent_b).post(url).status_code == 404
    assert client_as(citizen).post(url).status_code == 403
    assert not Room.objects.exists()


def test_citizen_sees_join_link_on_the_case_and_in_the_space(client_as, room, tokens, citizen):
    client = client_as(citizen)
    link = f"/visio/salle/{tokens['citizen']}/".encode()
    for url in (f"/espace/demandes/{room.case.reference}/", "/espace/"):
        page = client.get(url)
        assert link in page.content and "Rejoindre la visio" in page.content.decode()
    room_page = client.get(link.decode())
    assert room_page.status_code == 200
    assert b'aria-live="polite"' in room_page.content
    assert b"visio-caption-form" not in room_page.content
    assert not AuditLog.objects.filter(actor=citizen).exists()


def test_room_page_of_someone_else_is_404(client_as, tokens, citizen2, agent_b):
    for user in (citizen2, agent_b):
        assert client_as(user).get(f"/visio/salle/{tokens['citizen']}/").status_code == 404


def test_ended_room_page_says_so(client_as, room, tokens, citizen):
    Room.objects.filter(pk=room.pk).update(status="ended")
    assert client_as(citizen).get(f"/visio/salle/{tokens['citizen']}/").status_code == 410


def test_start_button_on_the_console_case_page(client_as, assigned_case, agent_a):
    page = client_as(agent_a).get(f"/console/demandes/{assigned_case.reference}/")
    assert "Démarrer une visio" in page.content.decode()


def test_interpreter_invitation(client_as, tokens, agent_a, supervisor):
    client = client_as(agent_a)
    response = client.post(
        f"/visio/salle/{tokens['agent']}/interprete/", {"email": supervisor.email}
    )
    assert response.status_code == 302
    page = client_as(supervisor).get("/visio/")
    assert "Rejoindre la visio" in page.content.decode()
    assert Case.objects.count() == 1


def test_citizen_may_enter_an_appointment_room_from_15_minutes_before(
    client_as, room, tokens, citizen, agent_a
):
    from datetime import timedelta

    from django.utils import timezone

    Room.objects.filter(pk=room.pk).update(not_before=timezone.now() + timedelta(minutes=30))
    early = client_as(citizen).get(f"/visio/salle/{tokens['citizen']}/")
    assert early.status_code == 409 and "La visio ouvrira le" in early.content.decode()
    assert client_as(agent_a).get(f"/visio/salle/{tokens['agent']}/").status_code == 200
    Room.objects.filter(pk=room.pk).update(not_before=timezone.now() + timedelta(minutes=10))
    assert client_as(citizen).get(f"/visio/salle/{tokens['citizen']}/").status_code == 200


def test_ended_room_page_offers_the_agent_to_write_what_to_remember(
    client_as, room, tokens, citizen, agent_a
):
    from contactcenter.models import Event
    from contactcenter.services import add_event

    Room.objects.filter(pk=room.pk).update(status="ended")
    contact = add_event(
        room.case, Event.Type.VISIO, actor=agent_a, channel="visio", payload={"room": str(room.pk)}
    )
    page = client_as(agent_a).get(f"/visio/salle/{tokens['agent']}/")
    assert page.status_code == 410
    assert f"/console/contacts/{contact.pk}/a-retenir/" in page.content.decode()
    citizen_page = client_as(citizen).get(f"/visio/salle/{tokens['citizen']}/")
    assert "a-retenir" not in citizen_page.content.decode()


def test_kept_chat_is_escaped_on_the_citizens_case_page(client_as, room, tokens, citizen, agent_a):
    from visio import services

    agent = services.get_participant(tokens["agent"], agent_a)
    citizen_p = services.get_participant(tokens["citizen"], citizen)
    services.connected(citizen_p.pk, "c1")
    services.connected(agent.pk, "a1")
    services.admit(agent.pk)
    services.set_keep_captions(agent.pk, True, "chat")
    services.add_caption(
        citizen_p.pk, services.clean_chat('<img src=x onerror="alert(1)">'), "chat"
    )
    services.end_room(room.pk, Room.EndReason.AGENT)
    page = client_as(citizen).get(f"/espace/demandes/{room.case.reference}/").content.decode()
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "<img src=x" not in page


def test_waiting_room_page_for_the_citizen_and_admit_button_for_the_agent(
    client_as, tokens, citizen, agent_a
):
    citizen_page = client_as(citizen).get(f"/visio/salle/{tokens['citizen']}/").content.decode()
    assert 'data-phase="lobby"' in citizen_page and 'id="visio-level"' in citizen_page
    assert 'id="visio-admit"' not in citizen_page
    assert (
        '<li hidden><button type="button" class="fr-btn fr-btn--secondary" id="visio-screen"'
        in (citizen_page)
    )
    agent_page = client_as(agent_a).get(f"/visio/salle/{tokens['agent']}/").content.decode()
    assert 'data-phase="call"' in agent_page and 'id="visio-admit"' in agent_page
    assert "Autoriser l’usager à partager son écran" in agent_page


def test_room_offers_automatic_captions_only_with_a_backend(
    client_as, tokens, citizen, monkeypatch, settings
):
    from contactcenter import speech

    settings.ASR_BACKEND = ""
    page = client_as(citizen).get(f"/visio/salle/{tokens['citizen']}/").content.decode()
    assert 'id="visio-auto-captions"' not in page
    assert "Les sous-titres automatiques ne sont pas disponibles sur ce service." in page
    monkeypatch.setattr(speech, "configured", lambda: True)
    page = client_as(citizen).get(f"/visio/salle/{tokens['citizen']}/").content.decode()
    assert 'id="visio-auto-captions"' in page and "pas disponibles sur ce service" not in page
    assert "pcm-worklet.js" in page
