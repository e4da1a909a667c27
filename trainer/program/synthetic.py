"""A small synthetic data set in the Oxford-IIIT Pet layout, for tests and the demo.

`python -m trainer.program.synthetic --output DIR_OR_GS_URI --count N` writes
images/<shape>_<i>.jpg (one filled shape on a noisy gradient background) and
annotations/trimaps/<shape>_<i>.png with Oxford's trimap values: 1 = the shape ("pet"),
2 = background, 3 = a border band along the shape's outline. Drawn with numpy and encoded by
TensorFlow, so the training image needs nothing beyond TensorFlow.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from trainer.program.data import (
    IMAGES_DIR,
    TRIMAP_BACKGROUND,
    TRIMAP_BORDER,
    TRIMAP_PET,
    TRIMAPS_DIR,
)

SHAPES = ("ellipse", "rectangle", "triangle")

log = logging.getLogger("trainer.synthetic")


def draw(
    rng: np.random.Generator, *, width: int, height: int, shape: str
) -> tuple[np.ndarray, np.ndarray]:
    """One RGB uint8 image [h, w, 3] and its trimap [h, w, 1]."""
    inside = _shape_mask(rng, width=width, height=height, shape=shape)
    radius = max(1, round(min(width, height) / 40))
    border = _dilate(inside, radius) & ~_dilate(~inside, radius)
    trimap = np.full((height, width, 1), TRIMAP_BACKGROUND, np.uint8)
    trimap[inside[..., None] & ~border[..., None]] = TRIMAP_PET
    trimap[border[..., None]] = TRIMAP_BORDER

    image = _background(rng, width=width, height=height)
    # A colour far from the background's mean, so the task is learnable by a tiny network.
    colour = 255.0 - image.mean(axis=(0, 1)) + rng.normal(0, 20, 3)
    texture = rng.normal(0, 12, (height, width, 1))
    image = np.where(inside[..., None], colour + texture, image)
    return np.clip(image, 0, 255).astype(np.uint8), trimap


def generate(*, output: str, count: int, width: int = 128, height: int = 96, seed: int = 0) -> int:
    """Write `count` image/trimap pairs under `output` (a local path or a gfile URI)."""
    import tensorflow as tf

    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if min(width, height) < 8:
        raise ValueError(f"images must be at least 8x8 pixels, got {width}x{height}")
    root = output.rstrip("/")
    tf.io.gfile.makedirs(f"{root}/{IMAGES_DIR}")
    tf.io.gfile.makedirs(f"{root}/{TRIMAPS_DIR}")
    rng = np.random.default_rng(seed)
    for i in range(count):
        shape = SHAPES[i % len(SHAPES)]
        image, trimap = draw(rng, width=width, height=height, shape=shape)
        stem = f"{shape}_{i + 1}"
        _write(f"{root}/{IMAGES_DIR}/{stem}.jpg", tf.io.encode_jpeg(image, quality=92).numpy())
        _write(f"{root}/{TRIMAPS_DIR}/{stem}.png", tf.io.encode_png(trimap).numpy())
    return count


def _shape_mask(rng: np.random.Generator, *, width: int, height: int, shape: str) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height
    rx, ry = rng.uniform(0.15, 0.3) * width, rng.uniform(0.15, 0.3) * height
    if shape == "ellipse":
        return ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    if shape == "rectangle":
        return (np.abs(xs - cx) <= rx) & (np.abs(ys - cy) <= ry)
    if shape == "triangle":
        # Inside all three edges of an upright triangle: below the two slopes, above the base.
        top, base = cy - ry, cy + ry
        slope = rx / (2 * ry)
        half_width = (ys - top) * slope
        return (ys >= top) & (ys <= base) & (np.abs(xs - cx) <= half_width)
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


def _background(rng: np.random.Generator, *, width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (xs / width) * np.cos(angle) + (ys / height) * np.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = start + ramp[..., None] * (end - start)
    return image + rng.normal(0, 8, (height, width, 3))


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a square: a square is separable, so rows then columns (linear in
    the radius instead of quadratic)."""
    size = 2 * radius + 1
    windows = np.lib.stride_tricks.sliding_window_view
    rows = windows(np.pad(mask, ((0, 0), (radius, radius)), mode="edge"), size, axis=1)
    rows = rows.any(axis=-1)
    columns = windows(np.pad(rows, ((radius, radius), (0, 0)), mode="edge"), size, axis=0)
    return columns.any(axis=-1)


def _write(path: str, data: bytes) -> None:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.program.synthetic",
        description="Write a synthetic data set in the Oxford-IIIT Pet layout.",
    )
    parser.add_argument("--output", required=True, help="folder to write (local path or gs://)")
    parser.add_argument("--count", type=int, default=32, help="image/trimap pairs (default 32)")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        written = generate(
            output=args.output,
            count=args.count,
            width=args.width,
            height=args.height,
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    log.info(
        "wrote %d images and trimaps (%dx%d) to %s", written, args.width, args.height, args.output
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
