"""Dashboard fixtures: a frozen clock and small builders for hand-made timelines.

The clock is frozen at 15:00 (Paris) on Tuesday 10 March 2026: "today" is that day, "yesterday"
(D1) is 9 March, "the day before" (D2) is 8 March. Every figure in these tests is set by hand.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.utils import timezone

from console import kpis
from contactcenter.models import Case, Event, LoginEvent, Satisfaction, Transfer

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=PARIS)
TODAY = NOW.date()
D1 = TODAY - timedelta(days=1)
D2 = TODAY - timedelta(days=2)


def at(day, hour, minute=0, second=0):
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=PARIS)


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW.astimezone(ZoneInfo("UTC")))
    return NOW


@pytest.fixture(autouse=True)
def no_external_providers(settings):
    """The core's figures only, unless a test registers a provider; a fresh cache."""
    settings.GUICHET_KPI_PROVIDERS = {}
    settings.GUICHET_DASHBOARD_LIVE_PROVIDER = ""
    settings.GUICHET_KPI_LIVE_CACHE_SECONDS = 0  # a test that wants the cache turns it on
    cache.clear()
    yield
    kpis.providers._REGISTRY.clear()


_refs = itertools.count(1)


def make_case(citizen, topic, created, *, channel="web", service=None, **fields) -> Case:
    return Case.objects.create(
        reference=f"T-{next(_refs):06d}",
        citizen=citizen,
        topic=topic,
        service=service or topic.service,
        kind=Case.Kind.QUESTION,
        channel=channel,
        subject="Sujet",
        created_at=created,
        last_activity_at=created,
        **fields,
    )


def event(case, type_, when, *, actor=None, channel=None, internal=False, payload=None) -> Event:
    return Event.objects.create(
        case=case,
        citizen_id=case.citizen_id,
        type=type_,
        channel=channel or case.channel,
        actor=actor,
        internal=internal,
        payload=payload or {},
        created_at=when,
    )


def citizen_message(case, when):
    return event(case, Event.Type.MESSAGE, when, actor=case.citizen, channel="web")


def agent_message(case, agent, when):
    return event(case, Event.Type.MESSAGE, when, actor=agent, channel="web")


def transfer(case, from_service, to_service, when, by=None):
    return Transfer.objects.create(
        case=case,
        from_service=from_service,
        to_service=to_service,
        reason="motif",
        created_by=by,
        created_at=when,
    )


def rate(case, score, when, comment=""):
    return Satisfaction.objects.create(
        case=case,
        citizen=case.citizen,
        channel=case.channel,
        service=case.service,
        score=score,
        comment=comment,
        created_at=when,
    )


def logins(role, when, count):
    LoginEvent.objects.bulk_create([LoginEvent(role=role, created_at=when) for _ in range(count)])


def report_for(day_from, day_to=None, scope=kpis.ALL, **kwargs):
    return kpis.build_report(kpis.KpiRange(day_from, day_to or day_from), scope, **kwargs)
