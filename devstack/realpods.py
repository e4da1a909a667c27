"""`make run`: the demo model runs on the real inference server (`SANDBOX_PROCESS_RUNTIME=0`
keeps every pod simulated, e.g. on a machine without 1 GB to spare per replica).

The reference U-Net is exported once into the run directory, and a runtime map points the
demo's image (`*/pet-segmenter`) at `python -m inference` serving it, so the demo Deployment's
pods are real TensorFlow servers behind a LoadBalancer Service that really routes.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from devstack.system import SetupError

ROOT = Path(__file__).resolve().parent.parent


def enabled(env: dict) -> bool:
    return env.get("SANDBOX_PROCESS_RUNTIME", "1") != "0"


def runtime_map(run_dir: Path) -> Path:
    return run_dir / "runtime-map.json"


def prepare(run_dir: Path, env: dict) -> None:
    """Export the reference model the first time, and write the runtime map."""
    model = run_dir / "models" / "pet-unet" / "1"
    if not (model / "saved_model.pb").exists():
        print("  Exporting the reference model for the demo (first start only)...", flush=True)
        built = subprocess.run(
            [sys.executable, "-m", "inference.reference", "--output", str(model)],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        if built.returncode != 0:
            raise SetupError(f"could not export the reference model:\n{built.stderr[-2000:]}")
    rules = [
        {
            "image": "*/pet-segmenter",
            "command": ["python", "-m", "inference"],
            # the demo's memory limit is 1Gi: smaller batches keep the server well under it
            "env": {"MODEL_URI": str(model), "MAX_BATCH_SIZE": "8"},
            "hostEnv": "HOST",
            "portEnv": "PORT",
            "defaultPort": 8080,
        }
    ]
    runtime_map(run_dir).write_text(json.dumps({"rules": rules}, indent=2))


def sandbox_args(run_dir: Path, env: dict) -> list[str]:
    return ["--runtime-map", str(runtime_map(run_dir))] if enabled(env) else []


def demo_url(kubectl: list[str], env: dict, timeout: float = 30.0) -> str | None:
    """The demo Service's URL once it has its external IP (None if it takes too long)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ip = subprocess.run(
            [*kubectl, "-n", "demo", "get", "service", "pet-segmenter", "-o",
             "jsonpath={.status.loadBalancer.ingress[0].ip}"],
            env=env, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        if ip:
            return f"http://{ip}/v1/models/pet-unet"
        time.sleep(0.5)
    return None
