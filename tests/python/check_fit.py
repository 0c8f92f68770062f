#!/usr/bin/env python3
"""Check `preflight fit`'s Weibull maximum-likelihood fits against SciPy's.

Usage: check_fit.py FIT_JSON INTERVALS_CSV

FIT_JSON is the output of `preflight fit ... --json`; INTERVALS_CSV the file
written by the same run's `--intervals-out` (group, kind, resource, value_s,
censored). For every group, the times between failures are fitted with
`scipy.stats.weibull_min.fit(CensoredData(...), floc=0)` (right-censored
values as `CensoredData.right`), with a tight Nelder-Mead tolerance, and the
shape and scale must match preflight's within 1e-3 relative. Also checks that
preflight's parameters reach at least SciPy's maximum log-likelihood (they
are the maximum, not a point near it) and that the counts agree.

Ends with a line "N passed, M failed"; exits 1 when anything failed, 2 on bad
usage. Set up SciPy with tests/python/setup.sh.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict

import numpy as np
from scipy import optimize, stats

REL_TOL = 1e-3
HOUR = 3600.0


def tight_fmin(func, x0, args=(), disp=0):
    """SciPy's default optimizer (Nelder-Mead), with tolerances tight enough
    that the comparison is about the estimates, not the stopping rule."""
    return optimize.fmin(
        func, x0, args=args, disp=disp, xtol=1e-10, ftol=1e-12, maxiter=20000, maxfun=40000
    )


def loglik(shape: float, scale: float, exact: list[float], right: list[float]) -> float:
    """Censored Weibull log-likelihood (values in hours)."""
    d = stats.weibull_min(shape, scale=scale)
    return float(np.sum(d.logpdf(exact)) + np.sum(d.logsf(right)))


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        report = json.load(f)
    samples: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    with open(argv[2], newline="") as f:
        for row in csv.DictReader(f):
            if row["kind"] != "time_between":
                continue
            exact, right = samples[row["group"]]
            (right if row["censored"] == "true" else exact).append(float(row["value_s"]) / HOUR)

    passed = failed = 0

    def check(ok: bool, what: str) -> None:
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok    {what}")
        else:
            failed += 1
            print(f"FAIL  {what}")

    groups = [g for g in report["groups"] if "fits" in (g.get("time_between") or {})]
    check(len(groups) > 0, "the report has at least one fitted group")
    for g in groups:
        name = g["group"]
        tb = g["time_between"]
        exact, right = samples.get(name, ([], []))
        check(
            len(exact) + len(right) == tb["n"] and len(right) == tb["censored"],
            f"{name}: intervals file has n={len(exact) + len(right)} censored={len(right)} "
            f"(report: n={tb['n']} censored={tb['censored']})",
        )
        ours = next(f for f in tb["fits"] if f["dist"] == "weibull")
        shape, scale_h = ours["params"]["shape"], ours["params"]["scale"] / HOUR
        data = stats.CensoredData(uncensored=np.array(exact), right=np.array(right))
        c, loc, s = stats.weibull_min.fit(data, floc=0, optimizer=tight_fmin)
        rel_shape = abs(shape - c) / c
        rel_scale = abs(scale_h - s) / s
        print(
            f"      {name}: preflight shape {shape:.6f} scale {scale_h:.6f} h; "
            f"scipy shape {c:.6f} scale {s:.6f} h; relative differences "
            f"{rel_shape:.2e}, {rel_scale:.2e}"
        )
        check(rel_shape < REL_TOL, f"{name}: Weibull shape within {REL_TOL} of scipy's")
        check(rel_scale < REL_TOL, f"{name}: Weibull scale within {REL_TOL} of scipy's")
        nll_ours = -loglik(shape, scale_h, exact, right)
        nll_scipy = -loglik(c, s, exact, right)
        check(
            nll_ours <= nll_scipy + 1e-6 * abs(nll_scipy),
            f"{name}: preflight's log-likelihood {-nll_ours:.6f} >= scipy's {-nll_scipy:.6f} (hours)",
        )

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
