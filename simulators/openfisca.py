"""Income tax computed by OpenFisca-France, the State's rules-as-code model.

The household of the form becomes an OpenFisca situation: one ``individu`` per declarant and
dependant, the foyer fiscal with the boxes of the 2042 return (1AJ salaries, 1AS pensions, 4BA
net rental income for the "other income", 7DB home employment, 7GA-7GG childcare, cases T, P,
F), and the ménage and famille OpenFisca requires. The tax-benefit system takes seconds and
~100 MB to load: it is loaded once per process, on the first simulation (``tax_benefit_system``).

The simulator's year Y is the tax year: the income of year Y - 1 is computed, as in OpenFisca's
own variables (``ip_net`` for 2024 is the tax paid in 2025 on the income of 2024).
"""

from __future__ import annotations

import functools
import threading
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from .income_tax import Household, Result, assemble

_lock = threading.Lock()

# Declarants' and children's ages are not asked: declarants are taken as 40 (the abatement for
# people over 65 does not apply), children as 10, and the ones under 6 as 3.
OUTPUTS = (
    "rni",
    "nbptr",
    "ir_brut",
    "ir_ss_qf",
    "ir_plaf_qf",
    "decote",
    "ip_net",
    "ir_taux_marginal",
    "ci_saldom",
    "ci_gardenf",
    # The 10 % pension deduction: per pensioner, then the household's cap.
    "revenu_assimile_pension",
    "revenu_assimile_pension_apres_abattements",
    "indu_plaf_abat_pen",
)
# Boxes of the 2042 childcare section: full-custody children, then shared custody.
CHILDCARE_FULL = ("f7ga", "f7gb", "f7gc")
CHILDCARE_SHARED = ("f7ge", "f7gf", "f7gg")


@functools.cache
def tax_benefit_system() -> Any:
    """France's tax-benefit system, loaded on first use (a few seconds), once per process."""
    with _lock:
        from openfisca_france import FranceTaxBenefitSystem

        return FranceTaxBenefitSystem()


def income_year(year: int) -> int:
    return year - 1


YEARS_OFFERED = 3  # the latest tax year the model covers and the two before


@functools.cache
def covered_years() -> list[int]:
    """The tax years the installed model covers, latest first: the income years up to the last
    revaluation of the income-tax scale in its parameters (each year's finance law), plus one.

    Read from the scale's own parameter file, without loading the tax-benefit system (seconds):
    the form offers the years before any simulation runs."""
    import openfisca_france
    import yaml

    path = Path(openfisca_france.__file__).parent / "parameters/impot_revenu"
    scale = yaml.safe_load((path / "bareme_ir_depuis_1945/bareme.yaml").read_text("utf-8"))
    last_income_year = max(
        int(str(date)[:4]) for bracket in scale["brackets"] for date in bracket["threshold"]
    )
    latest = last_income_year + 1
    return [latest - n for n in range(YEARS_OFFERED)]


def situation(household: Household, year: int) -> dict[str, Any]:
    """The OpenFisca situation of ``household`` for the income of ``year - 1``."""
    period = str(income_year(year))
    adults = ["declarant_1", "declarant_2"] if household.couple else ["declarant_1"]
    full = [f"enfant_{i + 1}" for i in range(household.children)]
    shared = [f"enfant_alterne_{i + 1}" for i in range(household.shared_children)]
    # Children under 6 are taken among the full-custody ones first, as are disabled children.
    young = set((full + shared)[: household.young_children])
    disabled = set(full[: household.disabled_children]) | set(
        shared[: household.disabled_shared_children]
    )
    individus: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(adults):
        salary = household.salaries[index] if index < len(household.salaries) else 0
        pension = household.pensions[index] if index < len(household.pensions) else 0
        individus[name] = {
            "date_naissance": {"ETERNITY": f"{int(period) - 40}-01-01"},
            "statut_marital": {period: "marie" if household.couple else "celibataire"},
            "salaire_imposable": {period: salary},
            "retraite_imposable": {period: pension},
            "chomage_imposable": {period: 0},
        }
    for name in full + shared:
        born = int(period) - (3 if name in young else 10)
        individus[name] = {
            "date_naissance": {"ETERNITY": f"{born}-01-01"},
            "garde_alternee": {period: name in shared},
            "invalidite": {period: name in disabled},
            "salaire_imposable": {period: 0},
            "retraite_imposable": {period: 0},
            "chomage_imposable": {period: 0},
        }
    foyer: dict[str, Any] = {
        "declarants": adults,
        "personnes_a_charge": full + shared,
        "caseT": {period: household.single_parent and not household.couple and bool(full + shared)},
        "caseP": {period: household.disabled_declarants >= 1},
        "caseF": {period: household.disabled_declarants >= 2 and household.couple},
        "f4ba": {period: household.other_income},
        "f7db": {period: household.home_employment},
    }
    # The return has three childcare lines per kind of custody: the expenses are spread over
    # the children it can hold (each line is capped at the ceiling per child anyway).
    young_full = [n for n in full if n in young][: len(CHILDCARE_FULL)]
    young_shared = [n for n in shared if n in young][: len(CHILDCARE_SHARED)]
    count = len(young_full) + len(young_shared)
    if household.childcare and count:
        each = household.childcare // count
        for box, _name in zip(CHILDCARE_FULL, young_full, strict=False):
            foyer[box] = {period: each}
        for box, _name in zip(CHILDCARE_SHARED, young_shared, strict=False):
            foyer[box] = {period: each}
    return {
        "individus": individus,
        "foyers_fiscaux": {"foyer": foyer},
        "menages": {
            "menage": {
                "personne_de_reference": adults[:1],
                "conjoint": adults[1:],
                "enfants": full + shared,
            }
        },
        "familles": {"famille": {"parents": adults, "enfants": full + shared}},
    }


def raw(household: Household, year: int) -> dict[str, float]:
    """OpenFisca's values of ``OUTPUTS``, summed over the foyer's members for a person's."""
    from openfisca_core.simulation_builder import SimulationBuilder

    system = tax_benefit_system()
    simulation = SimulationBuilder().build_from_entities(system, situation(household, year))
    period = str(income_year(year))
    return {name: float(simulation.calculate(name, period).sum()) for name in OUTPUTS}


def _euros(value: float) -> int:
    return int(Decimal(repr(value)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def compute(household: Household, year: int = 2025) -> Result:
    """The tax of ``household`` as OpenFisca-France computes it, in the simulator's ``Result``."""
    values = raw(household, year)
    plaf = tax_benefit_system().parameters(str(income_year(year))).impot_revenu
    per_half = plaf.calcul_impot_revenu.plaf_qf.plafond_avantages_procures_par_demi_part
    net_income = _euros(values["rni"])
    n_parts = Decimal(repr(values["nbptr"])).normalize()
    tax_all = _euros(values["ir_brut"])
    tax_ref = _euros(values["ir_ss_qf"])
    gross = _euros(values["ir_plaf_qf"])
    reference_parts = Decimal(2 if household.couple else 1)
    extra = (n_parts - reference_parts) * 2
    # OpenFisca's cap (ir_plaf_qf): the single parent's first two half-parts at their own amount.
    if household.single_parent and not household.couple and extra > 0:
        first = min((n_parts - 1) * 2, Decimal(2))
        cap = Decimal(repr(per_half.celib_enf)) * first / 2 + Decimal(repr(per_half.general)) * (
            extra - first
        )
    else:
        cap = Decimal(repr(per_half.general)) * extra
    capped_tax = Decimal(tax_ref) - cap
    capped = Decimal(tax_all) < capped_tax
    has_disability = bool(
        household.disabled_declarants
        or household.disabled_children
        or household.disabled_shared_children
    )
    disability_reduction = (
        max(0, _euros(float(capped_tax)) - gross) if capped and has_disability else 0
    )
    # OpenFisca's ``decote`` is the formula's amount even above the tax; only the tax is taken.
    decote = min(_euros(values["decote"]), gross)
    net = _euros(values["ip_net"])
    home_credit = _euros(values["ci_saldom"])
    care_credit = _euros(values["ci_gardenf"])
    return assemble(
        reference_parts,
        net_income=net_income,
        parts=n_parts,
        tax_without_cap=tax_all,
        tax_reference=tax_ref,
        capped=capped,
        gross_tax=gross,
        decote=decote,
        net_tax=net,
        marginal_rate=Decimal(repr(values["ir_taux_marginal"])).quantize(Decimal("0.01")),
        pension_deduction=_euros(
            values["revenu_assimile_pension"]
            - values["revenu_assimile_pension_apres_abattements"]
            - values["indu_plaf_abat_pen"]
        ),
        disability_reduction=disability_reduction,
        home_employment_credit=home_credit,
        childcare_credit=care_credit,
    )
