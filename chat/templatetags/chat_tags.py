"""Template helpers of the chat: the live chat button, client strings, message authors."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from contactcenter.models import Topic

from ..models import ChatMessage

register = template.Library()


def _url(name: str, query: dict | None = None) -> str:
    try:
        url = reverse(name)
    except NoReverseMatch:
        return ""
    query = {key: value for key, value in (query or {}).items() if value}
    return f"{url}?{urlencode(query)}" if query else url


@register.simple_tag
def optional_url(name: str, **query) -> str:
    """``reverse(name)`` with a query string, or "" when the URL does not exist (app absent)."""
    return _url(name, query)


@register.inclusion_tag("chat/_chat_button_inner.html", takes_context=True)
def chat_button(context, topic=None, compact=False):
    """The live chat button (citizens only): shown while an agent can take the topic (any topic
    when none is given), replaced by a secure message or a callback request otherwise."""
    request = context.get("request")
    user = getattr(request, "user", None)
    slug = topic.slug if isinstance(topic, Topic) else (str(topic) if topic else "")
    shown = bool(user and user.is_authenticated and user.is_citizen)
    available = False
    closed_hours: list[tuple[str, str]] = []
    open_hours = ""
    if shown:
        from routing import availability_snapshot, chat_button_hours

        snapshot = availability_snapshot()
        available = bool(snapshot.get(slug)) if slug else any(snapshot.values())
        if not available:
            all_closed, rows = chat_button_hours(topic)
            if all_closed:
                closed_hours = rows
            elif len({text for _name, text in rows}) == 1:
                # Open but nobody free: the hours still tell when to come back.
                open_hours = rows[0][1]
    return {
        "open_hours": open_hours,
        "shown": shown,
        "available": available,
        # Closed now: the schedule replaces "no agent available" (one line per distinct text).
        "closed_hours": closed_hours,
        "closed_single": len({text for _name, text in closed_hours}) == 1,
        "topic_slug": slug,
        "compact": compact,
        "start_url": _url("chat:start", {"topic": slug}),
        "message_url": _url("messaging:new_request", {"topic": slug}),
        "callback_url": _url("routing:callback_new", {"topic": slug}),
        "snapshot_url": _url("chat:availability"),
        "uid": f"chat-dispo-{slug or 'all'}",
    }


@register.simple_tag
def chat_client_strings() -> dict:
    """French strings the chat's JavaScript shows (passed with json_script, no inline JS)."""
    return {
        "you": _("Vous"),
        "agent_suffix": _("(agent)"),
        "assistant": _("Assistant virtuel"),
        "sending": _("Envoi…"),
        "failed": _("Non envoyé"),
        "retry": _("Réessayer"),
        "read": _("Lu"),
        "sent": _("Envoyé"),
        "typing_agent": _("%(name)s est en train d'écrire…"),
        "typing_citizen": _("L'usager est en train d'écrire…"),
        "queue_position": _("Vous êtes en position %(position)s dans la file d'attente."),
        "queue_next": _("Un agent va prendre votre conversation dans un instant."),
        "queue_wait": _("Temps d'attente estimé : environ %(minutes)s min."),
        "queue_wait_short": _("Temps d'attente estimé : moins d'une minute."),
        "queue_wait_unknown": _("Temps d'attente estimé : inconnu pour le moment."),
        "active": _("Vous échangez avec %(name)s."),
        "active_agent": _("Conversation en cours."),
        "waiting_agent": _("Conversation remise en file d'attente."),
        "ended": _("La conversation est terminée."),
        "lost": _("Connexion perdue : reconnexion en cours… Vos messages partiront à son retour."),
        "back": _("Connexion rétablie."),
        "closed_4401": _(
            "Votre session a expiré : reconnectez-vous pour reprendre la conversation."
        ),
        "closed_4404": _("Cette conversation est introuvable."),
        "closed_4408": _(
            "Trop de connexions ouvertes (onglets) : fermez-en, nouvel essai dans une minute."
        ),
        "closed_4410": _("Cette conversation a été confiée à un autre agent."),
        "closed_4429": _("Trop de messages envoyés trop vite : rechargez la page."),
        "closed_other": _("La connexion a été fermée : rechargez la page."),
        "too_long": _("Votre message fait %(length)s caractères ; 4 000 au maximum."),
        "empty": _("Écrivez un message avant de l'envoyer."),
        "counter": _("%(count)s / 4 000 caractères"),
        "new_chat": _("Nouveau tchat attribué"),
        "new_message": _("Nouveau message"),
        "unread": _("%(count)s non lu(s)"),
        "finished": _("Synthèse envoyée : conversation close."),
        "transferred": _("Conversation transférée."),
        "upload_sent": _("Document envoyé."),
        "file_size": _("%(size)s Ko"),
    }


@register.simple_tag
def message_author(message: ChatMessage, viewer: str) -> str:
    """How a message's author is shown to ``viewer`` (citizen, agent or observer)."""
    if message.kind == ChatMessage.Kind.SYSTEM:
        return ""
    if message.kind == ChatMessage.Kind.CONTEXT:
        return _("Assistant virtuel")
    if message.kind == viewer:
        return _("Vous")
    sender = message.sender
    if message.kind == ChatMessage.Kind.AGENT:
        name = (sender.first_name if sender else "") or _("Agent")
        return f"{name} {_('(agent)')}"
    return (sender.get_full_name() or sender.email) if sender else _("Usager")
