"""Validation errors worded like the real API server, through kubectl and the client."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

TYPO = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: typo}
spec:
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers:
      - name: main
        imagee: nginx:1.25
"""


def test_kubectl_apply_names_the_unknown_field(sandbox, sandbox_namespace):
    result = sandbox.kubectl("apply", "-n", sandbox_namespace, "-f", "-", input=TYPO)
    assert result.returncode != 0
    assert (
        'strict decoding error: unknown field "spec.template.spec.containers[0].imagee"'
        in result.stderr
    )


def test_without_strict_validation_unknown_fields_are_a_warning(sandbox, sandbox_namespace):
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "warned", "colour": "blue"},
        "data": {"a": "b"},
    }
    path = f"/api/v1/namespaces/{sandbox_namespace}/configmaps"
    status, created, headers = sandbox.request("POST", path, body)
    assert status == 201
    assert "colour" not in created["metadata"]
    assert 'unknown field \\"metadata.colour\\"' in headers["Warning"]
    status, err, _ = sandbox.request(
        "POST",
        path + "?fieldValidation=Strict",
        {**body, "metadata": {"name": "strict", "colour": "x"}},
    )
    assert status == 400
    assert err["message"] == 'strict decoding error: unknown field "metadata.colour"'


def test_a_wrong_value_type_is_a_bad_request_naming_the_field(sandbox, sandbox_namespace):
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "t"},
        "spec": {"replicas": "three"},
    }
    status, err, _ = sandbox.request(
        "POST", f"/apis/apps/v1/namespaces/{sandbox_namespace}/deployments", body
    )
    assert status == 400
    assert (
        "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas"
        in (err["message"])
    )


def test_invalid_fields_are_listed_as_causes(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(
            sandbox_namespace,
            {
                "metadata": {"name": "Bad_Name"},
                "spec": {
                    "replicas": -1,
                    "selector": {"matchLabels": {"app": "a"}},
                    "template": {
                        "metadata": {"labels": {"app": "b"}},
                        "spec": {"containers": [{"name": "c"}]},
                    },
                },
            },
        )
    assert err.value.status == 422
    status = json.loads(err.value.body)
    assert status["reason"] == "Invalid"
    fields = {c["field"]: c for c in status["details"]["causes"]}
    assert set(fields) == {
        "metadata.name",
        "spec.replicas",
        "spec.template.metadata.labels",
        "spec.template.spec.containers[0].image",
    }
    assert fields["spec.replicas"]["message"] == (
        "Invalid value: -1: must be greater than or equal to 0"
    )
    assert fields["spec.template.spec.containers[0].image"]["reason"] == "FieldValueRequired"
    assert status["message"].startswith('Deployment.apps "Bad_Name" is invalid: [')


def test_service_names_must_be_dns_1035_labels(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service(
            sandbox_namespace, {"metadata": {"name": "1abc"}, "spec": {"ports": [{"port": 80}]}}
        )
    cause = json.loads(err.value.body)["details"]["causes"][0]
    assert cause["field"] == "metadata.name"
    assert "DNS-1035 label" in cause["message"]


def test_job_pods_may_not_restart_always(sandbox_api, sandbox_namespace):
    batch = client.BatchV1Api(sandbox_api)
    with pytest.raises(ApiException) as err:
        batch.create_namespaced_job(
            sandbox_namespace,
            {
                "metadata": {"name": "j"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
            },
        )
    cause = json.loads(err.value.body)["details"]["causes"][0]
    assert cause["field"] == "spec.template.spec.restartPolicy"
    assert cause["message"] == (
        'Unsupported value: "Always": supported values: "OnFailure", "Never"'
    )


def test_a_deployment_selector_is_immutable(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    apps.create_namespaced_deployment(
        sandbox_namespace,
        {
            "metadata": {"name": "imm"},
            "spec": {
                "selector": {"matchLabels": {"app": "a"}},
                "template": {
                    "metadata": {"labels": {"app": "a", "v": "1"}},
                    "spec": {"containers": [{"name": "c", "image": "i:1"}]},
                },
            },
        },
    )
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment(
            "imm", sandbox_namespace, {"spec": {"selector": {"matchLabels": {"v": "1"}}}}
        )
    cause = json.loads(err.value.body)["details"]["causes"][0]
    assert cause["field"] == "spec.selector"
    assert cause["message"].endswith("field is immutable")


def test_hpa_max_replicas_must_not_be_below_min(sandbox_api, sandbox_namespace):
    v2 = client.AutoscalingV2Api(sandbox_api)
    with pytest.raises(ApiException) as err:
        v2.create_namespaced_horizontal_pod_autoscaler(
            sandbox_namespace,
            {
                "metadata": {"name": "h"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "x"},
                    "minReplicas": 5,
                    "maxReplicas": 2,
                },
            },
        )
    cause = json.loads(err.value.body)["details"]["causes"][0]
    assert cause["field"] == "spec.maxReplicas"


def test_resource_requests_may_not_exceed_limits(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(
            sandbox_namespace,
            {
                "metadata": {"name": "p"},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "i:1",
                            "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
                        }
                    ]
                },
            },
        )
    cause = json.loads(err.value.body)["details"]["causes"][0]
    assert cause["field"] == "spec.containers[0].resources.requests"
    assert "must be less than or equal to cpu limit of 1" in cause["message"]
