"""Experts and moderators: certify, hide, restore, mask, approve, lock, send to a channel or
to the knowledge base (a draft article); reports.

Every action checks that the actor is an expert of the thread's topic (``is_expert``: staff of
the topic's service) and is written to ``ModerationAction``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from contactcenter.exceptions import InvalidState, NotAllowed, NotFound
from contactcenter.models import Case, Channel, Event, User
from contactcenter.permissions import user_service_ids
from contactcenter.services import open_case
from knowledge.services import propose_article

from . import personal_data
from .models import ModerationAction, Post, Report, Thread
from .services import AnyUser, author_label, is_expert

Action = ModerationAction.Action


def get_post(user: AnyUser, pk: int) -> Post:
    """A post this user may act on: published ones for readers, any for the topic's experts."""
    post = Post.objects.select_related("thread__topic__service", "author").filter(pk=pk).first()
    if post is None or not (
        (post.status == Post.Status.PUBLISHED and post.thread.is_published)
        or is_expert(user, post.thread.topic)
    ):
        raise NotFound(_("Ce message n'existe pas."))
    return post


def _check_expert(actor: User, thread: Thread) -> None:
    if not is_expert(actor, thread.topic):
        raise NotAllowed(_("Seuls les experts du thème peuvent faire cela."))


def _audit(
    actor: User, action: str, thread: Thread, post: Post | None = None, reason: str = ""
) -> None:
    ModerationAction.objects.create(
        actor=actor, action=action, thread=thread, post=post, reason=reason[:200]
    )


@transaction.atomic
def certify(actor: User, post: Post, *, certified: bool = True) -> Post:
    """Mark an answer "Réponse certifiée" (pinned under the question), or withdraw it."""
    _check_expert(actor, post.thread)
    if post.is_question or post.status != Post.Status.PUBLISHED:
        raise InvalidState(_("Seule une réponse publiée peut être certifiée."))
    if certified == post.is_certified:
        return post  # already so: a second click changes nothing
    post.certified_by = actor if certified else None
    post.certified_at = timezone.now() if certified else None
    post.save(update_fields=["certified_by", "certified_at"])
    _audit(actor, Action.CERTIFY if certified else Action.UNCERTIFY, post.thread, post)
    return post


def _publish_thread_if_question(post: Post) -> None:
    if post.is_question:
        Thread.objects.filter(pk=post.thread_id).update(
            is_published=post.status == Post.Status.PUBLISHED
        )


@transaction.atomic
def hide(actor: User, post: Post, reason: str) -> Post:
    _check_expert(actor, post.thread)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indiquez le motif : il est montré à l'auteur.")})
    post.status = Post.Status.HIDDEN
    post.moderation_reason = reason[:200]
    post.save(update_fields=["status", "moderation_reason"])
    _publish_thread_if_question(post)
    Report.objects.filter(post=post, handled_at=None).update(handled_at=timezone.now())
    _audit(actor, Action.HIDE, post.thread, post, reason)
    return post


@transaction.atomic
def publish(actor: User, post: Post) -> Post:
    """Restore a hidden post or approve a pending one (its personal data already masked)."""
    _check_expert(actor, post.thread)
    if post.status == Post.Status.PUBLISHED:
        return post
    action = Action.APPROVE if post.status == Post.Status.PENDING else Action.RESTORE
    if personal_data.find_personal_data(post.body):
        raise InvalidState(_("Ce message contient encore des données personnelles : masquez-les."))
    post.status = Post.Status.PUBLISHED
    post.moderation_reason = ""
    post.save(update_fields=["status", "moderation_reason"])
    _publish_thread_if_question(post)
    Report.objects.filter(post=post, handled_at=None).update(handled_at=timezone.now())
    _audit(actor, action, post.thread, post)
    return post


@transaction.atomic
def mask(actor: User, post: Post) -> Post:
    """Mask the personal data found in a post (the original text is not kept)."""
    _check_expert(actor, post.thread)
    findings = personal_data.find_personal_data(post.body)
    if not findings:
        return post
    post.body = personal_data.mask(post.body, findings)
    post.is_masked = True
    post.save(update_fields=["body", "is_masked"])
    _audit(actor, Action.MASK, post.thread, post, personal_data.describe_kinds(findings))
    return post


@transaction.atomic
def set_locked(actor: User, thread: Thread, locked: bool) -> Thread:
    _check_expert(actor, thread)
    if thread.is_locked != locked:
        Thread.objects.filter(pk=thread.pk).update(is_locked=locked)
        thread.is_locked = locked
        _audit(actor, Action.LOCK if locked else Action.UNLOCK, thread)
    return thread


def thread_transcript(thread: Thread) -> str:
    posts = thread.posts.filter(status=Post.Status.PUBLISHED).select_related(
        "author__forum_member", "thread__topic__service"
    )
    lines = [_("Fil du forum : %(title)s") % {"title": thread.title}, ""]
    for post in posts:
        lines.append(f"— {author_label(post)} :")
        lines.append(post.body)
        lines.append("")
    return "\n".join(lines).strip()


@transaction.atomic
def send_to_channel(actor: User, thread: Thread) -> Case:
    """A complex situation: open a secure-messaging request for the thread's author, the thread
    attached, and tell them on the thread. Once per thread (a second call returns the case)."""
    _check_expert(actor, thread)
    thread = Thread.objects.select_for_update().select_related("topic").get(pk=thread.pk)
    if thread.case_id is not None:
        assert thread.case is not None
        return thread.case
    case, _event = open_case(
        citizen=thread.author,
        topic=thread.topic,
        kind=Case.Kind.QUESTION,
        channel=Channel.WEB,
        subject=thread.title,
        first_event_type=Event.Type.MESSAGE,
        body=thread_transcript(thread),
        actor=thread.author,
        payload={"source": "forum", "forum_thread": thread.pk},
    )
    thread.case = case
    thread.save(update_fields=["case"])
    Post.objects.create(
        thread=thread,
        author=actor,
        body=_(
            "Votre situation nécessite l'examen de votre dossier. Nous avons ouvert une demande "
            "dans votre espace (messagerie sécurisée), ce fil y est joint : un conseiller vous "
            "répondra personnellement."
        ),
    )
    _audit(actor, Action.TO_CHANNEL, thread, reason=case.reference)
    return case


def article_body(thread: Thread) -> str:
    posts = list(
        thread.posts.filter(status=Post.Status.PUBLISHED).order_by(
            "-is_question", F("certified_at").desc(nulls_last=True), "-is_accepted", "created_at"
        )
    )
    question = next((p for p in posts if p.is_question), None)
    answers = [p for p in posts if not p.is_question]
    lines = [f"## {_('La question')}", "", question.body if question else thread.title, ""]
    if answers:
        lines += [f"## {_('Les réponses')}", ""]
        for post in answers:
            mark = _("Réponse certifiée") if post.is_certified else _("Réponse")
            lines += [f"**{mark}**", "", post.body, ""]
    return "\n".join(lines).strip()


@transaction.atomic
def thread_to_article(actor: User, thread: Thread) -> Thread:
    """A thread becomes a knowledge-base article in one click: the question and its published
    answers (certified ones first, authors never named) as a **draft** of the topic, owned by
    its service and due for review today, so the knowledge team finds it in its "à revoir"
    list, edits and publishes it. Once per thread: a second click keeps the same draft. Returns
    the thread, its ``article`` set."""
    _check_expert(actor, thread)
    thread = Thread.objects.select_for_update().select_related("topic").get(pk=thread.pk)
    if thread.article_id is not None:
        return thread
    article = propose_article(
        topic=thread.topic,
        title=thread.title,
        body=article_body(thread),
        slug=f"{slugify(thread.title)[:80]}-forum-{thread.pk}",
        author=actor,
        comment=_("Depuis le fil du forum n° %(n)s") % {"n": thread.pk},
    )
    thread.article = article
    thread.save(update_fields=["article"])
    _audit(actor, Action.TO_ARTICLE, thread, reason=article.slug)
    return thread


# --- reports ----------------------------------------------------------------------------------


def report(user: AnyUser, post: Post, reason: str) -> Report | None:
    """A reader reports a published post (once each). Enough reports hide it until reviewed."""
    if not user.is_authenticated:
        raise NotAllowed(_("Connectez-vous pour signaler un message."))
    assert isinstance(user, User)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indiquez pourquoi vous signalez ce message.")})
    if post.author_id == user.pk:
        raise InvalidState(_("Vous ne pouvez pas signaler votre propre message."))
    try:
        with transaction.atomic():
            created = Report.objects.create(post=post, reporter=user, reason=reason[:200])
    except IntegrityError:
        return None  # already reported by this reader
    threshold = getattr(settings, "COMMUNITY_REPORTS_TO_HIDE", 3)
    open_reports = Report.objects.filter(post=post, handled_at=None).count()
    if open_reports >= threshold and post.status == Post.Status.PUBLISHED:
        Post.objects.filter(pk=post.pk).update(
            status=Post.Status.PENDING, moderation_reason=_("Signalé par des lecteurs")
        )
        if post.is_question:
            Thread.objects.filter(pk=post.thread_id).update(is_published=False)
    return created


def moderation_queue(actor: User) -> QuerySet[Post]:
    """Pending posts and posts with open reports, in the actor's topics."""
    if not actor.is_staff_member:
        return Post.objects.none()
    posts = Post.objects.select_related("thread__topic__service", "author__forum_member")
    if not actor.is_admin_role:
        posts = posts.filter(thread__topic__service_id__in=user_service_ids(actor))
    return (
        posts.annotate(open_reports=Count("reports", filter=Q(reports__handled_at=None)))
        .filter(Q(status=Post.Status.PENDING) | Q(open_reports__gt=0))
        .order_by("created_at")
    )
