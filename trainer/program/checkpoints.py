"""Per-epoch checkpoints under OUTPUT/checkpoints/, and what a resumed run needs from them.

Each checkpoint holds the model's and the optimizer's variables and one JSON string, the run
state: epochs completed, the parameters that must match to resume, and the per-epoch metrics.
Keeping the state inside the checkpoint makes it land with the weights or not at all, so a kill
at any moment leaves weights and history that agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import keras
import tensorflow as tf

from trainer.program.errors import TrainingError

CHECKPOINT_DIR = "checkpoints"
KEEP = 2  # the newest, and one before it in case the newest is being written when killed
_STATE_KEY = "state/.ATTRIBUTES/VARIABLE_VALUE"


@dataclass
class RunState:
    epoch: int = 0  # epochs completed
    config: dict = field(default_factory=dict)  # what must match to resume
    history: list[dict] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"epoch": self.epoch, "config": self.config, "history": self.history})

    @classmethod
    def from_json(cls, text: str) -> RunState:
        raw = json.loads(text)
        return cls(epoch=int(raw["epoch"]), config=raw["config"], history=raw["history"])


class Checkpoints:
    def __init__(self, output: str) -> None:
        self.directory = f"{output.rstrip('/')}/{CHECKPOINT_DIR}"
        self._state = None
        self._manager = None
        self._checkpoint = None

    def latest(self) -> tuple[str, RunState] | None:
        """The newest checkpoint's path and run state, read without building a model."""
        try:
            path = tf.train.latest_checkpoint(self.directory)
            if path is None:
                return None
            text = tf.train.load_checkpoint(path).get_tensor(_STATE_KEY)
            return path, RunState.from_json(text.decode() if isinstance(text, bytes) else text)
        except (tf.errors.OpError, KeyError, ValueError) as exc:
            raise TrainingError(
                f"cannot read the checkpoint in {self.directory}: {_first_line(exc)}"
            ) from None

    def attach(self, model: keras.Model) -> None:
        """Track `model` and its optimizer; call inside the strategy scope, after compile."""
        # Slot variables are created lazily on the first step; build them now so a restore
        # fills them instead of being deferred (and silently dropped) under a strategy.
        model.optimizer.build(model.trainable_variables)
        self._state = tf.Variable("", dtype=tf.string, trainable=False)
        self._checkpoint = tf.train.Checkpoint(
            model=model, optimizer=model.optimizer, state=self._state
        )
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, self.directory, max_to_keep=KEEP
        )

    def restore(self, path: str) -> None:
        try:
            self._checkpoint.restore(path).assert_existing_objects_matched()
        except (tf.errors.OpError, AssertionError, ValueError) as exc:
            raise TrainingError(f"cannot restore checkpoint {path}: {_first_line(exc)}") from None

    def save(self, state: RunState) -> str:
        self._state.assign(state.to_json())
        return self._manager.save(checkpoint_number=state.epoch)


def mismatches(saved: dict, wanted: dict) -> list[str]:
    """'name: checkpoint X, now Y' for each parameter that differs."""
    return [
        f"{key}: checkpoint {saved.get(key)!r}, now {wanted[key]!r}"
        for key in sorted(wanted)
        if saved.get(key) != wanted[key]
    ]


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "message", None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__
