"""The income-tax simulator: a public GET form (nothing is stored), the result explained step
by step, and the knowledge base's sheets on the subject."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from knowledge.services import search_articles

from .forms import IncomeTaxForm
from .income_tax import compute

YEAR = 2025
GUIDANCE_QUERY = "impôt sur le revenu quotient familial parts décote"


@require_GET
def income_tax(request):
    form = IncomeTaxForm(request.GET if "situation" in request.GET else None)
    result = compute(form.household(), YEAR) if form.is_bound and form.is_valid() else None
    return render(
        request,
        "simulators/income_tax.html",
        {
            "form": form,
            "result": result,
            "year": YEAR,
            "sheets": search_articles(GUIDANCE_QUERY, audience="public", limit=4),
            "page_title": _("Simulateur de l'impôt sur le revenu"),
        },
        status=400 if form.is_bound and result is None else 200,
    )
