"""Loading both export formats from a local path and through tf.io.gfile URIs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.inference.conftest import IMAGE_SIZE, MODEL_NAME, ServerThread, make_settings


def copy_tree_to(source, target_uri: str) -> None:
    import tensorflow as tf

    for directory, _subdirs, files in tf.io.gfile.walk(str(source)):
        relative = directory[len(str(source)) :].lstrip("/")
        destination = f"{target_uri}/{relative}".rstrip("/")
        tf.io.gfile.makedirs(destination)
        for name in files:
            tf.io.gfile.copy(f"{directory}/{name}", f"{destination}/{name}", overwrite=True)


def served_predictions(model_uri: str, batch: np.ndarray) -> tuple[np.ndarray, dict]:
    server = ServerThread(make_settings(model_uri))
    try:
        server.wait_for("ready")
        response = server.post(
            f"/v1/models/{MODEL_NAME}:predict", json={"instances": batch.tolist()}
        )
        assert response.status_code == 200, response.text
        metadata = server.get(f"/v1/models/{MODEL_NAME}/metadata").json()
        return np.asarray(response.json()["predictions"], dtype=np.float32), metadata
    finally:
        server.stop()


@pytest.fixture
def batch():
    return (
        np.random.default_rng(9).integers(0, 256, (2, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    )


def test_it_serves_a_saved_model_read_through_a_gfile_uri(exported_model, reference_predict, batch):
    copy_tree_to(exported_model["saved_model"], "ram://inference-tests/pets/7")
    predictions, metadata = served_predictions("ram://inference-tests/pets/7", batch)
    np.testing.assert_allclose(predictions, reference_predict(batch), rtol=1e-4, atol=1e-5)
    assert "serving_default" in metadata["metadata"]["signature_def"]["signature_def"]


def test_it_serves_a_keras_file_with_the_same_answers_and_signature_shape(
    exported_model, reference_predict, batch
):
    predictions, metadata = served_predictions(f"file://{exported_model['keras']}", batch)
    np.testing.assert_allclose(predictions, reference_predict(batch), rtol=1e-4, atol=1e-5)
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert list(signature["inputs"]) == ["images"]
    assert list(signature["outputs"]) == ["probabilities"]
    assert signature["method_name"] == "tensorflow/serving/predict"


def test_a_keras_file_loads_through_a_gfile_uri_too(exported_model):
    import tensorflow as tf

    from inference.model import load_model

    tf.io.gfile.copy(str(exported_model["keras"]), "ram://inference-tests/pets.keras", True)
    loaded = load_model("ram://inference-tests/pets.keras")
    assert loaded.format == "keras"
    assert loaded.default.inputs["images"].shape == (None, IMAGE_SIZE, IMAGE_SIZE, 3)


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("{tmp}/absent", "does not exist"),
        ("{tmp}", "is neither a SavedModel directory"),
        ("ram://inference-tests/absent", "does not exist"),
        ("nosuchscheme://bucket/model", "File system scheme 'nosuchscheme' not implemented"),
    ],
)
def test_it_explains_why_a_model_uri_cannot_be_loaded(tmp_path, uri, fragment):
    from inference.model import ModelLoadError, load_model

    with pytest.raises(ModelLoadError) as caught:
        load_model(uri.format(tmp=tmp_path))
    assert fragment in str(caught.value)
