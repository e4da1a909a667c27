"""A scripted errorRatio shows on the serving pods' /metrics as code-500 requests."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox.scripting import ScriptError, parse_load
from sandbox.testing import running_cluster, until

from .test_ctl_usage_model import _ready_endpoints, _serving_pods


def by_code(text: str) -> dict[str, float]:
    return {
        s.labels["code"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "inference_requests_total"
    }


def test_an_error_ratio_answers_that_share_of_requests_with_code_500():
    async def scenario():
        async with running_cluster(nodes=1) as cluster:
            _serving_pods(cluster.api, 1)
            await until(lambda: _ready_endpoints(cluster.api) == 1, "a ready endpoint")
            cluster.script.loads[("ml", "web")] = parse_load(
                {"requestsPerSecond": 1000, "errorRatio": 0.25}
            )
            pod = cluster.api.get("pods", "ml", "web-0")
            cluster.metrics.prometheus_text(pod)
            await asyncio.sleep(0.5)
            return cluster.metrics.prometheus_text(pod)

    codes = by_code(asyncio.run(scenario()))
    total = codes["200"] + codes["500"]
    assert total > 100
    assert codes["500"] / total == pytest.approx(0.25, abs=0.02)


def test_an_error_ratio_above_one_is_refused_naming_it():
    with pytest.raises(ScriptError) as refused:
        parse_load({"requestsPerSecond": 10, "errorRatio": 1.5})
    assert refused.value.field == "errorRatio"
