"""The project's inference image really runs under the process runtime: deployed with
kubectl, it serves real predictions through its LoadBalancer address (one TensorFlow process,
on a tiny reference model the test exports first)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from sandbox.testing import ROOT, SandboxProcess, wait_for

pytestmark = pytest.mark.slow

IMAGE_SIZE = 16
MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: pets}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: pets}}}}
  template:
    metadata: {{labels: {{app: pets}}}}
    spec:
      containers:
      - name: model
        image: us-docker.pkg.dev/acme/ml/inference:1.0
        ports: [{{containerPort: 8080, name: http}}]
        env:
        - {{name: MODEL_URI, value: "{model}"}}
        - {{name: MODEL_NAME, value: pets}}
        - {{name: MAX_BATCH_SIZE, value: "2"}}
        - {{name: INTRA_OP_THREADS, value: "1"}}
        - {{name: HOST, value: 0.0.0.0}}
        readinessProbe:
          httpGet: {{path: /readyz, port: http}}
          periodSeconds: 1
        livenessProbe:
          httpGet: {{path: /healthz, port: http}}
          periodSeconds: 5
---
apiVersion: v1
kind: Service
metadata: {{name: pets}}
spec:
  type: LoadBalancer
  selector: {{app: pets}}
  ports: [{{port: 80, targetPort: http}}]
"""


def test_the_inference_image_serves_predictions_through_its_load_balancer_ip(tmp_path):
    model = tmp_path / "model"
    subprocess.run(
        [sys.executable, "-m", "inference.reference", "--output", str(model),
         "--image-size", str(IMAGE_SIZE), "--base-filters", "2"],
        cwd=ROOT, check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    with SandboxProcess(tmp_path / "sandbox", nodes=1, gpu_nodes=0,
                        extra_args=("--process-runtime",)) as sbx:  # fmt: skip
        sbx.kubectl("apply", "-f", "-", input=MANIFEST.format(model=model), check=True)
        sbx.kubectl(
            "rollout", "status", "deployment/pets", "--timeout=200s", check=True, timeout=210
        )
        external = wait_for(
            lambda: (
                sbx.kubectl(
                    "get", "service", "pets", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"
                ).stdout
            ),
            "the external IP",
        )
        assert external.startswith("127.")
        pod_ip = sbx.kubectl("get", "pods", "-l", "app=pets", "-o",
                             "jsonpath={.items[0].status.podIP}").stdout  # fmt: skip
        # HOST=0.0.0.0 in the manifest is overridden: the server listens on its pod IP
        assert f"{pod_ip}:8080" in sbx.kubectl("logs", "deployment/pets").stdout
        image = [[[0, 128, 255]] * IMAGE_SIZE] * IMAGE_SIZE
        request = urllib.request.Request(
            f"http://{external}/v1/models/pets:predict",
            data=json.dumps({"instances": [image]}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert resp.headers["X-Model-Name"] == "pets"
            predictions = json.loads(resp.read())["predictions"]
        assert len(predictions) == 1
        assert len(predictions[0]) == IMAGE_SIZE
        assert len(predictions[0][0][0]) == 3  # pet, background, border
        assert abs(sum(predictions[0][0][0]) - 1.0) < 1e-3
