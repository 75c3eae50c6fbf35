"""Retention of chat transcripts (contactcenter/retention.py, docs/operations.md): the
messages' text and files go, the conversation and its messages' count, senders' roles and
times stay for the statistics."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet

from contactcenter.retention import ANONYMISE, Kind, delete_files, register

from .models import ChatAttachment, ChatMessage, Conversation


def _conversations(cutoff: datetime) -> QuerySet:
    written = ChatMessage.objects.filter(conversation=OuterRef("pk")).exclude(body="")
    files = ChatAttachment.objects.filter(message__conversation=OuterRef("pk"))
    return Conversation.objects.filter(
        status=Conversation.Status.ENDED, ended_at__lt=cutoff
    ).filter(Exists(written) | Exists(files))


def _purge(conversations: QuerySet) -> None:
    files = ChatAttachment.objects.filter(message__conversation__in=conversations)
    delete_files(files)
    files.delete()
    ChatMessage.objects.filter(conversation__in=conversations).exclude(body="").update(body="")
    conversations.update(chatbot_conversation="")


register(
    Kind(
        name="chat_transcripts",
        label="Transcriptions et fichiers des tchats terminés",
        action=ANONYMISE,
        candidates=_conversations,
        purge=_purge,
        describe=lambda row: f"tchat #{row.pk} (terminé le {row.ended_at:%Y-%m-%d})",
    )
)
