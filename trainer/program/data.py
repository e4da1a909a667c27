"""The Oxford-IIIT Pet layout on disk or in object storage, and the tf.data input pipeline.

A data folder holds images/<name>.jpg and annotations/trimaps/<name>.png, paired by name.
Trimap pixels are 1 = pet, 2 = background, 3 = border; the model's classes are those minus
one (0 pet, 1 background, 2 border), the order the inference server names them in.
Everything is read through tf.io.gfile, so a local path and a gs:// URI work alike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import tensorflow as tf

from trainer.program.errors import TrainingError

IMAGES_DIR = "images"
TRIMAPS_DIR = "annotations/trimaps"
IMAGE_SUFFIXES = (".jpg", ".jpeg")
TRIMAP_SUFFIX = ".png"
TRIMAP_PET, TRIMAP_BACKGROUND, TRIMAP_BORDER = 1, 2, 3
CLASS_NAMES = ("pet", "background", "border")
LAYOUT = "images/*.jpg and annotations/trimaps/*.png, paired by name"


@dataclass(frozen=True)
class Pair:
    image: str
    trimap: str


@dataclass(frozen=True)
class Split:
    train: list[Pair]
    val: list[Pair]

    @property
    def size(self) -> int:
        return len(self.train) + len(self.val)


def discover(uri: str) -> list[Pair]:
    """Every image/trimap pair under `uri`, sorted by name; TrainingError says what is wrong."""
    root = uri.rstrip("/")
    if not _isdir(root):
        what = "is not a folder" if _exists(root) else "does not exist"
        raise TrainingError(f"data folder {uri} {what}")
    images = _listing(f"{root}/{IMAGES_DIR}", IMAGE_SUFFIXES)
    trimaps = _listing(f"{root}/{TRIMAPS_DIR}", (TRIMAP_SUFFIX,))
    if not images and not trimaps:
        raise TrainingError(f"data folder {uri} is empty: expected {LAYOUT}")
    if not images:
        raise TrainingError(f"data folder {uri} has no images in {root}/{IMAGES_DIR}/ (*.jpg)")
    without_trimap = sorted(set(images) - set(trimaps))
    without_image = sorted(set(trimaps) - set(images))
    if without_trimap or without_image:
        problems = []
        if without_trimap:
            problems.append(
                f"{len(without_trimap)} image(s) have no trimap (first: "
                f"{images[without_trimap[0]]}, expected {root}/{TRIMAPS_DIR}/"
                f"{without_trimap[0]}{TRIMAP_SUFFIX})"
            )
        if without_image:
            problems.append(
                f"{len(without_image)} trimap(s) have no image (first: {trimaps[without_image[0]]})"
            )
        raise TrainingError(
            f"data folder {uri} has mismatched images and masks: " + "; ".join(problems)
        )
    return [Pair(images[name], trimaps[name]) for name in sorted(images)]


def split(pairs: list[Pair], *, val_fraction: float, seed: int) -> Split:
    """A seeded shuffle of the sorted pairs then a cut: a resumed run validates on exactly the
    same images, whatever order the storage listed them in."""
    if len(pairs) < 2:
        raise TrainingError(
            f"the data set has {len(pairs)} image(s); training needs at least 2 "
            "(one to train on, one to validate on)"
        )
    shuffled = sorted(pairs, key=lambda pair: pair.image)
    random.Random(seed).shuffle(shuffled)
    val_count = min(max(1, round(len(shuffled) * val_fraction)), len(shuffled) - 1)
    return Split(train=shuffled[val_count:], val=shuffled[:val_count])


def load_pair(image_path: tf.Tensor, trimap_path: tf.Tensor, image_size: int):
    """Decode and resize one pair: uint8 image [s, s, 3], uint8 classes [s, s, 1].

    Cheap checks run as assertions so that a bad file fails the pipeline at once; which file
    it was is then found by `find_unreadable`, since tf.data errors do not name their element.
    """
    image = tf.io.decode_image(tf.io.read_file(image_path), channels=3, expand_animations=False)
    trimap = tf.io.decode_image(tf.io.read_file(trimap_path), channels=1, expand_animations=False)
    checks = [
        tf.debugging.assert_equal(
            tf.shape(image)[:2], tf.shape(trimap)[:2], message="image and trimap sizes differ"
        ),
        tf.debugging.assert_greater_equal(trimap, tf.constant(TRIMAP_PET, tf.uint8)),
        tf.debugging.assert_less_equal(trimap, tf.constant(TRIMAP_BORDER, tf.uint8)),
    ]
    with tf.control_dependencies(checks):
        size = (image_size, image_size)
        image = tf.image.resize(image, size, method="bilinear", antialias=True)
        # Nearest neighbour: a class index must never be blended into another class.
        trimap = tf.image.resize(trimap, size, method="nearest")
    # Cached as uint8: a quarter of float32's memory, so the whole Oxford set fits.
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    classes = tf.cast(trimap, tf.uint8) - TRIMAP_PET
    return image, classes


def augment(image: tf.Tensor, classes: tf.Tensor):
    """A random horizontal flip (image and mask together) and brightness/contrast jitter."""
    image = tf.cast(image, tf.float32)
    flip = tf.random.uniform(()) < 0.5
    image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
    classes = tf.cond(flip, lambda: tf.image.flip_left_right(classes), lambda: classes)
    image = tf.image.random_brightness(image, max_delta=0.1 * 255)
    image = tf.image.random_contrast(image, 0.8, 1.2)
    return tf.clip_by_value(image, 0.0, 255.0), classes


def _as_float(image: tf.Tensor, classes: tf.Tensor):
    return tf.cast(image, tf.float32), classes


def decoded(pairs: list[Pair], *, image_size: int) -> tf.data.Dataset:
    """Decoded, resized pairs, decoded in parallel and in no particular order."""
    paths = tf.data.Dataset.from_tensor_slices(
        ([p.image for p in pairs], [p.trimap for p in pairs])
    )
    options = tf.data.Options()
    options.deterministic = False  # order is shuffled afterwards anyway; don't wait on stragglers
    return paths.with_options(options).map(
        lambda image, trimap: load_pair(image, trimap, image_size),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def training_dataset(
    pairs: list[Pair], *, image_size: int, batch_size: int, seed: int | None = None
) -> tf.data.Dataset:
    """Decode once (epoch 1), then serve from memory: shuffled, augmented, batched, prefetched.

    Only full batches: one batch shape means one traced training step (a short last batch
    costs a second trace, and on several GPUs an uneven split); the images left over differ
    from epoch to epoch since the order is reshuffled.
    """
    return (
        decoded(pairs, image_size=image_size)
        .cache()
        .shuffle(min(len(pairs), 4096), seed=seed, reshuffle_each_iteration=True)
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size, drop_remainder=len(pairs) >= batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def images_per_epoch(train_images: int, batch_size: int) -> int:
    """How many images one pass of `training_dataset` trains on."""
    if train_images < batch_size:
        return train_images
    return train_images // batch_size * batch_size


def validation_dataset(pairs: list[Pair], *, image_size: int, batch_size: int) -> tf.data.Dataset:
    return (
        decoded(pairs, image_size=image_size)
        .cache()
        .map(_as_float, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def find_unreadable(pairs: list[Pair], *, image_size: int, limit: int = 3) -> list[str]:
    """Which pairs the pipeline cannot load, each as 'path: reason' (at most `limit`).

    Runs only after the pipeline failed: one pass that skips failing elements tells which
    ones they were, then each is loaded eagerly to get its own error message.
    """
    indexed = tf.data.Dataset.from_tensor_slices(
        (tf.range(len(pairs)), [p.image for p in pairs], [p.trimap for p in pairs])
    )
    loaded = indexed.map(
        lambda index, image, trimap: (index, *load_pair(image, trimap, image_size)),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).ignore_errors()
    good = {int(index) for index, _, _ in loaded.as_numpy_iterator()}
    problems = []
    for index, pair in enumerate(pairs):
        if index not in good:
            problems.append(_describe_failure(pair, image_size))
            if len(problems) >= limit:
                break
    return problems


def _describe_failure(pair: Pair, image_size: int) -> str:
    for path, channels in ((pair.image, 3), (pair.trimap, 1)):
        try:
            tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        except tf.errors.OpError as exc:
            return f"cannot read {path}: {_first_line(exc.message)}"
    image = tf.io.decode_image(tf.io.read_file(pair.image), channels=3, expand_animations=False)
    trimap = tf.io.decode_image(tf.io.read_file(pair.trimap), channels=1, expand_animations=False)
    if image.shape[:2] != trimap.shape[:2]:
        return (
            f"{pair.image} is {image.shape[1]}x{image.shape[0]} pixels but its trimap "
            f"{pair.trimap} is {trimap.shape[1]}x{trimap.shape[0]}"
        )
    values = sorted(int(v) for v in tf.unique(tf.reshape(trimap, [-1]))[0].numpy())
    if values and (values[0] < TRIMAP_PET or values[-1] > TRIMAP_BORDER):
        return (
            f"trimap {pair.trimap} has values {values}; expected only 1 (pet), "
            "2 (background) and 3 (border)"
        )
    try:
        load_pair(tf.constant(pair.image), tf.constant(pair.trimap), image_size)
    except tf.errors.OpError as exc:
        return f"cannot load {pair.image} with {pair.trimap}: {_first_line(exc.message)}"
    return f"cannot load {pair.image} with {pair.trimap} (it loads alone: a transient read error?)"


def _listing(folder: str, suffixes: tuple[str, ...]) -> dict[str, str]:
    """{stem: path} of the files in `folder` with one of `suffixes` (hidden files skipped:
    the Oxford archive carries macOS '._name' resource forks next to the trimaps)."""
    if not _isdir(folder):
        return {}
    try:
        names = tf.io.gfile.listdir(folder)
    except tf.errors.OpError as exc:
        raise TrainingError(f"cannot list {folder}: {_first_line(exc.message)}") from None
    found = {}
    for name in names:
        name = name.rstrip("/")
        stem, dot, suffix = name.rpartition(".")
        if dot and not name.startswith(".") and f".{suffix.lower()}" in suffixes:
            found[stem] = f"{folder}/{name}"
    return found


def _isdir(path: str) -> bool:
    try:
        return tf.io.gfile.isdir(path)
    except tf.errors.OpError as exc:
        raise TrainingError(f"cannot read {path}: {_first_line(exc.message)}") from None


def _exists(path: str) -> bool:
    try:
        return tf.io.gfile.exists(path)
    except tf.errors.OpError:
        return False


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"
