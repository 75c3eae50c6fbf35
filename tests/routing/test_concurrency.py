"""Concurrent routing workers on PostgreSQL: never two owners, never above capacity.

Skipped on SQLite: SQLite serialises every writer, so it cannot exercise row locks.
"""

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import routing
from contactcenter.models import AgentProfile, Case, Event, Service, Skill, Topic, User
from routing import engine_pg
from routing.models import AgentPresence
from routing.signals import cases_claimed

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.USING_POSTGRES,
        reason="needs PostgreSQL row locks (set DATABASE_URL=postgres://...): SQLite "
        "serialises writers, so concurrency cannot be exercised",
    ),
    pytest.mark.django_db(transaction=True),
]

CHANNELS = ["chat", "chatbot", "phone", "web", "web", "email"]


def build_world(n_agents=40, n_cases=3000, seed=7):
    rng = random.Random(seed)
    services_ = [Service.objects.create(code=f"s{i}", name=f"Service {i}") for i in range(2)]
    skills = [Skill.objects.create(code=f"k{i}", name=f"Skill {i}") for i in range(4)]
    topics = [
        Topic.objects.create(slug=f"t{i}", title=f"T{i}", service=services_[i % 2], skill=skills[i])
        for i in range(4)
    ]
    citizen = User.objects.create_user(
        username="c@example.fr", email="c@example.fr", password="x", role="citizen"
    )
    agents = []
    for i in range(n_agents):
        agent = User.objects.create_user(
            username=f"a{i}@example.fr", email=f"a{i}@example.fr", password="x", role="agent"
        )
        profile = AgentProfile.objects.create(user=agent)
        profile.services.set(rng.sample(services_, rng.randint(1, 2)))
        profile.skills.set(rng.sample(skills, rng.randint(1, 4)))
        AgentPresence.objects.create(
            user=agent,
            status="available",
            capacity_chat=rng.randint(0, 3),
            capacity_phone=rng.randint(0, 2),
            capacity_web=rng.randint(0, 10),
        )
        agents.append(agent)
    now = timezone.now()
    Case.objects.bulk_create(
        Case(
            reference=f"C-{i:06d}",
            citizen=citizen,
            topic=(topic := rng.choice(topics)),
            service_id=topic.service_id,
            kind="question",
            channel=rng.choice(CHANNELS),
            subject="x",
            created_at=now,
            last_activity_at=now,
        )
        for i in range(n_cases)
    )
    return agents


def run_threads(target, items, n_threads):
    errors = []
    chunks = [items[i::n_threads] for i in range(n_threads)]
    barrier = threading.Barrier(n_threads)

    def worker(chunk):
        try:
            barrier.wait()
            for item in chunk:
                target(item)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def mixed_step(pull):
    """A worker's step over ("agent", id) items (``pull(agent_id)``: work for a freed agent)
    and ("case", id) items (``route_case``: a contact arrived)."""

    def step(item):
        kind, ident = item
        if kind == "agent":
            pull(ident)
        else:
            routing.route_case(ident)

    return step


def assert_invariants():
    # At most one owner per case: one assignment event per case (no requeue in this test).
    per_case = Counter(Event.objects.filter(type="assignment").values_list("case_id", flat=True))
    assert [c for c, n in per_case.items() if n > 1] == []
    assert Case.objects.filter(assigned_to__isnull=False).count() == len(per_case)
    # Never above capacity, per agent and channel group.
    for presence in AgentPresence.objects.all():
        loads = routing.agent_loads(presence.pk)
        for group in routing.CHANNEL_GROUPS:
            assert loads[group] <= presence.capacity_for(group), (presence.pk, group, loads)
    return len(per_case)


def test_concurrent_route_case_never_double_assigns_nor_overflows():
    # Four times as many cases as the agents can take (about 300): every slot is fought over.
    agents = build_world(n_cases=1200)
    case_ids = list(Case.objects.values_list("pk", flat=True))
    # Every case routed twice, by 8 threads at once, in different orders.
    items = case_ids + case_ids[::-1]
    run_threads(routing.route_case, items, 8)
    assigned = assert_invariants()
    total_capacity = sum(
        min(p.capacity_chat + p.capacity_phone + p.capacity_web, 10**6)
        for p in AgentPresence.objects.filter(user__in=agents)
    )
    assert 0 < assigned <= total_capacity < len(case_ids) / 3

    # Agents free up: close half of the active cases, then workers pull work per agent
    # while others route cases, all at once.
    active = list(Case.objects.filter(status="assigned").values_list("pk", flat=True))
    Case.objects.filter(pk__in=active[::2]).update(status="closed")
    agent_ids = [a.pk for a in agents] * 3
    waiting = list(Case.objects.filter(status="new").values_list("pk", flat=True))
    mixed = [("agent", a) for a in agent_ids] + [("case", c) for c in waiting]
    random.Random(3).shuffle(mixed)

    run_threads(mixed_step(routing.assign_next), mixed, 8)
    assert_invariants()
    assert connection.vendor == "postgresql"


def test_concurrent_take_case_has_exactly_one_winner():
    agents = build_world(n_agents=12, n_cases=1)
    case = Case.objects.get()
    for agent in agents:
        agent.agent_profile.services.add(case.service)
    winners, losers = [], []

    def take(agent):
        from django.core.exceptions import ValidationError

        try:
            routing.take_case(agent, Case.objects.get(pk=case.pk))
            winners.append(agent.pk)
        except ValidationError as exc:
            losers.append(exc.messages[0])

    eligible = [a for a in agents if routing.free_capacity(a.pk, case.channel) > 0]
    run_threads(take, eligible, len(eligible))
    assert len(winners) == 1
    assert set(losers) <= {"Cette demande vient d'être prise par un autre agent."}
    assert Case.objects.get(pk=case.pk).assigned_to_id == winners[0]


def one_agent_queue(n_cases=4, channel="web"):
    """One agent, one topic, ``n_cases`` queued cases in arrival order (ids ascending)."""
    service = Service.objects.create(code="sq", name="Service queue")
    skill = Skill.objects.create(code="kq", name="Skill queue")
    topic = Topic.objects.create(slug="tq", title="TQ", service=service, skill=skill)
    citizen = User.objects.create_user(
        username="cq@example.fr", email="cq@example.fr", password="x", role="citizen"
    )
    agent = User.objects.create_user(
        username="aq@example.fr", email="aq@example.fr", password="x", role="agent"
    )
    profile = AgentProfile.objects.create(user=agent)
    profile.services.add(service)
    profile.skills.add(skill)
    AgentPresence.objects.create(user=agent, status="available", capacity_web=10)
    now = timezone.now()
    cases = [
        Case.objects.create(
            reference=f"Q-{i:04d}",
            citizen=citizen,
            topic=topic,
            service=service,
            kind="question",
            channel=channel,
            subject="x",
            created_at=now - timedelta(minutes=n_cases - i),
            last_activity_at=now,
        )
        for i in range(n_cases)
    ]
    return agent, cases


class HeldLock:
    """Another worker holding some case rows locked (its own connection, its own thread)."""

    def __init__(self, case_ids):
        self.case_ids = case_ids
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self):
        from django.db import transaction

        try:
            with transaction.atomic():
                list(Case.objects.select_for_update().filter(pk__in=self.case_ids))
                self.locked.set()
                self.release.wait(10)
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(10)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join()


def test_assign_next_skips_a_head_case_another_worker_holds():
    agent, cases = one_agent_queue()
    with HeldLock([cases[0].pk]):
        # The head is locked by another worker: the next one, without waiting.
        assert routing.assign_next(agent.pk).pk == cases[1].pk
    assert routing.assign_next(agent.pk).pk == cases[0].pk
    assert routing.assign_next(agent.pk).pk == cases[2].pk
    assert_invariants()


def test_assign_next_falls_back_to_the_whole_queue_when_every_head_case_is_held(monkeypatch):
    # The one-statement claim looks at the first HEAD_PER_TOPIC cases of each topic; when
    # other workers hold all of them, the engine takes the head of the whole queue instead.
    monkeypatch.setattr(engine_pg, "HEAD_PER_TOPIC", 2)
    agent, cases = one_agent_queue()
    with HeldLock([cases[0].pk, cases[1].pk]):
        case = routing.assign_next(agent.pk)
    assert case.pk == cases[2].pk
    assert Case.objects.get(pk=case.pk).assigned_to_id == agent.pk
    assert Event.objects.filter(case=case, type="assignment").count() == 1
    assert_invariants()


def test_assign_next_claim_keeps_queue_order_and_timeline():
    agent, cases = one_agent_queue()
    Case.objects.filter(pk=cases[3].pk).update(fragile=True)
    Case.objects.filter(pk=cases[2].pk).update(priority=routing.HEAD_PRIORITY)
    heard = []

    def on_claimed(sender, agent_id, case_ids, **kwargs):
        # Sent inside the claim's transaction: the claimed rows are already written.
        heard.append(
            (
                agent_id,
                case_ids,
                Event.objects.filter(case_id__in=case_ids, type="assignment").count(),
            )
        )

    cases_claimed.connect(on_claimed, dispatch_uid="test.claim.events")
    try:
        order = [routing.assign_next(agent.pk).pk for _ in range(4)]
    finally:
        cases_claimed.disconnect(dispatch_uid="test.claim.events")
    assert order == [cases[2].pk, cases[3].pk, cases[0].pk, cases[1].pk]
    # The claim statement wrote the timeline events; the engine announces the claimed cases
    # through its domain signal (no post_save is sent for rows written in SQL).
    assert heard == [(agent.pk, [case_id], 1) for case_id in order]
    events = Event.objects.filter(type="assignment").order_by("id")
    assert [e.case_id for e in events] == order
    for case in Case.objects.filter(pk__in=order):
        assert case.assigned_to_id == agent.pk and case.status == "assigned"
        assert case.priority == 0
        event = Event.objects.get(case=case, type="assignment")
        assert event.payload == {"agent": agent.pk, "mode": "auto", "from": "new", "to": "assigned"}
    presence = AgentPresence.objects.get(pk=agent.pk)
    assert presence.idle_since >= Case.objects.get(pk=order[-1]).assigned_at
    assert routing.assign_next(agent.pk) is None


def test_concurrent_batched_fill_never_double_assigns_nor_overflows():
    # Agents come on shift, each filled in one transaction per pass, by 8 threads at once
    # (each agent 3 times, in different orders), while other threads route single cases.
    agents = build_world(n_agents=60, n_cases=2000, seed=11)
    items = [("agent", a.pk) for a in agents] * 3
    items += [("case", c) for c in Case.objects.values_list("pk", flat=True)[:500]]
    random.Random(5).shuffle(items)

    run_threads(mixed_step(routing.assign_available), items, 8)
    assigned = assert_invariants()
    # Every agent is full on each group, or nothing they may take is left in that group.
    for agent in agents:
        presence = AgentPresence.objects.get(pk=agent.pk)
        loads = routing.agent_loads(agent.pk)
        for group in routing.CHANNEL_GROUPS:
            if loads[group] < presence.capacity_for(group):
                assert routing.assign_available(agent.pk, groups=[group]) == []
    assert assigned > 0


def test_assign_available_fills_every_free_slot_in_queue_order_in_one_transaction():
    agent, cases = one_agent_queue(n_cases=6)
    AgentPresence.objects.filter(pk=agent.pk).update(capacity_web=4)
    Case.objects.filter(pk=cases[4].pk).update(fragile=True)
    Case.objects.filter(pk=cases[2].pk).update(priority=routing.HEAD_PRIORITY)
    heard = []

    def on_assigned(sender, case_id, agent_id, pending_transfer=None, **kwargs):
        heard.append((case_id, pending_transfer))

    from contactcenter.models import Transfer
    from contactcenter.signals import case_assigned

    Transfer.objects.create(
        case=cases[0],
        from_service=cases[0].service,
        to_service=cases[0].service,
        reason="Compétence",
        created_by=agent,
    )
    case_assigned.connect(on_assigned, dispatch_uid="test.batch.assigned")
    try:
        # One transaction: the agent's lock and one claim statement (server-side prepared hot
        # statements, logged like Django's own) write cases, timeline and idle clock; the other
        # queries are only the SLA deadlines of cases that had none, and after commit the
        # acceptance of the one pending transfer (the other cases: none, routing read that
        # there was none).
        with CaptureQueriesContext(connection) as queries:
            assigned = routing.assign_available(agent.pk)
    finally:
        case_assigned.disconnect(dispatch_uid="test.batch.assigned")
    # Queue order as it stood before the claim (head priority, fragility, then arrival).
    assert [c.pk for c in assigned] == [cases[2].pk, cases[4].pk, cases[0].pk, cases[1].pk]
    sqls = [q["sql"] for q in queries]
    assert [q for q in sqls if q in ("BEGIN", "COMMIT")] == ["BEGIN", "COMMIT"]
    hot = [q for q in sqls if "contactcenter_event" in q or "routing_agentpresence" in q]
    # The lock, then one claim statement for every channel group with room.
    assert "FOR UPDATE" in hot[0] and len(hot) == 2
    assert hot[1].startswith("WITH head AS")
    assert len([q for q in sqls if q.startswith('UPDATE "contactcenter_transfer"')]) == 1
    assert sorted(heard) == sorted(
        [(cases[2].pk, False), (cases[4].pk, False), (cases[0].pk, True), (cases[1].pk, False)]
    )
    assert Event.objects.filter(type="assignment").count() == 4
    assert routing.agent_loads(agent.pk)["web"] == 4
    assert routing.assign_available(agent.pk) == []  # full
    # The transfer's receiving side got it: accepted by messaging's receiver.
    assert Transfer.objects.get(case=cases[0]).accepted_at is not None
    Case.objects.filter(pk__in=[cases[4].pk, cases[0].pk]).update(status="closed")
    assert [c.pk for c in routing.assign_available(agent.pk, limit=1)] == [cases[3].pk]
    assert [c.pk for c in routing.assign_available(agent.pk)] == [cases[5].pk]
    assert_invariants()


def test_one_claim_fills_every_channel_group_in_group_order():
    """Chat, phone and web slots free at once: one statement claims the head of each group
    (chat first, then phone, then web), each up to the agent's room on that group."""
    agent, web = one_agent_queue(n_cases=3, channel="web")
    AgentPresence.objects.filter(pk=agent.pk).update(
        capacity_chat=2, capacity_phone=1, capacity_web=2
    )
    now = timezone.now()
    extra = []
    for i, channel in enumerate(["phone", "chat", "phone", "chat", "chat"]):
        extra.append(
            Case.objects.create(
                reference=f"G-{i:04d}",
                citizen=web[0].citizen,
                topic=web[0].topic,
                service=web[0].service,
                kind="question",
                channel=channel,
                subject="x",
                created_at=now - timedelta(seconds=50 - i),
                last_activity_at=now,
            )
        )
    with CaptureQueriesContext(connection) as queries:
        assigned = routing.assign_available(agent.pk)
    claims = [q["sql"] for q in queries if q["sql"].startswith("WITH head AS")]
    assert len(claims) == 1
    # Chat: the two oldest chats; phone: the oldest phone call; web: the two oldest messages.
    assert [c.pk for c in assigned] == [
        extra[1].pk,
        extra[3].pk,
        extra[0].pk,
        web[0].pk,
        web[1].pk,
    ]
    assert routing.agent_loads(agent.pk) == {"chat": 2, "phone": 1, "web": 2}
    assert Event.objects.filter(type="assignment").count() == 5
    assert set(Case.objects.filter(status="new").values_list("pk", flat=True)) == {
        extra[2].pk,
        extra[4].pk,
        web[2].pk,
    }


def test_a_full_agent_is_not_locked():
    """No room on any group: the lock statement returns nothing and locks nothing (the
    transaction gets no transaction id, so its commit does not wait for the disk)."""
    agent, cases = one_agent_queue(n_cases=2)
    AgentPresence.objects.filter(pk=agent.pk).update(
        capacity_chat=0, capacity_phone=0, capacity_web=1
    )
    assert len(routing.assign_available(agent.pk)) == 1
    from django.db import transaction

    with transaction.atomic():
        assert engine_pg.lock_available_agent(agent.pk) is None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id_if_assigned()")
            assert cursor.fetchone()[0] is None
    # With room on the group asked for, the row is locked (and the transaction has an id).
    with transaction.atomic():
        assert engine_pg.lock_available_agent(agent.pk, ("chat",)) is None
        AgentPresence.objects.filter(pk=agent.pk).update(capacity_web=2)
        assert engine_pg.lock_available_agent(agent.pk, ("web",)) is not None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id_if_assigned()")
            assert cursor.fetchone()[0] is not None


def test_the_claim_runs_on_its_generic_plan_in_its_own_transaction_only():
    """The claim's transaction sets ``plan_cache_mode = force_generic_plan`` (``set_config`` in
    the agent lock, as ``SET LOCAL``):
    the prepared claim gets its generic plan from the first execution, and the connection is
    back to PostgreSQL's default once the transaction ends."""
    from django.db import transaction

    agent, cases = one_agent_queue(n_cases=3)
    with transaction.atomic():
        assert routing.assign_next(agent.pk).pk == cases[0].pk
        with connection.cursor() as cursor:
            cursor.execute("SHOW plan_cache_mode")
            assert cursor.fetchone()[0] == "force_generic_plan"
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "auto"
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE 'WITH head AS%%'"
        )
        plans = cursor.fetchall()
    # A pooled connection may have prepared claims of earlier tests too (other queue shapes):
    # every one ran on its generic plan, never on a custom one.
    assert plans and all(generic >= 1 and custom == 0 for generic, custom in plans), plans
