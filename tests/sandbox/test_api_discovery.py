"""Discovery and OpenAPI documents, as kubectl and the official client read them."""

from __future__ import annotations

import json

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


def test_it_serves_the_version_without_a_token(sandbox):
    status, body, _ = sandbox.request("GET", "/version", token="")
    assert status == 200
    assert body["major"] == "1"
    assert body["gitVersion"].startswith("v1.")


def test_it_lists_the_core_resources_with_verbs_and_short_names(sandbox):
    status, body, _ = sandbox.request("GET", "/api/v1")
    assert status == 200
    resources = {r["name"]: r for r in body["resources"]}
    assert resources["pods"]["shortNames"] == ["po"]
    assert "watch" in resources["pods"]["verbs"]
    assert resources["pods"]["categories"] == ["all"]
    assert resources["pods/log"]["verbs"] == ["get"]
    assert resources["pods/eviction"]["group"] == "policy"
    assert resources["namespaces"]["namespaced"] is False


def test_it_lists_every_group_of_the_issue(sandbox):
    status, body, _ = sandbox.request("GET", "/apis")
    assert status == 200
    names = {g["name"]: g for g in body["groups"]}
    for group in (
        "apps",
        "autoscaling",
        "batch",
        "networking.k8s.io",
        "gateway.networking.k8s.io",
        "metrics.k8s.io",
        "authorization.k8s.io",
    ):
        assert group in names
    assert names["autoscaling"]["preferredVersion"]["version"] == "v2"
    assert [v["version"] for v in names["autoscaling"]["versions"]] == ["v2", "v1"]


def test_it_answers_aggregated_discovery_when_asked_first(sandbox):
    status, body, headers = sandbox.request("GET", "/apis", headers={"Accept": AGGREGATED})
    assert status == 200
    assert "apidiscovery.k8s.io" in headers["Content-Type"]
    apps = next(i for i in body["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deploy["scope"] == "Namespaced"
    scale = next(s for s in deploy["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def test_its_openapi_v3_tells_kubectl_that_the_server_validates_fields(sandbox):
    _, index, _ = sandbox.request("GET", "/openapi/v3")
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    status, doc, _ = sandbox.request("GET", url)
    assert status == 200
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    schemas = doc["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"


def test_it_serves_an_openapi_v2_document(sandbox):
    status, payload, _ = sandbox.request("GET", "/openapi/v2", raw=True)
    assert status == 200
    doc = json.loads(payload)
    assert doc["swagger"] == "2.0"
    assert "io.k8s.api.apps.v1.Deployment" in doc["definitions"]


def test_kubectl_lists_the_api_resources(sandbox):
    out = sandbox.kubectl("api-resources", check=True).stdout
    for line in ("deployments", "horizontalpodautoscalers", "httproutes", "ingresses"):
        assert line in out


def test_kubectl_explains_a_field_from_the_openapi_document(sandbox):
    out = sandbox.kubectl("explain", "deployment.spec.replicas", check=True).stdout
    assert "replicas" in out
    assert "integer" in out


def test_an_unknown_path_is_a_not_found_status(sandbox):
    status, body, _ = sandbox.request("GET", "/apis/apps/v1/namespaces/default/widgets")
    assert status == 404
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
