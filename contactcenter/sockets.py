"""What every websocket consumer shares: a frame rate limit per socket, a cap on the sockets one
person may hold open, and the tie between a socket and the login session that opened it.

``SocketGuard`` is mixed into every consumer (chat, chat desk, availability, presence,
co-browsing citizen and agent), before ``AsyncWebsocketConsumer``. The consumer names its kind
(``socket_kind``), a key of ``WEBSOCKET_LIMITS``. The close codes are documented in
docs/realtime.md:

- 4429: the socket kept sending after its frames were refused (``FLOOD_REFUSALS`` refusals
  within ``FLOOD_WINDOW`` seconds). A refused frame is dropped (``frame_refused`` may answer it).
- 4408: the person already holds the most sockets of this kind. Each socket holds a lease in
  the shared cache (Redis in production, so the cap counts every ASGI process), renewed while it
  lives, released on disconnect and expiring by itself when a process dies.
- 4401: the session ended. Every socket joins a group for its user: logout closes the sockets
  of the session (the message names it, by a digest of its key); a password change, a
  deactivation, a deletion or ``end_user_sessions`` (a second-factor reset) closes all the
  user's sockets. Every
  ``WEBSOCKET_SESSION_RECHECK_SECONDS`` (60 s at most) a socket also reloads its session and
  checks that it still exists, has not expired and still matches the user's session auth hash
  (password, session generation) and active flag (session expiry has no event; a lost layer
  message).

What a socket does now and then (the session check; the chat's queue position and inactivity
clock) runs on a ``SocketTimer``: a timer of the event loop, and a task only while the job runs,
so that an idle socket holds no task of its own (bench/RESULTS.md, ``chat_load.py``: memory per
idle socket).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.auth import get_user
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache

from contactcenter.metrics import WEBSOCKETS_OPEN

logger = logging.getLogger("guichet.sockets")

CLOSE_SESSION_ENDED = 4401
CLOSE_TOO_MANY_SOCKETS = 4408
CLOSE_FLOOD = 4429

# Frames allowed per socket ("frames" within "per" seconds, sliding window) and open sockets
# per person ("connections"), by kind of socket. WEBSOCKET_LIMITS overrides any of them.
DEFAULT_LIMITS: dict[str, dict[str, float]] = {
    # One socket per conversation and per tab; agents and observing supervisors hold several.
    "chat": {"frames": 5, "per": 1.0, "connections": 30},
    "chat_desk": {"frames": 5, "per": 1.0, "connections": 10},
    # The page only listens; a "snapshot" request is a query.
    "availability": {"frames": 5, "per": 10.0, "connections": 10},
    # A heartbeat every 20 s is a write.
    "presence": {"frames": 3, "per": 10.0, "connections": 10},
    # The recorder sends one batch per 40 ms at most, a snapshot in up to 16 chunks at once.
    "cobrowse_citizen": {"frames": 60, "per": 1.0, "connections": 10},
    # Pointer messages, about 33 per second while the agent moves the mouse.
    "cobrowse_agent": {"frames": 60, "per": 1.0, "connections": 5},
    # Visio signalling: a burst of ICE candidates when a call (re)connects, captions typed live.
    "visio": {"frames": 40, "per": 1.0, "connections": 5},
}
FLOOD_REFUSALS = 20  # refused frames within FLOOD_WINDOW before the socket is closed
FLOOD_WINDOW = 10.0


def limits(kind: str) -> dict[str, float]:
    return {**DEFAULT_LIMITS[kind], **getattr(settings, "WEBSOCKET_LIMITS", {}).get(kind, {})}


def recheck_seconds() -> float:
    return min(60.0, float(getattr(settings, "WEBSOCKET_SESSION_RECHECK_SECONDS", 60)))


def lease_seconds() -> float:
    """A lease outlives three rechecks (each renews it): a dead process frees its slots then."""
    return 3 * recheck_seconds() + 5


def session_digest(session_key: str) -> str:
    # The session key is a credential: layer messages (through Redis) carry a digest of it.
    return hashlib.sha256(session_key.encode()).hexdigest()[:40]


def user_group(user_id: int) -> str:
    return f"ws-user-{user_id}"


def close_session_sockets(user_id: int, session_key: str, reason: str) -> None:
    """Close the sockets of one login session (the person's other sessions keep theirs).

    They hear it in the person's group, which every socket of the person joins anyway: a group
    per session too would cost each socket one more subscription (memory per socket)."""
    _revoke(user_group(user_id), reason, session_digest(session_key))


def close_user_sockets(user_id: int, reason: str) -> None:
    _revoke(user_group(user_id), reason)


def _revoke(group: str, reason: str, session: str = "") -> None:
    # Called from signal handlers: a channel layer that is down must not break a logout or an
    # admin's save. The sockets then close at their next session check.
    message = {"type": "socket.revoked", "reason": reason}
    if session:
        message["session"] = session
    try:
        layer = get_channel_layer()
        assert layer is not None  # settings always configure CHANNEL_LAYERS
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("sockets: could not reach group %s", group)


class RateLimiter:
    """At most ``limit`` frames per ``window`` seconds (sliding window); remembers refusals so
    that a client that keeps sending regardless can be told apart (``flooding``).

    The times are kept in lists, oldest first: every socket holds a limiter, and a deque
    allocates a block of 64 slots (~0.75 KiB) even when empty."""

    def __init__(self, limit: float = 5, window: float = 1.0):
        self.limit, self.window = int(limit), float(window)
        self.stamps: list[float] = []
        self.refusals: list[float] = []

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        _forget_older(self.stamps, now, self.window)
        if len(self.stamps) >= self.limit:
            self.refusals.append(now)
            return False
        self.stamps.append(now)
        return True

    def flooding(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        _forget_older(self.refusals, now, FLOOD_WINDOW)
        return len(self.refusals) >= FLOOD_REFUSALS


def _forget_older(stamps: list[float], now: float, window: float) -> None:
    """Drop from the front of ``stamps`` the times ``window`` seconds old or more."""
    stale = 0
    while stale < len(stamps) and now - stamps[stale] >= window:
        stale += 1
    if stale:
        del stamps[:stale]


class ConnectionLease:
    """One of the ``cap`` slots of a person for a kind of socket, held in the shared cache.

    A slot is a cache key taken with ``add`` (atomic: set only if absent), so two processes
    never take the same one; it carries an expiry, renewed while the socket lives.
    """

    def __init__(self, kind: str, user_id: int, token: str):
        self.prefix = f"ws-lease:{kind}:{user_id}:"
        self.token = token
        self.key: str | None = None

    async def acquire(self, cap: float, ttl: float) -> bool:
        for slot in range(int(cap)):
            key = f"{self.prefix}{slot}"
            if await cache.aadd(key, self.token, timeout=ttl):
                self.key = key
                return True
        return False

    async def renew(self, ttl: float) -> None:
        if self.key and not await cache.atouch(self.key, timeout=ttl):
            # Expired meanwhile (e.g. the event loop was stalled): take it back if still free.
            await cache.aadd(self.key, self.token, timeout=ttl)

    async def release(self) -> None:
        key, self.key = self.key, None
        if key and await cache.aget(key) == self.token:
            await cache.adelete(key)


class SocketTimer:
    """Runs ``job`` (a coroutine function) ``delay`` seconds after ``start(delay)``, then again
    after the delay the job returns, until it returns None or ``stop()`` is called.

    While it waits, a socket's timer is an entry in the event loop's timer heap (one structure
    for every socket of the process: ~0.5 KiB each); the job runs in a task that ends with it.
    A task sleeping in a loop instead kept, for the socket's whole life, the task, its coroutine
    frame and the sleep's future. ``start`` again moves the next run (cancelling a run under
    way); a job that raises is logged and not run again.
    """

    __slots__ = ("handle", "job", "task")

    def __init__(self, job: Callable[[], Awaitable[float | None]]):
        self.job = job
        self.handle: asyncio.TimerHandle | None = None
        self.task: asyncio.Task | None = None

    @property
    def active(self) -> bool:
        return self.handle is not None or self.task is not None

    def start(self, delay: float) -> None:
        self.stop()
        self.handle = asyncio.get_running_loop().call_later(max(0.0, delay), self._fire)

    def stop(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.cancel()
        task, self.task = self.task, None
        if task is not None:
            task.cancel()

    def _fire(self) -> None:
        self.handle = None
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            delay = await self.job()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("sockets: %s failed", getattr(self.job, "__qualname__", self.job))
            delay = None
        if self.task is not asyncio.current_task():
            return  # stopped or restarted meanwhile
        self.task = None
        if delay is not None:
            self.start(delay)


async def session_still_valid(scope) -> bool:
    """Reload the socket's session from the session store (never the copy read at connect):
    it must still exist, not have expired, and name the same user with a matching auth hash
    (the password did not change) through a backend that still accepts them (active)."""
    session = scope.get("session")
    user = scope.get("user")
    if session is None or user is None:
        return True  # no session middleware (tests building the scope by hand): nothing to check
    key = session.session_key
    if not key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    # get_user reads the scope's session only.
    current = await get_user({"session": store})  # type: ignore[typeddict-item]
    return bool(current.is_authenticated and current.pk == user.pk)


class SocketGuard(AsyncWebsocketConsumer):
    """Mixin for ``AsyncWebsocketConsumer`` subclasses: rate limit, connection cap, session tie.

    A consumer may override ``frame_refused`` (what to answer a frame over the rate; by default
    nothing) and ``close_socket`` (to go through its own closing path).
    """

    socket_kind = ""
    guard_handlers = frozenset({"socket_revoked"})
    socket_closing = False
    frame_limiter: RateLimiter | None = None
    socket_lease: ConnectionLease | None = None
    guard_group = ""
    socket_timers: tuple[SocketTimer, ...] = ()

    async def __call__(self, scope, receive, send):
        try:
            return await super().__call__(scope, receive, send)
        finally:
            # Also when the consumer died of an exception (disconnect never ran).
            await self.release_guard()

    async def websocket_connect(self, message):
        config = limits(self.socket_kind)
        self.frame_limiter = RateLimiter(config["frames"], config["per"])
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            lease = ConnectionLease(self.socket_kind, user.pk, self.channel_name)
            if not await lease.acquire(config["connections"], lease_seconds()):
                # Accept first: a close during the handshake reaches the browser as a bare 403.
                await self.accept()
                await self.close_socket(CLOSE_TOO_MANY_SOCKETS, "too many sockets")
                return
            self.socket_lease = lease
            WEBSOCKETS_OPEN.labels(self.socket_kind).inc()
            self.guard_group = user_group(user.pk)
            await self.channel_layer.group_add(self.guard_group, self.channel_name)
            # Spread the checks of sockets opened together (a page load, a server restart).
            self.new_timer(self.recheck_session).start(recheck_seconds() * random.uniform(0.5, 1))
        await super().websocket_connect(message)

    async def websocket_receive(self, message):
        if self.socket_closing or self.frame_limiter is None:
            return
        if not self.frame_limiter.allow():
            if self.frame_limiter.flooding():
                return await self.close_socket(CLOSE_FLOOD, "too many frames")
            return await self.frame_refused(message)
        await super().websocket_receive(message)

    async def websocket_disconnect(self, message):
        try:
            await super().websocket_disconnect(message)
        finally:
            await self.release_guard()

    async def release_guard(self) -> None:
        timers, self.socket_timers = self.socket_timers, ()
        for timer in timers:
            timer.stop()
        group, self.guard_group = self.guard_group, ""
        if group:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # the layer is down: the membership expires by itself
                logger.exception("sockets: could not leave %s", group)
        lease, self.socket_lease = self.socket_lease, None
        if lease is not None:
            WEBSOCKETS_OPEN.labels(self.socket_kind).dec()
            try:
                await lease.release()
            except Exception:  # the cache is down: the lease expires by itself
                logger.exception("sockets: could not release a %s lease", self.socket_kind)

    def new_timer(self, job: Callable[[], Awaitable[float | None]]) -> SocketTimer:
        """A ``SocketTimer`` of this socket, stopped when the socket ends (``release_guard``,
        also after an exception)."""
        timer = SocketTimer(job)
        self.socket_timers = (*self.socket_timers, timer)
        return timer

    async def recheck_session(self) -> float | None:
        """One round of the session check (a socket timer): renew the lease, close the
        socket if its session ended; returns the delay until the next round."""
        try:
            if self.socket_lease is not None:
                await self.socket_lease.renew(lease_seconds())
            if not await session_still_valid(self.scope):
                await self.close_socket(CLOSE_SESSION_ENDED, "session ended")
                return None
        except asyncio.CancelledError:
            raise
        except Exception:  # keep the socket; the next round checks again
            logger.exception("sockets: session check failed on %s", self.scope.get("path"))
        return recheck_seconds()

    async def frame_refused(self, message) -> None:
        """A frame over the rate limit was dropped; consumers may tell the client."""

    async def close_socket(self, code: int, reason: str) -> None:
        if self.socket_closing:
            return
        self.socket_closing = True
        user = self.scope.get("user")
        logger.warning(
            "socket closed: code=%s reason=%s user=%s path=%s",
            code,
            reason,
            getattr(user, "pk", None),
            self.scope.get("path"),
        )
        await self.close(code=code)

    async def socket_revoked(self, event) -> None:
        if event.get("session"):  # one session's sockets only
            session = self.scope.get("session")
            key = session.session_key if session is not None else None
            if not key or session_digest(key) != event["session"]:
                return
        await self.close_socket(CLOSE_SESSION_ENDED, event.get("reason") or "session ended")


# --- what ends a session's sockets (connected in ContactcenterConfig.ready) ---------------------

CLOSING_FIELDS = frozenset({"password", "is_active"})


def end_user_sessions(user_id: int, reason: str) -> None:
    """End every login session of the person, in every browser and process: their session
    auth hash changes (``User.session_generation``), so each session is refused at its next
    request, and their open websockets close now (4401). For what leaves the password as it
    is: a second-factor reset, a deactivation (a password change already does this)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.db.models import F

    get_user_model().objects.filter(pk=user_id).update(
        session_generation=F("session_generation") + 1
    )
    transaction.on_commit(lambda: close_user_sockets(user_id, reason))


def on_logged_out(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is None or not session.session_key:
        return
    key = session.session_key
    if user is not None and user.pk is not None:  # anonymous sockets join no group
        # Django flushes the session only after this signal. End it in the store first: a tab
        # whose socket closes (4401) reloads at once and must meet the login page, not a
        # session still alive for a few milliseconds (its new sockets would then be refused
        # without a code, and the reload guard would keep the tab where it is).
        session.delete()
        close_session_sockets(user.pk, key, "logout")


def on_user_pre_save(sender, instance, update_fields=None, **kwargs) -> None:
    """Note whether this save changes the password or deactivates the account (one query,
    skipped for saves that name other fields, such as the login's ``last_login``)."""
    instance.closes_sockets = instance.deactivated = False
    if instance.pk is None or (update_fields is not None and not CLOSING_FIELDS & update_fields):
        return
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    instance.deactivated = before["is_active"] and not instance.is_active
    instance.closes_sockets = before["password"] != instance.password or instance.deactivated


def on_user_post_save(sender, instance, **kwargs) -> None:
    from django.db import transaction

    if getattr(instance, "deactivated", False):
        # Also raise the session generation: reactivating the account must not revive the
        # sessions it had (the backend only refuses them while it is inactive).
        instance.closes_sockets = instance.deactivated = False
        end_user_sessions(instance.pk, "account deactivated")
        instance.refresh_from_db(fields=["session_generation"])
    elif getattr(instance, "closes_sockets", False):
        instance.closes_sockets = False
        user_id = instance.pk
        transaction.on_commit(lambda: close_user_sockets(user_id, "credentials changed"))


def on_user_deleted(sender, instance, **kwargs) -> None:
    from django.db import transaction

    user_id = instance.pk
    transaction.on_commit(lambda: close_user_sockets(user_id, "account deleted"))


def connect_signals() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.signals import user_logged_out
    from django.db.models.signals import post_delete, post_save, pre_save

    user_model = get_user_model()
    user_logged_out.connect(on_logged_out, dispatch_uid="sockets.logout")
    pre_save.connect(on_user_pre_save, sender=user_model, dispatch_uid="sockets.user_pre_save")
    post_save.connect(on_user_post_save, sender=user_model, dispatch_uid="sockets.user_post_save")
    post_delete.connect(on_user_deleted, sender=user_model, dispatch_uid="sockets.user_deleted")
