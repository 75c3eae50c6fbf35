from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.utils.translation import gettext_lazy as _

from contactcenter.forms import DsfrFormMixin

from .income_tax import Household

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def euros(label: StrOrPromise, help_text: StrOrPromise = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        min_value=0,
        max_value=100_000_000,
        required=False,
        initial=0,
    )


class IncomeTaxForm(DsfrFormMixin, forms.Form):
    situation = forms.ChoiceField(
        label=_("Votre situation"),
        choices=[
            ("single", _("Célibataire, divorcé(e), séparé(e) ou veuf(ve)")),
            ("couple", _("Marié(e) ou pacsé(e)")),
        ],
        widget=forms.RadioSelect,
        initial="single",
    )
    single_parent = forms.BooleanField(
        label=_("Je vis seul(e) avec mes enfants à charge (case T)"), required=False
    )
    children = forms.IntegerField(
        label=_("Enfants à charge"), min_value=0, max_value=20, initial=0, required=False
    )
    shared_children = forms.IntegerField(
        label=_("Enfants en résidence alternée"),
        min_value=0,
        max_value=20,
        initial=0,
        required=False,
    )
    salary_1 = euros(
        _("Salaires nets imposables du déclarant 1 (€)"),
        _("Avant l'abattement de 10 %, qui est appliqué ici."),
    )
    salary_2 = euros(
        _("Salaires nets imposables du déclarant 2 (€)"),
        _("Seulement pour un couple marié ou pacsé."),
    )
    other_income = euros(
        _("Autres revenus nets imposables (€)"),
        _("Pensions, revenus fonciers… déjà nets de leurs abattements."),
    )

    def household(self) -> Household:
        data = self.cleaned_data
        couple = data["situation"] == "couple"
        salaries = [data.get("salary_1") or 0]
        if couple:
            salaries.append(data.get("salary_2") or 0)
        return Household(
            couple=couple,
            children=data.get("children") or 0,
            shared_children=data.get("shared_children") or 0,
            single_parent=bool(data.get("single_parent")) and not couple,
            salaries=tuple(salaries),
            other_income=data.get("other_income") or 0,
        )
