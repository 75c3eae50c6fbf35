"""The availability signal: per topic, can someone take a chat right now?"""

from datetime import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

import routing
from contactcenter.models import Case
from routing.models import AgentPresence, OpeningHours

from .conftest import make_case, set_available


@pytest.fixture
def listener(memory_layer):
    """A channel subscribed to the "availability" group (in-memory layer)."""
    layer = memory_layer
    name = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(routing.AVAILABILITY_GROUP, name)
    yield name
    async_to_sync(layer.group_discard)(routing.AVAILABILITY_GROUP, name)


def test_no_agent_available_means_no_chat(topic_a, agent_a):
    assert routing.chat_available(topic_a) is False
    assert routing.chat_available("impots") is False


def test_available_agent_with_skill_and_free_chat_slot_opens_chat(topic_a, topic_b, agent_a):
    set_available(agent_a)
    routing.refresh_availability()
    assert routing.chat_available(topic_a) is True
    assert routing.chat_available(topic_b.slug) is False
    assert routing.availability_snapshot() == {"impots": True, "sante": False}


def test_unknown_topic_slug_is_not_available(topic_a, agent_a):
    set_available(agent_a)
    assert routing.chat_available("inconnu") is False


def test_agent_without_the_skill_does_not_count(topic_a, agent_a, skill_b):
    agent_a.agent_profile.skills.set([skill_b])
    set_available(agent_a)
    assert routing.compute_availability() == {"impots": False}


def test_paused_agent_does_not_count(topic_a, agent_a):
    presence = set_available(agent_a)
    presence.status = AgentPresence.Status.PAUSED
    presence.save()
    assert routing.compute_availability()["impots"] is False


def test_full_chat_capacity_closes_chat(topic_a, agent_a, citizen):
    set_available(agent_a, chat=1)
    assert routing.compute_availability()["impots"] is True
    case = make_case(citizen, topic_a, channel="chat")
    assert routing.route_case(case.pk) == agent_a.pk
    assert routing.compute_availability()["impots"] is False


def test_closed_service_shows_no_chat(topic_a, agent_a):
    set_available(agent_a)
    today = timezone.localdate()
    # Opening hours on another weekday only: closed now.
    OpeningHours.objects.create(
        service=topic_a.service, weekday=(today.weekday() + 3) % 7, start=time(8), end=time(9)
    )
    assert routing.compute_availability()["impots"] is False


def test_status_change_refreshes_cache_and_publishes_after_commit(
    topic_a, agent_a, listener, django_capture_on_commit_callbacks
):
    assert routing.availability_snapshot() == {"impots": False}
    with django_capture_on_commit_callbacks(execute=True):
        routing.set_status(agent_a, "disponible")
        assert cache.get(routing.AVAILABILITY_CACHE_KEY) == {"impots": False}
    assert cache.get(routing.AVAILABILITY_CACHE_KEY) == {"impots": True}
    message = async_to_sync(get_channel_layer().receive)(listener)
    assert message == {"type": "availability.update", "topics": {"impots": True}}

    with django_capture_on_commit_callbacks(execute=True):
        routing.set_status(agent_a, "en pause")
    assert routing.chat_available(topic_a) is False
    message = async_to_sync(get_channel_layer().receive)(listener)
    assert message == {"type": "availability.update", "topics": {"impots": False}}


def test_a_refresh_that_read_before_a_change_computes_again(
    topic_a, agent_a, monkeypatch, django_capture_on_commit_callbacks
):
    """Two refreshes at once: the one that read the data before the agent's pause committed
    stores its result after the pause's own refresh; it must not leave the chat open."""
    from routing import availability

    set_available(agent_a)
    routing.refresh_availability()
    assert routing.chat_available(topic_a) is True
    real = availability.compute_availability
    raced: list[bool] = []

    def read_then_race(*args, **kwargs):
        result = real(*args, **kwargs)
        if not raced:  # meanwhile, in another thread: the pause commits and refreshes
            raced.append(True)
            with django_capture_on_commit_callbacks(execute=True):
                routing.set_status(agent_a, "en pause")
            assert routing.chat_available(topic_a) is False
        return result

    monkeypatch.setattr(availability, "compute_availability", read_then_race)
    routing.refresh_availability()
    assert raced
    assert routing.chat_available(topic_a) is False
    assert routing.availability_snapshot() == {"impots": False}


def test_the_change_count_starts_again_when_evicted(topic_a, agent_a):
    from routing import availability

    cache.delete(availability.AVAILABILITY_EVENTS_KEY)
    availability.note_availability_change()
    availability.note_availability_change()
    assert cache.get(availability.AVAILABILITY_EVENTS_KEY) == 2


def test_unchanged_refresh_publishes_nothing(topic_a, agent_a, listener):
    routing.refresh_availability()
    layer = get_channel_layer()
    layer.channels.pop(listener, None)  # drop the first (cold-cache) publication
    routing.refresh_availability()
    assert listener not in layer.channels or layer.channels[listener].empty()


def test_closing_a_chat_frees_the_slot_and_reopens_chat(
    topic_a, agent_a, citizen, django_capture_on_commit_callbacks
):
    from contactcenter.services import change_status

    set_available(agent_a, chat=1)
    case = make_case(citizen, topic_a, channel="chat")
    with django_capture_on_commit_callbacks(execute=True):
        routing.route_case(case.pk)
    assert routing.chat_available(topic_a) is False
    case.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        change_status(case, Case.Status.CLOSED, actor=agent_a)
    assert routing.chat_available(topic_a) is True


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_api_returns_snapshot_for_logged_in_users(client_as, citizen, topic_a, agent_a, client):
    set_available(agent_a)
    response = client_as(citizen).get("/api/routing/availability/")
    assert response.status_code == 200
    assert response.json() == {"topics": {"impots": True}}
    response = client_as(citizen).get("/api/routing/availability/?topic=impots")
    assert response.json() == {"topics": {"impots": True}}
    response = client_as(citizen).get("/api/routing/availability/?topic=nope")
    assert response.status_code == 400
    assert "topic" in response.json()["errors"]
    assert client.get("/api/routing/availability/").status_code in (401, 403)
