"""The project's trainer image really trains under the process runtime: a Job whose init
container writes a tiny synthetic data set (the same image, its command overridden) and whose
container trains on it and exports its model, all through the default `*/trainer` rule."""

from __future__ import annotations

import json

import pytest

from sandbox.testing import SandboxProcess

pytestmark = pytest.mark.slow

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {{name: train}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      initContainers:
      - name: data
        image: us-docker.pkg.dev/acme/ml/trainer:0.3
        command: [python, -m, trainer.program.synthetic]
        args: [--output, "{data}", --count, "6", --width, "24", --height, "24"]
      containers:
      - name: trainer
        image: us-docker.pkg.dev/acme/ml/trainer:0.3
        args: [--data, "{data}", --epochs, "1", --batch-size, "2", --image-size, "16",
               --depth, "1", --base-filters, "2", --val-split, "0.34", --resume]
        env:
        - {{name: OUTPUT_URI, value: "{output}"}}
"""


def test_a_training_job_really_trains_and_writes_its_model(tmp_path):
    data, output = tmp_path / "pets", tmp_path / "run"
    with SandboxProcess(tmp_path / "sandbox", nodes=1, gpu_nodes=0,
                        extra_args=("--process-runtime",)) as sbx:  # fmt: skip
        sbx.kubectl("apply", "-f", "-", input=JOB.format(data=data, output=output), check=True)
        waited = sbx.kubectl(
            "wait", "--for=condition=complete", "job/train", "--timeout=240s", timeout=250
        )
        log = sbx.kubectl("logs", "job/train", "-c", "trainer").stdout
        assert waited.returncode == 0, log + sbx.kubectl("describe", "job", "train").stdout
    progress = [
        json.loads(line.split(" ", 1)[1])
        for line in log.splitlines()
        if line.startswith("TRAINING_PROGRESS ")
    ]
    assert [p["event"] for p in progress] == ["start", "epoch", "end"]
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["status"] == "succeeded"
    assert metrics["data"]["images"] == 6
    assert (output / "model" / "saved_model.pb").exists()
