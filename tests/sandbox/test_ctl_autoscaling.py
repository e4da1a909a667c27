"""HPA controller and the usage model against the real sandbox."""

from __future__ import annotations

from kubernetes import client

from sandbox.testing import wait_for
from tests.sandbox.ctl_support import (
    condition,
    deployment_manifest,
    events,
    ok,
    script,
    write_manifest,
)

NAMESPACE_PREFIX = "hpa"


def _serving(sandbox, api, ns, tmp_path, *, requests=None, replicas=1):
    resources = {"requests": requests} if requests else {}
    manifest = deployment_manifest(
        "model",
        replicas=replicas,
        container={"resources": resources, "ports": [{"containerPort": 8080}]},
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "model"},
        "spec": {"selector": {"app": "model"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, manifest, service))))
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/model", "--timeout=30s"))


def _hpa(metrics, *, min_replicas=1, max_replicas=4, behavior=None):
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "model"},
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "metrics": metrics,
    }
    if behavior:
        spec["behavior"] = behavior
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "model"},
        "spec": spec,
    }


CPU_50 = [
    {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
    }
]
QUICK_DOWN = {"scaleDown": {"stabilizationWindowSeconds": 0}}


def _replicas(api, ns):
    return client.AppsV1Api(api).read_namespaced_deployment("model", ns).spec.replicas


def _read_hpa(api, ns):
    return client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("model", ns)


def test_the_hpa_scales_up_under_load_and_back_down_when_it_stops(sandbox, api, ns, tmp_path):
    _serving(sandbox, api, ns, tmp_path, requests={"cpu": "100m", "memory": "128Mi"})
    ok(
        sandbox.kubectl(
            "apply",
            "-n",
            ns,
            "-f",
            str(write_manifest(tmp_path, _hpa(CPU_50, behavior=QUICK_DOWN))),
        )
    )

    script(
        api,
        "POST",
        f"namespaces/{ns}/services/model/load",
        {"requestsPerSecond": 300, "cpuPerRequest": "1m"},
    )
    wait_for(lambda: _replicas(api, ns) == 4, "the HPA to scale up to its maximum")

    hpa = _read_hpa(api, ns)
    assert hpa.status.desired_replicas == 4
    assert hpa.status.last_scale_time is not None
    assert condition(hpa, "ScalingActive").reason == "ValidMetricFound"
    rescales = [e.message for e in events(api, ns, name="model", reason="SuccessfulRescale")]
    assert any(
        m.endswith("reason: cpu resource utilization (percentage of request) above target")
        for m in rescales
    )
    wait_for(
        lambda: (
            lambda h: (
                h.status.current_metrics
                and h.status.current_metrics[0].resource.current.average_utilization > 50
            )
        )(_read_hpa(api, ns)),
        "the HPA to report utilization above target",
    )

    script(api, "DELETE", f"namespaces/{ns}/services/model/load")
    wait_for(lambda: _replicas(api, ns) == 1, "the HPA to scale back down")

    assert any(
        e.message == "New size: 1; reason: All metrics below target"
        for e in events(api, ns, name="model", reason="SuccessfulRescale")
    )


def test_scale_down_waits_for_the_stabilization_window(sandbox, api, ns, tmp_path):
    _serving(sandbox, api, ns, tmp_path, requests={"cpu": "100m"}, replicas=3)
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 30}}
    script(
        api,
        "POST",
        f"namespaces/{ns}/services/model/load",
        {"requestsPerSecond": 150, "cpuPerRequest": "1m"},
    )
    ok(
        sandbox.kubectl(
            "apply", "-n", ns, "-f", str(write_manifest(tmp_path, _hpa(CPU_50, behavior=behavior)))
        )
    )
    wait_for(lambda: _read_hpa(api, ns).status.current_metrics, "a first metric reading")

    script(api, "DELETE", f"namespaces/{ns}/services/model/load")

    hpa = wait_for(
        lambda: (
            lambda h: (c := condition(h, "AbleToScale")) and c.reason == "ScaleDownStabilized" and h
        )(_read_hpa(api, ns)),
        "ScaleDownStabilized",
    )
    assert hpa.status.desired_replicas == 3
    assert _replicas(api, ns) == 3


def test_a_container_without_a_cpu_request_makes_the_cpu_metric_unavailable(
    sandbox, api, ns, tmp_path
):
    _serving(sandbox, api, ns, tmp_path)
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, _hpa(CPU_50)))))

    def inactive():
        cond = condition(_read_hpa(api, ns), "ScalingActive")
        return cond is not None and cond.status == "False" and cond

    cond = wait_for(inactive, "ScalingActive=False")

    assert cond.reason == "FailedGetResourceMetric"
    assert cond.message.startswith(
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
    )
    assert "missing request for cpu in container app of Pod model-" in cond.message
    assert events(api, ns, name="model", reason="FailedGetResourceMetric")[0].type == "Warning"


def test_a_pods_metric_from_the_script_drives_scaling(sandbox, api, ns, tmp_path):
    _serving(sandbox, api, ns, tmp_path, requests={"cpu": "100m"})
    metric = {
        "type": "Pods",
        "pods": {
            "metric": {"name": "inference_queue_depth"},
            "target": {"type": "AverageValue", "averageValue": "10"},
        },
    }
    script(
        api,
        "POST",
        "custom-metrics",
        {
            "namespace": ns,
            "metric": "inference_queue_depth",
            "match": {"labels": {"app": "model"}},
            "value": 30,
        },
    )
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, _hpa([metric])))))

    wait_for(lambda: _replicas(api, ns) == 3, "three replicas for 30 / 10 per pod")

    hpa = _read_hpa(api, ns)
    assert hpa.status.current_metrics[0].pods.metric.name == "inference_queue_depth"


def test_kubectl_autoscale_and_top_work_against_the_usage_model(sandbox, api, ns, tmp_path):
    _serving(sandbox, api, ns, tmp_path, requests={"cpu": "200m", "memory": "128Mi"}, replicas=2)
    script(
        api,
        "POST",
        "usage",
        {"match": {"namespace": ns, "labels": {"app": "model"}}, "cpu": "150m", "memory": "300Mi"},
    )

    ok(
        sandbox.kubectl(
            "autoscale", "-n", ns, "deployment/model", "--min=2", "--max=5", "--cpu=50%"
        )
    )
    top = wait_for(
        lambda: (lambda r: r.returncode == 0 and "model-" in r.stdout and r.stdout)(
            sandbox.kubectl("top", "pods", "-n", ns)
        ),
        "kubectl top pods",
    )
    wait_for(lambda: _replicas(api, ns) >= 3, "the kubectl-made HPA to scale up")

    lines = [line.split() for line in top.splitlines()[1:]]
    assert all(cpu == "150m" and mem == "300Mi" for _, cpu, mem in lines)
    nodes = ok(sandbox.kubectl("top", "nodes")).stdout
    assert "gke-sandbox-default-pool" in nodes


def test_an_object_metric_of_the_service_drives_scaling_and_clamps_at_max(
    sandbox, api, ns, tmp_path
):
    _serving(sandbox, api, ns, tmp_path, requests={"cpu": "100m"})
    metric = {
        "type": "Object",
        "object": {
            "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "model"},
            "metric": {"name": "requests_per_second"},
            "target": {"type": "Value", "value": "100"},
        },
    }
    script(api, "POST", f"namespaces/{ns}/services/model/load", {"requestsPerSecond": 900})
    ok(
        sandbox.kubectl(
            "apply", "-n", ns, "-f", str(write_manifest(tmp_path, _hpa([metric], max_replicas=3)))
        )
    )

    wait_for(lambda: _replicas(api, ns) == 3, "the HPA to scale to its maximum")

    hpa = wait_for(
        lambda: (lambda h: (c := condition(h, "ScalingLimited")) and c.status == "True" and h)(
            _read_hpa(api, ns)
        ),
        "ScalingLimited",
    )
    assert condition(hpa, "ScalingLimited").reason == "TooManyReplicas"
    assert hpa.status.current_metrics[0].object.current.value == "900"
