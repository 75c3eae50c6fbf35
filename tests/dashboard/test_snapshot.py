"""The dashboard's report shared for a short time (console/kpis/snapshot.py), and the page's
query count, which must not grow with the data (cases, teams, topics)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contactcenter import settings as project_settings
from contactcenter.models import Case, Event, Satisfaction, Topic, User
from routing.models import Team
from tests.conftest import make_staff

from .conftest import NOW, TODAY, at, citizen_message, make_case

pytestmark = pytest.mark.django_db

URL = "/supervision/tableau-de-bord/"
_numbers = itertools.count(1)


def opened(response) -> int:
    assert response.status_code == 200
    return response.context["report"].overall.opened


def test_the_page_serves_a_snapshot_states_its_age_and_refreshes_it(
    settings,
    monkeypatch,
    client_as,
    supervisor,
    citizen,
    topic_a,
    frozen_now,
    django_capture_on_commit_callbacks,
):
    settings.GUICHET_KPI_LIVE_CACHE_SECONDS = 60
    client = client_as(supervisor)
    citizen_message(make_case(citizen, topic_a, at(TODAY, 9)), at(TODAY, 9))
    assert opened(client.get(URL, {"periode": "jour"})) == 1

    citizen_message(make_case(citizen, topic_a, at(TODAY, 10)), at(TODAY, 10))
    response = client.get(URL, {"periode": "jour"})
    assert opened(response) == 1  # the snapshot of a moment ago
    assert "mis à jour il y a 0 s" in response.content.decode()

    later = NOW + timedelta(seconds=75)
    monkeypatch.setattr(timezone, "now", lambda: later.astimezone(ZoneInfo("UTC")))
    # Too old: still served (the page does not wait), and its refresh is queued (Celery is
    # eager in tests: the task computes the next snapshot once the view's work is committed).
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.get(URL, {"periode": "jour"})
    assert len(queued) == 1
    assert opened(response) == 1
    assert "mis à jour il y a 75 s" in response.content.decode()
    response = client.get(URL, {"periode": "jour"})
    assert opened(response) == 2
    assert "mis à jour il y a 0 s" in response.content.decode()


def test_snapshots_are_per_viewer_and_filters(
    settings, client_as, supervisor, admin_user, citizen, topic_a, topic_b, frozen_now
):
    settings.GUICHET_KPI_LIVE_CACHE_SECONDS = 60
    make_case(citizen, topic_a, at(TODAY, 9))
    make_case(citizen, topic_b, at(TODAY, 9))
    assert opened(client_as(supervisor).get(URL, {"periode": "jour"})) == 1  # service A only
    assert opened(client_as(admin_user).get(URL, {"periode": "jour"})) == 2
    only_b = {"periode": "jour", "service": topic_b.service.code}
    assert opened(client_as(admin_user).get(URL, only_b)) == 1


def test_without_cache_every_view_computes_the_figures(
    settings, client_as, supervisor, citizen, topic_a, frozen_now
):
    settings.GUICHET_KPI_LIVE_CACHE_SECONDS = 0
    client = client_as(supervisor)
    make_case(citizen, topic_a, at(TODAY, 9))
    assert opened(client.get(URL, {"periode": "jour"})) == 1
    make_case(citizen, topic_a, at(TODAY, 10))
    response = client.get(URL, {"periode": "jour"})
    assert opened(response) == 2
    assert "mis à jour il y a" not in response.content.decode()


def _grow(service, citizen, agents, topics_count: int, cases: int, teams: int) -> None:
    """Cases (answered, closed, rated, with contacts) over topics, and teams of agents."""
    topics = [
        Topic.objects.create(service=service, slug=f"t{n}", title=f"Thème {n}")
        for n in itertools.islice(_numbers, topics_count)
    ]
    for i in range(cases):
        agent = agents[i % len(agents)]
        case = make_case(
            citizen,
            topics[i % len(topics)],
            at(TODAY, 8, i % 60),
            channel=("web", "chat", "phone")[i % 3],
            first_response_at=at(TODAY, 9, i % 60),
            status=Case.Status.CLOSED,
            closed_at=at(TODAY, 10, i % 60),
            assigned_to=agent,
            assigned_at=at(TODAY, 9, i % 60),
        )
        citizen_message(case, at(TODAY, 8, i % 60))
        Event.objects.create(
            case=case,
            citizen_id=case.citizen_id,
            type=Event.Type.CONTACT,
            channel="phone",
            actor=agent,
            created_at=at(TODAY, 9, i % 60),
        )
        Satisfaction.objects.create(
            case=case,
            agent=agent,
            citizen=citizen,
            channel=case.channel,
            service=service,
            score=1 + i % 5,
            resolved=i % 2 == 0,
            created_at=at(TODAY, 11, i % 60),
        )
    for i in range(teams):
        team = Team.objects.create(service=service, name=f"Équipe {next(_numbers)}")
        team.members.set(agents[i % len(agents) :])


def _page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"periode": "7j"})
    assert response.status_code == 200
    return len(queries)


def test_the_page_query_count_does_not_grow_with_cases_teams_or_topics(
    settings, client_as, supervisor, service_a, skill_a, citizen, topic_a, frozen_now
):
    """The full computation (no snapshot), every provider of the project on: the same number of
    queries for 3 cases, 1 team, 2 topics as for 10 times more of each."""
    settings.GUICHET_KPI_LIVE_CACHE_SECONDS = 0
    settings.GUICHET_KPI_PROVIDERS = project_settings.GUICHET_KPI_PROVIDERS
    agents = [
        make_staff(f"agent{i}@guichet.example.fr", User.Role.AGENT, [service_a], [skill_a])
        for i in range(4)
    ]
    make_case(citizen, topic_a, at(TODAY - timedelta(days=6), 9))  # the first day with data
    _grow(service_a, citizen, agents, topics_count=2, cases=3, teams=1)
    client = client_as(supervisor)
    client.get(URL, {"periode": "7j"})  # the catch-up of past days (once per 10 minutes)
    small = _page_queries(client)
    _grow(service_a, citizen, agents, topics_count=20, cases=30, teams=10)
    large = _page_queries(client)
    assert large == small, f"{small} queries with little data, {large} with ten times more"
    assert small < 120  # 7 days computed live (none stored) and 8 providers
