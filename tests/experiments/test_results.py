"""Results from outcomes and buckets as stored: the sentences, the minimum-data gate, the
sample-ratio check, Holm across metrics and treatments, and the results API."""

from datetime import timedelta

import pytest
from statsmodels.stats.proportion import proportions_ztest

from experiments.models import MetricBucket
from experiments.results import experiment_results

from .conftest import add_conversions

pytestmark = [pytest.mark.django_db]
URL = "/api/v1/clusters/offline/namespaces/team/experiments/"


def test_the_primary_metric_reads_as_one_sentence_with_its_interval_and_verdict(make_experiment):
    experiment = make_experiment()
    add_conversions(experiment, "a", 200, 2000)
    add_conversions(experiment, "b", 300, 2000, seed=1)
    results = experiment_results(experiment)
    (row,) = results["comparisons"]
    assert row["metric"] == "conversion"
    assert row["enough_data"] is True
    assert row["rel_lift"] == pytest.approx(0.5)
    _, p = proportions_ztest([300, 200], [2000, 2000])
    assert row["p_value"] == pytest.approx(p)
    lo, hi = row["rel_ci"]
    assert row["sentence"] == (
        f"b raises conversion by 50.0%, 95% CI {lo * 100:.1f}% to {hi * 100:.1f}%; significant "
        f"(p = {row['p_adjusted']:.2g} after correction; always-valid p = "
        f"{row['sequential_p']:.2g})."
    )
    assert row["sequential_p"] < 0.05
    assert results["srm"]["flagged"] is False
    assert "1 comparisons" in results["correction"]["statement"]
    assert results["lift_series"]["b"][-1]["rel_lift"] == pytest.approx(0.5)


def test_too_few_outcomes_say_not_enough_data_yet_instead_of_a_verdict(make_experiment):
    experiment = make_experiment(min_samples=500)
    add_conversions(experiment, "a", 10, 100)
    add_conversions(experiment, "b", 30, 100)
    (row,) = experiment_results(experiment)["comparisons"]
    assert row["enough_data"] is False
    assert row["significant"] is False
    assert row["sentence"] == (
        "b against a on conversion: not enough data yet (100 and 100 outcomes of 500 needed "
        "per variant)."
    )


def test_an_injected_sample_ratio_mismatch_is_flagged(make_experiment):
    experiment = make_experiment()
    add_conversions(experiment, "a", 300, 3150)
    add_conversions(experiment, "b", 300, 2850)
    srm = experiment_results(experiment)["srm"]
    assert srm["flagged"] is True
    assert srm["observed"] == {"a": 3150, "b": 2850}
    assert srm["p_value"] < 0.001
    assert srm["sentence"].startswith("Sample ratio mismatch")


def test_buckets_give_error_rate_and_latency_rows_corrected_together(make_experiment):
    experiment = make_experiment(primary_metric="error_rate")
    start = experiment.started
    for i in range(10):
        for variant, errors, mean in (("a", 10, 0.05), ("b", 40, 0.08)):
            counts = {"0.05": 600.0 if variant == "a" else 300.0, "0.1": 950.0, "+Inf": 1000.0}
            MetricBucket.objects.create(
                experiment=experiment,
                variant=variant,
                start=start + timedelta(minutes=i),
                requests=1000 + i,
                errors=errors,
                latency_sum=mean * (1000 + i) * (1 + 0.01 * i),
                latency_counts=counts,
            )
    results = experiment_results(experiment)
    metrics = [r["metric"] for r in results["comparisons"]]
    assert metrics == ["error_rate", "latency_mean", "latency_p95", "latency_p99"]
    first = results["comparisons"][0]
    assert first["sentence"].startswith("b raises the error rate by")
    assert results["correction"]["comparisons"] == 4
    assert "4 comparisons" in results["correction"]["statement"]
    latency = results["comparisons"][1]
    assert latency["treatment_value"] > latency["control_value"]


def test_the_results_api_answers_viewers(
    make_experiment, offline_cluster, make_user, api_client_for
):
    make_experiment()
    viewer = api_client_for(make_user("po", role="viewer", cluster=offline_cluster))
    response = viewer.get(f"{URL}ab/results/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["comparisons"][0]["gate"].startswith("0 and 0 outcomes")
    assert data["srm"]["flagged"] is False
