"""Latency of the income-tax simulator computed by OpenFisca-France (issue 26).

In one process, as a web process does it:

- **cold**: loading France's tax-benefit system (``simulators.openfisca.tax_benefit_system``),
  once per process, and the first simulation;
- **baseline**: the pure function with the year's published parameters
  (``simulators.income_tax.compute``) over the households below, the floor of the computation
  without any model;
- **warm**: ``simulators.openfisca.compute`` over the same households, ``--rounds`` times each,
  in a shuffled order: p50 / p95 / p99 / max per simulation, CPU time per simulation, and the
  ratio to the baseline; every result is compared with the pure function's net tax (the
  documented differences are of at most 1 €).

Households: single, couple, children in full and shared custody, single parent, disabled
declarant and child, pensions with the 10 % deduction, home employment and childcare credits,
incomes from the décote up to the top bracket (the capped quotient familial).

Target (issue 26): p95 < 300 ms after warm-up.

    .venv/bin/python bench/simulator.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, percentile  # noqa: E402  (what the benchmarks share)

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")

TARGET_P95_MS = 300.0


def households() -> list:
    from simulators.income_tax import Household

    grid = []
    for salary in (12_000, 18_000, 30_000, 55_000, 90_000, 180_000):
        grid.append(Household(salaries=(salary,)))
        grid.append(Household(couple=True, salaries=(salary, salary // 2), children=2))
        grid.append(Household(single_parent=True, salaries=(salary,), children=1))
        grid.append(Household(salaries=(salary,), shared_children=1, children=1))
    grid += [
        Household(pensions=(16_000,)),
        Household(couple=True, pensions=(26_000, 14_000), home_employment=3_000),
        Household(salaries=(24_000,), disabled_declarants=1),
        Household(couple=True, salaries=(40_000, 30_000), children=3, disabled_children=1),
        Household(
            couple=True,
            salaries=(38_000, 29_000),
            children=2,
            young_children=1,
            childcare=2_500,
            home_employment=4_000,
        ),
        Household(salaries=(21_000,), other_income=6_000),
    ]
    return grid


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def describe(label: str, values: list[float]) -> str:
    return (
        f"{label:<26} n={len(values):<5} p50={percentile(values, 50):7.1f} ms  "
        f"p95={percentile(values, 95):7.1f} ms  p99={percentile(values, 99):7.1f} ms  "
        f"max={max(values):7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="simulations per household")
    parser.add_argument("--year", type=int, default=2025, help="tax year")
    args = parser.parse_args()

    import django

    django.setup()
    from simulators import income_tax, openfisca

    cases = households()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    started, cpu0 = time.perf_counter(), cpu()
    openfisca.tax_benefit_system()
    load_s = time.perf_counter() - started
    openfisca.compute(cases[0], args.year)
    first_s = time.perf_counter() - started - load_s
    print(
        f"cold: tax-benefit system loaded in {load_s:.1f} s, first simulation "
        f"{first_s * 1000:.0f} ms (CPU {cpu() - cpu0:.1f} s)"
    )

    order = [h for h in cases for _ in range(args.rounds)]
    random.Random(26).shuffle(order)

    base: list[float] = []
    cpu0 = cpu()
    for household in order:
        t0 = time.perf_counter()
        income_tax.compute(household, args.year)
        base.append((time.perf_counter() - t0) * 1000)
    base_cpu = (cpu() - cpu0) * 1000 / len(order)

    warm: list[float] = []
    worst_gap = 0
    cpu0 = cpu()
    for household in order:
        t0 = time.perf_counter()
        result = openfisca.compute(household, args.year)
        warm.append((time.perf_counter() - t0) * 1000)
        pure = income_tax.compute(household, args.year)
        worst_gap = max(worst_gap, abs(result.net_tax - pure.net_tax))
    # The cross-check's own pure computations are in this CPU time: subtract their share.
    warm_cpu = (cpu() - cpu0) * 1000 / len(order) - base_cpu

    print(f"{len(cases)} households x {args.rounds} rounds, tax year {args.year}")
    print(describe("baseline (pure function)", base) + f"  CPU {base_cpu:.2f} ms")
    print(describe("OpenFisca-France, warm", warm) + f"  CPU {warm_cpu:.1f} ms")
    ratio = percentile(warm, 95) / max(percentile(base, 95), 1e-6)
    print(f"ratio warm/baseline p95: x{ratio:.0f}; largest gap in the net tax: {worst_gap} EUR")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {rss:.0f} MiB")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    met = percentile(warm, 95) < TARGET_P95_MS and worst_gap <= 1
    print(f"target p95 < {TARGET_P95_MS:.0f} ms after warm-up: {'met' if met else 'missed'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
