"""Agents' presence (status, heartbeats, offline sweep), capacities and skills.

"Occupé" (busy) is derived: an available agent in at least one live contact. An agent without
a heartbeat for ``OFFLINE_AFTER`` goes offline (``auto_offline``) and the next heartbeat gives
their status back; the live contacts of an agent offline for ``REQUEUE_GRACE`` go back to the
head of their queues.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactcenter.models import AgentProfile, Case, Channel, Service, Skill, User
from contactcenter.permissions import user_service_ids

from .actions import requeue_case
from .availability import refresh_all, schedule_availability_refresh
from .capacity import CHANNEL_GROUPS, agent_group, agent_loads, lock_presence
from .engine import sweep_queues
from .models import CAPACITY_MAX, AgentPresence
from .publish import group_send, queue_task
from .sla import flag_sla_breaches

OFFLINE_AFTER = timedelta(seconds=60)
REQUEUE_GRACE = timedelta(seconds=30)

STATUS_ALIASES = {
    "disponible": AgentPresence.Status.AVAILABLE,
    "en pause": AgentPresence.Status.PAUSED,
    "hors ligne": AgentPresence.Status.OFFLINE,
}


def _parse_status(status: str) -> str:
    value = STATUS_ALIASES.get(str(status).strip().lower(), str(status))
    if value not in AgentPresence.Status.values:
        raise ValidationError(
            {"status": [_("Statut inconnu : choisissez disponible, en pause ou hors ligne.")]},
            code="invalid_status",
        )
    return value


def _check_can_manage(by: User | None, agent: User) -> None:
    if by is None or by.pk == agent.pk or by.is_admin_role:
        return
    if not by.is_supervisor or not set(user_service_ids(by)) & set(user_service_ids(agent)):
        raise ValidationError(
            _("Vous ne supervisez pas les services de cet agent."), code="forbidden"
        )


def set_status(
    agent: User, status: str, *, by: User | None = None, reason: str = ""
) -> AgentPresence:
    """Set an agent's status (disponible / en pause / hors ligne; "occupé" is derived), with
    the reason of a pause (``AgentPresence.PauseReason``, optional; ignored otherwise).

    Becoming available starts assignment for the agent; going offline gives their chats back
    to the head of the queue after a 30 s grace period. Runs in a transaction with the
    presence row locked.
    """
    if not agent.is_agent:
        raise ValidationError(_("Seuls les agents ont un statut de présence."), code="not_agent")
    _check_can_manage(by, agent)
    status = _parse_status(status)
    if reason and reason not in AgentPresence.PauseReason.values:
        raise ValidationError(
            {"reason": [_("Motif de pause inconnu.")]}, code="invalid_pause_reason"
        )
    reason = reason if status == AgentPresence.Status.PAUSED else ""
    now = timezone.now()
    with transaction.atomic():
        presence = lock_presence(agent.pk)
        changed = presence.status != status
        presence.auto_offline = False
        presence.resume_status = ""
        presence.pause_reason = reason
        if status != AgentPresence.Status.OFFLINE:
            # The agent just acted in the console: they are present now, whatever an earlier
            # session's last heartbeat says (else the sweep would put them offline at once).
            presence.last_heartbeat = now
        if changed:
            presence.status = status
            presence.status_since = now
            if status == AgentPresence.Status.AVAILABLE:
                presence.idle_since = now
                # A fresh heartbeat window: the console's socket may connect a moment later.
                presence.last_heartbeat = now
        presence.save()
        if changed:
            _after_status_change(presence, by=by)
    return presence


def _after_status_change(presence: AgentPresence, *, by: User | None = None) -> None:
    agent_id, status = presence.user_id, presence.status
    if status == AgentPresence.Status.AVAILABLE:
        queue_task("assign_agent", agent_id)
    elif status == AgentPresence.Status.OFFLINE:
        queue_task(
            "requeue_offline_contacts",
            agent_id,
            countdown=REQUEUE_GRACE.total_seconds(),
        )
    transaction.on_commit(
        lambda: group_send(
            agent_group(agent_id),
            {"type": "presence.status", "status": status, "by": by.pk if by else None},
        )
    )
    schedule_availability_refresh(agent_id=agent_id)


def heartbeat(agent_id: int) -> AgentPresence | None:
    """Record a console heartbeat. An agent the sweep put offline gets their status back."""
    now = timezone.now()
    updated = AgentPresence.objects.filter(pk=agent_id, auto_offline=False).update(
        last_heartbeat=now
    )
    if updated:
        return None
    with transaction.atomic():
        presence = lock_presence(agent_id)
        presence.last_heartbeat = now
        if presence.auto_offline:
            presence.status = presence.resume_status or AgentPresence.Status.AVAILABLE
            presence.status_since = now
            presence.idle_since = now
            presence.auto_offline = False
            presence.resume_status = ""
            presence.save()
            _after_status_change(presence)
        else:
            presence.save(update_fields=["last_heartbeat"])
    return presence


def sweep_presence(now: datetime | None = None) -> list[int]:
    """Switch agents without heartbeat for 60 s to offline (beat). Returns their ids.

    Each switch is a conditional update on the status and heartbeat seen, so a heartbeat that
    arrives meanwhile wins. Idempotent.
    """
    now = now or timezone.now()
    limit = now - OFFLINE_AFTER
    stale = AgentPresence.objects.exclude(status=AgentPresence.Status.OFFLINE).filter(
        Q(last_heartbeat__lt=limit) | Q(last_heartbeat__isnull=True, status_since__lt=limit)
    )
    switched = []
    for presence in stale:
        with transaction.atomic():
            updated = AgentPresence.objects.filter(
                pk=presence.pk, status=presence.status, last_heartbeat=presence.last_heartbeat
            ).update(
                status=AgentPresence.Status.OFFLINE,
                status_since=now,
                auto_offline=True,
                resume_status=presence.status,
            )
            if updated == 1:
                presence.status = AgentPresence.Status.OFFLINE
                _after_status_change(presence)
                switched.append(presence.pk)
    return switched


def requeue_offline_contacts(agent_id: int, now: datetime | None = None) -> list[int]:
    """Give back the live contacts of an agent offline for at least the grace period.

    Chats (any open status) go to the head of their queue; callbacks not yet started go back
    too; web-message cases stay assigned (a supervisor can reassign them). Idempotent.
    """
    now = now or timezone.now()
    presence = AgentPresence.objects.filter(pk=agent_id).first()
    if presence is None or presence.status != AgentPresence.Status.OFFLINE:
        return []
    if now - presence.status_since < REQUEUE_GRACE:
        return []  # too early (eager Celery ignores countdowns): the beat sweep retries
    cases = Case.objects.filter(assigned_to_id=agent_id).filter(
        Q(channel__in=CHANNEL_GROUPS["chat"], status__in=Case.OPEN_STATUSES)
        | Q(channel=Channel.CALLBACK, status=Case.Status.ASSIGNED)
    )
    return [case.pk for case in cases if requeue_case(case, head=True)]


SWEEP_MARKER_KEY = "routing:embedded-sweeps"
SWEEP_EVERY_SECONDS = 15


def run_sweeps_if_due() -> bool:
    """Embedded mode (eager Celery, no beat): run the periodic routing work at most every 15 s,
    piggybacking on agents' heartbeats. No-op when real workers and beat run."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return False
    if not cache.add(SWEEP_MARKER_KEY, 1, timeout=SWEEP_EVERY_SECONDS):
        return False
    # What the beat tasks run (routing.tasks).
    sweep_presence()
    sweep_offline_contacts()
    sweep_queues()
    flag_sla_breaches()
    refresh_all()
    return True


def sweep_offline_contacts(now: datetime | None = None) -> list[int]:
    """Beat safety net: requeue live contacts still held by agents offline past the grace."""
    now = now or timezone.now()
    agent_ids = (
        Case.objects.filter(
            assigned_to__presence__status=AgentPresence.Status.OFFLINE,
            assigned_to__presence__status_since__lte=now - REQUEUE_GRACE,
        )
        .filter(
            Q(channel__in=CHANNEL_GROUPS["chat"], status__in=Case.OPEN_STATUSES)
            | Q(channel=Channel.CALLBACK, status=Case.Status.ASSIGNED)
        )
        .values_list("assigned_to_id", flat=True)
        .distinct()
    )
    requeued = []
    for agent_id in agent_ids:
        requeued += requeue_offline_contacts(agent_id, now=now)
    return requeued


def effective_status(presence: AgentPresence | None, loads: dict[str, int] | None = None) -> str:
    """Displayed status: "busy" (occupé) when available and in at least one live contact
    (chat, phone or callback); the chosen status otherwise."""
    if presence is None:
        return AgentPresence.Status.OFFLINE
    if presence.status != AgentPresence.Status.AVAILABLE:
        return presence.status
    loads = loads if loads is not None else agent_loads(presence.user_id)
    in_contact = any(loads.get(group, 0) > 0 for group in ("chat", "phone"))
    return "busy" if in_contact else presence.status


STATUS_DISPLAY = {
    "available": gettext_lazy("Disponible"),
    "busy": gettext_lazy("Occupé"),
    "paused": gettext_lazy("En pause"),
    "offline": gettext_lazy("Hors ligne"),
}


# --- Capacity -----------------------------------------------------------------------------------


def set_capacity(
    agent: User,
    *,
    by: User,
    chat: int | str | None = None,
    phone: int | str | None = None,
    web: int | str | None = None,
) -> AgentPresence:
    """Change an agent's capacity per channel (supervisor of one of the agent's services).

    Chat and phone accept 0-10, web messages 0-50. Lowering a capacity never unassigns: the
    agent simply gets nothing new until their load is under it. Runs in a transaction with the
    presence row locked.
    """
    if not agent.is_agent:
        raise ValidationError(_("Seuls les agents ont une capacité."), code="not_agent")
    if by.pk == agent.pk or not (by.is_supervisor or by.is_admin_role):
        raise ValidationError(
            _("Seul un superviseur peut modifier la capacité d'un agent."), code="forbidden"
        )
    _check_can_manage(by, agent)
    values = {"chat": chat, "phone": phone, "web": web}
    labels = {"chat": _("tchat"), "phone": _("téléphone et rappels"), "web": _("messagerie")}
    errors: dict[str, list[str]] = {}
    clean: dict[str, int] = {}
    for group, raw in values.items():
        if raw is None or raw == "":
            continue
        try:
            number = int(str(raw).strip())
        except ValueError:
            errors[f"capacity_{group}"] = [
                _("La capacité %(label)s doit être un nombre entier.") % {"label": labels[group]}
            ]
            continue
        if not 0 <= number <= CAPACITY_MAX[group]:
            errors[f"capacity_{group}"] = [
                _("La capacité %(label)s doit être comprise entre 0 et %(max)s.")
                % {"label": labels[group], "max": CAPACITY_MAX[group]}
            ]
            continue
        clean[group] = number
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        presence = lock_presence(agent.pk)
        for group, number in clean.items():
            setattr(presence, f"capacity_{group}", number)
        presence.save()
        queue_task("assign_agent", agent.pk)
        schedule_availability_refresh(agent_id=agent.pk)
    return presence


def supervised_services(user: User) -> QuerySet[Service]:
    if user.is_admin_role:
        return Service.objects.filter(is_active=True)
    if not user.is_supervisor:
        return Service.objects.none()
    return Service.objects.filter(pk__in=user_service_ids(user))


def grantable_skills(by: User) -> QuerySet[Skill]:
    """Skills a supervisor may give: those of the topics of the services they supervise."""
    return Skill.objects.filter(topics__service__in=supervised_services(by)).distinct()


def set_agent_skills(agent: User, skills: Iterable[Skill | str], *, by: User) -> list[str]:
    """Replace the skills an agent holds within the supervisor's services (skill codes or
    Skill objects). Unknown codes and skills of other services are refused by name; skills of
    other services the agent holds are kept. Runs in a transaction."""
    if not agent.is_agent:
        raise ValidationError(_("Seuls les agents ont des compétences."), code="not_agent")
    if not (by.is_supervisor or by.is_admin_role):
        raise ValidationError(
            _("Seul un superviseur peut modifier les compétences d'un agent."), code="forbidden"
        )
    _check_can_manage(by, agent)
    codes = [s.code if isinstance(s, Skill) else str(s).strip() for s in skills]
    known = {s.code: s for s in Skill.objects.filter(code__in=codes)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValidationError(
            {"skills": [_("Compétence inconnue : « %(code)s ».") % {"code": c} for c in unknown]}
        )
    grantable = set(grantable_skills(by).values_list("pk", flat=True))
    outside = [known[c].name for c in codes if known[c].pk not in grantable]
    if outside:
        raise ValidationError(
            {
                "skills": [
                    _("La compétence « %(name)s » ne relève pas de vos services.") % {"name": n}
                    for n in outside
                ]
            }
        )
    with transaction.atomic():
        profile, _created = AgentProfile.objects.get_or_create(user=agent)
        kept = profile.skills.exclude(pk__in=grantable)
        profile.skills.set(list(kept) + [known[c] for c in codes])
        queue_task("assign_agent", agent.pk)
        schedule_availability_refresh(agent_id=agent.pk)
    return sorted(codes)


# --- SLA ---------------------------------------------------------------------------------------
