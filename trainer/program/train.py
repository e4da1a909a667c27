"""The command line and the training run: `python -m trainer.program` (see README.md).

Also a script, for the classic container command `python train.py -model unet -data URI`
run from inside trainer/program/: every long option has a single-dash spelling too.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import time
from dataclasses import dataclass

if __package__ in (None, ""):
    # Run as a script: put the repository root first so the package imports by its name, and
    # drop this folder so its modules (data, model, export...) cannot shadow top-level ones.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
    sys.path.insert(0, os.path.dirname(os.path.dirname(_here)))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from trainer.program import data, devices, progress
from trainer.program.checkpoints import Checkpoints, RunState, mismatches
from trainer.program.epochs import METRIC_NAMES, train_epochs
from trainer.program.errors import (
    EXIT_TERMINATED,
    Terminated,
    TrainingError,
)
from trainer.program.export import ensure_writable, export_savedmodel, write_json
from trainer.program.model import MODELS, Architecture, build, compile_for_training

EXPORT_DIR = "model"
METRICS_FILE = "metrics.json"

log = logging.getLogger("trainer")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.program",
        description=(
            "Train a segmentation model on the Oxford-IIIT Pet layout (images/*.jpg, "
            "annotations/trimaps/*.png), checkpoint every epoch, export a SavedModel for the "
            "inference server. Every option also has a single-dash spelling (-model, -data)."
        ),
    )

    def option(name: str, **kwargs) -> None:
        parser.add_argument(f"--{name}", f"-{name}", **kwargs)

    option("model", default="unet", choices=sorted(MODELS), help="architecture (default unet)")
    option(
        "data",
        default=os.environ.get("DATA_URI"),
        help="data folder, local path or gs:// URI (default $DATA_URI)",
    )
    option(
        "output",
        default=os.environ.get("OUTPUT_URI", "output"),
        help="where checkpoints, model/ and metrics.json go (default $OUTPUT_URI, else ./output)",
    )
    option("epochs", type=int, default=20, help="total epochs, counting resumed ones (default 20)")
    option(
        "batch-size",
        type=int,
        default=32,
        help="global batch size, split across GPUs (default 32)",
    )
    option("image-size", type=int, default=128, help="square input size in pixels (default 128)")
    option("depth", type=int, default=3, help="U-Net down-sampling levels (default 3)")
    option("base-filters", type=int, default=32, help="filters of the first level (default 32)")
    option("learning-rate", type=float, default=1e-3, help="Adam learning rate (default 0.001)")
    option("val-split", type=float, default=0.2, help="validation fraction (default 0.2)")
    option("seed", type=int, default=0, help="weights and train/validation split (default 0)")
    option(
        "resume",
        action="store_true",
        help="continue from the newest checkpoint in --output if there is one",
    )
    option(
        "mixed-precision",
        action="store_true",
        help="float16 compute on GPUs (ignored, with a warning, on the CPU)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("--data is required (or set DATA_URI)")
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    if not 0 < args.val_split < 1:
        parser.error(f"--val-split must be between 0 and 1 (exclusive), got {args.val_split}")
    if args.learning_rate <= 0:
        parser.error(f"--learning-rate must be positive, got {args.learning_rate}")
    args.output = args.output.rstrip("/") or args.output
    args.arch = Architecture(
        model=args.model,
        image_size=args.image_size,
        depth=args.depth,
        base_filters=args.base_filters,
    )
    try:
        args.arch.validate()
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # One readable line per event: TensorFlow's Python logger repeats its lines through absl,
    # and checkpoint writes log a timing line each.
    for noisy in ("tensorflow", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    started = time.monotonic()
    previous_handler = _raise_on_sigterm()
    try:
        outcome = run(args, started=started)
    except TrainingError as exc:
        print(f"trainer: error: {exc}", file=sys.stderr, flush=True)
        _emit_end(started, status="failed", error=str(exc), exit_code=exc.exit_code)
        return exc.exit_code
    except Terminated:
        log.warning("SIGTERM: stopping; the last checkpoint stands")
        _emit_end(started, status="terminated", exit_code=EXIT_TERMINATED)
        return EXIT_TERMINATED
    except Exception as exc:
        _emit_end(started, status="failed", error=f"{type(exc).__name__}: {exc}", exit_code=1)
        raise
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    _emit_end(started, status="succeeded", exit_code=0, **outcome)
    return 0


@dataclass
class Plan:
    """Everything decided before the first step: data, where to start, on which devices."""

    split: data.Split
    start: RunState
    checkpoint: str | None  # the checkpoint to restore, None for a fresh start
    devices: devices.Devices


def run(args: argparse.Namespace, *, started: float) -> dict:
    ensure_writable(args.output)
    split = data.split(data.discover(args.data), val_fraction=args.val_split, seed=args.seed)
    config = {**args.arch.as_dict(), "seed": args.seed, "val_split": args.val_split}
    plan = Plan(
        split, *_starting_point(args, config), devices.select(mixed_precision=args.mixed_precision)
    )
    log.info(
        "data: %d images in %s (%d train, %d validation), %dx%d pixels",
        split.size,
        args.data,
        len(split.train),
        len(split.val),
        args.image_size,
        args.image_size,
    )

    keras.utils.set_random_seed(args.seed)
    checkpoints = Checkpoints(args.output)
    with plan.devices.strategy.scope():
        model = build(args.arch, dtype=plan.devices.dtype_policy)
        compile_for_training(
            model,
            learning_rate=args.learning_rate,
            num_classes=args.arch.num_classes,
            mixed_precision=plan.devices.mixed_precision,
        )
        checkpoints.attach(model)
    if plan.checkpoint:
        checkpoints.restore(plan.checkpoint)
        log.info("resumed from %s (epoch %d of %d)", plan.checkpoint, plan.start.epoch, args.epochs)

    parameters = {
        "model": args.model,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "depth": args.depth,
        "base_filters": args.base_filters,
        "learning_rate": args.learning_rate,
        "val_split": args.val_split,
        "seed": args.seed,
        "mixed_precision": plan.devices.mixed_precision,
        "device": plan.devices.kind,
        "replicas": plan.devices.replicas,
        "trainable_parameters": sum(math.prod(v.shape) for v in model.trainable_weights),
    }
    progress.emit(
        "start",
        model=args.model,
        epochs=args.epochs,
        start_epoch=plan.start.epoch + 1,
        resumed=plan.checkpoint is not None,
        train_images=len(split.train),
        val_images=len(split.val),
        batch_size=args.batch_size,
        image_size=args.image_size,
        device=plan.devices.kind,
        replicas=plan.devices.replicas,
        mixed_precision=plan.devices.mixed_precision,
        output=args.output,
        elapsed_seconds=round(time.monotonic() - started, 3),
    )

    state = plan.start
    resumed_from = state.epoch if plan.checkpoint else None
    if state.epoch < args.epochs:
        train_epochs(
            model,
            split=plan.split,
            state=state,
            checkpoints=checkpoints,
            epochs=args.epochs,
            image_size=args.image_size,
            batch_size=args.batch_size,
            seed=args.seed,
            started=started,
        )
    else:
        log.info("the checkpoint already reaches epoch %d: exporting it", state.epoch)

    export_uri = export_savedmodel(trained=model, arch=args.arch, uri=f"{args.output}/{EXPORT_DIR}")
    log.info("exported the model to %s", export_uri)
    final = {name: state.history[-1].get(name) for name in METRIC_NAMES} if state.history else {}
    metrics_uri = f"{args.output}/{METRICS_FILE}"
    # Written last: its presence says the export beside it is complete.
    write_json(
        metrics_uri,
        {
            "status": "succeeded",
            "final": final,
            "epochs": state.history,
            "data": {
                "uri": args.data,
                "images": split.size,
                "train_images": len(split.train),
                "val_images": len(split.val),
                "classes": list(data.CLASS_NAMES),
            },
            "parameters": parameters,
            "resumed_from_epoch": resumed_from,
            "duration_seconds": round(time.monotonic() - started, 3),
            "training_seconds": round(sum(e.get("epoch_seconds", 0) for e in state.history), 3),
            "export": export_uri,
            "checkpoints": checkpoints.directory,
        },
    )
    return {
        "epochs_completed": state.epoch,
        "epochs": args.epochs,
        "export": export_uri,
        "metrics": metrics_uri,
        **{name: final.get(name) for name in ("val_mean_iou", "val_pixel_accuracy", "val_loss")},
    }


def _starting_point(args: argparse.Namespace, config: dict) -> tuple[RunState, str | None]:
    """Fresh, or the newest checkpoint's state when --resume finds one that fits."""
    checkpoints = Checkpoints(args.output)
    latest = checkpoints.latest()
    if latest is None:
        if args.resume:
            log.info("no checkpoint in %s: starting at epoch 1", checkpoints.directory)
        return RunState(config=config), None
    path, state = latest
    if not args.resume:
        raise TrainingError(
            f"output {args.output} already holds a checkpoint at epoch {state.epoch} "
            f"({path}): pass --resume to continue that run, or choose another --output"
        )
    differences = mismatches(state.config, config)
    if differences:
        raise TrainingError(
            f"checkpoint {path} was trained with other parameters ({'; '.join(differences)}): "
            "resume with the same ones, or choose another --output"
        )
    return state, path


def _emit_end(started: float, *, status: str, exit_code: int, **fields) -> None:
    progress.emit(
        "end",
        status=status,
        exit_code=exit_code,
        **fields,
        elapsed_seconds=round(time.monotonic() - started, 3),
    )


def _raise_on_sigterm():
    """Turn SIGTERM (Job deleted, pod evicted) into an exception the run can report; None
    when not on the main thread (an embedding caller keeps its own handling)."""

    def handler(signum, frame):
        raise Terminated()

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


if __name__ == "__main__":
    sys.exit(main())
