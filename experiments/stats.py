"""The statistics of experiments, from scipy and statsmodels; nothing here reads the database.

Every comparison is treatment against control and yields the absolute lift (treatment minus
control) and the relative lift (treatment over control, minus one), each with a 95% interval,
a fixed-horizon p-value and an always-valid sequential p-value.

    rate       two-proportion z-test (statsmodels proportions_ztest, pooled); Wald interval of
               the difference, log interval of the ratio (confint_proportions_2indep)
    mean       Welch's t-test (scipy ttest_ind, equal_var=False) and its interval; the relative
               interval by the delta method
    ratio      a ratio of sums over units (latency seconds per request, over time buckets):
               the delta method of Deng, Knoblich & Lu (2018), "Applying the Delta Method in
               Metric Analytics: A Practical Guide with Novel Ideas", KDD, section 3

Sequential: the mixture sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis
& Walsh (2017), "Peeking at A/B Tests: Why It Matters, and What to Do About It", KDD, and
Johari, Pekelis & Walsh (2022), "Always Valid Inference", Operations Research 70(3): for an
estimate theta_hat ~ N(theta, V) and a N(0, tau^2) mixture over theta, the likelihood ratio
against theta = 0 is

    Lambda_n = N(theta_hat; 0, V + tau^2) / N(theta_hat; 0, V)

and p_n = min(1, min over looks k <= n of 1 / Lambda_k) is a p-value valid at any stopping
time, so looking after every bucket does not inflate false positives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportions_ztest,
    test_proportions_2indep,
)

# The mixing scale of the mSPRT in units of the metric's standard deviation: effects of about
# a tenth of a standard deviation are the ones it is tuned to find quickest (Johari et al.
# 2017 recommend tau of the order of the effects one expects).
MIXTURE_SD = 0.1


@dataclass
class Result:
    control: float
    treatment: float
    n_control: int
    n_treatment: int
    abs_lift: float
    abs_ci: tuple[float, float]
    rel_lift: float | None
    rel_ci: tuple[float, float] | None
    p_value: float
    # The estimate's variance and the per-unit variance, for the sequential test.
    variance: float
    unit_variance: float

    def as_dict(self) -> dict:
        return asdict(self)


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else float("nan")


def compare_rates(
    *, x_control: int, n_control: int, x_treatment: int, n_treatment: int, alpha: float = 0.05
) -> Result:
    """Conversions (or errors) out of trials, per arm."""
    pc, pt = x_control / n_control, x_treatment / n_treatment
    _, p = proportions_ztest([x_treatment, x_control], [n_treatment, n_control])
    lo, hi = confint_proportions_2indep(
        x_treatment, n_treatment, x_control, n_control, method="wald", compare="diff", alpha=alpha
    )
    rel = rel_ci = None
    if x_control > 0 and x_treatment > 0:
        rlo, rhi = confint_proportions_2indep(
            x_treatment,
            n_treatment,
            x_control,
            n_control,
            method="log",
            compare="ratio",
            alpha=alpha,
        )
        rel, rel_ci = pt / pc - 1, (float(rlo) - 1, float(rhi) - 1)
    variance = pt * (1 - pt) / n_treatment + pc * (1 - pc) / n_control
    pooled = (x_control + x_treatment) / (n_control + n_treatment)
    return Result(
        control=pc,
        treatment=pt,
        n_control=n_control,
        n_treatment=n_treatment,
        abs_lift=pt - pc,
        abs_ci=(float(lo), float(hi)),
        rel_lift=rel,
        rel_ci=rel_ci,
        p_value=_finite(p) if x_control + x_treatment > 0 else 1.0,
        variance=variance,
        unit_variance=pooled * (1 - pooled),
    )


def _relative_delta(mt, vt, mc, vc, alpha) -> tuple[float | None, tuple[float, float] | None]:
    """mt/mc - 1 with its delta-method interval; vt and vc are the variances of the means."""
    if mc == 0:
        return None, None
    rel = mt / mc - 1
    se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
    z = _z(alpha)
    return rel, (rel - z * se, rel + z * se)


def compare_means(
    *, control: Sequence[float], treatment: Sequence[float], alpha: float = 0.05
) -> Result:
    """Per-unit values (scores, per-bucket latency quantiles), per arm."""
    c, t = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    test = stats.ttest_ind(t, c, equal_var=False)
    ci = test.confidence_interval(confidence_level=1 - alpha)
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    rel, rel_ci = _relative_delta(t.mean(), vt, c.mean(), vc, alpha)
    pooled = np.concatenate([c, t]).var(ddof=1)
    return Result(
        control=float(c.mean()),
        treatment=float(t.mean()),
        n_control=len(c),
        n_treatment=len(t),
        abs_lift=float(t.mean() - c.mean()),
        abs_ci=(_finite(ci.low), _finite(ci.high)),
        rel_lift=rel,
        rel_ci=rel_ci,
        p_value=_finite(test.pvalue) if vt + vc > 0 else (1.0 if t.mean() == c.mean() else 0.0),
        variance=float(vt + vc),
        unit_variance=float(pooled),
    )


def ratio_estimate(numerator: Sequence[float], denominator: Sequence[float]) -> tuple[float, float]:
    """(sum(Y)/sum(X), its delta-method variance) over units (Deng et al. 2018, eq. 3)."""
    y, x = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    n = len(x)
    ratio = y.sum() / x.sum()
    if n < 2:
        return float(ratio), float("inf")
    cov = np.cov(y, x, ddof=1)
    var = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * x.mean() ** 2)
    return float(ratio), float(max(var, 0.0))


def compare_ratios(
    *,
    control: tuple[Sequence[float], Sequence[float]],
    treatment: tuple[Sequence[float], Sequence[float]],
    alpha: float = 0.05,
) -> Result:
    """(numerators, denominators) per arm, one pair per unit."""
    rc, vc = ratio_estimate(*control)
    rt, vt = ratio_estimate(*treatment)
    diff, var = rt - rc, vt + vc
    se = math.sqrt(var)
    z = _z(alpha)
    p = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else (1.0 if diff == 0 else 0.0)
    rel, rel_ci = _relative_delta(rt, vt, rc, vc, alpha)
    return Result(
        control=rc,
        treatment=rt,
        n_control=len(control[0]),
        n_treatment=len(treatment[0]),
        abs_lift=diff,
        abs_ci=(diff - z * se, diff + z * se),
        rel_lift=rel,
        rel_ci=rel_ci,
        p_value=p,
        variance=var,
        unit_variance=var * min(len(control[0]), len(treatment[0])) / 2,
    )


def msprt_lambda(*, estimate: float, variance: float, tau2: float) -> float:
    """The mixture likelihood ratio of Johari et al.: N(est; 0, V + tau^2) / N(est; 0, V)."""
    if variance <= 0 or not math.isfinite(variance) or tau2 <= 0:
        return 1.0
    log_ratio = stats.norm.logpdf(estimate, scale=math.sqrt(variance + tau2)) - stats.norm.logpdf(
        estimate, scale=math.sqrt(variance)
    )
    return float(math.exp(min(log_ratio, 700.0)))


def mixture_tau2(unit_variance: float) -> float:
    return (MIXTURE_SD**2) * unit_variance


def always_valid_p(looks: Sequence[tuple[float, float]], *, tau2: float) -> float:
    """min(1, min_k 1/Lambda_k) over the looks so far, each (estimate, variance)."""
    p = 1.0
    for estimate, variance in looks:
        p = min(p, 1.0 / msprt_lambda(estimate=estimate, variance=variance, tau2=tau2))
    return p


def always_valid_ci(
    *, estimate: float, variance: float, tau2: float, alpha: float = 0.05
) -> tuple[float, float]:
    """The confidence sequence that inverts the mSPRT at this look (Johari et al. 2022,
    Proposition 4): estimate +- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) +
    log((V + tau^2) / V)))."""
    if variance <= 0 or tau2 <= 0:
        return (estimate, estimate)
    half = math.sqrt(
        variance
        * (variance + tau2)
        / tau2
        * (2 * math.log(1 / alpha) + math.log((variance + tau2) / variance))
    )
    return (estimate - half, estimate + half)


def srm_test(observed: Sequence[float], expected_share: Sequence[float]) -> float:
    """Pearson's chi-squared p-value of observed counts against the expected shares."""
    obs = np.asarray(observed, dtype=float)
    share = np.asarray(expected_share, dtype=float)
    keep = share > 0
    if keep.sum() < 2 or obs[keep].sum() == 0:
        return 1.0
    expected = share[keep] / share[keep].sum() * obs[keep].sum()
    return float(stats.chisquare(obs[keep], expected).pvalue)


def holm(p_values: Sequence[float], *, alpha: float = 0.05) -> list[float]:
    """Holm-Bonferroni adjusted p-values (statsmodels multipletests)."""
    if not p_values:
        return []
    return [float(p) for p in multipletests(list(p_values), alpha=alpha, method="holm")[1]]


def worse_beyond_rate(*, x_control, n_control, x_treatment, n_treatment, margin: float) -> float:
    """One-sided p-value that treatment's rate exceeds control's by more than `margin`."""
    result = test_proportions_2indep(
        x_treatment,
        n_treatment,
        x_control,
        n_control,
        value=margin,
        method="wald",
        compare="diff",
        alternative="larger",
    )
    return _finite(result.pvalue)


def worse_beyond_means(*, control, treatment, margin: float) -> float:
    """One-sided Welch p-value that treatment's mean exceeds control's by more than margin."""
    t = np.asarray(treatment, dtype=float) - margin
    c = np.asarray(control, dtype=float)
    if t.var(ddof=1) + c.var(ddof=1) == 0:
        return 0.0 if t.mean() > c.mean() else 1.0
    return _finite(stats.ttest_ind(t, c, equal_var=False, alternative="greater").pvalue)


def worse_beyond_ratio(*, control, treatment, margin: float) -> float:
    rc, vc = ratio_estimate(*control)
    rt, vt = ratio_estimate(*treatment)
    se = math.sqrt(vt + vc)
    if se == 0:
        return 0.0 if rt - rc > margin else 1.0
    return float(stats.norm.sf((rt - rc - margin) / se))


def histogram_quantile(q: float, cumulative: dict[str, float]) -> float | None:
    """The q-quantile of a Prometheus histogram (cumulative counts by upper bound), by linear
    interpolation within the bucket as PromQL's histogram_quantile does."""
    bounds = sorted(((float(le), c) for le, c in cumulative.items()), key=lambda b: b[0])
    if not bounds or bounds[-1][1] <= 0:
        return None
    total = bounds[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in bounds:
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return bounds[-1][0]
