"""Citizen pages: book (topic -> mode -> slot), see, move, cancel, download the .ics. Thin."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from contactcenter.decorators import citizen_required
from contactcenter.idempotency import idempotent
from contactcenter.models import Topic

from . import services
from .forms import SlotForm
from .ics import appointment_ics
from .models import Appointment, AppointmentType
from .slots import free_slots


def _after(request) -> datetime | None:
    value = request.GET.get("apres", "")
    try:
        after = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return after if after is None or after.tzinfo else None


def _apply(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@citizen_required
def my_appointments(request):
    now = timezone.now()
    qs = Appointment.objects.filter(citizen=request.user).select_related("type__topic", "service")
    return render(
        request,
        "appointments/list.html",
        {
            "upcoming": qs.filter(status=Appointment.Status.BOOKED, end__gte=now).order_by("start"),
            "past": qs.exclude(status=Appointment.Status.BOOKED, end__gte=now).order_by("-start")[
                :20
            ],
        },
    )


def _types():
    return AppointmentType.objects.filter(
        is_active=True, topic__is_active=True, service__is_active=True
    ).select_related("topic", "service")


@require_http_methods(["GET", "POST"])
@citizen_required
@idempotent
def book(request):
    """Step 1: topic; step 2: mode (``?theme=``); step 3: slot (``?type=``), next first."""
    types = _types()
    type_id = request.POST.get("type") or request.GET.get("type")
    atype = types.filter(pk=type_id).first() if str(type_id or "").isdigit() else None
    if atype is None:
        topic_slug = request.GET.get("theme", "")
        topic = Topic.objects.filter(slug=topic_slug).first() if topic_slug else None
        if topic is not None:
            modes = list(types.filter(topic=topic).order_by("mode"))
            if modes:
                return render(
                    request, "appointments/book_mode.html", {"topic": topic, "types": modes}
                )
        topics = (
            Topic.objects.filter(pk__in=types.values("topic"))
            .select_related("service")
            .order_by("service__name", "position", "title")
        )
        # From a service's block of the contact page, or a hand-off without a topic of its own.
        service_code = request.GET.get("service", "")
        if service_code and topics.filter(service__code=service_code).exists():
            topics = topics.filter(service__code=service_code)
        return render(request, "appointments/book_topic.html", {"topics": topics})
    after = _after(request)
    slots = free_slots(atype, after=after)
    status = 200
    if request.method == "POST":
        form = SlotForm(request.POST, slots=slots)
        if form.is_valid():
            try:
                appointment = services.book(request.user, atype, form.cleaned_data["slot"])
            except ValidationError as exc:
                _apply(form, exc)
                form.refresh(free_slots(atype))
            else:
                # The detail page says it is confirmed (no flash message on top of it).
                return redirect("appointments:detail", public_id=appointment.public_id)
        status = 400
    else:
        form = SlotForm(slots=slots)
    return render(
        request,
        "appointments/book_slot.html",
        {
            "atype": atype,
            "form": form,
            "slots": slots,
            "next_after": slots[-1].value if slots else "",
            "paged": after is not None,
        },
        status=status,
    )


@citizen_required
def detail(request, public_id):
    appointment = services.citizen_appointment(request.user, public_id)
    return render(
        request,
        "appointments/detail.html",
        {"appointment": appointment, "changeable": appointment.changeable()},
    )


@citizen_required
def ics(request, public_id):
    appointment = services.citizen_appointment(request.user, public_id)
    response = HttpResponse(appointment_ics(appointment), content_type="text/calendar")
    response["Content-Disposition"] = 'attachment; filename="rendez-vous.ics"'
    return response


@require_POST
@citizen_required
def cancel(request, public_id):
    appointment = services.citizen_appointment(request.user, public_id)
    services.cancel(appointment, request.user)
    messages.success(request, _("Votre rendez-vous est annulé."))
    return redirect("appointments:detail", public_id=public_id)


@require_http_methods(["GET", "POST"])
@citizen_required
@idempotent
def move(request, public_id):
    appointment = services.citizen_appointment(request.user, public_id)
    slots = [
        s
        for s in free_slots(appointment.type, after=_after(request))
        if s.start != appointment.start
    ]
    status = 200
    if request.method == "POST":
        form = SlotForm(request.POST, slots=slots)
        if form.is_valid():
            try:
                new = services.move(appointment, request.user, form.cleaned_data["slot"])
            except ValidationError as exc:
                _apply(form, exc)
            else:
                messages.success(request, _("Votre rendez-vous est déplacé."))
                return redirect("appointments:detail", public_id=new.public_id)
        status = 400
    else:
        form = SlotForm(slots=slots)
    return render(
        request,
        "appointments/move.html",
        {
            "appointment": appointment,
            "form": form,
            "slots": slots,
            "next_after": slots[-1].value if slots else "",
        },
        status=status,
    )
