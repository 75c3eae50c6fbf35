"""Messages stored in batches (``services.post_messages``, ``chat.writer``): the same rules as
one by one, order kept, numbers gapless, and a batch that fails midway stores nothing twice."""

from __future__ import annotations

import asyncio

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from chat import services, writer
from chat.consumers import db
from chat.models import ChatMessage, Conversation
from contactcenter.models import Case

pytestmark = pytest.mark.django_db


def drafts_of(conversation, *items):
    return [services.Draft(conversation.pk, user, body, cid) for user, body, cid in items]


def stored(conversation) -> list[tuple[int, str]]:
    return list(
        ChatMessage.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("seq", "client_id")
    )


def test_a_batch_numbers_messages_in_arrival_order(live_chat, citizen, agent_a):
    start = Conversation.objects.get(pk=live_chat.pk).last_seq
    outcomes = services.post_messages(
        drafts_of(
            live_chat,
            (citizen, "Bonjour", "batch-000001"),
            (agent_a, "Bonjour, je regarde", "batch-000002"),
            (citizen, "Merci", "batch-000003"),
            (agent_a, "Voici la réponse", "batch-000004"),
        )
    )
    assert [o.message.seq for o in outcomes] == [start + 1, start + 2, start + 3, start + 4]
    assert [o.payload["client_id"] for o in outcomes] == [f"batch-00000{n}" for n in (1, 2, 3, 4)]
    assert outcomes[1].payload["author"] == agent_a.first_name
    assert stored(live_chat)[-4:] == [(start + n, f"batch-00000{n}") for n in (1, 2, 3, 4)]
    conversation = Conversation.objects.get(pk=live_chat.pk)
    assert conversation.last_seq == start + 4
    # The agent wrote last: the inactivity clock runs from then; the first answer is recorded.
    assert conversation.idle_since == outcomes[3].message.created_at
    assert conversation.answered_at == outcomes[1].message.created_at
    assert Case.objects.get(pk=live_chat.case_id).first_response_at == conversation.answered_at
    services.post_messages(drafts_of(live_chat, (citizen, "Je réponds", "batch-000005")))
    assert Conversation.objects.get(pk=live_chat.pk).idle_since is None


def test_a_batch_is_one_lock_one_update_one_insert_whatever_its_size(live_chat, citizen, agent_a):
    services.post_message(live_chat.pk, agent_a, "Bonjour", "first-00001")  # first answer
    items = [(citizen if n % 2 else agent_a, f"Ligne {n}", f"size-{n:06d}") for n in range(12)]
    with CaptureQueriesContext(connection) as queries:
        outcomes = services.post_messages(drafts_of(live_chat, *items))
    assert all(isinstance(o, services.Posted) for o in outcomes)
    statements = [q["sql"] for q in queries.captured_queries]
    kinds = [sql.split(None, 1)[0] for sql in statements if "SAVEPOINT" not in sql]
    assert [k for k in kinds if k not in ("BEGIN", "COMMIT")] == ["SELECT", "UPDATE", "INSERT"]
    if connection.vendor == "postgresql":  # the conversations locked, in key order
        select = next(sql for sql in statements if sql.startswith("SELECT"))
        assert 'FOR UPDATE OF "chat_conversation"' in select, select
        assert "ORDER BY 1 ASC" in select, select  # column 1: the conversation's id


def test_counters_of_several_chats_move_in_one_update_per_count(
    live_chat, citizen, citizen2, agent_a, start
):
    other = start(citizen2)
    first = {c.pk: c.last_seq for c in Conversation.objects.filter(pk__in=[live_chat.pk, other.pk])}
    one_each = drafts_of(live_chat, (citizen, "Un", "multi-000001")) + drafts_of(
        other, (citizen2, "Un", "multi-000002")
    )
    with CaptureQueriesContext(connection) as queries:
        outcomes = services.post_messages(one_each)
    updates = [q["sql"] for q in queries.captured_queries if 'SET "last_seq"' in q["sql"]]
    assert len(updates) == 1  # one message per chat: one statement for both counters
    assert [o.message.seq for o in outcomes] == [first[live_chat.pk] + 1, first[other.pk] + 1]
    uneven = drafts_of(
        live_chat, (citizen, "Deux", "multi-000003"), (agent_a, "Trois", "multi-000004")
    ) + drafts_of(other, (citizen2, "Deux", "multi-000005"))
    with CaptureQueriesContext(connection) as queries:
        outcomes = services.post_messages(uneven)
    updates = [q["sql"] for q in queries.captured_queries if 'SET "last_seq"' in q["sql"]]
    assert len(updates) == 2  # two numbers of messages (2 and 1): two statements
    assert [o.message.seq for o in outcomes] == [
        first[live_chat.pk] + 2,
        first[live_chat.pk] + 3,
        first[other.pk] + 2,
    ]
    after = {c.pk: c for c in Conversation.objects.filter(pk__in=[live_chat.pk, other.pk])}
    assert after[live_chat.pk].last_seq == first[live_chat.pk] + 3
    assert after[other.pk].last_seq == first[other.pk] + 2
    # The agent wrote last in the first chat only: its inactivity clock runs, the other's not.
    assert after[live_chat.pk].idle_since == outcomes[1].message.created_at
    assert after[other.pk].idle_since is None


def test_refused_messages_take_no_number(live_chat, citizen, citizen2, agent_a, agent_b):
    start = Conversation.objects.get(pk=live_chat.pk).last_seq
    outcomes = services.post_messages(
        drafts_of(
            live_chat,
            (citizen, "Un", "refuse-00001"),
            (citizen2, "Pas ma conversation", "refuse-00002"),
            (agent_b, "Pas mon tchat", "refuse-00003"),
            (citizen, "   ", "refuse-00004"),
            (citizen, "Mauvais identifiant", "x"),
            (agent_a, "Deux", "refuse-00005"),
        )
    )
    assert [getattr(o, "code", None) for o in outcomes[1:5]] == [
        "forbidden",
        "forbidden",
        "required",
        "invalid_client_id",
    ]
    assert all(isinstance(o, ValidationError) for o in outcomes[1:5])
    assert (outcomes[0].message.seq, outcomes[5].message.seq) == (start + 1, start + 2)
    missing = services.post_messages([services.Draft(999_999, citizen, "Bonjour", "nowhere-001")])
    assert missing[0].code == "not_found"


def test_a_resent_client_id_is_stored_once_and_the_rest_keeps_its_order(live_chat, citizen):
    first = services.post_message(live_chat.pk, citizen, "Déjà envoyé", "again-000001")
    outcomes = services.post_messages(
        drafts_of(
            live_chat,
            (citizen, "Nouveau", "again-000002"),
            (citizen, "Déjà envoyé", "again-000001"),
            (citizen, "Encore", "again-000003"),
        )
    )
    assert isinstance(outcomes[1], services.DuplicateMessage)
    assert outcomes[1].message.seq == first.message.seq
    seqs = [outcomes[0].message.seq, outcomes[2].message.seq]
    assert seqs == [first.message.seq + 1, first.message.seq + 2]
    assert ChatMessage.objects.filter(conversation=live_chat, client_id="again-000001").count() == 1


def test_a_batch_that_fails_before_commit_stores_nothing_and_a_resend_counts_once(
    live_chat, citizen, agent_a, monkeypatch
):
    """A crash between the counter update and the commit: nothing stays, not a number."""
    before = stored(live_chat)
    start = Conversation.objects.get(pk=live_chat.pk).last_seq
    items = [(citizen, "Un", "crash-000001"), (agent_a, "Deux", "crash-000002")]

    def crash(*args, **kwargs):
        raise RuntimeError("process killed")

    monkeypatch.setattr(ChatMessage.objects, "bulk_create", crash)
    with pytest.raises(RuntimeError):
        services.post_messages(drafts_of(live_chat, *items))
    assert stored(live_chat) == before
    assert Conversation.objects.get(pk=live_chat.pk).last_seq == start
    monkeypatch.undo()
    # The browsers resend the same client ids: stored once, in order, gapless.
    services.post_messages(drafts_of(live_chat, *items))
    services.post_messages(drafts_of(live_chat, *items))
    assert stored(live_chat) == [*before, (start + 1, "crash-000001"), (start + 2, "crash-000002")]


def test_a_database_error_midway_falls_back_to_one_message_at_a_time(
    live_chat, citizen, agent_a, monkeypatch
):
    start = Conversation.objects.get(pk=live_chat.pk).last_seq
    real = ChatMessage.objects.bulk_create
    calls = []

    def lost_connection(objs, *args, **kwargs):
        calls.append(len(objs))
        real(objs[:1], *args, **kwargs)  # one row written, then the error: rolled back
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ChatMessage.objects, "bulk_create", lost_connection)
    items = [(citizen, "Un", "fall-0000001"), (agent_a, "Deux", "fall-0000002")]
    outcomes = services.post_messages(drafts_of(live_chat, *items))
    assert calls == [2]
    assert [o.message.seq for o in outcomes] == [start + 1, start + 2]
    assert stored(live_chat)[-2:] == [(start + 1, "fall-0000001"), (start + 2, "fall-0000002")]
    assert Conversation.objects.get(pk=live_chat.pk).last_seq == start + 2


# --- the writer: the sockets of a process share batches ------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_writer_stores_concurrent_messages_in_one_batch_in_order(
    live_chat, citizen, agent_a, monkeypatch, settings
):
    settings.CHAT_WRITE_DELAY_MS = 20
    batches = []
    real = services.post_messages

    def counted(drafts):
        batches.append([d.client_id for d in drafts])
        return real(drafts)

    monkeypatch.setattr(services, "post_messages", counted)
    start = (await db(Conversation.objects.get)(pk=live_chat.pk)).last_seq
    ids = [f"writer-{n:05d}" for n in range(6)]
    posts = [
        writer.writer().post(
            services.Draft(live_chat.pk, citizen if n % 2 else agent_a, f"Ligne {n}", cid)
        )
        for n, cid in enumerate(ids)
    ]
    outcomes = await asyncio.gather(*posts)
    assert batches == [ids]
    assert [o.message.seq for o in outcomes] == [start + n for n in range(1, 7)]
    assert (await db(stored)(live_chat))[-6:] == [(start + n + 1, cid) for n, cid in enumerate(ids)]


@pytest.mark.django_db(transaction=True)
async def test_a_sender_cancelled_mid_batch_loses_and_duplicates_nothing(
    live_chat, citizen, agent_a, settings
):
    settings.CHAT_WRITE_DELAY_MS = 20
    start = (await db(Conversation.objects.get)(pk=live_chat.pk)).last_seq
    gone = asyncio.ensure_future(
        writer.writer().post(services.Draft(live_chat.pk, citizen, "Je pars", "cancel-00001"))
    )
    stays = asyncio.ensure_future(
        writer.writer().post(services.Draft(live_chat.pk, agent_a, "Je reste", "cancel-00002"))
    )
    await asyncio.sleep(0.005)
    gone.cancel()  # the socket closed while its message waited for the flush
    posted = await stays
    assert posted.message.seq == start + 2
    # The message of the closed socket was stored; the browser's resend finds it.
    again = await writer.writer().post(
        services.Draft(live_chat.pk, citizen, "Je pars", "cancel-00001")
    )
    assert isinstance(again, services.DuplicateMessage) and again.message.seq == start + 1
    assert (await db(stored)(live_chat))[-2:] == [
        (start + 1, "cancel-00001"),
        (start + 2, "cancel-00002"),
    ]


@pytest.mark.django_db(transaction=True)
async def test_a_failed_flush_tells_every_sender_and_the_writer_goes_on(
    live_chat, citizen, agent_a, monkeypatch
):
    def down(drafts):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(services, "post_messages", down)
    draft = services.Draft(live_chat.pk, citizen, "Bonjour", "down-0000001")
    outcomes = await asyncio.gather(
        writer.writer().post(draft),
        writer.writer().post(services.Draft(live_chat.pk, agent_a, "Oui", "down-0000002")),
    )
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert not await db(ChatMessage.objects.filter(client_id__startswith="down-").exists)()
    monkeypatch.undo()
    posted = await writer.writer().post(draft)
    assert isinstance(posted, services.Posted) and posted.message.client_id == "down-0000001"
