"""The income-tax simulator: a public GET form (nothing is stored), the result explained step
by step, and the knowledge base's sheets on the subject; "Joindre ma simulation" turns the
inputs into a new secure-messaging request (``attach``)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from knowledge.services import search_articles

from .attach import attach_simulation, inputs, topic
from .forms import IncomeTaxForm
from .openfisca import compute

GUIDANCE_QUERY = "impôt sur le revenu quotient familial parts décote"
PENDING = "simulators_pending"  # session key: the inputs an anonymous visitor wants to attach


@require_GET
def income_tax(request):
    form = IncomeTaxForm(request.GET if "situation" in request.GET else None)
    valid = form.is_bound and form.is_valid()
    year = form.tax_year() if valid else form.fields["year"].initial
    result = compute(form.household(), year) if valid else None
    return render(
        request,
        "simulators/income_tax.html",
        {
            "form": form,
            "result": result,
            "year": year,
            "simulation": request.GET.urlencode() if result else "",
            "can_attach": result is not None and topic() is not None,
            "sheets": search_articles(GUIDANCE_QUERY, audience="public", limit=4),
            "page_title": _("Simulateur de l'impôt sur le revenu"),
        },
        status=400 if form.is_bound and result is None else 200,
    )


def _bound(simulation: str) -> IncomeTaxForm | None:
    form = IncomeTaxForm(QueryDict(simulation))
    return form if "situation" in form.data and form.is_valid() else None


@require_http_methods(["GET", "POST"])
def attach(request):
    """POST: attach the posted simulation (an anonymous visitor logs in first, the inputs kept
    in the session). GET, after the login: the kept simulation and its one-click button."""
    user = request.user
    simulation = request.POST.get("simulation", "") if request.method == "POST" else ""
    simulation = simulation or request.session.get(PENDING, "")
    form = _bound(simulation) if simulation else None
    if form is None:
        if request.method == "POST":
            return HttpResponse(_("Simulation invalide."), status=400)
        return redirect("simulators:income_tax")
    if not user.is_authenticated:
        request.session[PENDING] = simulation
        login = reverse(settings.LOGIN_URL)
        return redirect(f"{login}?{urlencode({'next': reverse('simulators:attach')})}")
    if not user.is_citizen:
        raise PermissionDenied
    year = form.tax_year()
    result = compute(form.household(), year)
    if request.method == "GET":
        return render(
            request,
            "simulators/attach.html",
            {
                "inputs": inputs(form),
                "result": result,
                "simulation": simulation,
                "year": year,
                "page_title": _("Joindre ma simulation à une demande"),
            },
        )
    try:
        case = attach_simulation(user, form, result, year)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"{reverse('simulators:income_tax')}?{simulation}")
    request.session.pop(PENDING, None)
    messages.success(
        request,
        _("Votre simulation est jointe à la demande %(reference)s.")
        % {"reference": case.reference},
    )
    try:
        return redirect(reverse("messaging:case_detail", args=[case.reference]))
    except NoReverseMatch:
        return redirect("simulators:income_tax")
