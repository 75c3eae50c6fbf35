"""Satisfaction per contact: a short survey offered after each closed contact.

When a contact with an agent ends (a chat ended, a call ended, a callback reached the citizen,
a visio ended, a written request answered), ``offer_after`` writes a ``SurveyInvitation`` for
that timeline event and, after commit, a content-free alert ("satisfaction_survey") carrying a
signed link (not for a written answer, whose own alert already leads to the space). The
citizen answers (1-5, optional comment, "Votre demande est-elle résolue ?") either in their
space (pending surveys listed) or through the link, without login: the link is signed
(``django.core.signing``, valid ``LINK_MAX_AGE``) and used once (``used_at``, set by a
conditional update in the transaction that writes the ``Satisfaction`` row).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Case, Channel, Event, Satisfaction, SurveyInvitation, User
from .signals import citizen_notification

LINK_MAX_AGE = dt.timedelta(days=7)
SALT = "guichet.surveys.link"
# A second contact-closing event of the same case this soon after a survey was offered (the
# chat's transcript then its "answered" status) does not offer another one.
COOLDOWN = dt.timedelta(hours=1)
KIND = "satisfaction_survey"
WRITTEN_CHANNELS = (Channel.WEB, Channel.EMAIL, Channel.LETTER)


def closes_contact(case: Case, event: Event) -> bool:
    """Whether ``event`` marks the end of a contact worth a survey."""
    payload = event.payload or {}
    if event.type == Event.Type.CHAT:
        return payload.get("phase") == "transcript"
    if event.type == Event.Type.CALL:
        return "self_service" in payload  # the call's end (voice.services.write_call_event)
    if event.type == Event.Type.CALLBACK:
        return payload.get("outcome") == "reached"
    if event.type == Event.Type.VISIO:
        return "ended_at" in payload
    if event.type == Event.Type.STATUS:
        return payload.get("to") == Case.Status.ANSWERED and case.channel in WRITTEN_CHANNELS
    return False


def _agent_id(case: Case, event: Event) -> int | None:
    if event.actor_id and event.actor_id != case.citizen_id:
        return event.actor_id
    return case.assigned_to_id


def offer_after(case: Case, event: Event) -> SurveyInvitation | None:
    """Offer a survey for ``event`` if it closes a contact with an agent (called by
    ``add_event``, inside its transaction). Idempotent (one invitation per event)."""
    if not closes_contact(case, event):
        return None
    agent_id = _agent_id(case, event)
    if agent_id is None:
        return None  # self-service only (the voice server asks its own question)
    now = event.created_at or timezone.now()
    if SurveyInvitation.objects.filter(case=case, created_at__gt=now - COOLDOWN).exists():
        return None
    try:
        with transaction.atomic():
            invitation = SurveyInvitation.objects.create(
                event=event,
                case=case,
                citizen_id=case.citizen_id,
                channel=event.channel,
                service_id=event.service_id or case.service_id,
                agent_id=agent_id,
                created_at=now,
                expires_at=now + LINK_MAX_AGE,
            )
    except IntegrityError:
        return None
    if event.type == Event.Type.STATUS:
        # A written answer already sends its own alert to the space, where the survey is
        # listed: no second alert at the same moment.
        return invitation
    citizen_id, case_id, url = case.citizen_id, case.pk, link_url(invitation)
    transaction.on_commit(
        lambda: citizen_notification.send(
            sender=Case,
            citizen_id=citizen_id,
            case_id=case_id,
            kind=KIND,
            key=f"survey:{invitation.pk}",
            params={"link": url},
        )
    )
    return invitation


def make_token(invitation: SurveyInvitation) -> str:
    return signing.dumps({"s": invitation.pk}, salt=SALT, compress=True)


def link_url(invitation: SurveyInvitation) -> str:
    return settings.SITE_URL + reverse("survey_link", args=[make_token(invitation)])


class LinkError(Exception):
    """A survey link that cannot be used: ``status`` 400 (malformed or tampered) or 410
    (expired or already used)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def invitation_from_token(token: str) -> SurveyInvitation:
    """The invitation a link names, or ``LinkError`` saying why it cannot be used."""
    try:
        data = signing.loads(token, salt=SALT, max_age=LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkError(_("Ce lien a expiré : il était valable 7 jours."), 410) from None
    except signing.BadSignature:
        raise LinkError(_("Ce lien n'est pas valide : vérifiez qu'il est complet."), 400) from None
    pk = data.get("s") if isinstance(data, dict) else None
    invitation = (
        SurveyInvitation.objects.select_related("service", "case").filter(pk=pk).first()
        if isinstance(pk, int)
        else None
    )
    if invitation is None:
        raise LinkError(_("Ce lien n'est pas valide : vérifiez qu'il est complet."), 400)
    if invitation.used_at is not None:
        raise LinkError(_("Vous avez déjà répondu à ce questionnaire. Merci !"), 410)
    if invitation.expires_at <= timezone.now():
        raise LinkError(_("Ce lien a expiré : il était valable 7 jours."), 410)
    return invitation


def pending_for(citizen: User) -> list[SurveyInvitation]:
    return list(
        SurveyInvitation.objects.filter(
            citizen=citizen, used_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("case", "service")
        .order_by("-created_at", "-pk")[:20]
    )


def clean_answer(score, comment: str, resolved) -> tuple[int, str, bool | None]:
    try:
        score = int(score)
    except (TypeError, ValueError):
        raise ValidationError(_("Choisissez une note entre 1 et 5."), code="invalid_score")
    if not 1 <= score <= 5:
        raise ValidationError(_("Choisissez une note entre 1 et 5."), code="invalid_score")
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise ValidationError(_("Le commentaire fait 2 000 caractères au maximum."))
    if resolved in (True, "oui", "yes", "1", "true"):
        answer: bool | None = True
    elif resolved in (False, "non", "no", "0", "false"):
        answer = False
    elif resolved in (None, ""):
        answer = None
    else:
        raise ValidationError(_("Répondez « oui » ou « non »."), code="invalid_resolved")
    return score, comment, answer


@dataclass(frozen=True)
class Answered:
    satisfaction: Satisfaction
    created: bool


def answer(invitation: SurveyInvitation, score, comment: str = "", resolved=None) -> Answered:
    """Record the answer to a survey, once. A second submission (double click, replay) returns
    the first answer without writing anything (``created`` False)."""
    score, comment, resolved_answer = clean_answer(score, comment, resolved)
    now = timezone.now()
    with transaction.atomic():
        claimed = SurveyInvitation.objects.filter(
            pk=invitation.pk, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not claimed:
            existing = Satisfaction.objects.filter(event_id=invitation.event_id).first()
            if existing is not None:
                return Answered(existing, False)
            raise ValidationError(_("Ce lien a expiré : il était valable 7 jours."), code="expired")
        satisfaction = Satisfaction.objects.create(
            case_id=invitation.case_id,
            event_id=invitation.event_id,
            citizen_id=invitation.citizen_id,
            channel=invitation.channel,
            service_id=invitation.service_id,
            agent_id=invitation.agent_id,
            score=score,
            comment=comment,
            resolved=resolved_answer,
            created_at=now,
        )
    invitation.used_at = now
    return Answered(satisfaction, True)
