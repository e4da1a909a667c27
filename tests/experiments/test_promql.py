"""Collection by PromQL against a real Prometheus server (Debian's `prometheus` package)
scraping the sandbox's serving pods through the API server's pod proxy."""

import os
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

from experiments.models import Experiment, MetricBucket
from experiments.services.collect import experiments_collect_all
from sandbox.testing import free_port
from tests.fixtures.controlplane import kubectl_json, wait_for

from .helpers import base, create_and_start
from .test_collection import setup_loaded

pytestmark = pytest.mark.django_db(transaction=True)

# `make test` installs Debian's package when it is missing (devstack/prometheus.py).
PROMETHEUS = os.environ.get("PROMETHEUS_PATH") or shutil.which("prometheus")


@pytest.fixture
def engineer_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("mle", role="engineer", cluster=sandbox_cluster))


def scrape_config(sandbox, namespace, pods) -> dict:
    host = sandbox.url.split("://", 1)[1]
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": f"pod-{pod}",
                "scheme": "https",
                "metrics_path": f"/api/v1/namespaces/{namespace}/pods/{pod}:8080/proxy/metrics",
                "tls_config": {"insecure_skip_verify": True},
                "authorization": {"credentials": sandbox.admin_token},
                "static_configs": [
                    {"targets": [host], "labels": {"namespace": namespace, "pod": pod}}
                ],
            }
            for pod in pods
        ],
    }


@pytest.fixture
def prometheus(tmp_path):
    procs = []

    if PROMETHEUS is None:
        pytest.fail(
            "no prometheus binary: `make test` installs Debian's (apt-get install prometheus)"
        )

    def start(config: dict) -> str:
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "prometheus.log").open("w"),
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"

        def ready():
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(ready, timeout=30, what="prometheus to be ready")
        return url

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def test_promql_collects_the_same_traffic_the_pods_served(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path, settings, prometheus
):
    setup_loaded(sandbox, kube_namespace, tmp_path, latency_b=120)
    create_and_start(engineer_api, kube_namespace, primary_metric="latency_mean")
    pods = [
        p["metadata"]["name"]
        for p in kubectl_json(sandbox, "-n", kube_namespace, "get", "pods")["items"]
    ]
    url = prometheus(scrape_config(sandbox, kube_namespace, pods))
    settings.EXPERIMENTS_PROMQL_URLS = {"sandbox": url}
    settings.EXPERIMENTS_BUCKET_SECONDS = 1
    Experiment.objects.update(last_collected=None)
    time.sleep(6)  # a few scrapes at 1 s
    for _ in range(3):
        summary = experiments_collect_all()
        (one,) = summary.values()
        assert one["source"] == "promql"
        assert one["errors"] == []
        time.sleep(2)
    served = {
        v: sum(MetricBucket.objects.filter(variant=v).values_list("requests", flat=True))
        for v in ("a", "b")
    }
    # 400 requests a second each; PromQL's increase() extrapolates, so only the order matters.
    assert all(served[v] > 400 for v in served), served
    results = engineer_api.get(f"{base(kube_namespace, 'ab')}results/").json()
    mean = next(r for r in results["comparisons"] if r["metric"] == "latency_mean")
    assert mean["control_value"] == pytest.approx(0.040, rel=0.1)
    assert mean["treatment_value"] == pytest.approx(0.120, rel=0.1)
