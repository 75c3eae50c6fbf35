"""One rule: ``case_scope`` selects the cases every kind of user may see, and the synthesis sheet
reads the same ones, on SQLite and on PostgreSQL."""

import pytest
from django.contrib.auth.models import AnonymousUser

from console import synthesis
from contactcenter.models import Case, Transfer, User
from contactcenter.permissions import case_scope, visible_cases
from contactcenter.services import open_case
from tests.conftest import make_staff


def _ids(user) -> set[int]:
    return set(visible_cases(user).values_list("pk", flat=True))


@pytest.fixture
def world(citizen, citizen2, agent_a, agent_b, supervisor, admin_user, topic_a, topic_b):
    cases = {"a": [], "b": []}
    for person in (citizen, citizen2):
        for topic, key in ((topic_a, "a"), (topic_b, "b")):
            case, _event = open_case(
                citizen=person,
                topic=topic,
                kind=Case.Kind.QUESTION,
                channel="web",
                subject="Demande",
                body="Bonjour, une question.",
                route=False,
            )
            cases[key].append(case)
    # A case of service B transferred by name to agent A, not accepted yet: A sees it too.
    Transfer.objects.create(
        case=cases["b"][0],
        from_service=cases["b"][0].service,
        to_service=cases["b"][0].service,
        to_agent=agent_a,
        reason="Compétence",
        created_by=agent_b,
    )
    idle = make_staff("sans.service@guichet.example.fr", User.Role.AGENT, [])
    return cases, idle


def test_every_role_sees_its_cases(
    world, citizen, citizen2, agent_a, agent_b, supervisor, admin_user
):
    cases, idle = world
    every = set(Case.objects.values_list("pk", flat=True))
    expected = {
        citizen: {c.pk for c in Case.objects.filter(citizen=citizen)},
        agent_a: {c.pk for c in cases["a"]} | {cases["b"][0].pk},
        agent_b: {c.pk for c in cases["b"]},
        supervisor: {c.pk for c in cases["a"]},
        admin_user: every,
        idle: set(),
    }
    for user, ids in expected.items():
        user = User.objects.get(pk=user.pk)  # nothing cached on the instance
        assert _ids(user) == ids, user.email
        scope = case_scope(user)
        assert set(Case.objects.filter(scope.q()).values_list("pk", flat=True)) == (
            set() if scope.nothing else ids
        ), user.email
    anonymous = AnonymousUser()
    assert case_scope(anonymous).nothing and not visible_cases(anonymous).exists()
    assert _ids(anonymous) == set()
    # The accepted transfer no longer widens agent A's scope (read again: never cached).
    Transfer.objects.update(accepted_at=cases["b"][0].created_at)
    agent = User.objects.get(pk=agent_a.pk)
    assert _ids(agent) == {c.pk for c in cases["a"]}


def test_sheet_reads_the_same_cases_as_the_orm(world, citizen, agent_a):
    cases, _idle = world
    agent = User.objects.get(pk=agent_a.pk)
    ids = set(visible_cases(agent).filter(citizen=citizen).values_list("pk", flat=True))
    assert set(synthesis.visible_cases_of(agent, citizen).values_list("pk", flat=True)) == ids
    sheet = synthesis.synthesis(agent, citizen)
    assert set(sheet.visible_case_ids) == ids
    # The citizen's case in service B was transferred to agent A by name: visible; none hidden.
    assert sheet.other_cases_count == 0
    assert {c.reference for c in sheet.open_cases} == {
        c.reference for c in Case.objects.filter(pk__in=ids)
    }
    first = sheet.open_cases[0]
    assert first.service.name and first.topic.title and first.assigned_to is None
