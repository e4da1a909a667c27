"""Find a Redis that answers, or start a private one under ./.run/."""

import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

from devstack.system import SetupError, apt_install


def redis_answers(url: str, *, timeout: float = 1.0) -> bool:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    # +PONG, or -NOAUTH when a password is needed: either way a Redis is there.
    return reply.startswith((b"+PONG", b"-NOAUTH"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_private_redis(run_dir: Path) -> tuple[str, subprocess.Popen]:
    server = shutil.which("redis-server")
    if server is None:
        apt_install("redis-server", why="Redis is not reachable and redis-server is not installed")
        server = shutil.which("redis-server")
        if server is None:
            raise SetupError("redis-server is still missing after installing it")
    data_dir = run_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = open(data_dir / "redis.log", "ab")  # noqa: SIM115 - the child keeps writing to it
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if redis_answers(url):
            return url, process
        if process.poll() is not None:
            raise SetupError(f"redis-server exited with {process.returncode}; see {log.name}")
        time.sleep(0.1)
    process.terminate()
    raise SetupError(f"redis-server did not answer on {url} within 10 s; see {log.name}")


def ensure_redis(url: str, run_dir: Path) -> tuple[str, subprocess.Popen | None]:
    """The REDIS_URL to use, and the private server process when one had to be started."""
    if redis_answers(url):
        return url, None
    print(f"devstack: no Redis answers at {url}; starting a private redis-server", flush=True)
    return start_private_redis(run_dir)
