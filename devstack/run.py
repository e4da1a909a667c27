"""`make run`: the whole system on one machine, on the embedded sandbox cluster.

Order matters: Redis and the database first, then the sandbox (it must be serving before the
control plane registers it), then web, worker, beat and the watcher under honcho, which
prefixes their logs and stops them all on Ctrl-C.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from devstack.redis import ensure_redis
from devstack.system import SetupError

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_MANIFEST = Path(__file__).resolve().parent / "demo.yaml"


def _run_dir() -> Path:
    return Path(os.environ.get("RUN_DIR", ROOT / ".run"))


def _manage(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def start_sandbox(run_dir: Path, env: dict) -> tuple[subprocess.Popen, Path]:
    kubeconfig = run_dir / "sandbox.kubeconfig"
    readonly = run_dir / "sandbox-readonly.kubeconfig"
    # The sandbox writes its kubeconfig only once it serves: a stale one would lie.
    for path in (kubeconfig, readonly):
        path.unlink(missing_ok=True)
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / "sandbox.log", "ab")  # noqa: SIM115 - the child keeps writing to it
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "--kubeconfig",
        str(kubeconfig),
        "--readonly-kubeconfig",
        str(readonly),
        "--port",
        env.get("SANDBOX_PORT", "0"),
        "--nodes",
        env.get("SANDBOX_NODES", "3"),
        "--gpu-nodes",
        env.get("SANDBOX_GPU_NODES", "1"),
        "--state",
        str(run_dir / "sandbox-state.json"),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if kubeconfig.exists():
            return process, kubeconfig
        if process.poll() is not None:
            raise SetupError(f"the sandbox exited with {process.returncode}; see {log.name}")
        time.sleep(0.1)
    process.terminate()
    raise SetupError(f"the sandbox did not become ready within 60 s; see {log.name}")


def seed_demo(kubeconfig: Path, env: dict) -> None:
    """Put the demo model in the sandbox the first time only: a later `make run` must not undo
    what the user did to it since (a scale, a rollout), so an existing `demo` namespace stays."""
    kubectl = [str(BIN / "kubectl"), "--kubeconfig", str(kubeconfig)]
    exists = subprocess.run(
        [*kubectl, "get", "namespace", "demo"], env=env, capture_output=True, text=True
    )
    if exists.returncode == 0:
        return
    if "NotFound" not in exists.stderr:
        raise SetupError(f"could not look up the demo namespace: {exists.stderr.strip()}")
    subprocess.run(
        [*kubectl, "apply", "-f", str(DEMO_MANIFEST)], check=True, env=env,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def write_procfile(run_dir: Path) -> Path:
    procfile = run_dir / "Procfile"
    python = sys.executable
    procfile.write_text(
        f"web: {BIN / 'daphne'} -b 127.0.0.1 -p $PORT controlplane.asgi:application\n"
        f"worker: {BIN / 'celery'} -A controlplane worker --loglevel INFO --concurrency 2\n"
        f"beat: {BIN / 'celery'} -A controlplane beat --loglevel INFO "
        f"--schedule {run_dir / 'celerybeat-schedule'}\n"
        f"watcher: {python} {ROOT / 'manage.py'} watch\n"
    )
    return procfile


def check_port_free(port: str) -> None:
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", int(port)))
    except OSError as error:
        raise SetupError(
            f"port {port} on 127.0.0.1 is not free ({error.strerror}); "
            "stop what uses it or choose another, e.g. PORT=8001 make run"
        ) from error
    except ValueError as error:
        raise SetupError(f"PORT must be a port number, got {port!r}") from error


def main() -> int:
    run_dir = _run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("PORT", "8000")
    env["RUN_DIR"] = str(run_dir)
    env["PYTHONUNBUFFERED"] = "1"
    children: list[subprocess.Popen] = []
    try:
        check_port_free(env["PORT"])
        redis_url, redis_process = ensure_redis(
            env.get("REDIS_URL", "redis://127.0.0.1:6379/0"), run_dir
        )
        if redis_process:
            children.append(redis_process)
        env["REDIS_URL"] = redis_url

        _manage("migrate", "--noinput", env=env)
        sandbox, kubeconfig = start_sandbox(run_dir, env)
        children.append(sandbox)
        env["SANDBOX_KUBECONFIG"] = str(kubeconfig)
        seed_demo(kubeconfig, env)
        _manage("bootstrap_local", env=env)

        url = f"http://127.0.0.1:{env['PORT']}/"
        print(
            f"\n  Control plane: open {url}\n"
            f"  Sandbox cluster: kubectl --kubeconfig {kubeconfig} get pods -A\n"
            f"  Logs: {run_dir / 'logs'}; stop everything with Ctrl-C.\n",
            flush=True,
        )
        procfile = write_procfile(run_dir)
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "-f", str(procfile), "-d", str(ROOT), "start"], env=env
        )
        children.append(honcho)
        return honcho.wait()
    except SetupError as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
