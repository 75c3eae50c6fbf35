"""Co-browsing fixtures: a clean cache, fast timers, a session waiting for consent."""

from datetime import timedelta

import pytest
from django.core.cache import cache

from cobrowse import services


@pytest.fixture(autouse=True)
def clean_cache():
    """Presence and lockouts live in the cache: never let them leak between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fast_timers(settings):
    """Shrink the grace period and the watchdog so that timeouts happen within a test."""
    settings.COBROWSE_WATCHDOG_SECONDS = 0.05
    settings.COBROWSE_PEER_GRACE = timedelta(milliseconds=300)
    settings.COBROWSE_ACTIVITY_WRITE_SECONDS = 0.0
    return settings


@pytest.fixture
def offered(citizen, agent_a):
    """A code the citizen asked for, already entered by agent A: waiting for « Accepter »."""
    _session, code = services.create_code(citizen)
    return services.join_with_code(agent_a, code)
