"""Reading what a run left under its output URI, from the control plane's side.

The program writes OUTPUT/metrics.json last (data set size, parameters, every epoch, duration).
The control plane reads it when it can see the output: a local path (or file:// URI) on a
volume the worker shares with the pods, or gs:// through google-cloud-storage when that is
installed. Otherwise it says why not, and the page shows that instead of the file.
"""

from __future__ import annotations

import json
from pathlib import Path

# metrics.json is a few kilobytes; past this it is not the program's file.
METRICS_MAX_BYTES = 1024 * 1024
METRICS_NAME = "metrics.json"


def metrics_location(*, output_uri: str, end: dict | None) -> str:
    """Where the run's metrics.json is: its end line says; else OUTPUT/metrics.json."""
    return (end or {}).get("metrics") or f"{output_uri.rstrip('/')}/{METRICS_NAME}"


def _parsed(raw: bytes, where: str) -> tuple[dict, str]:
    if len(raw) > METRICS_MAX_BYTES:
        return {}, f"{where} is larger than {METRICS_MAX_BYTES} bytes: not read"
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"{where} is not JSON: {exc}"
    if not isinstance(data, dict):
        return {}, f"{where} is not a JSON object"
    return data, ""


def _local(path: Path, where: str) -> tuple[dict, str]:
    try:
        size = path.stat().st_size
        if size > METRICS_MAX_BYTES:
            return {}, f"{where} is larger than {METRICS_MAX_BYTES} bytes: not read"
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, f"{where} is not visible to the control plane (its volume is the Job's)"
    except OSError as exc:
        return {}, f"{where} could not be read: {exc.strerror or exc}"
    return _parsed(raw, where)


def _gcs(uri: str) -> tuple[dict, str]:
    try:
        from google.cloud import storage  # optional: only for gs:// outputs
    except ImportError:
        return {}, (
            f"{uri} is on Cloud Storage and google-cloud-storage is not installed on the "
            "control plane: metrics.json is not read"
        )
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    try:
        raw = storage.Client().bucket(bucket).blob(name).download_as_bytes()
    except Exception as exc:  # the client's errors (auth, not found) have no common base
        return {}, f"{uri} could not be read: {type(exc).__name__}: {exc}"
    return _parsed(raw, uri)


def metrics_file_read(*, uri: str) -> tuple[dict, str]:
    """(metrics.json's content, "") or ({}, why it was not read)."""
    if uri.startswith("gs://"):
        return _gcs(uri)
    if uri.startswith("file://"):
        return _local(Path(uri.removeprefix("file://")), uri)
    if uri.startswith("/"):
        return _local(Path(uri), uri)
    return {}, f"{uri}: not a path or URI the control plane can read"
