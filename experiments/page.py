"""What the results page shows, prepared from the results: rows, charts, timeline."""

from __future__ import annotations

from . import charts
from .models import Experiment
from .routing import route_kind
from .services.apply import effective_weights


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _hhmm(at) -> str:
    return at.strftime("%H:%M:%S") if at else ""


def results_context(experiment: Experiment, results: dict) -> dict:
    variants = list(experiment.variants.all())
    control = next(v for v in variants if v.control)
    lift_charts = []
    for treatment, looks in results["lift_series"].items():
        if len(looks) < 2:
            continue
        est = [p["rel_lift"] for p in looks]
        lo = [p["rel_ci"][0] if p["rel_ci"] else None for p in looks]
        hi = [p["rel_ci"][1] if p["rel_ci"] else None for p in looks]
        title = (
            f"Cumulative relative lift of {treatment} over {control.name} in "
            f"{experiment.primary_metric}, with its 95% interval"
        )
        svg = charts.band(
            title, est, lo, hi, _pct, xlabels=(_hhmm(looks[0]["at"]), _hhmm(looks[-1]["at"]))
        )
        lift_charts.append({"treatment": treatment, "title": title, "svg": svg})
    series = results["variant_series"]
    variant_charts = []
    if any(len(points) >= 2 for points in series.values()):
        longest = max(series.values(), key=len)
        xlabels = (_hhmm(longest[0]["start"]), _hhmm(longest[-1]["start"]))
        for key, title, fmt in (
            ("requests", "Requests per bucket, per variant", lambda v: f"{v:.0f}"),
            ("error_rate", "Error rate per bucket, per variant", _pct),
            ("latency_p95", "p95 latency per bucket, per variant", lambda v: f"{v * 1000:.0f} ms"),
        ):
            svg = charts.lines(
                title,
                {name: [p[key] for p in points] for name, points in series.items()},
                fmt,
                xlabels=xlabels,
            )
            variant_charts.append({"title": title, "svg": svg})
    primary = [r for r in results["comparisons"] if r["primary"]]
    secondary = [r for r in results["comparisons"] if not r["primary"]]
    return {
        "experiment": experiment,
        "namespace": experiment.namespace,
        "variants": variants,
        "control": control,
        "traffic": effective_weights(experiment),
        "routing_object": f"{route_kind(experiment.routing)}/{experiment.name}",
        "results": results,
        "primary_rows": primary,
        "secondary_rows": secondary,
        "lift_charts": lift_charts,
        "variant_charts": variant_charts,
        "timeline": list(experiment.timeline.all()),
        "guardrail_status": experiment.guardrail_status,
    }
