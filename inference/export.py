"""The export format the server loads, written from a Keras model.

The canonical format is a TensorFlow SavedModel directory whose `serving_default` signature
takes one float32 batch of RGB images named `images`, shape [batch, height, width, 3], with
pixel values in 0..255 (the model normalises internally), and returns one float32 tensor named
`probabilities`, shape [batch, height, width, classes]. A Keras `.keras` file with the same
input and output is accepted too; SavedModel is preferred because it loads without Keras
objects, is what TF Serving loads, and can be read straight from object storage.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"
SIGNATURE_NAME = "serving_default"


def export_savedmodel(*, model: keras.Model, output_dir: str | Path) -> Path:
    """Write `model` as a SavedModel with the serving signature described above."""
    _, height, width, channels = model.input_shape
    if channels != 3:
        raise ValueError(f"model input must have 3 channels (RGB), got {channels}")
    spec = tf.TensorSpec([None, height, width, 3], tf.float32, name=INPUT_NAME)

    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(images):
        return {OUTPUT_NAME: model(images, training=False)}

    archive.add_endpoint(name=SIGNATURE_NAME, fn=serve, input_signature=[spec])
    output_dir = Path(output_dir)
    archive.write_out(str(output_dir), verbose=False)
    return output_dir


def export_keras(*, model: keras.Model, output_path: str | Path) -> Path:
    """Write `model` as a single `.keras` file (the alternative format)."""
    output_path = Path(output_path)
    if output_path.suffix != ".keras":
        raise ValueError(f"a Keras export must end in .keras, got {output_path.name}")
    model.save(output_path)
    return output_path
