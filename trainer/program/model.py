"""The models the program can train, by name, and how they are compiled.

Every model takes float32 RGB pixels 0..255 (it rescales internally, so serving clients send
raw pixels) and returns float32 class probabilities, whatever precision it computes in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import layers

from trainer.program.data import CLASS_NAMES


@dataclass(frozen=True)
class Architecture:
    """What must match for a checkpoint to be restored into a model."""

    model: str = "unet"
    image_size: int = 128
    depth: int = 3
    base_filters: int = 32
    num_classes: int = len(CLASS_NAMES)

    def as_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; known: {', '.join(MODELS)}")
        if self.depth < 1:
            raise ValueError(f"depth must be at least 1, got {self.depth}")
        if self.base_filters < 1:
            raise ValueError(f"base filters must be at least 1, got {self.base_filters}")
        step = 2**self.depth
        if self.image_size < step or self.image_size % step:
            raise ValueError(
                f"image size must be a positive multiple of 2**depth = {step}, "
                f"got {self.image_size}"
            )


def build_unet(arch: Architecture, *, dtype: str = "float32") -> keras.Model:
    """A U-Net: `depth` down-sampling levels of Conv-BN-ReLU pairs with `base_filters * 2**level`
    filters, transposed-conv up-sampling with skip connections, softmax over the classes.

    `dtype` is the Keras dtype policy of the hidden layers ("mixed_float16" on GPUs); the
    output layer stays float32 so the softmax and the loss keep full precision.
    """

    def conv_block(x, filters: int, name: str):
        for i in (1, 2):
            x = layers.Conv2D(
                filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}", dtype=dtype
            )(x)
            # Momentum 0.9, not Keras's 0.99: the moving statistics that serving uses then
            # settle within tens of steps, which small data sets and short runs never reach
            # with 0.99 (validation and served masks lag far behind training).
            x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{i}", dtype=dtype)(x)
            x = layers.ReLU(name=f"{name}_relu{i}", dtype=dtype)(x)
        return x

    size = arch.image_size
    inputs = keras.Input((size, size, 3), name="images", dtype="float32")
    x = layers.Rescaling(1.0 / 255.0, name="rescale", dtype=dtype)(inputs)
    skips = []
    for level in range(arch.depth):
        x = conv_block(x, arch.base_filters * 2**level, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{level}_pool", dtype=dtype)(x)
    x = conv_block(x, arch.base_filters * 2**arch.depth, "bottleneck")
    for level in reversed(range(arch.depth)):
        filters = arch.base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 2, strides=2, name=f"up{level}_deconv", dtype=dtype)(x)
        x = layers.Concatenate(name=f"up{level}_concat", dtype=dtype)([x, skips[level]])
        x = conv_block(x, filters, f"up{level}")
    outputs = layers.Conv2D(
        arch.num_classes, 1, activation="softmax", name="probabilities", dtype="float32"
    )(x)
    return keras.Model(inputs, outputs, name=f"{arch.model}_d{arch.depth}_f{arch.base_filters}")


MODELS = {"unet": build_unet}


def build(arch: Architecture, *, dtype: str = "float32") -> keras.Model:
    arch.validate()
    return MODELS[arch.model](arch, dtype=dtype)


def compile_for_training(
    model: keras.Model, *, learning_rate: float, num_classes: int, mixed_precision: bool
) -> None:
    optimizer = keras.optimizers.Adam(learning_rate)
    if mixed_precision:
        # Scales the loss so float16 gradients do not underflow; Keras only does this by itself
        # when the global policy is mixed, and here the policy is set per layer.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
            keras.metrics.MeanIoU(num_classes=num_classes, sparse_y_pred=False, name="mean_iou"),
        ],
    )
