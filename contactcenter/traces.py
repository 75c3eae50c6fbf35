"""A trace after a contact: what an agent writes to the citizen at the end of a live contact
("ce qu'il faut retenir": a phone call's summary, a contact recorded by hand, a callback, a
co-browsing session, a visio) lands in the case's secure messaging thread, through core, so
that the channels never import messaging. The message's payload names the contact's channel
(``contact_trace``) and, when known, the contact event it follows (``contact_event``): the
dashboard's share of contacts with a trace (``contactcenter.trace_kpis``) counts them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .models import Case, Channel, Event, User
from .services import (
    NOTIFY_REPLY,
    add_event,
    check_message_body,
    check_staff_may_act,
    lock_case,
    notify_citizen,
)


def post_contact_trace(
    case: Case,
    author: User,
    text: str,
    channel: str,
    *,
    contact: Event | None = None,
    allow_closed: bool = False,
) -> Event:
    """Post ``text`` written by ``author`` after a contact of ``channel`` (e.g. ``phone``) as a
    message of the case visible to the citizen, with the usual content-free alert. The status
    does not change (the contact itself answered). One transaction with the case row locked.
    ``contact``: the contact event the trace follows (counted as traced on the dashboard).
    ``allow_closed``: the contact itself closed the case (a counter visit resolved at once).
    Raises ValidationError (empty or too long text, a closed case, an author who may not act
    on the case)."""
    body = check_message_body(text)
    if channel not in Channel.values:
        raise ValidationError(_("Canal inconnu."))
    payload: dict[str, object] = {"contact_trace": channel}
    if contact is not None:
        if contact.case_id != case.pk:
            raise ValidationError(_("Ce contact n'appartient pas à cette demande."))
        payload["contact_event"] = contact.pk
    with transaction.atomic():
        fresh = lock_case(case)
        check_staff_may_act(fresh, author)
        if fresh.status == Case.Status.CLOSED and not allow_closed:
            raise ValidationError(_("La demande est clôturée."), code="closed")
        event = add_event(
            fresh,
            Event.Type.MESSAGE,
            actor=author,
            channel=channel,
            body=body,
            internal=False,
            payload=payload,
        )
        notify_citizen(fresh, NOTIFY_REPLY)
    return event


def trace_prefill(case: Case) -> str:
    """A draft of "ce qu'il faut retenir" from the latest guided diagnosis of ``case`` (its
    outcome and the documents or article it points to; never the internal questions), or ""."""
    event = (
        Event.objects.filter(case_id=case.pk, type=Event.Type.DIAGNOSIS)
        .order_by("-created_at", "-id")
        .only("payload")
        .first()
    )
    outcome = (event.payload or {}).get("outcome") if event is not None else None
    if not isinstance(outcome, dict) or not outcome.get("text"):
        return ""
    lines = [str(outcome["text"])]
    documents = outcome.get("documents")
    if isinstance(documents, list) and documents:
        lines.append(_("Pièces à fournir :"))
        lines += [f"- {doc}" for doc in documents]
    return "\n".join(lines)
