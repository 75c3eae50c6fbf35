"""The PostgreSQL engine (``routing.engine_pg``: agent lock and one-statement claim) and the
portable engine (``routing.engine``, ORM: what SQLite runs) give the same outcomes: the same
queue, drained by the same sequence of passes, gives the same cases to the same agents in the
same order, with the same timeline and idle clocks.

PostgreSQL only: both engines run there (the portable one is forced), on the same data.
"""

import random
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contactcenter.models import AgentProfile, Case, Event, Service, Skill, Topic, User
from routing import engine
from routing.models import AgentPresence, CallbackRequest

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.USING_POSTGRES,
        reason="the PostgreSQL engine needs PostgreSQL (set DATABASE_URL=postgres://...)",
    ),
    pytest.mark.django_db,
]

CHANNELS = ["chat", "chatbot", "cobrowse", "phone", "callback", "counter", "web", "email"]


def build_queue(seed=2026, n_agents=12, n_cases=400):
    """Agents with mixed services, skills and capacities; cases of every channel group with
    mixed topics (one without skill), head priorities, fragility, SLA deadlines (some none),
    arrival times, and callbacks due or not yet due."""
    rng = random.Random(seed)
    now = timezone.now()
    services = [Service.objects.create(code=f"p{i}", name=f"Service {i}") for i in range(2)]
    skills = [Skill.objects.create(code=f"q{i}", name=f"Skill {i}") for i in range(4)]
    topics = [
        Topic.objects.create(slug=f"u{i}", title=f"U{i}", service=services[i % 2], skill=skills[i])
        for i in range(4)
    ]
    topics.append(Topic.objects.create(slug="u-any", title="Any", service=services[0]))
    citizen = User.objects.create_user(
        username="p@example.fr", email="p@example.fr", password="x", role="citizen"
    )
    agents = []
    for i in range(n_agents):
        agent = User.objects.create_user(
            username=f"p{i}@example.fr", email=f"p{i}@example.fr", password="x", role="agent"
        )
        profile = AgentProfile.objects.create(user=agent)
        profile.services.set(rng.sample(services, rng.randint(1, 2)))
        profile.skills.set(rng.sample(skills, rng.randint(0, 3)))
        AgentPresence.objects.create(
            user=agent,
            status="available",
            capacity_chat=rng.randint(0, 3),
            capacity_phone=rng.randint(0, 2),
            capacity_web=rng.randint(0, 8),
            idle_since=now - timedelta(minutes=i),
        )
        agents.append(agent)
    cases = Case.objects.bulk_create(
        Case(
            reference=f"P-{i:06d}",
            citizen=citizen,
            topic=(topic := rng.choice(topics)),
            service_id=topic.service_id,
            kind="question",
            channel=rng.choice(CHANNELS),
            subject="x",
            priority=rng.choice([0, 0, 0, 100]),
            fragile=rng.random() < 0.15,
            sla_deadline=rng.choice([None, now + timedelta(minutes=rng.randint(1, 600))]),
            created_at=now - timedelta(seconds=rng.randint(0, 3600)),
            last_activity_at=now,
        )
        for i in range(n_cases)
    )
    CallbackRequest.objects.bulk_create(
        CallbackRequest(
            case=case,
            phone="+33612345678",
            # Half of them due, the others booked for later: not in the queue yet.
            slot_start=now + timedelta(hours=-1 if n % 2 else 2),
            slot_end=now + timedelta(hours=0 if n % 2 else 3),
        )
        for n, case in enumerate(c for c in cases if c.channel == "callback")
    )
    return agents


def drain(agents):
    """The same sequence of passes whatever the engine: rounds over the agents in a fixed order
    with passes of various sizes, some assigned cases ending between rounds. Returns the
    assignments in order (case, agent), the assignment events and the
    agents whose idle clock moved."""
    assigned = []
    idle_before = dict(AgentPresence.objects.values_list("user_id", "idle_since"))
    for batch in (engine.FILL_BATCH, 1, None, 2, engine.FILL_BATCH):
        for agent in agents:
            cases, _more = engine.fill_pass(agent.pk, batch)
            assigned += [(case.pk, agent.pk) for case in cases]
        # Some contacts end: their slots free up for the next round.
        ended = [case_id for n, (case_id, _agent) in enumerate(assigned) if n % 3 == 0]
        Case.objects.filter(pk__in=ended, status="assigned").update(status="closed")
    # One timeline event per assignment (within one pass, the claim statement may insert
    # them in any order).
    events = sorted(
        (case_id, service_id, payload["agent"], payload["mode"], payload["from"], payload["to"])
        for case_id, service_id, payload in Event.objects.filter(type="assignment").values_list(
            "case_id", "service_id", "payload"
        )
    )
    idle_after = dict(AgentPresence.objects.values_list("user_id", "idle_since"))
    moved = sorted(pk for pk in idle_after if idle_after[pk] != idle_before[pk])
    return assigned, events, moved


def run(agents, *, portable, monkeypatch):
    """Drain the queue with one engine, then roll the data back for the next one."""
    with monkeypatch.context() as patch:
        if portable:
            patch.setattr(engine, "pg_engine_enabled", lambda: False)
        with transaction.atomic():
            outcome = drain(agents)
            transaction.set_rollback(True)
    return outcome


def test_postgresql_and_portable_engines_give_the_same_assignments(monkeypatch):
    agents = build_queue()
    pg = run(agents, portable=False, monkeypatch=monkeypatch)
    portable = run(agents, portable=True, monkeypatch=monkeypatch)
    assigned, events, moved = pg
    # The queue is long enough for every group, and some callbacks are not due yet (agents on
    # a phone or callback case take no chat meanwhile).
    assert len(assigned) > 90
    channels = set(Case.objects.filter(pk__in=[c for c, _a in assigned]).values_list("channel"))
    assert {("chat",), ("phone",), ("callback",), ("web",)} <= channels
    assert not Case.objects.filter(
        pk__in=[c for c, _a in assigned], callback__slot_start__gt=timezone.now()
    ).exists()
    assert len(events) == len(assigned) and moved
    # Each assignment event is signed by its case's service, as add_event signs it.
    services = dict(Case.objects.filter(pk__in=[e[0] for e in events]).values_list("pk", "service"))
    assert all(service_id == services[case_id] for case_id, service_id, *_rest in events)
    assert portable == pg
