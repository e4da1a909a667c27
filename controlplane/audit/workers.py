"""Which Celery workers are alive on this checkout's queue, as each one reports it.

Each worker process writes a key under this checkout's Redis prefix every few seconds, with
a short expiry: a worker that died, or one listening on another prefix, is simply absent.
Pages read it to say "no worker has taken this action" instead of showing it pending.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time

import redis
from django.conf import settings

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 5.0
HEARTBEAT_TTL = 20


def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, decode_responses=True, socket_connect_timeout=2, socket_timeout=5
    )


def _key(hostname: str) -> str:
    return f"{settings.REDIS_PREFIX}:workers:{hostname}"


def worker_heartbeat_start(*, hostname: str) -> threading.Event:
    """Report this worker alive until the returned event is set (a daemon thread)."""
    stop = threading.Event()
    started = time.time()
    record = {"hostname": hostname, "host": socket.gethostname(), "pid": os.getpid()}

    def beat() -> None:
        client = _client()
        while not stop.is_set():
            try:
                value = json.dumps({**record, "started": started, "at": time.time()})
                client.set(_key(hostname), value, ex=HEARTBEAT_TTL)
            except redis.RedisError as exc:
                # Redis is down: the broker is too, so no action reaches us either; say so.
                log.warning("worker heartbeat not written: %s", exc)
            stop.wait(HEARTBEAT_INTERVAL)

    threading.Thread(target=beat, name="worker-heartbeat", daemon=True).start()
    return stop


def worker_list() -> list[dict]:
    """The live workers: hostname, host, pid, started and at (epoch seconds)."""
    client = _client()
    keys = list(client.scan_iter(match=_key("*"), count=100))
    workers = [json.loads(value) for value in client.mget(keys) if value] if keys else []
    return sorted(workers, key=lambda worker: worker["hostname"])
