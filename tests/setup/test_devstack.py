"""The set-up that `make run` and `make test` rely on finds or starts Redis as promised."""

import os
import socket

import pytest

from devstack import redis as devstack_redis
from devstack import system
from devstack.redis import ensure_redis, redis_answers
from devstack.system import SetupError


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_uses_the_redis_that_answers(tmp_path):
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert redis_answers(url)
    assert ensure_redis(url, tmp_path) == (url, None)


def test_it_starts_a_private_redis_when_none_answers(tmp_path):
    silent = f"redis://127.0.0.1:{_closed_port()}/0"
    url, process = ensure_redis(silent, tmp_path)
    try:
        assert process is not None
        assert url != silent
        assert redis_answers(url)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert not redis_answers(url)


def test_it_says_how_to_install_redis_when_it_may_not(tmp_path, monkeypatch):
    monkeypatch.setattr(devstack_redis.shutil, "which", lambda name: None)
    monkeypatch.setattr(system, "can_install_packages", lambda: False)
    silent = f"redis://127.0.0.1:{_closed_port()}/0"
    with pytest.raises(SetupError, match="apt-get install -y redis-server"):
        ensure_redis(silent, tmp_path)
