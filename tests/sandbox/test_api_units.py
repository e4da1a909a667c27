"""Unit tests of the API server's pure parts: selectors, quantities, durations, conversions,
protobuf decoding, and the store's own semantics without HTTP."""

from __future__ import annotations

import base64

import pytest

from sandbox.apiserver import conversion, protobuf
from sandbox.apiserver.tables import human_duration
from sandbox.machinery.errors import ApiError
from sandbox.machinery.quantity import parse_quantity
from sandbox.machinery.resources import BY_KEY
from sandbox.machinery.selectors import field_matcher, label_matcher, selector_string
from sandbox.registry.generic import Registry
from sandbox.storage.store import Store


def labelled(**labels: str) -> dict:
    return {"metadata": {"labels": labels}}


def test_a_structured_selector_matches_expressions():
    match = label_matcher(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "track", "operator": "NotIn", "values": ["canary"]},
                {"key": "tier", "operator": "Exists"},
            ],
        }
    )
    assert match(labelled(app="web", tier="x"))
    assert not match(labelled(app="web", tier="x", track="canary"))
    assert not match(labelled(app="web"))


def test_an_unparseable_selector_is_a_bad_request():
    with pytest.raises(ApiError) as err:
        label_matcher("app in web")
    assert err.value.code == 400


def test_selector_string_renders_like_kubectl():
    assert (
        selector_string(
            {
                "matchLabels": {"b": "2", "a": "1"},
                "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]}],
            }
        )
        == "a=1,b=2,c in (x,y)"
    )


def test_field_selectors_negate_and_combine():
    match = field_matcher("pods", "pods", "status.phase!=Failed,spec.nodeName=n1")
    assert match({"metadata": {}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    assert not match({"metadata": {}, "spec": {"nodeName": "n1"}, "status": {"phase": "Failed"}})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", 0.5),
        ("1", 1.0),
        ("1Gi", 2.0**30),
        ("128Mi", 128 * 2.0**20),
        ("2k", 2000.0),
        ("1e3", 1000.0),
        (3, 3.0),
    ],
)
def test_quantities_parse(text, value):
    assert parse_quantity(text) == pytest.approx(value)


def test_a_malformed_quantity_is_rejected():
    with pytest.raises(ValueError, match="quantities must match"):
        parse_quantity("1.2.3Gi")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (400 * 86400, "400d"),
    ],
)
def test_ages_print_like_kubectl(seconds, text):
    assert human_duration(seconds) == text


def test_hpa_v1_and_v2_convert_both_ways():
    v2 = {
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v2",
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "d"},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "rps"},
                        "target": {"type": "AverageValue", "averageValue": "10"},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 60},
                    },
                },
            ],
        },
        "status": {
            "currentReplicas": 2,
            "desiredReplicas": 3,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 75}},
                }
            ],
        },
    }
    v1 = conversion.hpa_to_v1(v2)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert v1["status"]["currentCPUUtilizationPercentage"] == 75
    v1["spec"]["targetCPUUtilizationPercentage"] = 40
    back = conversion.hpa_from_v1(v1, v2)
    types = [m["type"] for m in back["spec"]["metrics"]]
    assert types == ["Pods", "Resource"]  # the v2-only metric survives a v1 write
    assert back["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"] == 40


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def _field(num: int, value: bytes | int | str) -> bytes:
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(raw)) + raw


def test_a_protobuf_namespace_decodes_to_its_json_shape():
    meta = _field(1, "ml") + _field(11, _field(1, "team") + _field(2, "vision"))
    ns = _field(1, meta) + _field(2, _field(1, "kubernetes"))
    envelope = _field(1, _field(1, "v1") + _field(2, "Namespace")) + _field(2, ns)
    obj = protobuf.decode(protobuf.MAGIC + envelope)
    assert obj == {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "ml", "labels": {"team": "vision"}},
        "spec": {"finalizers": ["kubernetes"]},
    }


def test_protobuf_keeps_pointer_zeros_and_drops_plain_zeros():
    spec = _field(1, 0) + _field(5, 0)  # replicas (a pointer) 0, minReadySeconds (plain) 0
    dep = _field(1, _field(1, "d")) + _field(2, spec)
    envelope = _field(1, _field(1, "apps/v1") + _field(2, "Deployment")) + _field(2, dep)
    obj = protobuf.decode(protobuf.MAGIC + envelope)
    assert obj["spec"] == {"replicas": 0}


def test_protobuf_of_an_unknown_kind_is_unsupported_media_type():
    envelope = _field(1, _field(1, "v1") + _field(2, "Widget")) + _field(2, b"")
    with pytest.raises(ApiError) as err:
        protobuf.decode(protobuf.MAGIC + envelope)
    assert err.value.code == 415


def test_secret_bytes_decode_to_base64():
    secret = _field(1, _field(1, "s")) + _field(2, _field(1, "k") + _field(2, b"\x00\x01"))
    envelope = _field(1, _field(1, "v1") + _field(2, "Secret")) + _field(2, secret)
    assert protobuf.decode(protobuf.MAGIC + envelope)["data"] == {
        "k": base64.b64encode(b"\x00\x01").decode()
    }


def api_with_namespace() -> Registry:
    api = Registry(Store(watch_history_size=3))
    api.create("namespaces", {"metadata": {"name": "ns"}})
    return api


def test_a_no_op_update_keeps_the_resource_version():
    api = api_with_namespace()
    cm = api.create(
        "configmaps", {"metadata": {"name": "c", "namespace": "ns"}, "data": {"a": "1"}}
    )
    same = api.update("configmaps", cm)
    assert same["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]


def test_history_older_than_its_size_is_expired():
    api = api_with_namespace()
    rv = api.resource_version
    for i in range(5):
        api.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "ns"}})
    with pytest.raises(ApiError) as err:
        api.storage.history_since("configmaps", rv)
    assert err.value.code == 410
    assert len(api.storage.history_since("configmaps", api.resource_version - 2)) == 2


def test_subscribers_see_every_committed_change():
    api = api_with_namespace()
    seen = []
    api.subscribe("configmaps", lambda t, obj, old: seen.append((t, obj["metadata"]["name"])))
    api.create("configmaps", {"metadata": {"name": "c", "namespace": "ns"}})
    api.delete("configmaps", "ns", "c")
    assert seen == [("ADDED", "c"), ("DELETED", "c")]


def test_pods_are_indexed_by_node():
    api = api_with_namespace()
    for i, node in enumerate(["n1", "n2", "n1"]):
        api.create(
            "pods",
            {
                "metadata": {"name": f"p{i}", "namespace": "ns"},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i:1"}]},
            },
        )
    assert sorted(p["metadata"]["name"] for p in api.pods_on_node("n1")) == ["p0", "p2"]
    api.delete("pods", "ns", "p0", grace_period_seconds=0)
    assert [p["metadata"]["name"] for p in api.pods_on_node("n1")] == ["p2"]


def test_every_stored_kind_has_a_key():
    assert "deployments.apps" in BY_KEY
    assert BY_KEY["horizontalpodautoscalers.autoscaling"].versions == ("v2", "v1")
