"""Income tax (impôt sur le revenu) of a household: a pure function of the year's parameters.

The steps of CGI art. 197, each kept in the result to explain it: net taxable income (salaries
and pensions after their 10 % deductions), number of parts (quotient familial, disability
half-parts included), progressive scale on one part times the parts, cap of the quotient
familial's advantage and the disabled's complementary reduction, décote, then the tax credits
for home employment and childcare. Parameters are the year's official figures in
``simulators/data/income_tax_<year>.json``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

DATA = Path(__file__).resolve().parent / "data"
Params = dict[str, Any]  # the year's JSON file


@dataclass(frozen=True)
class Household:
    couple: bool = False  # married or PACS: joint taxation
    children: int = 0  # dependants in full charge
    shared_children: int = 0  # dependants in shared custody (résidence alternée)
    single_parent: bool = False  # case T: living alone with dependants
    salaries: tuple[int, ...] = ()  # net taxable salaries, one per earner (before the 10 %)
    other_income: int = 0  # other net taxable income, already net of its own deductions
    pensions: tuple[int, ...] = ()  # pensions and retirement allowances, one per pensioner
    disabled_declarants: int = 0  # declarants with the CMI-invalidité (cases P and F)
    disabled_children: int = 0  # among ``children``: with the CMI-invalidité (case G)
    disabled_shared_children: int = 0  # among ``shared_children``: with the CMI (case I)
    home_employment: int = 0  # expenses for an employee at home (case 7DB)
    childcare: int = 0  # childcare expenses for children under 6, net of aids (cases 7GA-7GG)
    young_children: int = 0  # children under 6 kept outside home


@dataclass
class Result:
    net_income: int
    parts: Decimal
    tax_without_cap: int  # the scale with every part
    tax_reference: int  # the scale with the couple's 2 parts or the single person's 1
    quotient_effect: int  # what the extra parts save, after the cap
    capped: bool
    gross_tax: int  # after the cap, before the décote
    decote: int
    net_tax: int
    marginal_rate: Decimal
    average_rate: Decimal  # net tax / net income
    steps: list[str] = field(default_factory=list)
    pension_deduction: int = 0
    disability_reduction: int = 0  # complementary reduction of the capped disability half-parts
    home_employment_credit: int = 0
    childcare_credit: int = 0
    balance: int = 0  # net tax minus the credits: negative means a refund

    @property
    def refund(self) -> int:
        return max(0, -self.balance)


@functools.cache
def parameters(year: int) -> Params:
    path = DATA / f"income_tax_{year}.json"
    if not path.exists():
        raise ValueError(f"no income tax parameters for {year}")
    data: Params = json.loads(path.read_text(encoding="utf-8"))
    return data


def available_years() -> list[int]:
    return sorted(int(p.stem.rsplit("_", 1)[1]) for p in DATA.glob("income_tax_*.json"))


def _euros(value: Decimal) -> int:
    return int(value.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def salary_deduction(salary: int, params: Params) -> int:
    rule = params["salary_deduction"]
    if salary <= 0:
        return 0
    ten = _euros(Decimal(salary) * Decimal(rule["rate"]))
    return min(salary, max(int(rule["minimum"]), min(int(rule["maximum"]), ten)))


def pension_deduction(pensions: tuple[int, ...], params: Params) -> int:
    """10 % of each pension, at least the minimum (never more than the pension), the household's
    total capped (CGI art. 158-5-a)."""
    rule = params["pension_deduction"]
    each = [
        min(p, max(int(rule["minimum"]), _euros(Decimal(p) * Decimal(rule["rate"]))))
        for p in pensions
        if p > 0
    ]
    return min(sum(each), int(rule["maximum"]))


def disability_half_parts(household: Household) -> Decimal:
    return (
        Decimal("0.5") * (household.disabled_declarants + household.disabled_children)
        + Decimal("0.25") * household.disabled_shared_children
    )


def parts(household: Household) -> Decimal:
    """Number of parts: 1 or 2, + 1/2 for each of the first two dependants and 1 from the
    third (halved in shared custody, full-charge children counted first), + 1/2 for a single
    parent living alone (1/4 when every dependant is in shared custody), + 1/2 per disabled
    declarant or dependant (1/4 for a disabled child in shared custody)."""
    total = Decimal(2 if household.couple else 1)
    rank = 0
    for full in [True] * household.children + [False] * household.shared_children:
        rank += 1
        share = Decimal("0.5") if rank <= 2 else Decimal(1)
        total += share if full else share / 2
    if household.single_parent and not household.couple and rank:
        total += Decimal("0.5") if household.children else Decimal("0.25")
    return total + disability_half_parts(household)


def tax_credits(household: Household, params: Params) -> tuple[int, int]:
    """Home employment (CGI art. 199 sexdecies) and childcare (art. 200 quater B) credits."""
    home = params["home_employment_credit"]
    dependants = Decimal(household.children) + Decimal(household.shared_children) / 2
    ceiling = min(
        Decimal(home["ceiling"]) + Decimal(home["per_dependant"]) * dependants,
        Decimal(home["maximum"]),
    )
    home_credit = _euros(min(Decimal(household.home_employment), ceiling) * Decimal(home["rate"]))
    care = params["childcare_credit"]
    care_ceiling = int(care["ceiling_per_child"]) * household.young_children
    care_credit = _euros(Decimal(min(household.childcare, care_ceiling)) * Decimal(care["rate"]))
    return home_credit, care_credit


def scale(income: Decimal, n_parts: Decimal, params: Params) -> tuple[int, Decimal]:
    """Tax of the progressive scale for ``n_parts`` parts, and the marginal rate."""
    quotient = income / n_parts
    brackets = params["brackets"]
    tax = Decimal(0)
    marginal = Decimal(0)
    for index, bracket in enumerate(brackets):
        low = Decimal(bracket["from"])
        high = Decimal(brackets[index + 1]["from"]) if index + 1 < len(brackets) else None
        if quotient <= low:
            break
        top = quotient if high is None else min(quotient, high)
        tax += (top - low) * Decimal(bracket["rate"])
        marginal = Decimal(bracket["rate"])
    return _euros(tax * n_parts), marginal


def compute(household: Household, year: int = 2025) -> Result:
    params = parameters(year)
    salaries = sum(s - salary_deduction(s, params) for s in household.salaries)
    pension_cut = pension_deduction(household.pensions, params)
    pensions = sum(p for p in household.pensions if p > 0) - pension_cut
    net_income = max(0, salaries + pensions + household.other_income)
    income = Decimal(net_income).quantize(Decimal("1"), rounding=ROUND_DOWN)
    n_parts = parts(household)
    reference_parts = Decimal(2 if household.couple else 1)
    tax_all, marginal = scale(income, n_parts, params)
    tax_ref, marginal_ref = scale(income, reference_parts, params)
    extra_half_parts = (n_parts - reference_parts) * 2
    cap = Decimal(params["quotient_cap_per_half_part"]) * extra_half_parts
    if household.single_parent and not household.couple and extra_half_parts > 0:
        # The single parent's first child: one whole part (its 1/2 and the case T's 1/2) capped
        # at its own amount (halved in shared custody), the other half-parts at the general one.
        first = Decimal(1) if household.children else Decimal("0.5")
        cap = Decimal(params["quotient_cap_single_parent_first_child"]) * first + Decimal(
            params["quotient_cap_per_half_part"]
        ) * (extra_half_parts - 2 * first)
    advantage = tax_ref - tax_all
    capped = advantage > cap
    gross = tax_ref - _euros(cap) if capped else tax_all
    disability_reduction = 0
    if capped:
        marginal = marginal_ref
        # CGI art. 197-I-2, 4th paragraph: the disability half-parts get back part of what the
        # cap took, up to a fixed amount each (half for a quarter part).
        half_parts = disability_half_parts(household) * 2
        amount = Decimal(params["disability_complementary_reduction"]) * half_parts
        disability_reduction = min(_euros(amount), gross - tax_all)
        gross -= disability_reduction
    rule = params["decote"]["couple" if household.couple else "single"]
    decote_amount = Decimal(rule["amount"])
    rate = Decimal(rule["rate"])
    decote = 0
    if gross > 0 and Decimal(gross) < decote_amount / rate:
        decote = min(gross, _euros(decote_amount - rate * gross))
    home_credit, care_credit = tax_credits(household, params)
    return assemble(
        reference_parts,
        net_income=net_income,
        parts=n_parts,
        tax_without_cap=tax_all,
        tax_reference=tax_ref,
        capped=capped,
        gross_tax=gross,
        decote=decote,
        net_tax=gross - decote,
        marginal_rate=marginal,
        pension_deduction=pension_cut,
        disability_reduction=disability_reduction,
        home_employment_credit=home_credit,
        childcare_credit=care_credit,
    )


def assemble(reference_parts: Decimal, **amounts: Any) -> Result:
    """The ``Result`` of the computed amounts, with what follows from them (the quotient's
    effect, the average rate, the balance after the credits) and the explained steps: the same
    for the pure function and for OpenFisca (``simulators.openfisca``)."""
    net, income = amounts["net_tax"], amounts["net_income"]
    result = Result(
        **amounts,
        quotient_effect=amounts["tax_reference"] - amounts["gross_tax"],
        average_rate=(Decimal(net) / income * 100).quantize(Decimal("0.1"))
        if income
        else Decimal(0),
        balance=net - amounts["home_employment_credit"] - amounts["childcare_credit"],
    )
    result.steps = explain(result, reference_parts)
    return result


def explain(result: Result, reference_parts: Decimal) -> list[str]:
    """The steps of the computation, in words, for the result page and the attached summary."""
    shown = result.parts.normalize()
    net = result.net_tax
    credits = result.home_employment_credit + result.childcare_credit
    steps = [
        _("Revenu net imposable : %(amount)s €") % {"amount": result.net_income},
        _("Nombre de parts : %(parts)s") % {"parts": shown},
        _("Impôt selon le barème avec %(parts)s parts : %(amount)s €")
        % {"parts": shown, "amount": result.tax_without_cap},
        _("Impôt sans les parts des personnes à charge (%(parts)s) : %(amount)s €")
        % {"parts": reference_parts, "amount": result.tax_reference},
        (
            _("Effet du quotient familial, plafonné : %(amount)s €")
            if result.capped
            else _("Effet du quotient familial : %(amount)s €")
        )
        % {"amount": result.quotient_effect},
        _("Décote : %(amount)s €") % {"amount": result.decote},
        _("Impôt net : %(amount)s €") % {"amount": net},
    ]
    if result.pension_deduction:
        steps.insert(
            0,
            _("Abattement de 10 %% sur les pensions, plafonné pour le foyer : %(amount)s €")
            % {"amount": result.pension_deduction},
        )
    if result.disability_reduction:
        steps.insert(
            -2,
            _("Réduction complémentaire pour invalidité : %(amount)s €")
            % {"amount": result.disability_reduction},
        )
    if credits:
        steps += [
            _("Crédit d'impôt emploi à domicile : %(amount)s €")
            % {"amount": result.home_employment_credit},
            _("Crédit d'impôt frais de garde des jeunes enfants : %(amount)s €")
            % {"amount": result.childcare_credit},
            (
                _("Restitution attendue : %(amount)s €")
                if net < credits
                else _("Solde à payer après crédits : %(amount)s €")
            )
            % {"amount": abs(net - credits)},
        ]
    return steps
