"""Dynamic batching: concurrent requests are grouped into one model call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from prometheus_client.utils import floatToGoString

from tests.inference.conftest import (
    IMAGE_SIZE,
    MODEL_NAME,
    Gate,
    ServerThread,
    gated_loader,
    make_settings,
    sample,
    wait_until,
)

MODEL = {"model_name": MODEL_NAME, "model_version": "7"}


@pytest.fixture
def gated_server(exported_model):
    gate = Gate()
    settings = make_settings(str(exported_model["saved_model"]), max_batch_size=8)
    running = ServerThread(settings, load=gated_loader(settings.model_uri, run_gate=gate))
    running.wait_for("ready")
    yield running, gate
    gate.open()
    running.stop()


def predict(url: str, count: int = 1):
    body = {"instances": np.zeros((count, IMAGE_SIZE, IMAGE_SIZE, 3)).tolist()}
    return requests.post(f"{url}/v1/models/{MODEL_NAME}:predict", json=body, timeout=60)


def run_queued_behind_a_busy_model(server, gate, sizes):
    """Hold the model on one request, queue requests of `sizes`, then let everything run."""
    gate.close()
    with ThreadPoolExecutor(max_workers=len(sizes) + 1) as pool:
        first = pool.submit(predict, server.url)
        assert gate.entered.wait(30)  # the model is busy with the first request
        others = [pool.submit(predict, server.url, n) for n in sizes]
        wait_until(
            lambda: sample(server.metrics(), "inference_queued_instances", **MODEL) == sum(sizes),
            message="the requests to queue up behind the first",
        )
        gate.open()
        responses = [first.result(), *(future.result() for future in others)]
    assert [r.status_code for r in responses] == [200] * (len(sizes) + 1)
    assert [len(r.json()["predictions"]) for r in responses] == [1, *sizes]


def batch_counts(before, after, name="inference_batch_size") -> dict[str, float]:
    """How many batches landed in each histogram bucket between two scrapes."""
    bounds = ("1", "2", "4", "8")
    # prometheus_client writes bucket bounds as Go floats: le="1.0".
    cumulative = {
        le: sample(after, f"{name}_bucket", le=floatToGoString(le), **MODEL)
        - sample(before, f"{name}_bucket", le=floatToGoString(le), **MODEL)
        for le in bounds
    }
    per_bucket, below = {}, 0.0
    for le in bounds:
        per_bucket[le] = cumulative[le] - below
        below = cumulative[le]
    return per_bucket


def test_it_groups_requests_that_wait_together_into_one_batch(gated_server):
    server, gate = gated_server
    before = server.metrics()
    run_queued_behind_a_busy_model(server, gate, [2, 1, 1, 2, 1, 1])
    after = server.metrics()
    # One batch of 1 (the first request), then one batch of all eight queued instances.
    assert batch_counts(before, after) == {"1": 1, "2": 0, "4": 0, "8": 1}
    assert batch_counts(before, after, "inference_padded_batch_size") == batch_counts(before, after)


def test_it_trims_a_batch_to_a_warmed_up_size_rather_than_padding(gated_server):
    server, gate = gated_server
    before = server.metrics()
    run_queued_behind_a_busy_model(server, gate, [1, 1, 1, 1, 1])
    after = server.metrics()
    # Five queued instances: a batch of four (a bucket), and the fifth runs right after.
    assert batch_counts(before, after) == {"1": 2, "2": 0, "4": 1, "8": 0}
    assert (
        sample(after, "inference_padded_batch_size_sum", **MODEL)
        - sample(before, "inference_padded_batch_size_sum", **MODEL)
        == 6
    )


def test_it_answers_503_when_the_queue_is_full(exported_model):
    gate = Gate()
    settings = make_settings(
        str(exported_model["saved_model"]), max_batch_size=2, max_queued_instances=2
    )
    server = ServerThread(settings, load=gated_loader(settings.model_uri, run_gate=gate))
    try:
        server.wait_for("ready")
        gate.close()
        with ThreadPoolExecutor(max_workers=3) as pool:
            first = pool.submit(predict, server.url)
            assert gate.entered.wait(30)
            queued = pool.submit(predict, server.url, 2)
            wait_until(
                lambda: sample(server.metrics(), "inference_queued_instances", **MODEL) == 2,
                message="the queue to fill",
            )
            refused = predict(server.url)
            assert refused.status_code == 503
            assert "MAX_QUEUED_INSTANCES" in refused.json()["error"]
            gate.open()
            assert first.result().status_code == queued.result().status_code == 200
    finally:
        gate.open()
        server.stop()
