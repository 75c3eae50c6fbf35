"""Income tax 2025 (income 2024) against households computed by hand from the official scale:
0 % to 11 497 €, 11 % to 29 315 €, 30 % to 83 823 €, 41 % to 180 294 €, 45 % above; quotient
familial cap 1 791 € per half-part (4 224 € for a single parent's first child); décote 889 € /
1 470 € minus 45.25 % of the tax; 10 % salary deduction between 504 € and 14 426 €."""

from decimal import Decimal

import pytest

from simulators.income_tax import Household, available_years, compute, parts


@pytest.mark.parametrize(
    ("household", "n_parts", "gross", "decote", "net"),
    [
        # 1 part, 30 000: 17 818 x 11 % + 685 x 30 % = 2 165.48; above the décote's 1 964.6.
        (Household(other_income=30_000), "1", 2165, 0, 2165),
        # 1 part, 20 000: 8 503 x 11 % = 935.33; décote 889 - 45.25 % x 935 = 465.9.
        (Household(other_income=20_000), "1", 935, 466, 469),
        # Below the first bracket.
        (Household(other_income=11_000), "1", 0, 0, 0),
        # Couple, 50 000: 2 x 13 503 x 11 % = 2 970.66; décote 1 470 - 45.25 % x 2 971.
        (Household(couple=True, other_income=50_000), "2", 2971, 126, 2845),
        # Couple + 2 children, 60 000: 3 x 935.33 = 2 806; advantage 1 525 < cap 3 582.
        (Household(couple=True, children=2, other_income=60_000), "3", 2806, 200, 2606),
        # Couple + 2 children, 150 000: 3 parts 24 496, 2 parts 31 331: capped at 3 582.
        (Household(couple=True, children=2, other_income=150_000), "3", 27749, 0, 27749),
        # Couple + 3 children (the third counts 1 part), 80 000: 4 x 935.33 = 3 741.
        (Household(couple=True, children=3, other_income=80_000), "4", 3741, 0, 3741),
        # Single parent (case T) + 1 child, 40 000: 2 parts 1 871; advantage 3 294 < 4 224.
        (Household(single_parent=True, children=1, other_income=40_000), "2", 1871, 42, 1829),
        # Single parent + 1 child, 100 000: 1 part 24 945, capped at 4 224.
        (Household(single_parent=True, children=1, other_income=100_000), "2", 20721, 0, 20721),
        # Couple + 2 children in shared custody, 70 000: 2.5 parts 4 538, capped at 1 791.
        (Household(couple=True, shared_children=2, other_income=70_000), "2.5", 5540, 0, 5540),
        # Salary 30 000 - 10 % = 27 000: 15 503 x 11 % = 1 705.33; décote 117.5.
        (Household(salaries=(30_000,)), "1", 1705, 117, 1588),
        # Salary 4 000: the 504 € minimum deduction, nothing to pay.
        (Household(salaries=(4_000,)), "1", 0, 0, 0),
        # 250 000: every bracket, 45 % on 69 706.
        (Household(other_income=250_000), "1", 89233, 0, 89233),
    ],
)
def test_households_computed_by_hand(household, n_parts, gross, decote, net):
    result = compute(household, 2025)
    assert result.parts == Decimal(n_parts)
    assert (result.gross_tax, result.decote, result.net_tax) == (gross, decote, net)


def test_parts_rules():
    assert parts(Household(couple=True, children=4)) == Decimal(5)
    assert parts(Household(children=1, shared_children=1)) == Decimal("1.75")
    assert parts(Household(single_parent=True, shared_children=1)) == Decimal("1.5")
    # Case T needs a dependant.
    assert parts(Household(single_parent=True)) == Decimal(1)


def test_salary_deduction_maximum_per_earner():
    result = compute(Household(couple=True, salaries=(200_000, 20_000)), 2025)
    assert result.net_income == 200_000 - 14_426 + 20_000 - 2_000


def test_rates_and_explanations():
    result = compute(Household(other_income=30_000), 2025)
    assert result.marginal_rate == Decimal("0.30")
    assert result.average_rate == Decimal("7.2")
    assert result.steps[-1] == "Impôt net : 2165 €"
    capped = compute(Household(couple=True, children=2, other_income=150_000), 2025)
    assert capped.capped and capped.quotient_effect == 3582


def test_unknown_year_is_refused():
    assert 2025 in available_years()
    with pytest.raises(ValueError):
        compute(Household(other_income=1), 1990)
