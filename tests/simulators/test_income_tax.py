"""Income tax 2025 (income 2024) against households computed by hand from the official scale:
0 % to 11 497 €, 11 % to 29 315 €, 30 % to 83 823 €, 41 % to 180 294 €, 45 % above; quotient
familial cap 1 791 € per half-part (4 224 € for a single parent's first child); décote 889 € /
1 470 € minus 45.25 % of the tax; 10 % salary deduction between 504 € and 14 426 €."""

from decimal import Decimal

import pytest

from simulators.income_tax import Household, available_years, compute, parts

# Same on every database: CI runs it in the SQLite phase only (docs/testing.md).
pytestmark = pytest.mark.backend_independent


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


# --- pensions, disability half-parts, tax credits ---------------------------------------------
# 2025 parameters (income 2024): pensions' 10 % deduction at least 450 € per pensioner, at most
# 4 399 € per household; the disability complementary reduction 1 785 € per half-part when the
# quotient familial is capped; home employment credit 50 % of at most 12 000 € + 1 500 € per
# dependant (15 000 € in all); childcare credit 50 % of at most 3 500 € per child under 6.


@pytest.mark.parametrize(
    ("household", "net_income", "n_parts", "gross", "decote", "net"),
    [
        # A published example (single retiree, 24 000 € of pensions in 2024): 21 600 taxable,
        # 10 103 x 11 % = 1 111.33; décote 889 - 45.25 % x 1 111 = 386.27; 725 € to pay.
        (Household(pensions=(24_000,)), 21_600, "1", 1111, 386, 725),
        # Couple of retirees, 30 000 + 20 000: 3 000 + 2 000 capped at 4 399 => 45 601;
        # 2 x (22 800.5 - 11 497) x 11 % = 2 486.77; décote 1 470 - 45.25 % x 2 487 = 344.6.
        (Household(couple=True, pensions=(30_000, 20_000)), 45_601, "2", 2487, 345, 2142),
        # A small pension: the 450 € minimum, more than its 10 %.
        (Household(pensions=(3_000,)), 2_550, "1", 0, 0, 0),
        # Couple + 1 disabled child, 50 000: 3 parts 3 x 568.67 = 1 706, advantage 1 261 under
        # the cap of 2 half-parts (3 582); décote 1 470 - 45.25 % x 1 706 = 698.
        (
            Household(couple=True, children=1, disabled_children=1, other_income=50_000),
            50_000,
            "3",
            1706,
            698,
            1008,
        ),
    ],
)
def test_pensions_and_disabled_children(household, net_income, n_parts, gross, decote, net):
    result = compute(household, 2025)
    assert result.net_income == net_income
    assert result.parts == Decimal(n_parts)
    assert (result.gross_tax, result.decote, result.net_tax) == (gross, decote, net)


@pytest.mark.parametrize(
    ("household", "reduction", "net"),
    [
        # Disabled single, 60 000: 1 part 11 165, 1.5 parts 7 748; the cap (1 791) raises it to
        # 9 374 (+1 626), less than 1 785: the complementary reduction gives it all back.
        (Household(disabled_declarants=1, other_income=60_000), 1626, 7748),
        # Disabled single, 100 000: 1 part 24 945, 1.5 parts 19 748; capped 23 154 (+3 406):
        # the reduction stops at 1 785 => 21 369.
        (Household(disabled_declarants=1, other_income=100_000), 1785, 21369),
        # Both spouses disabled, 150 000: 3 parts 24 496, 2 parts 31 331, capped 27 749 (+3 253)
        # under 2 x 1 785.
        (Household(couple=True, disabled_declarants=2, other_income=150_000), 3253, 24496),
        # A couple with 2 children capped (no disability): no complementary reduction.
        (Household(couple=True, children=2, other_income=150_000), 0, 27749),
    ],
)
def test_disability_half_parts_and_their_complementary_reduction(household, reduction, net):
    result = compute(household, 2025)
    assert result.capped
    assert (result.disability_reduction, result.net_tax) == (reduction, net)


def test_home_employment_and_childcare_credits_can_exceed_the_tax():
    single = compute(Household(other_income=30_000, home_employment=8_000), 2025)
    assert (single.net_tax, single.home_employment_credit, single.balance) == (2165, 4000, -1835)
    assert single.refund == 1835
    # Couple + 2 children, 80 000 (capped: 10 331 - 3 582 = 6 749); 20 000 spent, retained up to
    # 12 000 + 2 x 1 500.
    family = compute(
        Household(couple=True, children=2, other_income=80_000, home_employment=20_000), 2025
    )
    assert (family.net_tax, family.home_employment_credit, family.balance) == (6749, 7500, -751)
    # The 15 000 € maximum, and a child in shared custody counts half.
    big = compute(Household(children=5, shared_children=1, home_employment=40_000), 2025)
    assert big.home_employment_credit == 7500
    shared = compute(Household(shared_children=1, home_employment=40_000), 2025)
    assert shared.home_employment_credit == 6375  # (12 000 + 750) x 50 %
    # Childcare: 3 500 € per child under 6.
    care = compute(
        Household(single_parent=True, children=2, young_children=2, childcare=9_000), 2025
    )
    assert care.childcare_credit == 3500
    assert "Restitution attendue : 3500 €" in care.steps


def test_the_decote_amounts_are_those_of_the_2025_finance_act():
    """Loi n° 2025-127 art. 2 (income 2024): 889 € / 1 470 € minus 45.25 % of the tax, so a
    décote below 1 964 € (single) and 3 248 € (couple) of tax; 873 € / 1 444 € were the 2024
    amounts (income 2023)."""
    from simulators.income_tax import parameters

    decote = parameters(2025)["decote"]
    assert (decote["single"]["amount"], decote["couple"]["amount"]) == (889, 1470)
    single_limit = Decimal(889) / Decimal("0.4525")
    couple_limit = Decimal(1470) / Decimal("0.4525")
    assert (int(single_limit), int(couple_limit)) == (1964, 3248)
    # Just under the single threshold a décote remains (1 961 € of tax: 889 - 887.35 = 1.65);
    # above it (1 967 €) there is none.
    assert compute(Household(other_income=29_320), 2025).decote == 2
    assert compute(Household(other_income=29_340), 2025).decote == 0
