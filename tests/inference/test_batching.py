"""Dynamic batching: concurrent requests are grouped into one model call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

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


def test_it_groups_requests_that_wait_together_into_one_batch(gated_server):
    server, gate = gated_server
    before = server.metrics()
    gate.close()
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(predict, server.url)
        assert gate.entered.wait(30)  # the model is busy with the first request
        others = [pool.submit(predict, server.url, n) for n in (1, 1, 2, 1)]
        wait_until(
            lambda: sample(server.metrics(), "inference_queued_instances", **MODEL) == 5,
            message="five instances to queue up behind the first request",
        )
        gate.open()
        responses = [first.result(), *(future.result() for future in others)]
    assert [r.status_code for r in responses] == [200] * 5
    assert [len(r.json()["predictions"]) for r in responses] == [1, 1, 1, 2, 1]

    after = server.metrics()

    def batches(le: str, metrics) -> float:
        return sample(metrics, "inference_batch_size_bucket", le=le, **MODEL)

    # One batch of 1 (the first request), then one batch of 5 (everything that queued).
    assert (
        sample(after, "inference_batch_size_count", **MODEL)
        - sample(before, "inference_batch_size_count", **MODEL)
        == 2
    )
    assert batches("1", after) - batches("1", before) == 1
    assert (batches("8", after) - batches("4", after)) - (
        batches("8", before) - batches("4", before)
    ) == 1
    # Five instances were padded up to the next warmed-up bucket, six.
    padded = "inference_padded_batch_size_bucket"
    assert sample(after, padded, le="8", **MODEL) - sample(after, padded, le="4", **MODEL) >= 1


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
