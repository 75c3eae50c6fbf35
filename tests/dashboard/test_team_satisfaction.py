"""Agent teams: supervisors manage them for their services, and the dashboard shows the
satisfaction of the contacts each team handled (routing.team_kpis), in one grouped query."""

from __future__ import annotations

import uuid

import pytest

from contactcenter.models import Event, Satisfaction, User
from contactcenter.services import add_event
from routing.models import Team
from routing.team_kpis import team_kpis, team_satisfaction
from tests.conftest import make_staff

from .conftest import D1, TODAY, at
from .test_views import URL


def rate(case, agent, score, resolved=None, channel="chat", service=None, day=D1):
    event = add_event(case, Event.Type.CHAT, channel=channel, payload={"agent": agent.pk})
    return Satisfaction.objects.create(
        case=case,
        event=event,
        agent=agent,
        citizen=case.citizen,
        channel=channel,
        service=service or case.service,
        score=score,
        resolved=resolved,
        created_at=at(day, 10),
    )


@pytest.fixture
def teams(service_a, service_b, skill_a, agent_a, agent_b, case_a, case_b):
    other = make_staff("paul@guichet.example.fr", User.Role.AGENT, [service_a], [skill_a])
    lonely = make_staff("lea@guichet.example.fr", User.Role.AGENT, [service_a], [skill_a])
    front = Team.objects.create(service=service_a, name="Accueil")
    back = Team.objects.create(service=service_a, name="Expertise")
    front.members.set([agent_a, other])
    back.members.set([other])
    Team.objects.create(service=service_b, name="Équipe B").members.set([agent_b])
    rate(case_a, agent_a, 5, resolved=True)
    rate(case_a, agent_a, 3, resolved=False)
    rate(case_a, other, 4)  # in both teams of service A
    rate(case_a, lonely, 1)  # in no team: counted nowhere
    rate(case_b, agent_b, 2, resolved=True)
    rate(case_a, agent_a, 1, day=TODAY)  # out of the range
    # A rating of the whole case (no agent) belongs to no team.
    Satisfaction.objects.create(
        case=case_a,
        citizen=case_a.citizen,
        channel="web",
        service=case_a.service,
        score=1,
        created_at=at(D1, 11),
    )
    return front, back


def test_satisfaction_per_team_in_one_grouped_query(
    teams, service_a, service_b, django_assert_num_queries
):
    with django_assert_num_queries(1):
        mine = team_satisfaction(at(D1, 0), at(TODAY, 0), service_ids=[service_a.pk])
    assert [(r["team"], r["ratings"], r["average"], r["asked"], r["resolved"]) for r in mine] == [
        ("Accueil", 3, 4.0, 2, 1),  # (5 + 3 + 4) / 3; a tie is ordered by name
        ("Expertise", 1, 4.0, 0, 0),
    ]
    everyone = team_satisfaction(at(D1, 0), at(TODAY, 0))
    assert {r["team"]: r["ratings"] for r in everyone} == {
        "Accueil": 3,
        "Expertise": 1,
        "Équipe B": 1,
    }
    assert team_satisfaction(at(D1, 0), at(TODAY, 0), channel="web") == []
    section = team_kpis(at(D1, 0), at(TODAY, 0), service_ids=[service_b.pk])
    assert section["tables"][0]["rows"] == [["Équipe B", service_b.name, 1, 2.0, 1.0]]
    assert team_kpis(at(TODAY, 12), at(TODAY, 13)) is None


def test_dashboard_shows_the_satisfaction_per_team(
    settings, teams, client_as, supervisor, frozen_now
):
    settings.GUICHET_KPI_PROVIDERS = {"teams": "routing.team_kpis.team_kpis"}
    page = client_as(supervisor).get(URL, {"periode": "7j"}).content.decode()
    assert "Satisfaction des usagers par équipe d&#x27;agents" in page
    assert "Accueil" in page and "Expertise" in page
    assert "Équipe B" not in page  # another service's team
    assert 'href="/console/equipes/"' in page  # where the supervisor manages the teams


def test_supervisor_creates_a_team_and_chooses_its_members(
    client_as, supervisor, agent_a, agent_b, service_a, service_b
):
    client = client_as(supervisor)
    form = client.get(f"/console/equipes/{service_a.pk}/nouvelle/").content.decode()
    assert agent_a.get_full_name() in form
    assert agent_b.get_full_name() not in form  # not an agent of this service
    data = {
        "name": "  Accueil   fiscal ",
        "members": [agent_a.pk],
        "idempotency_key": str(uuid.uuid4()),
    }
    response = client.post(f"/console/equipes/{service_a.pk}/nouvelle/", data)
    assert response.status_code == 302
    replay = client.post(f"/console/equipes/{service_a.pk}/nouvelle/", data)
    assert replay["Idempotent-Replayed"] == "true"
    team = Team.objects.get()
    assert team.name == "Accueil fiscal" and list(team.members.all()) == [agent_a]
    listing = client.get("/console/equipes/").content.decode()
    assert "Accueil fiscal" in listing and agent_a.get_full_name() in listing
    # An agent of another service cannot be added; the name must be new in the service.
    edit = f"/console/equipes/{service_a.pk}/{team.pk}/"
    refused = client.post(edit, {"name": "Accueil fiscal", "members": [agent_b.pk]})
    assert refused.status_code == 400
    assert list(team.members.all()) == [agent_a]
    clash = client.post(
        f"/console/equipes/{service_a.pk}/nouvelle/", {"name": "accueil FISCAL", "members": []}
    )
    assert clash.status_code == 400 and "déjà une équipe de ce nom" in clash.content.decode()
    assert client.post(edit, {"name": "Accueil", "members": []}).status_code == 302
    team.refresh_from_db()
    assert team.name == "Accueil" and not team.members.exists()


def test_teams_of_other_services_are_out_of_reach(client_as, supervisor, agent_a, service_b):
    other = Team.objects.create(service=service_b, name="Équipe Bretagne")
    client = client_as(supervisor)
    assert client.get(f"/console/equipes/{service_b.pk}/nouvelle/").status_code == 404
    assert client.get(f"/console/equipes/{service_b.pk}/{other.pk}/").status_code == 404
    assert "Équipe Bretagne" not in client.get("/console/equipes/").content.decode()
    assert client_as(agent_a).get("/console/equipes/").status_code == 403
