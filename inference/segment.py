"""The image side of `POST /v1/segment`: decode, resize for the model, encode the mask.

Pure functions over bytes and numpy arrays; the server runs them on a small thread pool
because Pillow releases the GIL while decoding, resizing and encoding.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from inference.errors import ApiError, bad_request

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


@dataclass(frozen=True)
class SegmentSpec:
    """What the default signature needs for segmentation, derived once at load."""

    input_key: str
    output_key: str
    height: int | None  # None: the model takes any size, the image goes in as it is
    width: int | None
    num_classes: int
    class_names: tuple[str, ...]


def segment_spec(signature, class_names: tuple[str, ...]) -> SegmentSpec | str:
    """The segmentation spec of a signature, or why it cannot segment images."""
    if len(signature.inputs) != 1 or len(signature.outputs) != 1:
        return "the default signature must have exactly one input and one output"
    (input_key, tin), (output_key, tout) = (
        next(iter(signature.inputs.items())),
        next(iter(signature.outputs.items())),
    )
    if tin.shape is None or len(tin.shape) != 4 or tin.shape[3] != 3 or tin.dtype.kind != "f":
        return "the default signature's input must be float images shaped [batch, h, w, 3]"
    if tout.shape is None or len(tout.shape) != 4 or tout.shape[3] is None:
        return "the default signature's output must be class scores shaped [batch, h, w, classes]"
    num_classes = tout.shape[3]
    if class_names and len(class_names) != num_classes:
        raise ValueError(
            f"CLASS_NAMES lists {len(class_names)} names but the model has {num_classes} classes"
        )
    if not class_names:
        class_names = (
            ("pet", "background", "border")
            if num_classes == 3
            else tuple(f"class_{i}" for i in range(num_classes))
        )
    return SegmentSpec(input_key, output_key, tin.shape[1], tin.shape[2], num_classes, class_names)


def sniff_format(data: bytes) -> str | None:
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    return None


def decode(data: bytes, *, max_pixels: int) -> Image.Image:
    """Decode PNG or JPEG bytes to an RGB image, refusing anything else or anything huge."""
    if not data:
        raise bad_request(
            "the request carries no image: send PNG or JPEG bytes", reason="empty_body"
        )
    kind = sniff_format(data)
    if kind is None:
        raise bad_request(
            "the body is not a PNG or JPEG image (unrecognised file signature)",
            reason="bad_image",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            width, height = image.size
            if width * height > max_pixels:
                raise ApiError(
                    413,
                    f"image is {width}x{height} = {width * height} pixels, over the "
                    f"MAX_IMAGE_PIXELS limit of {max_pixels}",
                    reason="too_large",
                )
            image.load()
            rgb = image.convert("RGB")
    except ApiError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise bad_request(f"cannot decode the {kind} image: {exc}", reason="bad_image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ApiError(413, f"image refused: {exc}", reason="too_large") from None
    if rgb.width == 0 or rgb.height == 0:
        raise bad_request("the image has no pixels", reason="bad_image")
    return rgb


def to_model_input(image: Image.Image, spec: SegmentSpec) -> np.ndarray:
    """A [1, h, w, 3] float32 batch of 0..255 pixels, resized to the model's input size."""
    fixed = spec.height is not None and spec.width is not None
    if fixed and image.size != (spec.width, spec.height):
        image = image.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32)[np.newaxis]


def mask_from_scores(scores: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
    """Per-pixel class index at the original image size, from [h, w, classes] scores."""
    mask = np.argmax(scores, axis=-1).astype(np.uint8)
    if (mask.shape[1], mask.shape[0]) != original_size:
        # Nearest neighbour: a class index must never be interpolated into another class.
        mask = np.asarray(Image.fromarray(mask).resize(original_size, Image.Resampling.NEAREST))
    return mask


def mask_png(mask: np.ndarray) -> bytes:
    """The mask as an 8-bit greyscale PNG whose pixel values are class indices."""
    buffer = io.BytesIO()
    Image.fromarray(mask, mode="L").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def class_fractions(mask: np.ndarray, spec: SegmentSpec) -> dict[str, float]:
    counts = np.bincount(mask.ravel(), minlength=spec.num_classes)
    total = float(mask.size)
    return {name: float(counts[i]) / total for i, name in enumerate(spec.class_names)}
