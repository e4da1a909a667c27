"""Readiness through loading and warm-up, failed loads, and draining before a stop."""

from __future__ import annotations

import asyncio

import numpy as np

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
ONE_IMAGE = {"instances": np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3)).tolist()}


def test_it_is_alive_but_not_ready_until_loaded_and_warmed_up(exported_model):
    load_gate, run_gate = Gate(open_=False), Gate(open_=False)
    settings = make_settings(str(exported_model["saved_model"]))
    loader = gated_loader(settings.model_uri, run_gate=run_gate, load_gate=load_gate)
    server = ServerThread(settings, load=loader)
    try:
        assert load_gate.entered.wait(30)
        assert server.get("/healthz").status_code == 200
        readyz = server.get("/readyz")
        assert (readyz.status_code, readyz.json()) == (503, {"status": "loading"})
        status = server.get(f"/v1/models/{MODEL_NAME}").json()
        assert status["model_version_status"][0]["state"] == "LOADING"
        early = server.post(f"/v1/models/{MODEL_NAME}:predict", json=ONE_IMAGE)
        assert early.status_code == 503
        assert early.json() == {"error": "model is not ready: loading"}

        load_gate.open()
        assert run_gate.entered.wait(30)  # warm-up is running the model
        readyz = server.get("/readyz")
        assert (readyz.status_code, readyz.json()) == (503, {"status": "warming"})

        run_gate.open()
        wait_until(lambda: server.get("/readyz").status_code == 200, message="readiness")
        metrics = server.metrics()
        assert sample(metrics, "inference_model_ready", **MODEL) == 1
        assert ("inference_model_load_seconds", frozenset(MODEL.items())) in metrics
        assert ("inference_model_warmup_seconds", frozenset(MODEL.items())) in metrics
        assert sample(metrics, "inference_padded_batch_size_count", **MODEL) == 0
        served = server.post(f"/v1/models/{MODEL_NAME}:predict", json=ONE_IMAGE)
        assert served.status_code == 200
    finally:
        load_gate.open()
        run_gate.open()
        server.stop()


def test_a_model_that_fails_to_load_is_reported_and_never_ready(tmp_path):
    server = ServerThread(make_settings(str(tmp_path / "missing")))
    try:
        server.wait_for("failed")
        readyz = server.get("/readyz")
        assert readyz.status_code == 503
        assert "does not exist" in readyz.json()["reason"]
        assert server.get("/healthz").status_code == 500
        status = server.get(f"/v1/models/{MODEL_NAME}").json()["model_version_status"][0]
        assert status["state"] == "END"
        assert status["status"]["error_code"] == "UNKNOWN"
        assert "does not exist" in status["status"]["error_message"]
    finally:
        server.stop()


def test_draining_turns_readiness_off_at_once_and_keeps_serving_through_the_grace(
    exported_model,
):
    settings = make_settings(str(exported_model["saved_model"]), drain_grace_seconds=120)
    server = ServerThread(settings)
    server.wait_for("ready")
    drained = asyncio.run_coroutine_threadsafe(server.running.drain_and_stop(), server.loop)
    try:
        wait_until(lambda: server.server.draining, message="draining to start")
        readyz = server.get("/readyz")
        assert (readyz.status_code, readyz.json()) == (503, {"status": "draining"})
        assert server.get("/healthz").status_code == 200
        served = server.post(f"/v1/models/{MODEL_NAME}:predict", json=ONE_IMAGE)
        assert served.status_code == 200
        assert not drained.done()
    finally:
        server.loop.call_soon_threadsafe(server.running.end_grace)
        drained.result(timeout=60)
        server.loop.call_soon_threadsafe(server.loop.stop)
        server.thread.join(timeout=10)
    assert server.server.worker.state == "stopped"
