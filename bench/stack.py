"""What the benchmarks that run the control plane share: its environment on a private Redis,
database and sandbox, its set-up through manage.py, and process memory read from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith(f"{field}:"):
            return int(row.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def stack_env(*, workdir: Path, redis_url: str, kubeconfig: Path, prefix: str, **extra: str):
    """The environment of every process of a private control plane (SQLite in `workdir`)."""
    env = {
        **os.environ,
        "RUN_DIR": str(workdir / "run"),
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"{prefix}-{os.getpid()}",
        "SANDBOX_KUBECONFIG": str(kubeconfig),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env, cwd=ROOT, input=stdin, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def stack_prepare(env: dict[str, str], *, user: str, role: str) -> str:
    """Migrate, register the sandbox and create `user` with `role` on it; its password."""
    manage(env, "migrate", "--noinput")
    manage(env, "register_sandbox")
    password = "bench-" + os.urandom(9).hex()
    manage(
        env, "user_create", user, "--cluster", "sandbox", "--role", role, "--password-stdin",
        stdin=password,
    )  # fmt: skip
    return password
