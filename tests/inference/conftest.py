"""Fixtures for the inference server tests: one small exported model per session, in-process
servers on free ports (sharing the test process's TensorFlow), and a metrics parser."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import replace

import pytest
import requests

IMAGE_SIZE = 32
MODEL_NAME = "pets"
MODEL_VERSION = "7"


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory):
    """The reference U-Net at 32x32 (small filters), as a SavedModel dir and a .keras file."""
    from inference.export import export_keras, export_savedmodel
    from inference.reference import build_unet

    root = tmp_path_factory.mktemp("inference-model")
    with warnings.catch_warnings():
        # Keras 3 trips numpy 2's __array__ copy-keyword deprecation while building layers.
        warnings.simplefilter("ignore", DeprecationWarning)
        model = build_unet(image_size=IMAGE_SIZE, base_filters=4, seed=1)
        saved = export_savedmodel(model=model, output_dir=root / "saved")
        keras_file = export_keras(model=model, output_path=root / "pets.keras")
    return {"saved_model": saved, "keras": keras_file}


@pytest.fixture(scope="session")
def reference_predict(exported_model):
    """The exported model's own forward pass, to compare the server's answers with."""
    from inference.model import load_model

    loaded = load_model(str(exported_model["saved_model"]))
    return lambda images: loaded.default.run({"images": images})["probabilities"]


def make_settings(model_uri: str, **overrides):
    from inference.config import Settings

    base = Settings(
        model_uri=model_uri,
        model_name=MODEL_NAME,
        model_version=MODEL_VERSION,
        host="127.0.0.1",
        port=0,
        max_batch_size=4,
        batch_timeout_ms=2,
        max_body_bytes=256 * 1024,
        max_image_pixels=1_000_000,
        drain_grace_seconds=0,
        shutdown_timeout_seconds=10,
    )
    # Buckets follow the batch size unless a test sets them.
    return replace(base, **{"batch_buckets": (), **overrides})


class ServerThread:
    """An inference server on its own event loop in a background thread."""

    def __init__(self, settings, *, load: Callable | None = None) -> None:
        from inference.lifecycle import start

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(start(settings, load=load), self.loop)
        self.running = future.result(timeout=30)
        self.url = f"http://127.0.0.1:{self.running.port}"
        self.session = requests.Session()

    @property
    def server(self):
        return self.running.server

    def wait_for(self, state: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.server.worker.state != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"model never reached {state}: {self.server.worker.state}")
            time.sleep(0.01)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(self.url + path, timeout=30, **kwargs)

    def metrics(self) -> dict:
        response = self.get("/metrics")
        assert response.status_code == 200
        return parse_metrics(response.text)

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self.running.drain_and_stop(), self.loop)
        future.result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.session.close()


@pytest.fixture(scope="session")
def server(exported_model):
    """The shared server: local SavedModel, MAX_BATCH_SIZE 4, small body and image limits."""
    running = ServerThread(make_settings(str(exported_model["saved_model"])))
    running.wait_for("ready")
    yield running
    running.stop()


def parse_metrics(text: str) -> dict:
    """Prometheus text to {(name, frozenset(label items)): value}; raises on a line that does
    not parse."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(metrics: dict, name: str, **labels: str) -> float:
    """The value of one series (0 when absent)."""
    return metrics.get((name, frozenset(labels.items())), 0.0)


class Gate:
    """Holds the model thread inside a model call until released, to make queues observable."""

    def __init__(self, *, open_: bool = True) -> None:
        self.released = threading.Event()
        self.entered = threading.Event()
        if open_:
            self.released.set()

    def close(self) -> None:
        self.entered.clear()
        self.released.clear()

    def open(self) -> None:
        self.released.set()

    def wrap(self, run):
        def gated(inputs):
            self.entered.set()
            assert self.released.wait(30), "the test never released the gate"
            return run(inputs)

        return gated


def gated_loader(model_uri: str, *, run_gate: Gate, load_gate: Gate | None = None):
    """A loader that can hold loading, and holds every model call, until the test allows."""
    from inference.model import load_model

    def load():
        if load_gate is not None:
            load_gate.entered.set()
            assert load_gate.released.wait(30), "the test never released the load gate"
        model = load_model(model_uri)
        model.default.run = run_gate.wrap(model.default.run)
        return model

    return load


def wait_until(predicate, *, timeout: float = 30, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.01)
