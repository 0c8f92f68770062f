#!/usr/bin/env python3
"""Writes checkout-telemetry.csv: seven days of the orders-db disk filling up.

Synthetic, for the checkout example (`preflight run scenarios/checkout.yaml
--telemetry datasets/checkout-telemetry.csv`): the fraction of the database's
disk in use, every 5 minutes from 2026-11-24T00:00Z to 2026-11-30T23:55Z.
It grows by 0.03 a day for five days, then by 0.06 a day (a new feature
writes more), with a daily cycle (a nightly compaction at 03:00 frees 1% of
the disk, written again over the day) and measurement noise; it ends near
0.91, about 16 hours of growth from the 0.95 at which the scenario's
`disk_error` starts. Standard library only; the seed fixes the file.
"""

import csv
import datetime as dt
import random
import sys

STEP_S = 300
DAYS = 7
START = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)


def level(t_days: float) -> float:
    """The trend: 0.64, +0.03/day for five days, then +0.06/day."""
    if t_days <= 5.0:
        return 0.64 + 0.03 * t_days
    return 0.64 + 0.03 * 5.0 + 0.06 * (t_days - 5.0)


def daily(t_days: float) -> float:
    """-0.01 just after the 03:00 compaction, back to 0 by the next one."""
    since = (t_days * 24.0 - 3.0) % 24.0
    return -0.01 * (1.0 - since / 24.0)


def main(path: str) -> None:
    rng = random.Random(20261124)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["timestamp", "resource", "metric", "value"])
        for i in range(DAYS * 86400 // STEP_S):
            t = START + dt.timedelta(seconds=i * STEP_S)
            d = i * STEP_S / 86400.0
            v = level(d) + daily(d) + rng.gauss(0.0, 0.0015)
            w.writerow(
                [
                    t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "orders-db",
                    "disk_used_fraction",
                    f"{min(max(v, 0.0), 1.0):.4f}",
                ]
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "checkout-telemetry.csv")
