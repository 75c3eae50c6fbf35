"""Views of the knowledge app (thin: parse, check permission, call services, render).

- Public FAQ (anyone): topics, articles, search. Agent-only articles are never listed here.
- Chatbot page for logged-in users, and the hand-off relay.
- htmx partials: contact-form deflection (citizens) and agents' canned answers (staff).
- Console pages (staff): knowledge search, the "à revoir" list, guided diagnosis.
"""

from __future__ import annotations

import json
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contactcenter.decorators import staff_only_404 as staff_required
from contactcenter.idempotency import FIELD as IDEMPOTENCY_FIELD
from contactcenter.idempotency import idempotent, new_key
from contactcenter.models import AuditLog, Topic
from contactcenter.permissions import can_act_on_case, get_case_or_404, record_access

from . import services
from .forms import FaqSearchForm
from .models import Article, DiagnosisTree
from .rendering import plain_text, render_markdown
from .tutorial_views import with_frame_origins
from .tutorials import published_tutorials

TARGET_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def _citizen_home() -> str:
    try:
        return reverse("messaging:space")
    except NoReverseMatch:  # messaging not installed: the FAQ is the next best place
        return reverse("knowledge:faq")


# --- public FAQ -----------------------------------------------------------------------------------
@require_GET
def faq(request):
    form = FaqSearchForm(request.GET if "q" in request.GET else None)
    results = None
    query = ""
    topic = None
    if form.is_bound and form.is_valid():
        query = form.cleaned_data["q"]
        topic = form.cleaned_data.get("topic")
        results = services.search_articles(query, topic=topic, audience="public", limit=10)
    return render(
        request,
        "knowledge/faq.html",
        {"form": form, "topics": services.public_topics(), "results": results, "query": query},
    )


@require_GET
def faq_topic(request, slug):
    topic = get_object_or_404(Topic, slug=slug, is_active=True)
    articles = services.visible_articles().filter(topic=topic).order_by("title")
    if not articles:
        raise Http404
    form = FaqSearchForm(initial={"topic": topic.slug})
    ui_lang = (get_language() or "fr")[:2]
    # English interface: English titles where a reviewed version exists.
    english = services.english_versions([a.pk for a in articles]) if ui_lang == "en" else {}
    return render(
        request,
        "knowledge/faq_topic.html",
        {
            "topic": topic,
            "rows": [(article, english.get(article.pk)) for article in articles],
            "ui_lang": ui_lang,
            "form": form,
            "topics": services.public_topics(),
            "tutorials": published_tutorials().filter(topic=topic).order_by("title"),
        },
    )


@require_GET
def article_detail(request, slug):
    user = request.user if request.user.is_authenticated else None
    article = services.get_article(slug, user)
    related = services.visible_articles(
        user, "agent" if user and user.is_staff_member else "public"
    )
    related = related.filter(pk__in=article.related.values("pk")).order_by("title")
    tutorials = list(published_tutorials().filter(article=article).order_by("title"))
    # English wanted (English interface, or "?lang=en" from an English chatbot answer): the
    # reviewed English version, else the French text marked lang="fr" with a note.
    ui_lang = (get_language() or "fr")[:2]
    wants_english = ui_lang == "en" or request.GET.get("lang") == "en"
    english = services.english_version(article) if wants_english else None
    response = render(
        request,
        "knowledge/article.html",
        {
            "article": article,
            "title": english.title if english else article.title,
            "body_html": render_markdown(english.body if english else article.body),
            "content_lang": "en" if english else "fr",
            "ui_lang": ui_lang,
            "only_french": wants_english and english is None,
            "related": related,
            "topics": services.public_topics(),
            "tutorials": tutorials,
        },
    )
    return with_frame_origins(request, response, tutorials)


# --- chatbot --------------------------------------------------------------------------------------
@login_required
@require_GET
def assistant(request):
    return render(
        request,
        "knowledge/assistant.html",
        {"topics": services.public_topics(), "max_chars": services.MAX_QUESTION_CHARS},
    )


@login_required
@require_GET
def handoff(request, conversation_id, kind):
    """Relay to a human: remember the citizen's choice, then go to the chat/message/callback."""
    url = services.record_handoff(request.user, conversation_id, kind)
    return redirect(url)


# --- deflection (contact form) --------------------------------------------------------------------
@require_GET
def deflection_suggestions(request):
    """htmx fragment: up to 3 public articles for ``?topic=<slug>&q=<text>`` on the contact form."""
    query = (request.GET.get("q") or "").strip()[: services.MAX_QUESTION_CHARS]
    topic_slug = (request.GET.get("topic") or "").strip()
    results = []
    if len(query) >= 3:
        results = services.search_articles(query, topic=topic_slug or None, limit=3)
        results = [r for r in results if r.score >= DEFLECTION_MIN_CONFIDENCE]
        for result in results:
            result.sufficient_vals = json.dumps(
                {
                    "article": result.article.slug,
                    "topic": topic_slug or result.article.topic.slug,
                    "query": query,
                    # One key per button (hx-vals win over the enclosing request form's key).
                    IDEMPOTENCY_FIELD: new_key(),
                }
            )
        if request.user.is_authenticated:
            for result in results:
                services.record_deflection(
                    user=request.user,
                    article=result.article,
                    query=query,
                    topic=topic_slug or result.article.topic,
                    sufficient=False,
                )
    return render(
        request,
        "knowledge/partials/deflection.html",
        {"results": results, "query": query, "topic_slug": topic_slug},
    )


# Below this confidence an article is not worth showing before a request.
DEFLECTION_MIN_CONFIDENCE = 0.2


@login_required
@require_POST
@idempotent
def deflection_sufficient(request):
    """ "Cette réponse me suffit": record it and go back to the citizen space (no request)."""
    try:
        services.record_deflection(
            user=request.user,
            article=request.POST.get("article", ""),
            query=request.POST.get("query", ""),
            topic=request.POST.get("topic") or None,
            sufficient=True,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        back = request.META.get("HTTP_REFERER", "")
        if not (back and url_has_allowed_host_and_scheme(back, {request.get_host()})):
            back = _citizen_home()
        return _go(request, back)
    messages.success(
        request,
        _("Tant mieux ! Aucune demande n'a été envoyée. Vous pouvez en déposer une à tout moment."),
    )
    return _go(request, _citizen_home())


def _go(request, url: str) -> HttpResponse:
    """Redirect; from htmx, ask it to navigate the whole page (HX-Redirect)."""
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


# --- agents: canned answers -----------------------------------------------------------------------
@staff_required
@require_GET
def agent_search(request):
    """htmx fragment: knowledge search for agents (agent-only articles included), with insert."""
    query = (request.GET.get("q") or "").strip()[: services.MAX_QUESTION_CHARS]
    target = request.GET.get("target") or ""
    if target and not TARGET_RE.match(target):
        return HttpResponseBadRequest(_("Identifiant de zone de saisie invalide."))
    results = []
    if query:
        for result in services.search_articles(query, audience="agent", limit=5):
            result.insert_text = _insert_text(request, result.article)
            result.body_html = render_markdown(result.article.body)
            results.append(result)
    template = "knowledge/partials/agent_search.html"
    if not request.htmx:
        template = "knowledge/console_search.html"
    return render(request, template, {"results": results, "query": query, "target": target})


def _insert_text(request, article: Article) -> str:
    text = plain_text(article.body)
    if article.is_public:
        link = request.build_absolute_uri(article.get_absolute_url())
        text += "\n\n" + _("Pour en savoir plus : %(url)s") % {"url": link}
    return text


@staff_required
@require_GET
def review_list(request):
    articles = services.articles_due_for_review(request.user)
    page = Paginator(articles, 30).get_page(request.GET.get("page"))
    return render(request, "knowledge/review_list.html", {"page": page})


@staff_required
@require_POST
def markdown_preview(request):
    """Admin editor: sanitised preview of Markdown (what citizens will see)."""
    source = request.POST.get("body", "")[:100_000]
    return HttpResponse(render_markdown(source))


# --- guided diagnosis -----------------------------------------------------------------------------
@staff_required
@require_GET
def diagnosis_list(request):
    reference = (request.GET.get("case") or "").strip()
    case = get_case_or_404(request.user, reference=reference) if reference else None
    trees: QuerySet[DiagnosisTree] | list[DiagnosisTree] = DiagnosisTree.objects.filter(
        is_active=True, root__isnull=False
    ).select_related("topic")
    if case is not None:
        trees = sorted(trees, key=lambda t: (t.topic_id != case.topic_id, t.title))
    template = (
        "knowledge/partials/diagnosis_dialog.html"
        if request.htmx
        else "knowledge/diagnosis_list.html"
    )
    return render(request, template, {"trees": trees, "case": case})


@staff_required
@idempotent
def diagnosis_walk(request, slug):
    """Walk a tree step by step (the path is in ``?path=``); save it on a case at the end."""
    tree = get_object_or_404(DiagnosisTree, slug=slug, is_active=True, root__isnull=False)
    data = request.POST if request.method == "POST" else request.GET
    reference = (data.get("case") or "").strip()
    case = get_case_or_404(request.user, reference=reference) if reference else None
    if request.method == "GET" and case is not None and not request.GET.get("path"):
        record_access(request.user, AuditLog.Action.VIEW_CASE, case=case, reason="diagnostic")
    path_ok = True
    try:
        path = services.parse_path(data.get("path"))
        steps = services.walk(tree, path)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        path, steps, path_ok = [], services.walk(tree, []), False
    if request.method == "POST" and path_ok:
        if case is None or not can_act_on_case(request.user, case):
            messages.error(
                request, _("Choisissez une demande sur laquelle enregistrer le parcours.")
            )
        else:
            try:
                services.save_diagnosis(case=case, agent=request.user, tree=tree, choice_ids=path)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                if request.htmx:  # the agent workstation's dialog: the case's tab refreshes
                    response = render(
                        request,
                        "knowledge/partials/diagnosis_saved.html",
                        {"tree": tree, "case": case},
                    )
                    response["HX-Trigger"] = json.dumps(
                        {"guichet:case-changed": {"reference": case.reference}}
                    )
                    return response
                messages.success(
                    request,
                    _("Le parcours a été enregistré sur la demande %(ref)s.")
                    % {"ref": case.reference},
                )
                try:
                    return redirect(reverse("console:case", args=[case.reference]))
                except NoReverseMatch:
                    return redirect(reverse("knowledge:diagnosis_list"))
    current = steps[-1].node
    prefix = ",".join(str(p) for p in path)
    choices = [
        (choice, f"{prefix},{choice.pk}" if prefix else str(choice.pk))
        for choice in (current.choices.all() if not current.is_outcome else [])
    ]
    back = ",".join(str(p) for p in path[:-1])
    return render(
        request,
        "knowledge/partials/diagnosis_dialog.html"
        if request.htmx
        else "knowledge/diagnosis_walk.html",
        {
            "tree": tree,
            "case": case,
            "steps": steps[:-1],
            "current": current,
            "choices": choices,
            "path": prefix,
            "back": back,
            "can_go_back": bool(path),
            "article_html": render_markdown(current.article.body)
            if current.is_outcome and current.article is not None
            else "",
        },
    )
