"""The e-mail channel's quarantine in the console (thin: mail.quarantine decides)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contactcenter.idempotency import idempotent
from mail import quarantine
from messaging.views import staff_required


@staff_required
@require_GET
def quarantine_list(request) -> HttpResponse:
    items = list(quarantine.visible_quarantine(request.user)[:200])
    return render(request, "console/quarantine.html", {"items": items})


@staff_required
@require_GET
def quarantine_item(request, pk: int) -> HttpResponse:
    item = quarantine.get_item(request.user, pk)
    source = quarantine.read_source(request.user, item) if item.raw else ""
    return render(request, "console/quarantine_item.html", {"item": item, "source": source})


@staff_required
@require_POST
@idempotent
def quarantine_release(request, pk: int) -> HttpResponse:
    item = quarantine.get_item(request.user, pk)
    case = quarantine.release(item, request.user)
    messages.success(
        request, _("Courriel libéré sur la demande %(ref)s.") % {"ref": case.reference}
    )
    return redirect("console:case", reference=case.reference)


@staff_required
@require_POST
@idempotent
def quarantine_delete(request, pk: int) -> HttpResponse:
    item = quarantine.get_item(request.user, pk)
    quarantine.discard(item, request.user)
    messages.success(request, _("Courriel supprimé de la quarantaine."))
    return redirect("console:quarantine")
