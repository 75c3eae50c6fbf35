"""Co-browsing business logic: codes, invitations, consent, presence, ending and the record.

Views and consumers only parse, check and call these functions. Every state change of a session
is a conditional update or runs under a row lock (``select_for_update``), so that two sockets,
a view and the sweeper can race without double transitions. Channel-layer notifications go out
after commit (``broadcast``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactcenter.models import Case, Channel, Event, Service, Topic, User
from contactcenter.permissions import record_access, user_services, visible_cases
from contactcenter.services import add_event, mark_first_response, open_case

from . import conf
from .models import CobrowseSession

logger = logging.getLogger(__name__)

Status = CobrowseSession.Status
EndReason = CobrowseSession.EndReason


class CobrowseError(ValidationError):
    """A refused action, with a precise French message for the person who tried it."""


class SessionUnavailable(Exception):
    """The session does not exist, is not this user's, or is no longer live."""

    def __init__(self, reason: str = ""):
        super().__init__(reason)
        self.reason = reason


# --- Channel-layer groups and notifications -----------------------------------------------------
def citizen_group(citizen_id: int) -> str:
    """Every open page of one citizen (offers and their withdrawal)."""
    return f"cobrowse.citizen.{citizen_id}"


def session_group(session_id: uuid.UUID | str, role: str) -> str:
    """The one page (role "citizen") or console (role "agent") bound to a session."""
    return f"cobrowse.session.{uuid.UUID(str(session_id)).hex}.{role}"


def broadcast(group: str, message: dict[str, Any]) -> None:
    """Send to a channel-layer group once the current transaction commits."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, message)

    transaction.on_commit(send)


def send_to_channel(channel_name: str, message: dict[str, Any]) -> None:
    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.send)(channel_name, message)

    transaction.on_commit(send)


def offer_message(session: CobrowseSession) -> dict[str, Any]:
    return {
        "type": "cobrowse.offer",
        "session": str(session.pk),
        "agent": session.agent_first_name,
        "service": session.agent_service.name if session.agent_service else "",
        "expires_at": session.expires_at.isoformat() if session.expires_at else "",
    }


def _announce_end(session: CobrowseSession) -> None:
    message = {
        "type": "cobrowse.ended",
        "session": str(session.pk),
        "reason": session.end_reason,
        "label": str(EndReason(session.end_reason).label) if session.end_reason else "",
    }
    broadcast(session_group(session.pk, "agent"), message)
    broadcast(session_group(session.pk, "citizen"), message)
    broadcast(citizen_group(session.citizen_id), {**message, "type": "cobrowse.offer_closed"})


# --- Presence: is the citizen on a page of their space right now? -------------------------------
def _presence_key(citizen_id: int) -> str:
    return f"cobrowse:online:{citizen_id}"


def mark_online(citizen_id: int) -> None:
    cache.set(_presence_key(citizen_id), 1, timeout=conf.get("PRESENCE_TTL_SECONDS"))


async def amark_online(citizen_id: int) -> None:
    await cache.aset(_presence_key(citizen_id), 1, timeout=conf.get("PRESENCE_TTL_SECONDS"))


async def amark_offline(citizen_id: int) -> None:
    """Forget one closed page's presence; the citizen's other open pages re-announce themselves
    when they get the ``cobrowse.presence_refresh`` the caller sends to the citizen's group."""
    await cache.adelete(_presence_key(citizen_id))


def is_online(citizen_id: int) -> bool:
    return bool(cache.get(_presence_key(citizen_id)))


# --- Codes and lockout -------------------------------------------------------------------------
def code_digest(code: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"cobrowse-code:{code}".encode(), hashlib.sha256
    ).hexdigest()


def normalize_code(raw: str) -> str:
    return "".join(ch for ch in (raw or "") if not ch.isspace())


def _failures_key(agent_id: int) -> str:
    return f"cobrowse:code-failures:{agent_id}"


def _lock_key(agent_id: int) -> str:
    return f"cobrowse:code-lock:{agent_id}"


def lockout_until(agent: User) -> datetime | None:
    """When the agent may try codes again, or None if not locked out."""
    until = cache.get(_lock_key(agent.pk))
    if until is None:
        return None
    until_dt = datetime.fromtimestamp(until, tz=timezone.get_current_timezone())
    if until_dt <= timezone.now():
        cache.delete(_lock_key(agent.pk))
        return None
    return until_dt


def _register_code_failure(agent: User) -> int:
    """Count one wrong code; return how many tries are left (0 = now locked out)."""
    lockout = conf.get("LOCKOUT")
    seconds = int(lockout.total_seconds())
    key = _failures_key(agent.pk)
    cache.add(key, 0, timeout=seconds)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=seconds)
        failures = 1
    remaining: int = conf.get("MAX_CODE_FAILURES") - failures
    if remaining <= 0:
        until = timezone.now() + lockout
        cache.set(_lock_key(agent.pk), until.timestamp(), timeout=seconds)
        cache.delete(key)
        logger.warning("cobrowse: agent %s locked out after too many wrong codes", agent.pk)
        return 0
    return remaining


def _format_time(value: datetime) -> str:
    return timezone.localtime(value).strftime("%H:%M")


def _lockout_error(until: datetime) -> CobrowseError:
    return CobrowseError(
        _(
            "Trop de codes erronés : la saisie est bloquée jusqu'à %(time)s. "
            "Demandez à l'usager de vous relire son code ensuite."
        )
        % {"time": _format_time(until)},
        code="locked",
    )


@transaction.atomic
def create_code(citizen: User) -> tuple[CobrowseSession, str]:
    """Give the citizen a fresh single-use 6-digit code, valid CODE_TTL.

    Runs in a transaction and locks the citizen's live session: a previous unused code or an
    unanswered invitation is withdrawn; an active share must be stopped first.
    """
    if not citizen.is_citizen:
        raise CobrowseError(_("Seul un usager peut demander un code d'aide à distance."))
    live = _lock_live_session(citizen)
    if live is not None:
        if live.status == Status.ACTIVE:
            raise CobrowseError(
                _(
                    "Un partage d'écran est déjà en cours : "
                    "arrêtez-le avant d'en demander un autre."
                ),
                code="active",
            )
        _finish(live, EndReason.REPLACED)
    now = timezone.now()
    for _attempt in range(20):
        code = f"{secrets.randbelow(10**6):06d}"
        try:
            with transaction.atomic():
                session = CobrowseSession.objects.create(
                    citizen=citizen,
                    origin=CobrowseSession.Origin.CODE,
                    status=Status.WAITING_CODE,
                    code_digest=code_digest(code),
                    created_at=now,
                    expires_at=now + conf.get("CODE_TTL"),
                )
        except IntegrityError:
            # Same digits already waiting for another citizen, or a concurrent request of this
            # citizen created its code first.
            if _lock_live_session(citizen) is not None:
                raise CobrowseError(
                    _("Une demande d'aide à distance est déjà en cours ; rechargez la page."),
                    code="conflict",
                )
            continue
        return session, code
    raise CobrowseError(_("Aucun code disponible pour le moment ; réessayez dans un instant."))


def join_with_code(agent: User, raw_code: str) -> CobrowseSession:
    """An agent enters the code the citizen read out. Single use; wrong codes count.

    Takes the row lock of the code's session in a transaction so that two agents typing the same
    code cannot both get it. Raises CobrowseError with a precise message otherwise.
    """
    if not agent.is_staff_member:
        raise CobrowseError(_("Réservé aux agents."), code="forbidden")
    until = lockout_until(agent)
    if until is not None:
        raise _lockout_error(until)
    code = normalize_code(raw_code)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise CobrowseError(_("Le code comporte exactement 6 chiffres."), code="format")
    digest = code_digest(code)
    now = timezone.now()
    outcome = None
    with transaction.atomic():
        candidates = CobrowseSession.objects.select_for_update().filter(code_digest=digest)
        session = (
            candidates.filter(status=Status.WAITING_CODE).first()
            or candidates.order_by("-created_at").first()
        )
        if session is None:
            outcome = "unknown"
        elif session.status != Status.WAITING_CODE:
            outcome = "expired" if session.end_reason == EndReason.EXPIRED else "used"
        elif session.expires_at is not None and session.expires_at <= now:
            _finish(session, EndReason.EXPIRED)
            outcome = "expired"
        else:
            session.agent = agent
            session.agent_service = _agent_service(agent, None)
            session.status = Status.OFFERED
            session.expires_at = now + conf.get("OFFER_TTL")
            session.save(update_fields=["agent", "agent_service", "status", "expires_at"])
            broadcast(citizen_group(session.citizen_id), offer_message(session))
    if outcome == "unknown":
        remaining = _register_code_failure(agent)
        if remaining == 0:
            raise _lockout_error(lockout_until(agent) or now + conf.get("LOCKOUT"))
        raise CobrowseError(
            ngettext(
                "Code inconnu. Vérifiez les 6 chiffres avec l'usager ; "
                "encore %(count)d essai avant blocage.",
                "Code inconnu. Vérifiez les 6 chiffres avec l'usager ; "
                "encore %(count)d essais avant blocage.",
                remaining,
            )
            % {"count": remaining},
            code="unknown",
        )
    if outcome == "expired":
        raise CobrowseError(
            _(
                "Ce code a expiré (validité 10 minutes). "
                "Demandez à l'usager d'en obtenir un nouveau."
            ),
            code="expired",
        )
    if outcome == "used":
        raise CobrowseError(
            _("Ce code a déjà été utilisé. Demandez à l'usager d'en obtenir un nouveau."),
            code="used",
        )
    cache.delete(_failures_key(agent.pk))
    assert session is not None  # no outcome: the code's session was waiting and is now offered
    return session


# --- Invitations --------------------------------------------------------------------------------
def _agent_service(agent: User, case: Case | None) -> Service | None:
    services = user_services(agent)
    if case is not None and services.filter(pk=case.service_id).exists():
        return case.service
    return services.order_by("name").first()


def invite(agent: User, *, citizen: User, case: Case | None = None) -> CobrowseSession:
    """The agent invites a citizen who is online to share their screen.

    The caller has checked that the agent may act on ``case`` (or look up ``citizen``). Runs in
    a transaction with the citizen's live session locked: re-inviting is idempotent, another
    agent's pending invitation or an active share is refused, an unused code is withdrawn.
    """
    if not agent.is_staff_member:
        raise CobrowseError(_("Réservé aux agents."), code="forbidden")
    if not citizen.is_citizen or (case is not None and case.citizen_id != citizen.pk):
        raise CobrowseError(_("On ne peut inviter qu'un usager."), code="not_citizen")
    if not is_online(citizen.pk):
        raise CobrowseError(
            _(
                "%(name)s n'est pas connecté(e) à son espace en ce moment : l'invitation ne "
                "peut pas lui parvenir. Proposez-lui d'ouvrir « Aide à distance » dans son "
                "espace et de vous lire son code."
            )
            % {"name": citizen.display_name},
            code="offline",
        )
    now = timezone.now()
    with transaction.atomic():
        live = _lock_live_session(citizen)
        if live is not None:
            if live.status == Status.ACTIVE:
                raise CobrowseError(
                    _("Cet usager partage déjà son écran avec un agent."), code="active"
                )
            if live.status == Status.OFFERED and live.agent_id != agent.pk:
                raise CobrowseError(
                    _("Une autre invitation attend déjà la réponse de cet usager."),
                    code="pending",
                )
            if live.status == Status.OFFERED:
                # Same agent again: send the pop-up once more rather than fail.
                live.expires_at = now + conf.get("OFFER_TTL")
                if case is not None:
                    live.case = case
                live.save(update_fields=["expires_at", "case"])
                broadcast(citizen_group(citizen.pk), offer_message(live))
                return live
            _finish(live, EndReason.REPLACED)
        session = CobrowseSession.objects.create(
            citizen=citizen,
            agent=agent,
            agent_service=_agent_service(agent, case),
            case=case,
            origin=CobrowseSession.Origin.INVITATION,
            status=Status.OFFERED,
            created_at=now,
            expires_at=now + conf.get("OFFER_TTL"),
        )
        broadcast(citizen_group(citizen.pk), offer_message(session))
    return session


def pending_offer(citizen_id: int) -> CobrowseSession | None:
    """The invitation waiting for this citizen's answer, if any (shown again on a new page)."""
    return (
        CobrowseSession.objects.select_related("agent", "agent_service")
        .filter(citizen_id=citizen_id, status=Status.OFFERED, expires_at__gt=timezone.now())
        .first()
    )


# --- Consent and the life of a session -----------------------------------------------------------
def _lock_live_session(citizen: User) -> CobrowseSession | None:
    """Lock and return the citizen's live session (expiring it first if it is stale)."""
    live = (
        CobrowseSession.objects.select_for_update()
        .filter(citizen=citizen, status__in=CobrowseSession.LIVE_STATUSES)
        .first()
    )
    reason = stale_reason(live, timezone.now()) if live is not None else None
    if live is not None and reason:
        _finish(live, reason)
        return None
    return live


def accept(session_id: uuid.UUID | str, citizen: User, channel_name: str) -> CobrowseSession:
    """The citizen clicked « Accepter »: the session becomes active and this page holds it.

    A conditional update (offered -> active, not expired, this citizen's) so that a late click on
    a withdrawn or expired invitation changes nothing. Audits the agent's access.
    """
    now = timezone.now()
    with transaction.atomic():
        updated = CobrowseSession.objects.filter(
            pk=session_id, citizen=citizen, status=Status.OFFERED, expires_at__gt=now
        ).update(
            status=Status.ACTIVE,
            accepted_at=now,
            last_activity_at=now,
            expires_at=None,
            citizen_channel=channel_name,
            citizen_left_at=None,
        )
        if updated != 1:
            raise SessionUnavailable("offer_gone")
        # If the agent's console is not connected yet, the grace period starts now.
        CobrowseSession.objects.filter(pk=session_id, agent_channel="").update(agent_left_at=now)
        session = CobrowseSession.objects.select_related("agent", "agent_service", "case").get(
            pk=session_id
        )
        assert session.agent is not None  # an offered session has its agent
        record_access(
            session.agent,
            "cobrowse",
            case=session.case,
            citizen=citizen,
            reason=str(CobrowseSession.Origin(session.origin).label),
            detail={"session": str(session.pk), "origin": session.origin},
        )
        broadcast(
            session_group(session.pk, "agent"),
            {"type": "cobrowse.accepted", "session": str(session.pk)},
        )
        broadcast(
            citizen_group(citizen.pk),
            {"type": "cobrowse.offer_closed", "session": str(session.pk), "reason": "accepted"},
        )
    return session


def decline(session_id: uuid.UUID | str, citizen: User) -> bool:
    """The citizen refused the invitation. Conditional update; False if it was already gone."""
    with transaction.atomic():
        session = (
            CobrowseSession.objects.select_for_update()
            .filter(pk=session_id, citizen=citizen, status=Status.OFFERED)
            .first()
        )
        if session is None:
            return False
        _finish(session, EndReason.DECLINED)
    return True


def resume(session_id: uuid.UUID | str, citizen: User, channel_name: str) -> CobrowseSession:
    """A new page of the citizen's tab takes over the active session (navigation, reload).

    Row lock: the previous page, if still connected, is told to stop (CLOSE_REPLACED).
    Raises SessionUnavailable if the session is not this citizen's or no longer active.
    """
    with transaction.atomic():
        session = (
            CobrowseSession.objects.select_for_update(of=("self",))
            .select_related("agent", "agent_service")
            .filter(pk=session_id, citizen=citizen)
            .first()
        )
        if session is None:
            raise SessionUnavailable("unknown")
        reason = stale_reason(session, timezone.now())
        if reason:
            _finish(session, reason)
        if session.status != Status.ACTIVE:
            raise SessionUnavailable(session.end_reason or session.status)
        previous = session.citizen_channel
        session.citizen_channel = channel_name
        session.citizen_left_at = None
        session.save(update_fields=["citizen_channel", "citizen_left_at"])
        if previous and previous != channel_name:
            send_to_channel(previous, {"type": "cobrowse.replaced", "session": str(session.pk)})
        broadcast(
            session_group(session.pk, "agent"),
            {"type": "cobrowse.peer", "role": "citizen", "present": True},
        )
    return session


def citizen_left(session_id: uuid.UUID | str, channel_name: str) -> bool:
    """The page holding the session closed. Only the current holder counts (conditional)."""
    with transaction.atomic():
        updated = CobrowseSession.objects.filter(
            pk=session_id, status=Status.ACTIVE, citizen_channel=channel_name
        ).update(citizen_channel="", citizen_left_at=timezone.now())
        if updated:
            broadcast(
                session_group(session_id, "agent"),
                {"type": "cobrowse.peer", "role": "citizen", "present": False},
            )
    return bool(updated)


def get_agent_session(session_id: uuid.UUID | str, agent: User) -> CobrowseSession:
    session = (
        CobrowseSession.objects.select_related("citizen", "agent", "agent_service", "case")
        .filter(pk=session_id, agent=agent)
        .first()
    )
    if session is None:
        raise SessionUnavailable("unknown")
    return session


def agent_connected(session_id: uuid.UUID | str, agent: User, channel_name: str) -> CobrowseSession:
    """The agent's console opened its socket on the session. Row lock; older console replaced."""
    with transaction.atomic():
        session = (
            CobrowseSession.objects.select_for_update().filter(pk=session_id, agent=agent).first()
        )
        if session is None:
            raise SessionUnavailable("unknown")
        reason = stale_reason(session, timezone.now())
        if reason:
            _finish(session, reason)
        if not session.is_live:
            raise SessionUnavailable(session.end_reason or session.status)
        previous = session.agent_channel
        session.agent_channel = channel_name
        session.agent_left_at = None
        session.save(update_fields=["agent_channel", "agent_left_at"])
        if previous and previous != channel_name:
            send_to_channel(previous, {"type": "cobrowse.replaced", "session": str(session.pk)})
        if session.status == Status.ACTIVE:
            broadcast(
                session_group(session.pk, "citizen"),
                {"type": "cobrowse.peer", "role": "agent", "present": True},
            )
    return session


def agent_left(session_id: uuid.UUID | str, channel_name: str) -> bool:
    with transaction.atomic():
        updated = CobrowseSession.objects.filter(
            pk=session_id, status__in=CobrowseSession.LIVE_STATUSES, agent_channel=channel_name
        ).update(agent_channel="", agent_left_at=timezone.now())
        if updated:
            broadcast(
                session_group(session_id, "citizen"),
                {"type": "cobrowse.peer", "role": "agent", "present": False},
            )
    return bool(updated)


def touch(session_id: uuid.UUID | str) -> None:
    CobrowseSession.objects.filter(pk=session_id, status=Status.ACTIVE).update(
        last_activity_at=timezone.now()
    )


def record_page(session_id: uuid.UUID | str, channel_name: str, path: str) -> None:
    """Remember the path of a page the agent saw (path only; nothing of its content)."""
    with transaction.atomic():
        session = (
            CobrowseSession.objects.select_for_update()
            .filter(pk=session_id, status=Status.ACTIVE, citizen_channel=channel_name)
            .first()
        )
        if session is None:
            return
        session.last_activity_at = timezone.now()
        if path not in session.pages and len(session.pages) < conf.get("MAX_PAGES"):
            session.pages = [*session.pages, path]
        session.save(update_fields=["pages", "last_activity_at"])


# --- Ending ---------------------------------------------------------------------------------
def end_session(
    session_id: uuid.UUID | str, reason: str, *, by: User | None = None
) -> CobrowseSession | None:
    """End a live session at once (either side, logout, timeout) and record it on the timeline.

    ``by``: the citizen or agent asking; only their own session can be ended that way.
    Transaction + row lock; a second call (the other side, the sweeper) is a no-op returning None.
    """
    sessions = CobrowseSession.objects.select_for_update().filter(
        pk=session_id, status__in=CobrowseSession.LIVE_STATUSES
    )
    if by is not None:
        sessions = sessions.filter(citizen=by) if by.is_citizen else sessions.filter(agent=by)
    with transaction.atomic():
        session = sessions.first()
        if session is None:
            return None
        _finish(session, reason)
    return session


def end_user_sessions(user: User, reason: str) -> int:
    """End every live session of a citizen (or of an agent): used on logout."""
    field = "citizen" if user.is_citizen else "agent"
    ids = list(
        CobrowseSession.objects.filter(
            **{field: user}, status__in=CobrowseSession.LIVE_STATUSES
        ).values_list("pk", flat=True)
    )
    return sum(1 for pk in ids if end_session(pk, reason) is not None)


def stale_reason(session: CobrowseSession, now: datetime) -> str | None:
    """Why this live session should end now, if it should."""
    if session.status in (Status.WAITING_CODE, Status.OFFERED):
        if session.expires_at is not None and session.expires_at <= now:
            return EndReason.EXPIRED
        return None
    if session.status != Status.ACTIVE:
        return None
    grace = conf.get("PEER_GRACE")
    if (
        not session.citizen_channel
        and session.citizen_left_at
        and (session.citizen_left_at <= now - grace)
    ):
        return EndReason.CITIZEN_GONE
    if (
        not session.agent_channel
        and session.agent_left_at
        and (session.agent_left_at <= now - grace)
    ):
        return EndReason.AGENT_GONE
    if session.last_activity_at and session.last_activity_at <= now - conf.get("INACTIVITY"):
        return EndReason.INACTIVITY
    return None


def expire_if_stale(session_id: uuid.UUID | str) -> str | None:
    """End the session if one side is gone for too long, or if it idled too long. Row lock."""
    with transaction.atomic():
        session = (
            CobrowseSession.objects.select_for_update()
            .filter(pk=session_id, status__in=CobrowseSession.LIVE_STATUSES)
            .first()
        )
        if session is None:
            return None
        reason = stale_reason(session, timezone.now())
        if reason:
            _finish(session, reason)
        return reason


def check_session(session_id: uuid.UUID | str) -> bool:
    """Expire the session if it is stale; whether it is still live afterwards (watchdogs)."""
    expire_if_stale(session_id)
    return CobrowseSession.objects.filter(
        pk=session_id, status__in=CobrowseSession.LIVE_STATUSES
    ).exists()


def sweep_stale_sessions() -> int:
    """End every stale live session (periodic; safe to run twice or concurrently)."""
    now = timezone.now()
    grace = now - conf.get("PEER_GRACE")
    candidates = CobrowseSession.objects.filter(
        Q(status__in=[Status.WAITING_CODE, Status.OFFERED], expires_at__lte=now)
        | Q(status=Status.ACTIVE, citizen_channel="", citizen_left_at__lte=grace)
        | Q(status=Status.ACTIVE, agent_channel="", agent_left_at__lte=grace)
        | Q(status=Status.ACTIVE, last_activity_at__lte=now - conf.get("INACTIVITY"))
    ).values_list("pk", flat=True)
    return sum(1 for pk in list(candidates) if expire_if_stale(pk))


def _finish(session: CobrowseSession, reason: str) -> None:
    """Move a locked live session to its final state; record it if it was active.

    Call inside a transaction, with the row locked by the caller.
    """
    now = timezone.now()
    was_active = session.status == Status.ACTIVE
    if was_active:
        session.status = Status.ENDED
    elif reason == EndReason.DECLINED:
        session.status = Status.DECLINED
    elif reason == EndReason.EXPIRED:
        session.status = Status.EXPIRED
    else:
        session.status = Status.ENDED
    session.ended_at = now
    session.end_reason = reason
    session.citizen_channel = ""
    session.agent_channel = ""
    session.save(
        update_fields=["status", "ended_at", "end_reason", "citizen_channel", "agent_channel"]
    )
    if was_active:
        event = _record_on_timeline(session)
        if event is not None:
            session.event = event
            session.case_id = event.case_id
            session.save(update_fields=["event", "case"])
    _announce_end(session)


def format_duration(seconds: int) -> str:
    minutes, seconds = divmod(max(0, int(seconds)), 60)
    if minutes and seconds:
        return _("%(min)s min %(sec)s s") % {"min": number_format(minutes), "sec": seconds}
    if minutes:
        return _("%(min)s min") % {"min": number_format(minutes)}
    return _("%(sec)s s") % {"sec": seconds}


def _record_on_timeline(session: CobrowseSession) -> Event | None:
    """Write the session (who, when, how long, which pages) as one event on a case.

    The case: the one the invitation came from; else the citizen's most recent open case the
    agent may see; else a new case on the cobrowse channel, already answered (the help was
    given during the session), in the agent's service.
    """
    agent = session.agent
    service = session.agent_service
    started, ended = session.accepted_at, session.ended_at
    seconds = int((ended - started).total_seconds()) if started and ended else 0
    payload = {
        "session": str(session.pk),
        "origin": session.origin,
        "agent_id": agent.pk if agent else None,
        "agent": session.agent_first_name,
        "service": service.name if service else "",
        "started_at": started.isoformat() if started else None,
        "ended_at": ended.isoformat() if ended else None,
        "duration_seconds": seconds,
        "pages": list(session.pages),
        "end_reason": session.end_reason,
    }
    with translation.override(settings.LANGUAGE_CODE):
        pages = len(session.pages)
        body = ngettext(
            "Aide à distance avec %(agent)s%(service)s : durée %(duration)s, %(count)d page vue.",
            "Aide à distance avec %(agent)s%(service)s : durée %(duration)s, %(count)d pages vues.",
            pages,
        ) % {
            "agent": session.agent_first_name,
            "service": f" ({service.name})" if service else "",
            "duration": format_duration(seconds),
            "count": pages,
        }
        subject = _("Aide à distance")
    case = session.case
    if case is None and agent is not None:
        case = (
            visible_cases(agent)
            .filter(citizen_id=session.citizen_id, status__in=Case.OPEN_STATUSES)
            .order_by("-last_activity_at", "-id")
            .first()
        )
    if case is not None:
        return add_event(
            case,
            Event.Type.COBROWSE,
            actor=agent,
            channel=Channel.COBROWSE,
            body=body,
            payload=payload,
            at=ended,
        )
    topics = Topic.objects.filter(is_active=True).order_by("position", "title")
    topic = (service and topics.filter(service=service).first()) or topics.first()
    if topic is None:
        logger.error("cobrowse: no active topic, session %s not recorded on a case", session.pk)
        return None
    case, event = open_case(
        citizen=session.citizen,
        topic=topic,
        kind=Case.Kind.QUESTION,
        channel=Channel.COBROWSE,
        subject=subject,
        first_event_type=Event.Type.COBROWSE,
        body=body,
        actor=agent,
        payload=payload,
        route=False,
        status=Case.Status.ANSWERED,
    )
    mark_first_response(case, at=started)
    return event
