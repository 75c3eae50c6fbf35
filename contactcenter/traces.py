"""A trace after a contact: what an agent writes to the citizen at the end of a live contact
(a phone call's summary) lands in the case's secure messaging thread, through core, so that
the channel (voice) never imports messaging."""

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


def post_contact_trace(case: Case, author: User, text: str, channel: str) -> Event:
    """Post ``text`` written by ``author`` after a contact of ``channel`` (e.g. ``phone``) as a
    message of the case visible to the citizen, with the usual content-free alert. The status
    does not change (the contact itself answered). One transaction with the case row locked.
    Raises ValidationError (empty or too long text, a closed case, an author who may not act
    on the case)."""
    body = check_message_body(text)
    if channel not in Channel.values:
        raise ValidationError(_("Canal inconnu."))
    with transaction.atomic():
        fresh = lock_case(case)
        check_staff_may_act(fresh, author)
        if fresh.status == Case.Status.CLOSED:
            raise ValidationError(_("La demande est clôturée."), code="closed")
        event = add_event(
            fresh,
            Event.Type.MESSAGE,
            actor=author,
            channel=channel,
            body=body,
            internal=False,
            payload={"contact_trace": channel},
        )
        notify_citizen(fresh, NOTIFY_REPLY)
    return event
