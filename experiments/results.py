"""One experiment's results as the API, the page and the CSV export show them."""

from __future__ import annotations

import math

from django.conf import settings
from django.utils import timezone

from . import stats
from .analysis import LABELS, QUANTILES, Arm, available_metrics, compare, load_arms, look_times, srm
from .models import Experiment
from .validation import METRICS


def _fmt_pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _fmt_abs(metric: str, x: float) -> str:
    if metric in ("conversion", "error_rate"):
        return f"{x * 100:.2f} percentage points"
    if metric.startswith("latency"):
        return f"{x * 1000:.1f} ms"
    return f"{x:.4g}"


def _fmt_value(metric: str, x: float) -> str:
    if metric in ("conversion", "error_rate"):
        return f"{x * 100:.2f}%"
    if metric.startswith("latency"):
        return f"{x * 1000:.1f} ms"
    return f"{x:.4g}"


def _sentence(row: dict) -> str:
    t, label = row["treatment"], row["label"]
    if not row["enough_data"]:
        return f"{t} against {row['control']} on {label}: not enough data yet ({row['gate']})."
    rel, ci = row["rel_lift"], row["rel_ci"]
    verdict = "significant" if row["significant"] else "not significant"
    verdict += f" (p = {row['p_adjusted']:.2g} after correction"
    verdict += f"; always-valid p = {row['sequential_p']:.2g})"
    if rel is None:
        lift = row["abs_lift"]
        direction = "raises" if lift >= 0 else "lowers"
        lo, hi = row["abs_ci"]
        return (
            f"{t} {direction} {label} by {_fmt_abs(row['metric'], abs(lift))}, 95% CI "
            f"{_fmt_abs(row['metric'], lo)} to {_fmt_abs(row['metric'], hi)}; {verdict}."
        )
    direction = "raises" if rel >= 0 else "lowers"
    return (
        f"{t} {direction} {label} by {_fmt_pct(abs(rel))}, 95% CI {_fmt_pct(ci[0])} to "
        f"{_fmt_pct(ci[1])}; {verdict}."
    )


def _gate(metric: str, units: tuple[int, int], result, experiment, running: float) -> str:
    needed = experiment.min_samples
    problems = []
    if min(units) < needed:
        unit = "outcomes" if METRICS[metric][1] == "feedback" else "requests"
        problems.append(f"{units[1]} and {units[0]} {unit} of {needed} needed per variant")
    if running < experiment.min_duration:
        problems.append(f"{int(experiment.min_duration - running)} s of the minimum duration to go")
    if result is None and not problems:
        problems.append("too few time buckets to estimate a spread")
    return "; ".join(problems)


def _sequential(metric, control: Arm, treatment: Arm, final, alpha) -> tuple[float, list]:
    """(always-valid p, [(look time, result)]) over the looks so far."""
    looks = []
    for at in look_times(metric, [control, treatment]):
        result, _ = compare(metric, control, treatment, until=at, alpha=alpha)
        if result is not None and math.isfinite(result.variance):
            looks.append((at, result))
    tau2 = stats.mixture_tau2(final.unit_variance)
    p = stats.always_valid_p([(r.abs_lift, r.variance) for _, r in looks], tau2=tau2)
    return p, looks


def guardrails_evaluate(experiment: Experiment, arms: dict[str, Arm]) -> list[dict]:
    """Each guardrail for each treatment: measured values, threshold, one-sided p-value."""
    alpha = settings.EXPERIMENTS_ALPHA
    variants = list(experiment.variants.all())
    control = next(v for v in variants if v.control)
    out = []
    for guard in experiment.guardrails:
        metric, margin = guard["metric"], float(guard["max_increase"])
        for variant in variants:
            if variant.control:
                continue
            c, t = arms[control.name], arms[variant.name]
            result, units = compare(metric, c, t, alpha=alpha)
            row = {
                "metric": metric,
                "label": LABELS[metric],
                "treatment": variant.name,
                "control": control.name,
                "max_increase": margin,
                "action": guard["action"],
                "control_value": None,
                "treatment_value": None,
                "increase": None,
                "p_value": None,
                "enough_data": False,
                "breached": False,
            }
            enough = result is not None and min(units) >= min(experiment.min_samples, 100)
            if result is not None:
                row.update(
                    control_value=result.control,
                    treatment_value=result.treatment,
                    increase=result.abs_lift,
                )
            if enough:
                cb, tb = c.buckets, t.buckets
                if metric == "error_rate":
                    p = stats.worse_beyond_rate(
                        x_control=round(sum(b.errors for b in cb)),
                        n_control=units[0],
                        x_treatment=round(sum(b.errors for b in tb)),
                        n_treatment=units[1],
                        margin=margin,
                    )
                elif metric == "latency_mean":
                    p = stats.worse_beyond_ratio(
                        control=([b.latency_sum for b in cb], [b.requests for b in cb]),
                        treatment=([b.latency_sum for b in tb], [b.requests for b in tb]),
                        margin=margin,
                    )
                else:
                    q = QUANTILES[metric]
                    p = stats.worse_beyond_means(
                        control=[stats.histogram_quantile(q, b.latency_counts) for b in cb],
                        treatment=[stats.histogram_quantile(q, b.latency_counts) for b in tb],
                        margin=margin,
                    )
                row.update(p_value=p, enough_data=True, breached=p < alpha)
            row["sentence"] = _guard_sentence(row, alpha)
            out.append(row)
    return out


def _guard_sentence(row: dict, alpha: float) -> str:
    metric = row["metric"]
    label = row["label"].removeprefix("the ")
    limit = _fmt_abs(metric, row["max_increase"])
    if not row["enough_data"]:
        return f"{row['treatment']}: {label} guardrail (+{limit} allowed): not enough data yet."
    measured = (
        f"{_fmt_value(metric, row['treatment_value'])} against "
        f"{_fmt_value(metric, row['control_value'])} for {row['control']}"
    )
    if row["breached"]:
        return (
            f"{row['treatment']} breaches the {label} guardrail: {measured}, worse by more "
            f"than the {limit} allowed (one-sided p = {row['p_value']:.2g} < {alpha}); "
            f"action: {row['action']}."
        )
    return (
        f"{row['treatment']} keeps within the {label} guardrail: {measured} "
        f"(+{limit} allowed; p = {row['p_value']:.2g})."
    )


def experiment_results(experiment: Experiment, *, now=None) -> dict:
    now = now or timezone.now()
    alpha = settings.EXPERIMENTS_ALPHA
    arms = load_arms(experiment)
    timeline = list(experiment.timeline.all())
    variants = list(experiment.variants.all())
    control = next(v for v in variants if v.control)
    treatments = [v for v in variants if not v.control]
    running = (
        ((experiment.ended or now) - experiment.started).total_seconds()
        if (experiment.started)
        else 0.0
    )
    rows, lift_series = [], {}
    for metric in available_metrics(experiment, arms):
        for variant in treatments:
            c, t = arms[control.name], arms[variant.name]
            result, units = compare(metric, c, t, alpha=alpha)
            gate = _gate(metric, units, result, experiment, running)
            row = {
                "metric": metric,
                "label": LABELS[metric],
                "primary": metric == experiment.primary_metric,
                "treatment": variant.name,
                "control": control.name,
                "n_control": units[0],
                "n_treatment": units[1],
                "enough_data": not gate,
                "gate": gate,
                "control_value": None,
                "treatment_value": None,
                "abs_lift": None,
                "abs_ci": None,
                "rel_lift": None,
                "rel_ci": None,
                "p_value": None,
                "p_adjusted": None,
                "sequential_p": None,
                "significant": False,
                "sequential_significant": False,
            }
            if result is not None:
                seq_p, looks = _sequential(metric, c, t, result, alpha)
                row.update(
                    control_value=result.control,
                    treatment_value=result.treatment,
                    abs_lift=result.abs_lift,
                    abs_ci=list(result.abs_ci),
                    rel_lift=result.rel_lift,
                    rel_ci=list(result.rel_ci) if result.rel_ci else None,
                    p_value=result.p_value,
                    sequential_p=seq_p,
                )
                if metric == experiment.primary_metric:
                    lift_series[variant.name] = [
                        {"at": at, "rel_lift": r.rel_lift, "rel_ci": r.rel_ci} for at, r in looks
                    ]
            rows.append(row)
    tested = [r for r in rows if r["enough_data"] and r["p_value"] is not None]
    for row, adjusted in zip(
        tested, stats.holm([r["p_value"] for r in tested], alpha=alpha), strict=True
    ):
        row["p_adjusted"] = adjusted
        row["significant"] = adjusted < alpha
        row["sequential_significant"] = row["sequential_p"] < alpha
    for row in rows:
        row["sentence"] = _sentence(row)
    metrics_tested = sorted({r["metric"] for r in tested})
    correction = {
        "method": "holm",
        "comparisons": len(tested),
        "statement": (
            f"Holm's correction covers the {len(tested)} comparisons with enough data: "
            f"{len(metrics_tested)} metric(s) ({', '.join(metrics_tested) or 'none'}) x "
            f"{len(treatments)} treatment(s) against {control.name}; 'significant' means its "
            f"adjusted p-value is below {alpha}. Guardrails are tested on their own, one-sided."
            if tested
            else "No comparison has enough data yet, so none is corrected or called."
        ),
    }
    return {
        "experiment": experiment.name,
        "state": experiment.state,
        "primary_metric": experiment.primary_metric,
        "alpha": alpha,
        "generated": now,
        "running_seconds": running,
        "comparisons": rows,
        "correction": correction,
        "srm": srm(experiment, arms, timeline),
        "guardrails": guardrails_evaluate(experiment, arms),
        "lift_series": lift_series,
        "variant_series": {
            name: [
                {
                    "start": b.start,
                    "requests": b.requests,
                    "error_rate": b.errors / b.requests,
                    "latency_p95": stats.histogram_quantile(0.95, b.latency_counts),
                }
                for b in arm.buckets
            ]
            for name, arm in arms.items()
        },
    }
