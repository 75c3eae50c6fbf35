"""Every websocket: rate limit (4429), cap on open sockets per person (4408), and the tie to the
login session (4401 on logout, password change, deactivation, expiry). Through the full ASGI
stack (origin check, session cookie, routing), as a browser reaches it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from importlib import import_module

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

import routing
from contactcenter import sockets
from tests.conftest import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = b"http://testserver"


@pytest.fixture(autouse=True)
def _memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


class SessionCommunicator(WebsocketCommunicator):
    """A communicator that remembers the session it connected with."""

    session_key = ""


async def connect(
    path: str, session_key: str
) -> tuple[SessionCommunicator, bool, int | str | None]:
    from contactcenter.asgi import application

    headers = [(b"origin", ORIGIN), (b"cookie", f"sessionid={session_key}".encode())]
    comm = SessionCommunicator(application, path, headers=headers)
    connected, code = await comm.connect()
    return comm, connected, code


async def open_for(path: str, user, session_key: str | None = None):
    key = session_key or await database_sync_to_async(session_cookie)(user)
    comm, connected, code = await connect(path, key)
    assert connected, f"{path} refused ({code})"
    comm.session_key = key
    return comm


async def closed_with(comm, timeout: float = 3.0) -> int:
    for _ in range(2000):
        output = await comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")
    raise AssertionError("socket not closed")


def counting(monkeypatch, module, name) -> list:
    calls: list = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


# --- rate limits ----------------------------------------------------------------------------------


async def test_flood_of_availability_snapshots_is_cut_off_with_4429(citizen, monkeypatch):
    comm = await open_for("/ws/availability/", citizen)
    assert (await comm.receive_json_from())["type"] == "availability.snapshot"
    snapshots = counting(monkeypatch, routing, "availability_snapshot")
    for _ in range(300):
        await comm.send_json_to({"type": "snapshot"})
    assert await closed_with(comm) == sockets.CLOSE_FLOOD
    limit = sockets.limits("availability")["frames"]
    assert len(snapshots) == limit  # 300 frames, 5 queries
    await comm.disconnect()


async def test_flood_of_presence_heartbeats_is_cut_off_with_4429(agent_a, monkeypatch):
    comm = await open_for("/ws/presence/", agent_a)
    assert (await comm.receive_json_from())["type"] == "presence.status"
    beats = counting(monkeypatch, routing, "heartbeat")
    for _ in range(300):
        await comm.send_json_to({"type": "heartbeat"})
    assert await closed_with(comm) == sockets.CLOSE_FLOOD
    assert len(beats) == sockets.limits("presence")["frames"]  # 300 frames, 3 writes
    await comm.disconnect()


async def test_frames_within_the_rate_are_answered(citizen, settings):
    settings.WEBSOCKET_LIMITS = {"availability": {"frames": 2, "per": 0.3}}
    comm = await open_for("/ws/availability/", citizen)
    await comm.receive_json_from()
    for _ in range(3):
        await comm.send_json_to({"type": "snapshot"})
        await comm.send_json_to({"type": "snapshot"})
        for _ in range(2):
            assert (await comm.receive_json_from())["type"] == "availability.snapshot"
        await asyncio.sleep(0.35)
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


def test_rate_limiter_counts_refusals_until_flooding():
    limiter = sockets.RateLimiter(limit=2, window=1.0)
    assert limiter.allow(now=0.0) and limiter.allow(now=0.1)
    refused = [limiter.allow(now=0.2 + n / 1000) for n in range(sockets.FLOOD_REFUSALS)]
    assert not any(refused)
    assert limiter.flooding(now=0.5)
    assert not limiter.flooding(now=0.2 + sockets.FLOOD_WINDOW + 0.1)  # refusals age out


# --- connection caps ------------------------------------------------------------------------------


async def test_one_socket_over_the_cap_closes_with_4408_and_a_freed_slot_is_reused(
    citizen, settings
):
    settings.WEBSOCKET_LIMITS = {"availability": {"connections": 3}}
    held = [await open_for("/ws/availability/", citizen) for _ in range(3)]
    for comm in held:
        await comm.receive_json_from()
    extra = await open_for("/ws/availability/", citizen)
    assert await closed_with(extra) == sockets.CLOSE_TOO_MANY_SOCKETS
    await extra.disconnect()
    await held[0].disconnect()
    again = await open_for("/ws/availability/", citizen)
    assert (await again.receive_json_from())["type"] == "availability.snapshot"
    for comm in (*held[1:], again):
        await comm.disconnect()
    assert not [key for key in range(3) if cache.get(f"ws-lease:availability:{citizen.pk}:{key}")]


async def test_cap_is_per_person_and_per_kind(citizen, citizen2, agent_a, settings):
    settings.WEBSOCKET_LIMITS = {"availability": {"connections": 1}, "presence": {"connections": 1}}
    mine = await open_for("/ws/availability/", citizen)
    other = await open_for("/ws/availability/", citizen2)
    agent_availability = await open_for("/ws/availability/", agent_a)
    agent_presence = await open_for("/ws/presence/", agent_a)
    for comm in (mine, other, agent_availability):
        assert (await comm.receive_json_from())["type"] == "availability.snapshot"
    assert (await agent_presence.receive_json_from())["type"] == "presence.status"
    for comm in (mine, other, agent_availability, agent_presence):
        await comm.disconnect()


async def test_lease_of_a_dead_process_expires():
    lease = sockets.ConnectionLease("chat", 7, "process-that-dies")
    assert await lease.acquire(cap=1, ttl=0.3)
    assert not await sockets.ConnectionLease("chat", 7, "other").acquire(cap=1, ttl=10)
    await asyncio.sleep(0.5)  # never released nor renewed
    assert await sockets.ConnectionLease("chat", 7, "other").acquire(cap=1, ttl=10)


# --- the login session ----------------------------------------------------------------------------


def logout(session_key: str) -> None:
    client = Client()
    client.cookies["sessionid"] = session_key
    response = client.post("/deconnexion/")
    assert response.status_code == 302


SOCKETS = [
    ("/ws/availability/", "citizen", "availability.snapshot"),
    ("/ws/presence/", "agent_a", "presence.status"),
    ("/ws/tchat/agent/", "agent_a", "desk"),
]


@pytest.mark.parametrize("path,persona,first", SOCKETS)
async def test_logout_closes_the_sessions_sockets_with_4401(path, persona, first, citizen, agent_a):
    user = {"citizen": citizen, "agent_a": agent_a}[persona]
    comm = await open_for(path, user)
    assert (await comm.receive_json_from())["type"] == first
    other_session = await open_for(path, user)  # another browser of the same person
    await other_session.receive_json_from()
    await sync_to_async(logout)(comm.session_key)
    assert await closed_with(comm) == sockets.CLOSE_SESSION_ENDED
    assert await other_session.receive_nothing(timeout=0.3)
    await comm.disconnect()
    await other_session.disconnect()
    layer = get_channel_layer()
    assert layer.groups.get(sockets.user_group(user.pk), {}) == {}


def test_logout_ends_the_session_in_the_store_before_telling_its_sockets(
    client, citizen, monkeypatch, settings
):
    """A tab whose socket closes on logout reloads at once: by then the session must already
    be gone, or the reloaded page would still be logged in and its new sockets refused."""
    client.force_login(citizen)
    key = client.session.session_key
    store = import_module(settings.SESSION_ENGINE).SessionStore
    seen: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        sockets,
        "close_session_sockets",
        lambda user_id, session_key, reason: seen.append((reason, store().exists(session_key))),
    )
    assert client.post("/deconnexion/").status_code == 302
    assert seen == [("logout", False)]
    assert not store().exists(key)


async def test_logout_closes_the_cobrowse_citizen_socket(citizen):
    comm = await open_for("/ws/cobrowse/citizen/", citizen)
    await sync_to_async(logout)(comm.session_key)
    assert await closed_with(comm) == sockets.CLOSE_SESSION_ENDED
    await comm.disconnect()


async def test_password_change_closes_every_socket_of_the_person(citizen):
    first = await open_for("/ws/availability/", citizen)
    second = await open_for("/ws/availability/", citizen)
    for comm in (first, second):
        await comm.receive_json_from()

    def change_password():
        citizen.set_password("un-autre-mot-de-passe-2026")
        citizen.save()

    await database_sync_to_async(change_password)()
    assert await closed_with(first) == sockets.CLOSE_SESSION_ENDED
    assert await closed_with(second) == sockets.CLOSE_SESSION_ENDED
    for comm in (first, second):
        await comm.disconnect()


async def test_deactivating_the_account_closes_its_sockets(citizen, agent_a):
    comm = await open_for("/ws/availability/", agent_a)
    untouched = await open_for("/ws/availability/", citizen)
    for socket in (comm, untouched):
        await socket.receive_json_from()

    def deactivate():
        agent_a.is_active = False
        agent_a.save(update_fields=["is_active"])

    await database_sync_to_async(deactivate)()
    assert await closed_with(comm) == sockets.CLOSE_SESSION_ENDED
    assert await untouched.receive_nothing(timeout=0.3)
    await comm.disconnect()
    await untouched.disconnect()


async def test_saving_other_fields_leaves_sockets_open(citizen):
    comm = await open_for("/ws/availability/", citizen)
    await comm.receive_json_from()

    def rename():
        citizen.first_name = "Camille-Anne"
        citizen.save()

    await database_sync_to_async(rename)()
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


@pytest.mark.parametrize("ending", ["expired", "deleted", "password", "inactive"])
async def test_periodic_check_closes_a_socket_whose_session_ended(citizen, settings, ending):
    settings.WEBSOCKET_SESSION_RECHECK_SECONDS = 0.2
    comm = await open_for("/ws/availability/", citizen)
    await comm.receive_json_from()

    def end_session():
        # Through the configured store (cached_db with Redis: its cache copy too).
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=comm.session_key)
        if ending == "expired":
            store.load()
            store.set_expiry(timezone.now() - timedelta(seconds=1))
            store.save()
            assert not Session.objects.filter(
                session_key=comm.session_key, expire_date__gt=timezone.now()
            ).exists()
        elif ending == "deleted":
            store.delete()
        else:
            # Behind the signals' back (a bulk update): only the periodic check can see it.
            changes = (
                {"password": "md5$autre$0123456789abcdef"}
                if ending == "password"
                else {"is_active": False}
            )
            type(citizen).objects.filter(pk=citizen.pk).update(**changes)

    await database_sync_to_async(end_session)()
    assert await closed_with(comm, timeout=2.0) == sockets.CLOSE_SESSION_ENDED
    await comm.disconnect()


async def test_periodic_check_keeps_a_live_session_open(citizen, settings):
    settings.WEBSOCKET_SESSION_RECHECK_SECONDS = 0.1
    comm = await open_for("/ws/availability/", citizen)
    await comm.receive_json_from()
    assert await comm.receive_nothing(timeout=0.6)
    await comm.send_json_to({"type": "snapshot"})
    assert (await comm.receive_json_from())["type"] == "availability.snapshot"
    await comm.disconnect()


def test_recheck_interval_is_at_most_a_minute(settings):
    settings.WEBSOCKET_SESSION_RECHECK_SECONDS = 600
    assert sockets.recheck_seconds() == 60


# --- timers -----------------------------------------------------------------------------------


async def test_socket_timer_runs_its_job_again_after_the_delay_it_returns_until_none():
    runs: list[float] = []

    async def job():
        runs.append(asyncio.get_running_loop().time())
        return 0.02 if len(runs) < 3 else None

    timer = sockets.SocketTimer(job)
    timer.start(0.02)
    assert timer.active and timer.task is None  # waiting: a timer, no task
    await asyncio.sleep(0.3)
    assert len(runs) == 3 and not timer.active


async def test_socket_timer_restart_moves_the_next_run_and_stop_cancels_a_run_under_way():
    started, finished = [], []

    async def job():
        started.append(1)
        await asyncio.sleep(0.2)
        finished.append(1)
        return 0.01

    timer = sockets.SocketTimer(job)
    timer.start(0.05)
    timer.start(0.3)  # moved: nothing at 0.05 s
    await asyncio.sleep(0.15)
    assert started == []
    await asyncio.sleep(0.25)
    assert started == [1] and timer.task is not None
    timer.stop()
    await asyncio.sleep(0.3)
    assert finished == [] and not timer.active


async def test_socket_timer_logs_a_failing_job_and_stops(caplog):
    calls: list[int] = []

    async def job():
        calls.append(1)
        raise RuntimeError("boom")

    timer = sockets.SocketTimer(job)
    with caplog.at_level("ERROR", logger="guichet.sockets"):
        timer.start(0)
        await asyncio.sleep(0.1)
    assert calls == [1] and not timer.active
    assert "failed" in caplog.text and "boom" in caplog.text


async def test_an_idle_socket_holds_no_task_of_its_own(citizen):
    before = len(asyncio.all_tasks())
    comm = await open_for("/ws/availability/", citizen)
    await comm.receive_json_from()
    # The consumer's task and its two pending receives (Channels); the session check waits
    # on a timer (a sleeping task before).
    assert len(asyncio.all_tasks()) - before == 3
    await comm.disconnect()
