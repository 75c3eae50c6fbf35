"""Routing fixtures on top of the shared personas (tests/conftest.py)."""

import itertools

import pytest
from django.core.cache import cache

from contactcenter.models import Case
from contactcenter.services import open_case
from routing.calendar import clear_calendar_cache
from routing.models import AgentPresence
from routing.sla import clear_policy_cache

_subjects = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_routing_state():
    """The availability snapshot lives in the (process-wide) cache: start every test clean."""
    cache.clear()
    clear_calendar_cache()
    clear_policy_cache()
    yield
    cache.clear()
    clear_calendar_cache()
    clear_policy_cache()


def make_case(citizen, topic, channel="web", **extra):
    case, _event = open_case(
        citizen=citizen,
        topic=topic,
        kind=extra.pop("kind", Case.Kind.QUESTION),
        channel=channel,
        subject=f"Demande {next(_subjects)}",
        body="Bonjour, j'ai une question.",
        route=False,
        **extra,
    )
    return case


def set_available(agent, **capacities):
    presence, _ = AgentPresence.objects.get_or_create(user=agent)
    presence.status = AgentPresence.Status.AVAILABLE
    for group, value in capacities.items():
        setattr(presence, f"capacity_{group}", value)
    presence.save()
    return presence


@pytest.fixture
def new_case():
    return make_case


@pytest.fixture
def available():
    return set_available


@pytest.fixture
def memory_layer(settings):
    """An in-memory channel layer so that sync tests can read published messages (the Redis
    layer's receive() is bound to one event loop)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import get_channel_layer

    return get_channel_layer()
