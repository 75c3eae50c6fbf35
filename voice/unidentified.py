"""Callers the voice server could not identify (no citizen's mobile is the caller ID, or the
second factor was not given) still reach an agent: their phone case belongs to an inactive
placeholder account, "Appelant non identifié", until the agent who recognises the caller links
it to a citizen (docs/voice.md, "Unidentified callers"). The same pattern as the e-mail
channel's unidentified senders."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from contactcenter.models import Case, Channel, Event, User
from contactcenter.permissions import can_act_on_case
from contactcenter.phones import parse_mobile
from contactcenter.services import add_event

from .models import Call

UNIDENTIFIED_CALLER_EMAIL = "appelant-non-identifie@guichet.invalid"


def unidentified_caller() -> User:
    """The account that holds the phone cases of callers not (yet) identified."""
    user, created = User.objects.get_or_create(
        email=UNIDENTIFIED_CALLER_EMAIL,
        defaults={
            "username": UNIDENTIFIED_CALLER_EMAIL,
            "first_name": str(_("Appelant non identifié")),
            "role": User.Role.CITIZEN,
            "is_active": False,
            "notify_email": False,
            "notify_sms": False,
        },
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def is_unidentified(case: Case) -> bool:
    return case.channel == Channel.PHONE and case.citizen.email == UNIDENTIFIED_CALLER_EMAIL


def caller_number(case: Case) -> str:
    """The caller ID of the last call of an unidentified caller's case ("" if none)."""
    return (
        Call.objects.filter(case_id=case.pk)
        .order_by("-pk")
        .values_list("caller", flat=True)
        .first()
        or ""
    )


def find_citizen(wanted: str) -> User | None:
    """The active citizen whose account address or mobile number the agent typed."""
    wanted = wanted.strip()
    citizens = User.objects.filter(role=User.Role.CITIZEN, is_active=True)
    if "@" in wanted:
        return citizens.filter(email__iexact=wanted).first()
    try:
        mobile = parse_mobile(wanted)
    except ValidationError:
        return None
    found = list(citizens.filter(mobile_phone=mobile)[:2])
    return found[0] if len(found) == 1 else None


def link_caller(case: Case, citizen: User, agent: User) -> Event:
    """Give an unidentified caller's case to the citizen the agent recognised: the case, its
    timeline and its calls move to the citizen's file; an internal note says who did it."""
    if not agent.is_staff_member or not can_act_on_case(agent, case):
        raise ValidationError(_("Vous n'êtes pas habilité à traiter cette demande."))
    if not citizen.is_citizen or not citizen.is_active:
        raise ValidationError(_("Choisissez un usager dont le compte est actif."))
    with transaction.atomic():
        updated = Case.objects.filter(
            pk=case.pk, channel=Channel.PHONE, citizen__email=UNIDENTIFIED_CALLER_EMAIL
        ).update(citizen=citizen)
        if not updated:
            raise ValidationError(_("Cette demande a déjà été rattachée."), code="linked")
        number = caller_number(case)
        case.citizen = citizen
        case.events.update(citizen_id=citizen.pk)
        Call.objects.filter(case_id=case.pk).update(citizen=citizen)
        return add_event(
            case,
            Event.Type.NOTE,
            actor=agent,
            channel=Channel.PHONE,
            internal=True,
            body=_("Appelant %(number)s rattaché à l'usager %(name)s.")
            % {"number": number or "?", "name": citizen.display_name},
            payload={"linked_caller": number, "citizen": citizen.pk},
        )
