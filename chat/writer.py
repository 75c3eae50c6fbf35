"""The process's chat message writer: what the sockets of one ASGI process send is stored in
batches, one transaction each (``services.post_messages``), instead of one transaction per
message.

A socket's ``message`` frame becomes a ``Draft`` queued here; the writer flushes the queue
``CHAT_WRITE_DELAY_MS`` milliseconds after the first message arrives (while a flush runs, the
next messages wait for it and go together), at most ``CHAT_WRITE_BATCH_MAX`` messages at a time,
one flush at a time, in arrival order. Each sender waits for its own outcome, which exists only
once the batch has committed: the acknowledgement and the broadcast still follow the commit, so
a message the sender saw acknowledged is stored, and a message whose batch failed was not (the
browser resends it with the same ``client_id``, stored once).

A sender that goes away while its message waits does not take it out of the batch: it is
stored, and its peers get it on their next ``sync`` (as when a process dies between commit and
broadcast). ``CHAT_WRITE_BATCH_MAX = 1`` stores each message in its own transaction
(``post_message``), as before batching.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from django.conf import settings

from .services.batch import Draft, Outcome

logger = logging.getLogger("guichet.chat")


def batch_max() -> int:
    return max(1, int(getattr(settings, "CHAT_WRITE_BATCH_MAX", 100)))


def delay_seconds() -> float:
    return max(0.0, float(getattr(settings, "CHAT_WRITE_DELAY_MS", 2))) / 1000


class MessageWriter:
    """One per event loop (``writer()``)."""

    def __init__(self) -> None:
        self.queue: list[tuple[Draft, asyncio.Future[Outcome]]] = []
        self.flusher: asyncio.Task[None] | None = None

    async def post(self, draft: Draft) -> Outcome:
        """Queue ``draft``; its outcome once its batch has committed (or failed)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.queue.append((draft, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        from .consumers import db  # the consumers' database_sync_to_async wrapper
        from .services import post_messages

        delay = delay_seconds()
        while self.queue:
            if delay:
                await asyncio.sleep(delay)
            size = batch_max()
            batch, self.queue = self.queue[:size], self.queue[size:]
            drafts = [draft for draft, _future in batch]
            try:
                outcomes: list[Outcome] = await db(post_messages)(drafts)
            except Exception as exc:  # noqa: BLE001 - nothing committed: every sender is told
                logger.exception("chat: a batch of %s messages failed", len(drafts))
                outcomes = [exc] * len(drafts)
            except BaseException as exc:  # cancelled (the process stops): nobody waits forever
                for _draft, future in batch + self.queue:
                    if not future.done():
                        future.set_exception(asyncio.CancelledError())
                self.queue = []
                raise exc
            for (_draft, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():  # the sender may have been cancelled meanwhile
                    future.set_result(outcome)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MessageWriter] = (
    weakref.WeakKeyDictionary()
)


def writer() -> MessageWriter:
    """The running event loop's writer."""
    loop = asyncio.get_running_loop()
    found = _writers.get(loop)
    if found is None:
        found = _writers[loop] = MessageWriter()
    return found
