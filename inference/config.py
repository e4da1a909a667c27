"""Every knob of the server, read from the environment in one place.

A bad value stops the server at start with a message naming the variable, rather than
surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    model_uri: str
    model_name: str = "model"
    model_version: str = "1"
    host: str = "0.0.0.0"  # noqa: S104 - a pod serves on all its interfaces
    port: int = 8080
    max_batch_size: int = 32
    batch_timeout_ms: float = 5.0
    batch_buckets: tuple[int, ...] = ()
    max_queued_instances: int = 1024
    max_body_bytes: int = 32 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    drain_grace_seconds: float = 5.0
    shutdown_timeout_seconds: float = 20.0
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    class_names: tuple[str, ...] = ()
    warmup: bool = True
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not self.batch_buckets:
            object.__setattr__(self, "batch_buckets", default_buckets(self.max_batch_size))
        if max(self.batch_buckets) != self.max_batch_size:
            raise ConfigError(
                f"BATCH_BUCKETS {list(self.batch_buckets)} must end at MAX_BATCH_SIZE "
                f"({self.max_batch_size})"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        model_uri = env.get("MODEL_URI", "").strip()
        if not model_uri:
            raise ConfigError("MODEL_URI is required: a local path or a tf.io.gfile URI")
        max_batch = _int(env, "MAX_BATCH_SIZE", cls.max_batch_size, minimum=1, maximum=4096)
        buckets = _buckets(env, "BATCH_BUCKETS", max_batch)
        threads = available_cpus()
        return cls(
            model_uri=model_uri,
            model_name=_token(env, "MODEL_NAME", cls.model_name),
            model_version=_token(env, "MODEL_VERSION", cls.model_version),
            host=env.get("HOST", cls.host).strip() or cls.host,
            port=_int(env, "PORT", cls.port, minimum=0, maximum=65535),
            max_batch_size=max_batch,
            batch_timeout_ms=_float(env, "BATCH_TIMEOUT_MS", cls.batch_timeout_ms, maximum=10_000),
            batch_buckets=buckets,
            max_queued_instances=_int(
                env, "MAX_QUEUED_INSTANCES", cls.max_queued_instances, minimum=max_batch
            ),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", cls.max_body_bytes, minimum=1024),
            max_image_pixels=_int(env, "MAX_IMAGE_PIXELS", cls.max_image_pixels, minimum=1),
            drain_grace_seconds=_float(
                env, "DRAIN_GRACE_SECONDS", cls.drain_grace_seconds, maximum=3600
            ),
            shutdown_timeout_seconds=_float(
                env, "SHUTDOWN_TIMEOUT_SECONDS", cls.shutdown_timeout_seconds, maximum=3600
            ),
            intra_op_threads=_int(env, "INTRA_OP_THREADS", threads, minimum=0, maximum=1024),
            inter_op_threads=_int(env, "INTER_OP_THREADS", 0, minimum=0, maximum=1024),
            class_names=_names(env, "CLASS_NAMES"),
            warmup=_bool(env, "WARMUP", True),
            log_level=_log_level(env, "LOG_LEVEL", cls.log_level),
        )


def default_buckets(max_batch: int) -> tuple[int, ...]:
    """Powers of two up to the maximum batch size, and the maximum itself.

    The model only ever sees these batch sizes, each warmed up once at start. A batch that
    falls between two sizes is trimmed to the smaller one (the rest run next), so few sizes
    cost no padding for single-instance requests, and each size left out saves warm-up time.
    """
    sizes = {max_batch}
    power = 1
    while power < max_batch:
        sizes.add(power)
        power *= 2
    return tuple(sorted(sizes))


def available_cpus() -> int:
    """CPUs this container may use: the cgroup quota if one is set, else the affinity mask.

    TensorFlow sizes its thread pools from the host's core count, which oversubscribes a pod
    limited to a few CPUs on a large node; the quota is what the pod can actually use.
    """
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return cpus
    if quota == "max":
        return cpus
    return max(1, min(cpus, math.ceil(int(quota) / int(period))))


def _int(env, key, default, *, minimum=None, maximum=None) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be an integer, got {raw!r}") from None
    _check_range(key, value, minimum, maximum)
    return value


def _float(env, key, default, *, maximum) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{key} must be finite, got {raw!r}")
    _check_range(key, value, 0, maximum)
    return value


def _check_range(key, value, minimum, maximum) -> None:
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{key} must be at most {maximum}, got {value}")


def _token(env, key, default) -> str:
    value = env.get(key, "").strip() or default
    if not _TOKEN.match(value):
        raise ConfigError(
            f"{key} must be 1-63 letters, digits, '.', '_' or '-' starting with a letter or "
            f"digit, got {value!r}"
        )
    return value


def _bool(env, key, default) -> bool:
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{key} must be true or false, got {raw!r}")


def _buckets(env, key, max_batch) -> tuple[int, ...]:
    raw = env.get(key, "").strip()
    if not raw:
        return default_buckets(max_batch)
    try:
        sizes = sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"{key} must be comma-separated integers, got {raw!r}") from None
    if not sizes or sizes[0] < 1:
        raise ConfigError(f"{key} must list positive batch sizes, got {raw!r}")
    if sizes[-1] != max_batch:
        raise ConfigError(f"{key} must end at MAX_BATCH_SIZE ({max_batch}), got {raw!r}")
    return tuple(sizes)


def _names(env, key) -> tuple[str, ...]:
    raw = env.get(key, "").strip()
    if not raw:
        return ()
    names = tuple(part.strip() for part in raw.split(","))
    if any(not name for name in names) or len(set(names)) != len(names):
        raise ConfigError(f"{key} must be distinct, non-empty, comma-separated names: {raw!r}")
    return names


def _log_level(env, key, default) -> str:
    value = (env.get(key, "").strip() or default).upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"{key} must be DEBUG, INFO, WARNING or ERROR, got {value!r}")
    return value
