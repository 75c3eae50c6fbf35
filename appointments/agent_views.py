"""Agent pages: the day's appointments (attended / no-show), proposing a slot from a case."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from contactcenter.decorators import staff_required
from contactcenter.idempotency import idempotent
from contactcenter.models import AuditLog
from contactcenter.permissions import get_case_or_404, record_access

from . import services
from .forms import SlotForm
from .models import AppointmentType
from .slots import free_slots


@staff_required
def day(request):
    """The agent's appointments of the day (``?jour=YYYY-MM-DD`` for another day)."""
    try:
        chosen = date.fromisoformat(request.GET.get("jour", ""))
    except ValueError:
        chosen = timezone.localdate()
    appointments = list(services.agent_day(request.user, chosen))
    for appointment in appointments:
        if appointment.case is not None:
            record_access(
                request.user,
                AuditLog.Action.VIEW_CASE,
                case=appointment.case,
                detail={"appointment": str(appointment.public_id)},
            )
    return render(
        request,
        "appointments/agent_day.html",
        {"appointments": appointments, "day": chosen, "now": timezone.now()},
    )


@staff_required
def ws_day(request):
    """htmx: the day's appointments above the workstation's work list (empty when none)."""
    return render(
        request,
        "appointments/_ws_day.html",
        {"appointments_today": list(services.agent_day(request.user))},
    )


@require_POST
@staff_required
def mark(request, pk):
    appointment = services.staff_appointment(request.user, pk)
    services.mark(appointment, request.user, request.POST.get("status", ""))
    messages.success(request, _("Rendez-vous mis à jour."))
    return redirect("appointments:agent_day")


@require_http_methods(["GET", "POST"])
@staff_required
@idempotent
def propose(request, reference):
    """Book a slot for the citizen of a case (the agent proposes it on the phone or counter)."""
    case = get_case_or_404(request.user, reference=reference)
    types = AppointmentType.objects.filter(
        service_id=case.service_id, is_active=True
    ).select_related("topic")
    type_id = request.POST.get("type") or request.GET.get("type")
    atype = types.filter(pk=type_id).first() if str(type_id or "").isdigit() else None
    slots = free_slots(atype, now=timezone.now()) if atype else []
    form = SlotForm(request.POST or None, slots=slots)
    status = 200
    if request.method == "POST" and atype is not None:
        if form.is_valid():
            try:
                appointment = services.book(
                    case.citizen,
                    atype,
                    form.cleaned_data["slot"],
                    case=case,
                    proposed_by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(
                    request,
                    _("Rendez-vous réservé pour l'usager le %(when)s.")
                    % {"when": services.when_text(appointment.start)},
                )
                return redirect("console:case", reference=case.reference)
        status = 400
    return render(
        request,
        "appointments/agent_propose.html",
        {"case": case, "types": types, "atype": atype, "form": form, "slots": slots},
        status=status,
    )
