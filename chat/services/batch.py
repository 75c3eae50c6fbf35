"""Storing many chat messages in one transaction (the websocket hot path, ``chat.writer``).

``post_messages`` stores what several sockets of one process sent within a few milliseconds, in
arrival order, with the same rules as ``post_message`` one by one: the sender must still be the
citizen of an open chat or the agent of an active chat assigned to them; each message takes the
next number of its conversation, gapless; a ``client_id`` already stored counts once.

Five round trips for the whole batch whatever its size (``BEGIN``, one ``SELECT ... FOR UPDATE``
of the conversations, one ``UPDATE`` of their counters and inactivity clocks — one per distinct
number of messages per conversation, usually one —, one multi-row ``INSERT``, ``COMMIT``)
instead of five per message. The conversations are locked in primary
key order, so two processes' batches cannot deadlock on each other.

When the batch transaction fails as a whole (a client id already stored: the unique constraint;
any other database error), it is rolled back and each message goes through ``post_message`` on
its own: nothing is half stored, nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Case as SqlCase
from django.db.models import DateTimeField, F, Value, When
from django.utils import timezone

from contactcenter.models import Case, User
from contactcenter.services import mark_first_response

from ..models import ChatMessage, Conversation
from .messages import Posted, check_body, check_client_id, message_payload, post_message, refusal

logger = logging.getLogger("guichet.chat")


@dataclass(frozen=True)
class Draft:
    """One message as a socket received it, not yet checked."""

    conversation_id: int
    sender: User
    body: Any
    client_id: Any


Outcome = Posted | Exception


def post_messages(drafts: list[Draft]) -> list[Outcome]:
    """Store ``drafts`` in order; for each, its ``Posted`` or the exception that refused it
    (``ValidationError``, ``DuplicateMessage``), as ``post_message`` would raise it."""
    outcomes: list[Outcome | None] = [None] * len(drafts)
    checked: list[tuple[int, Draft, str, str]] = []
    for index, draft in enumerate(drafts):
        try:
            body = check_body(draft.body)
            client_id = check_client_id(draft.client_id)
        except ValidationError as exc:
            outcomes[index] = exc
            continue
        checked.append((index, draft, body, client_id))
    if checked:
        try:
            with transaction.atomic():
                stored = _store(checked)
        except DatabaseError:
            # A resent client id (unique constraint), a lost connection...: one at a time.
            stored = {index: _one(draft) for index, draft, _body, _cid in checked}
        for index, outcome in stored.items():
            outcomes[index] = outcome
    return [o if o is not None else RuntimeError("message not handled") for o in outcomes]


def _one(draft: Draft) -> Outcome:
    try:
        return post_message(draft.conversation_id, draft.sender, draft.body, draft.client_id)
    except Exception as exc:  # noqa: BLE001 - handed to the sender's socket
        return exc


def _store(checked: list[tuple[int, Draft, str, str]]) -> dict[int, Outcome]:
    now = timezone.now()
    ids = sorted({draft.conversation_id for _i, draft, _b, _c in checked})
    rows = {
        row[0]: row
        for row in Conversation.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list(
            "pk",
            "status",
            "citizen_id",
            "agent_id",
            "last_seq",
            "answered_at",
            "case_id",
            "case__assigned_to_id",
        )
    }
    outcomes: dict[int, Outcome] = {}
    last_seq = {pk: row[4] for pk, row in rows.items()}
    agent_last: dict[int, bool] = {}  # conversation -> its last stored message is the agent's
    first_answers: dict[int, int | None] = {}  # conversation -> case, for the first answer
    messages: list[tuple[int, ChatMessage, User]] = []
    for index, draft, body, client_id in checked:
        sender = draft.sender
        kind = ChatMessage.Kind.CITIZEN if sender.is_citizen else ChatMessage.Kind.AGENT
        row = rows.get(draft.conversation_id)
        if row is None or not _may_write(row, sender, kind):
            outcomes[index] = refusal(row[1] if row else None, kind)
            continue
        pk = row[0]
        last_seq[pk] += 1
        agent_last[pk] = kind == ChatMessage.Kind.AGENT
        if kind == ChatMessage.Kind.AGENT and row[5] is None:
            first_answers[pk] = row[6]
        message = ChatMessage(
            conversation_id=pk,
            seq=last_seq[pk],
            client_id=client_id,
            kind=kind,
            sender=sender,
            body=body,
            created_at=now,
        )
        messages.append((index, message, sender))
    if not messages:
        return outcomes
    # The rows are locked: each counter moves by its number of new messages, one UPDATE per
    # distinct number (usually one: a message per conversation), so that the ORM builds the same
    # statement whatever the number of conversations (a CASE branch per conversation cost more
    # to build than the rest of the batch). The inactivity clock runs from the agent's message
    # when it is the conversation's last one, else it stops.
    idle = [pk for pk, agent_wrote_last in agent_last.items() if agent_wrote_last]
    idle_since = (
        SqlCase(When(pk__in=idle, then=Value(now)), default=None, output_field=DateTimeField())
        if idle
        else None
    )
    by_count: defaultdict[int, list[int]] = defaultdict(list)
    for pk in agent_last:
        by_count[last_seq[pk] - rows[pk][4]].append(pk)
    for count, pks in sorted(by_count.items()):
        Conversation.objects.filter(pk__in=pks).update(
            last_seq=F("last_seq") + count, idle_since=idle_since, inactivity_warned_at=None
        )
    if first_answers:
        Conversation.objects.filter(pk__in=first_answers).update(answered_at=now)
        for case_id in first_answers.values():
            if case_id is not None:
                mark_first_response(Case(pk=case_id), at=now)
    ChatMessage.objects.bulk_create([message for _i, message, _s in messages])
    for index, message, sender in messages:
        payload = message_payload(message, sender=sender, attachments=[])
        outcomes[index] = Posted(message=message, created=True, payload=payload)
    return outcomes


def _may_write(row: tuple[Any, ...], sender: User, kind: str) -> bool:
    """``post_message``'s conditional update, on the locked row."""
    _pk, status, citizen_id, agent_id, _seq, _answered, _case, assignee_id = row
    if kind == ChatMessage.Kind.CITIZEN:
        return bool(citizen_id == sender.pk and status in Conversation.OPEN_STATUSES)
    return bool(
        agent_id == sender.pk and status == Conversation.Status.ACTIVE and assignee_id == sender.pk
    )
