"""Co-browsing pages (thin: parse, check permission, call services, render)."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from contactcenter.decorators import citizen_required, staff_required
from contactcenter.idempotency import idempotent
from contactcenter.models import User
from contactcenter.permissions import can_act_on_case, get_case_or_404
from contactcenter.traces import trace_prefill

from . import conf, services
from .forms import CodeForm
from .models import CobrowseSession

CODE_TARGETS = ("cobrowse-code-result", "cobrowse-code-page")


def _safe_next(request, fallback: str) -> str:
    for candidate in (request.POST.get("next"), request.headers.get("referer")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return fallback


# --- Citizen ----------------------------------------------------------------------------------
@citizen_required
def citizen_help(request):
    """Explanations and a code without JavaScript (the modal does the same on every page)."""
    return render(request, "cobrowse/citizen_help.html", {"target": "cobrowse-code-page"})


@citizen_required
@require_POST
@idempotent
def create_code(request):
    target = getattr(request, "htmx", None) and request.htmx.target
    context = {"target": target if target in CODE_TARGETS else "cobrowse-code-page"}
    try:
        session, code = services.create_code(request.user)
    except services.CobrowseError as error:
        context["error"] = error.message
    else:
        context.update(
            session=session,
            code=code,
            code_display=f"{code[:3]} {code[3:]}",
            code_spelled=" ".join(code),
        )
    if getattr(request, "htmx", None):
        return render(request, "cobrowse/_code.html", context)
    return render(request, "cobrowse/citizen_help.html", context)


@citizen_required
@require_POST
def end_current(request):
    """« Arrêter le partage »: ends the citizen's live session (the socket does it faster)."""
    ended = services.end_user_sessions(request.user, CobrowseSession.EndReason.CITIZEN)
    if request.headers.get("x-requested-with") == "fetch":
        return HttpResponse(status=204)
    if ended:
        messages.success(request, _("Le partage d'écran est terminé."))
    return redirect(_safe_next(request, reverse("home")))


# --- Agent ---------------------------------------------------------------------------------
@staff_required
def agent_home(request):
    """Enter the citizen's code; the list of one's recent sessions."""
    form = CodeForm(request.POST or None)
    locked_until = services.lockout_until(request.user)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.join_with_code(request.user, form.cleaned_data["code"])
        except services.CobrowseError as error:
            form.add_error("code", error.message)
            locked_until = services.lockout_until(request.user)
        else:
            return redirect("cobrowse:viewer", session_id=session.pk)
    recent = (
        CobrowseSession.objects.filter(agent=request.user)
        .select_related("citizen", "case")
        .order_by("-created_at")[:10]
    )
    # Reaching this point on a POST means the code was refused.
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "cobrowse/agent_home.html",
        {"form": form, "recent": recent, "locked_until": locked_until},
        status=status,
    )


@staff_required
@require_POST
@idempotent
def invite(request):
    """Invite the citizen of a case (``case_id``) or of a synthesis sheet (``citizen_id``)."""
    case = None
    case_id, citizen_id = request.POST.get("case_id"), request.POST.get("citizen_id")
    if case_id:
        case = get_case_or_404(request.user, pk=case_id)
        if not can_act_on_case(request.user, case):
            raise Http404
        citizen = case.citizen
    elif citizen_id:
        try:
            citizen = User.objects.get(pk=int(citizen_id), role=User.Role.CITIZEN)
        except (User.DoesNotExist, ValueError, TypeError):
            raise Http404("Usager introuvable")
    else:
        messages.error(request, _("Précisez la demande ou l'usager à inviter."))
        return redirect(_safe_next(request, reverse("cobrowse:agent")))
    try:
        session = services.invite(request.user, citizen=citizen, case=case)
    except services.CobrowseError as error:
        if request.htmx:  # the agent workstation's dialog: the refusal in place
            return render(
                request, "cobrowse/_invite_refused.html", {"message": error.message}, status=400
            )
        messages.error(request, error.message)
        return redirect(_safe_next(request, reverse("cobrowse:agent")))
    if request.htmx:  # the agent workstation: the viewer in its dialog (no new window)
        session = CobrowseSession.objects.select_related("citizen", "agent_service", "case").get(
            pk=session.pk
        )
        return render(request, "cobrowse/_viewer.html", {"session": session, "embedded": True})
    return redirect("cobrowse:viewer", session_id=session.pk)


@staff_required
def viewer(request, session_id):
    session = get_object_or_404(
        CobrowseSession.objects.select_related("citizen", "agent_service", "case"),
        pk=session_id,
        agent=request.user,
    )
    if session.is_live:
        services.expire_if_stale(session.pk)
        session.refresh_from_db()
    context: dict = {"session": session}
    if not session.is_live and session.event_id and session.case is not None:
        # « Ce qu'il faut retenir » for the citizen (console/_contact_trace.html).
        context["contact"] = session.event
        context["trace_prefill"] = trace_prefill(session.case)
    return render(request, "cobrowse/viewer.html", context)


@staff_required
@require_POST
def agent_end(request, session_id):
    """Fallback of the viewer's « Terminer » button when the socket is down."""
    session = get_object_or_404(CobrowseSession, pk=session_id, agent=request.user)
    services.end_session(session.pk, CobrowseSession.EndReason.AGENT, by=request.user)
    return redirect("cobrowse:viewer", session_id=session.pk)


# --- The replay's own document ----------------------------------------------------------------
PLAYER_SCRIPTS = ("cobrowse/js/player.js", "vendor/rrweb-replay/replay.js")
PLAYER_STYLESHEETS = ("vendor/rrweb-replay/style.css", "cobrowse/css/player.css")


def player_policy(request) -> str:
    """The Content-Security-Policy of the replay: it may load our two scripts, Guichet's
    allowed style sheets and static files (fonts and icons of those sheets), data: images, and
    nothing else: no other URL of Guichet (no page, no API), no other site, no connection."""

    def source(name: str) -> str:
        return request.build_absolute_uri(static(name))

    static_root = request.build_absolute_uri(settings.STATIC_URL)
    scripts = " ".join(source(name) for name in PLAYER_SCRIPTS)
    sheets = " ".join(source(name) for name in (*conf.get("STYLESHEETS"), *PLAYER_STYLESHEETS))
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            f"style-src 'unsafe-inline' {sheets}",
            f"img-src data: {static_root}",
            f"font-src data: {static_root}",
            "connect-src 'none'",
            "media-src 'none'",
            "object-src 'none'",
            "worker-src 'none'",
            "frame-src 'none'",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
        ]
    )


@require_GET
@xframe_options_sameorigin
def player(request):
    """The document the viewer embeds (``credentialless``: loaded and run without cookies) in
    which rrweb rebuilds the citizen's page, in its own script-less iframe. It holds no data and
    needs no login: the viewer hands it the (already scrubbed) events by postMessage."""
    response = render(
        request,
        "cobrowse/player.html",
        {"scripts": PLAYER_SCRIPTS, "stylesheets": PLAYER_STYLESHEETS},
    )
    response["Content-Security-Policy"] = player_policy(request)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
