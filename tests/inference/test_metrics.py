"""/metrics: Prometheus text with requests, errors, latency, batches, in-flight, load time."""

from __future__ import annotations

import numpy as np

from inference.metrics import Registry
from tests.inference.conftest import IMAGE_SIZE, MODEL_NAME, MODEL_VERSION, sample

MODEL = {"model_name": MODEL_NAME, "model_version": MODEL_VERSION}


def test_it_counts_requests_and_errors_by_endpoint_code_and_model_version(server):
    before = server.metrics()
    image = {"instances": np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3)).tolist()}
    for _ in range(2):
        assert server.post(f"/v1/models/{MODEL_NAME}:predict", json=image).status_code == 200
    assert server.post(f"/v1/models/{MODEL_NAME}:predict", data=b"{").status_code == 400
    assert server.get("/v1/models/other").status_code == 404
    after = server.metrics()

    def delta(name, **labels):
        return sample(after, name, **MODEL, **labels) - sample(before, name, **MODEL, **labels)

    assert delta("inference_requests_total", endpoint="predict", code="200") == 2
    assert delta("inference_requests_total", endpoint="predict", code="400") == 1
    assert (
        delta("inference_request_errors_total", endpoint="predict", code="400", reason="bad_json")
        == 1
    )
    assert (
        delta("inference_request_errors_total", endpoint="status", code="404", reason="not_found")
        == 1
    )
    assert delta("inference_request_duration_seconds_count", endpoint="predict") == 3
    assert delta("inference_batch_size_count") == 2


def test_it_exposes_gauges_for_in_flight_queue_readiness_and_load_time(server):
    response = server.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    metrics = server.metrics()
    # The /metrics request itself is the one in flight while the page is rendered.
    assert sample(metrics, "inference_in_flight_requests", **MODEL) == 1
    assert sample(metrics, "inference_queued_instances", **MODEL) == 0
    assert sample(metrics, "inference_model_ready", **MODEL) == 1
    assert sample(metrics, "inference_model_load_seconds", **MODEL) > 0
    assert sample(metrics, "process_resident_memory_bytes") > 0
    text = response.text
    assert "# TYPE inference_request_duration_seconds histogram" in text
    assert "# TYPE inference_requests_total counter" in text


def test_histogram_buckets_are_cumulative_and_end_in_inf():
    registry = Registry()
    histogram = registry.histogram("h_seconds", "help", ("path",), (0.1, 1))
    for value in (0.05, 0.5, 5):
        histogram.observe(value, path='a"b')
    text = registry.render()
    assert 'h_seconds_bucket{path="a\\"b",le="0.1"} 1' in text
    assert 'h_seconds_bucket{path="a\\"b",le="1"} 2' in text
    assert 'h_seconds_bucket{path="a\\"b",le="+Inf"} 3' in text
    assert 'h_seconds_count{path="a\\"b"} 3' in text
    assert 'h_seconds_sum{path="a\\"b"} 5.55' in text
