"""Accuracy of the experiments' statistics over many simulated experiments (no cluster).

Each seed draws Bernoulli conversions for a control and a treatment arm and runs the project's
own functions (experiments/stats.py) on them:

- A/A: no difference, one test at the end; how often is it called significant (nominal 5%)?
- power: a planted relative lift of 10% (10% -> 11% conversion) at 15,000 users per arm,
  a design with 80% power; how often is it detected?
- SRM: a 52/48 split of 20,000 users declared 50/50 must be flagged (p < 0.001); a fair split
  must almost never be (0.1%).
- peeking: an A/A experiment looked at every "hour" for 24 hours (400 users per arm per hour);
  stopping at the first look with p < 0.05 inflates the false-positive rate (the baseline,
  "naive-peeking"); the always-valid mSPRT p-value must keep it at or below 5%. Its power at
  the planted lift under the same peeking is reported too.

    python -m bench.experiments_accuracy [--seeds 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench import line
from experiments import stats

NAME = "experiments_accuracy"
ALPHA = 0.05


def _rates(rng, p, n) -> int:
    return int(rng.binomial(n, p))


def aa_false_positive_rate(seeds: int, n: int = 5000, p: float = 0.10) -> float:
    hits = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        r = stats.compare_rates(
            x_control=_rates(rng, p, n), n_control=n, x_treatment=_rates(rng, p, n), n_treatment=n
        )
        hits += r.p_value < ALPHA
    return hits / seeds


def power(seeds: int, n: int = 15000, p: float = 0.10, lift: float = 0.10) -> float:
    hits = 0
    for seed in range(seeds):
        rng = np.random.default_rng(10_000 + seed)
        r = stats.compare_rates(
            x_control=_rates(rng, p, n),
            n_control=n,
            x_treatment=_rates(rng, p * (1 + lift), n),
            n_treatment=n,
        )
        hits += r.p_value < ALPHA and r.abs_lift > 0
    return hits / seeds


def srm_rates(seeds: int, total: int = 20000, share: float = 0.52) -> tuple[float, float]:
    flagged = false_alarms = 0
    for seed in range(seeds):
        rng = np.random.default_rng(20_000 + seed)
        a = int(rng.binomial(total, share))
        flagged += stats.srm_test([a, total - a], [50, 50]) < 0.001
        fair = int(rng.binomial(total, 0.5))
        false_alarms += stats.srm_test([fair, total - fair], [50, 50]) < 0.001
    return flagged / seeds, false_alarms / seeds


def peeking(
    seeds: int, *, lift: float, hours: int = 24, per_hour: int = 400, p: float = 0.10
) -> tuple[float, float]:
    """(naive rate, sequential rate) of experiments called significant at any hourly look."""
    naive = sequential = 0
    for seed in range(seeds):
        rng = np.random.default_rng(30_000 + seed + int(lift * 1e6))
        xc = np.cumsum(rng.binomial(per_hour, p, hours))
        xt = np.cumsum(rng.binomial(per_hour, p * (1 + lift), hours))
        looks, naive_hit = [], False
        for h in range(hours):
            n = per_hour * (h + 1)
            r = stats.compare_rates(
                x_control=int(xc[h]), n_control=n, x_treatment=int(xt[h]), n_treatment=n
            )
            naive_hit = naive_hit or r.p_value < ALPHA
            looks.append((r.abs_lift, r.variance))
            tau2 = stats.mixture_tau2(r.unit_variance)
        naive += naive_hit
        sequential += stats.always_valid_p(looks, tau2=tau2) < ALPHA
    return naive / seeds, sequential / seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    args = parser.parse_args()
    seeds = args.seeds
    started = time.perf_counter()
    # The A/A rate is the figure with the strictest bar and the cheapest to draw: it gets five
    # times the seeds, so its sampling error (about 0.3 points) does not blur the comparison.
    aa_seeds = 5 * seeds
    aa = aa_false_positive_rate(aa_seeds)
    half = 1.96 * (aa * (1 - aa) / aa_seeds) ** 0.5
    pw = power(seeds)
    srm_hit, srm_false = srm_rates(seeds)
    naive_fpr, seq_fpr = peeking(seeds, lift=0.0)
    _, seq_power = peeking(seeds, lift=0.10)
    print(f"{seeds} seeds per figure, {time.perf_counter() - started:.0f} s")
    print(
        f"A/A: {aa_seeds} seeds, 95% interval of the rate {100 * (aa - half):.1f}% to "
        f"{100 * (aa + half):.1f}%"
    )
    print(line(NAME, "aa_false_positive_rate", aa * 100, "%"))
    print(line(NAME, "power_at_10pct_lift_15000_per_arm", pw * 100, "%"))
    print(line(NAME, "srm_detection_52_48_of_20000", srm_hit * 100, "%"))
    print(line(NAME, "srm_false_alarm_fair_split", srm_false * 100, "%"))
    print(
        line(
            NAME,
            "peeking_24_looks_false_positive_rate_sequential",
            seq_fpr * 100,
            "%",
            baseline=("naive-peeking", naive_fpr * 100),
        )
    )
    print(line(NAME, "peeking_24_looks_power_sequential_10pct_lift", seq_power * 100, "%"))


if __name__ == "__main__":
    main()
