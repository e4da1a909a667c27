"""Metric time series in Redis: one packed array of float32 records per series and hour.

Layout, under `<REDIS_PREFIX>:metrics:<cluster digest>`:

    :<step>:<hour>:<series>   the hour's records at `step` seconds (slot = seconds into the
                              hour // step); each record is the series' fields as float32;
                              NaN marks a slot with no sample
    :s:<hour>                 SET of the series written in that hour (compaction, pruning)
    :dp:<hour>:<ns>/<name>    SET of the pods that belonged to a deployment in that hour
    :hours                    ZSET of the hours holding data; :hstate HASH of what was done
    :state                    HASH: last cycle's outcome, time, duration and counts
    :watch                    HASH: live subscribers per series (broadcasts go only there)

A sample is two commands (SET of a NaN hour array if absent, then SETRANGE of one record), so
a cycle is one pipeline whatever the number of pods. Three levels: the sampling interval,
kept for the last two hours; 1-minute means, kept for seven; 5-minute means, kept for the
retention. Reads take, per hour, the finest level still there and average it to the step asked.
Series ids: "p/<ns>/<pod>", "n/<node>", "d/<ns>/<deployment>".
"""

from __future__ import annotations

import hashlib
import math
import struct
from array import array
from collections.abc import Iterable

import redis

HOUR = 3600
MINUTE_STEP = 60
FIVE_MINUTE_STEP = 300
ROLLUP_STEPS = (MINUTE_STEP, FIVE_MINUTE_STEP)
# Hours of raw samples kept: the current hour and the one before, so a 1 h window is raw.
RAW_HOURS = 2
# Hours of 1-minute means kept, so every window up to 6 h has them.
MINUTE_HOURS = 7
NAN = float("nan")
# Records are written little-endian with struct and read back with array("f"), which uses the
# machine's order: refuse to run where the two differ rather than read garbage.
if array("f", [1.0]).tobytes() != struct.pack("<f", 1.0):  # pragma: no cover
    raise ImportError("metric series need a little-endian machine")

FIELDS = {
    "p": ("cpu", "memory"),
    "n": ("cpu", "memory"),
    "d": (
        "replicas",
        "ready",
        "cpu",
        "memory",
        "hpa_current_replicas",
        "hpa_desired_replicas",
        "hpa_current",
        "hpa_target",
    ),
}


# Series per script call: bounds how long one call keeps Redis busy (a few milliseconds).
WRITE_BATCH = 2000
# ARGV: key prefix, slot, slots per hour, ttl, newline-separated series, their records packed
# back to back. A key that does not exist yet starts as an hour of NaN (no sample), since
# SETRANGE would pad it with zeros, and zero is a real value.
_WRITE_SCRIPT = """
local prefix, slot, slots, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local records, pos = ARGV[6], 1
local nan = string.char(0, 0, 192, 127)
for name in string.gmatch(ARGV[5], "[^\\n]+") do
  local width = 2
  if string.sub(name, 1, 1) == "d" then width = 8 end
  local size = width * 4
  local key = prefix .. name
  if redis.call("EXISTS", key) == 0 then
    redis.call("SET", key, string.rep(nan, slots * width), "EX", ttl)
  end
  redis.call("SETRANGE", key, slot * size, string.sub(records, pos, pos + size - 1))
  pos = pos + size
end
return pos - 1
"""


def width_of(series: str) -> int:
    return len(FIELDS[series[0]])


_nan_blobs: dict[tuple[int, int], bytes] = {}


def nan_blob(slots: int, width: int) -> bytes:
    blob = _nan_blobs.get((slots, width))
    if blob is None:
        blob = array("f", [NAN] * (slots * width)).tobytes()
        _nan_blobs[(slots, width)] = blob
    return blob


def downsample(values: array, *, width: int, factor: int) -> array:
    """Means of each `factor` consecutive records, field by field, ignoring missing (NaN)."""
    records = len(values) // width
    stride = factor * width
    if not any(v != v for v in values) and records % factor == 0:
        # A series sampled all hour long (the usual case): no gaps to skip.
        out = array("f", bytes(4 * width * (records // factor)))
        for field in range(width):
            column = values[field::width]
            out[field::width] = array(
                "f", [sum(column[i : i + factor]) / factor for i in range(0, records, factor)]
            )
        return out
    out = array("f")
    for start in range(0, records * width, stride):
        stop = min(start + stride, records * width)
        for field in range(width):
            present = [v for v in values[start + field : stop : width] if v == v]
            out.append(sum(present) / len(present) if present else NAN)
    return out


class SeriesStore:
    def __init__(self, client: redis.Redis, *, prefix: str, cluster: str) -> None:
        self.client = client
        digest = hashlib.sha256(cluster.encode()).hexdigest()[:16]
        self.base = f"{prefix}:metrics:{digest}"

    # -- keys ----------------------------------------------------------------------------

    def key(self, step: int, hour: int, series: str) -> str:
        return f"{self.base}:{step}:{hour}:{series}"

    def members_key(self, hour: int, deployment: str) -> str:
        return f"{self.base}:dp:{hour}:{deployment}"

    @property
    def state_key(self) -> str:
        return f"{self.base}:state"

    @property
    def watch_key(self) -> str:
        return f"{self.base}:watch"

    @property
    def lock_key(self) -> str:
        return f"{self.base}:lock"

    # -- writes --------------------------------------------------------------------------

    def write(
        self,
        *,
        at: float,
        interval: int,
        samples: dict[str, tuple[float, ...]],
        members: dict[str, list[str]],
        retention: int,
    ) -> None:
        """Store one cycle's records (`samples`: series -> fields) in one pipeline."""
        hour = int(at // HOUR)
        slots = HOUR // interval
        offset = int((at - hour * HOUR) // interval)
        # Keys outlive the pruning that should remove them, so a cluster that stopped being
        # sampled (removed, or no beat running) still empties itself.
        ttl = (RAW_HOURS + 1) * HOUR
        names = list(samples)
        packers: dict[int, struct.Struct] = {}
        pipe = self.client.pipeline(transaction=False)
        # Per-command overhead in redis-py (packing, parsing replies) was 80 % of a 30,000-pod
        # cycle, so the records go to Redis as one buffer per batch and a script stores them.
        for i in range(0, len(names), WRITE_BATCH):
            batch = names[i : i + WRITE_BATCH]
            records = []
            for series in batch:
                record = samples[series]
                width = len(record)
                if width != width_of(series):
                    raise ValueError(f"{series}: {width} fields, expected {width_of(series)}")
                packer = packers.get(width) or packers.setdefault(
                    width, struct.Struct(f"<{width}f")
                )
                records.append(packer.pack(*record))
            pipe.eval(
                _WRITE_SCRIPT,
                0,
                f"{self.base}:{interval}:{hour}:",
                offset,
                slots,
                ttl,
                "\n".join(batch),
                b"".join(records),
            )
        series_set = f"{self.base}:s:{hour}"
        for i in range(0, len(names), 5000):
            pipe.sadd(series_set, *names[i : i + 5000])
        pipe.expire(series_set, retention + 2 * HOUR)
        for deployment, pods in members.items():
            if pods:
                key = self.members_key(hour, deployment)
                pipe.sadd(key, *pods)
                pipe.expire(key, retention + 2 * HOUR)
        pipe.zadd(f"{self.base}:hours", {str(hour): hour})
        pipe.execute()

    def state_set(self, **fields: object) -> None:
        self.client.hset(self.state_key, mapping={k: str(v) for k, v in fields.items()})

    def state(self) -> dict[str, str]:
        raw = self.client.hgetall(self.state_key)
        return {k.decode(): v.decode() for k, v in raw.items()}

    # -- compaction and pruning ------------------------------------------------------------

    def hours(self) -> list[int]:
        return [int(h) for h in self.client.zrange(f"{self.base}:hours", 0, -1)]

    def _hour_state(self) -> dict[int, str]:
        raw = self.client.hgetall(f"{self.base}:hstate")
        return {int(k): v.decode() for k, v in raw.items()}

    def hours_to_compact(self, *, now: float) -> list[int]:
        current = int(now // HOUR)
        done = self._hour_state()
        return [h for h in self.hours() if h < current and "c" not in done.get(h, "")]

    def compact(self, *, hour: int, interval: int, retention: int, batch: int = 2000) -> int:
        """Write the 1- and 5-minute means of a finished hour from its raw records."""
        series = sorted(s.decode() for s in self.client.smembers(f"{self.base}:s:{hour}"))
        steps = [s for s in ROLLUP_STEPS if s > interval and s % interval == 0]
        for i in range(0, len(series), batch):
            chunk = series[i : i + batch]
            blobs = self.client.mget([self.key(interval, hour, s) for s in chunk])
            pipe = self.client.pipeline(transaction=False)
            for name, blob in zip(chunk, blobs, strict=True):
                if blob is None:
                    continue
                values = array("f")
                values.frombytes(blob)
                source_step, width = interval, width_of(name)
                for step in steps:
                    values = downsample(values, width=width, factor=step // source_step)
                    source_step = step
                    ttl = (MINUTE_HOURS + 1) * HOUR if step == MINUTE_STEP else retention + HOUR
                    pipe.set(self.key(step, hour, name), values.tobytes(), ex=ttl)
            pipe.execute()
        self.client.hset(f"{self.base}:hstate", str(hour), "c")
        return len(series)

    def prune(self, *, now: float, interval: int, retention: int) -> int:
        """Drop what has aged out of each level; returns how many keys were removed."""
        current = int(now // HOUR)
        state = self._hour_state()
        removed = 0
        for hour in self.hours():
            done = state.get(hour, "")
            end = (hour + 1) * HOUR
            steps: list[int] = []
            mark = done
            if end <= now - retention:
                steps = [interval, MINUTE_STEP, FIVE_MINUTE_STEP]
                mark = None
            else:
                if hour <= current - RAW_HOURS and "c" in done and "r" not in done:
                    steps.append(interval)
                    mark += "r"
                if end <= now - (MINUTE_HOURS - 1) * HOUR and "m" not in done:
                    steps.append(MINUTE_STEP)
                    mark += "m"
            if not steps:
                continue
            series = [s.decode() for s in self.client.smembers(f"{self.base}:s:{hour}")]
            keys = [self.key(step, hour, s) for s in series for step in set(steps)]
            if mark is None:
                keys += [self.members_key(hour, s[2:]) for s in series if s.startswith("d/")]
                keys.append(f"{self.base}:s:{hour}")
            for i in range(0, len(keys), 5000):
                removed += self.client.unlink(*keys[i : i + 5000])
            if mark is None:
                self.client.zrem(f"{self.base}:hours", str(hour))
                self.client.hdel(f"{self.base}:hstate", str(hour))
            else:
                self.client.hset(f"{self.base}:hstate", str(hour), mark)
        return removed

    # -- reads ---------------------------------------------------------------------------

    def members(self, *, deployment: str, start: float, end: float) -> list[str]:
        hours = range(int(start // HOUR), int(end // HOUR) + 1)
        pipe = self.client.pipeline(transaction=False)
        for hour in hours:
            pipe.smembers(self.members_key(hour, deployment))
        names: set[str] = set()
        for found in pipe.execute():
            names.update(n.decode() for n in found)
        return sorted(names)

    def read(
        self, *, series: Iterable[str], start: float, end: float, step: int, interval: int
    ) -> dict[str, list[tuple[float, tuple[float | None, ...]]]]:
        """Each series' records in [start, end], averaged into buckets of `step` seconds.

        Returns series -> [(bucket start, fields)], only buckets with a sample; a field with
        no sample in a bucket is None.
        """
        names = list(series)
        hours = list(range(int(start // HOUR), int(end // HOUR) + 1))
        levels = [interval, *[s for s in ROLLUP_STEPS if s > interval]]
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            for hour in hours:
                for level in levels:
                    pipe.get(self.key(level, hour, name))
        blobs = iter(pipe.execute())
        out: dict[str, list[tuple[float, tuple[float | None, ...]]]] = {}
        for name in names:
            width = width_of(name)
            buckets: dict[int, list[list[float]]] = {}
            for hour in hours:
                found = [(level, next(blobs)) for level in levels]
                chosen = next(((lv, b) for lv, b in found if b is not None), None)
                if chosen is None:
                    continue
                level, blob = chosen
                values = array("f")
                values.frombytes(blob)
                for slot in range(len(values) // width):
                    t = hour * HOUR + slot * level
                    if t < start - level or t > end:
                        continue
                    record = values[slot * width : (slot + 1) * width]
                    if all(v != v for v in record):
                        continue
                    bucket = buckets.setdefault(int(t // step) * step, [[] for _ in range(width)])
                    for i, v in enumerate(record):
                        if v == v:
                            bucket[i].append(v)
            out[name] = [
                (float(t), tuple((sum(vs) / len(vs)) if vs else None for vs in fields))
                for t, fields in sorted(buckets.items())
            ]
        return out

    # -- live subscribers ------------------------------------------------------------------

    def watch_change(self, series: str, delta: int) -> None:
        count = self.client.hincrby(self.watch_key, series, delta)
        if count <= 0:
            self.client.hdel(self.watch_key, series)

    def watched(self) -> set[str]:
        return {k.decode() for k in self.client.hkeys(self.watch_key)}


def finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value
