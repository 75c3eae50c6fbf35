"""The e-mail channel's quarantine in the console (thin: mail.quarantine decides)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contactcenter.decorators import staff_required
from contactcenter.idempotency import idempotent
from contactcenter.models import User
from contactcenter.permissions import get_case_or_404
from mail import quarantine


@staff_required
@require_GET
def quarantine_list(request) -> HttpResponse:
    items = list(quarantine.visible_quarantine(request.user)[:200])
    return render(request, "console/quarantine.html", {"items": items})


@staff_required
@require_GET
def quarantine_link(request) -> HttpResponse:
    """The menu's link with its count, loaded by the workstation after the page (its own
    query budget)."""
    return render(
        request,
        "console/_quarantine_link.html",
        {
            "count": quarantine.pending_count(request.user),
            "button_class": "fr-btn--tertiary-no-outline",
            "current": False,
        },
    )


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


@staff_required
@require_http_methods(["GET", "POST"])
@idempotent
def link_sender(request, reference: str) -> HttpResponse:
    """Link an unidentified sender's case to the citizen the agent recognised (by the address
    of the citizen's account)."""
    case = get_case_or_404(request.user, reference=reference)
    address = quarantine.unidentified_address(case)
    if not address:
        raise Http404("Demande introuvable")
    error = ""
    if request.method == "POST":
        wanted = request.POST.get("email", "").strip()
        citizen = User.objects.filter(
            email__iexact=wanted, role=User.Role.CITIZEN, is_active=True
        ).first()
        if citizen is None:
            error = _("Aucun compte d'usager actif n'a cette adresse.")
        else:
            quarantine.link_sender(case, citizen, request.user)
            messages.success(
                request,
                _(
                    "Demande rattachée à %(name)s ; l'expéditeur est invité par courriel à "
                    "utiliser son espace sécurisé."
                )
                % {"name": citizen.display_name},
            )
            return redirect("console:case", reference=case.reference)
    return render(
        request,
        "console/link_sender.html",
        {
            "case": case,
            "address": address,
            "error": error,
            "value": request.POST.get("email", address),
        },
        status=400 if error else 200,
    )
