"""What business systems (API clients) and citizens do with démarches: validate, then act.

Every change writes one history row (``DemarcheStep``: who, when, which step, an optional note
or document) in the same transaction as the change itself, the webhook outbox rows of the
démarche's service (``accounts.webhooks.enqueue_events``) and, for a new step, a document or
the end, the outbox row of the citizen's content-free alert (``citizen_notifications``, sent
inside the transaction: messaging writes the row there and queues its sending after commit).
``demarches.batch`` does the same for many pushes at once. Domain errors: ``NotFound``
(unknown citizen, démarche or type of another service), ``InvalidState`` (closed démarche,
reference already used), ``ValidationError`` (a step the type does not have, with the allowed
ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, FilteredRelation, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import webhooks
from accounts.models import ApiClient, OidcIdentity, WebhookEndpoint
from contactcenter.attachments import CheckedFile
from contactcenter.exceptions import InvalidState, NotFound
from contactcenter.models import User
from contactcenter.signals import citizen_notification, citizen_notifications

from .models import MAX_ACTION_REMINDERS, Demarche, DemarcheStep, DemarcheType, DemarcheTypeStep

EventType = WebhookEndpoint.EventType
NOTE_MAX_CHARS = 1000
# Identifiers a business system may name a citizen by (exactly one per request).
CITIZEN_IDENTIFIERS = ("franceconnect_sub", "tax_number", "social_number")


@dataclass(frozen=True)
class Actor:
    """Who writes: an API client (its technical account) or the citizen."""

    user: User
    client: ApiClient | None = None


def find_citizen(identifier: str, value: str) -> User:
    """The active citizen named by a FranceConnect ``sub``, a tax number or a social security
    number; ``NotFound`` when none (or several: an identifier must name one person)."""
    value = value.strip()
    citizens = User.objects.filter(role=User.Role.CITIZEN, is_active=True)
    if identifier == "franceconnect_sub":
        citizens = citizens.filter(
            oidc_identities__provider=OidcIdentity.Provider.FRANCECONNECT,
            oidc_identities__sub=value,
        )
    elif identifier == "tax_number":
        citizens = citizens.filter(tax_number=value.replace(" ", ""))
    elif identifier == "social_number":
        citizens = citizens.filter(social_number=value.replace(" ", ""))
    else:
        raise ValueError(identifier)
    found = list(citizens[:2]) if value else []
    if len(found) != 1:
        raise NotFound(_("Aucun usager ne correspond à cet identifiant."))
    return found[0]


def types_of(client: ApiClient) -> QuerySet[DemarcheType]:
    return DemarcheType.objects.filter(
        is_active=True, service__in=client.services.values("pk")
    ).select_related("service")


def get_type(client: ApiClient, code: str) -> DemarcheType:
    demarche_type = types_of(client).filter(code=code).first()
    if demarche_type is None:
        raise NotFound(
            _("Type de démarche inconnu pour ce client : « %(code)s ».") % {"code": code}
        )
    return demarche_type


def get_demarche(
    client: ApiClient, type_code: str, reference: str, *, lock: bool = False, step: str = ""
) -> Demarche:
    """The client's démarche of that type and reference (another client's is not found).
    With ``step``, the type's step of that code is read in the same statement
    (``demarche.target_step``, None when the type has none of that code)."""
    rows = Demarche.objects.select_related("type__service", "current_step")
    if lock:
        rows = rows.select_for_update(of=("self",))
    if step:
        rows = rows.annotate(
            target_step=FilteredRelation("type__steps", condition=Q(type__steps__code=step))
        ).select_related("target_step")  # type: ignore[misc]  # an alias the stubs miss
    demarche = rows.filter(
        client=client, type__code=type_code, external_reference=reference
    ).first()
    if demarche is None:
        raise NotFound(_("Démarche introuvable."))
    return demarche


def target_step(demarche: Demarche, code: str) -> DemarcheTypeStep:
    """The step read with the démarche (``get_demarche(step=code)``), or a 400 listing the
    type's steps."""
    target = getattr(demarche, "target_step", None)
    return target if target is not None else step_of(demarche.type, code)


def step_of(demarche_type: DemarcheType, code: str, field: str = "step") -> DemarcheTypeStep:
    """The type's step of that code, or a 400 listing the allowed steps."""
    steps = list(demarche_type.steps.all())
    for step in steps:
        if step.code == code:
            return step
    raise unknown_step(demarche_type.code, code, steps, field)


def unknown_step(
    type_code: str, code: str, steps: list[DemarcheTypeStep], field: str = "step"
) -> ValidationError:
    """The 400 of a step the type does not have, listing its ``steps``."""
    allowed = ", ".join(step.code for step in steps)
    return ValidationError(
        {
            field: _(
                "Étape inconnue pour le type « %(type)s » : « %(code)s ». Étapes possibles : "
                "%(allowed)s."
            )
            % {"type": type_code, "code": code, "allowed": allowed}
        },
        code="unknown_step",
    )


def check_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ValidationError(
            {
                "note": _("%(count)s caractères : %(max)s au plus.")
                % {"count": len(note), "max": NOTE_MAX_CHARS}
            },
            code="too_long",
        )
    return note


# --- Writing -------------------------------------------------------------------------------


def create_demarche(
    client: ApiClient,
    citizen: User,
    type_code: str,
    reference: str,
    *,
    step: str = "",
    note: str = "",
) -> Demarche:
    demarche_type = get_type(client, type_code)
    note = check_note(note)
    first = step_of(demarche_type, step) if step else demarche_type.steps.first()
    if first is None:
        raise ValidationError({"type": _("Ce type de démarche n'a aucune étape.")})
    now = timezone.now()
    try:
        with transaction.atomic():
            demarche = Demarche.objects.create(
                citizen=citizen,
                type=demarche_type,
                client=client,
                external_reference=reference,
                current_step=first,
                created_at=now,
                updated_at=now,
                step_reached_at=now,
            )
    except IntegrityError:
        raise InvalidState(
            _("Une démarche de ce type porte déjà la référence « %(reference)s ».")
            % {"reference": reference}
        ) from None
    entry = _record(demarche, DemarcheStep.Kind.CREATED, first, client.account, note, now)
    _webhook(demarche, EventType.DEMARCHE_CREATED, entry, {})
    _notify(demarche, entry)
    return demarche


def move_to_step(
    client: ApiClient, type_code: str, reference: str, step: str, note: str = ""
) -> tuple[Demarche, bool]:
    """Move the démarche to a step of its type. Returns (démarche, changed): moving to the
    current step again changes nothing (a repeated push writes no second history row)."""
    note = check_note(note)
    with transaction.atomic():
        demarche = get_demarche(client, type_code, reference, lock=True, step=step)
        target = target_step(demarche, step)
        if demarche.is_closed:
            raise InvalidState(_("Cette démarche est terminée."))
        if target.pk == demarche.current_step_id:
            return demarche, False
        _advance(demarche, target, client.account, note, closing=False)
    return demarche, True


def add_document(
    client: ApiClient, type_code: str, reference: str, document: CheckedFile, note: str = ""
) -> DemarcheStep:
    """A document from the business system (already checked by ``check_upload``)."""
    note = check_note(note)
    with transaction.atomic():
        demarche = get_demarche(client, type_code, reference, lock=True)
        if demarche.is_closed:
            raise InvalidState(_("Cette démarche est terminée."))
        entry = _store_document(
            demarche, DemarcheStep.Kind.DOCUMENT, client.account, document, note
        )
        _notify(demarche, entry)
    return entry


def close_demarche(
    client: ApiClient, type_code: str, reference: str, step: str = "", note: str = ""
) -> Demarche:
    """End the démarche, optionally at a last step of its type (409 when already ended)."""
    note = check_note(note)
    with transaction.atomic():
        demarche = get_demarche(client, type_code, reference, lock=True, step=step)
        target = target_step(demarche, step) if step else demarche.current_step
        if demarche.is_closed:
            raise InvalidState(_("Cette démarche est déjà terminée."))
        _advance(demarche, target, client.account, note, closing=True)
    return demarche


def _advance(
    demarche: Demarche, target: DemarcheTypeStep, actor: User, note: str, *, closing: bool
) -> DemarcheStep:
    """Move a locked démarche to ``target`` (and end it when ``closing``): the row, its history
    entry, the webhook and the citizen's alert, in the caller's transaction."""
    previous = demarche.current_step
    now = timezone.now()
    fields = apply_step(demarche, target, now, closing=closing)
    demarche.save(update_fields=fields)
    kind = DemarcheStep.Kind.CLOSED if closing else DemarcheStep.Kind.STEP
    entry = _record(demarche, kind, target, actor, note, now)
    webhooks.enqueue_events([webhook_event(demarche, entry, previous)])
    _notify(demarche, entry)
    return entry


def apply_step(
    demarche: Demarche, target: DemarcheTypeStep, now: datetime, *, closing: bool
) -> list[str]:
    """Set a démarche's fields for reaching ``target`` (and its end when ``closing``), in
    memory; returns the fields to save."""
    demarche.current_step = target
    demarche.updated_at = now
    if closing:
        demarche.closed_at = now
        return ["current_step", "updated_at", "closed_at"]
    # A new step: its reminders ("action attendue") count from now.
    demarche.step_reached_at = now
    demarche.action_reminders_sent = 0
    return ["current_step", "updated_at", "step_reached_at", "action_reminders_sent"]


def citizen_document(citizen: User, public_id: str, document: CheckedFile) -> DemarcheStep:
    """The citizen sends the document a step asks for (a step needing an action without a
    link of its own). The business system learns it by ``demarche.document_received``."""
    with transaction.atomic():
        demarche = (
            Demarche.objects.select_for_update(of=("self",))
            .select_related("type__service", "current_step")
            .filter(public_id=public_id, citizen=citizen)
            .first()
        )
        if demarche is None:
            raise NotFound(_("Démarche introuvable."))
        if not demarche.accepts_document:
            raise InvalidState(_("Cette démarche n'attend pas de document de votre part."))
        entry = _store_document(demarche, DemarcheStep.Kind.CITIZEN_DOCUMENT, citizen, document, "")
        # The citizen acted: no more "action attendue" reminders for this step.
        Demarche.objects.filter(pk=demarche.pk).update(action_reminders_sent=MAX_ACTION_REMINDERS)
        _webhook(
            demarche,
            EventType.DEMARCHE_DOCUMENT_RECEIVED,
            entry,
            {
                "document": {
                    "id": str(entry.public_id),
                    "content_type": entry.document_type,
                    "size": entry.document_size,
                    "sha256": entry.document_sha256,
                    "url": settings.SITE_URL
                    + reverse(
                        "demarches-api:document",
                        args=[demarche.type.code, demarche.external_reference, entry.public_id],
                    ),
                }
            },
        )
    return entry


def _record(
    demarche: Demarche,
    kind: str,
    step: DemarcheTypeStep,
    actor: User,
    note: str,
    at: datetime,
) -> DemarcheStep:
    return DemarcheStep.objects.create(
        demarche=demarche, kind=kind, step=step, actor=actor, note=note, created_at=at
    )


def _store_document(
    demarche: Demarche, kind: str, actor: User, document: CheckedFile, note: str
) -> DemarcheStep:
    now = timezone.now()
    entry = DemarcheStep(
        demarche=demarche,
        kind=kind,
        step=demarche.current_step,
        actor=actor,
        note=note,
        document_name=document.name,
        document_type=document.content_type,
        document_size=document.size,
        document_sha256=document.sha256,
        created_at=now,
    )
    entry.document.save(entry.document_extension, document.as_file(), save=False)
    try:
        entry.save()
    except BaseException:
        entry.document.storage.delete(entry.document.name)
        raise
    Demarche.objects.filter(pk=demarche.pk).update(updated_at=now)
    demarche.updated_at = now
    return entry


# --- Events --------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def demarche_data(demarche: Demarche) -> dict[str, Any]:
    """What a webhook says of a démarche: references, never the citizen."""
    return {
        "id": str(demarche.public_id),
        "type": demarche.type.code,
        "reference": demarche.external_reference,
        "service": demarche.type.service.code,
        "step": demarche.current_step.code,
        "closed_at": _iso(demarche.closed_at) if demarche.closed_at else None,
        "url": settings.SITE_URL
        + reverse("demarches-api:detail", args=[demarche.type.code, demarche.external_reference]),
    }


def _webhook(demarche: Demarche, event_type: str, entry: DemarcheStep, data: dict) -> None:
    webhooks.enqueue_events([_event(demarche, event_type, entry, data)])


def _event(
    demarche: Demarche,
    event_type: str,
    entry: DemarcheStep,
    data: dict,
    state: dict[str, Any] | None = None,
) -> webhooks.ServiceEvent:
    return webhooks.ServiceEvent(
        demarche.type.service_id,
        event_type,
        f"demarche:{entry.pk}",
        {
            "demarche": state or demarche_data(demarche),
            "history": {"id": str(entry.public_id)},
            **data,
        },
        entry.created_at,
    )


def webhook_event(
    demarche: Demarche,
    entry: DemarcheStep,
    previous: DemarcheTypeStep,
    state: dict[str, Any] | None = None,
) -> webhooks.ServiceEvent:
    """The webhook event of a step change or an end (``entry``, saved), from ``previous``;
    ``state``: the démarche as ``demarche_data`` gave it right after that change (default:
    now)."""
    closing = entry.kind == DemarcheStep.Kind.CLOSED
    event_type = EventType.DEMARCHE_CLOSED if closing else EventType.DEMARCHE_STEP_CHANGED
    step = {"step": {"from": previous.code, "to": entry.step.code}}
    return _event(demarche, event_type, entry, step, state)


def _alert_params(demarche: Demarche, step: DemarcheTypeStep) -> dict[str, Any]:
    """What an alert may say of a démarche: references and names, never a note."""
    return {
        "step": step.label,
        "step_en": step.label_en,
        "reference": demarche.external_reference,
        "service": demarche.type.service.name,
        "service_id": demarche.type.service_id,
    }


def due_action_reminders(now: datetime | None = None) -> list[tuple[int, int]]:
    """(démarche id, reminder number) of the "action attendue" reminders due at ``now``:
    open démarches whose current step expects the citizen, reached ``action_reminder_days``
    days ago per reminder already sent + 1, with fewer reminders sent than their type allows."""
    now = now or timezone.now()
    candidates = (
        Demarche.objects.filter(
            closed_at__isnull=True,
            current_step__requires_action=True,
            step_reached_at__isnull=False,
            type__action_reminder_days__gt=0,
            action_reminders_sent__lt=F("type__action_reminders"),
        )
        .values_list("pk", "step_reached_at", "action_reminders_sent", "type__action_reminder_days")
        .order_by("pk")
    )
    due = []
    for pk, reached, sent, days in candidates.iterator(chunk_size=1000):
        if reached is not None and reached + timedelta(days=days * (sent + 1)) <= now:
            due.append((pk, sent + 1))
    return due


def send_action_reminder(demarche_id: int, number: int) -> bool:
    """Send reminder ``number`` of a démarche's current step, once: the counter is claimed with
    a conditional update (a second run, or a step changed meanwhile, sends nothing); the alert
    goes out after commit. True when this call sent it."""
    with transaction.atomic():
        demarche = (
            Demarche.objects.select_related("type__service", "current_step")
            .filter(pk=demarche_id, closed_at__isnull=True, current_step__requires_action=True)
            .first()
        )
        if demarche is None or demarche.step_reached_at is None:
            return False
        claimed = Demarche.objects.filter(
            pk=demarche_id,
            current_step=demarche.current_step,
            step_reached_at=demarche.step_reached_at,
            action_reminders_sent=number - 1,
        ).update(action_reminders_sent=number)
        if claimed != 1:
            return False
        params = {**_alert_params(demarche, demarche.current_step)}
        params["at"] = demarche.step_reached_at.isoformat()
        citizen_id = demarche.citizen_id
        key = f"demarche-reminder:{demarche.pk}:{demarche.step_reached_at.timestamp():.0f}:{number}"
        transaction.on_commit(
            lambda: citizen_notification.send(
                sender=Demarche,
                citizen_id=citizen_id,
                case_id=None,
                kind="demarche_action_reminder",
                key=key,
                params=params,
            )
        )
    return True


def _notify(demarche: Demarche, entry: DemarcheStep) -> None:
    """The citizen's alert, its outbox row written in the caller's transaction (sent after
    commit): the step's name only ("votre démarche passe à l'étape …"), never a note or a
    document."""
    notify([notice(demarche, entry)])


def notice(demarche: Demarche, entry: DemarcheStep) -> dict[str, Any]:
    """The citizen's alert of a history entry, as ``citizen_notifications`` takes it."""
    kind = {
        DemarcheStep.Kind.CLOSED: "demarche_closed",
        DemarcheStep.Kind.DOCUMENT: "demarche_document",
    }.get(DemarcheStep.Kind(entry.kind), "demarche_step")
    if kind == "demarche_step" and entry.step.requires_action:
        kind = "demarche_action"
    return {
        "citizen_id": demarche.citizen_id,
        "kind": kind,
        "key": f"demarche:{entry.pk}",
        "params": _alert_params(demarche, entry.step),
    }


def notify(notices: list[dict[str, Any]]) -> None:
    """Write the alerts' outbox rows in the caller's transaction (messaging queues their
    sending after commit, one task for all)."""
    if notices:
        citizen_notifications.send(sender=Demarche, notices=notices)


# --- Reading -------------------------------------------------------------------------------


def citizen_demarches(citizen: User) -> QuerySet[Demarche]:
    return (
        Demarche.objects.filter(citizen=citizen)
        .select_related("type__service", "current_step")
        .prefetch_related("history__step")
        .order_by(F("closed_at").asc(nulls_first=True), "-updated_at", "-id")
    )


def staff_demarches(agent: User, citizen: User) -> list[Demarche]:
    """A citizen's démarches of the agent's services (all for administrators), current first,
    for the workstation's citizen panel."""
    from contactcenter.permissions import user_service_ids

    rows = Demarche.objects.filter(citizen=citizen).select_related("type", "current_step")
    if not agent.is_admin_role:
        rows = rows.filter(type__service_id__in=user_service_ids(agent))
    return list(rows.order_by(F("closed_at").asc(nulls_first=True), "-updated_at", "-id")[:10])
