"""Dashboard indicator (a KPI provider named in ``GUICHET_KPI_PROVIDERS``): the share of agent
contacts followed by a written trace (« ce qu'il faut retenir », ``contactcenter.traces``), per
channel.

The contacts: those recorded by hand (phone, counter, e-mail, letter), callbacks that reached
the citizen, co-browsing sessions, visios, calls through the voice server that an agent
answered and chats an agent took part in (one event each, when they end: the call's event
with ``agent`` and ``talk``, the chat's transcript with ``agent``). A contact has a trace when
a citizen-visible message of its case names it (payload ``contact_event``): the call summary
and the chat summary name their call's and chat's event."""

from __future__ import annotations

from django.db.models import Case as Switch
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from .models import Channel, Event

TRACED_CONTACTS = (
    Q(type=Event.Type.CONTACT)
    | Q(type=Event.Type.CALLBACK, payload__outcome="reached")
    | Q(type__in=(Event.Type.COBROWSE, Event.Type.VISIO))
    | Q(type=Event.Type.CALL, payload__has_keys=["call", "agent", "talk"])
    | Q(type=Event.Type.CHAT, payload__phase="transcript", payload__has_key="agent")
)


def _contact_channel():
    """The contact's channel: the event's, except a callback (its attempts are "phone")."""
    return Switch(
        When(type=Event.Type.CALLBACK, then=Value(Channel.CALLBACK.value)),
        When(type=Event.Type.COBROWSE, then=Value(Channel.COBROWSE.value)),
        When(type=Event.Type.VISIO, then=Value(Channel.VISIO.value)),
        default=F("channel"),
    )


def trace_counts(start, end, *, service_ids=None, topic_id=None, channel=None) -> dict:
    """``{channel: (contacts, with a trace)}`` of the contacts made in [start, end)."""
    traces = (
        Event.objects.filter(
            type=Event.Type.MESSAGE,
            internal=False,
            case_id=OuterRef("case_id"),
            payload__has_key="contact_event",
        )
        .annotate(contact_ref=Cast(KeyTextTransform("contact_event", "payload"), IntegerField()))
        .filter(contact_ref=OuterRef("pk"))
    )
    qs = Event.objects.filter(TRACED_CONTACTS, created_at__gte=start, created_at__lt=end)
    if service_ids is not None:
        qs = qs.filter(case__service_id__in=service_ids)
    if topic_id:
        qs = qs.filter(case__topic_id=topic_id)
    qs = qs.annotate(contact_channel=_contact_channel())
    if channel:
        qs = qs.filter(contact_channel=channel)
    rows = (
        qs.annotate(has_trace=Exists(traces))
        .values("contact_channel")
        .annotate(contacts=Count("id"), traced=Count("id", filter=Q(has_trace=True)))
        .order_by("contact_channel")
    )
    return {row["contact_channel"]: (row["contacts"], row["traced"]) for row in rows}


def trace_kpis(start, end, *, user=None, service_ids=None, topic_id=None, channel=None):
    counts = trace_counts(start, end, service_ids=service_ids, topic_id=topic_id, channel=channel)
    contacts = sum(c for c, _t in counts.values())
    if not contacts:
        return None
    traced = sum(t for _c, t in counts.values())
    labels = dict(Channel.choices)
    return {
        "title": _("Traces écrites après contact"),
        "metrics": [
            {
                "key": "trace_share",
                "label": _("Contacts suivis d'une trace écrite"),
                "value": traced / contacts,
                "format": "percent",
                "help": _(
                    "Contacts avec un agent (appels, tchats, contacts enregistrés à la main, "
                    "rappels aboutis, aide à distance, visio) après lesquels l'usager a reçu "
                    "« ce qu'il faut retenir »."
                ),
            },
            {"key": "traced_contacts", "label": _("Contacts avec trace"), "value": traced},
        ],
        "tables": [
            {
                "key": "trace_share_by_channel",
                "title": _("Part des contacts suivis d'une trace, par canal"),
                "columns": [_("Canal"), _("Contacts"), _("Avec trace"), _("Part")],
                "formats": ["text", "number", "number", "percent"],
                "rows": [
                    [str(labels.get(key, key)), n, t, t / n if n else None]
                    for key, (n, t) in counts.items()
                ],
            }
        ],
    }
