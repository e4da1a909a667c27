"""The GPU precision path, exercised on the CPU: a mixed-precision U-Net trains a step with
loss scaling and still exports a float32 model for the CPU serving pods."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trainer.program.export import export_savedmodel
from trainer.program.model import Architecture, build, compile_for_training


def test_a_mixed_precision_model_computes_in_float16_and_exports_in_float32(tmp_path):
    arch = Architecture(image_size=16, depth=1, base_filters=2)
    model = build(arch, dtype="mixed_float16")
    assert model.get_layer("down0_conv1").compute_dtype == "float16"
    assert model.get_layer("down0_conv1").variable_dtype == "float32"
    assert model.output.dtype == "float32"
    compile_for_training(model, learning_rate=1e-3, num_classes=3, mixed_precision=True)
    assert "LossScaleOptimizer" in type(model.optimizer).__name__
    # Tracing the loss-scaled step costs seconds on the CPU; one eager step does the same math.
    model.run_eagerly = True
    images = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    classes = np.zeros((2, 16, 16, 1), np.uint8)
    history = model.fit(images, classes, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    exported = export_savedmodel(trained=model, arch=arch, uri=str(tmp_path / "model"))

    serve = tf.saved_model.load(exported).signatures["serving_default"]
    probabilities = serve(images=tf.constant(images))["probabilities"]
    assert probabilities.dtype == tf.float32
    np.testing.assert_allclose(model(images).numpy(), probabilities.numpy(), atol=2e-2)
