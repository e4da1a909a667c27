"""HTTPRoute (gateway.networking.k8s.io/v1) writes are validated as the Gateway API CRD's
schema and CEL rules make a real API server validate them: one cause per bad field."""

from __future__ import annotations

import copy


def route(**spec) -> dict:
    base = {
        "parentRefs": [{"name": "gw"}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [
                    {"name": "model-a", "port": 80, "weight": 90},
                    {"name": "model-b", "port": 80, "weight": 10},
                ],
            }
        ],
    }
    base.update(spec)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "split"},
        "spec": base,
    }


def post(sandbox, namespace, body):
    path = f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes"
    return sandbox.request("POST", path, body)


def causes(payload) -> dict[str, str]:
    return {c["field"]: c["message"] for c in payload["details"]["causes"]}


def test_a_weighted_route_is_stored_as_sent(sandbox, sandbox_namespace):
    status, payload, _ = post(sandbox, sandbox_namespace, route())
    assert status == 201, payload
    got = sandbox.kubectl("-n", sandbox_namespace, "get", "httproute", "split", "-o", "json")
    assert '"weight": 90' in got.stdout


def test_bad_weights_ports_paths_and_headers_are_refused_naming_each_field(
    sandbox, sandbox_namespace
):
    body = route()
    rule = body["spec"]["rules"][0]
    rule["backendRefs"][0]["weight"] = -1
    del rule["backendRefs"][1]["port"]
    rule["matches"][0]["path"]["value"] = "model"
    rule["matches"].append({"headers": [{"name": "bad header", "value": "x"}]})
    rule["filters"] = [{"type": "ResponseHeaderModifier"}]
    status, payload, _ = post(sandbox, sandbox_namespace, body)
    assert status == 422, payload
    found = causes(payload)
    base = "spec.rules[0]"
    assert "must be between 0 and 1000000" in found[f"{base}.backendRefs[0].weight"]
    assert "Must have port for Service reference" in found[f"{base}.backendRefs[1].port"]
    assert "must be an absolute path" in found[f"{base}.matches[0].path.value"]
    assert "valid HTTP header name" in found[f"{base}.matches[1].headers[0].name"]
    assert (
        "responseHeaderModifier must be specified"
        in found[f"{base}.filters[0].responseHeaderModifier"]
    )
    assert sandbox.kubectl("-n", sandbox_namespace, "get", "httproute", "split").returncode != 0


def test_more_than_sixteen_rules_are_refused(sandbox, sandbox_namespace):
    body = route()
    body["spec"]["rules"] = [copy.deepcopy(body["spec"]["rules"][0]) for _ in range(17)]
    status, payload, _ = post(sandbox, sandbox_namespace, body)
    assert status == 422
    assert causes(payload)["spec.rules"] == "Invalid value: 17: must have at most 16 items"
