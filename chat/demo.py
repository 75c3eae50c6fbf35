"""Demo data of the chat: one finished conversation (transcript on the timeline, summary in the
citizen's messages, a rating), so that "Mon historique" and the console show a chat.

Idempotent: nothing is created when the citizen already has a chat.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from contactcenter.models import Case, Channel, Event, Topic, User
from contactcenter.services import add_event, open_case

from . import services
from .models import ChatMessage, Conversation

LINES = [
    (
        "citizen",
        "Bonjour, je ne trouve pas comment déclarer mon changement de situation pour ma bourse.",
    ),
    ("agent", "Bonjour, je regarde votre dossier. Il s'agit d'un changement de logement ?"),
    ("citizen", "Oui, je viens d'emménager dans une résidence universitaire."),
    (
        "agent",
        "C'est noté : vous pouvez le déclarer dans votre dossier social étudiant, rubrique "
        "« Mes informations ». Je vous envoie le détail par écrit.",
    ),
]
SUMMARY = (
    "Bonjour, comme convenu : déclarez votre nouvelle adresse dans votre dossier social étudiant, "
    "rubrique « Mes informations ». Aucune autre démarche n'est nécessaire. Bonne journée."
)


@transaction.atomic
def load_demo(people: dict) -> int:
    citizens = people.get("citizens") or []
    agents = people.get("agents") or []
    topic = Topic.objects.filter(slug="etudiants").select_related("service").first()
    if len(citizens) < 3 or topic is None:
        return 0
    citizen = citizens[2]
    agent = next(
        (a for a in agents if a.agent_profile.services.filter(pk=topic.service_id).exists()), None
    )
    if agent is None or Conversation.objects.filter(citizen=citizen).exists():
        return 0
    started = timezone.now() - timedelta(days=3, hours=2)
    case, first = open_case(
        citizen=citizen,
        topic=topic,
        kind=Case.Kind.QUESTION,
        channel=Channel.CHAT,
        subject=f"Tchat : {topic.title}",
        first_event_type=Event.Type.CHAT,
        body=LINES[0][1],
        payload={"phase": "started"},
        route=False,
    )
    Case.objects.filter(pk=case.pk).update(
        created_at=started,
        last_activity_at=started,
        assigned_to=agent,
        assigned_at=started + timedelta(minutes=1),
        status=Case.Status.IN_PROGRESS,
        first_response_at=started + timedelta(minutes=2),
    )
    conversation = Conversation.objects.create(
        case=case,
        citizen=citizen,
        agent=agent,
        status=Conversation.Status.ACTIVE,
        created_at=started,
        answered_at=started + timedelta(minutes=2),
    )
    Event.objects.filter(pk=first.pk).update(
        created_at=started, payload={"phase": "started", "conversation": conversation.pk}
    )
    add_event(
        case,
        Event.Type.ASSIGNMENT,
        internal=True,
        payload={"agent": agent.pk, "mode": "auto"},
        at=started + timedelta(minutes=1),
        touch=False,
    )
    seq = 0
    for index, (kind, body) in enumerate(LINES):
        seq += 1
        if index == 1:
            ChatMessage.objects.create(
                conversation=conversation,
                seq=seq,
                client_id=f"sys-{services.Notice.JOINED}-{services.new_client_id()}",
                kind=ChatMessage.Kind.SYSTEM,
                body=f"{agent.first_name} a rejoint la conversation.",
                created_at=started + timedelta(minutes=1),
            )
            seq += 1
        ChatMessage.objects.create(
            conversation=conversation,
            seq=seq,
            client_id=services.new_client_id(),
            kind=kind,
            sender=citizen if kind == "citizen" else agent,
            body=body,
            created_at=started + timedelta(minutes=2 * index),
        )
    Conversation.objects.filter(pk=conversation.pk).update(
        last_seq=seq, citizen_read_seq=seq, agent_read_seq=seq
    )
    case.refresh_from_db()
    marker = timezone.now()
    services.end_conversation(conversation.pk, reason=Conversation.EndReason.AGENT, actor=agent)
    services.finish_with_summary(conversation.pk, User.objects.get(pk=agent.pk), SUMMARY)
    # Back-date what the end wrote, so that the demo history reads in order.
    ended = started + timedelta(minutes=12)
    Event.objects.filter(case=case, created_at__gte=marker).update(created_at=ended)
    ChatMessage.objects.filter(conversation=conversation, created_at__gte=marker).update(
        created_at=ended
    )
    Conversation.objects.filter(pk=conversation.pk).update(ended_at=ended, summary_sent_at=ended)
    Event.objects.filter(case=case, type=Event.Type.CHAT, payload__phase="transcript").update(
        body=services.transcript_text(conversation)
    )
    Case.objects.filter(pk=case.pk).update(last_activity_at=ended)
    return 1
