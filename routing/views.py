"""Routing pages: agent status widget, callback requests, supervisor live view. Thin: parse,
check permission, call the ``routing`` package, render."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

import routing
from contactcenter.decorators import (
    agent_required,
    apply_errors,
    citizen_required,
    supervisor_required,
)
from contactcenter.idempotency import idempotent
from contactcenter.models import Case, Channel, Event, Topic, User
from contactcenter.permissions import get_case_or_404, user_service_ids
from contactcenter.phones import format_phone
from contactcenter.services import check_message_body
from contactcenter.traces import post_contact_trace

from .forms import (
    AgentStatusForm,
    CallbackForm,
    CapacityForm,
    ReassignForm,
    SkillsForm,
    StatusForm,
)
from .models import AgentPresence, CallbackRequest


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- Agent status widget ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@agent_required
def status_widget(request):
    """GET: the agent's status control (htmx partial). POST: change the status."""
    presence = routing.get_presence(request.user)
    form = StatusForm(initial={"status": presence.status, "reason": presence.pause_reason})
    status = 200
    changed_label = ""
    if request.method == "POST":
        form = StatusForm(request.POST)
        if form.is_valid():
            try:
                presence = routing.set_status(
                    request.user, form.cleaned_data["status"], reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                label = presence.get_status_display()
                if not request.htmx:
                    messages.success(request, _("Votre statut : %(s)s.") % {"s": label})
                    return redirect(_safe_next(request, reverse("home")))
                form = StatusForm(
                    initial={"status": presence.status, "reason": presence.pause_reason}
                )
                changed_label = label
        if form.errors:
            status = 400
            if not request.htmx:
                messages.error(
                    request, " ".join(str(e) for errs in form.errors.values() for e in errs)
                )
                return redirect(_safe_next(request, reverse("home")))
    return render(
        request,
        "routing/_status_widget.html",
        {
            "routing_presence": presence,
            "routing_status_form": form,
            "routing_changed_label": changed_label,
        },
        status=status,
    )


# --- Callback requests (citizens) ----------------------------------------------------------------


def _topic_from(value) -> Topic | None:
    if not value:
        return None
    lookup = {"pk": value} if str(value).isdigit() else {"slug": value}
    return Topic.objects.filter(is_active=True, **lookup).select_related("service").first()


@require_http_methods(["GET", "POST"])
@citizen_required
@idempotent
def callback_new(request):
    """Ask to be called back: phone, topic, short description, a slot among the next ones."""
    user = request.user
    if request.method == "POST" and "refresh" not in request.POST:
        topic = _topic_from(request.POST.get("topic"))
        slots = routing.callback_slots(topic) if topic else []
        form = CallbackForm(request.POST, slots=slots)
        if form.is_valid():
            try:
                case = routing.request_callback(
                    citizen=user,
                    topic=form.cleaned_data["topic"],
                    phone=form.cleaned_data["phone"],
                    description=form.cleaned_data["description"],
                    slot=form.cleaned_data["slot"],
                )
            except ValidationError as exc:
                apply_errors(form, exc)
                # A slot taken meanwhile disappears from the list the citizen sees again.
                fresh = CallbackForm(slots=routing.callback_slots(form.cleaned_data["topic"]))
                cast(forms.ChoiceField, form.fields["slot"]).choices = cast(
                    forms.ChoiceField, fresh.fields["slot"]
                ).choices
            else:
                messages.success(
                    request,
                    _("Votre demande de rappel est enregistrée (référence %(ref)s).")
                    % {"ref": case.reference},
                )
                return redirect("routing:callback_detail", pk=case.pk)
        status = 400
    else:
        data = request.POST if request.method == "POST" else None
        topic = _topic_from((data or request.GET).get("topic"))
        slots = routing.callback_slots(topic) if topic else []
        initial = {
            "phone": format_phone(user.mobile_phone) if user.mobile_phone else "",
            "topic": topic.pk if topic else None,
        }
        if data is not None:
            form = CallbackForm(initial={**initial, **data.dict(), "slot": ""}, slots=slots)
        else:
            form = CallbackForm(initial=initial, slots=slots)
        status = 200
    return render(
        request,
        "routing/callback_new.html",
        {"form": form, "topic": topic, "has_slots": bool(slots)},
        status=status,
    )


@citizen_required
def callback_slots_partial(request):
    """htmx: the slot field for the topic just chosen."""
    topic = _topic_from(request.GET.get("topic"))
    slots = routing.callback_slots(topic) if topic else []
    form = CallbackForm(slots=slots)
    return render(
        request,
        "routing/_callback_slot_field.html",
        {"form": form, "topic": topic, "has_slots": bool(slots)},
    )


@citizen_required
def callback_detail(request, pk: int):
    case = get_case_or_404(request.user, pk=pk, channel=Channel.CALLBACK)
    callback = get_object_or_404(CallbackRequest, case=case)
    return render(
        request,
        "routing/callback_detail.html",
        {
            "case": case,
            "callback": callback,
            "phone": format_phone(callback.phone),
            "can_cancel": callback.is_scheduled and callback.slot_end > timezone.now(),
        },
    )


@require_POST
@citizen_required
def callback_cancel(request, pk: int):
    case = get_case_or_404(request.user, pk=pk, channel=Channel.CALLBACK)
    try:
        routing.cancel_callback(request.user, case)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Votre demande de rappel est annulée."))
    return redirect("routing:callback_detail", pk=case.pk)


# --- Callback outcome (agents) ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@agent_required
@idempotent
def callback_outcome(request, pk: int):
    """The agent records a call attempt: reached, or not reached (retried up to 3 times)."""
    case = get_case_or_404(request.user, pk=pk, channel=Channel.CALLBACK)
    callback = get_object_or_404(CallbackRequest, case=case)
    error = ""
    status = 200
    if request.method == "POST":
        outcome = request.POST.get("outcome")
        trace = request.POST.get("trace", "").strip()
        if outcome not in ("reached", "not_reached"):
            error = _("Indiquez si vous avez pu joindre l'usager.")
        else:
            try:
                if trace and outcome == "reached":
                    check_message_body(trace)  # before anything is recorded
                callback = routing.record_callback_outcome(
                    request.user,
                    case,
                    reached=outcome == "reached",
                    note=request.POST.get("note", ""),
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                text = _outcome_message(callback)
                if trace and callback.status == CallbackRequest.Status.REACHED:
                    text += " " + _post_callback_trace(request.user, case, trace)
                if not request.htmx:
                    messages.success(request, text)
                    return redirect(_safe_next(request, reverse("home")))
                return render(
                    request,
                    "routing/_callback_outcome.html",
                    {"case": case, "callback": callback, "done_message": text},
                )
        status = 400
        if not request.htmx:
            messages.error(request, error)
            return redirect(_safe_next(request, reverse("home")))
    return render(
        request,
        "routing/_callback_outcome.html",
        {
            "case": case,
            "callback": callback,
            "error": error,
            "phone": format_phone(callback.phone),
            "note": request.POST.get("note", ""),
            "trace": request.POST.get("trace", ""),
        },
        status=status,
    )


def _post_callback_trace(agent: User, case: Case, text: str) -> str:
    """Send "ce qu'il faut retenir" of a callback that reached the citizen (core's
    ``post_contact_trace``, tied to the callback's event); the sentence telling the agent."""
    contact = (
        Event.objects.filter(case_id=case.pk, type=Event.Type.CALLBACK)
        .order_by("-created_at", "-id")
        .first()
    )
    try:
        post_contact_trace(case, agent, text, Channel.CALLBACK, contact=contact)
    except ValidationError as exc:
        return _("Ce qu'il faut retenir n'a pas été envoyé : %(error)s") % {
            "error": " ".join(exc.messages)
        }
    return _("Ce qu'il faut retenir est envoyé à l'usager.")


def _outcome_message(callback: CallbackRequest) -> str:
    if callback.status == CallbackRequest.Status.REACHED:
        return _("Appel enregistré : usager joint.")
    if callback.status == CallbackRequest.Status.FAILED:
        return _("Usager injoignable après %(n)s tentatives : demande clôturée.") % {
            "n": callback.attempts
        }
    return _("Tentative %(n)s enregistrée : nouvel essai le %(when)s.") % {
        "n": callback.attempts,
        "when": formats.date_format(
            timezone.localtime(callback.slot_start), "SHORT_DATETIME_FORMAT"
        ),
    }


# --- Supervisor live view ---------------------------------------------------------------------


def _supervised_agent_or_404(request, pk: int) -> User:
    agent = User.objects.filter(pk=pk, role=User.Role.AGENT, is_active=True).first()
    if agent is None:
        raise Http404
    if not request.user.is_admin_role and not set(user_service_ids(request.user)) & set(
        user_service_ids(agent)
    ):
        raise Http404
    return agent


def _to_reassign(user: User):
    """Open cases held by agents who are not available, and overdue cases, of the services."""
    service_ids = [s.pk for s in routing.supervised_services(user)]
    now = timezone.now()
    held = (
        Case.objects.filter(
            service_id__in=service_ids,
            status__in=(Case.Status.ASSIGNED, Case.Status.IN_PROGRESS),
            assigned_to__isnull=False,
        )
        .exclude(assigned_to__presence__status=AgentPresence.Status.AVAILABLE)
        .select_related("assigned_to", "topic")
        .order_by("sla_deadline", "created_at")[:20]
    )
    overdue = (
        Case.objects.filter(
            service_id__in=service_ids,
            status__in=(Case.Status.NEW, Case.Status.ASSIGNED, Case.Status.IN_PROGRESS),
            sla_deadline__lt=now,
            first_response_at__isnull=True,
        )
        .select_related("assigned_to", "topic")
        .order_by("sla_deadline")[:20]
    )
    seen, rows = set(), []
    for case in list(overdue) + list(held):
        if case.pk in seen:
            continue
        seen.add(case.pk)
        # A display attribute of the row, read by the template.
        case.sla = routing.sla_state(case, now)  # type: ignore[attr-defined]
        rows.append(case)
    return rows


@supervisor_required
def supervision(request):
    context = routing.live_view(request.user)
    context["to_reassign"] = _to_reassign(request.user)
    return render(request, "routing/supervision.html", context)


@supervisor_required
def supervision_live(request):
    """htmx polling (every 5 s): the live tables only."""
    context = routing.live_view(request.user)
    context["to_reassign"] = _to_reassign(request.user)
    return render(request, "routing/_supervision_live.html", context)


@require_http_methods(["GET", "POST"])
@supervisor_required
def supervision_agent(request, pk: int):
    """Change an agent's status or capacity."""
    agent = _supervised_agent_or_404(request, pk)
    presence = routing.get_presence(agent)
    status_form = AgentStatusForm(initial={"status": presence.status}, prefix="st")
    capacity_form = CapacityForm(
        initial={
            "capacity_chat": presence.capacity_chat,
            "capacity_phone": presence.capacity_phone,
            "capacity_web": presence.capacity_web,
        },
        prefix="cap",
    )
    grantable = list(routing.grantable_skills(request.user).order_by("name"))
    held = set(agent.agent_profile.skills.values_list("code", flat=True))
    skills_form = SkillsForm(
        initial={"skills": [s.code for s in grantable if s.code in held]},
        skills=grantable,
        prefix="sk",
    )
    code = 200
    if request.method == "POST":
        if request.POST.get("action") == "status":
            status_form = AgentStatusForm(request.POST, prefix="st")
            if status_form.is_valid():
                try:
                    routing.set_status(agent, status_form.cleaned_data["status"], by=request.user)
                except ValidationError as exc:
                    apply_errors(status_form, exc)
                else:
                    messages.success(
                        request,
                        _("Statut de %(name)s mis à jour.") % {"name": agent.display_name},
                    )
                    return redirect("routing:supervision_agent", pk=agent.pk)
        elif request.POST.get("action") == "capacity":
            capacity_form = CapacityForm(request.POST, prefix="cap")
            if capacity_form.is_valid():
                data = capacity_form.cleaned_data
                try:
                    routing.set_capacity(
                        agent,
                        by=request.user,
                        chat=data["capacity_chat"],
                        phone=data["capacity_phone"],
                        web=data["capacity_web"],
                    )
                except ValidationError as exc:
                    apply_errors(capacity_form, exc)
                else:
                    messages.success(
                        request,
                        _("Capacités de %(name)s mises à jour.") % {"name": agent.display_name},
                    )
                    return redirect("routing:supervision_agent", pk=agent.pk)
        elif request.POST.get("action") == "skills":
            skills_form = SkillsForm(request.POST, skills=grantable, prefix="sk")
            if skills_form.is_valid():
                try:
                    routing.set_agent_skills(
                        agent, skills_form.cleaned_data["skills"], by=request.user
                    )
                except ValidationError as exc:
                    apply_errors(skills_form, exc)
                else:
                    messages.success(
                        request,
                        _("Compétences de %(name)s mises à jour.") % {"name": agent.display_name},
                    )
                    return redirect("routing:supervision_agent", pk=agent.pk)
        else:
            messages.error(request, _("Action inconnue."))
        code = 400
    loads = routing.agent_loads(agent.pk)
    return render(
        request,
        "routing/supervision_agent.html",
        {
            "agent": agent,
            "presence": presence,
            "status_form": status_form,
            "capacity_form": capacity_form,
            "skills_form": skills_form,
            "loads": loads,
            "display_status": routing.STATUS_DISPLAY[routing.effective_status(presence, loads)],
        },
        status=code,
    )


@require_http_methods(["GET", "POST"])
@supervisor_required
def supervision_reassign(request, pk: int):
    """Give a case of a supervised service to a named agent (capacity checked)."""
    case = get_case_or_404(request.user, pk=pk)
    agents = (
        User.objects.filter(
            role=User.Role.AGENT, is_active=True, agent_profile__services=case.service_id
        )
        .exclude(pk=case.assigned_to_id or 0)
        .distinct()
        .order_by("last_name", "first_name")
    )
    form = ReassignForm(request.POST or None, agents=agents)
    code = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                routing.assign_case(case, form.cleaned_data["agent"], by=request.user)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Demande %(ref)s attribuée à %(name)s.")
                    % {"ref": case.reference, "name": form.cleaned_data["agent"].display_name},
                )
                return redirect("routing:supervision")
        code = 400
    presences = {p.pk: p for p in AgentPresence.objects.filter(pk__in=agents.values("pk"))}
    rows = []
    for agent in agents:
        presence = presences.get(agent.pk)
        loads = routing.agent_loads(agent.pk)
        rows.append(
            {
                "agent": agent,
                "status": routing.STATUS_DISPLAY[routing.effective_status(presence, loads)],
                "free": routing.free_capacity(agent.pk, case.channel),
            }
        )
    return render(
        request,
        "routing/supervision_reassign.html",
        {
            "case": case,
            "form": form,
            "rows": rows,
            "group_label": routing.GROUP_LABELS[routing.channel_group(case.channel)],
            "sla": routing.sla_state(case),
        },
        status=code,
    )
