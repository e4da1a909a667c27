"""The TF Serving API is generic: a non-image SavedModel with its own names is served too."""

from __future__ import annotations

import pytest

from tests.inference.conftest import MODEL_NAME, ServerThread, make_settings


@pytest.fixture(scope="module")
def half_plus_two(tmp_path_factory):
    """TF Serving's classic toy: y = 0.5 * x + 2, with a second signature that doubles."""
    import tensorflow as tf

    class HalfPlusTwo(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            return {"y": 0.5 * x + 2.0}

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def double(self, x):
            return {"doubled": 2.0 * x}

    module = HalfPlusTwo()
    path = tmp_path_factory.mktemp("half-plus-two") / "1"
    tf.saved_model.save(
        module, str(path), signatures={"serving_default": module.serve, "double": module.double}
    )
    server = ServerThread(make_settings(str(path)))
    server.wait_for("ready")
    yield server
    server.stop()


def test_it_serves_any_signature_names_and_shapes(half_plus_two):
    url = f"/v1/models/{MODEL_NAME}:predict"
    rows = half_plus_two.post(url, json={"instances": [[1.0, 2.0], [3.0, 4.0]]})
    assert rows.json() == {"predictions": [[2.5, 3.0], [3.5, 4.0]]}
    columns = half_plus_two.post(url, json={"inputs": {"x": [[0.0, 2.0]]}})
    assert columns.json() == {"outputs": [[2.0, 3.0]]}
    other = half_plus_two.post(
        url, json={"signature_name": "double", "instances": [{"x": [1.0, 5.0]}]}
    )
    assert other.json() == {"predictions": [[2.0, 10.0]]}


def test_its_metadata_lists_every_signature(half_plus_two):
    body = half_plus_two.get(f"/v1/models/{MODEL_NAME}/metadata").json()
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "double"} <= set(signatures)
    assert signatures["serving_default"]["inputs"]["x"]["tensor_shape"]["dim"] == [
        {"size": "-1", "name": ""},
        {"size": "2", "name": ""},
    ]


def test_it_explains_that_a_non_image_model_cannot_segment(half_plus_two):
    response = half_plus_two.post("/v1/segment", data=b"\x89PNG\r\n\x1a\n")
    assert response.status_code == 501
    assert "cannot segment images" in response.json()["error"]
