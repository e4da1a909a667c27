"""`make test`: lint, import contracts and the whole pytest suite against real services."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from devstack.chromium import ensure_chromium
from devstack.prometheus import ensure_prometheus
from devstack.redis import ensure_redis
from devstack.system import SetupError

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _step(name: str, command: list[str], env: dict) -> int:
    print(f"\n=== {name}: {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def _parallel(pytest_args: list[str]) -> list[str]:
    """Two pytest-xdist workers unless the caller chose (-n/-p no:xdist): most tests wait on
    subprocesses (the sandbox, workers, browsers), so two workers use two cores well."""
    chosen = any(
        arg.startswith(("-n", "--numprocesses")) or arg == "no:xdist" for arg in pytest_args
    )
    return pytest_args if chosen else ["-n", os.environ.get("TEST_WORKERS", "2"), *pytest_args]


def main(pytest_args: list[str]) -> int:
    run_dir = Path(os.environ.get("RUN_DIR", ROOT / ".run"))
    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    redis_process = None
    try:
        env["REDIS_URL"], redis_process = ensure_redis(
            env.get("REDIS_URL", "redis://127.0.0.1:6379/0"), run_dir
        )
        env["CHROMIUM_PATH"] = ensure_chromium()
        env["PROMETHEUS_PATH"] = ensure_prometheus()
        steps = [
            ("ruff lint", [str(BIN / "ruff"), "check", "."]),
            ("ruff format", [str(BIN / "ruff"), "format", "--check", "."]),
            ("import contracts", [str(BIN / "lint-imports")]),
            ("tests", [sys.executable, "-m", "pytest", *_parallel(pytest_args)]),
        ]
        for name, command in steps:
            code = _step(name, command, env)
            if code != 0:
                # pytest's 5 means it collected nothing: a suite that runs nothing has failed.
                print(f"\nmake test: {name} failed (exit {code})", file=sys.stderr)
                return code or 1
        return 0
    except SetupError as error:
        print(f"make test: {error}", file=sys.stderr)
        return 1
    finally:
        if redis_process and redis_process.poll() is None:
            redis_process.send_signal(signal.SIGTERM)
            redis_process.wait(timeout=10)
