"""The chat's demo data: a finished conversation, loaded once."""

import pytest

from chat.demo import load_demo
from chat.models import Conversation
from contactcenter.models import Event, User
from contactcenter.services import citizen_history

pytestmark = pytest.mark.django_db


def test_demo_chat_is_finished_with_transcript_and_summary(citizen, citizen2, agent_b, topic_b):
    topic_b.slug = "etudiants"
    topic_b.save()
    third = User.objects.create_user(
        username="aicha@example.fr", email="aicha@example.fr", password="x", role="citizen"
    )
    people = {"citizens": [citizen, citizen2, third], "agents": [agent_b]}
    assert load_demo(people) == 1
    assert load_demo(people) == 0  # idempotent
    conversation = Conversation.objects.get(citizen=third)
    assert conversation.is_ended and conversation.summary_sent_at
    history = list(citizen_history(third))
    transcript = [
        e for e in history if e.type == Event.Type.CHAT and e.payload.get("phase") == "transcript"
    ]
    assert (
        len(transcript) == 1 and "Bruno : Bonjour, je regarde votre dossier" in transcript[0].body
    )
    assert history == sorted(history, key=lambda e: (e.created_at, e.id), reverse=True)
    assert history[0].created_at > conversation.created_at
    assert "a mis fin à la conversation" in transcript[0].body.splitlines()[-1]
    times = list(conversation.messages.order_by("seq").values_list("created_at", flat=True))
    assert times == sorted(times)
