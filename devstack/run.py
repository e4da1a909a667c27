"""`make run`: the whole system on one machine, on the embedded sandbox cluster.

Order matters: Redis and the database first, then the sandbox (it must be serving before the
control plane registers it), then web, worker, beat and the watcher. All of them, the sandbox
too, run under devstack.supervisor: prefixed logs, a dead process restarted with back-off,
and Ctrl-C stops them all.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from devstack import realpods
from devstack.gke import gke_program
from devstack.redis import ensure_redis
from devstack.supervisor import Program, Supervisor
from devstack.system import SetupError

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_MANIFEST = Path(__file__).resolve().parent / "demo.yaml"
# The run directory holds the secret and credentials keys, the SQLite database (cluster
# credentials, users) and the sandbox's admin kubeconfig: everything in it is its owner's only.
# The umask covers what the children create; private_run_dir() what an older run left behind.
OWNER_ONLY_UMASK = 0o077


def _run_dir() -> Path:
    return Path(os.environ.get("RUN_DIR", ROOT / ".run"))


def _manage(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def private_run_dir(run_dir: Path) -> None:
    """Make the run directory 0700 and the SQLite database files in it 0600."""
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    run_dir.chmod(0o700)
    for path in run_dir.glob("db.sqlite3*"):
        path.chmod(0o600)


def database_migrate(run_dir: Path, env: dict) -> None:
    _manage("migrate", "--noinput", env=env)
    # Created by this migrate (under the umask) or by an earlier run (maybe world-readable).
    private_run_dir(run_dir)


def sandbox_command(run_dir: Path, env: dict, *, port: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sandbox",
        "--kubeconfig",
        str(run_dir / "sandbox.kubeconfig"),
        "--readonly-kubeconfig",
        str(run_dir / "sandbox-readonly.kubeconfig"),
        "--port",
        port,
        "--nodes",
        env.get("SANDBOX_NODES", "3"),
        "--gpu-nodes",
        env.get("SANDBOX_GPU_NODES", "1"),
        "--state",
        str(run_dir / "sandbox-state.json"),
        *realpods.sandbox_args(run_dir, env),
    ]


def start_sandbox(run_dir: Path, env: dict) -> tuple[subprocess.Popen, Path]:
    kubeconfig = run_dir / "sandbox.kubeconfig"
    readonly = run_dir / "sandbox-readonly.kubeconfig"
    # The sandbox writes its kubeconfig only once it serves: a stale one would lie.
    for path in (kubeconfig, readonly):
        path.unlink(missing_ok=True)
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / "sandbox.log"
    command = sandbox_command(run_dir, env, port=env.get("SANDBOX_PORT", "0"))
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if kubeconfig.exists():
            return process, kubeconfig
        if process.poll() is not None:
            raise SetupError(f"the sandbox exited with {process.returncode}; see {log_path}")
        time.sleep(0.1)
    process.terminate()
    raise SetupError(f"the sandbox did not become ready within 60 s; see {log_path}")


def sandbox_port(kubeconfig: Path) -> str:
    """The port the sandbox serves on, from the kubeconfig it wrote."""
    for line in kubeconfig.read_text().splitlines():
        if "server:" in line:
            return line.rsplit(":", 1)[1].strip().strip("/'\"")
    raise SetupError(f"no server in {kubeconfig}")


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


def programs(run_dir: Path, env: dict) -> list[Program]:
    def program(name: str, *command: str) -> Program:
        return Program(name=name, command=list(command), env=env, cwd=str(ROOT))

    return [
        program(
            "web",
            # No daphne access log: it prints query strings, which can carry secrets; the
            # request middleware logs each request without them (controlplane.access).
            str(BIN / "daphne"), "-v", "0", "-b", "127.0.0.1", "-p", env["PORT"],
            "controlplane.asgi:application",
        ),
        # Beat sends a periodic task every few seconds: neither its line per send nor the
        # worker's per-task lines (CELERY_TASK_LOG_LEVEL) go to the console, failures do.
        Program(
            name="worker",
            command=[
                str(BIN / "celery"), "-A", "controlplane", "worker", "--loglevel", "INFO",
                "--concurrency", "2",
            ],
            env={"CELERY_TASK_LOG_LEVEL": "WARNING", **env},
            cwd=str(ROOT),
        ),
        program(
            "beat", str(BIN / "celery"), "-A", "controlplane", "beat", "--loglevel", "WARNING",
            "--schedule", str(run_dir / "celerybeat-schedule"),
        ),
        program("watcher", sys.executable, str(ROOT / "manage.py"), "watch"),
    ]  # fmt: skip


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
    os.umask(OWNER_ONLY_UMASK)
    run_dir = _run_dir()
    private_run_dir(run_dir)
    env = dict(os.environ)
    env.setdefault("PORT", "8000")
    env["RUN_DIR"] = str(run_dir)
    env["PYTHONUNBUFFERED"] = "1"
    children: list[subprocess.Popen] = []
    supervisor = Supervisor()
    try:
        check_port_free(env["PORT"])
        redis_url, redis_process = ensure_redis(
            env.get("REDIS_URL", "redis://127.0.0.1:6379/0"), run_dir
        )
        if redis_process:
            children.append(redis_process)
        env["REDIS_URL"] = redis_url

        database_migrate(run_dir, env)
        if realpods.enabled(env):
            realpods.prepare(run_dir, env)
        sandbox, kubeconfig = start_sandbox(run_dir, env)
        # A restarted sandbox must come back on the same port: the cluster is registered there.
        port = sandbox_port(kubeconfig)
        supervisor.adopt(
            Program(
                name="sandbox",
                command=sandbox_command(run_dir, env, port=port),
                env=env,
                cwd=str(ROOT),
                log_path=str(run_dir / "logs" / "sandbox.log"),
            ),
            sandbox,
        )
        env["SANDBOX_KUBECONFIG"] = str(kubeconfig)
        seed_demo(kubeconfig, env)
        _manage("bootstrap_local", env=env)

        gke = gke_program(run_dir, env)
        if gke is not None:
            supervisor.add(gke)
            print(f"  Local GKE: {env['GKE_DEFAULT_ENDPOINT']}; key {run_dir / 'gke-key.json'}")
        url = f"http://127.0.0.1:{env['PORT']}/"
        if realpods.enabled(env):
            kubectl = [str(BIN / "kubectl"), "--kubeconfig", str(kubeconfig)]
            demo = realpods.demo_url(kubectl, env)
            print(f"  Demo model (real inference server): curl {demo or 'no external IP yet'}")
        print(
            f"\n  Control plane: open {url}\n"
            f"  Sandbox cluster: kubectl --kubeconfig {kubeconfig} get pods -A\n"
            f"  Logs: {run_dir / 'logs'}; stop everything with Ctrl-C.\n",
            flush=True,
        )
        for program in programs(run_dir, env):
            supervisor.add(program)
        supervisor.install_signal_handlers()
        return supervisor.run()
    except SetupError as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        supervisor.stop()
        for program in supervisor.programs:
            if program.process is not None:
                children.append(program.process)
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
