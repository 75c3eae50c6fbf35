"""Visio fixtures: a case assigned to agent A, its open room."""

import pytest
from django.core.cache import cache

from contactcenter.models import Case
from visio import services


@pytest.fixture(autouse=True)
def clean_cache():
    """Socket leases live in the cache: never let them leak between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def assigned_case(case_a, agent_a):
    Case.objects.filter(pk=case_a.pk).update(assigned_to=agent_a, status=Case.Status.IN_PROGRESS)
    case_a.refresh_from_db()
    return case_a


@pytest.fixture
def room(assigned_case, agent_a):
    return services.open_room(assigned_case, agent_a)


@pytest.fixture
def tokens(room):
    return {p.role: p.token for p in room.participants.all()}
