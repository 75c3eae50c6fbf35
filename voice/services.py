"""The voice server's business logic on the database: which service and menu answer a call,
who calls, the call's steps, the self-service "follow a request" and the timeline event.

Called from the voice server's call threads (voice.ivr), one thread a call: every function
takes ids or plain values and reloads what it needs."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from contactcenter.models import Case, Channel, Event, Service, User
from contactcenter.phones import format_phone, parse_mobile, parse_phone
from contactcenter.services import add_event
from contactcenter.signals import citizen_birthdate, citizen_code_sms
from routing.calendar import calendar_for, format_hour, service_schedule_text
from routing.callbacks import Slot, callback_slots, request_callback

from . import controls, queueing
from .models import Call, Menu, MenuNode

REFERENCE_DIGITS = 10  # "2026-000123" typed as 2026000123
CODE_DIGITS = 6  # the one-time code sent by SMS
CALLBACK_CHOICES = 3  # free callback slots read out
MOBILE_DIGITS = 14  # a national number (10 digits) or 00 + an overseas one
_SIP_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


def e164(number: str) -> str:
    """A caller ID or dialled number ("0612345678", "+33612345678", "33612345678") in E.164,
    or "" when it is not a French phone number (an extension, "anonymous")."""
    number = (number or "").strip()
    if not _SIP_NUMBER.match(number):
        return ""
    if number.startswith("33") and len(number) == 11:
        number = "+" + number
    try:
        return parse_phone(number)
    except ValidationError:
        return ""


def service_for_number(called: str) -> Service | None:
    """The service whose public phone number was dialled, else ``VOICE_DEFAULT_SERVICE``."""
    number = e164(called)
    if number:
        service = Service.objects.filter(phone=number).order_by("pk").first()
        if service is not None:
            return service
    if settings.VOICE_DEFAULT_SERVICE:
        return Service.objects.filter(code=settings.VOICE_DEFAULT_SERVICE).first()
    return None


def identify_caller(caller: str) -> User | None:
    """The citizen whose mobile is the caller ID (one only; none when shared or unknown)."""
    number = e164(caller)
    if not number:
        return None
    matches = list(
        User.objects.filter(mobile_phone=number, role=User.Role.CITIZEN, is_active=True).order_by(
            "pk"
        )[:2]
    )
    return matches[0] if len(matches) == 1 else None


def start_call(sip_call_id: str, caller: str, called: str) -> Call:
    service = service_for_number(called)
    menu = (
        Menu.objects.filter(service=service, status=Menu.Status.PUBLISHED).first()
        if service is not None
        else None
    )
    return Call.objects.create(
        sip_call_id=sip_call_id[:255],
        caller=caller[:64],
        called=called[:64],
        service=service,
        menu=menu,
        citizen=identify_caller(caller),
    )


def opening_hours(call: Call, at: datetime | None = None) -> str:
    """The welcome's sentence on the service's hours (routing's business calendar: weekly
    ranges, public holidays, closures); it says first when the service is closed now."""
    if call.service_id is None:
        return ""
    cal = calendar_for(call.service_id)
    text = service_schedule_text(cal, at) + "."
    if not cal.is_open(at):
        text = _("Nos services sont actuellement fermés.") + " " + text
    return text


def send_code(call: Call) -> str:
    """Send a one-time code by SMS to the identified caller's mobile (the notification outbox,
    through core's ``citizen_code_sms`` signal) and return it; the dialogue keeps it in memory
    only. Each call of this function sends a new code."""
    assert call.citizen_id is not None
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    text = _(
        "Guichet : votre code de vérification pour l'appel en cours est %(code)s. "
        "Ne le communiquez à personne d'autre que le serveur vocal."
    ) % {"code": code}
    sent = sum(1 for step in call.steps if step.get("step") == "code_sent")
    record_step(call, "code_sent", call.position)
    citizen_code_sms.send(
        sender=Call, citizen_id=call.citizen_id, text=str(text), key=f"voice:{call.pk}:{sent}"
    )
    return code


def birthdate(call: Call) -> str:
    """The identified caller's date of birth as typed on the keypad (JJMMAAAA), when an
    identity provider certified one (core's ``citizen_birthdate``, answered by accounts:
    FranceConnect); "" otherwise, and the date of birth is then not offered."""
    if call.citizen_id is None:
        return ""
    for _receiver, born in citizen_birthdate.send(sender=Call, citizen_id=call.citizen_id):
        if born is not None:
            return f"{born:%d%m%Y}"
    return ""


def code_matches(expected: str, typed: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), typed.encode())


def recording(node: MenuNode) -> bytes | None:
    """The node's recorded prompt (8 kHz μ-law), None without one or when it cannot be read
    (the synthesis is used then)."""
    if not node.recording:
        return None
    try:
        with node.recording.open("rb") as audio:
            return audio.read() or None
    except OSError:
        return None


def record_step(call: Call, step: str, position: str, **data: Any) -> None:
    """Append one step to the call (its menu path) and remember where the caller is."""
    call.steps.append({"at": timezone.now().isoformat(), "step": step, **data})
    call.position = position[:64]
    Call.objects.filter(pk=call.pk).update(steps=call.steps, position=call.position)


def menu_choices(menu: Menu, parent: MenuNode | None) -> list[MenuNode]:
    nodes = menu.nodes.filter(parent=parent) if parent else menu.nodes.filter(parent__isnull=True)
    return list(nodes.select_related("parent").order_by("digit"))


def menu_prompt(menu: Menu, parent: MenuNode | None, choices: list[MenuNode]) -> str:
    """What the caller hears at a menu: the submenu's own text, then one sentence a choice."""
    parts = [parent.prompt.strip()] if parent is not None and parent.prompt.strip() else []
    parts += [
        _("Pour %(label)s, tapez %(digit)s.") % {"label": node.label, "digit": node.digit}
        for node in choices
    ]
    if parent is None:
        parts.append(_("Pour parler à un conseiller, tapez 0."))
    parts.append(_("Pour réécouter ce menu, tapez étoile."))
    if parent is not None:
        parts.append(_("Pour revenir au menu précédent, tapez dièse."))
    return " ".join(parts)


def reference_from_digits(digits: str) -> str:
    """The keypad's ten digits -> a case reference ("2026000123" -> "2026-000123")."""
    if len(digits) != REFERENCE_DIGITS or not digits.isdigit():
        return ""
    return f"{digits[:4]}-{digits[4:]}"


def spoken_digits(reference: str) -> str:
    """Read digit by digit ("2026-000123" -> "2 0 2 6, 0 0 0 1 2 3")."""
    return ", ".join(" ".join(group) for group in reference.split("-"))


@dataclass(frozen=True)
class TrackResult:
    found: bool
    speech: str
    reference: str = ""


def not_found_speech() -> str:
    return str(
        _(
            "Nous ne trouvons pas de demande à ce numéro pour votre numéro de téléphone. "
            "Vérifiez le numéro de la demande, inscrit dans votre espace et dans nos messages."
        )
    )


def own_case(call: Call, digits: str) -> Case | None:
    """The identified caller's case whose reference was typed, attached to the call; None for
    another citizen's case, an unknown or a malformed reference alike (nothing tells whether
    the reference exists)."""
    reference = reference_from_digits(digits)
    if not reference or call.citizen_id is None:
        return None
    case = (
        Case.objects.filter(reference=reference, citizen_id=call.citizen_id)
        .select_related("service", "topic", "citizen")
        .first()
    )
    if case is None:
        return None
    Call.objects.filter(pk=call.pk).update(case=case)
    call.case = case
    return case


def track_request(call: Call, digits: str) -> TrackResult:
    """Self-service "follow a request": the status and the last step of the caller's own
    case (``own_case``)."""
    case = own_case(call, digits)
    if case is None:
        return TrackResult(False, not_found_speech())
    reference = case.reference
    last = (
        case.events.filter(internal=False)
        .exclude(type=Event.Type.CALL)
        .order_by("-created_at", "-id")
        .first()
    )
    speech = _("Votre demande numéro %(reference)s est : %(status)s.") % {
        "reference": spoken_digits(reference),
        "status": case.get_status_display(),
    }
    if last is not None:
        speech += " " + _("Dernière étape : %(step)s, le %(date)s.") % {
            "step": last.get_type_display(),
            "date": date_format(timezone.localtime(last.created_at), "j F Y"),
        }
    return TrackResult(True, speech, reference)


def end_call(call: Call, ended_by: str, *, during_prompt: bool = False) -> None:
    """Close the call and put it on the timeline of the case it reached (if any)."""
    now = timezone.now()
    with transaction.atomic():
        updated = Call.objects.filter(pk=call.pk, ended_at__isnull=True).update(
            ended_at=now, ended_by=ended_by
        )
        if not updated:
            return
        call.ended_at, call.ended_by = now, ended_by
        if call.queued_at is not None:
            if call.answered_at is not None and not controls.waiting_again(call):
                queueing.call_ended(call)
            else:
                queueing.leave_queue(call, ended_by)
        if call.case_id is not None:
            write_call_event(call, during_prompt=during_prompt)


def write_call_event(call: Call, *, during_prompt: bool) -> Event:
    assert call.ended_at is not None and call.case_id is not None
    case = Case.objects.get(pk=call.case_id)
    duration = int((call.ended_at - call.started_at).total_seconds())
    ended = Call.EndedBy(call.ended_by).label
    body = _("Appel au serveur vocal (%(seconds)s s) : %(end)s.") % {
        "seconds": duration,
        "end": ended,
    }
    agent = queueing.timeline_fields(call)
    if "talk" in agent:
        body += " " + _("Attente : %(wait)s s ; avec le conseiller : %(talk)s s.") % agent
    elif "wait" in agent:
        body += " " + _("Attente d'un conseiller : %(wait)s s, sans réponse.") % agent
    return add_event(
        case,
        Event.Type.CALL,
        channel=Channel.PHONE,
        body=str(body),
        internal=False,
        payload={
            "call": call.pk,
            "menu_path": call.menu_path,
            "self_service": [
                {"kind": s["kind"], "completed": s["completed"]}
                for s in call.steps
                if s.get("step") == "self_service"
            ],
            "ended_by": call.ended_by,
            "position": call.position,
            "during_prompt": during_prompt,
            "duration": duration,
            **queueing.timeline_fields(call),
        },
    )


def close_lost_calls() -> int:
    """At the voice server's start: the calls it was handling when it stopped are lost; close
    them so that the timeline stays consistent, and offer an identified caller a callback by
    SMS (through the outbox, once a call: the key is the call's)."""
    count = 0
    for call in Call.objects.filter(ended_at__isnull=True):
        record_step(call, "lost", call.position)
        end_call(call, Call.EndedBy.LOST)
        if call.citizen_id is not None:
            offer_callback_sms(call)
        count += 1
    return count


def offer_callback_sms(call: Call) -> None:
    """The SMS to a caller whose call was lost: the web callback form's address, no content."""
    assert call.citizen_id is not None
    link = settings.SITE_URL + reverse("routing:callback_new")
    text = _(
        "Guichet : votre appel au serveur vocal a été interrompu. Un conseiller peut vous "
        "rappeler : choisissez un créneau sur %(link)s"
    ) % {"link": link}
    record_step(call, "callback_offered", call.position, by="sms")
    citizen_code_sms.send(
        sender=Call,
        citizen_id=call.citizen_id,
        text=str(text),
        key=f"voice:{call.pk}:lost",
        kind="voice_lost",
    )


def spoken_slot(slot: Slot) -> str:
    """ "lundi 7 décembre à 9 h 30" (local time)."""
    start = timezone.localtime(slot.start)
    return _("%(day)s à %(time)s") % {
        "day": date_format(start, "l j F"),
        "time": format_hour(start.time()),
    }


def callback_offer(node: MenuNode) -> list[Slot]:
    """The next free callback slots of the choice's topic (routing's callbacks)."""
    assert node.topic is not None
    return callback_slots(node.topic)[:CALLBACK_CHOICES]


def book_callback(call: Call, node: MenuNode, slot: Slot) -> Case:
    """Book the slot through routing's callbacks (its case of channel "callback", the booking
    notification), to the caller's verified mobile; the call is attached to that case.
    Raises ValidationError when the slot was taken meanwhile."""
    assert node.topic is not None and call.citizen_id is not None
    citizen = User.objects.get(pk=call.citizen_id)
    case = request_callback(
        citizen=citizen,
        topic=node.topic,
        phone=citizen.mobile_phone,
        description=str(
            _("Rappel demandé depuis le serveur vocal (%(label)s).") % {"label": node.label}
        ),
        slot=slot.start,
    )
    Call.objects.filter(pk=call.pk).update(case=case)
    call.case = case
    return case


def mobile_from_keypad(digits: str) -> str:
    """Digits typed for a mobile ("0612345678", or "00687751234" for an overseas plan) in
    E.164, or "" when it is not a French mobile (``contactcenter.phones``)."""
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    try:
        return parse_mobile(digits)
    except ValidationError:
        return ""


def spoken_mobile(number: str) -> str:
    """The number as the caller would type it, digit by digit ("0 6 1 2 ...")."""
    return " ".join(format_phone(number).replace(" ", "").replace(".", ""))


def change_mobile(call: Call, number: str) -> bool:
    """Replace the verified caller's SMS mobile by ``number`` (E.164). Refused when another
    active citizen has it (the caller ID would then identify nobody). The old number gets a
    content-free security SMS first; the change is a step of the call (numbers masked)."""
    assert call.citizen_id is not None
    citizen = User.objects.get(pk=call.citizen_id)
    if (
        User.objects.filter(mobile_phone=number, role=User.Role.CITIZEN, is_active=True)
        .exclude(pk=citizen.pk)
        .exists()
    ):
        record_step(call, "mobile_refused", call.position)
        return False
    old = citizen.mobile_phone
    if old and old != number:
        citizen_code_sms.send(
            sender=Call,
            citizen_id=citizen.pk,
            text=str(
                _(
                    "Guichet : le numéro de mobile de votre compte vient d'être changé depuis "
                    "le serveur vocal. Si vous n'êtes pas à l'origine de ce changement, "
                    "contactez-nous."
                )
            ),
            key=f"voice:{call.pk}:mobile",
        )
    User.objects.filter(pk=citizen.pk).update(mobile_phone=number)
    record_step(call, "mobile_changed", call.position, old=old[-2:], new=number[-2:])
    return True
