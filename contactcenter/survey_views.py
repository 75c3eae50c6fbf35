"""Citizen pages of the satisfaction surveys after a contact (``contactcenter.surveys``): the
pending surveys in the space, and the signed one-use link of the alert, which works without
login and shows nothing but the service and the reference."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import surveys
from .forms import SurveyForm
from .idempotency import idempotent
from .models import SurveyInvitation


def _citizen(request) -> None:
    if not request.user.is_citizen:
        raise PermissionDenied


def _submit(request, invitation: SurveyInvitation, form: SurveyForm) -> surveys.Answered | None:
    if not form.is_valid():
        return None
    try:
        return surveys.answer(
            invitation,
            form.cleaned_data["score"],
            form.cleaned_data["comment"],
            form.cleaned_data["resolved"],
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return None


@login_required
def pending(request):
    _citizen(request)
    return render(
        request,
        "surveys/pending.html",
        {"surveys": surveys.pending_for(request.user), "page_title": _("Donner votre avis")},
    )


@login_required
@require_http_methods(["GET", "POST"])
@idempotent
def answer(request, pk: int):
    _citizen(request)
    invitation = (
        SurveyInvitation.objects.select_related("service", "case")
        .filter(pk=pk, citizen=request.user)
        .first()
    )
    if invitation is None:
        raise Http404
    if invitation.used_at is not None:
        messages.info(request, _("Vous avez déjà répondu à ce questionnaire. Merci !"))
        return redirect("surveys")
    form = SurveyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and _submit(request, invitation, form) is not None:
        messages.success(request, _("Merci pour votre avis."))
        return redirect("surveys")
    return render(
        request,
        "surveys/answer.html",
        {"invitation": invitation, "form": form, "page_title": _("Votre avis")},
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
def by_link(request, token: str):
    """The survey of an alert's link: 400 for a malformed or tampered link, 410 for an
    expired or used one, each with a sentence saying so."""
    try:
        invitation = surveys.invitation_from_token(token)
    except surveys.LinkError as exc:
        return render(
            request,
            "surveys/link_error.html",
            {"message": exc.message, "page_title": _("Questionnaire de satisfaction")},
            status=exc.status,
        )
    form = SurveyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and _submit(request, invitation, form) is not None:
        return render(
            request,
            "surveys/thanks.html",
            {"page_title": _("Merci pour votre avis.")},
        )
    return render(
        request,
        "surveys/answer.html",
        {"invitation": invitation, "form": form, "page_title": _("Votre avis")},
        status=400 if form.is_bound else 200,
    )
