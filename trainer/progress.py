"""The training program's progress lines, read from pod logs (format: trainer/program/README.md).

`TRAINING_PROGRESS {json}` on its own line: one `start`, one `epoch` per epoch, one `end`.
This side reads the documented format and never imports the program (it runs in another
image). Unknown keys are kept and ignored; a line that is not valid JSON is skipped, since a
log tail can begin in the middle of anything.
"""

from __future__ import annotations

import json

PREFIX = "TRAINING_PROGRESS"
# Per-epoch figures the charts and the metrics table show, in this order.
EPOCH_METRICS = (
    "loss",
    "val_loss",
    "mean_iou",
    "val_mean_iou",
    "pixel_accuracy",
    "val_pixel_accuracy",
)


def events_in(text: str) -> list[dict]:
    """The progress events of a log, in order."""
    found = []
    for line in text.splitlines():
        head, _, body = line.strip().partition(" ")
        if head != PREFIX:
            continue
        try:
            event = json.loads(body)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") in ("start", "epoch", "end"):
            found.append(event)
    return found


def progress_merge(logs_in_order: list[str]) -> dict:
    """One run's progress from the logs of its pods, oldest attempt first.

    A retried pod resumes from the last checkpoint and prints the epochs it trains again, so
    an epoch seen twice keeps its latest figures; the last attempt's `end` is the run's.
    """
    starts, epochs, end = [], {}, None
    for text in logs_in_order:
        for event in events_in(text):
            kind = event["event"]
            if kind == "start":
                starts.append(event)
                end = None  # a new attempt: an earlier end (failed) is no longer the last word
            elif kind == "epoch" and isinstance(event.get("epoch"), int):
                epochs[event["epoch"]] = event
            elif kind == "end":
                end = event
    return {"starts": starts, "epochs": [epochs[k] for k in sorted(epochs)], "end": end}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def progress_summary(progress: dict, *, finished: bool) -> dict:
    """Epoch i of N, percent, ETA (seconds, from the mean time of the epochs after the first,
    which pays for tracing and decoding), and the per-epoch history."""
    epochs = progress.get("epochs") or []
    starts = progress.get("starts") or []
    end = progress.get("end")
    total = None
    for source in (end, *(reversed(epochs)), *(reversed(starts))):
        if source and isinstance(source.get("epochs"), int):
            total = source["epochs"]
            break
    done = epochs[-1]["epoch"] if epochs else None
    percent = round(100.0 * done / total, 1) if done and total else (0.0 if total else None)
    durations = [
        e["epoch_seconds"] for e in epochs if isinstance(e.get("epoch_seconds"), int | float)
    ]
    typical = _mean(durations[1:]) or _mean(durations)
    eta = None
    if not finished and end is None and total and typical is not None:
        eta = round(max(total - (done or 0), 0) * typical, 1)
    history = [
        {"epoch": e["epoch"], **{k: e.get(k) for k in (*EPOCH_METRICS, "epoch_seconds")}}
        for e in epochs
    ]
    return {
        "epoch": done,
        "epochs": total,
        "percent": percent,
        "eta_seconds": eta,
        "resumed": any(s.get("resumed") for s in starts),
        "history": history,
        "end": end,
    }


def final_metrics(progress: dict) -> dict:
    """The figures of the last epoch, with the end line's validation figures on top."""
    epochs = progress.get("epochs") or []
    metrics = {k: epochs[-1].get(k) for k in EPOCH_METRICS} if epochs else {}
    end = progress.get("end") or {}
    for key in ("val_loss", "val_mean_iou", "val_pixel_accuracy", "epochs_completed", "export"):
        if end.get(key) is not None:
            metrics[key] = end[key]
    return {k: v for k, v in metrics.items() if v is not None}
