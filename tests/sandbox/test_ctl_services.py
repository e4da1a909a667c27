"""Service and Endpoints controllers against the real sandbox."""

from __future__ import annotations

import ipaddress

from kubernetes import client

from sandbox.testing import wait_for
from tests.sandbox.ctl_support import deployment_manifest, ok, script, write_manifest

NAMESPACE_PREFIX = "svc"


def _service(name, *, svc_type="ClusterIP", selector=None, cluster_ip=None, target_port=8080):
    spec = {
        "type": svc_type,
        "selector": selector or {"app": name},
        "ports": [{"name": "http", "port": 80, "targetPort": target_port}],
    }
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"metadata": {"name": name}, "spec": spec}


def _core(api):
    return client.CoreV1Api(api)


def _addresses(api, ns, name):
    endpoints = _core(api).read_namespaced_endpoints(name, ns)
    ready, unready = [], []
    for subset in endpoints.subsets or []:
        ready += [a.ip for a in subset.addresses or []]
        unready += [a.ip for a in subset.not_ready_addresses or []]
    return ready, unready


def test_services_get_unique_cluster_ips_and_headless_services_get_none(api, ns):
    for i in range(3):
        _core(api).create_namespaced_service(ns, _service(f"web{i}"))
    _core(api).create_namespaced_service(ns, _service("headless", cluster_ip="None"))

    ips = wait_for(
        lambda: (lambda s: all(s) and s)(
            [_core(api).read_namespaced_service(f"web{i}", ns).spec.cluster_ip for i in range(3)]
        ),
        "cluster IPs",
    )

    assert len(set(ips)) == 3
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("127.96.0.0/12") for ip in ips)
    assert _core(api).read_namespaced_service("headless", ns).spec.cluster_ip == "None"


def test_a_load_balancer_service_gets_node_ports_and_an_external_ip(sandbox, api, ns):
    _core(api).create_namespaced_service(ns, _service("front", svc_type="LoadBalancer"))

    svc = wait_for(
        lambda: (lambda s: s.status.load_balancer.ingress and s)(
            _core(api).read_namespaced_service("front", ns)
        ),
        "the load balancer IP",
    )

    ip = svc.status.load_balancer.ingress[0].ip
    ipaddress.ip_address(ip)
    assert 30000 <= svc.spec.ports[0].node_port <= 32767
    listing = ok(sandbox.kubectl("get", "service", "front", "-n", ns)).stdout
    assert ip in listing


def test_endpoints_follow_pod_readiness_and_scaling(sandbox, api, ns, tmp_path):
    script(
        api,
        "POST",
        "behaviors",
        {"match": {"namespace": ns, "labels": {"app": "web"}}, "readinessDelaySeconds": 0.5},
    )
    manifest = deployment_manifest(
        "web", replicas=2, container={"ports": [{"name": "http", "containerPort": 8080}]}
    )
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, manifest))))
    _core(api).create_namespaced_service(ns, _service("web", target_port="http"))

    wait_for(lambda: len(_addresses(api, ns, "web")[1]) == 2, "two not-ready addresses")
    wait_for(
        lambda: _addresses(api, ns, "web") and len(_addresses(api, ns, "web")[0]) == 2,
        "two ready addresses",
    )

    endpoints = _core(api).read_namespaced_endpoints("web", ns)
    subset = endpoints.subsets[0]
    assert [(p.name, p.port) for p in subset.ports] == [("http", 8080)]
    pod_ips = {
        p.status.pod_ip for p in _core(api).list_namespaced_pod(ns, label_selector="app=web").items
    }
    assert {a.ip for a in subset.addresses} == pod_ips
    assert all(a.target_ref.kind == "Pod" for a in subset.addresses)

    ok(sandbox.kubectl("scale", "-n", ns, "deployment/web", "--replicas=1"))
    wait_for(
        lambda: (
            _addresses(api, ns, "web") == (_addresses(api, ns, "web")[0], [])
            and len(_addresses(api, ns, "web")[0]) == 1
        ),
        "one address after scaling down",
    )
