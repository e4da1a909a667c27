"""The fast decoder for integer "instances" bodies agrees with the general JSON path."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import orjson
import pytest

from inference import dense, tfserving
from inference.errors import ApiError

F32 = np.dtype("float32")


def general(body: bytes, dtype=F32) -> np.ndarray:
    return np.asarray(orjson.loads(body)["instances"]).astype(dtype)


def image_signatures(shape=(None, 4, 4, 3), dtype="float32") -> dict:
    spec = SimpleNamespace(dtype=np.dtype(dtype), shape=shape)
    return {"serving_default": SimpleNamespace(inputs={"images": spec}, outputs={})}


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"instances": np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3).tolist()}),
        orjson.dumps({"instances": [[[0, 255, 7]]]}).decode(),
        json.dumps({"instances": [[-5, 0, 12], [-0, 99, -100]]}, indent=2),
        ' \n{ "instances" :[[ 1 ,2 ],\t[3,4]] }\r\n',
        '{"instances": [[[1]]]}',
        '{"instances": [123456789012345678, -987654321098765432]}',
    ],
)
def test_integer_bodies_decode_to_the_same_array_as_the_general_path(body):
    data = body.encode() if isinstance(body, str) else body
    fast = dense.instances(data, F32)
    assert fast is not None
    expected = general(data)
    assert fast.dtype == expected.dtype
    assert fast.shape == expected.shape
    assert np.array_equal(fast, expected)


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [1 2]}',  # two numbers with no comma
        b'{"instances": [- 1]}',
        b'{"instances": [1-2]}',
        b'{"instances": [1--2]}',
        b'{"instances": [-]}',
        b'{"instances": [01]}',  # JSON forbids leading zeros
        b'{"instances": [1,,2]}',
        b'{"instances": [,1]}',
        b'{"instances": [1,2,]}',
        b'{"instances": [[1,2],[3]]}',  # ragged
        b'{"instances": [[1],2]}',
        b'{"instances": [[1,2]3]}',
        b'{"instances": [[1,2][3,4]]}',
        b'{"instances": [[1,2],]}',
        b'{"instances": []}',
        b'{"instances": [[]]}',
        b'{"instances": [1.5]}',  # floats, booleans, nulls go the general way
        b'{"instances": [true]}',
        b'{"instances": [null]}',
        b'{"instances": [1234567890123456789]}',  # past exact int64 handling
        b'{"instances": [1], "signature_name": "serving_default"}',
        b'{"instances": [1], "inputs": [2]}',
        b'{"inputs": [1]}',
        b"[1]",
        b'\x0c{"instances": [1]}',  # form feed is not JSON whitespace
        b'{"instances":\x0b[1]}',
        b"",
    ],
)
def test_anything_unusual_or_invalid_is_left_to_the_general_path(body):
    assert dense.instances(body, F32) is None


def test_integer_signatures_are_left_to_the_general_path():
    assert dense.instances(b'{"instances": [1, 2]}', np.dtype("int32")) is None


def test_the_fast_path_checks_the_signature_shape_like_the_general_path():
    signatures = image_signatures()
    body = json.dumps({"instances": np.zeros((1, 4, 5, 3), int).tolist()}).encode()
    assert dense.instances(body, F32) is not None
    with pytest.raises(ApiError) as fast_error:
        tfserving.parse_predict_body(body, signatures)
    with pytest.raises(ApiError) as general_error:
        tfserving.parse_predict(orjson.loads(body), signatures)
    assert fast_error.value.status == general_error.value.status == 400
    assert fast_error.value.message == general_error.value.message
    assert "must have shape [-1, 4, 4, 3], got [1, 4, 5, 3]" in fast_error.value.message


def test_predict_bodies_decode_the_same_whichever_path_they_take():
    signatures = image_signatures()
    pixels = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 3))
    fast_body = json.dumps({"instances": pixels.tolist()}).encode()
    general_body = json.dumps({"instances": (pixels + 0.5).tolist()}).encode()
    fast = tfserving.parse_predict_body(fast_body, signatures)
    slow = tfserving.parse_predict_body(general_body, signatures)
    assert fast.signature == slow.signature == "serving_default"
    assert fast.columnar is slow.columnar is False
    assert fast.inputs["images"].dtype == slow.inputs["images"].dtype == np.float32
    assert np.array_equal(fast.inputs["images"], pixels.astype(np.float32))
    assert np.array_equal(slow.inputs["images"], (pixels + 0.5).astype(np.float32))


def test_a_malformed_body_still_gets_the_general_paths_error():
    with pytest.raises(ApiError) as caught:
        tfserving.parse_predict_body(b'{"instances": [[1,2],[3]]}', image_signatures(shape=None))
    assert "not a regular tensor" in caught.value.message
