"""Build and export the reference U-Net: `python -m inference.reference --output DIR`.

A small encoder-decoder with skip connections for the Oxford-IIIT Pet segmentation task
(classes: pet, background, border), randomly initialised so it builds offline. The training
program trains the same architecture and exports it through `inference.export`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

CLASS_NAMES = ("pet", "background", "border")
DEFAULT_IMAGE_SIZE = 128
DEFAULT_BASE_FILTERS = 32
DEPTH = 3  # down-sampling steps; the image size must be divisible by 2**DEPTH

log = logging.getLogger("inference.reference")


def build_unet(
    *,
    image_size: int = DEFAULT_IMAGE_SIZE,
    base_filters: int = DEFAULT_BASE_FILTERS,
    num_classes: int = len(CLASS_NAMES),
    seed: int = 0,
):
    """Return an uncompiled Keras U-Net taking 0..255 RGB pixels, giving class probabilities."""
    import keras
    from keras import layers

    if image_size <= 0 or image_size % (2**DEPTH):
        raise ValueError(f"image size must be a positive multiple of {2**DEPTH}, got {image_size}")
    if base_filters <= 0:
        raise ValueError(f"base filters must be positive, got {base_filters}")
    keras.utils.set_random_seed(seed)

    def conv_block(x, filters, name):
        for i in (1, 2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
            x = layers.ReLU(name=f"{name}_relu{i}")(x)
        return x

    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    skips = []
    for level in range(DEPTH):
        x = conv_block(x, base_filters * 2**level, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    x = conv_block(x, base_filters * 2**DEPTH, "bottleneck")
    for level in reversed(range(DEPTH)):
        filters = base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 2, strides=2, name=f"up{level}_deconv")(x)
        x = layers.Concatenate(name=f"up{level}_concat")([x, skips[level]])
        x = conv_block(x, filters, f"up{level}")
    outputs = layers.Conv2D(num_classes, 1, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="pet_unet")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.reference",
        description="Build the reference U-Net (random weights) and export it for the server.",
    )
    parser.add_argument(
        "--output",
        required=True,
        help="SavedModel directory to write, or a path ending in .keras for a Keras file",
    )
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE)
    parser.add_argument("--base-filters", type=int, default=DEFAULT_BASE_FILTERS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    try:
        model = build_unet(
            image_size=args.image_size, base_filters=args.base_filters, seed=args.seed
        )
    except ValueError as exc:
        parser.error(str(exc))

    from inference.export import export_keras, export_savedmodel

    output = Path(args.output)
    if output.suffix == ".keras":
        export_keras(model=model, output_path=output)
    else:
        export_savedmodel(model=model, output_dir=output)
    log.info(
        "exported %s (%d parameters, %dx%d input, classes %s) to %s",
        model.name,
        model.count_params(),
        args.image_size,
        args.image_size,
        ",".join(CLASS_NAMES),
        output,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
