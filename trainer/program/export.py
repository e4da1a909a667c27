"""Writing the trained model in the format the inference server loads, and JSON reports.

The serving contract, shared with inference/ by convention (not by import, so the training
image needs none of the server): a TensorFlow SavedModel directory whose `serving_default`
signature takes float32 `images` [batch, h, w, 3] of 0..255 pixels and returns float32
`probabilities` [batch, h, w, classes].
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from trainer.program.errors import TrainingError
from trainer.program.model import Architecture, build
from trainer.program.progress import finite

INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"
SIGNATURE_NAME = "serving_default"


def export_savedmodel(*, trained: keras.Model, arch: Architecture, uri: str) -> str:
    """Write the trained weights as a float32 SavedModel at `uri` (local path or gs://).

    The weights go into a fresh float32 copy of the architecture, built outside any
    distribution strategy: a model trained in mixed precision would otherwise serve float16
    kernels on the CPU pods, and one built under MirroredStrategy would carry its mirrored
    variables into the export.
    """
    serving = build(arch, dtype="float32")
    serving.set_weights(trained.get_weights())
    spec = tf.TensorSpec([None, arch.image_size, arch.image_size, 3], tf.float32, name=INPUT_NAME)

    archive = keras.export.ExportArchive()
    archive.track(serving)

    def serve(images):
        return {OUTPUT_NAME: serving(images, training=False)}

    archive.add_endpoint(name=SIGNATURE_NAME, fn=serve, input_signature=[spec])
    uri = uri.rstrip("/")
    if tf.io.gfile.exists(uri):
        # What an earlier attempt left, possibly half-written: never mix two exports' files.
        tf.io.gfile.rmtree(uri)
    archive.write_out(uri, verbose=False)
    return uri


def write_json(uri: str, payload: dict) -> None:
    """Write `payload` as one object (gfile writes to object storage land whole or not at all;
    locally a temporary name then a rename gives readers the same guarantee)."""
    text = json.dumps(finite(payload), indent=2, allow_nan=False) + "\n"
    if "://" in uri and not uri.startswith("file://"):
        with tf.io.gfile.GFile(uri, "w") as handle:
            handle.write(text)
        return
    partial = f"{uri}.partial"
    with tf.io.gfile.GFile(partial, "w") as handle:
        handle.write(text)
    tf.io.gfile.rename(partial, uri, overwrite=True)


def ensure_writable(uri: str) -> None:
    """Fail before any training if `uri` cannot hold checkpoints and the export."""
    try:
        if tf.io.gfile.exists(uri) and not tf.io.gfile.isdir(uri):
            raise TrainingError(f"output {uri} exists and is not a folder")
        tf.io.gfile.makedirs(uri)
        probe = f"{uri.rstrip('/')}/.write-check-{os.getpid()}"
        with tf.io.gfile.GFile(probe, "w") as handle:
            handle.write("ok")
        tf.io.gfile.remove(probe)
    except tf.errors.OpError as exc:
        reason = exc.message.strip().splitlines()[0] if exc.message.strip() else type(exc).__name__
        raise TrainingError(f"cannot write to output {uri}: {reason}") from None
