"""Income tax (impôt sur le revenu) of a household: a pure function of the year's parameters.

The steps of CGI art. 197, each kept in the result to explain it: net taxable income (salaries
after the 10 % deduction), number of parts (quotient familial), progressive scale on one part
times the parts, cap of the quotient familial's advantage, décote. Parameters are the year's
official figures in ``simulators/data/income_tax_<year>.json``.
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


def parts(household: Household) -> Decimal:
    """Number of parts: 1 or 2, + 1/2 for each of the first two dependants and 1 from the
    third (halved in shared custody, full-charge children counted first), + 1/2 for a single
    parent living alone (1/4 when every dependant is in shared custody)."""
    total = Decimal(2 if household.couple else 1)
    rank = 0
    for full in [True] * household.children + [False] * household.shared_children:
        rank += 1
        share = Decimal("0.5") if rank <= 2 else Decimal(1)
        total += share if full else share / 2
    if household.single_parent and not household.couple and rank:
        total += Decimal("0.5") if household.children else Decimal("0.25")
    return total


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
    net_income = max(0, salaries + household.other_income)
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
    if capped:
        marginal = marginal_ref
    rule = params["decote"]["couple" if household.couple else "single"]
    decote_amount = Decimal(rule["amount"])
    rate = Decimal(rule["rate"])
    decote = 0
    if gross > 0 and Decimal(gross) < decote_amount / rate:
        decote = min(gross, _euros(decote_amount - rate * gross))
    net = gross - decote
    average = (Decimal(net) / income * 100).quantize(Decimal("0.1")) if income else Decimal(0)
    shown = n_parts.normalize()
    steps = [
        _("Revenu net imposable : %(amount)s €") % {"amount": net_income},
        _("Nombre de parts : %(parts)s") % {"parts": shown},
        _("Impôt selon le barème avec %(parts)s parts : %(amount)s €")
        % {"parts": shown, "amount": tax_all},
        _("Impôt sans les parts des personnes à charge (%(parts)s) : %(amount)s €")
        % {"parts": reference_parts, "amount": tax_ref},
        (
            _("Effet du quotient familial, plafonné : %(amount)s €")
            if capped
            else _("Effet du quotient familial : %(amount)s €")
        )
        % {"amount": tax_ref - gross},
        _("Décote : %(amount)s €") % {"amount": decote},
        _("Impôt net : %(amount)s €") % {"amount": net},
    ]
    return Result(
        net_income=net_income,
        parts=n_parts,
        tax_without_cap=tax_all,
        tax_reference=tax_ref,
        quotient_effect=tax_ref - gross,
        capped=capped,
        gross_tax=gross,
        decote=decote,
        net_tax=net,
        marginal_rate=marginal,
        average_rate=average,
        steps=steps,
    )
