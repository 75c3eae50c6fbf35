"""Presence: statuses, heartbeat timeout, chats of a dropped agent back at the head."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

import routing
from contactcenter.models import Case
from routing import tasks
from routing.models import AgentPresence

from .conftest import make_case, set_available


def test_set_status_accepts_french_labels_and_codes(agent_a):
    assert routing.set_status(agent_a, "disponible").status == "available"
    assert routing.set_status(agent_a, "En pause").status == "paused"
    assert routing.set_status(agent_a, "offline").status == "offline"


def test_unknown_status_is_refused_precisely(agent_a):
    with pytest.raises(ValidationError) as exc:
        routing.set_status(agent_a, "occupé")
    assert exc.value.message_dict["status"] == [
        "Statut inconnu : choisissez disponible, en pause ou hors ligne."
    ]


def test_citizen_has_no_presence(citizen):
    with pytest.raises(ValidationError):
        routing.set_status(citizen, "available")


def test_supervisor_of_other_service_cannot_change_status(agent_b, supervisor):
    with pytest.raises(ValidationError, match="ne supervisez pas"):
        routing.set_status(agent_b, "paused", by=supervisor)


def test_becoming_available_pulls_waiting_work(
    citizen, topic_a, agent_a, django_capture_on_commit_callbacks
):
    case = make_case(citizen, topic_a)
    with django_capture_on_commit_callbacks(execute=True):
        routing.set_status(agent_a, "available")
    case.refresh_from_db()
    assert case.assigned_to == agent_a


def test_sixty_seconds_without_heartbeat_means_offline(agent_a):
    presence = set_available(agent_a)
    now = timezone.now()
    AgentPresence.objects.filter(pk=presence.pk).update(last_heartbeat=now - timedelta(seconds=59))
    assert routing.sweep_presence(now) == []
    AgentPresence.objects.filter(pk=presence.pk).update(last_heartbeat=now - timedelta(seconds=61))
    assert routing.sweep_presence(now) == [agent_a.pk]
    presence.refresh_from_db()
    assert presence.status == AgentPresence.Status.OFFLINE
    assert presence.auto_offline is True and presence.resume_status == "available"
    assert routing.sweep_presence(now) == []  # idempotent


def test_heartbeat_after_timeout_restores_previous_status(agent_a):
    presence = set_available(agent_a)
    AgentPresence.objects.filter(pk=presence.pk).update(
        last_heartbeat=timezone.now() - timedelta(minutes=5)
    )
    routing.sweep_presence()
    routing.heartbeat(agent_a.pk)
    presence.refresh_from_db()
    assert presence.status == AgentPresence.Status.AVAILABLE
    assert presence.auto_offline is False


def test_heartbeat_does_not_bring_back_an_agent_who_chose_offline(agent_a):
    routing.set_status(agent_a, "offline")
    routing.heartbeat(agent_a.pk)
    assert AgentPresence.objects.get(pk=agent_a.pk).status == "offline"


def test_chats_of_dropped_agent_go_back_at_head_after_grace(
    citizen, topic_a, agent_a, django_capture_on_commit_callbacks
):
    set_available(agent_a, chat=2)
    waiting = make_case(citizen, topic_a, channel="chat")
    chat = make_case(citizen, topic_a, channel="chat")
    web = make_case(citizen, topic_a, channel="web")
    routing.take_case(agent_a, chat)
    routing.take_case(agent_a, web)
    offline_at = timezone.now()
    AgentPresence.objects.filter(pk=agent_a.pk).update(
        last_heartbeat=offline_at - timedelta(seconds=61)
    )
    with django_capture_on_commit_callbacks(execute=True):
        routing.sweep_presence(offline_at)
    # Within the grace period (the eager task ran at once): nothing moved yet.
    chat.refresh_from_db()
    assert chat.assigned_to == agent_a
    assert routing.requeue_offline_contacts(agent_a.pk, offline_at + timedelta(seconds=29)) == []
    # After 30 s the chat goes back, before the older waiting chat; the web case stays.
    with django_capture_on_commit_callbacks(execute=True):
        requeued = routing.requeue_offline_contacts(agent_a.pk, offline_at + timedelta(seconds=31))
    assert requeued == [chat.pk]
    chat.refresh_from_db()
    web.refresh_from_db()
    assert chat.assigned_to is None and chat.status == Case.Status.NEW
    assert chat.priority == routing.HEAD_PRIORITY
    assert web.assigned_to == agent_a
    assert routing.queue_position(chat)[0] == 1
    assert routing.queue_position(waiting)[0] == 2


def test_agent_back_within_grace_keeps_chats(citizen, topic_a, agent_a):
    set_available(agent_a)
    chat = make_case(citizen, topic_a, channel="chat")
    routing.take_case(agent_a, chat)
    offline_at = timezone.now() - timedelta(seconds=20)
    AgentPresence.objects.filter(pk=agent_a.pk).update(
        last_heartbeat=offline_at - timedelta(seconds=61)
    )
    routing.sweep_presence(offline_at)
    routing.heartbeat(agent_a.pk)  # back before the 30 s grace ends
    assert routing.requeue_offline_contacts(agent_a.pk) == []
    chat.refresh_from_db()
    assert chat.assigned_to == agent_a


def test_beat_sweep_requeues_chats_missed_by_the_countdown_task(citizen, topic_a, agent_a):
    set_available(agent_a)
    chat = make_case(citizen, topic_a, channel="chat")
    routing.take_case(agent_a, chat)
    AgentPresence.objects.filter(pk=agent_a.pk).update(
        status="offline", status_since=timezone.now() - timedelta(minutes=2)
    )
    result = tasks.sweep_presence()
    assert result["requeued"] == [chat.pk]


def test_explicit_offline_also_requeues_chats(citizen, topic_a, agent_a):
    set_available(agent_a)
    chat = make_case(citizen, topic_a, channel="chat")
    routing.take_case(agent_a, chat)
    routing.set_status(agent_a, "hors ligne")
    later = timezone.now() + timedelta(seconds=31)
    assert routing.requeue_offline_contacts(agent_a.pk, later) == [chat.pk]


def test_busy_is_derived_from_live_contacts(citizen, topic_a, agent_a):
    presence = set_available(agent_a, chat=2)
    assert routing.effective_status(presence) == "available"
    routing.take_case(agent_a, make_case(citizen, topic_a, channel="chat"))
    assert routing.effective_status(presence) == "busy"


def test_capacity_edit_bounds(agent_a, supervisor):
    presence = routing.set_capacity(agent_a, by=supervisor, chat=3, phone=0, web=50)
    assert (presence.capacity_chat, presence.capacity_phone, presence.capacity_web) == (3, 0, 50)
    with pytest.raises(ValidationError) as exc:
        routing.set_capacity(agent_a, by=supervisor, chat=11, phone=-1, web=51)
    errors = exc.value.message_dict
    assert errors["capacity_chat"] == ["La capacité tchat doit être comprise entre 0 et 10."]
    assert errors["capacity_phone"] == [
        "La capacité téléphone et rappels doit être comprise entre 0 et 10."
    ]
    assert errors["capacity_web"] == ["La capacité messagerie doit être comprise entre 0 et 50."]
    presence.refresh_from_db()
    assert presence.capacity_chat == 3  # nothing half-written


def test_agent_cannot_edit_own_capacity(agent_a):
    with pytest.raises(ValidationError, match="Seul un superviseur"):
        routing.set_capacity(agent_a, by=agent_a, chat=5)


def test_default_capacities(agent_a):
    presence = routing.get_presence(agent_a)
    assert (presence.capacity_chat, presence.capacity_phone, presence.capacity_web) == (2, 1, 15)
    assert presence.status == "offline"


def test_embedded_mode_runs_sweeps_at_most_every_15_seconds(agent_a, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    presence = set_available(agent_a)
    AgentPresence.objects.filter(pk=presence.pk).update(
        last_heartbeat=timezone.now() - timedelta(minutes=5)
    )
    assert routing.run_sweeps_if_due() is True
    assert AgentPresence.objects.get(pk=agent_a.pk).status == "offline"
    assert routing.run_sweeps_if_due() is False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from django.core.cache import cache

    cache.clear()
    assert routing.run_sweeps_if_due() is False


def test_routing_sweep_command(agent_a, citizen, topic_a):
    from django.core.management import call_command

    case = make_case(citizen, topic_a)
    set_available(agent_a)
    call_command("routing_sweep", stdout=__import__("io").StringIO())
    case.refresh_from_db()
    assert case.assigned_to == agent_a
