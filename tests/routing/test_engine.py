"""Unit tests of the assignment engine (SQLite and PostgreSQL)."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import routing
from contactcenter.models import Case, Event, Topic, User
from contactcenter.services import change_status, open_case
from contactcenter.signals import case_assigned
from routing import engine, engine_pg
from routing.models import AgentPresence
from routing.signals import cases_claimed

from ..conftest import make_staff
from .conftest import make_case, set_available


@pytest.fixture
def agent_a2(service_a, skill_a):
    return make_staff(
        "agent.a2@guichet.example.fr", User.Role.AGENT, [service_a], [skill_a], first="Aline"
    )


def test_route_case_assigns_available_agent_with_skill(citizen, topic_a, agent_a, agent_b):
    set_available(agent_a)
    set_available(agent_b)
    case = make_case(citizen, topic_a)
    assert routing.route_case(case.pk) == agent_a.pk
    case.refresh_from_db()
    assert case.assigned_to == agent_a
    assert case.status == Case.Status.ASSIGNED
    assert case.assigned_at is not None
    event = case.events.get(type=Event.Type.ASSIGNMENT)
    assert event.internal is True
    assert event.payload["agent"] == agent_a.pk


def test_route_case_leaves_case_queued_when_nobody_is_available(citizen, topic_a, agent_a):
    case = make_case(citizen, topic_a)
    assert routing.route_case(case.pk) is None
    case.refresh_from_db()
    assert case.assigned_to is None and case.status == Case.Status.NEW


def test_agent_of_other_service_never_gets_the_case(citizen, topic_a, agent_b, skill_a):
    agent_b.agent_profile.skills.add(skill_a)  # skill but not the service
    set_available(agent_b)
    case = make_case(citizen, topic_a)
    assert routing.route_case(case.pk) is None


def test_agent_without_the_skill_never_gets_the_case(citizen, topic_a, agent_a, skill_b):
    agent_a.agent_profile.skills.set([skill_b])
    set_available(agent_a)
    assert routing.route_case(make_case(citizen, topic_a).pk) is None


def test_topic_without_skill_goes_to_any_agent_of_the_service(citizen, service_a, agent_a):
    topic = Topic.objects.create(slug="divers", title="Divers", service=service_a)
    agent_a.agent_profile.skills.clear()
    set_available(agent_a)
    assert routing.route_case(make_case(citizen, topic).pk) == agent_a.pk


def test_supervisor_is_never_routed_to(citizen, topic_a, supervisor, skill_a):
    supervisor.agent_profile.skills.add(skill_a)
    AgentPresence.objects.create(user=supervisor, status=AgentPresence.Status.AVAILABLE)
    assert routing.route_case(make_case(citizen, topic_a).pk) is None


def test_longest_idle_agent_is_chosen(citizen, topic_a, agent_a, agent_a2):
    now = timezone.now()
    pa, pb = set_available(agent_a), set_available(agent_a2)
    AgentPresence.objects.filter(pk=pa.pk).update(idle_since=now - timedelta(minutes=1))
    AgentPresence.objects.filter(pk=pb.pk).update(idle_since=now - timedelta(minutes=10))
    first = make_case(citizen, topic_a)
    assert routing.route_case(first.pk) == agent_a2.pk
    # The assignment resets agent_a2's idle clock: agent_a is next.
    assert routing.route_case(make_case(citizen, topic_a).pk) == agent_a.pk


def test_capacity_is_never_exceeded_per_channel(citizen, topic_a, agent_a):
    set_available(agent_a, chat=2, web=1)
    chats = [make_case(citizen, topic_a, channel="chat") for _ in range(3)]
    assert [routing.route_case(c.pk) for c in chats] == [agent_a.pk, agent_a.pk, None]
    web = [make_case(citizen, topic_a, channel="web") for _ in range(2)]
    assert [routing.route_case(c.pk) for c in web] == [agent_a.pk, None]
    assert routing.free_capacity(agent_a.pk, "chat") == 0
    assert routing.free_capacity(agent_a.pk, "web") == 0
    assert routing.free_capacity(agent_a.pk, "phone") == 1


def test_callback_counts_on_phone_capacity(citizen, topic_a, agent_a):
    set_available(agent_a, phone=1)
    assert routing.free_capacity(agent_a.pk, "callback") == 1
    case = make_case(citizen, topic_a, channel="phone")
    routing.take_case(agent_a, case)
    assert routing.free_capacity(agent_a.pk, "callback") == 0


def test_waiting_on_citizen_does_not_count_in_load(citizen, topic_a, agent_a):
    set_available(agent_a, web=1)
    case = make_case(citizen, topic_a)
    routing.route_case(case.pk)
    case.refresh_from_db()
    change_status(case, Case.Status.WAITING_CITIZEN, actor=agent_a)
    assert routing.free_capacity(agent_a.pk, "web") == 1


def test_route_case_is_idempotent(citizen, topic_a, agent_a, agent_a2):
    set_available(agent_a)
    set_available(agent_a2)
    case = make_case(citizen, topic_a)
    first = routing.route_case(case.pk)
    assert first is not None
    assert routing.route_case(case.pk) is None
    assert case.events.filter(type=Event.Type.ASSIGNMENT).count() == 1


def test_assignment_notifies_after_commit(
    citizen, topic_a, agent_a, django_capture_on_commit_callbacks, memory_layer
):
    set_available(agent_a)
    layer = memory_layer
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"agent-{agent_a.pk}", channel)
    seen = []

    def receiver(sender, case_id, agent_id, **kwargs):
        seen.append((case_id, agent_id))

    case_assigned.connect(receiver)
    try:
        case = make_case(citizen, topic_a, channel="chat")
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            routing.route_case(case.pk)
        assert seen == []
        for callback in callbacks:
            callback()
        assert seen == [(case.pk, agent_a.pk)]
        message = async_to_sync(layer.receive)(channel)
        # The console's screen-pop rides on the same message (one publish per pass).
        pop = message.pop("pop")
        assert pop["reference"] == case.reference and pop["channel"] == "chat"
        assert message == {
            "type": "case.assigned",
            "case_id": case.pk,
            "channel": "chat",
            "reference": case.reference,
        }

        async def nothing_more():
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(layer.receive(channel), 0.2)

        async_to_sync(nothing_more)()
    finally:
        case_assigned.disconnect(receiver)
        async_to_sync(layer.group_discard)(f"agent-{agent_a.pk}", channel)


def test_a_pass_announces_after_the_claim_listeners_commit_hooks(
    citizen, topic_a, agent_a, django_capture_on_commit_callbacks, memory_layer
):
    """``cases_claimed`` comes before the engine registers its notifications: a listener's
    commit hook runs first (the benchmark times commits so); then one ``case_assigned`` per
    case, in queue order, and one console message for the batch."""
    set_available(agent_a, chat=2, web=2)
    layer = memory_layer
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"agent-{agent_a.pk}", channel)
    order = []

    def on_claimed(sender, agent_id, case_ids, **kwargs):
        order.append(("claimed", tuple(case_ids)))
        transaction.on_commit(lambda: order.append(("committed",)))

    def on_assigned(sender, case_id, agent_id, **kwargs):
        order.append(("assigned", case_id))

    cases_claimed.connect(on_claimed, dispatch_uid="test.claim.order")
    case_assigned.connect(on_assigned, dispatch_uid="test.assigned.order")
    try:
        chat = make_case(citizen, topic_a, channel="chat")
        web = make_case(citizen, topic_a, channel="web")
        with django_capture_on_commit_callbacks(execute=True):
            assigned = routing.assign_available(agent_a.pk)
        assert [case.pk for case in assigned] == [chat.pk, web.pk]
        assert order == [
            ("claimed", (chat.pk, web.pk)),
            ("committed",),
            ("assigned", chat.pk),
            ("assigned", web.pk),
        ]
        message = async_to_sync(layer.receive)(channel)
        assert message["type"] == "cases.assigned"
        assert [notice["case_id"] for notice in message["cases"]] == [chat.pk, web.pk]
    finally:
        cases_claimed.disconnect(dispatch_uid="test.claim.order")
        case_assigned.disconnect(dispatch_uid="test.assigned.order")
        async_to_sync(layer.group_discard)(f"agent-{agent_a.pk}", channel)


def test_open_case_triggers_routing_through_the_core_signal(
    citizen, topic_a, agent_a, django_capture_on_commit_callbacks
):
    set_available(agent_a)
    with django_capture_on_commit_callbacks(execute=True):
        case, _ = open_case(
            citizen=citizen, topic=topic_a, kind="question", channel="web", subject="s", body="b"
        )
    case.refresh_from_db()
    assert case.assigned_to == agent_a
    assert case.sla_deadline is not None


def test_assign_next_prefers_chat_then_phone_then_web(citizen, topic_a, agent_a):
    web = make_case(citizen, topic_a, channel="web")
    phone = make_case(citizen, topic_a, channel="callback")
    chat = make_case(citizen, topic_a, channel="chat")
    from routing.models import CallbackRequest

    CallbackRequest.objects.create(
        case=phone,
        phone="+33612345678",
        slot_start=timezone.now() - timedelta(minutes=1),
        slot_end=timezone.now() + timedelta(minutes=29),
    )
    set_available(agent_a)
    assert routing.assign_next(agent_a) == chat
    assert routing.assign_next(agent_a) == phone
    assert routing.assign_next(agent_a) == web


def test_future_callback_is_not_routed_before_its_slot(citizen, topic_a, agent_a):
    from routing.models import CallbackRequest

    case = make_case(citizen, topic_a, channel="callback")
    CallbackRequest.objects.create(
        case=case,
        phone="+33612345678",
        slot_start=timezone.now() + timedelta(hours=2),
        slot_end=timezone.now() + timedelta(hours=2, minutes=30),
    )
    set_available(agent_a)
    assert routing.route_case(case.pk) is None
    assert routing.assign_next(agent_a) is None
    assert case not in routing.queued_cases()


def test_queue_order_fragile_then_deadline_then_arrival(citizen, topic_a, agent_a):
    now = timezone.now()
    late = make_case(citizen, topic_a)
    urgent = make_case(citizen, topic_a)
    fragile = make_case(citizen, topic_a, fragile=True)
    Case.objects.filter(pk=late.pk).update(sla_deadline=now + timedelta(days=2))
    Case.objects.filter(pk=urgent.pk).update(sla_deadline=now + timedelta(hours=1))
    Case.objects.filter(pk=fragile.pk).update(sla_deadline=now + timedelta(days=3))
    set_available(agent_a)
    order = [routing.assign_next(agent_a).pk for _ in range(3)]
    assert order == [fragile.pk, urgent.pk, late.pk]


def test_assign_next_does_nothing_for_paused_agent(citizen, topic_a, agent_a):
    make_case(citizen, topic_a)
    presence = set_available(agent_a)
    presence.status = AgentPresence.Status.PAUSED
    presence.save()
    assert routing.assign_next(agent_a) is None


def test_take_case_refuses_a_case_already_taken(citizen, topic_a, agent_a, agent_a2):
    case = make_case(citizen, topic_a)
    stale = Case.objects.get(pk=case.pk)
    routing.take_case(agent_a2, case)
    with pytest.raises(ValidationError) as exc:
        routing.take_case(agent_a, stale)
    assert exc.value.messages == ["Cette demande vient d'être prise par un autre agent."]
    assert Case.objects.get(pk=case.pk).assigned_to == agent_a2


def test_take_case_refuses_above_capacity(citizen, topic_a, agent_a):
    set_available(agent_a, chat=1)
    routing.take_case(agent_a, make_case(citizen, topic_a, channel="chat"))
    second = make_case(citizen, topic_a, channel="chat")
    with pytest.raises(ValidationError) as exc:
        routing.take_case(agent_a, second)
    assert exc.value.code == "capacity"
    assert "Capacité atteinte" in exc.value.messages[0]
    assert Case.objects.get(pk=second.pk).assigned_to is None


def test_take_case_of_another_service_is_refused(citizen2, topic_b, agent_a):
    case = make_case(citizen2, topic_b)
    with pytest.raises(ValidationError):
        routing.take_case(agent_a, case)


def test_release_case_puts_it_back_and_routes_elsewhere(
    citizen, topic_a, agent_a, agent_a2, django_capture_on_commit_callbacks
):
    case = make_case(citizen, topic_a)
    routing.take_case(agent_a, case)
    set_available(agent_a)
    set_available(agent_a2)
    with django_capture_on_commit_callbacks(execute=True):
        routing.release_case(agent_a, case)
    case.refresh_from_db()
    assert case.assigned_to == agent_a2  # the releasing agent is excluded


def test_release_by_non_owner_is_refused(citizen, topic_a, agent_a, agent_a2):
    case = make_case(citizen, topic_a)
    routing.take_case(agent_a, case)
    with pytest.raises(ValidationError, match="ne vous est pas attribuée"):
        routing.release_case(agent_a2, case)


def test_supervisor_reassigns_with_capacity_checked(
    citizen, topic_a, agent_a, agent_a2, supervisor
):
    case = make_case(citizen, topic_a, channel="chat")
    routing.take_case(agent_a, case)
    set_available(agent_a2, chat=0)
    with pytest.raises(ValidationError) as exc:
        routing.assign_case(case, agent_a2, by=supervisor)
    assert exc.value.code == "capacity"
    set_available(agent_a2, chat=1)
    routing.assign_case(case, agent_a2, by=supervisor)
    case.refresh_from_db()
    assert case.assigned_to == agent_a2
    event = case.events.filter(type=Event.Type.ASSIGNMENT).last()
    assert event.payload["previous_agent"] == agent_a.pk
    assert event.actor == supervisor


def test_reassign_to_agent_of_other_service_is_refused(citizen, topic_a, agent_b, supervisor):
    case = make_case(citizen, topic_a)
    with pytest.raises(ValidationError, match="n'appartient pas au service"):
        routing.assign_case(case, agent_b, by=supervisor)


def test_agent_cannot_reassign(citizen, topic_a, agent_a, agent_a2):
    case = make_case(citizen, topic_a)
    with pytest.raises(ValidationError, match="ne supervisez pas"):
        routing.assign_case(case, agent_a2, by=agent_a)


def test_requeue_at_head_goes_before_older_cases(citizen, topic_a, agent_a, agent_a2):
    older = make_case(citizen, topic_a, channel="chat")
    dropped = make_case(citizen, topic_a, channel="chat")
    routing.take_case(agent_a2, dropped)
    Case.objects.filter(pk=dropped.pk).update(created_at=timezone.now())
    dropped.refresh_from_db()
    assert routing.requeue_case(dropped, head=True) is True
    assert routing.queue_position(dropped)[0] == 1
    assert routing.queue_position(older)[0] == 2
    set_available(agent_a)
    assert routing.assign_next(agent_a) == dropped


def test_queue_position_and_wait_estimate(citizen, topic_a, agent_a):
    first = make_case(citizen, topic_a, channel="chat")
    second = make_case(citizen, topic_a, channel="chat")
    web = make_case(citizen, topic_a, channel="web")
    assert routing.queue_position(second) == (2, None)  # nobody available: no estimate
    set_available(agent_a, chat=2)
    position, wait = routing.queue_position(second)
    assert position == 2
    assert wait == 300  # 2 / 2 slots x 300 s default handling time
    assert routing.queue_position(web)[0] == 1  # separate queue per channel group
    routing.take_case(agent_a, first)
    assert routing.queue_position(first) == (0, 0)
    assert routing.queue_position(second)[0] == 1


def test_fragility_flag_moves_case_ahead(citizen, topic_a, agent_a, agent_b):
    first = make_case(citizen, topic_a)
    second = make_case(citizen, topic_a)
    assert routing.queue_position(second)[0] == 2
    assert routing.mark_fragile(second, by=agent_a) is True
    assert routing.mark_fragile(second, by=agent_a) is False  # unchanged: no second note
    assert routing.queue_position(second)[0] == 1
    assert routing.queue_position(first)[0] == 2
    assert second.events.filter(type="note", internal=True).count() == 1
    with pytest.raises(ValidationError):
        routing.mark_fragile(first, by=agent_b)


def test_demo_loading_sets_hours_presence_and_deadlines(citizen, topic_a, agent_a):
    from contactcenter.models import Service
    from routing.demo import load_demo
    from routing.models import OpeningHours

    Service.objects.filter(pk=topic_a.service_id).update(code="fiscalite")
    case = make_case(citizen, topic_a)
    load_demo({"agents": [agent_a]})
    load_demo({"agents": [agent_a]})  # idempotent
    assert OpeningHours.objects.filter(service=topic_a.service).count() == 7
    assert AgentPresence.objects.filter(user=agent_a).exists()
    case.refresh_from_db()
    assert case.sla_deadline is not None


def test_a_limited_pass_serves_groups_in_order_and_passes_on_an_empty_share(
    citizen, topic_a, agent_a
):
    """Chat first: one chat waiting for two free chat slots; the rest of the pass goes to the
    next groups (phone: none waiting; web: the oldest messages), never beyond the limit."""
    chat = make_case(citizen, topic_a, channel="chat")
    web = [make_case(citizen, topic_a, channel="web") for _ in range(5)]
    set_available(agent_a, chat=2, phone=1, web=10)
    assigned = routing.assign_available(agent_a, limit=4)
    assert assigned == [chat, web[0], web[1], web[2]]
    assert routing.agent_loads(agent_a.pk) == {"chat": 1, "phone": 0, "web": 3}
    # Without a limit: every free slot that has work.
    assert routing.assign_available(agent_a) == [web[3], web[4]]


def test_assign_agent_hands_out_passes_that_agents_share(
    citizen, topic_a, agent_a, agent_a2, monkeypatch
):
    """A pass hands out at most FILL_BATCH cases; one that reached it queues the agent's next
    pass behind the others. Two agents on shift together share the oldest messages."""
    from routing import tasks

    queued = []
    monkeypatch.setattr(engine, "queue_task_now", lambda name, *args: queued.append(args[0]))
    batch = routing.FILL_BATCH
    web = [make_case(citizen, topic_a, channel="web") for _ in range(3 * batch)]
    set_available(agent_a, chat=0, phone=0, web=10)
    set_available(agent_a2, chat=0, phone=0, web=10)
    # Both come on shift: one pass each, in the order their tasks were queued.
    assert tasks.assign_agent(agent_a.pk) == batch
    assert tasks.assign_agent(agent_a2.pk) == batch
    assert queued == [agent_a.pk, agent_a2.pk]
    first, second = web[:batch], web[batch : 2 * batch]
    assert set(Case.objects.filter(assigned_to=agent_a).values_list("pk", flat=True)) == {
        c.pk for c in first
    }
    assert set(Case.objects.filter(assigned_to=agent_a2).values_list("pk", flat=True)) == {
        c.pk for c in second
    }
    # Their next passes, from the queue: the last messages, then nothing more to queue.
    queued.clear()
    assert tasks.assign_agent(agent_a.pk) == batch
    assert tasks.assign_agent(agent_a2.pk) == 0
    assert queued == [agent_a.pk]
    assert tasks.assign_agent(agent_a.pk) == 0
    assert queued == [agent_a.pk]
    assert Case.objects.filter(status=Case.Status.NEW).count() == 0


def test_claim_literals_accept_code_constants_only():
    """Statuses and channels are written into the claim's text: code constants only."""
    assert engine_pg._literals([Case.Status.NEW, "in_progress"]) == "('new', 'in_progress')"
    assert engine_pg._literal(Case.Status.NEW) == "'new'"
    for bad in (["x' OR '1'='1"], ["Nouveau"], ["a b"], []):
        with pytest.raises(ValueError):
            engine_pg._literals(bad)


def test_a_portable_pass_resets_the_idle_clock_once(citizen, topic_a, agent_a, monkeypatch):
    """The portable engine (SQLite, and PostgreSQL's fallback) writes one timeline event per
    case but resets the agent's idle clock once for the pass."""
    monkeypatch.setattr(engine, "pg_engine_enabled", lambda: False)
    presence = set_available(agent_a, web=3)
    before = presence.idle_since
    cases = [make_case(citizen, topic_a, channel="web") for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        assigned = routing.assign_available(agent_a.pk)
    assert [case.pk for case in assigned] == [case.pk for case in cases]
    table = AgentPresence._meta.db_table
    clocks = [q["sql"] for q in queries if q["sql"].startswith(f'UPDATE "{table}"')]
    assert len(clocks) == 1 and "idle_since" in clocks[0]
    assert Event.objects.filter(case__in=cases, type=Event.Type.ASSIGNMENT).count() == 3
    presence.refresh_from_db()
    assert presence.idle_since != before
    assert presence.idle_since == Case.objects.get(pk=cases[-1].pk).assigned_at
