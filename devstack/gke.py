"""`GKE_LOCAL=1 make run`: the local GKE endpoint (python -m sandbox.gke) beside the rest, so
the demo can create clusters and GPU node pools from the UI without reaching Google.

It serves on 127.0.0.1:GKE_PORT (default 8090) and keeps its keys, clusters and operations in
RUN_DIR/gke-state.json; on every start it writes a fresh service-account key to
RUN_DIR/gke-key.json (older keys stay valid). New GKE credentials default to this endpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

from devstack.supervisor import Program

ROOT = Path(__file__).resolve().parent.parent


def gke_program(run_dir: Path, env: dict) -> Program | None:
    if env.get("GKE_LOCAL") != "1":
        return None
    port = env.get("GKE_PORT", "8090")
    env["GKE_DEFAULT_ENDPOINT"] = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "sandbox.gke",
        "--port", port,
        "--state", str(run_dir / "gke-state.json"),
        "--make-key", str(run_dir / "gke-key.json"),
        "--operation-seconds", env.get("GKE_OPERATION_SECONDS", "6"),
    ]  # fmt: skip
    return Program(
        name="gke",
        command=command,
        env=env,
        cwd=str(ROOT),
        log_path=str(run_dir / "logs" / "gke.log"),
    )
