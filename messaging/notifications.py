"""The notification outbox: queue, claim, send, retry.

Flow: an operation commits -> ``contactcenter.services.notify_citizen`` fires the
``citizen_notification`` signal -> ``queue_for_citizen`` writes one outbox row per channel the
citizen chose (email and/or SMS) -> ``messaging.tasks.send_notification(id)`` claims the row with
a conditional update, sends it through the channel's transport, and marks it sent (or schedules a
retry with exponential backoff). ``messaging.tasks.flush_outbox`` (beat, every minute) re-queues
due rows and rows left "sending" by a worker that died.

The text is fixed: "Vous avez un nouveau message dans votre espace Guichet" and a link. It never
carries a message, a subject or anything the citizen wrote (DESIGN invariant 4).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from contactcenter import outbox, phones
from contactcenter.models import Case, Channel, Event, User
from contactcenter.services import add_event

from . import notification_templates as templates
from . import preferences
from .models import AlertPreference, Notification, NotificationTemplate
from .transports import PermanentTransportError, get_transport

logger = logging.getLogger("messaging.notifications")

# A row stuck in "sending" longer than this belonged to a worker that died: send it again.
SENDING_LEASE = timedelta(minutes=10)
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 6 * 60 * 60
FLUSH_BATCH = 500


def max_attempts() -> int:
    return settings.GUICHET_NOTIFICATION_MAX_ATTEMPTS


def backoff_seconds(attempts: int) -> int:
    """Delay before attempt ``attempts + 1``: 1 min, 2, 4, 8... capped at 6 h."""
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)


def case_link(case: Case | None) -> str:
    if case is None:
        return settings.SITE_URL + reverse("messaging:space")
    return settings.SITE_URL + reverse("messaging:case_detail", args=[case.reference])


# Démarches (docs/demarches.md): the alert names the step reached, never a note or document.
DEMARCHE_KINDS = (
    "demarche_step",
    "demarche_document",
    "demarche_closed",
    "demarche_action",
    "demarche_action_reminder",
)
# Alerts that a pending one of the same case does not absorb (each says something of its own).
DISTINCT_KINDS = frozenset(DEMARCHE_KINDS) | frozenset(templates.EVENTS)


# Alerts whose link is given by the sender (``params["link"]``): the signed survey link
# (contactcenter.surveys), the appointment's own page (appointments).
OWN_LINK_KINDS = frozenset({"satisfaction_survey", "appointment_booked", "appointment_reminder"})


def email_files(params: dict | None) -> list[dict]:
    """The files an e-mail alert carries (``params["files"]``: ``(name, content_type, bytes)``,
    e.g. an appointment's .ics), as stored on the outbox row."""
    return [
        {"name": name, "type": content_type, "data": base64.b64encode(data).decode("ascii")}
        for name, content_type, data in (params or {}).get("files") or ()
    ]


# SMS the citizen asked for right now (a one-time code...) are not held by the quiet hours.
QUIET_HOURS_EXEMPT = frozenset({"code"})


def quiet_until(channel: str, kind: str, now: datetime) -> datetime | None:
    """When an SMS written or due at ``now`` may be sent, if ``now`` is in the quiet hours (no
    SMS from ``GUICHET_SMS_QUIET_START`` to ``GUICHET_SMS_QUIET_END`` o'clock, Europe/Paris):
    the end of the quiet hours, else None (send now)."""
    if channel != Notification.NotificationChannel.SMS or kind in QUIET_HOURS_EXEMPT:
        return None
    start, end = settings.GUICHET_SMS_QUIET_START, settings.GUICHET_SMS_QUIET_END
    if start == end:
        return None  # no quiet hours
    local = now.astimezone(templates.PARIS)
    if end <= local.hour < start:
        return None
    morning = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if local.hour >= start:
        # Wall-clock arithmetic in Europe/Paris: 08:00 also on the days the clocks change.
        morning += timedelta(days=1)
    return morning


def citizen_language(user: User, preference=preferences.UNREAD) -> str:
    """The language of the citizen's alerts (their preference, French by default)."""
    return preferences.language_of(user, preference)


def template_text(
    service_id: int | None, kind: str, channel: str, language: str
) -> tuple[str, str]:
    """(subject, body) template of an alert: the service's own, else the default."""
    if service_id:
        row = (
            NotificationTemplate.objects.filter(
                service_id=service_id, event=kind, channel=channel, language=language
            )
            .values_list("subject", "body")
            .first()
        )
        if row is not None:
            return row
    return templates.default_template(kind, channel, language)


def template_values(
    case: Case | None, kind: str, params: dict, link: str, language: str
) -> tuple[int | None, dict[str, str]]:
    """(service id, placeholder values) of a templated alert: references, names and dates
    only, never anything the citizen or an agent wrote."""
    values = {"link": link}
    service_id = params.get("service_id")
    if case is not None:
        service_id = case.service_id
        values["reference"] = case.reference
        values["service"] = case.service.name
    else:
        values["reference"] = str(params.get("reference", ""))
        values["service"] = str(params.get("service", ""))
    step = (
        params.get("step_en") if language == "en" and params.get("step_en") else params.get("step")
    )
    values["step"] = str(step or "")
    moment = None
    if kind == "acknowledgement" and case is not None:
        from routing.sla import deadline_for

        moment = case.sla_deadline or deadline_for(case)
    elif kind in ("callback_booked", "callback_reminder") and case is not None:
        from routing.models import CallbackRequest

        moment = (
            CallbackRequest.objects.filter(case=case).values_list("slot_start", flat=True).first()
        )
    elif params.get("at"):
        moment = datetime.fromisoformat(str(params["at"]))
    values["date"] = templates.format_date(moment, language)
    values["time"] = templates.format_time(moment, language)
    return service_id, values


def _headline(kind: str, params: dict) -> str:
    if kind == "demarche_step":
        return _("Votre démarche passe à l'étape « %(step)s »") % {"step": params.get("step", "")}
    if kind == "demarche_document":
        return _("Un nouveau document est disponible pour l'une de vos démarches")
    if kind == "demarche_closed":
        return _("L'une de vos démarches est terminée")
    return _("Vous avez un nouveau message dans votre espace Guichet")


def render(channel: str, link: str, kind: str = "", params: dict | None = None) -> tuple[str, str]:
    """(subject, text) of a notification. Fixed wording: never any content of the case (for a
    démarche, the name of the step reached)."""
    with override(settings.LANGUAGE_CODE):
        headline = _headline(kind, params or {})
        if channel == Notification.NotificationChannel.SMS:
            return "", f"{headline} : {link}"
        text = "\n".join(
            [
                _("Bonjour,"),
                "",
                f"{headline}.",
                _("Pour le consulter, connectez-vous : %(link)s") % {"link": link},
                "",
                _(
                    "Ce courriel est envoyé automatiquement, merci de ne pas y répondre. "
                    "Vous pouvez changer vos préférences d'alerte dans votre espace."
                ),
            ]
        )
        return headline, text


def _address(user: User, channel: str, kind: str = "", preference=preferences.UNREAD) -> str:
    if kind and not preferences.allows(user, kind, channel, preference):
        return ""  # the citizen turned this category off on this channel
    if channel == Notification.NotificationChannel.EMAIL:
        return user.email if user.notify_email and user.email_reachable else ""
    if user.notify_sms and user.mobile_phone:
        try:
            return phones.parse_mobile(user.mobile_phone)
        except ValidationError:
            return ""  # no SMS to a number that is not a French mobile
    return ""


def queue_code_sms(
    citizen_id: int, text: str, key: str, *, kind: str = "code"
) -> Notification | None:
    """One SMS with a one-time code to the citizen's mobile, whatever their alert choices
    (the code is asked for by the citizen, on that number). None without a French mobile, or
    when the key was already queued."""
    citizen = User.objects.filter(pk=citizen_id, is_active=True).first()
    if citizen is None or not citizen.mobile_phone:
        return None
    try:
        address = phones.parse_mobile(citizen.mobile_phone)
    except ValidationError:
        return None
    try:
        with transaction.atomic():
            return Notification.objects.create(
                recipient=citizen,
                channel=Notification.NotificationChannel.SMS,
                kind=kind[:32],
                address=address,
                text=text,
                idempotency_key=f"{kind}:{key}"[:128],
                next_attempt_at=timezone.now(),
            )
    except IntegrityError:
        return None


def queue_for_citizen(
    citizen_id: int,
    case_id: int | None,
    kind: str,
    key: str = "",
    params: dict | None = None,
) -> list:
    """Write the outbox rows for one notification (one per chosen channel).

    Idempotent: the key (explicit, or derived from the case's last activity) is unique per
    channel, so the same signal delivered twice queues once. A pending row for the same case and
    channel absorbs a new one: three quick replies make one alert, not three.
    """
    try:
        citizen = User.objects.get(pk=citizen_id)
    except User.DoesNotExist:
        return []
    if not citizen.is_active:
        return []
    case = Case.objects.select_related("service").filter(pk=case_id).first() if case_id else None
    if case_id and case is None:
        return []
    preference = preferences.preference_of(citizen)  # read once for every channel
    return _insert_each(_rows_for(citizen, preference, case, kind, key, params or {}, {}))


def _insert_each(rows: list[Notification]) -> list[Notification]:
    """Insert the rows one by one, skipping those whose key is already queued (an earlier
    delivery of the same signal)."""
    created = []
    for row in rows:
        try:
            with transaction.atomic():
                row.pk = None
                row.save(force_insert=True)
                created.append(row)
        except IntegrityError:
            continue
    return created


@dataclass(frozen=True)
class Notice:
    """One alert of ``queue_many`` (a case-free one: a démarche's)."""

    citizen_id: int
    kind: str
    key: str
    params: dict


def queue_many(notices: list[Notice]) -> list[Notification]:
    """The outbox rows of several case-free alerts (a batch of démarche pushes), as
    ``queue_for_citizen`` writes them one by one: the citizens, their preferences and the
    services' templates read once, the rows written in one INSERT (an alert already queued
    under its key is skipped). In the caller's transaction."""
    ids = {notice.citizen_id for notice in notices}
    citizens = {user.pk: user for user in User.objects.filter(pk__in=ids, is_active=True)}
    chosen = {row.user_id: row for row in AlertPreference.objects.filter(user__in=list(citizens))}
    texts: dict = {}
    rows = [
        row
        for notice in notices
        if notice.citizen_id in citizens
        for row in _rows_for(
            citizens[notice.citizen_id],
            chosen.get(notice.citizen_id),
            None,
            notice.kind,
            notice.key,
            notice.params,
            texts,
        )
    ]
    if not rows:
        return []
    try:
        with transaction.atomic():
            return Notification.objects.bulk_create(rows)
    except IntegrityError:
        return _insert_each(rows)  # some already queued: one row at a time, skipping those


def _rows_for(
    citizen: User,
    preference,
    case: Case | None,
    kind: str,
    key: str,
    params: dict,
    texts: dict,
) -> list[Notification]:
    """The unsaved outbox rows of one alert, one per channel the citizen chose. ``texts``
    keeps the templates read, for the next alerts of the same call."""
    marker = key or (
        f"{case.pk}:{case.last_activity_at.timestamp():.6f}" if case else timezone.now().isoformat()
    )
    rows = []
    language = citizen_language(citizen, preference)
    for channel in Notification.NotificationChannel.values:
        address = _address(citizen, channel, kind, preference)
        if not address:
            continue
        if (
            kind not in DISTINCT_KINDS
            and Notification.objects.filter(
                recipient=citizen, case=case, channel=channel, status=Notification.Status.PENDING
            )
            .exclude(kind__in=DISTINCT_KINDS)
            .exists()
        ):
            continue
        link = (
            settings.SITE_URL + reverse("demarches:list")
            if kind in DEMARCHE_KINDS
            else case_link(case)
        )
        own_link = params.get("link") if kind in OWN_LINK_KINDS else None
        if own_link:
            link = str(own_link)  # the signed survey link, the appointment's page
        if kind in templates.EVENTS:
            service_id, values = template_values(case, kind, params, link, language)
            which = (service_id, kind, channel, language)
            if which not in texts:
                texts[which] = template_text(*which)
            subject_text, body_text = texts[which]
            subject, text = templates.render(subject_text, body_text, channel, language, values)
        else:
            subject, text = render(channel, link, kind, params)
        unsubscribe = preferences.unsubscribe_url(citizen.pk, kind)
        if channel == Notification.NotificationChannel.EMAIL and unsubscribe:
            with override(language):
                text += "\n" + _("Ne plus recevoir ces alertes par courriel : %(link)s") % {
                    "link": unsubscribe
                }
        now = timezone.now()
        rows.append(
            Notification(
                recipient=citizen,
                channel=channel,
                kind=kind[:32],
                case=case,
                address=address,
                subject=subject,
                text=text,
                idempotency_key=f"{kind}:{marker}:{channel}"[:128],
                next_attempt_at=quiet_until(channel, kind, now) or now,
                files=email_files(params) if channel == "email" else [],
            )
        )
    return rows


@dataclass(frozen=True)
class Outcome:
    status: str  # "sent", "retry", "failed", "cancelled", "skipped", "deferred"
    retry_in: int | None = None


def deliver(notification_id: int) -> Outcome:
    """Claim one outbox row, send it, record the result. Safe to run twice or concurrently:
    only the worker whose conditional update claimed the row sends it.
    """
    now = timezone.now()
    if not outbox.claim(Notification.objects.all(), notification_id, now):
        return Outcome("skipped")  # sent, being sent by another worker, or not yet due
    notification = Notification.objects.select_related("recipient", "case").get(pk=notification_id)
    mine = Notification.objects.filter(
        pk=notification_id, status=Notification.Status.SENDING, claimed_at=now
    )

    # A retry falling in the quiet hours waits for the morning (the attempt is not counted).
    morning = quiet_until(notification.channel, notification.kind, now)
    if morning is not None:
        mine.update(
            status=Notification.Status.PENDING,
            next_attempt_at=morning,
            claimed_at=None,
            attempts=F("attempts") - 1,
        )
        return Outcome("deferred")

    # Preferences may have changed since the row was queued: honour the current ones.
    address = _address(notification.recipient, notification.channel, notification.kind)
    if not address or not notification.recipient.is_active:
        mine.update(status=Notification.Status.CANCELLED, last_error="preference withdrawn")
        return Outcome("cancelled")
    if address != notification.address:
        notification.address = address
        mine.update(address=address)

    try:
        provider_id = get_transport(notification.channel).send(notification)
    except PermanentTransportError as exc:
        mine.update(status=Notification.Status.FAILED, last_error=str(exc)[:2000])
        logger.warning("Notification %s failed permanently: %s", notification_id, exc)
        return Outcome("failed")
    except Exception as exc:  # noqa: BLE001 - any transport error is retried with backoff
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if notification.attempts >= max_attempts():
            mine.update(status=Notification.Status.FAILED, last_error=error)
            logger.error(
                "Notification %s abandoned after %s attempts: %s",
                notification_id,
                notification.attempts,
                error,
            )
            return Outcome("failed")
        delay = backoff_seconds(notification.attempts)
        mine.update(
            status=Notification.Status.PENDING,
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=error,
        )
        logger.warning(
            "Notification %s attempt %s failed, retry in %ss: %s",
            notification_id,
            notification.attempts,
            delay,
            error,
        )
        return Outcome("retry", retry_in=delay)

    sent_at = timezone.now()
    with transaction.atomic():
        updated = mine.update(
            status=Notification.Status.SENT,
            sent_at=sent_at,
            provider_id=str(provider_id or "")[:200],
            last_error="",
        )
        if updated == 1 and notification.case is not None:
            add_event(
                notification.case,
                Event.Type.NOTIFICATION,
                channel=Channel.EMAIL
                if notification.channel == Notification.NotificationChannel.EMAIL
                else notification.case.channel,
                internal=True,
                payload={
                    "notification": notification.pk,
                    "channel": notification.channel,
                    "kind": notification.kind,
                },
                at=sent_at,
            )
    return Outcome("sent")


def release_stale_claims(now=None) -> int:
    """Rows left "sending" past the lease belonged to a worker that died: make them due again."""
    return outbox.release_stale_claims(Notification.objects.all(), SENDING_LEASE, now)


def due_ids(now=None, limit: int = FLUSH_BATCH) -> list[int]:
    return outbox.due_ids(Notification.objects.all(), now, limit)
