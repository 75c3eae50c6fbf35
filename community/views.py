"""Forum pages (thin: parse, check, call services, render).

Reading is public (no login). Posting needs a citizen account (under a pseudonym) or, for
replies and moderation, an expert of the thread's topic. Domain errors (``NotFound``,
``NotAllowed``, ``InvalidState``) become 404/403/409 pages through the core middleware.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contactcenter.decorators import apply_errors, citizen_required, staff_required
from contactcenter.idempotency import idempotent
from contactcenter.models import Topic

from . import moderation as mod
from . import services
from .forms import AskForm, ReasonForm, ReplyForm
from .models import Post, Thread


def secure_messaging_url(topic: Topic | None) -> str:
    """The secure messaging's new request page (the health questions' channel), if installed."""
    try:
        url = reverse("messaging:new_request")
    except NoReverseMatch:
        return ""
    return f"{url}?topic={topic.slug}" if topic else url


def _topics():
    return list(Topic.objects.filter(is_active=True))


@require_GET
def index(request):
    """Threads by topic, newest activity first; search, "résolu" and language filters."""
    topics = _topics()
    topic = next((t for t in topics if t.slug == request.GET.get("theme")), None)
    resolved = {"1": True, "0": False}.get(request.GET.get("resolu", ""))
    language = request.GET.get("langue", "")
    query = (request.GET.get("q") or "").strip()[:200]
    threads = services.public_threads(topic=topic, resolved=resolved, language=language)
    results = services.search_threads(query, threads, limit=50) if query else threads
    page = Paginator(results, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "community/index.html",
        {
            "page": page,
            "topics": topics,
            "topic": topic,
            "resolved": request.GET.get("resolu", ""),
            "language": language,
            "languages": Thread.Language.choices,
            "query": query,
            "page_title": _("Forum d'entraide"),
        },
    )


def _thread_context(request, thread: Thread, reply_form=None) -> dict:
    posts = services.visible_posts(request.user, thread)
    expert = services.is_expert(request.user, thread.topic)
    can_reply = not thread.is_locked and (
        expert or (request.user.is_authenticated and request.user.is_citizen)
    )
    needs_pseudonym = (
        request.user.is_authenticated
        and request.user.is_citizen
        and services.member_of(request.user) is None
    )
    return {
        "thread": thread,
        "posts": [(post, services.author_label(post)) for post in posts],
        "expert": expert,
        "can_reply": can_reply and thread.is_published,
        "form": reply_form or ReplyForm(needs_pseudonym=needs_pseudonym),
        "page_title": thread.title,
        "messaging_url": secure_messaging_url(thread.topic),
    }


@require_GET
def thread_detail(request, pk: int):
    thread = services.get_thread(request.user, pk)
    services.count_view(thread)
    return render(request, "community/thread.html", _thread_context(request, thread))


@require_GET
def thread_json(request, pk: int):
    """A thread for readers and clients: pseudonyms and staff labels only, never a name."""
    thread = services.get_thread(request.user, pk)
    posts = services.visible_posts(request.user, thread)
    return JsonResponse(
        {
            "id": thread.pk,
            "title": thread.title,
            "topic": thread.topic.slug,
            "language": thread.language,
            "resolved": thread.is_resolved,
            "locked": thread.is_locked,
            "posts": [
                {
                    "id": post.pk,
                    "author": services.author_label(post),
                    "body": post.body,
                    "question": post.is_question,
                    "certified": post.is_certified,
                    "status": post.status,
                    "created_at": post.created_at.isoformat(),
                }
                for post in posts
            ],
        }
    )


@citizen_required
@require_http_methods(["GET", "POST"])
@idempotent
def ask(request):
    """Two steps: the question's topic and title (GET: similar threads and knowledge-base
    articles are proposed), then the details, posted."""
    needs_pseudonym = services.member_of(request.user) is None
    data = request.POST if request.method == "POST" else request.GET
    topic = Topic.objects.filter(is_active=True, slug=data.get("topic")).first()
    title = (data.get("title") or "").strip()[:160]
    form = AskForm(
        request.POST if request.method == "POST" else None,
        needs_pseudonym=needs_pseudonym,
        initial={"language": "fr", "topic": topic.slug if topic else None, "title": title},
    )
    context = {
        "form": form,
        "topics": _topics(),
        "topic": topic,
        "title": title,
        "step": 2 if topic and len(title) >= 8 else 1,
        "page_title": _("Poser une question"),
        "health": False,
        "messaging_url": secure_messaging_url(topic),
        "personal_data": False,
    }
    if context["step"] == 2:
        context["suggestions"] = services.suggestions(title, topic)
    if request.method == "GET" or context["step"] == 1:
        return render(
            request, "community/ask.html", context, status=200 if request.method == "GET" else 400
        )
    if form.is_valid():
        try:
            thread = services.post_question(
                request.user,
                topic=form.cleaned_data["topic"],
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                language=form.cleaned_data["language"],
                pseudonym=form.cleaned_data.get("pseudonym"),
                to_moderation="moderation" in request.POST,
            )
        except services.HealthQuestion as exc:
            context["health"] = True
            form.add_error("body", exc.messages)
        except services.PersonalDataFound as exc:
            context["personal_data"] = True
            form.add_error("body", exc.messages)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if thread.is_published:
                messages.success(request, _("Votre question est publiée."))
            else:
                messages.info(
                    request,
                    _("Votre question, données personnelles masquées, attend la modération."),
                )
            return redirect("community:thread", pk=thread.pk)
    return render(request, "community/ask.html", context, status=400)


@login_required
@require_POST
@idempotent
def reply(request, pk: int):
    thread = services.get_thread(request.user, pk)
    needs_pseudonym = request.user.is_citizen and services.member_of(request.user) is None
    form = ReplyForm(request.POST, needs_pseudonym=needs_pseudonym)
    context_extra = {"health": False, "personal_data": False}
    if form.is_valid():
        try:
            post = services.post_reply(
                request.user,
                thread,
                body=form.cleaned_data["body"],
                pseudonym=form.cleaned_data.get("pseudonym"),
                to_moderation="moderation" in request.POST,
            )
        except services.HealthQuestion as exc:
            context_extra["health"] = True
            form.add_error("body", exc.messages)
        except services.PersonalDataFound as exc:
            context_extra["personal_data"] = True
            form.add_error("body", exc.messages)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if post.status == Post.Status.PENDING:
                messages.info(request, _("Votre réponse, données masquées, attend la modération."))
            else:
                messages.success(request, _("Votre réponse est publiée."))
            return redirect(f"{reverse('community:thread', args=[thread.pk])}#message-{post.pk}")
    context = _thread_context(request, thread, reply_form=form)
    context.update(context_extra)
    return render(request, "community/thread.html", context, status=400)


@login_required
@require_POST
def report_post(request, pk: int):
    post = mod.get_post(request.user, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Indiquez pourquoi vous signalez ce message."))
    else:
        mod.report(request.user, post, form.cleaned_data["reason"])
        messages.success(request, _("Merci : votre signalement sera examiné par la modération."))
    return redirect(f"{reverse('community:thread', args=[post.thread_id])}#message-{post.pk}")


@citizen_required
@require_POST
def accept(request, pk: int):
    post = mod.get_post(request.user, pk)
    services.accept_answer(request.user, post)
    messages.success(request, _("Merci : votre question est marquée comme résolue."))
    return redirect(f"{reverse('community:thread', args=[post.thread_id])}#message-{post.pk}")


POST_ACTIONS = {"certify", "uncertify", "hide", "publish", "mask"}


@staff_required
@require_POST
def moderate_post(request, pk: int):
    post = mod.get_post(request.user, pk)
    action = request.POST.get("action")
    if action not in POST_ACTIONS:
        raise PermissionDenied
    try:
        if action in ("certify", "uncertify"):
            mod.certify(request.user, post, certified=action == "certify")
        elif action == "hide":
            mod.hide(request.user, post, request.POST.get("reason", ""))
        elif action == "publish":
            mod.publish(request.user, post)
        else:
            mod.mask(request.user, post)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("C'est fait."))
    next_url = request.POST.get("next")
    if next_url == "moderation":
        return redirect("community:moderation")
    return redirect(f"{reverse('community:thread', args=[post.thread_id])}#message-{post.pk}")


@staff_required
@require_POST
def moderate_thread(request, pk: int):
    thread = services.get_thread(request.user, pk)
    action = request.POST.get("action")
    if action in ("lock", "unlock"):
        mod.set_locked(request.user, thread, action == "lock")
        messages.success(request, _("C'est fait."))
    elif action == "to_article":
        article = mod.thread_to_article(request.user, thread).article
        assert article is not None
        messages.success(
            request,
            _(
                "Brouillon d'article « %(title)s » créé dans la base de connaissances : "
                "il sera relu avant publication."
            )
            % {"title": article.title},
        )
    elif action == "to_channel":
        case = mod.send_to_channel(request.user, thread)
        messages.success(
            request,
            _("Demande %(reference)s ouverte pour l'auteur du fil.")
            % {"reference": case.reference},
        )
    else:
        raise PermissionDenied
    return redirect("community:thread", pk=thread.pk)


@staff_required
@require_GET
def moderation(request):
    page = Paginator(mod.moderation_queue(request.user), 30).get_page(request.GET.get("page"))
    return render(
        request,
        "community/moderation.html",
        {
            "page": page,
            "items": [(post, services.author_label(post)) for post in page],
            "unanswered": list(services.unanswered_by_experts(request.user)[:50]),
            "unanswered_hours": services.UNANSWERED_HOURS,
            "page_title": _("Modération du forum"),
        },
    )
