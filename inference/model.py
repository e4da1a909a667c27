"""Loading a model export and calling its signatures; the only module that imports TensorFlow.

Everything here runs on the model thread. A loaded model exposes each callable signature as a
function from numpy arrays to numpy arrays, and the signature definitions in the JSON shape
TF Serving's metadata API returns.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

log = logging.getLogger("inference.model")

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"


class ModelLoadError(RuntimeError):
    """The model could not be found, copied or loaded; the message says which and why."""


class ModelInputError(ValueError):
    """The model rejected the inputs (TensorFlow's InvalidArgument): the client's fault."""


class ModelRunError(RuntimeError):
    """The model failed for a reason that is not the client's input."""


@dataclass(frozen=True)
class TensorInfo:
    key: str
    dtype: np.dtype
    shape: tuple[int | None, ...] | None  # None when the rank is unknown


@dataclass
class Signature:
    name: str
    inputs: dict[str, TensorInfo]
    outputs: dict[str, TensorInfo]
    run: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] = field(repr=False)


@dataclass
class LoadedModel:
    source: str
    format: str  # "saved_model" or "keras"
    signatures: dict[str, Signature]
    signature_defs: dict  # TF Serving's JSON rendering of the SignatureDefMap
    # The loaded object owning the variables the signature functions capture.
    keepalive: object = field(default=None, repr=False)
    load_seconds: float = 0.0

    @property
    def default(self) -> Signature:
        return self.signatures[DEFAULT_SIGNATURE]


def configure_threads(*, intra_op: int, inter_op: int) -> None:
    """Size TF's thread pools; only possible before the TF runtime has started."""
    try:
        if intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        if inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError as exc:
        # A second model in the same process (tests) finds the runtime already started.
        log.info("TensorFlow thread pools already configured, keeping them: %s", exc)


def load_model(uri: str) -> LoadedModel:
    """Load a SavedModel directory or a .keras file from a local path or a tf.io.gfile URI."""
    started = time.monotonic()
    with _localized(uri) as local:
        if local.suffix == ".keras":
            model = _load_keras(local, uri)
        elif (local / "saved_model.pb").is_file() or (local / "saved_model.pbtxt").is_file():
            model = _load_saved_model(local, uri)
        elif local.exists():
            raise ModelLoadError(
                f"MODEL_URI {uri!r} is neither a SavedModel directory (no saved_model.pb) "
                "nor a .keras file"
            )
        else:
            raise ModelLoadError(f"MODEL_URI {uri!r} does not exist")
    if DEFAULT_SIGNATURE not in model.signatures:
        raise ModelLoadError(
            f"model at {uri!r} has no {DEFAULT_SIGNATURE!r} signature "
            f"(it has {sorted(model.signatures) or 'none'})"
        )
    model.load_seconds = time.monotonic() - started
    return model


class _localized:
    """A local path for `uri`; remote URIs are copied into a temporary directory first.

    Copying through tf.io.gfile works for every filesystem TensorFlow knows (gs://, s3:// with
    the plugin, ram://, file://) and for both export formats, which load only from local disk.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._tmp: str | None = None

    def __enter__(self) -> Path:
        if "://" not in self.uri:
            return Path(self.uri)
        if self.uri.startswith("file://"):
            return Path(self.uri.removeprefix("file://"))
        self._tmp = tempfile.mkdtemp(prefix="inference-model-")
        target = Path(self._tmp) / Path(self.uri.rstrip("/")).name
        try:
            _gfile_copy(self.uri.rstrip("/"), target)
        except tf.errors.OpError as exc:
            raise ModelLoadError(f"cannot read MODEL_URI {self.uri!r}: {exc.message}") from exc
        return target

    def __exit__(self, *exc_info) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _gfile_copy(source: str, target: Path) -> None:
    if not tf.io.gfile.exists(source):
        raise ModelLoadError(f"MODEL_URI {source!r} does not exist")
    if not tf.io.gfile.isdir(source):
        tf.io.gfile.copy(source, str(target))
        return
    copied = 0
    for directory, _subdirs, files in tf.io.gfile.walk(source):
        relative = directory[len(source) :].lstrip("/")
        local_dir = target / relative
        local_dir.mkdir(parents=True, exist_ok=True)
        for name in files:
            tf.io.gfile.copy(f"{directory.rstrip('/')}/{name}", str(local_dir / name))
            copied += 1
    log.info("copied %d files of %s to %s", copied, source, target)


def _load_saved_model(path: Path, uri: str) -> LoadedModel:
    try:
        loaded = tf.saved_model.load(str(path))
    except (tf.errors.OpError, ValueError, OSError) as exc:
        raise ModelLoadError(f"cannot load SavedModel from {uri!r}: {exc}") from exc
    signatures = {}
    for name, function in loaded.signatures.items():
        _, input_specs = function.structured_input_signature
        output_specs = function.structured_outputs
        if not isinstance(output_specs, dict):
            log.warning("skipping signature %r: its outputs are not named", name)
            continue
        signatures[name] = Signature(
            name=name,
            inputs={key: _info(key, spec) for key, spec in input_specs.items()},
            outputs={key: _info(key, spec) for key, spec in output_specs.items()},
            run=_runner(function),
        )
    return LoadedModel(
        source=uri,
        format="saved_model",
        signatures=signatures,
        signature_defs=_saved_model_signature_defs(path),
        keepalive=loaded,
    )


def _load_keras(path: Path, uri: str) -> LoadedModel:
    import keras

    try:
        model = keras.saving.load_model(str(path), compile=False)
    except (ValueError, OSError, TypeError) as exc:
        raise ModelLoadError(f"cannot load Keras model from {uri!r}: {exc}") from exc
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelLoadError(
            f"Keras model at {uri!r} must have one input and one output, has "
            f"{len(model.inputs)} and {len(model.outputs)}"
        )
    from inference.export import INPUT_NAME, OUTPUT_NAME

    input_shape = tuple(model.inputs[0].shape)
    spec = tf.TensorSpec(input_shape, model.inputs[0].dtype, name=INPUT_NAME)

    # A fixed input signature: one trace, never retraced whatever the batch size.
    @tf.function(input_signature=[spec])
    def serve(images):
        return {OUTPUT_NAME: model(images, training=False)}

    function = serve.get_concrete_function()
    output_spec = function.structured_outputs[OUTPUT_NAME]
    signature = Signature(
        name=DEFAULT_SIGNATURE,
        inputs={INPUT_NAME: _info(INPUT_NAME, spec)},
        outputs={OUTPUT_NAME: _info(OUTPUT_NAME, output_spec)},
        run=_runner(function),
    )
    signature_def = meta_graph_pb2.SignatureDef(method_name=PREDICT_METHOD)
    _fill_tensor_info(signature_def.inputs[INPUT_NAME], spec, f"serving_default_{INPUT_NAME}:0")
    _fill_tensor_info(signature_def.outputs[OUTPUT_NAME], output_spec, "StatefulPartitionedCall:0")
    defs = {DEFAULT_SIGNATURE: _message_json(signature_def)}
    return LoadedModel(
        source=uri,
        format="keras",
        signatures={DEFAULT_SIGNATURE: signature},
        signature_defs=defs,
        keepalive=model,
    )


def _info(key: str, spec) -> TensorInfo:
    shape = None if spec.shape.rank is None else tuple(spec.shape.as_list())
    return TensorInfo(key=key, dtype=np.dtype(spec.dtype.as_numpy_dtype), shape=shape)


def _runner(function) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            tensors = {key: tf.convert_to_tensor(value) for key, value in inputs.items()}
            outputs = function(**tensors)
        except (tf.errors.InvalidArgumentError, TypeError, ValueError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            raise ModelInputError(message.strip().splitlines()[0]) from exc
        except tf.errors.OpError as exc:
            raise ModelRunError(exc.message) from exc
        return {key: value.numpy() for key, value in outputs.items()}

    return run


def _saved_model_signature_defs(path: Path) -> dict:
    """The SignatureDefs of the `serve` graph, as TF Serving renders them in JSON."""
    proto = saved_model_pb2.SavedModel()
    pb = path / "saved_model.pb"
    if pb.is_file():
        proto.ParseFromString(pb.read_bytes())
    else:
        from google.protobuf import text_format

        text_format.Parse((path / "saved_model.pbtxt").read_text(), proto)
    for meta_graph in proto.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return {name: _message_json(sd) for name, sd in meta_graph.signature_def.items()}
    return {}


def _fill_tensor_info(info, spec, tensor_name: str) -> None:
    info.name = tensor_name
    info.dtype = spec.dtype.as_datatype_enum
    info.tensor_shape.CopyFrom(spec.shape.as_proto())


def _message_json(message) -> dict:
    # TF Serving prints every field, defaults included, with the proto's own field names.
    return json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )


def describe(model: LoadedModel) -> str:
    sig = model.default
    inputs = ", ".join(f"{k}{list(v.shape or [])}:{v.dtype}" for k, v in sig.inputs.items())
    outputs = ", ".join(f"{k}{list(v.shape or [])}:{v.dtype}" for k, v in sig.outputs.items())
    return f"{model.format} from {model.source} ({inputs} -> {outputs}), pid {os.getpid()}"
