"""The statistics against known results: textbook examples worked by hand, and the same data
run through scipy/statsmodels directly (or an independent method) as the reference."""

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from experiments import stats


def test_two_proportions_match_the_textbook_z_test():
    # 200/1000 against 250/1000: pooled p = 0.225, SE = sqrt(.225 * .775 * 2/1000) = 0.018675,
    # z = 0.05 / 0.018675 = 2.6774, two-sided p = 0.00742.
    r = stats.compare_rates(x_control=200, n_control=1000, x_treatment=250, n_treatment=1000)
    assert r.abs_lift == pytest.approx(0.05)
    assert r.p_value == pytest.approx(0.00742, abs=1e-5)
    # Wald interval of the difference: 0.05 +- 1.96 * sqrt(.2*.8/1000 + .25*.75/1000).
    half = 1.959964 * math.sqrt(0.2 * 0.8 / 1000 + 0.25 * 0.75 / 1000)
    assert r.abs_ci == pytest.approx((0.05 - half, 0.05 + half), abs=1e-6)
    assert r.rel_lift == pytest.approx(0.25)
    # Log interval of the ratio 1.25: exp(log 1.25 +- 1.96 sqrt(.8/200 - ... )) (Katz).
    se = math.sqrt(1 / 250 - 1 / 1000 + 1 / 200 - 1 / 1000)
    lo, hi = 1.25 * math.exp(-1.959964 * se) - 1, 1.25 * math.exp(1.959964 * se) - 1
    assert r.rel_ci == pytest.approx((lo, hi), abs=1e-4)


def test_welch_matches_scipy_and_the_satterthwaite_interval():
    rng = np.random.default_rng(7)
    c, t = rng.normal(10, 2, 40), rng.normal(11, 3, 60)
    r = stats.compare_means(control=c, treatment=t)
    ref = sps.ttest_ind(t, c, equal_var=False)
    assert r.p_value == pytest.approx(ref.pvalue)
    vt, vc = t.var(ddof=1) / 60, c.var(ddof=1) / 40
    df = (vt + vc) ** 2 / (vt**2 / 59 + vc**2 / 39)
    half = sps.t.ppf(0.975, df) * math.sqrt(vt + vc)
    diff = t.mean() - c.mean()
    assert r.abs_ci == pytest.approx((diff - half, diff + half))


def test_the_delta_method_ratio_variance_agrees_with_a_bootstrap():
    rng = np.random.default_rng(3)
    requests = rng.poisson(200, 400).astype(float)
    latency = requests * rng.normal(0.05, 0.01, 400)
    _, var = stats.ratio_estimate(latency, requests)
    boot = []
    for _ in range(2000):
        i = rng.integers(0, 400, 400)
        boot.append(latency[i].sum() / requests[i].sum())
    assert math.sqrt(var) == pytest.approx(np.std(boot), rel=0.1)


def test_holm_matches_statsmodels_and_the_hand_worked_example():
    # p = .01, .04, .03 with m = 3: sorted .01*3 = .03, .03*2 = .06, max(.06, .04*1) = .06.
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    ps = [0.001, 0.2, 0.03, 0.04, 0.5]
    assert stats.holm(ps) == pytest.approx(list(multipletests(ps, method="holm")[1]))


def test_srm_is_flagged_for_a_52_48_split_of_20000_but_not_for_a_fair_one():
    # chi2 = (10400-10000)^2/10000 * 2 = 32, p = 1.5e-8.
    assert stats.srm_test([10400, 9600], [50, 50]) == pytest.approx(sps.chi2.sf(32, 1))
    assert stats.srm_test([10400, 9600], [50, 50]) < 0.001
    assert stats.srm_test([10040, 9960], [50, 50]) > 0.05
    # Expected shares follow the weights: 80/20 with 8000/2000 is no mismatch.
    assert stats.srm_test([8000, 2000], [80, 20]) == pytest.approx(1.0)


def test_the_msprt_ratio_is_the_closed_form_of_johari_et_al():
    est, v, tau2 = 0.02, 0.0001, 0.0004
    closed = math.sqrt(v / (v + tau2)) * math.exp(tau2 * est**2 / (2 * v * (v + tau2)))
    assert stats.msprt_lambda(estimate=est, variance=v, tau2=tau2) == pytest.approx(closed)
    looks = [(0.0, 0.001), (est, v), (0.0, 0.00005)]
    assert stats.always_valid_p(looks, tau2=tau2) == pytest.approx(1 / closed)
    lo, _hi = stats.always_valid_ci(estimate=est, variance=v, tau2=tau2)
    # The interval excludes 0 exactly when the always-valid p is below alpha.
    assert (lo > 0) == (1 / closed < 0.05)


def test_histogram_quantile_interpolates_within_the_bucket_as_promql_does():
    counts = {"0.1": 50, "0.2": 90, "0.5": 100, "+Inf": 100}
    # Rank 95 lies in (0.2, 0.5]: 0.2 + 0.3 * (95 - 90) / 10 = 0.35.
    assert stats.histogram_quantile(0.95, counts) == pytest.approx(0.35)
    assert stats.histogram_quantile(0.5, counts) == pytest.approx(0.1)
    assert stats.histogram_quantile(0.5, {"+Inf": 0}) is None


def test_a_worse_error_rate_beyond_its_margin_is_significant_and_within_it_is_not():
    far = stats.worse_beyond_rate(
        x_control=100, n_control=10000, x_treatment=300, n_treatment=10000, margin=0.005
    )
    near = stats.worse_beyond_rate(
        x_control=100, n_control=10000, x_treatment=130, n_treatment=10000, margin=0.005
    )
    assert far < 0.001
    assert near > 0.5
