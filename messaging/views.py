"""Citizen space and attachment views (thin: parse, check permission, call services, render).

Every case lookup goes through ``contactcenter.permissions``: somebody else's case, message or
attachment is a 404, never a 403, so that its existence is not disclosed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from contactcenter import surveys
from contactcenter.decorators import apply_errors, citizen_required
from contactcenter.forms import RatingForm
from contactcenter.idempotency import idempotent
from contactcenter.models import AuditLog, Case, Satisfaction, Topic
from contactcenter.permissions import get_case_or_404, record_access, visible_cases
from contactcenter.services import citizen_history, rate_case
from contactcenter.views import private_file_response

from . import preferences as alert_preferences
from . import services
from .forms import AlertPreferenceForm, NewRequestForm, PreferencesForm, ReplyForm
from .models import AlertPreference, Attachment

PAGE_SIZE = 20


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


# --- list and new request ------------------------------------------------------------------


@citizen_required
def space(request):
    """The citizen's requests, newest activity first, with what waits on them at the top."""
    cases = visible_cases(request.user).select_related("service", "topic")
    waiting = list(cases.filter(status=Case.Status.WAITING_CITIZEN).order_by("last_activity_at"))
    page = paginate(request, cases.order_by("-last_activity_at", "-id"))
    return render(
        request,
        "messaging/space.html",
        {
            "page": page,
            "waiting": waiting,
            "pending_surveys": surveys.pending_for(request.user),
            "page_title": _("Mes demandes"),
        },
    )


def deflection_url() -> str | None:
    """The knowledge app's suggestions partial, if it is installed."""
    try:
        return reverse("knowledge:deflection_suggestions")
    except NoReverseMatch:
        return None


@citizen_required
@require_http_methods(["GET", "POST"])
@idempotent
def new_request(request):
    """Three steps: topic, kind, then answers from the knowledge base and the message box.

    Steps 1 and 2 are GET forms (the choice travels in the query string, so the back button and
    a chatbot hand-off link ``?topic=...&chatbot=...&fragile=1`` just work); step 3 posts.
    """
    data = request.POST if request.method == "POST" else request.GET
    chatbot = (data.get("chatbot") or "").strip()[:64]
    handoff = services.chatbot_handoff(chatbot, request.user) if chatbot else None
    if chatbot and handoff is None:
        chatbot = ""  # not the citizen's conversation (or unknown): ignore it
    topics = list(Topic.objects.filter(is_active=True).select_related("service"))
    wanted_topic = data.get("topic") or (handoff or {}).get("topic")
    topic = next((t for t in topics if t.slug == wanted_topic), None)
    kind = data.get("kind") if data.get("kind") in Case.Kind.values else None
    fragile = data.get("fragile") in ("1", "true", "on", "True") or bool(
        (handoff or {}).get("fragile")
    )
    context = {
        "topics": topics,
        "topic": topic,
        "kind": kind,
        "kinds": Case.Kind.choices,
        "chatbot": chatbot,
        "fragile": fragile,
        "page_title": _("Nouvelle demande"),
        "topic_error": data.get("topic") is not None and topic is None and "topic" in data,
        "kind_error": data.get("kind") is not None and kind is None and "kind" in data,
    }
    if topic is None or kind is None:
        context["step"] = 1 if topic is None else 2
        if request.method == "POST":
            context["topic_error"] = topic is None
            context["kind_error"] = topic is not None
        return render(
            request,
            "messaging/new_request.html",
            context,
            status=400 if request.method == "POST" else 200,
        )

    context["step"] = 3
    context["suggestions_url"] = deflection_url()
    context["transcript"] = (handoff or {}).get("transcript", "")
    if request.method == "POST":
        form = NewRequestForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                case = services.create_request(
                    request.user,
                    form.cleaned_data["topic"],
                    form.cleaned_data["kind"],
                    form.cleaned_data["subject"],
                    form.cleaned_data["body"],
                    files=form.cleaned_data["files"],
                    chatbot_conversation=form.cleaned_data["chatbot"] or None,
                    fragile=form.cleaned_data["fragile"],
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(
                    request,
                    _(
                        "Votre demande %(reference)s a bien été envoyée. Vous serez averti(e) "
                        "de la réponse selon vos préférences."
                    )
                    % {"reference": case.reference},
                )
                return redirect("messaging:case_detail", reference=case.reference)
    else:
        form = NewRequestForm(
            initial={"topic": topic.slug, "kind": kind, "chatbot": chatbot, "fragile": fragile}
        )
    context["form"] = form
    return render(
        request, "messaging/new_request.html", context, status=400 if form.errors else 200
    )


# --- one request ---------------------------------------------------------------------------


def _citizen_case(request, reference: str) -> Case:
    return get_case_or_404(request.user, reference=reference)


def _detail_context(request, case: Case, **forms) -> dict:
    events = list(services.thread_events(case, include_internal=False))
    # Shown only for a case that can be rated (answered or closed): no query for the others.
    satisfaction = (
        Satisfaction.objects.filter(case=case, event=None).first() if case.can_be_rated else None
    )
    context = {
        "case": case,
        "events": events,
        "satisfaction": satisfaction,
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "rating_form": forms.get("rating_form") or RatingForm(),
        "page_title": case.subject,
    }
    return context


@citizen_required
@require_http_methods(["GET"])
def case_detail(request, reference):
    case = _citizen_case(request, reference)
    return render(request, "messaging/case_detail.html", _detail_context(request, case))


@citizen_required
@require_POST
@idempotent
def case_reply(request, reference):
    case = _citizen_case(request, reference)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.post_citizen_message(
                case, request.user, form.cleaned_data["body"], files=form.cleaned_data["files"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Votre message a bien été envoyé."))
            return redirect(reverse("messaging:case_detail", args=[case.reference]) + "#fil")
    case.refresh_from_db()
    return render(
        request,
        "messaging/case_detail.html",
        _detail_context(request, case, reply_form=form),
        status=400,
    )


@citizen_required
@require_POST
def case_close(request, reference):
    case = _citizen_case(request, reference)
    try:
        services.citizen_close(case, request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Votre demande est clôturée. Vous pouvez donner votre avis."))
    return redirect("messaging:case_detail", reference=case.reference)


@citizen_required
@require_POST
def case_reopen(request, reference):
    case = _citizen_case(request, reference)
    try:
        services.reopen_case(case, request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Votre demande est rouverte : vous pouvez écrire à nouveau."))
    return redirect("messaging:case_detail", reference=case.reference)


@citizen_required
@require_POST
@idempotent
def case_rate(request, reference):
    case = _citizen_case(request, reference)
    form = RatingForm(request.POST)
    if Satisfaction.objects.filter(case=case, event=None).exists():
        messages.info(request, _("Vous avez déjà donné votre avis sur cette demande. Merci !"))
        return redirect("messaging:case_detail", reference=case.reference)
    if form.is_valid():
        try:
            rate_case(case, request.user, form.cleaned_data["score"], form.cleaned_data["comment"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Merci pour votre avis."))
            return redirect(reverse("messaging:case_detail", args=[case.reference]) + "#avis")
    return render(
        request,
        "messaging/case_detail.html",
        _detail_context(request, case, rating_form=form),
        status=400,
    )


# --- history, preferences, accesses ---------------------------------------------------------


@citizen_required
def history(request):
    page = paginate(request, citizen_history(request.user))
    return render(
        request, "messaging/history.html", {"page": page, "page_title": _("Mon historique")}
    )


@citizen_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    user = request.user
    choice = AlertPreference.objects.filter(user=user).first() or AlertPreference(user=user)
    if request.method == "POST":
        form = PreferencesForm(request.POST, instance=user)
        # The page always sends the language (a radio with a default); a post without it
        # (an older form) leaves the categories as they were.
        posted = "language" in request.POST
        categories = AlertPreferenceForm(request.POST if posted else None, instance=choice)
        if form.is_valid() and (not posted or categories.is_valid()):
            form.save()
            if posted:
                categories.save()
            messages.success(request, _("Vos préférences d'alerte sont enregistrées."))
            return redirect("messaging:preferences")
        status = 400
    else:
        form = PreferencesForm(instance=user)
        categories = AlertPreferenceForm(instance=choice)
        status = 200
    return render(
        request,
        "messaging/preferences.html",
        {"form": form, "categories": categories, "page_title": _("Mes préférences d'alerte")},
        status=status,
    )


@csrf_exempt  # the signed token is the authority; mail providers POST without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """One-click unsubscribe (RFC 8058) from the e-mail alerts of one non-essential category:
    GET shows a confirmation button, POST (the button, or the mail provider's
    ``List-Unsubscribe=One-Click``) turns the category's e-mail alerts off."""
    found = alert_preferences.read_token(token)
    if found is None:
        return render(
            request,
            "messaging/unsubscribe.html",
            {"invalid": True, "page_title": _("Lien de désabonnement invalide")},
            status=400,
        )
    citizen, category = found
    done = request.method == "POST"
    if done:
        alert_preferences.unsubscribe(citizen, category)
    return render(
        request,
        "messaging/unsubscribe.html",
        {
            "done": done,
            "category": AlertPreferenceForm.CATEGORY_LABELS[category],
            "token": token,
            "page_title": _("Se désabonner des alertes"),
        },
    )


@citizen_required
def access_log(request):
    """Which services consulted the citizen's file, and when (never the agent's name)."""
    accesses = (
        AuditLog.objects.filter(citizen=request.user)
        .select_related("actor_service", "case")
        .only(
            "created_at",
            "action",
            "reason",
            "actor",
            "actor_service__name",
            "case__reference",
            "case__subject",
        )
        .order_by("-created_at", "-id")
    )
    # Repeated reads of one case by one agent in one session make one row with a count.
    groups = services.group_accesses(accesses.iterator(chunk_size=500))
    summary = (
        AuditLog.objects.filter(citizen=request.user)
        .values("actor_service__name")
        .annotate(
            total=Count("id"), cases=Count("case", distinct=True, filter=Q(case__isnull=False))
        )
        .order_by("-total")
    )
    return render(
        request,
        "messaging/access_log.html",
        {
            "page": paginate(request, groups, per_page=50),
            "summary": list(summary),
            "page_title": _("Qui a consulté mon dossier"),
        },
    )


# --- attachments ---------------------------------------------------------------------------


def attachment_for(user, public_id) -> Attachment:
    """The attachment if ``user`` may read it, else 404 (same rules as the case and its thread)."""
    attachment = (
        Attachment.objects.select_related("event", "case").filter(public_id=public_id).first()
    )
    if attachment is None:
        raise Http404("Pièce jointe introuvable")
    get_case_or_404(user, pk=attachment.case_id)
    if attachment.is_draft and attachment.uploaded_by_id != user.pk:
        raise Http404("Pièce jointe introuvable")
    if attachment.event is not None and attachment.event.internal and not user.is_staff_member:
        raise Http404("Pièce jointe introuvable")
    return attachment


def stream_attachment(request, attachment: Attachment) -> FileResponse:
    """Stream the file as a download (never rendered inline), audited when staff read it."""
    if request.user.is_staff_member:
        record_access(
            request.user,
            AuditLog.Action.VIEW_ATTACHMENT,
            case=attachment.case,
            detail={"attachment": str(attachment.public_id), "name": attachment.original_name},
        )
    return private_file_response(attachment.file, attachment.original_name, attachment.content_type)


@login_required
@require_http_methods(["GET"])
def attachment_download(request, public_id):
    return stream_attachment(request, attachment_for(request.user, public_id))
