"""Which devices train, and in which precision."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import tensorflow as tf

log = logging.getLogger("trainer.devices")


@dataclass(frozen=True)
class Devices:
    strategy: tf.distribute.Strategy
    kind: str  # "gpu" or "cpu"
    replicas: int
    mixed_precision: bool  # what is in effect, not what was asked

    @property
    def dtype_policy(self) -> str:
        return "mixed_float16" if self.mixed_precision else "float32"


def select(*, mixed_precision: bool) -> Devices:
    """Every visible GPU under MirroredStrategy (one replica per GPU, gradients all-reduced),
    or TensorFlow's default strategy on the CPU, where a mirrored copy would only add cost."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        strategy = tf.distribute.MirroredStrategy()
        log.info(
            "training on %d GPU(s) with MirroredStrategy%s",
            strategy.num_replicas_in_sync,
            ", mixed precision (float16 compute, float32 weights)" if mixed_precision else "",
        )
        return Devices(strategy, "gpu", strategy.num_replicas_in_sync, mixed_precision)
    if mixed_precision:
        log.warning(
            "--mixed-precision ignored: no GPU is visible, and float16 on the CPU is slower, "
            "not faster; training in float32"
        )
    log.info("training on the CPU (no GPU visible)")
    return Devices(tf.distribute.get_strategy(), "cpu", 1, False)
