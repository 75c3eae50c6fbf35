"""Agent console ("e-contacts") views: thin — parse, check permission, call services, render.

Case lookups go through ``contactcenter.permissions``: a case of another service is a 404.
Every full opening of a case or of a synthesis sheet writes an audit record.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contactcenter import cases
from contactcenter.decorators import apply_errors, staff_required
from contactcenter.idempotency import idempotent
from contactcenter.models import AuditLog, Case, Event, User
from contactcenter.permissions import (
    can_see_case,
    get_case_or_404,
    record_access,
    user_service_ids,
)
from contactcenter.traces import post_contact_trace, trace_prefill
from messaging import services as thread

from . import screenpop, synthesis, worklist, workstation
from . import workstation_views as poste
from .forms import (
    AccessReasonForm,
    AssignForm,
    CitizenSearchForm,
    ClassificationForm,
    CloseForm,
    ContactForm,
    NoteForm,
    ReplyForm,
    TransferForm,
)

# --- "Mon travail" ------------------------------------------------------------------------------


def _work_context(request, filters: worklist.WorkFilters) -> dict:
    user = request.user
    facets = worklist.facet_counts(user, filters)
    paginator = Paginator(worklist.work_list(user, filters), worklist.PAGE_SIZE)
    paginator.count = facets.total  # counted in the facets' scan: no second COUNT(*)
    page = paginator.get_page(filters.page)
    now = timezone.now()
    cases = worklist.present_cases(list(page.object_list), user, now)
    sla = worklist.sla_states(cases)
    for case in cases:
        case.sla = sla.get(case.pk, "ok")
        case.pending = case.pending_transfers[0] if case.pending_transfers else None
    counts = worklist.tab_counts(user, filters, current=facets.total)
    tabs = [
        {
            "value": value,
            "label": label,
            "count": counts[value],
            "current": value == filters.view,
            "query": urlencode(filters.as_query(vue=value, page="")),
        }
        for value, label in worklist.VIEWS.items()
    ]
    return {
        "filters": filters,
        "facets": facets,
        "count_cap": worklist.COUNT_CAP,
        "tabs": tabs,
        "page": page,
        "cases": cases,
        "query": urlencode(filters.as_query()),
        "page_query": urlencode(filters.as_query(page="")),
        "view_label": worklist.VIEWS[filters.view],
        "is_supervisor": user.is_supervisor or user.is_admin_role,
        "list_url": _list_url(filters),
        "now": now,
    }


def _list_url(filters: worklist.WorkFilters) -> str:
    query = urlencode(filters.as_query())
    return reverse("console:home") + (f"?{query}" if query else "")


@require_GET
@staff_required
def home(request):
    """Cases assigned to me, the queue of my services and (supervisors) all their cases."""
    filters = worklist.WorkFilters.from_query(request.GET)
    context = _work_context(request, filters)
    if request.htmx and not request.htmx.boosted:
        return render(request, "console/_work.html", context)
    return render(request, "console/home.html", context)


def _back_to_list(request) -> str:
    """The list URL the agent came from (kept through POST in ``retour``), or the default."""
    target = request.POST.get("retour", "")
    safe = target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if safe and target.startswith(reverse("console:home")):
        return target
    return reverse("console:home")


def _list_response(request, *, error: str = "", success: str = ""):
    """After an action from the list: the refreshed list (htmx) or a redirect back to it."""
    target = _back_to_list(request)
    if request.htmx:
        query = target.partition("?")[2]
        filters = worklist.WorkFilters.from_query(QueryDict(query))
        context = _work_context(request, filters)
        context.update({"action_error": error, "action_success": success})
        return render(request, "console/_work.html", context)
    if error:
        messages.error(request, error)
    if success:
        messages.success(request, success)
    return redirect(target)


def _case_or_404(request, reference: str) -> Case:
    return get_case_or_404(request.user, reference=reference)


@require_POST
@staff_required
def take(request, reference):
    case = _case_or_404(request, reference)
    from_list = bool(request.POST.get("retour"))
    try:
        worklist.take(request.user, case)
    except ValidationError as exc:
        message = _already_taken_or(exc, case, request.user)
        if poste.from_workstation(request):
            return render(
                request,
                "console/_ws_queue.html",
                {"queue": workstation.queue_items(request.user), "error": message},
            )
        if from_list:
            return _list_response(request, error=message)
        messages.error(request, message)
        return redirect("console:case", reference=case.reference)
    if poste.from_workstation(request):
        # The queue tab refreshes; the workstation opens the case in a tab.
        response = render(
            request, "console/_ws_queue.html", {"queue": workstation.queue_items(request.user)}
        )
        response["HX-Trigger"] = json.dumps(
            {"guichet:worklist-changed": None, "guichet:open-item": screenpop.item_payload(case)}
        )
        return response
    url = reverse("console:case", args=[case.reference])
    messages.success(
        request, _("Vous avez pris en charge la demande %(ref)s.") % {"ref": case.reference}
    )
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _already_taken_or(exc: ValidationError, case: Case, agent: User) -> str:
    """Routing's refusal, worded for the agent: a lost race says so in plain words."""
    owner = Case.objects.filter(pk=case.pk).values_list("assigned_to_id", flat=True).first()
    if owner is not None and owner != agent.pk:
        return str(worklist.ALREADY_TAKEN)
    return " ".join(exc.messages)


@require_POST
@staff_required
def release(request, reference):
    case = _case_or_404(request, reference)
    from_list = bool(request.POST.get("retour"))
    try:
        worklist.release(request.user, case)
    except ValidationError as exc:
        if from_list:
            return _list_response(request, error=" ".join(exc.messages))
        messages.error(request, " ".join(exc.messages))
        return redirect("console:case", reference=case.reference)
    text = _("La demande %(ref)s est remise dans la file du service.") % {"ref": case.reference}
    if from_list:
        return _list_response(request, success=text)
    messages.success(request, text)
    return redirect("console:home")


@require_POST
@staff_required
def assign(request, reference):
    case = _case_or_404(request, reference)
    if not (request.user.is_supervisor or request.user.is_admin_role):
        raise Http404
    form = AssignForm(request.POST, case=case)
    if form.is_valid():
        try:
            worklist.assign(case, form.cleaned_data["agent"], by=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("Demande attribuée à %(agent)s.")
                % {"agent": form.cleaned_data["agent"].display_name},
            )
            return redirect("console:case", reference=case.reference)
    return _render_case(request, case, assign_form=form, status=400)


# --- case view ----------------------------------------------------------------------------------


def _timeline(case: Case) -> list[Event]:
    # Any: the events are given display attributes (description, style) here.
    events: list[Any] = worklist.label_events(list(worklist.timeline(case)))
    ids = {e.payload.get("agent") for e in events if e.type == Event.Type.ASSIGNMENT}
    ids.discard(None)
    people = {u.pk: u for u in User.objects.filter(pk__in=[i for i in ids if isinstance(i, int)])}
    for event in events:
        event.description = worklist.describe_event(event, people)
        if event.type in (Event.Type.MESSAGE, Event.Type.REQUEST_INFO, Event.Type.NOTE):
            event.style = (
                "internal" if event.internal else "citizen" if event.by_citizen else "agent"
            )
        elif event.type in (
            Event.Type.CONTACT,
            Event.Type.CHAT,
            Event.Type.CHATBOT,
            Event.Type.CALLBACK,
            Event.Type.CALL,
            Event.Type.COBROWSE,
            Event.Type.VISIO,
            Event.Type.DIAGNOSIS,
        ):
            event.style = "contact"
        elif event.type == Event.Type.TRANSFER:
            event.style = "transfer"
        else:
            event.style = "system"
    return events


def _render_case(
    request, case: Case, *, status: int = 200, access: AuditLog | None = None, **forms
):
    user = request.user
    is_supervisor = user.is_supervisor or user.is_admin_role
    worklist.label_cases([case])
    context = {
        "case": case,
        "events": _timeline(case),
        "sla": worklist.sla_states([case])[case.pk],
        "pending_transfer": cases.pending_transfer(case),
        "transfers": case.transfers.select_related(
            "from_service", "to_service", "created_by", "to_agent"
        ),
        "in_service": case.service_id in user_service_ids(user) or user.is_admin_role,
        "is_supervisor": is_supervisor,
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "note_form": forms.get("note_form") or NoteForm(),
        "close_form": forms.get("close_form") or CloseForm(),
        "classify_form": forms.get("classify_form") or ClassificationForm(case=case),
        "transfer_form": forms.get("transfer_form") or TransferForm(case=case),
        "assign_form": (forms.get("assign_form") or AssignForm(case=case))
        if is_supervisor
        else None,
        "access_form": forms.get("access_form") or AccessReasonForm(),
        "access": access,
        "open_panel": forms.get("open_panel", ""),
    }
    return render(request, "console/case.html", context, status=status)


@require_GET
@staff_required
def case_detail(request, reference):
    """Open a case: thread, full timeline and every action. Writes an audit record.

    The record has no reason: a GET may be sent by anything that can make the agent's browser
    load a URL (a link, an image), so a reason chosen by the URL would be forged. The agent adds
    it afterwards by POST (``access_reason``)."""
    case = _case_or_404(request, reference)
    access = record_access(request.user, AuditLog.Action.VIEW_CASE, case=case)
    return _render_case(request, case, access=access)


@require_POST
@staff_required
def access_reason(request, reference):
    """Add the optional reason to the audit record of this opening (the agent's own, once)."""
    case = _case_or_404(request, reference)
    return _save_reason(request, case=case)


def _save_reason(request, *, case: Case | None = None, citizen: User | None = None):
    form = AccessReasonForm(request.POST)
    record = None
    if request.POST.get("acces", "").isdigit():
        record = AuditLog.objects.filter(
            pk=int(request.POST["acces"]),
            actor=request.user,
            case=case,
            citizen=citizen or (case.citizen if case else None),
        ).first()
    if record is None:
        raise Http404
    saved = False
    if form.is_valid() and form.cleaned_data["motif"]:
        if not record.reason:
            AuditLog.objects.filter(pk=record.pk, reason="").update(
                reason=form.cleaned_data["motif"]
            )
            record.refresh_from_db(fields=["reason"])
            saved = True
        else:
            form.add_error("motif", _("Un motif est déjà inscrit pour cette consultation."))
    elif form.is_valid():
        form.add_error("motif", _("Saisissez le motif de la consultation."))
    context = {
        "access": record,
        "access_form": form,
        "saved": saved,
        "case": case,
        "citizen": citizen,
    }
    if request.htmx:
        return render(request, "console/_access_reason.html", context, status=200 if saved else 400)
    if case is not None:
        if saved:
            messages.success(request, _("Motif de consultation enregistré."))
        return _render_case(
            request, case, access=record, access_form=form, status=200 if saved else 400
        )
    assert citizen is not None  # the views pass a case or a citizen
    return _render_synthesis(
        request, citizen, access=record, access_form=form, status=200 if saved else 400
    )


def _files(request) -> list:
    return request.FILES.getlist("files")


@require_POST
@staff_required
@idempotent
def reply(request, reference):
    """Answer the citizen, or ask for details (the case then waits on the citizen)."""
    case = _case_or_404(request, reference)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        action = thread.post_agent_reply
        if form.cleaned_data["action"] == ReplyForm.DETAILS:
            action = thread.request_details
        try:
            action(case, request.user, form.cleaned_data["body"], files=_files(request))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if form.cleaned_data["action"] == ReplyForm.DETAILS:
                text = _("Demande de précisions envoyée ; l'usager est prévenu.")
            else:
                text = _("Réponse envoyée ; l'usager est prévenu.")
            if poste.from_workstation(request):
                return poste.render_item(request, case, notice=text)
            messages.success(request, text)
            return redirect("console:case", reference=case.reference)
    if poste.from_workstation(request):
        return poste.render_item(request, case, reply_form=form, status=400)
    return _render_case(request, case, reply_form=form, status=400)


@require_POST
@staff_required
@idempotent
def note(request, reference):
    case = _case_or_404(request, reference)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            thread.add_internal_note(case, request.user, form.cleaned_data["body"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if poste.from_workstation(request):
                return poste.render_item(request, case, notice=_("Note interne ajoutée."))
            messages.success(request, _("Note interne ajoutée."))
            return redirect("console:case", reference=case.reference)
    if poste.from_workstation(request):
        return poste.render_item(request, case, note_form=form, status=400, open_panel="note")
    return _render_case(request, case, note_form=form, status=400, open_panel="note")


@require_POST
@staff_required
def close(request, reference):
    case = _case_or_404(request, reference)
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            thread.close_case(
                case, request.user, form.cleaned_data["resolution"], form.cleaned_data["body"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if poste.from_workstation(request):
                return poste.render_item(request, case, notice=_("Demande clôturée."))
            messages.success(request, _("Demande clôturée."))
            return redirect("console:case", reference=case.reference)
    if poste.from_workstation(request):
        return poste.render_item(request, case, close_form=form, status=400, open_panel="close")
    return _render_case(request, case, close_form=form, status=400, open_panel="close")


@require_POST
@staff_required
def reopen(request, reference):
    case = _case_or_404(request, reference)
    try:
        thread.reopen_case(case, request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Demande rouverte."))
    return redirect("console:case", reference=case.reference)


@require_POST
@staff_required
def classify(request, reference):
    case = _case_or_404(request, reference)
    form = ClassificationForm(request.POST, case=case)
    if form.is_valid():
        try:
            event = cases.change_classification(
                case, request.user, topic=form.cleaned_data["topic"], kind=form.cleaned_data["kind"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if event is None:
                messages.info(request, _("Thème et nature inchangés."))
            else:
                messages.success(request, _("Demande reclassée."))
            return redirect("console:case", reference=case.reference)
    return _render_case(request, case, classify_form=form, status=400, open_panel="classify")


@require_POST
@staff_required
@idempotent
def transfer(request, reference):
    """Liaison interservices: move the case to the competent service with a reason."""
    case = _case_or_404(request, reference)
    form = TransferForm(request.POST, case=case)
    if form.is_valid():
        data = form.cleaned_data
        try:
            cases.transfer_case(
                case,
                to_service=data["to_service"],
                reason=data["reason"],
                by=request.user,
                to_agent=data["to_agent"],
                to_topic=data["to_topic"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            text = _("Demande %(ref)s transférée au service %(service)s.") % {
                "ref": case.reference,
                "service": data["to_service"].name,
            }
            if poste.from_workstation(request):
                return poste.render_closed_item(request, case, text)
            messages.success(request, text)
            # The case may no longer be visible to the sender: back to the work list.
            if can_see_case(request.user, case):
                return redirect("console:case", reference=case.reference)
            return redirect("console:home")
    if poste.from_workstation(request):
        return render(
            request, "console/_ws_transfer.html", poste.transfer_context(case, form), status=400
        )
    return _render_case(request, case, transfer_form=form, status=400, open_panel="transfer")


# --- recording a phone, counter, e-mail or letter contact ---------------------------------------


@require_GET
@staff_required
def contact_search(request):
    """Step 1: find the citizen who called, came to the counter or wrote."""
    form = CitizenSearchForm(request.GET if "q" in request.GET else None)
    results = None
    if form.is_bound and form.is_valid():
        try:
            results = worklist.find_citizens(form.cleaned_data["q"])
        except ValidationError as exc:
            form.add_error("q", exc.messages)
        else:
            if not results:
                form.add_error(
                    "q",
                    _(
                        "Aucun usager ne correspond à « %(q)s ». Vérifiez l'orthographe, ou "
                        "recherchez par adresse électronique, référence de demande, numéro "
                        "fiscal ou numéro de sécurité sociale."
                    )
                    % {"q": form.cleaned_data["q"]},
                )
    status = 200 if not form.errors else 404 if results == [] else 400
    return render(
        request, "console/contact_search.html", {"form": form, "results": results}, status=status
    )


@require_http_methods(["GET", "POST"])
@staff_required
@idempotent
def contact_new(request, citizen_id):
    """Step 2: record the contact for the chosen citizen (new case or an existing one)."""
    citizen = worklist.citizen_or_none(citizen_id)
    if citizen is None:
        search_form = CitizenSearchForm()
        search_form.fields["q"].widget.attrs["aria-describedby"] = "unknown-citizen"
        return render(
            request,
            "console/contact_search.html",
            {"form": search_form, "results": None, "unknown_citizen": True},
            status=404,
        )
    cases = list(worklist.contact_cases(request.user, citizen)[:30])
    in_poste = bool(request.htmx) and "1" in (request.GET.get("poste"), request.POST.get("poste"))
    form = ContactForm(request.POST or None, cases=cases)
    if in_poste:
        form.auto_id = "ws-contact-%s"  # inside the workstation: ids of its own
    if in_poste and request.method == "GET":
        reference = request.GET.get("demande", "")
        chosen = next((c for c in cases if c.reference == reference), None)
        if chosen is not None:
            form.initial["case"] = str(chosen.pk)
            form.initial["trace"] = trace_prefill(chosen)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = worklist.record_contact(
                agent=request.user,
                citizen=citizen,
                channel=data["channel"],
                summary=data["summary"],
                resolved=data["resolved"],
                topic=data["topic"],
                kind=data["kind"] or Case.Kind.QUESTION,
                subject=data["subject"],
                case=form.chosen_case,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            case = Case.objects.select_related("service").get(pk=event.case_id)
            trace_error = ""
            if data["trace"]:
                # The contact is recorded; the trace follows (a new case created closed,
                # "résolu dès ce contact", still receives it).
                try:
                    post_contact_trace(
                        case,
                        request.user,
                        data["trace"],
                        data["channel"],
                        contact=event,
                        allow_closed=form.chosen_case is None,
                    )
                except ValidationError as exc:
                    trace_error = " ".join(exc.messages)
            if form.chosen_case is not None:
                text = _("Contact ajouté à la demande %(ref)s.") % {"ref": case.reference}
            elif case.status == Case.Status.CLOSED:
                text = _("Contact enregistré : demande %(ref)s créée et clôturée (résolu).") % {
                    "ref": case.reference
                }
            else:
                text = _(
                    "Contact enregistré : demande %(ref)s créée et transmise au service "
                    "%(service)s."
                ) % {"ref": case.reference, "service": case.service.name}
            if trace_error:
                text += " " + _("Ce qu'il faut retenir n'a pas été envoyé : %(error)s") % {
                    "error": trace_error
                }
            elif data["trace"]:
                text += " " + _("Ce qu'il faut retenir est envoyé à l'usager.")
            if in_poste:
                return poste.render_dialog_done(
                    request, text, case if can_see_case(request.user, case) else None
                )
            messages.success(request, text)
            if can_see_case(request.user, case):
                return redirect("console:case", reference=case.reference)
            return redirect("console:citizen", citizen_id=citizen.pk)
    return render(
        request,
        "console/_ws_contact.html" if in_poste else "console/contact_new.html",
        {"citizen": citizen, "form": form, "cases": cases},
        status=400 if form.errors else 200,
    )


# --- synthesis sheet -----------------------------------------------------------------------------


def _citizen_or_404(citizen_id) -> User:
    citizen = worklist.citizen_or_none(citizen_id)
    if citizen is None:
        raise Http404("Usager introuvable")
    return citizen


def _render_synthesis(request, citizen: User, *, access=None, audit=None, status=200, **forms):
    """The sheet, or with htmx and a cursor only its next contacts. ``audit``: writes the
    audit record of this opening (called once the data is read, before anything is rendered:
    the agent's services are then already known, no query of their own)."""
    cursor = request.GET.get("apres", "")
    access_form = forms.get("access_form") or AccessReasonForm()
    if request.htmx and cursor and not request.htmx.boosted:
        # "Afficher les contacts plus anciens": only the next rows, not the whole sheet.
        cases = synthesis.visible_case_links(request.user, citizen)
        if audit is not None:
            audit()
        try:
            page = synthesis.contact_page(citizen, cases, cursor=cursor)
        except ValueError:
            return render(
                request,
                "console/_contacts_page.html",
                {"citizen": citizen, "page": None, "bad_cursor": True, "cursor": cursor},
                status=400,
            )
        return render(
            request,
            "console/_contacts_page.html",
            {"citizen": citizen, "page": page, "cursor": cursor},
            status=status,
        )
    sheet = synthesis.synthesis(request.user, citizen)
    if audit is not None:
        access = audit()
    context = {
        "sheet": sheet,
        "citizen": citizen,
        "page": None,
        "cursor": cursor,
        "access": access,
        "access_form": access_form,
    }
    try:
        context["page"] = synthesis.contact_page(
            citizen, sheet.visible_cases, cursor=cursor or None
        )
    except ValueError:
        context["bad_cursor"] = True
        status = 400
    return render(request, "console/synthesis.html", context, status=status)


@require_GET
@staff_required
def citizen_sheet(request, citizen_id):
    """Fiche de synthèse: identity, open cases and every contact (only cases I may see)."""
    citizen = _citizen_or_404(citizen_id)
    # No reason from the URL (see case_detail): it is added by POST (citizen_access_reason).
    cursor = request.GET.get("apres", "")

    def audit():
        return record_access(
            request.user,
            AuditLog.Action.VIEW_SYNTHESIS,
            citizen=citizen,
            detail={"page": "suivante" if cursor else "premiere"},
        )

    return _render_synthesis(request, citizen, audit=audit)


@require_POST
@staff_required
def citizen_access_reason(request, citizen_id):
    citizen = _citizen_or_404(citizen_id)
    return _save_reason(request, citizen=citizen)
