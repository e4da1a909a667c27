"""What a log request may ask for, checked once for the download API and the websocket: each
bad value is refused naming its field."""

from __future__ import annotations

from rest_framework import serializers

from controlplane.kube.names import dns1123_label_problem, dns1123_subdomain_problem

# A tail longer than this is a download, not a page.
MAX_TAIL_LINES = 100_000


class LogQuerySerializer(serializers.Serializer):
    """The query of GET .../pods/{pod}/log/."""

    container = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=63,
        help_text="Container (or init container); may be left out when the pod has only one.",
    )
    tail_lines = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_TAIL_LINES,
        help_text="Only the last N lines.",
    )
    timestamps = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Prefix each line with its RFC 3339 timestamp (as kubectl logs --timestamps).",
    )
    previous = serializers.BooleanField(
        required=False, default=False, help_text="The previous (terminated) instance's log."
    )
    since_seconds = serializers.IntegerField(
        required=False, min_value=1, help_text="Only lines of the last N seconds."
    )
    follow = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Keep the response open and stream new lines as they are written.",
    )

    def validate_container(self, value: str) -> str:
        if value and (problem := dns1123_label_problem(value)):
            raise serializers.ValidationError(f"{value!r}: {problem}")
        return value


def _bool(request: dict, key: str) -> bool:
    value = request.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"subscription.{key}: must be true or false")
    return value


def _name(request: dict, key: str, *, required: bool = True) -> str | None:
    value = request.get(key)
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"subscription.{key}: a name is required")
    check = (
        dns1123_label_problem
        if key in ("namespace", "container", "containers")
        else (dns1123_subdomain_problem)
    )
    if problem := check(value):
        raise ValueError(f"subscription.{key}: {value!r}: {problem}")
    return value


def _count(request: dict, key: str, *, high: int) -> int | None:
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"subscription.{key}: must be a whole number from 0 to {high}")
    return value


def subscription_parse(request: dict) -> dict:
    """The canonical logs subscription, or ValueError naming the field (see the package doc)."""
    cluster = request.get("cluster")
    if not isinstance(cluster, str) or not cluster:
        raise ValueError("subscription.cluster: a cluster name is required")
    namespace = _name(request, "namespace")
    workloads = [key for key in ("pod", "deployment", "job") if request.get(key) not in (None, "")]
    if len(workloads) != 1:
        raise ValueError("subscription.pod: give exactly one of pod, deployment or job")
    target = workloads[0]
    subscription: dict = {
        "cluster": cluster,
        "kind": "logs",
        "namespace": namespace,
        target: _name(request, target),
        "previous": _bool(request, "previous"),
        "timestamps": _bool(request, "timestamps"),
        "tail_lines": _count(request, "tail_lines", high=MAX_TAIL_LINES),
    }
    if target == "pod":
        subscription["container"] = _name(request, "container", required=False)
        subscription["cursor"] = _count(request, "cursor", high=2**53)
        return subscription
    containers = request.get("containers")
    if containers is not None and (
        not isinstance(containers, list)
        or len(containers) > 32
        or not all(isinstance(c, str) and c for c in containers)
    ):
        raise ValueError("subscription.containers: must be a list of container names")
    for name in containers or []:
        _name({"containers": name}, "containers")
    subscription["containers"] = sorted(set(containers)) if containers else None
    cursors = request.get("cursors")
    if cursors is not None and (
        not isinstance(cursors, dict)
        or len(cursors) > 1024
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in cursors.values())
    ):
        raise ValueError("subscription.cursors: must map 'pod/container' to a cursor")
    subscription["cursors"] = cursors or None
    return subscription
