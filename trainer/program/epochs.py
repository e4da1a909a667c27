"""The epoch loop: Keras fit over the input pipeline, with a checkpoint and a progress line
after every epoch, and bad files named when the pipeline fails on one."""

from __future__ import annotations

import logging
import time

import keras
import tensorflow as tf

from trainer.program import data, progress
from trainer.program.checkpoints import Checkpoints, RunState
from trainer.program.errors import TrainingError

METRIC_NAMES = (
    "loss",
    "pixel_accuracy",
    "mean_iou",
    "val_loss",
    "val_pixel_accuracy",
    "val_mean_iou",
)

log = logging.getLogger("trainer")


class EpochReporter(keras.callbacks.Callback):
    """After each epoch: checkpoint first, then the progress line, so a line always means its
    checkpoint is on disk (a run killed after reading it resumes at the next epoch)."""

    def __init__(
        self,
        *,
        state: RunState,
        checkpoints: Checkpoints,
        epochs: int,
        train_images: int,
        started: float,
    ) -> None:
        super().__init__()
        self.state = state
        self.checkpoints = checkpoints
        self.epochs = epochs
        self.train_images = train_images
        self.started = started
        self._epoch_started = 0.0
        self._validation_started: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.monotonic()
        self._validation_started = None

    def on_test_begin(self, logs=None):
        if self._validation_started is None:
            self._validation_started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        train_seconds = (self._validation_started or now) - self._epoch_started
        record = {
            "epoch": epoch + 1,
            **{name: _number(logs, name) for name in METRIC_NAMES},
            "images_per_second": round(self.train_images / max(train_seconds, 1e-9), 2),
            "epoch_seconds": round(now - self._epoch_started, 3),
        }
        self.state.history = [e for e in self.state.history if e["epoch"] < record["epoch"]]
        self.state.history.append(record)
        self.state.epoch = epoch + 1
        path = self.checkpoints.save(self.state)
        progress.emit(
            "epoch",
            epochs=self.epochs,
            **record,
            elapsed_seconds=round(time.monotonic() - self.started, 3),
            checkpoint=path,
        )
        log.info(
            "epoch %d/%d: loss %.4f, val_loss %.4f, val_pixel_accuracy %.4f, val_mean_iou %.4f, "
            "%.1f images/s, %.1f s",
            record["epoch"],
            self.epochs,
            *(
                record[name] if record[name] is not None else float("nan")
                for name in ("loss", "val_loss", "val_pixel_accuracy", "val_mean_iou")
            ),
            record["images_per_second"],
            record["epoch_seconds"],
        )


def train_epochs(
    model: keras.Model,
    *,
    split: data.Split,
    state: RunState,
    checkpoints: Checkpoints,
    epochs: int,
    image_size: int,
    batch_size: int,
    seed: int,
    started: float,
) -> None:
    """Train from epoch `state.epoch + 1` to `epochs`, checkpointing and reporting each."""
    train = data.training_dataset(
        split.train, image_size=image_size, batch_size=batch_size, seed=seed
    )
    val = data.validation_dataset(split.val, image_size=image_size, batch_size=batch_size)
    reporter = EpochReporter(
        state=state,
        checkpoints=checkpoints,
        epochs=epochs,
        train_images=data.images_per_epoch(len(split.train), batch_size),
        started=started,
    )
    try:
        model.fit(
            train,
            validation_data=val,
            epochs=epochs,
            initial_epoch=state.epoch,
            callbacks=[reporter],
            shuffle=False,  # the pipeline shuffles; Keras cannot shuffle a tf.data.Dataset
            verbose=0,
        )
    except (
        tf.errors.InvalidArgumentError,
        tf.errors.NotFoundError,
        tf.errors.DataLossError,
        tf.errors.PermissionDeniedError,
        tf.errors.UnknownError,
    ):
        # The pipeline does not say which file failed; find out, or let the error stand if
        # every file loads (then it was not the data).
        problems = data.find_unreadable(split.train + split.val, image_size=image_size)
        if not problems:
            raise
        raise TrainingError("; ".join(problems)) from None


def _number(logs: dict | None, name: str) -> float | None:
    value = (logs or {}).get(name)
    return None if value is None else round(float(value), 6)
