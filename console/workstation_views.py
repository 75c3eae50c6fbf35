"""Agent workstation ("poste de travail", /console/poste/): one screen, htmx partials.

The page holds the work list (left), the open items as tabs (centre) and the citizen panel
(right). Each part is a partial loaded and refreshed with htmx; every partial that shows a case
looks it up through ``contactcenter.permissions`` (another service's case is a 404) and the
openings are audited like the full pages. Actions post to the console's usual views
(``console.views``) with ``poste=1``: they answer with the refreshed tab instead of a redirect.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from appointments.panel import panel_context as appointment_context
from contactcenter.decorators import apply_errors, staff_required
from contactcenter.idempotency import idempotent
from contactcenter.models import AuditLog, Case, Channel, Event
from contactcenter.permissions import get_case_or_404, record_access
from contactcenter.traces import post_contact_trace
from demarches.services import staff_demarches
from voice import controls as voice_controls
from voice import unidentified as voice_unidentified

from . import worklist, workstation
from .forms import CallSummaryForm, CloseForm, NoteForm, ReplyForm, TransferForm

POSTE_FIELD = "poste"


def from_workstation(request) -> bool:
    """Whether an action was posted from the workstation (answer with its partials)."""
    return bool(request.htmx) and request.POST.get(POSTE_FIELD) == "1"


def _timeline(case: Case) -> list[Event]:
    from .views import _timeline as full_timeline

    return full_timeline(case)


@require_GET
@staff_required
def workstation_page(request):
    """The workstation. ``?ouvrir=<reference>`` opens that case in a tab (deep links: the
    case page links here), checked like any case URL."""
    initial = None
    reference = request.GET.get("ouvrir", "")
    if reference:
        case = get_case_or_404(request.user, reference=reference)
        initial = workstation.present_items([case])[0]
    context = {
        "items": workstation.my_items(request.user),
        "loads": workstation.agent_load(request.user) if request.user.is_agent else [],
        "initial": initial,
        "ws_strings": client_strings(),
    }
    return render(request, "console/workstation.html", context)


@require_GET
@staff_required
def work_items(request):
    """The left list: the agent's items across channels (refreshed over the socket)."""
    context = {
        "items": workstation.my_items(request.user),
        "loads": workstation.agent_load(request.user) if request.user.is_agent else [],
        "oob_load": True,
    }
    return render(request, "console/_ws_items.html", context)


@require_GET
@staff_required
def queue(request):
    """The second tab: the queues of the agent's services, with "Prendre"."""
    return render(
        request, "console/_ws_queue.html", {"queue": workstation.queue_items(request.user)}
    )


def render_item(request, case: Case, *, status: int = 200, notice: str = "", **forms):
    """A case tab: its conversation, the reply box (or the internal note) and its actions."""
    worklist.label_cases([case])
    reply_form = forms.get("reply_form") or ReplyForm()
    context = {
        "case": case,
        "events": _timeline(case),
        "sla": worklist.sla_states([case])[case.pk],
        "reply_form": reply_form,
        "note_form": forms.get("note_form") or NoteForm(),
        "close_form": forms.get("close_form") or CloseForm(),
        "transfer_form": forms.get("transfer_form"),
        "open_panel": forms.get("open_panel", ""),
        "notice": notice,
        "mine": case.assigned_to_id == request.user.pk,
        "dom": case.reference.replace("-", ""),
        "phone_call": voice_controls.agent_call(case, request.user),
        "phone_summary": voice_controls.summary_allowed(case, request.user),
        "summary_form": forms.get("summary_form") or CallSummaryForm(),
    }
    response = render(request, "console/_ws_case.html", context, status=status)
    response["HX-Trigger"] = "guichet:worklist-changed"
    return response


def render_closed_item(request, case: Case, notice: str) -> HttpResponse:
    """After an action that takes the case away from the agent (transfer): a short notice in
    the tab, which the agent closes (the case may no longer be visible to them)."""
    response = render(
        request,
        "console/_ws_gone.html",
        {"reference": case.reference, "notice": notice, "dom": case.reference.replace("-", "")},
    )
    response["HX-Trigger"] = "guichet:worklist-changed"
    # Posted from the transfer form inside the tab: the whole tab becomes the notice.
    response["HX-Retarget"] = f'[data-ws-case="{case.reference}"]'
    response["HX-Reswap"] = "outerHTML"
    return response


@require_GET
@staff_required
def item(request, reference):
    """A case tab (secure message, callback, recorded contact...). Audited as an opening."""
    case = get_case_or_404(request.user, reference=reference)
    record_access(request.user, AuditLog.Action.VIEW_CASE, case=case, detail={"poste": True})
    return render_item(request, case)


@require_GET
@staff_required
def transfer_form(request, reference):
    """The transfer form of a case tab, loaded when the agent opens it (its choices cost
    queries the tab itself does not need)."""
    case = get_case_or_404(request.user, reference=reference)
    return render(
        request, "console/_ws_transfer.html", transfer_context(case, TransferForm(case=case))
    )


@require_POST
@staff_required
def call_hold(request, reference):
    """Put the call of a phone case on hold, or take it back (``action`` = hold | resume):
    only the agent the call is bridged to. The voice server plays the hold music meanwhile
    (voice.controls). Answers with the call's controls."""
    case = get_case_or_404(request.user, reference=reference)
    call = voice_controls.agent_call(case, request.user)
    status = 200
    if call is None:
        status = 409
    elif request.POST.get("action") in ("hold", "resume"):
        voice_controls.set_hold(call, request.POST["action"] == "hold")
    context = {"case": case, "phone_call": call, "dom": case.reference.replace("-", "")}
    return render(request, "console/_ws_call.html", context, status=status)


@require_POST
@staff_required
@idempotent
def call_summary(request, reference):
    """The agent's written summary of a call goes to the citizen's secure messaging (core's
    ``post_contact_trace``: a message of channel phone and the content-free alert)."""
    case = get_case_or_404(request.user, reference=reference)
    form = CallSummaryForm(request.POST)
    if not voice_controls.summary_allowed(case, request.user):
        form.add_error(None, _("Aucun appel de cette demande ne vous a été transmis."))
        return render_item(request, case, summary_form=form, status=409)
    if form.is_valid():
        try:
            post_contact_trace(
                case,
                request.user,
                form.cleaned_data["body"],
                Channel.PHONE,
                contact=voice_controls.summary_contact(case, request.user),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            notice = _("Résumé de l'appel envoyé dans la messagerie de l'usager ; il est prévenu.")
            return render_item(request, case, notice=notice)
    return render_item(request, case, summary_form=form, status=400)


def transfer_context(case: Case, form: TransferForm) -> dict:
    dom = case.reference.replace("-", "")
    form.auto_id = f"transfer-{dom}-%s"  # several tabs may show a transfer form at once
    return {"case": case, "transfer_form": form, "dom": dom}


@require_GET
@staff_required
def citizen(request, reference):
    """The citizen panel of an open item: the synthesis sheet of the case's citizen, limited to
    the cases the agent may see. Audited as a synthesis opening."""
    case = get_case_or_404(request.user, reference=reference)
    return render_citizen(request, case)


def render_citizen(request, case: Case, *, status: int = 200, **extra) -> HttpResponse:
    if voice_unidentified.is_unidentified(case):
        return render_caller(request, case, status=status, **extra)
    citizen = case.citizen
    panel = workstation.citizen_panel(request.user, case)
    record_access(
        request.user,
        AuditLog.Action.VIEW_SYNTHESIS,
        citizen=citizen,
        detail={"poste": True, "case": case.reference},
    )
    return render(
        request,
        "console/_ws_citizen.html",
        {
            "panel": panel,
            "case": case,
            "citizen": citizen,
            "sheet": panel.sheet,
            "demarches": staff_demarches(request.user, citizen),
            "appointment": appointment_context(case),
            "sheet_url": reverse("console:citizen", args=[citizen.pk]),
            "callback_url": request.build_absolute_uri(
                reverse("routing:callback_new") + f"?topic={case.topic.slug}"
            ),
            **extra,
        },
        status=status,
    )


def render_caller(request, case: Case, *, status: int = 200, **extra) -> HttpResponse:
    """The panel of an unidentified caller's phone case: the caller ID and the form that links
    the case to the citizen the agent recognised."""
    context = {
        "case": case,
        "number": voice_unidentified.caller_number(case),
        "value": "",
        "error": "",
        **extra,
    }
    return render(request, "console/_ws_caller.html", context, status=status)


@require_POST
@staff_required
@idempotent
def link_caller(request, reference):
    """Link an unidentified caller's case to a citizen (their account address or mobile)."""
    case = get_case_or_404(request.user, reference=reference)
    if not voice_unidentified.is_unidentified(case):
        return render_citizen(request, case, status=409)
    wanted = request.POST.get("citoyen", "").strip()
    citizen = voice_unidentified.find_citizen(wanted)
    if citizen is None:
        error = _("Aucun compte d'usager actif n'a cette adresse ou ce numéro de mobile.")
        return render_caller(request, case, status=400, error=error, value=wanted)
    try:
        voice_unidentified.link_caller(case, citizen, request.user)
    except ValidationError as exc:
        return render_caller(request, case, status=400, error=" ".join(exc.messages), value=wanted)
    case.refresh_from_db()
    record_access(
        request.user,
        AuditLog.Action.VIEW_SYNTHESIS,
        citizen=citizen,
        detail={"poste": True, "case": case.reference, "linked_caller": True},
    )
    response = render_citizen(request, case)
    response["HX-Trigger"] = json.dumps(
        {"guichet:worklist-changed": {}, "guichet:case-changed": {"reference": case.reference}}
    )
    return response


def render_dialog_done(request, text: str, case: Case | None) -> HttpResponse:
    """The answer of a form of the workstation's dialog (record a contact, guided diagnosis):
    the outcome, with the case to open in a tab when the agent may see it. The work list and
    the tab of that case are refreshed (``guichet:case-changed`` names it)."""
    item = workstation.present_items([case])[0] if case is not None else None
    response = render(request, "console/_ws_dialog_done.html", {"text": text, "item": item})
    trigger: dict[str, dict[str, str]] = {"guichet:worklist-changed": {}}
    if case is not None:
        trigger["guichet:case-changed"] = {"reference": case.reference}
    response["HX-Trigger"] = json.dumps(trigger)
    return response


def client_strings() -> dict[str, str]:
    """French strings of static/console/js/workstation.js (json_script: no inline script)."""
    return {
        "close_tab": _("Fermer l'onglet"),
        "opened": _("Ouvert dans un onglet :"),
        "new_message": _("Nouveau message"),
        "unread": _("non lu(s)"),
        "new_item": _("Nouvel élément ouvert :"),
        "closed_tab": _("Onglet fermé."),
        "load_error": _("Impossible de charger cet élément. Réessayez."),
        "list_updated": _("Liste de travail mise à jour."),
        "files": _("Fichiers joints :"),
    }
