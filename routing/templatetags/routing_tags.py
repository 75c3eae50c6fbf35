from django import template
from django.utils.translation import pgettext

import routing
from routing.calendar import calendar_for, weekly_schedule_text
from routing.models import AgentPresence

register = template.Library()


@register.simple_tag
def agent_presence(user):
    """The agent's presence row (created on first use), or None for anyone else."""
    if not getattr(user, "is_authenticated", False) or not user.is_agent:
        return None
    return routing.get_presence(user)


@register.simple_tag
def agent_status_display(presence):
    """(code, French label) of the displayed status, "occupé" derived from load."""
    code = routing.effective_status(presence)
    return {"code": code, "label": routing.STATUS_DISPLAY[code]}


@register.simple_tag
def routing_status_context(user, presence=None, form=None):
    """Everything the status widget needs, from the user alone when included elsewhere.
    ``form``: a submitted ``StatusForm`` whose errors (``errors``, by field) are shown; none is
    built otherwise (the widget writes its selects itself: a form would only be read for its
    absent errors)."""
    presence = presence or routing.get_presence(user)
    code = routing.effective_status(presence)
    closed = []
    if presence.status == AgentPresence.Status.AVAILABLE:
        # Available outside the opening hours: no chat will come, say why.
        closed = routing.closed_services_of(user)
    return {
        "closed_services": closed,
        "presence": presence,
        "errors": form.errors if form else {},
        "choices": AgentPresence.Status.choices,
        "reasons": AgentPresence.PauseReason.choices,
        "shown_code": code,
        "shown_label": routing.STATUS_DISPLAY[code],
    }


def day_unit() -> str:
    return pgettext("abréviation de jour dans une durée", "j")


@register.filter
def duration_fr(value):
    """timedelta -> '2 h 05 min' / '4 min' / '35 s' / '2 j 0 h' ('2 d 0 h' in English).
    The name stays for the templates that use it; the output follows the active language."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    minutes, _s = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} {day_unit()} {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag
def public_contact(service_list):
    """For the public home: each service's telephone, opening hours in words, whether it is
    open now and whether an agent is free in chat for one of its topics right now."""
    snapshot = routing.availability_snapshot()
    rows = []
    for service in service_list:
        cal = calendar_for(service.pk)
        rows.append(
            {
                "service": service,
                "hours": (
                    pgettext("horaires d'un service", "7 jours sur 7, 24 h sur 24")
                    if cal.always_open
                    else weekly_schedule_text(cal)
                ),
                "open_now": cal.is_open(),
                "chat_now": any(
                    snapshot.get(topic.slug) for topic in service.topics.all() if topic.is_active
                ),
            }
        )
    return rows
