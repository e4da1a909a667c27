"""The TF Serving REST API over real HTTP: status, metadata, predict in both formats, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.inference.conftest import IMAGE_SIZE, MODEL_NAME, MODEL_VERSION

PREDICT = f"/v1/models/{MODEL_NAME}:predict"


def images(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)


def test_it_reports_the_model_version_status_as_tf_serving_does(server):
    for path in (f"/v1/models/{MODEL_NAME}", f"/v1/models/{MODEL_NAME}/versions/{MODEL_VERSION}"):
        response = server.get(path)
        assert response.status_code == 200
        assert response.json() == {
            "model_version_status": [
                {
                    "version": MODEL_VERSION,
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }


def test_it_describes_the_serving_signature_in_tf_serving_metadata_shape(server):
    response = server.get(f"/v1/models/{MODEL_NAME}/metadata")
    assert response.status_code == 200
    body = response.json()
    spec = {"name": MODEL_NAME, "signature_name": "", "version": MODEL_VERSION}
    assert body["model_spec"] == spec
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    image_input = signature["inputs"]["images"]
    assert image_input["dtype"] == "DT_FLOAT"
    assert image_input["tensor_shape"] == {
        "dim": [{"size": size, "name": ""} for size in ("-1", "32", "32", "3")],
        "unknown_rank": False,
    }
    assert image_input["name"].endswith(":0")
    output = signature["outputs"]["probabilities"]
    assert [d["size"] for d in output["tensor_shape"]["dim"]] == ["-1", "32", "32", "3"]
    versioned = server.get(f"/v1/models/{MODEL_NAME}/versions/{MODEL_VERSION}/metadata")
    assert versioned.json() == body


def test_it_answers_row_format_requests_with_predictions(server, reference_predict):
    batch = images(3)
    response = server.post(PREDICT, json={"instances": batch.tolist()})
    assert response.status_code == 200, response.text
    predictions = np.asarray(response.json()["predictions"], dtype=np.float32)
    assert predictions.shape == (3, IMAGE_SIZE, IMAGE_SIZE, 3)
    np.testing.assert_allclose(predictions, reference_predict(batch), rtol=1e-4, atol=1e-5)


def test_it_answers_columnar_requests_with_outputs(server, reference_predict):
    batch = images(2, seed=1)
    for body in ({"inputs": batch.tolist()}, {"inputs": {"images": batch.tolist()}}):
        response = server.post(PREDICT, json=body)
        assert response.status_code == 200, response.text
        outputs = np.asarray(response.json()["outputs"], dtype=np.float32)
        np.testing.assert_allclose(outputs, reference_predict(batch), rtol=1e-4, atol=1e-5)


def test_it_accepts_named_instances_integer_pixels_and_an_explicit_signature(server):
    batch = images(2, seed=2).astype(int)
    named = server.post(
        PREDICT,
        json={
            "signature_name": "serving_default",
            "instances": [{"images": image} for image in batch.tolist()],
        },
    )
    plain = server.post(
        f"/v1/models/{MODEL_NAME}/versions/{MODEL_VERSION}:predict",
        json={"instances": batch.tolist()},
    )
    assert named.status_code == plain.status_code == 200
    np.testing.assert_allclose(named.json()["predictions"], plain.json()["predictions"])


def test_it_splits_a_request_larger_than_the_maximum_batch(server, reference_predict):
    batch = images(6, seed=3)  # the shared server batches at most 4
    response = server.post(PREDICT, json={"instances": batch.tolist()})
    assert response.status_code == 200, response.text
    predictions = np.asarray(response.json()["predictions"], dtype=np.float32)
    np.testing.assert_allclose(predictions, reference_predict(batch), rtol=1e-4, atol=1e-5)


def test_every_response_names_the_model_and_version(server):
    for response in (
        server.get("/healthz"),
        server.get("/metrics"),
        server.get("/no/such/path"),
        server.post(PREDICT, data=b""),
    ):
        assert response.headers["X-Model-Name"] == MODEL_NAME
        assert response.headers["X-Model-Version"] == MODEL_VERSION


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/models/other:predict", "Servable not found for request: Latest(other)"),
        (f"/v1/models/{MODEL_NAME}/versions/8:predict", f"Specific({MODEL_NAME}, 8)"),
        (f"/v1/models/{MODEL_NAME}/labels/canary:predict", f"Label({MODEL_NAME}, canary)"),
    ],
)
def test_it_answers_404_for_a_model_or_version_it_does_not_serve(server, path, message):
    response = server.post(path, json={"instances": images(1).tolist()})
    assert response.status_code == 404
    assert message in response.json()["error"]
    status = server.get(path.removesuffix(":predict"))
    assert status.status_code == 404
    assert set(status.json()) == {"error"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "JSON Parse error: The document is empty"),
        (b"instances = [1, 2]", "JSON Parse error"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"instances": [], "inputs": []}', 'Not both "instances" and "inputs"'),
        (b'{"signature": "x"}', 'Missing "inputs" or "instances" key'),
        (b'{"instances": []}', '"instances" is empty'),
        (b'{"instances": [1, 2]}', "input 'images' must have shape [-1, 32, 32, 3], got [2]"),
        (b'{"instances": [[1, 2], [3]]}', "nested lists differ in length"),
        (b'{"instances": ["a", "b"]}', "must hold float32 numbers, got strings"),
        (b'{"instances": [null]}', "got mixed or null values"),
        (b'{"instances": [{"pixels": 1}]}', "missing ['images'] and unknown ['pixels']"),
        (b'{"inputs": {"pixels": [1]}}', "the signature takes ['images']"),
        (b'{"signature_name": "nope", "instances": [1]}', 'signature key "nope" not found'),
        (b'{"signature_name": 3, "instances": [1]}', '"signature_name" must be a string'),
        (b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}", "JSON Parse error"),
    ],
)
def test_it_rejects_malformed_predict_bodies_with_a_400_naming_the_problem(server, body, fragment):
    response = server.post(PREDICT, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert fragment in response.json()["error"]


def test_it_accepts_nan_and_infinity_tokens_as_tf_serving_does(server):
    row = [[[float("nan"), 1.0, 2.0]] * IMAGE_SIZE] * IMAGE_SIZE
    text = str({"instances": [row]}).replace("'", '"').replace("nan", "NaN")
    response = server.post(PREDICT, data=text.encode())
    assert response.status_code == 200, response.text


def test_it_refuses_a_body_over_the_size_limit_with_413(server):
    too_big = b'{"instances": [' + b"1," * (200 * 1024) + b"1]}"
    response = server.post(PREDICT, data=too_big)
    assert response.status_code == 413
    assert "MAX_BODY_BYTES" in response.json()["error"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(40):
            yield b" " * 8192

    chunked = server.post(PREDICT, data=chunks())
    assert chunked.status_code == 413
    assert "MAX_BODY_BYTES" in chunked.json()["error"]


def test_it_answers_wrong_methods_and_unknown_paths_with_json_errors(server):
    get_predict = server.get(PREDICT)
    assert get_predict.status_code == 405
    assert "use POST" in get_predict.json()["error"]
    post_status = server.post(f"/v1/models/{MODEL_NAME}")
    assert post_status.status_code == 405
    classify = server.post(f"/v1/models/{MODEL_NAME}:classify", json={"examples": []})
    assert classify.status_code == 501
    malformed = server.get(f"/v1/models/{MODEL_NAME}/version/50")
    assert malformed.status_code == 400
    assert "Malformed request" in malformed.json()["error"]
    unknown = server.get("/v2/whatever")
    assert unknown.status_code == 404
    assert "no such endpoint" in unknown.json()["error"]
    put_segment = server.session.put(server.url + "/v1/segment", data=b"x", timeout=10)
    assert put_segment.status_code == 405
    assert "POST" in put_segment.headers["Allow"]
    assert "not allowed" in put_segment.json()["error"]


def test_it_keeps_serving_after_every_kind_of_bad_request(server):
    for body in (b"", b"{", b'{"instances": [[[["x"]]]]}', b"\xff\xfe"):
        assert server.post(PREDICT, data=body).status_code == 400
    response = server.post(PREDICT, json={"instances": images(1).tolist()})
    assert response.status_code == 200
    assert server.get("/readyz").status_code == 200
