"""A rolling update of the real inference server under steady load, through its Service.

Exports a tiny reference model (16x16, 2 base filters: the point is the server's lifecycle,
not its model), runs the inference image under the sandbox's process runtime behind a
LoadBalancer Service (1 replica, maxSurge 1, maxUnavailable 0, readiness on /readyz), sends a
closed loop of predictions through the external IP, and restarts the rollout in the middle.
Readiness gates the new pod, endpoint removal and the server's drain (DRAIN_GRACE_SECONDS with
`Connection: close`) move traffic off the old one: the figure is failed of total requests,
against a baseline of zero. Two TensorFlow processes run at once during the rollout.

    python -m bench.sandbox_rollout [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

from bench import line
from sandbox.testing import KUBECTL, ROOT, SandboxProcess, wait_for

NAME = "sandbox_rollout"
SIZE = 16
MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: pets}}
spec:
  replicas: 1
  strategy: {{rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
  selector: {{matchLabels: {{app: pets}}}}
  template:
    metadata: {{labels: {{app: pets}}}}
    spec:
      terminationGracePeriodSeconds: 20
      containers:
      - name: model
        image: registry.example/ml/inference:1
        ports: [{{containerPort: 8080, name: http}}]
        env:
        - {{name: MODEL_URI, value: "{model}"}}
        - {{name: MODEL_NAME, value: pets}}
        - {{name: MAX_BATCH_SIZE, value: "2"}}
        - {{name: INTRA_OP_THREADS, value: "1"}}
        - {{name: DRAIN_GRACE_SECONDS, value: "2"}}
        - {{name: SHUTDOWN_TIMEOUT_SECONDS, value: "10"}}
        readinessProbe: {{httpGet: {{path: /readyz, port: http}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: pets}}
spec:
  type: LoadBalancer
  selector: {{app: pets}}
  ports: [{{port: 80, targetPort: http}}]
"""


async def rollout_under_load(sbx: SandboxProcess, url: str, concurrency: int) -> tuple[int, int]:
    body = json.dumps({"instances": [[[[0, 128, 255]] * SIZE] * SIZE]})
    stop = asyncio.Event()

    async def post_loop() -> tuple[int, int]:
        failed = total = 0
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def worker() -> None:
                nonlocal failed, total
                while not stop.is_set():
                    total += 1
                    try:
                        async with session.post(url, data=body) as resp:
                            await resp.read()
                            failed += resp.status != 200
                    except (aiohttp.ClientError, TimeoutError):
                        failed += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return failed, total

    load = asyncio.create_task(post_loop())
    await asyncio.sleep(2.0)
    for args in (
        ("rollout", "restart", "deployment/pets"),
        ("rollout", "status", "deployment/pets", "--timeout=300s"),
    ):
        proc = await asyncio.create_subprocess_exec(
            str(KUBECTL), "--kubeconfig", str(sbx.kubeconfig), *args,
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await proc.wait() != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed")
    await asyncio.sleep(5.0)  # the old pod drains after the rollout reports done
    stop.set()
    return await load


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sandbox_rollout")
    p.add_argument("--concurrency", type=int, default=4)
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    model = workdir / "model"
    subprocess.run(
        [sys.executable, "-m", "inference.reference", "--output", str(model),
         "--image-size", str(SIZE), "--base-filters", "2"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with SandboxProcess(
        workdir / "sandbox", nodes=1, gpu_nodes=0, timings="fast", state=False,
        extra_args=("--process-runtime",),
    ) as sbx:  # fmt: skip
        sbx.kubectl("apply", "-f", "-", input=MANIFEST.format(model=model), check=True)
        sbx.kubectl("rollout", "status", "deployment/pets", "--timeout=300s", check=True,
                    timeout=310)  # fmt: skip
        external = wait_for(
            lambda: (
                sbx.kubectl(
                    "get", "svc", "pets", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"
                ).stdout
            ),
            "the external IP",
        )
        url = f"http://{external}/v1/models/pets:predict"
        failed, total = asyncio.run(rollout_under_load(sbx, url, args.concurrency))
    print(f"rolling update of the inference server under load: {failed} failed of {total}")
    print(line(NAME, "rolling_update_failed_requests", failed, f"of_{total}_requests"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
