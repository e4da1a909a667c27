"""Does the tf.data input pipeline keep up with training? Measured on the CPU, in one run.

- input_pipeline_first_epoch: images/s of the training pipeline alone (read, decode, resize,
  cache, shuffle, augment, batch, prefetch) on a fresh pass, which includes decoding every
  JPEG: the slowest epoch, since later ones read the decoded images from memory;
- input_pipeline_cached: the same pipeline on its second pass (every epoch after the first);
- both against training_step: the model's own training steps on one in-memory batch of the
  same size (no input pipeline at all), the most that training could consume. The goal is a
  ratio of at least 1.5: the pipeline must never be what the accelerator waits for;
- training_throughput: a real short run of `python -m trainer.program` (last epoch's
  images_per_second from its progress line) against the same training_step: close to 1 means
  the pipeline, the callbacks and the checkpoints cost training next to nothing.

Data: synthetic images at 400x300 (about the Oxford-IIIT Pet images' size, so decoding costs
what it would), trained at 128x128 with the default U-Net (depth 3, 32 base filters).

Run: `python -m bench.training_pipeline [--images N] [--steps N]`; a couple of minutes on two
cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAME = "training_pipeline"
IMAGE_SIZE = 128
BATCH_SIZE = 16
SOURCE_SIZE = (400, 300)
GOAL = 1.5


def summary(metric: str, value: float, unit: str, baseline: tuple[str, float] | None = None) -> str:
    line = f"bench: {NAME}: {metric} {value:.2f} {unit}"
    if baseline is not None:
        name, base = baseline
        line += f" | baseline {name} {base:.2f} {unit} | ratio {value / base:.2f}"
    return line


def machine() -> str:
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpus = len(tf.config.list_physical_devices("GPU"))
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {cores} CPU cores, {gpus} GPUs, "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}"
    )


def pipeline_throughput(pairs, *, passes: int) -> tuple[float, float]:
    """Median images/s of `passes` fresh (decoding) passes, and of a cached second pass."""
    from trainer.program import data

    def one_pass(dataset) -> float:
        started = time.perf_counter()
        images = 0
        for batch, _classes in dataset:
            images += int(batch.shape[0])
        return images / (time.perf_counter() - started)

    fresh, cached = [], []
    for _ in range(passes):
        dataset = data.training_dataset(pairs, image_size=IMAGE_SIZE, batch_size=BATCH_SIZE)
        fresh.append(one_pass(dataset))
        cached.append(one_pass(dataset))
    return statistics.median(fresh), statistics.median(cached)


class TrainingStep:
    """The program's model and compile settings, trained on one batch kept in memory."""

    def __init__(self) -> None:
        import numpy as np
        import tensorflow as tf

        from trainer.program.model import Architecture, build, compile_for_training

        self.model = build(Architecture(image_size=IMAGE_SIZE))
        compile_for_training(self.model, learning_rate=1e-3, num_classes=3, mixed_precision=False)
        rng = np.random.default_rng(0)
        images = rng.uniform(0, 255, (BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
        classes = rng.integers(0, 3, (BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.uint8)
        self.batches = tf.data.Dataset.from_tensors((images, classes)).cache().repeat()
        self._fit(2)  # tracing and first-step costs, paid before any timing
        self.images = 0
        self.seconds = 0.0

    def _fit(self, steps: int) -> None:
        self.model.fit(self.batches, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)

    def measure(self, steps: int) -> float:
        started = time.perf_counter()
        self._fit(steps)
        elapsed = time.perf_counter() - started
        self.images += steps * BATCH_SIZE
        self.seconds += elapsed
        return steps * BATCH_SIZE / elapsed

    @property
    def throughput(self) -> float:
        return self.images / self.seconds


def short_run(data_dir: Path, output: Path, *, epochs: int) -> dict:
    """`python -m trainer.program` as a Job would run it; its last epoch progress line."""
    from trainer.program.progress import parse_line

    command = [
        sys.executable,
        "-m",
        "trainer.program",
        "--data",
        str(data_dir),
        "--output",
        str(output),
        "--epochs",
        str(epochs),
        "--batch-size",
        str(BATCH_SIZE),
        "--image-size",
        str(IMAGE_SIZE),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"training run failed:\n{finished.stderr[-3000:]}")
    epochs_seen = [
        event
        for event in map(parse_line, finished.stdout.splitlines())
        if event and event["event"] == "epoch"
    ]
    return epochs_seen[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.training_pipeline")
    parser.add_argument("--images", type=int, default=128, help="synthetic images (default 128)")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps (default 8)")
    parser.add_argument("--passes", type=int, default=3, help="pipeline passes (default 3)")
    parser.add_argument("--epochs", type=int, default=2, help="short run epochs (default 2)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from trainer.program import data
    from trainer.program.synthetic import generate

    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        data_dir = Path(tmp) / "pets"
        width, height = SOURCE_SIZE
        generate(output=str(data_dir), count=args.images, width=width, height=height, seed=0)
        pairs = data.discover(str(data_dir))
        first, cached = pipeline_throughput(pairs, passes=args.passes)
        print(
            f"input pipeline: {first:.1f} img/s decoding {width}x{height} JPEGs, "
            f"{cached:.1f} img/s from the cache (batch {BATCH_SIZE}, {IMAGE_SIZE}x{IMAGE_SIZE})",
            flush=True,
        )
        step = TrainingStep()
        # Half the steps before the short run and half after, so the baseline shares whatever
        # else the machine was doing meanwhile.
        before = step.measure(max(1, args.steps // 2))
        last = short_run(data_dir, Path(tmp) / "run", epochs=args.epochs)
        after = step.measure(max(1, args.steps - args.steps // 2))
        print(
            f"training step alone: {step.throughput:.1f} img/s "
            f"({before:.1f} before the short run, {after:.1f} after)",
            flush=True,
        )
        print(
            f"short run: epoch {last['epoch']}: {last['images_per_second']:.1f} img/s, "
            f"{last['epoch_seconds']:.1f} s with validation",
            flush=True,
        )

    step = step.throughput
    ratio = first / step
    verdict = "met" if ratio >= GOAL else "NOT met"
    print(f"goal: pipeline at least {GOAL}x the training step on its slowest epoch: {verdict}")
    print(summary("input_pipeline_first_epoch", first, "img/s", ("training_step", step)))
    print(summary("input_pipeline_cached", cached, "img/s", ("training_step", step)))
    print(
        summary("training_throughput", last["images_per_second"], "img/s", ("training_step", step))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
