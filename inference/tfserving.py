"""TensorFlow Serving's REST API: URL parsing, request decoding, response encoding.

Shapes follow TF Serving's documented REST API: row ("instances") and columnar ("inputs")
predict requests, "predictions" / "outputs" responses, `{"error": message}` on failure, the
GetModelStatus and GetModelMetadata JSON renderings. No TensorFlow is needed here.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

import numpy as np
import orjson

from inference import dense
from inference.errors import ApiError, bad_request

# /v1/models/{name}[/versions/{v}|/labels/{l}][/metadata|:verb], as TF Serving parses it.
_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?:(?P<metadata>/metadata)|:(?P<verb>[A-Za-z]+))?$"
)
VERBS = ("predict", "classify", "regress")


@dataclass(frozen=True)
class ModelPath:
    name: str
    version: str | None
    label: str | None
    metadata: bool
    verb: str | None

    @property
    def endpoint(self) -> str:
        """A bounded metrics label for this kind of call."""
        if self.verb:
            return self.verb
        return "metadata" if self.metadata else "status"


def parse_path(path: str) -> ModelPath:
    match = _PATH.match(path)
    if not match:
        if path.rstrip("/") == "/v1/models":
            raise bad_request("Missing model name in request.", reason="malformed_path")
        raise bad_request(f"Malformed request: {path}", reason="malformed_path")
    verb = match["verb"]
    if verb is not None and verb not in VERBS:
        raise bad_request(
            f"Malformed request: unknown method ':{verb}' (expected :predict)",
            reason="malformed_path",
        )
    return ModelPath(
        name=match["name"],
        version=match["version"],
        label=match["label"],
        metadata=bool(match["metadata"]),
        verb=verb,
    )


def servable_description(path: ModelPath) -> str:
    """How TF Serving names the servable a request asked for, in its not-found messages."""
    if path.version is not None:
        return f"Specific({path.name}, {path.version})"
    if path.label is not None:
        return f"Label({path.name}, {path.label})"
    return f"Latest({path.name})"


def status_body(*, version: str, state: str, error_code: str = "OK", message: str = "") -> dict:
    return {
        "model_version_status": [
            {
                "version": version,
                "state": state,
                "status": {"error_code": error_code, "error_message": message},
            }
        ]
    }


def metadata_body(*, name: str, version: str, signature_defs: dict) -> dict:
    return {
        "model_spec": {"name": name, "signature_name": "", "version": version},
        "metadata": {"signature_def": {"signature_def": signature_defs}},
    }


# -- predict ------------------------------------------------------------------------------


@dataclass
class PredictRequest:
    signature: str
    inputs: dict[str, np.ndarray]
    columnar: bool


def parse_predict_body(body: bytes, signatures: dict) -> PredictRequest:
    """Decode a predict request body: integer image rows take a fast path, the rest parse_json."""
    fast = _dense_instances(body, signatures)
    if fast is not None:
        return fast
    return parse_predict(parse_json(body), signatures)


def _dense_instances(body: bytes, signatures: dict) -> PredictRequest | None:
    signature = signatures.get("serving_default")
    if signature is None or len(signature.inputs) != 1:
        return None
    ((key, spec),) = signature.inputs.items()
    array = dense.instances(body, spec.dtype)
    if array is None:
        return None
    # The same checks (dtype, shape against the signature) as the general path.
    return PredictRequest(
        signature="serving_default", inputs={key: _to_array(key, array, spec)}, columnar=False
    )


def parse_json(body: bytes) -> object:
    if not body.strip():
        raise bad_request("JSON Parse error: The document is empty", reason="empty_body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        fast_error = exc
    try:
        # TF Serving accepts NaN and Infinity tokens, which strict parsers refuse.
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request(f"JSON Parse error: {fast_error}", reason="bad_json") from None


def parse_predict(doc: object, signatures: dict) -> PredictRequest:
    """Turn a decoded predict body into named numpy arrays checked against the signature."""
    if not isinstance(doc, dict):
        raise bad_request("JSON Value: request body must be a JSON object", reason="bad_request")
    signature_name = doc.get("signature_name", "serving_default")
    if not isinstance(signature_name, str):
        raise bad_request('"signature_name" must be a string', reason="bad_request")
    signature_name = signature_name or "serving_default"
    if signature_name not in signatures:
        raise bad_request(
            f'Serving signature key "{signature_name}" not found.', reason="bad_signature"
        )
    signature = signatures[signature_name]
    has_instances, has_inputs = "instances" in doc, "inputs" in doc
    if has_instances and has_inputs:
        raise bad_request(
            'Not both "instances" and "inputs" can be specified in the request',
            reason="bad_request",
        )
    if not (has_instances or has_inputs):
        raise bad_request('Missing "inputs" or "instances" key', reason="bad_request")
    if has_instances:
        raw = _rows_to_columns(doc["instances"], signature.inputs)
    else:
        raw = _columns(doc["inputs"], signature.inputs)
    inputs = {key: _to_array(key, value, signature.inputs[key]) for key, value in raw.items()}
    sizes = {key: value.shape[0] for key, value in inputs.items()}
    if len(set(sizes.values())) > 1:
        raise bad_request(
            f"inputs must share their first (batch) dimension, got {sizes}", reason="bad_shape"
        )
    return PredictRequest(signature=signature_name, inputs=inputs, columnar=has_inputs)


def _rows_to_columns(instances: object, specs: dict) -> dict[str, object]:
    if not isinstance(instances, list):
        raise bad_request('"instances" must be a JSON list of instances', reason="bad_request")
    if not instances:
        raise bad_request('"instances" is empty: send at least one', reason="empty_batch")
    names = sorted(specs)
    if not all(isinstance(row, dict) for row in instances):
        if len(names) != 1:
            raise bad_request(
                f"this signature has {len(names)} inputs {names}: each instance must be an "
                "object naming them",
                reason="bad_request",
            )
        if any(isinstance(row, dict) for row in instances):
            raise bad_request(
                "instances mix objects and plain values; use one form", reason="bad_request"
            )
        return {names[0]: instances}
    columns: dict[str, list] = {name: [] for name in names}
    for index, row in enumerate(instances):
        if set(row) != set(names):
            missing, extra = set(names) - set(row), set(row) - set(names)
            detail = []
            if missing:
                detail.append(f"missing {sorted(missing)}")
            if extra:
                detail.append(f"unknown {sorted(extra)}")
            raise bad_request(
                f"instance {index}: {' and '.join(detail)} input(s); expected {names}",
                reason="bad_input_name",
            )
        for name in names:
            columns[name].append(row[name])
    return columns


def _columns(inputs: object, specs: dict) -> dict[str, object]:
    names = sorted(specs)
    if isinstance(inputs, dict) and not _is_b64(inputs):
        if set(inputs) != set(names):
            raise bad_request(
                f'"inputs" names {sorted(inputs)}, but the signature takes {names}',
                reason="bad_input_name",
            )
        return dict(inputs)
    if len(names) != 1:
        raise bad_request(
            f'this signature has {len(names)} inputs {names}: "inputs" must be an object '
            "naming them",
            reason="bad_request",
        )
    return {names[0]: inputs}


def _is_b64(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


_KINDS = {
    "f": ("f", "i", "u"),
    "i": ("i", "u"),
    "u": ("i", "u"),
    "b": ("b",),
}


def _to_array(key: str, value: object, spec) -> np.ndarray:
    expected = spec.dtype
    if expected.kind not in _KINDS:
        raise bad_request(
            f"input {key!r} has dtype {expected}, which this server cannot decode from JSON",
            reason="bad_dtype",
        )
    try:
        array = np.asarray(value)
    except ValueError:
        raise bad_request(
            f"input {key!r} is not a regular tensor: nested lists differ in length",
            reason="bad_shape",
        ) from None
    if array.dtype.kind not in _KINDS[expected.kind]:
        found = {"U": "strings", "S": "strings", "O": "mixed or null values", "b": "booleans"}
        what = found.get(array.dtype.kind, f"{array.dtype} values")
        raise bad_request(
            f"input {key!r} must hold {expected.name} numbers, got {what}", reason="bad_dtype"
        )
    if expected.kind in "iu" and array.size:
        info = np.iinfo(expected)
        if array.min() < info.min or array.max() > info.max:
            raise bad_request(
                f"input {key!r} has values outside the range of {expected.name}",
                reason="bad_dtype",
            )
    array = array.astype(expected, copy=False)
    shape = spec.shape
    if shape is not None:
        if array.ndim != len(shape) or any(
            want is not None and want != got for want, got in zip(shape, array.shape, strict=False)
        ):
            want = [-1 if dim is None else dim for dim in shape]
            raise bad_request(
                f"input {key!r} must have shape {want}, got {list(array.shape)}",
                reason="bad_shape",
            )
    elif array.ndim == 0:
        raise bad_request(f"input {key!r} needs a batch dimension", reason="bad_shape")
    return np.ascontiguousarray(array)


def predict_body(outputs: dict[str, np.ndarray], *, columnar: bool) -> bytes:
    """Encode outputs as TF Serving does: one unnamed tensor, or named ones when several."""
    outputs = {key: _jsonable(value) for key, value in outputs.items()}
    if columnar:
        payload = next(iter(outputs.values())) if len(outputs) == 1 else outputs
        doc = {"outputs": payload}
    elif len(outputs) == 1:
        doc = {"predictions": next(iter(outputs.values()))}
    else:
        size = len(next(iter(outputs.values())))
        doc = {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(size)]}
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


_NATIVE = {np.dtype(t) for t in ("f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?")}


def _jsonable(value: np.ndarray):
    if value.dtype in _NATIVE:
        return np.ascontiguousarray(value)
    if value.dtype.kind == "f":
        return np.ascontiguousarray(value, dtype=np.float32)
    if value.dtype.kind in "OSU":
        return [_text(item) for item in value.tolist()] if value.ndim else _text(value.item())
    raise ApiError(500, f"cannot encode an output of dtype {value.dtype}", reason="model_error")


def _text(item):
    if isinstance(item, list):
        return [_text(x) for x in item]
    if isinstance(item, bytes):
        try:
            return item.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(item).decode("ascii")}
    return item


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})
