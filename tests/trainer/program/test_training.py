"""A two-epoch run on the CPU: its progress lines, its metrics.json, and its export served by
the real inference server."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.trainer.program.conftest import IMAGE_SIZE

METRICS = ("loss", "pixel_accuracy", "mean_iou", "val_loss", "val_pixel_accuracy", "val_mean_iou")


def test_it_trains_two_epochs_and_reports_start_each_epoch_and_end(trained):
    events = trained["finished"].events
    assert [e["event"] for e in events] == ["start", "epoch", "epoch", "end"]
    start, first, second, end = events
    assert start["start_epoch"] == 1
    assert start["resumed"] is False
    assert (start["train_images"], start["val_images"]) == (10, 2)
    assert start["device"] == "cpu"
    assert [first["epoch"], second["epoch"]] == [1, 2]
    for epoch in (first, second):
        assert epoch["epochs"] == 2
        for name in (*METRICS, "images_per_second", "elapsed_seconds"):
            assert isinstance(epoch[name], float), name
        assert 0 <= epoch["val_mean_iou"] <= 1
        assert epoch["checkpoint"].endswith(f"ckpt-{epoch['epoch']}")
    assert end["status"] == "succeeded"
    assert end["exit_code"] == 0
    assert end["export"] == str(trained["output"] / "model")
    assert end["val_mean_iou"] == second["val_mean_iou"]


def test_its_stdout_carries_nothing_but_progress_lines(trained):
    lines = trained["finished"].stdout.splitlines()
    assert lines
    assert all(line.startswith("TRAINING_PROGRESS {") for line in lines)
    assert "epoch 2/2" in trained["finished"].stderr  # the human-readable log


def test_metrics_json_has_final_and_per_epoch_metrics_data_parameters_and_duration(trained):
    metrics = json.loads((trained["output"] / "metrics.json").read_text())
    assert metrics["status"] == "succeeded"
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert set(METRICS) <= set(metrics["final"])
    assert metrics["final"]["val_mean_iou"] == metrics["epochs"][-1]["val_mean_iou"]
    assert metrics["data"]["images"] == 12
    assert metrics["data"]["classes"] == ["pet", "background", "border"]
    parameters = metrics["parameters"]
    assert parameters["image_size"] == IMAGE_SIZE
    assert parameters["depth"] == 2
    assert parameters["base_filters"] == 4
    assert parameters["trainable_parameters"] > 0
    assert metrics["duration_seconds"] > 0
    assert metrics["resumed_from_epoch"] is None


def test_the_export_follows_the_serving_contract_of_the_inference_server(trained):
    from inference import export as serving_contract
    from trainer.program import export

    # Shared by convention, not by import: these must not drift apart.
    assert export.INPUT_NAME == serving_contract.INPUT_NAME
    assert export.OUTPUT_NAME == serving_contract.OUTPUT_NAME
    assert export.SIGNATURE_NAME == serving_contract.SIGNATURE_NAME
    loaded = tf.saved_model.load(str(trained["output"] / "model"))
    function = loaded.signatures["serving_default"]
    _, inputs = function.structured_input_signature
    assert list(inputs) == ["images"]
    assert inputs["images"].dtype == tf.float32
    assert inputs["images"].shape.as_list() == [None, IMAGE_SIZE, IMAGE_SIZE, 3]
    outputs = function(images=tf.zeros([2, IMAGE_SIZE, IMAGE_SIZE, 3]))
    assert list(outputs) == ["probabilities"]
    assert outputs["probabilities"].dtype == tf.float32
    assert outputs["probabilities"].shape == (2, IMAGE_SIZE, IMAGE_SIZE, 3)


@pytest.fixture
def serving(trained):
    from tests.inference.conftest import ServerThread, make_settings

    server = ServerThread(make_settings(str(trained["output"] / "model")))
    try:
        server.wait_for("ready")
        yield server
    finally:
        server.stop()


def test_the_inference_server_loads_the_export_and_serves_predictions(
    serving, trained, synthetic_data
):
    from tests.inference.conftest import MODEL_NAME

    image_path = sorted((synthetic_data / "images").iterdir())[0]
    image = Image.open(image_path).convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE))
    pixels = np.asarray(image, dtype=np.float32)[np.newaxis]

    response = serving.post(f"/v1/models/{MODEL_NAME}:predict", json={"instances": pixels.tolist()})
    assert response.status_code == 200, response.text
    served = np.asarray(response.json()["predictions"], dtype=np.float32)
    assert served.shape == (1, IMAGE_SIZE, IMAGE_SIZE, 3)
    direct = tf.saved_model.load(str(trained["output"] / "model")).signatures["serving_default"]
    expected = direct(images=tf.constant(pixels))["probabilities"].numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)

    segmented = serving.post("/v1/segment", data=image_path.read_bytes())
    assert segmented.status_code == 200, segmented.text
    mask = np.asarray(Image.open(io.BytesIO(segmented.content)))
    assert mask.shape == (40, 48)  # the original image's size
    assert set(np.unique(mask)) <= {0, 1, 2}
