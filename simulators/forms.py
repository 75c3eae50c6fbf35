from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contactcenter.forms import DsfrFormMixin

from .income_tax import Household, available_years
from .openfisca import covered_years

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def children_count(label: StrOrPromise) -> forms.IntegerField:
    """A number of children (0 to 20), 0 when left empty."""
    return forms.IntegerField(label=label, min_value=0, max_value=20, initial=0, required=False)


def euros(label: StrOrPromise, help_text: StrOrPromise = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        min_value=0,
        max_value=100_000_000,
        required=False,
        initial=0,
    )


def default_year() -> int:
    """The latest year of the published worked examples the computation is checked against
    (``income_tax_<year>.json``) when the model covers it, else the model's latest."""
    years = covered_years()
    checked = [year for year in available_years() if year in years]
    return max(checked) if checked else years[0]


def year_choices() -> list[tuple[int, str]]:
    return [
        (year, _("%(year)s (revenus %(income)s)") % {"year": year, "income": year - 1})
        for year in covered_years()
    ]


class IncomeTaxForm(DsfrFormMixin, forms.Form):
    year = forms.TypedChoiceField(
        label=_("Année d'imposition"),
        help_text=_("L'impôt payé cette année-là sur les revenus de l'année précédente."),
        choices=year_choices,
        coerce=int,
        required=False,
        empty_value=None,
    )
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
    children = children_count(_("Enfants à charge"))
    shared_children = children_count(_("Enfants en résidence alternée"))
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
        _("Revenus fonciers, pensions alimentaires reçues… déjà nets de leurs abattements."),
    )
    pension_1 = euros(
        _("Pensions et retraites du déclarant 1 (€)"),
        _("Avant l'abattement de 10 %, appliqué ici avec son minimum et son plafond."),
    )
    pension_2 = euros(
        _("Pensions et retraites du déclarant 2 (€)"),
        _("Seulement pour un couple marié ou pacsé."),
    )
    disabled_1 = forms.BooleanField(
        label=_("Le déclarant 1 a la carte mobilité inclusion « invalidité » (case P)"),
        required=False,
    )
    disabled_2 = forms.BooleanField(
        label=_("Le déclarant 2 a la carte mobilité inclusion « invalidité » (case F)"),
        required=False,
    )
    disabled_children = children_count(
        _("Dont enfants à charge titulaires de la carte « invalidité »")
    )
    disabled_shared_children = children_count(
        _("Dont enfants en résidence alternée titulaires de la carte « invalidité »")
    )
    home_employment = euros(
        _("Emploi d'un salarié à domicile : sommes versées (€)"),
        _(
            "Crédit d'impôt de 50 %, dépenses retenues jusqu'à 12 000 € "
            "(plus 1 500 € par enfant à charge, 15 000 € au plus)."
        ),
    )
    young_children = children_count(_("Enfants de moins de 6 ans gardés hors du domicile"))
    childcare = euros(
        _("Frais de garde de ces enfants, aides déduites (€)"),
        _("Crédit d'impôt de 50 %, dépenses retenues jusqu'à 3 500 € par enfant."),
    )

    def clean(self):
        data = super().clean() or {}
        children = data.get("children") or 0
        shared = data.get("shared_children") or 0
        if (data.get("disabled_children") or 0) > children:
            self.add_error(
                "disabled_children",
                _("Ce nombre ne peut pas dépasser celui des enfants à charge."),
            )
        if (data.get("disabled_shared_children") or 0) > shared:
            self.add_error(
                "disabled_shared_children",
                _("Ce nombre ne peut pas dépasser celui des enfants en résidence alternée."),
            )
        if (data.get("young_children") or 0) > children + shared:
            self.add_error(
                "young_children",
                _("Ce nombre ne peut pas dépasser celui de vos enfants."),
            )
        if (data.get("childcare") or 0) and not data.get("young_children"):
            self.add_error(
                "young_children",
                _("Indiquez combien d'enfants de moins de 6 ans sont gardés."),
            )
        return data

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].initial = default_year()

    def tax_year(self) -> int:
        """The tax year chosen (the default when the field was left out)."""
        chosen: int | None = self.cleaned_data.get("year")
        return chosen or default_year()

    def household(self) -> Household:
        data = self.cleaned_data
        couple = data["situation"] == "couple"
        salaries = [data.get("salary_1") or 0]
        pensions = [data.get("pension_1") or 0]
        disabled = int(bool(data.get("disabled_1")))
        if couple:
            salaries.append(data.get("salary_2") or 0)
            pensions.append(data.get("pension_2") or 0)
            disabled += int(bool(data.get("disabled_2")))
        return Household(
            couple=couple,
            children=data.get("children") or 0,
            shared_children=data.get("shared_children") or 0,
            single_parent=bool(data.get("single_parent")) and not couple,
            salaries=tuple(salaries),
            other_income=data.get("other_income") or 0,
            pensions=tuple(pensions),
            disabled_declarants=disabled,
            disabled_children=data.get("disabled_children") or 0,
            disabled_shared_children=data.get("disabled_shared_children") or 0,
            home_employment=data.get("home_employment") or 0,
            young_children=data.get("young_children") or 0,
            childcare=data.get("childcare") or 0,
        )
