"""Create, read, update and delete through the official client, per API group, with the API
server's object semantics: uid, resourceVersion, generation, defaulting, 409s and 404s."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException


def status_of(err: pytest.ExceptionInfo) -> dict:
    return json.loads(err.value.body)


def deployment(name: str, image: str = "nginx:1.25", replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def test_it_creates_a_deployment_with_the_api_servers_defaults(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    created = apps.create_namespaced_deployment(sandbox_namespace, deployment("web"))
    meta = created.metadata
    assert meta.uid
    assert int(meta.resource_version) > 0
    assert meta.generation == 1
    assert meta.creation_timestamp is not None
    spec = created.spec
    assert spec.strategy.type == "RollingUpdate"
    assert spec.strategy.rolling_update.max_surge == "25%"
    assert spec.strategy.rolling_update.max_unavailable == "25%"
    assert spec.revision_history_limit == 10
    assert spec.progress_deadline_seconds == 600
    pod_spec = spec.template.spec
    assert pod_spec.restart_policy == "Always"
    assert pod_spec.termination_grace_period_seconds == 30
    assert pod_spec.dns_policy == "ClusterFirst"
    assert pod_spec.scheduler_name == "default-scheduler"
    assert pod_spec.containers[0].image_pull_policy == "IfNotPresent"


def test_it_defaults_image_pull_policy_to_always_for_latest_images(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    created = apps.create_namespaced_deployment(sandbox_namespace, deployment("lat", "nginx"))
    assert created.spec.template.spec.containers[0].image_pull_policy == "Always"


def test_it_bumps_generation_only_when_the_spec_changes(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    apps.create_namespaced_deployment(sandbox_namespace, deployment("gen"))
    labelled = apps.patch_namespaced_deployment(
        "gen", sandbox_namespace, {"metadata": {"labels": {"team": "ml"}}}
    )
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("gen", sandbox_namespace, {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2
    assert int(scaled.metadata.resource_version) > int(labelled.metadata.resource_version)


def test_a_second_create_of_the_same_name_is_already_exists(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    apps.create_namespaced_deployment(sandbox_namespace, deployment("dup"))
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(sandbox_namespace, deployment("dup"))
    assert err.value.status == 409
    assert status_of(err)["reason"] == "AlreadyExists"
    assert status_of(err)["message"] == 'deployments.apps "dup" already exists'


def test_a_put_with_a_stale_resource_version_is_a_conflict(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    cm = core.create_namespaced_config_map(
        sandbox_namespace, {"metadata": {"name": "cfg"}, "data": {"a": "1"}}
    )
    cm.data = {"a": "2"}
    core.replace_namespaced_config_map("cfg", sandbox_namespace, cm)
    cm.data = {"a": "3"}  # still carries the first resourceVersion
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cfg", sandbox_namespace, cm)
    assert err.value.status == 409
    assert status_of(err)["reason"] == "Conflict"
    assert "the object has been modified" in status_of(err)["message"]
    assert core.read_namespaced_config_map("cfg", sandbox_namespace).data == {"a": "2"}


def test_a_put_without_a_resource_version_is_applied(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": "force"}})
    done = core.replace_namespaced_config_map(
        "force", sandbox_namespace, {"metadata": {"name": "force"}, "data": {"k": "v"}}
    )
    assert done.data == {"k": "v"}


def test_creating_in_a_missing_namespace_is_not_found(sandbox_api):
    core = client.CoreV1Api(sandbox_api)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "x"}})
    assert err.value.status == 404
    assert status_of(err)["message"] == 'namespaces "no-such-ns" not found'


def test_generate_name_gets_a_random_suffix(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    made = core.create_namespaced_config_map(
        sandbox_namespace, {"metadata": {"generateName": "run-"}}
    )
    assert made.metadata.name.startswith("run-")
    assert len(made.metadata.name) == len("run-") + 5


def test_dry_run_validates_and_returns_without_storing(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    out = apps.create_namespaced_deployment(sandbox_namespace, deployment("dry"), dry_run="All")
    assert out.spec.revision_history_limit == 10
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("dry", sandbox_namespace)
    assert err.value.status == 404
    apps.create_namespaced_deployment(sandbox_namespace, deployment("dry"))
    apps.delete_namespaced_deployment("dry", sandbox_namespace, dry_run="All")
    assert apps.read_namespaced_deployment("dry", sandbox_namespace).metadata.name == "dry"


def test_secrets_merge_string_data_into_base64_data(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    made = core.create_namespaced_secret(
        sandbox_namespace, {"metadata": {"name": "creds"}, "stringData": {"user": "ml"}}
    )
    assert made.type == "Opaque"
    assert made.data == {"user": "bWw="}


def test_services_get_protocol_and_target_port_defaults(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    svc = core.create_namespaced_service(
        sandbox_namespace,
        {
            "metadata": {"name": "front"},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]},
        },
    )
    assert svc.spec.type == "ClusterIP"
    assert svc.spec.session_affinity == "None"
    assert svc.spec.ports[0].protocol == "TCP"
    assert svc.spec.ports[0].target_port == 80


def test_jobs_get_their_defaults_and_a_generated_selector(sandbox_api, sandbox_namespace):
    batch = client.BatchV1Api(sandbox_api)
    job = batch.create_namespaced_job(
        sandbox_namespace,
        {
            "metadata": {"name": "train"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "t", "image": "trainer:1"}],
                    }
                }
            },
        },
    )
    assert job.spec.backoff_limit == 6
    assert job.spec.completions == 1
    assert job.spec.parallelism == 1
    assert job.spec.completion_mode == "NonIndexed"
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels["job-name"] == "train"


def test_an_hpa_is_served_as_autoscaling_v2_and_v1(sandbox_api, sandbox_namespace):
    v1 = client.AutoscalingV1Api(sandbox_api)
    v2 = client.AutoscalingV2Api(sandbox_api)
    v1.create_namespaced_horizontal_pod_autoscaler(
        sandbox_namespace,
        {
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 5,
                "targetCPUUtilizationPercentage": 70,
            },
        },
    )
    as_v2 = v2.read_namespaced_horizontal_pod_autoscaler("web", sandbox_namespace)
    metric = as_v2.spec.metrics[0]
    assert metric.type == "Resource"
    assert metric.resource.name == "cpu"
    assert metric.resource.target.average_utilization == 70
    v2.patch_namespaced_horizontal_pod_autoscaler(
        "web",
        sandbox_namespace,
        {
            "spec": {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 55},
                        },
                    }
                ]
            }
        },
    )
    as_v1 = v1.read_namespaced_horizontal_pod_autoscaler("web", sandbox_namespace)
    assert as_v1.spec.target_cpu_utilization_percentage == 55
    assert as_v1.spec.min_replicas == 2


def test_an_hpa_without_metrics_defaults_to_80_percent_cpu(sandbox_api, sandbox_namespace):
    v2 = client.AutoscalingV2Api(sandbox_api)
    hpa = v2.create_namespaced_horizontal_pod_autoscaler(
        sandbox_namespace,
        {
            "metadata": {"name": "dflt"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
                "maxReplicas": 3,
            },
        },
    )
    assert hpa.spec.min_replicas == 1
    assert hpa.spec.metrics[0].resource.target.average_utilization == 80


def test_ingresses_and_ingress_classes_round_trip(sandbox_api, sandbox_namespace):
    net = client.NetworkingV1Api(sandbox_api)
    net.create_ingress_class(
        {
            "metadata": {"name": f"cls-{sandbox_namespace}"},
            "spec": {"controller": "example.com/ingress"},
        }
    )
    ing = net.create_namespaced_ingress(
        sandbox_namespace,
        {
            "metadata": {"name": "fanout"},
            "spec": {
                "ingressClassName": f"cls-{sandbox_namespace}",
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {
                                    "path": "/v1",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "model-v1", "port": {"number": 80}}
                                    },
                                }
                            ]
                        }
                    }
                ],
            },
        },
    )
    assert ing.spec.rules[0].http.paths[0].backend.service.name == "model-v1"
    listed = net.list_namespaced_ingress(sandbox_namespace).items
    assert [i.metadata.name for i in listed] == ["fanout"]
    net.delete_ingress_class(f"cls-{sandbox_namespace}")


def test_gateway_api_routes_round_trip_through_the_dynamic_client(sandbox_api, sandbox_namespace):
    dyn = dynamic.DynamicClient(sandbox_api)
    routes = dyn.resources.get(api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute")
    routes.create(
        namespace=sandbox_namespace,
        body={
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "split"},
            "spec": {
                "rules": [
                    {
                        "backendRefs": [
                            {"name": "a", "port": 80, "weight": 90},
                            {"name": "b", "port": 80, "weight": 10},
                        ]
                    }
                ]
            },
        },
    )
    got = routes.get(name="split", namespace=sandbox_namespace)
    assert got.spec.rules[0].backendRefs[1].weight == 10
    routes.patch(
        name="split",
        namespace=sandbox_namespace,
        body={"spec": {"hostnames": ["model.example"]}},
        content_type="application/merge-patch+json",
    )
    assert routes.get(name="split", namespace=sandbox_namespace).spec.hostnames == ["model.example"]


def test_cluster_scoped_nodes_are_listed_without_a_namespace(sandbox_api):
    nodes = client.CoreV1Api(sandbox_api).list_node().items
    assert len(nodes) >= 4
    assert all(n.metadata.namespace is None for n in nodes)


def test_a_delete_of_a_missing_object_is_not_found(sandbox_api, sandbox_namespace):
    with pytest.raises(ApiException) as err:
        client.AppsV1Api(sandbox_api).delete_namespaced_deployment("ghost", sandbox_namespace)
    assert err.value.status == 404
    assert status_of(err)["message"] == 'deployments.apps "ghost" not found'


def test_the_scale_subresource_reads_and_writes_replicas(sandbox_api, sandbox_namespace):
    apps = client.AppsV1Api(sandbox_api)
    apps.create_namespaced_deployment(sandbox_namespace, deployment("sc", replicas=1))
    scale = apps.read_namespaced_deployment_scale("sc", sandbox_namespace)
    assert scale.spec.replicas == 1
    assert scale.status.selector == "app=sc"
    apps.patch_namespaced_deployment_scale("sc", sandbox_namespace, {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("sc", sandbox_namespace).spec.replicas == 4
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment_scale("sc", sandbox_namespace, {"spec": {"replicas": -2}})
    assert err.value.status == 422


def test_kubectl_creates_objects_it_encodes_as_protobuf(sandbox, sandbox_namespace):
    ns = ["-n", sandbox_namespace]
    sandbox.kubectl(
        "create",
        "deployment",
        "pb",
        "--image=nginx:1.25",
        "--replicas=2",
        "--port=80",
        *ns,
        check=True,
    )
    sandbox.kubectl(
        "autoscale", "deployment", "pb", "--min=2", "--max=4", "--cpu=60%", *ns, check=True
    )
    sandbox.kubectl("create", "configmap", "pbcm", "--from-literal=a=b", *ns, check=True)
    sandbox.kubectl("create", "secret", "generic", "pbs", "--from-literal=p=q", *ns, check=True)
    sandbox.kubectl("create", "service", "clusterip", "pbsvc", "--tcp=80:8080", *ns, check=True)
    out = sandbox.kubectl(
        "get",
        "deploy/pb",
        "-o",
        "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort}",
        *ns,
        check=True,
    ).stdout
    assert out == "2 80"
    hpa = sandbox.kubectl(
        "get",
        "hpa/pb",
        "-o",
        "jsonpath={.spec.metrics[0].resource.target.averageUtilization}",
        *ns,
        check=True,
    ).stdout
    assert hpa == "60"
    secret = sandbox.kubectl(
        "get", "secret/pbs", "-o", "jsonpath={.data.p}", *ns, check=True
    ).stdout
    assert secret == "cQ=="
