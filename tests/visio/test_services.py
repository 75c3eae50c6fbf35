"""Visio services: who may open a room, idempotence, expiry, captions and the timeline record."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contactcenter.exceptions import InvalidState, NotAllowed, NotFound
from contactcenter.models import Case, Event
from messaging.models import Notification
from visio import services
from visio.models import Caption, Participant, Room

pytestmark = pytest.mark.django_db


def test_assigned_agent_opens_a_room_with_one_token_per_participant(room, citizen, agent_a):
    participants = {p.role: p for p in room.participants.all()}
    assert participants["citizen"].user == citizen
    assert participants["agent"].user == agent_a
    assert participants["citizen"].token != participants["agent"].token
    assert len(participants["citizen"].token) >= 40
    assert room.expires_at > timezone.now() + timedelta(minutes=90)


def test_opening_twice_returns_the_same_room(room, assigned_case, agent_a):
    assert services.open_room(assigned_case, agent_a).pk == room.pk
    assert Room.objects.filter(case=assigned_case).count() == 1


def test_citizen_gets_a_content_free_alert(
    assigned_case, agent_a, citizen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.open_room(assigned_case, agent_a)
    notifications = Notification.objects.filter(recipient=citizen, kind="visio")
    assert notifications.exists()
    for notification in notifications:
        assert assigned_case.subject not in notification.text
        assert "/visio/" not in notification.text  # the link is the case page of the space


def test_agent_not_assigned_or_of_another_service_may_not_open(
    case_a, assigned_case, agent_b, citizen
):
    from tests.conftest import make_staff

    colleague = make_staff("collegue@guichet.example.fr", "agent", [assigned_case.service])
    for user in (agent_b, citizen, colleague):
        with pytest.raises(NotAllowed):
            services.open_room(assigned_case, user)


def test_supervisor_of_the_service_may_open(assigned_case, supervisor):
    room = services.open_room(assigned_case, supervisor)
    assert room.participants.get(user=supervisor).role == "agent"


def test_closed_case_refuses_a_room(assigned_case, agent_a):
    Case.objects.filter(pk=assigned_case.pk).update(status=Case.Status.CLOSED)
    assigned_case.refresh_from_db()
    with pytest.raises(InvalidState):
        services.open_room(assigned_case, agent_a)


def test_token_opens_only_its_own_room_for_its_own_user(tokens, citizen, citizen2, agent_a):
    assert services.get_participant(tokens["citizen"], citizen).role == "citizen"
    for token, user in ((tokens["citizen"], agent_a), (tokens["agent"], citizen)):
        with pytest.raises(NotFound):
            services.get_participant(token, user)
    with pytest.raises(NotFound):
        services.get_participant(tokens["citizen"], citizen2)


def test_expired_room_ends_and_a_new_one_can_open(room, tokens, citizen, assigned_case, agent_a):
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(InvalidState):
        services.get_participant(tokens["citizen"], citizen)
    room.refresh_from_db()
    assert room.status == "ended" and room.end_reason == "expired"
    assert services.open_room(assigned_case, agent_a).pk != room.pk


def test_sweep_expires_rooms(room):
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.expire_rooms() == 1
    assert services.expire_rooms() == 0


def test_captions_are_kept_on_the_timeline_only_when_the_agent_chooses(
    room, tokens, citizen, agent_a
):
    agent = services.get_participant(tokens["agent"], agent_a)
    citizen_p = services.get_participant(tokens["citizen"], citizen)
    services.connected(citizen_p.pk, "c1")
    services.connected(agent.pk, "a1")
    services.admit(agent.pk)
    services.add_caption(agent.pk, "Première ligne")
    with pytest.raises(NotAllowed):
        services.add_caption(citizen_p.pk, "non")
    with pytest.raises(NotAllowed):
        services.set_keep_captions(citizen_p.pk, True)
    services.end_room(room.pk, Room.EndReason.AGENT)
    event = Event.objects.get(case=room.case, type=Event.Type.VISIO)
    assert "Première ligne" not in event.body
    assert event.payload["captions_kept"] is False
    assert not Caption.objects.exists()


def test_kept_captions_become_the_written_trace(room, tokens, citizen, agent_a):
    agent = services.get_participant(tokens["agent"], agent_a)
    citizen_p = services.get_participant(tokens["citizen"], citizen)
    services.connected(citizen_p.pk, "c1")
    services.connected(agent.pk, "a1")
    services.admit(agent.pk)
    services.set_keep_captions(agent.pk, True)
    services.add_caption(agent.pk, "Votre demande est complète.")
    ended = services.end_room(room.pk, Room.EndReason.AGENT)
    assert ended is not None
    assert services.end_room(room.pk, Room.EndReason.AGENT) is None  # once
    event = Event.objects.get(case=room.case, type=Event.Type.VISIO)
    assert "Votre demande est complète." in event.body
    assert event.actor == agent_a and event.channel == "visio"
    assert event.payload["end_reason"] == "agent"


def test_a_room_nobody_joined_together_leaves_no_call_on_the_timeline(room):
    services.end_room(room.pk, Room.EndReason.AGENT)
    assert not Event.objects.filter(case=room.case, type=Event.Type.VISIO).exists()


def test_interpreter_must_be_staff_and_invited_by_the_agent(
    tokens, agent_a, citizen, citizen2, supervisor
):
    with pytest.raises(ValidationError):
        services.invite_interpreter(tokens["agent"], agent_a, citizen2.email)
    with pytest.raises(NotFound):
        services.invite_interpreter(tokens["agent"], citizen, supervisor.email)
    with pytest.raises(NotAllowed):
        services.invite_interpreter(tokens["citizen"], citizen, supervisor.email)
    interpreter = services.invite_interpreter(tokens["agent"], agent_a, supervisor.email)
    assert interpreter.role == Participant.Role.INTERPRETER
    assert services.add_caption(interpreter.pk, "Traduction").text == "Traduction"


def test_stun_and_turn_servers_come_from_the_environment(monkeypatch, settings):
    from contactcenter import settings as project_settings

    for name in ("VISIO_STUN_URLS", "VISIO_TURN_URLS"):
        monkeypatch.delenv(name, raising=False)
    assert project_settings.ice_servers() == []  # loopback needs none
    monkeypatch.setenv("VISIO_STUN_URLS", "stun:stun.example.fr:3478")
    monkeypatch.setenv("VISIO_TURN_URLS", "turn:turn.example.fr:3478,turns:turn.example.fr:5349")
    monkeypatch.setenv("VISIO_TURN_USERNAME", "guichet")
    monkeypatch.setenv("VISIO_TURN_PASSWORD", "secret")
    servers = project_settings.ice_servers()
    assert servers == [
        {"urls": ["stun:stun.example.fr:3478"]},
        {
            "urls": ["turn:turn.example.fr:3478", "turns:turn.example.fr:5349"],
            "username": "guichet",
            "credential": "secret",
        },
    ]
    settings.VISIO_ICE_SERVERS = servers
    assert services.ice_servers() == servers


def test_core_request_opens_the_room_for_an_appointment(assigned_case, agent_a, citizen):
    from contactcenter.services import request_visio_room

    start = timezone.now() + timedelta(hours=1)
    paths = request_visio_room(
        assigned_case,
        agent_a,
        source="appointment:7",
        not_before=start,
        expires_at=start + timedelta(hours=1),
    )
    room = Room.objects.get(case=assigned_case)
    assert room.source == "appointment:7" and room.expires_at == start + timedelta(hours=1)
    assert set(paths) == {citizen.pk, agent_a.pk}
    assert paths[citizen.pk] == f"/visio/salle/{room.participants.get(user=citizen).token}/"
    assert request_visio_room(assigned_case, agent_a) == paths  # the same room
    with pytest.raises(NotAllowed):
        request_visio_room(assigned_case, citizen)


def test_the_call_starts_when_the_agent_admits_the_connected_citizen(
    room, tokens, citizen, agent_a
):
    agent = services.get_participant(tokens["agent"], agent_a)
    citizen_p = services.get_participant(tokens["citizen"], citizen)
    assert services.connected(citizen_p.pk, "c1").admitted is False
    presence = services.connected(agent.pk, "a1")
    assert presence.peer == "c1" and presence.admitted is False
    room.refresh_from_db()
    assert room.started_at is None  # both there, but the citizen still waits
    with pytest.raises(NotAllowed):
        services.admit(citizen_p.pk)
    assert services.admit(agent.pk) is True
    assert services.admit(agent.pk) is False
    room.refresh_from_db()
    assert room.admitted_at is not None and room.started_at is not None
    services.end_room(room.pk, Room.EndReason.AGENT)
    with pytest.raises(InvalidState):
        services.admit(agent.pk)
