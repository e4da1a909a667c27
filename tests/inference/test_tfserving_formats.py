"""TF Serving request and response shapes for multi-input, multi-output signatures."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from inference import tfserving
from inference.errors import ApiError


def spec(dtype: str, shape):
    return SimpleNamespace(dtype=np.dtype(dtype), shape=shape)


SIGNATURES = {
    "serving_default": SimpleNamespace(
        inputs={"tokens": spec("int32", (None, 3)), "scale": spec("float32", (None,))},
        outputs={},
    )
}


def test_row_format_objects_become_one_column_per_input():
    doc = {
        "instances": [
            {"tokens": [1, 2, 3], "scale": 0.5},
            {"tokens": [4, 5, 6], "scale": 2},
        ]
    }
    parsed = tfserving.parse_predict(doc, SIGNATURES)
    assert parsed.columnar is False
    assert parsed.inputs["tokens"].dtype == np.int32
    assert parsed.inputs["tokens"].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert parsed.inputs["scale"].tolist() == [0.5, 2.0]


def test_columnar_inputs_must_share_their_batch_dimension():
    doc = {"inputs": {"tokens": [[1, 2, 3]], "scale": [1.0, 2.0]}}
    with pytest.raises(ApiError) as caught:
        tfserving.parse_predict(doc, SIGNATURES)
    assert caught.value.status == 400
    assert "share their first (batch) dimension" in caught.value.message


def test_integer_inputs_refuse_fractions_and_out_of_range_values():
    for tokens, fragment in (
        ([[1.5, 2, 3]], "must hold int32 numbers"),
        ([[2**40, 1, 1]], "outside the range"),
    ):
        with pytest.raises(ApiError) as caught:
            tfserving.parse_predict({"inputs": {"tokens": tokens, "scale": [1]}}, SIGNATURES)
        assert fragment in caught.value.message


def test_several_outputs_are_rows_of_objects_or_one_object_of_columns():
    outputs = {
        "mask": np.array([[1, 0], [0, 1]], np.uint8),
        "score": np.array([0.5, 0.25], np.float32),
    }
    rows = json.loads(tfserving.predict_body(outputs, columnar=False))
    assert rows == {
        "predictions": [{"mask": [1, 0], "score": 0.5}, {"mask": [0, 1], "score": 0.25}]
    }
    columns = json.loads(tfserving.predict_body(outputs, columnar=True))
    assert columns == {"outputs": {"mask": [[1, 0], [0, 1]], "score": [0.5, 0.25]}}


def test_string_outputs_are_text_or_base64_when_binary():
    outputs = {"label": np.array([b"cat", b"\xff\x00"], dtype=object)}
    body = json.loads(tfserving.predict_body(outputs, columnar=False))
    assert body == {"predictions": ["cat", {"b64": "/wA="}]}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models/pets", ("pets", None, None, False, None)),
        ("/v1/models/pets/versions/3/metadata", ("pets", "3", None, True, None)),
        ("/v1/models/pets/labels/canary:predict", ("pets", None, "canary", False, "predict")),
    ],
)
def test_model_paths_parse_as_tf_serving_routes_them(path, expected):
    parsed = tfserving.parse_path(path)
    assert (parsed.name, parsed.version, parsed.label, parsed.metadata, parsed.verb) == expected
