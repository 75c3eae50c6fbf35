"""The production cache and channel layer on Redis, as ``contactcenter.settings`` configures them
with ``REDIS_URL``: Django's own ``RedisCache`` under the socket connection caps and the login
sessions (``cached_db``), and routing publishing from synchronous code (``async_to_sync``).

The test settings keep the memory cache for the rest of the suite; these tests put the production
``CACHES`` back, under a key prefix of their own. Skipped without REDIS_URL.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from importlib import import_module

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from django.urls import reverse

import routing
from contactcenter import settings as production
from contactcenter import sockets

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)"),
]

PASSWORD = "motdepasse-solide-2026"


@pytest.fixture
def redis_cache(settings):
    """The production cache settings, under a key prefix of this test (keys expire by
    themselves: ``clear()`` would flush the whole Redis database)."""
    settings.CACHES = {
        "default": {
            **production.CACHES["default"],
            "KEY_PREFIX": f"test-cache-{uuid.uuid4().hex[:8]}",
        }
    }
    return caches["default"]


def test_production_cache_is_djangos_redis_backend(redis_cache):
    assert production.CACHES["default"]["BACKEND"] == (
        "django.core.cache.backends.redis.RedisCache"
    )
    assert type(redis_cache) is RedisCache
    assert redis_cache.add("marker", 1, timeout=5) is True
    assert redis_cache.add("marker", 2, timeout=5) is False
    assert redis_cache.incr("marker") == 2
    redis_cache.set("snapshot", {"impots": True}, timeout=5)
    assert redis_cache.get_many(["marker", "snapshot"]) == {
        "marker": 2,
        "snapshot": {"impots": True},
    }
    assert redis_cache.touch("snapshot", timeout=5) is True
    redis_cache.delete_many(["marker", "snapshot"])
    assert redis_cache.get("marker") is None and redis_cache.get("snapshot") is None


async def test_socket_leases_cap_release_and_expire_on_redis(redis_cache):
    """The per-person socket cap (contactcenter.sockets) across processes: slots taken with
    ``aadd``, renewed with ``atouch``, released only by their holder, expiring by themselves."""
    first = sockets.ConnectionLease("chat", 7, "process-1")
    second = sockets.ConnectionLease("chat", 7, "process-2")
    assert await first.acquire(cap=2, ttl=10)
    assert await second.acquire(cap=2, ttl=10)
    assert first.key != second.key
    assert not await sockets.ConnectionLease("chat", 7, "process-3").acquire(cap=2, ttl=10)
    await first.renew(ttl=10)
    assert await redis_cache.aget(first.key) == "process-1"
    await first.release()
    third = sockets.ConnectionLease("chat", 7, "process-3")
    assert await third.acquire(cap=2, ttl=10)
    await second.release()
    await third.release()

    dying = sockets.ConnectionLease("chat", 8, "process-that-dies")
    assert await dying.acquire(cap=1, ttl=1)  # never released nor renewed
    assert not await sockets.ConnectionLease("chat", 8, "other").acquire(cap=1, ttl=10)
    await asyncio.sleep(1.5)
    other = sockets.ConnectionLease("chat", 8, "other")
    assert await other.acquire(cap=1, ttl=10)
    await other.release()


@pytest.mark.django_db
def test_login_lockout_and_session_on_the_redis_cache(redis_cache, citizen):
    """Five failures lock the account; a login's session is read back from Redis (cached_db)."""
    assert django_settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    client = Client()
    response = client.post(reverse("login"), {"username": citizen.email, "password": PASSWORD})
    assert response.status_code == 302
    store = import_module(django_settings.SESSION_ENGINE).SessionStore(
        session_key=client.session.session_key
    )
    assert redis_cache.get(store.cache_key)["_auth_user_id"] == str(citizen.pk)

    locked_out = Client()
    for _ in range(4):
        wrong = {"username": citizen.email, "password": "mauvais"}
        assert locked_out.post(reverse("login"), wrong).status_code == 200
    assert locked_out.post(reverse("login"), wrong).status_code == 429
    right = {"username": citizen.email, "password": PASSWORD}
    assert locked_out.post(reverse("login"), right).status_code == 429


@pytest.mark.parametrize("kind", ["pubsub", "list"])
async def test_group_send_from_sync_code_reaches_the_redis_layer(settings, kind):
    """``routing.group_send`` from a worker thread without an event loop (a Celery
    task, a view), several times in a row, and from sync code called from async code."""
    settings.CHANNEL_LAYERS = {
        "default": production.redis_channel_layer(
            os.environ["REDIS_URL"], f"test-publish-{uuid.uuid4().hex[:8]}", kind
        )
    }
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("agent-test", channel)
    try:
        for n in range(3):
            await asyncio.to_thread(routing.group_send, "agent-test", {"type": "t", "n": n})
        await sync_to_async(routing.group_send)("agent-test", {"type": "t", "n": 3})
        received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(4)]
        assert [message["n"] for message in received] == [0, 1, 2, 3]
    finally:
        await layer.group_discard("agent-test", channel)


async def test_long_lived_contexts_share_the_process_redis_connections(settings):
    """Each websocket consumer is an asyncio context of its own, and Django's cache handler
    gives each context its own cache object: with the production OPTIONS they share the
    process's pool (contactcenter/redis_pool.py) instead of each keeping a Redis connection
    open as long as the socket (bench/RESULTS.md, memory per idle socket)."""
    import redis

    name = f"test-pool-{uuid.uuid4().hex[:8]}"
    default = production.CACHES["default"]
    settings.CACHES = {
        "default": {
            **default,
            "KEY_PREFIX": name,
            "OPTIONS": {**default["OPTIONS"], "client_name": name},
        }
    }
    sockets_open = asyncio.Event()
    ready = 0

    async def socket(n: int) -> None:
        nonlocal ready
        # What a consumer does at connect: the session (cached_db) and its lease.
        assert await caches["default"].aadd(f"lease-{n}", n, timeout=10)
        ready += 1
        await sockets_open.wait()

    tasks = [asyncio.create_task(socket(n)) for n in range(20)]
    try:
        while ready < len(tasks):
            await asyncio.sleep(0.05)
        admin = redis.from_url(os.environ["REDIS_URL"])
        clients = await asyncio.to_thread(admin.client_list)
        admin.close()
        held = [c for c in clients if c.get("name") == name]
        assert 1 <= len(held) <= 2, f"{len(held)} Redis connections for 20 contexts"
    finally:
        sockets_open.set()
        await asyncio.gather(*tasks)
