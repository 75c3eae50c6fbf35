"""Chat business rules: starting, numbering, inactivity, ending, summary, transfer."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import services
from chat.models import ChatMessage, Conversation
from contactcenter.models import Case, Event, Satisfaction, Transfer
from contactcenter.services import citizen_history, rate_case

from .conftest import committed

pytestmark = pytest.mark.django_db


# --- starting ---------------------------------------------------------------------------------


def test_start_creates_a_chat_case_with_the_first_message(live_chat, citizen, topic_a):
    case = live_chat.case
    assert case.channel == "chat"
    assert case.citizen == citizen and case.topic == topic_a
    first = ChatMessage.objects.get(conversation=live_chat, seq=1)
    assert first.kind == "citizen" and first.body.startswith("Bonjour")
    started = Event.objects.get(case=case, type=Event.Type.CHAT)
    assert started.payload == {"phase": "started", "conversation": live_chat.pk}


def test_start_is_refused_when_no_agent_is_available(citizen, topic_a, start):
    with pytest.raises(services.ChatUnavailable) as info:
        start(citizen)
    assert "Aucun agent" in info.value.message_dict["topic"][0]
    assert not Case.objects.filter(citizen=citizen).exists()


def test_second_chat_while_one_is_open_points_to_the_first(live_chat, citizen, start):
    with pytest.raises(ValidationError) as info:
        start(citizen)
    assert info.value.code == "already_open"
    assert info.value.params == {"conversation": live_chat.pk}


def test_start_validates_topic_and_message(citizen, agent_a, make_available, start):
    make_available(agent_a)
    with pytest.raises(ValidationError) as info:
        services.start_chat(citizen, None, "")
    assert set(info.value.message_dict) == {"topic", "body"}
    with pytest.raises(ValidationError):
        start(citizen, body="x" * 4001)


def test_chatbot_handoff_becomes_context_and_marks_fragile(
    citizen, agent_a, topic_a, make_available, start
):
    from knowledge.models import Conversation as BotConversation

    bot = BotConversation.objects.create(user=citizen, topic=topic_a, fragile=True)
    make_available(agent_a)
    conversation = start(citizen, chatbot_conversation=str(bot.pk), fragile=True)
    context = ChatMessage.objects.get(conversation=conversation, seq=1)
    assert context.kind == "context"
    assert context.body.startswith("Échange avec l'assistant virtuel")
    assert ChatMessage.objects.get(conversation=conversation, seq=2).kind == "citizen"
    case = Case.objects.get(pk=conversation.case_id)
    assert case.fragile is True
    assert Event.objects.filter(case=case, type=Event.Type.CHATBOT).count() == 1
    bot.refresh_from_db()
    assert bot.handoff_kind == "chat" and bot.handed_off_at is not None


def test_fragile_flag_needs_a_real_handoff(
    citizen, citizen2, agent_a, topic_a, make_available, start
):
    from knowledge.models import Conversation as BotConversation

    someone_elses = BotConversation.objects.create(user=citizen2, topic=topic_a)
    make_available(agent_a)
    conversation = start(citizen, chatbot_conversation=str(someone_elses.pk), fragile=True)
    assert Case.objects.get(pk=conversation.case_id).fragile is False
    assert not ChatMessage.objects.filter(conversation=conversation, kind="context").exists()
    assert not Event.objects.filter(case_id=conversation.case_id, type=Event.Type.CHATBOT).exists()


# --- messages ----------------------------------------------------------------------------------


def test_agent_no_longer_assigned_cannot_write(live_chat, agent_a):
    before = Conversation.objects.get(pk=live_chat.pk).last_seq
    Case.objects.filter(pk=live_chat.case_id).update(assigned_to=None)
    with pytest.raises(ValidationError) as info:
        services.post_message(live_chat.pk, agent_a, "Bonjour", "late-000001")
    assert info.value.code == "forbidden"
    # The refusal undid the counter update: the next message keeps numbers gapless.
    assert Conversation.objects.get(pk=live_chat.pk).last_seq == before
    assert not ChatMessage.objects.filter(client_id="late-000001").exists()


def test_a_message_is_one_update_one_select_one_insert(live_chat, citizen, agent_a):
    """The hot path of the chat: per message, the counter update (on the conversation's own
    columns, no "IN (SELECT ... JOIN" rewrite), the read of the new number, the insert."""
    services.post_message(live_chat.pk, agent_a, "Bonjour", "first-00001")  # first answer
    for sender, client_id in ((citizen, "count-00001"), (agent_a, "count-00002")):
        with CaptureQueriesContext(connection) as queries:
            services.post_message(live_chat.pk, sender, "Merci", client_id)
        statements = [q["sql"] for q in queries.captured_queries]
        kinds = [sql.split(None, 1)[0] for sql in statements if "SAVEPOINT" not in sql]
        kinds = [kind for kind in kinds if kind not in ("BEGIN", "COMMIT")]
        assert kinds == ["UPDATE", "SELECT", "INSERT"], statements
        update = next(sql for sql in statements if sql.startswith("UPDATE"))
        assert " IN (SELECT" not in update, update
        assert "ORDER BY" not in " ".join(statements), statements


def test_first_agent_message_marks_first_response(live_chat, agent_a):
    assert Case.objects.get(pk=live_chat.case_id).first_response_at is None
    posted = services.post_message(live_chat.pk, agent_a, "Bonjour", "first-00001")
    case = Case.objects.get(pk=live_chat.case_id)
    assert case.first_response_at == posted.message.created_at
    assert Conversation.objects.get(pk=live_chat.pk).answered_at == posted.message.created_at
    later = services.post_message(live_chat.pk, agent_a, "Encore", "first-00002")
    assert later.message.created_at > posted.message.created_at
    assert Case.objects.get(pk=live_chat.case_id).first_response_at == posted.message.created_at
    assert Conversation.objects.get(pk=live_chat.pk).answered_at == posted.message.created_at


def test_nul_characters_are_removed(live_chat, citizen):
    posted = services.post_message(live_chat.pk, citizen, "a\x00b", "nul-0000001")
    assert posted.message.body == "ab"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_get_distinct_consecutive_numbers(live_chat, citizen, agent_a):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    errors = []

    def send(user, prefix):
        try:
            for n in range(15):
                services.post_message(live_chat.pk, user, f"{prefix} {n}", f"{prefix}-{n:06d}")
                # The same id again, concurrently with the other sender: counted once.
                with contextlib.suppress(services.DuplicateMessage):
                    services.post_message(live_chat.pk, user, "bis", f"{prefix}-{n:06d}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send, args=(citizen, "usager")),
        threading.Thread(target=send, args=(agent_a, "agent")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(
        ChatMessage.objects.filter(conversation=live_chat)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))
    # The 30 ids sent (each twice), counted once; system notices have random ids of their own
    # ("sys-<notice>-<uuid>"), which may contain "-0" too: they are left out by prefix.
    sent = ChatMessage.objects.filter(conversation=live_chat).filter(
        Q(client_id__startswith="usager-") | Q(client_id__startswith="agent-")
    )
    assert sent.count() == 30
    live_chat.refresh_from_db()
    assert live_chat.last_seq == seqs[-1]


# --- inactivity --------------------------------------------------------------------------------


def test_inactive_citizen_is_warned_at_5_minutes_then_ended_at_10(live_chat, agent_a):
    posted = services.post_message(live_chat.pk, agent_a, "Avez-vous votre avis ?", "idle-000001")
    sent = posted.message.created_at
    assert services.check_inactivity(live_chat.pk, now=sent + timedelta(minutes=4)) is None
    assert services.check_inactivity(live_chat.pk, now=sent + timedelta(minutes=5, seconds=1)) == (
        "warned"
    )
    assert services.check_inactivity(live_chat.pk, now=sent + timedelta(minutes=6)) is None
    warnings = ChatMessage.objects.filter(
        conversation=live_chat, client_id__startswith="sys-inactivity_warning-"
    )
    assert warnings.count() == 1
    assert services.check_inactivity(live_chat.pk, now=sent + timedelta(minutes=10, seconds=1)) == (
        "ended"
    )
    live_chat.refresh_from_db()
    assert live_chat.status == Conversation.Status.ENDED
    assert live_chat.end_reason == Conversation.EndReason.INACTIVITY


def test_citizen_answer_or_typing_resets_the_inactivity_clock(live_chat, citizen, agent_a):
    sent = services.post_message(live_chat.pk, agent_a, "Une question ?", "idle-000002").message
    later = sent.created_at + timedelta(minutes=6)
    services.citizen_is_active(live_chat.pk)  # typing now: the clock restarts
    assert services.check_inactivity(live_chat.pk, now=later - timedelta(minutes=2)) is None
    services.post_message(live_chat.pk, citizen, "La voici", "idle-000003")
    assert services.check_inactivity(live_chat.pk, now=later + timedelta(hours=1)) is None
    assert services.inactive_conversation_ids(now=later + timedelta(hours=1)) == []


def test_next_inactivity_check_falls_due_at_the_warning_then_the_end(live_chat, agent_a):
    sent = services.post_message(live_chat.pk, agent_a, "Une question ?", "idle-000005").message
    at = sent.created_at
    assert services.inactivity_due(live_chat.pk, now=at) == at + timedelta(minutes=5)
    warned_at = at + timedelta(minutes=5, seconds=1)
    assert services.inactivity_due(live_chat.pk, now=warned_at) == at + timedelta(minutes=10)
    assert services.inactivity_due(live_chat.pk, now=at + timedelta(minutes=10, seconds=1)) is None
    live_chat.refresh_from_db()
    assert live_chat.end_reason == "inactivity"


def test_chat_waiting_for_an_agent_is_never_ended_for_inactivity(waiting_chat):
    far = timezone.now() + timedelta(hours=2)
    assert services.check_inactivity(waiting_chat.pk, now=far) is None
    waiting_chat.refresh_from_db()
    assert waiting_chat.status == Conversation.Status.WAITING


def test_inactivity_sweep_task_is_idempotent(live_chat, agent_a, settings):
    from chat.tasks import sweep_inactivity

    services.post_message(live_chat.pk, agent_a, "Toujours là ?", "idle-000004")
    settings.GUICHET_CHAT_INACTIVITY_WARN_SECONDS = 0
    assert sweep_inactivity() == 1
    assert sweep_inactivity() == 0
    assert ChatMessage.objects.filter(client_id__startswith="sys-inactivity_warning-").count() == 1


# --- ending, transcript, summary, rating ---------------------------------------------------------


def test_end_writes_the_transcript_on_the_timeline_and_in_history(live_chat, citizen, agent_a):
    services.post_message(live_chat.pk, agent_a, "Bonjour Camille", "end-0000001")
    assert services.end_conversation(live_chat.pk, reason="agent", actor=agent_a) is True
    assert services.end_conversation(live_chat.pk, reason="agent", actor=agent_a) is False
    transcript = Event.objects.get(
        case=live_chat.case, type=Event.Type.CHAT, payload__phase="transcript"
    )
    assert "Camille Martin : Bonjour, j'ai une question" in transcript.body
    assert "Alice : Bonjour Camille" in transcript.body
    assert transcript.internal is False
    assert transcript in list(citizen_history(citizen))
    case = Case.objects.get(pk=live_chat.case_id)
    assert case.status == Case.Status.ANSWERED  # frees the agent's chat slot


def test_citizen_leaving_before_any_agent_closes_the_case(waiting_chat, citizen):
    assert services.leave(waiting_chat.pk, citizen) is True
    case = Case.objects.get(pk=waiting_chat.case_id)
    assert case.status == Case.Status.CLOSED
    assert case.resolution == Case.Resolution.NO_FOLLOW_UP


def test_someone_else_cannot_end_a_citizens_chat(live_chat, citizen2):
    with pytest.raises(ValidationError):
        services.leave(live_chat.pk, citizen2)


def test_summary_lands_in_secure_messaging_with_a_content_free_notification(
    live_chat, citizen, agent_a, django_capture_on_commit_callbacks, mailoutbox
):
    summary = "À retenir : déclarez votre changement d'adresse en ligne avant le 15."
    with django_capture_on_commit_callbacks(execute=True):
        services.finish_with_summary(live_chat.pk, agent_a, summary)
    live_chat.refresh_from_db()
    assert live_chat.status == Conversation.Status.ENDED and live_chat.summary_sent_at
    reply = Event.objects.get(case=live_chat.case, type=Event.Type.MESSAGE, actor=agent_a)
    assert reply.body == summary and reply.internal is False
    # The chat's written trace: it names the transcript, which names the agent (trace KPI).
    transcript = Event.objects.get(
        case=live_chat.case, type=Event.Type.CHAT, payload__phase="transcript"
    )
    assert transcript.payload["agent"] == agent_a.pk
    assert reply.payload == {"contact_trace": "chat", "contact_event": transcript.pk}
    assert reply.channel == "chat"
    from messaging.models import Notification

    notifications = Notification.objects.filter(case_id=live_chat.case_id, recipient=citizen)
    assert notifications.exists()
    for notification in notifications:
        assert "changement d'adresse" not in notification.text
    for mail in mailoutbox:
        assert "changement d'adresse" not in mail.body
    with pytest.raises(ValidationError) as info:
        services.finish_with_summary(live_chat.pk, agent_a, "Encore")
    assert info.value.code == "already_sent"


def test_only_the_chats_agent_writes_the_summary(live_chat, agent_b):
    with pytest.raises(ValidationError) as info:
        services.finish_with_summary(live_chat.pk, agent_b, "Synthèse")
    assert info.value.code == "forbidden"


def test_empty_summary_is_refused_and_the_chat_stays_open(live_chat, agent_a):
    with pytest.raises(ValidationError):
        services.finish_with_summary(live_chat.pk, agent_a, "   ")
    live_chat.refresh_from_db()
    assert live_chat.is_open


def test_citizen_rates_the_chat_once_it_ended(live_chat, citizen, agent_a):
    with pytest.raises(ValidationError):
        rate_case(Case.objects.get(pk=live_chat.case_id), citizen, 5)
    services.end_conversation(live_chat.pk, reason="citizen", actor=citizen)
    rate_case(Case.objects.get(pk=live_chat.case_id), citizen, 4, "Rapide")
    assert Satisfaction.objects.get(case_id=live_chat.case_id).channel == "chat"


# --- transfer ------------------------------------------------------------------------------------


def test_transfer_within_the_service_goes_back_to_routing_with_history(
    live_chat, agent_a, service_a, skill_a, make_available
):
    from tests.conftest import make_staff

    colleague = make_staff("marc@guichet.example.fr", "agent", [service_a], [skill_a], first="Marc")
    make_available(colleague)
    committed(services.transfer, live_chat.pk, agent_a, reason="Question de recouvrement")
    live_chat.refresh_from_db()
    assert live_chat.agent_id == colleague.pk  # routing skipped the agent who handed it over
    assert live_chat.status == Conversation.Status.ACTIVE
    notices = list(
        ChatMessage.objects.filter(conversation=live_chat, kind="system")
        .order_by("seq")
        .values_list("client_id", flat=True)
    )
    assert [n.split("-")[1] for n in notices[-2:]] == ["transferred", "joined"]
    note = Event.objects.get(case=live_chat.case, type=Event.Type.NOTE)
    assert note.internal and "recouvrement" in note.body
    assert services.access_for(agent_a, live_chat.pk) is None  # no longer theirs


def test_transfer_to_another_service_uses_the_case_transfer(live_chat, agent_a, service_b, topic_b):
    committed(
        services.transfer,
        live_chat.pk,
        agent_a,
        reason="Relève de l'assurance maladie",
        to_service=service_b,
    )
    transfer = Transfer.objects.get(case_id=live_chat.case_id)
    assert transfer.to_service == service_b
    live_chat.refresh_from_db()
    assert live_chat.status == Conversation.Status.WAITING
    last = ChatMessage.objects.filter(conversation=live_chat).order_by("-seq").first()
    assert last.client_id.startswith("sys-transferred-")
    assert "autre agent" in last.body


def test_transfer_needs_a_reason(live_chat, agent_a):
    with pytest.raises(ValidationError) as info:
        services.transfer(live_chat.pk, agent_a, reason="")
    assert "reason" in info.value.message_dict
