"""/metrics: Prometheus text with requests, errors, latency, batches, in-flight, load time."""

from __future__ import annotations

import math
import threading

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from inference.metrics import ServerMetrics
from tests.inference.conftest import IMAGE_SIZE, MODEL_NAME, MODEL_VERSION, parse_metrics, sample

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


# The page's contract: every family, its type and help text, as the server has always written
# them; dashboards and alerts key on these.
FAMILIES = {
    "inference_requests_total": (
        "counter",
        "HTTP requests handled, by endpoint and status code.",
    ),
    "inference_request_errors_total": (
        "counter",
        "Requests answered with an error, by endpoint, status code and reason.",
    ),
    "inference_request_duration_seconds": (
        "histogram",
        "Time from request received to response ready, by endpoint.",
    ),
    "inference_in_flight_requests": ("gauge", "Requests being handled right now."),
    "inference_batch_size": (
        "histogram",
        "Instances in each batch the model ran (before padding).",
    ),
    "inference_padded_batch_size": (
        "histogram",
        "Batch size the model saw after padding to a warmed-up bucket.",
    ),
    "inference_queue_wait_seconds": (
        "histogram",
        "Time instances waited for their batch to start.",
    ),
    "inference_model_run_seconds": ("histogram", "Time the model took per batch."),
    "inference_queued_instances": ("gauge", "Instances waiting for a batch."),
    "inference_model_load_seconds": ("gauge", "Time to load the model."),
    "inference_model_warmup_seconds": ("gauge", "Time to warm up every batch bucket."),
    "inference_model_ready": ("gauge", "1 when the server is ready for traffic, else 0."),
}


def families(text: str) -> dict[str, tuple[str, str]]:
    """{exposed family name: (type, help)}, read from the # TYPE and # HELP lines."""
    found: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            _, kind, name, rest = line.split(" ", 3)
            found.setdefault(name, {})[kind] = rest
    return {name: (entry["TYPE"], entry["HELP"]) for name, entry in found.items()}


def test_the_page_keeps_every_family_type_and_help_text(server):
    text = server.get("/metrics").text
    exposed = families(text)
    for name, expected in FAMILIES.items():
        assert exposed.get(name) == expected, name
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_max_resident_memory_bytes",
        "process_start_time_seconds",
    ):
        assert name in exposed, name
    # Only what the server records: no prometheus_client _created series, no python_* or gc_*.
    assert not [name for name in exposed if name.endswith("_created")]
    assert not [name for name in exposed if not name.startswith(("inference_", "process_"))]
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("inference_"):
                assert {"model_name", "model_version"} <= set(s.labels), s


def test_histogram_buckets_are_cumulative_and_end_in_inf():
    metrics = ServerMetrics(model_name='a"b', model_version="2", max_batch_size=6)
    for value in (1, 3, 3, 9):
        metrics.batch_size.labels(model_name='a"b', model_version="2").observe(value)
    samples = parse_metrics(metrics.render().decode())
    labels = {"model_name": 'a"b', "model_version": "2"}
    buckets = {
        float(le): sample(samples, "inference_batch_size_bucket", **labels, le=le)
        for le in ("1.0", "2.0", "4.0", "6.0", "+Inf")
    }
    assert buckets == {1: 1, 2: 1, 4: 3, 6: 3, math.inf: 4}
    assert sample(samples, "inference_batch_size_count", **labels) == 4
    assert sample(samples, "inference_batch_size_sum", **labels) == 16


def test_each_server_keeps_its_own_registry():
    first = ServerMetrics(model_name="m", model_version="1", max_batch_size=4)
    second = ServerMetrics(model_name="m", model_version="1", max_batch_size=4)
    first.requests.labels(endpoint="predict", code="200", **first.model).inc()
    labels = {**first.model, "endpoint": "predict", "code": "200"}
    assert sample(parse_metrics(first.render().decode()), "inference_requests_total", **labels)
    assert not sample(parse_metrics(second.render().decode()), "inference_requests_total", **labels)
    assert "inference_requests_total" not in generate_latest(REGISTRY).decode()


def test_observations_from_many_threads_all_count():
    metrics = ServerMetrics(model_name="m", model_version="1", max_batch_size=4)

    def observe():
        for _ in range(1000):
            metrics.batch_size.labels(**metrics.model).observe(1)
            metrics.queued.labels(**metrics.model).inc()

    threads = [threading.Thread(target=observe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples = parse_metrics(metrics.render().decode())
    assert sample(samples, "inference_batch_size_count", **metrics.model) == 8000
    assert sample(samples, "inference_queued_instances", **metrics.model) == 8000


def test_process_series_fall_back_to_getrusage_without_proc(tmp_path):
    from inference.metrics import _ResourceCollector

    collector = _ResourceCollector(
        ProcessCollector(proc=str(tmp_path), registry=None), started_at=123.0
    )
    registry = CollectorRegistry()
    registry.register(collector)
    samples = parse_metrics(generate_latest(registry).decode())
    assert sample(samples, "process_cpu_seconds_total") > 0
    assert sample(samples, "process_resident_memory_bytes") > 0
    assert sample(samples, "process_max_resident_memory_bytes") > 0
    assert sample(samples, "process_start_time_seconds") == 123.0
