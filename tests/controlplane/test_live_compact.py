"""What the watcher's cache keeps at scale: compact pods that still give every reader its
fields, tallies that stay equal to a recount through every kind of change, the newest events
without reading them all, and a namespace's objects selected inside Redis."""

import copy
import uuid
from decimal import Decimal

import pytest

from controlplane.dashboard.summaries import node_rows
from controlplane.live.cache import LiveCache, cached_newest, cached_snapshot, redis_client
from controlplane.live.compact import compact
from controlplane.live.tallies import pod_phases, tally
from deployments import rollouts
from deployments.selectors_detail import _pod_rows, _service_rows
from trainer.sync import pod_record


def full_pod(name="web-1", namespace="ns", node="n1", phase="Running", cpu="250m", rv=1):
    """A pod as an API server sends it, with the bulk no page reads."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "resourceVersion": str(rv),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "abc"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "a": "b"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-abc",
                    "uid": "rs-uid",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}],
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "server",
                    "image": "reg/web:1",
                    "env": [{"name": "MODEL_DIR", "value": "/models"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
                    "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}},
                    "ports": [{"containerPort": 80}],
                }
            ],
            "initContainers": [
                {"name": "fetch", "image": "reg/fetch:1", "resources": {"requests": {"cpu": "1"}}}
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
        },
        "status": {
            "phase": phase,
            "startTime": "2026-01-01T00:00:01Z",
            "podIP": "10.0.0.5",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
            ],
            "containerStatuses": [
                {
                    "name": "server",
                    "ready": False,
                    "restartCount": 3,
                    "image": "reg/web:1",
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ],
        },
    }


def test_a_compact_pod_drops_what_no_page_reads():
    pod = compact("pods", full_pod())
    server = pod["spec"]["containers"][0]
    assert "managedFields" not in pod["metadata"]
    assert pod["metadata"]["annotations"] == {"a": "b"}
    assert set(server) == {"name", "image", "resources", "ports"}
    assert "volumes" not in pod["spec"]
    assert "blockOwnerDeletion" not in pod["metadata"]["ownerReferences"][0]


def test_every_reader_of_cached_pods_gets_the_same_answer_from_a_compact_pod():
    full = full_pod()
    small = compact("pods", copy.deepcopy(full))
    assert rollouts._pod_summary(small, {"web-abc": 2}) == rollouts._pod_summary(
        full, {"web-abc": 2}
    )
    assert pod_record(small) == pod_record(full)
    node = {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4"}}}
    assert node_rows([node], [small]) == node_rows([node], [full])
    summary = rollouts._pod_summary(full, {})
    assert _pod_rows([summary], [small], "here") == _pod_rows([summary], [full], "here")
    service = {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}}}
    assert _service_rows([service], {"app": "web"}, [small]) == _service_rows(
        [service], {"app": "web"}, [full]
    )


def test_other_kinds_keep_everything_but_the_bookkeeping():
    deployment = {
        "metadata": {"name": "web", "managedFields": [{}], "annotations": {"x": "y"}},
        "spec": {"template": {"spec": {"containers": [{"name": "s", "env": []}]}}},
    }
    kept = compact("deployments", deployment)
    assert kept["spec"] == deployment["spec"]
    assert kept["metadata"] == {"name": "web", "annotations": {"x": "y"}}


@pytest.fixture
def cache(settings):
    settings.REDIS_PREFIX = f"{settings.REDIS_PREFIX}-t{uuid.uuid4().hex[:8]}"
    live = LiveCache(redis_client(), settings.REDIS_PREFIX)
    live.heartbeat(30, {"pid": 0})
    yield live
    keys = list(live.client.scan_iter(match=f"{settings.REDIS_PREFIX}:*"))
    if keys:
        live.client.delete(*keys)


def stored_tallies(cache, kind="pods") -> dict[str, int]:
    return {k: int(v) for k, v in cache.client.hgetall(cache.tally_key("c", kind)).items()}


def recount(cache, kind="pods") -> dict[str, int]:
    return tally(kind, cached_snapshot(cluster_name="c", kind=kind)[0])


def test_tallies_follow_added_modified_and_deleted_pods_and_a_relist(cache):
    _, _, list_id = cache.replace(
        "c", "pods", [full_pod("a"), full_pod("b", phase="Pending", node="n2")], "1"
    )
    assert stored_tallies(cache) == recount(cache)
    assert stored_tallies(cache)["node:n1"] == 1
    # 250m + the larger init container (1 cpu) -> 1 cpu in thousandths.
    assert stored_tallies(cache)["req:n1:cpu"] == 1000
    cache.apply(
        "c", "pods", "ADDED", full_pod("c", namespace="other", cpu="2", rv=2), list_id=list_id
    )
    cache.apply("c", "pods", "MODIFIED", full_pod("b", phase="Running", rv=3), list_id=list_id)
    assert pod_phases(stored_tallies(cache), None) == {"Running": 3}
    assert pod_phases(stored_tallies(cache), {"other"}) == {"Running": 1}
    assert stored_tallies(cache)["req:n1:cpu"] == 1000 + 1000 + 2000
    # Finished pods hold nothing on their node; deleted ones are gone from every counter.
    cache.apply("c", "pods", "MODIFIED", full_pod("a", phase="Succeeded", rv=4), list_id=list_id)
    cache.apply("c", "pods", "DELETED", full_pod("c", namespace="other", rv=5), list_id=list_id)
    counted = stored_tallies(cache)
    assert counted == recount(cache)
    assert counted["node:n1"] == 1
    assert "ns:other" not in counted
    assert "node:n2" not in counted  # b moved from n2 to n1: no zero counters are kept
    assert counted["phase:ns:Succeeded"] == 1
    cache.replace("c", "pods", [full_pod("z", node="n3")], "9")
    assert stored_tallies(cache) == {
        "ns:ns": 1,
        "phase:ns:Running": 1,
        "node:n3": 1,
        "req:n3:cpu": 1000,
        "req:n3:memory": 64 * 1024**2 * 1000,
    }
    cache.replace("c", "pods", [], "10")
    assert stored_tallies(cache) == {}


def test_deployments_tallies_count_those_fully_ready():
    def deployment(name, replicas, ready):
        return {
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"replicas": replicas},
            "status": {"readyReplicas": ready},
        }

    counted = tally("deployments", [deployment("a", 2, 2), deployment("b", 3, 1)])
    assert counted == {"ns:ns": 2, "ready:ns": 1}


def test_a_page_reads_the_newest_events_without_reading_them_all(cache):
    def event(name, minute):
        return {
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": str(minute)},
            "reason": "Scheduled",
            "lastTimestamp": f"2026-01-01T00:{minute:02d}:00Z",
        }

    _, _, list_id = cache.replace("c", "events", [event(f"e{m}", m) for m in range(30)], "30")
    newest, _ = cached_newest(cluster_name="c", kind="events", limit=3)
    assert [e["metadata"]["name"] for e in newest] == ["e29", "e28", "e27"]
    cache.apply("c", "events", "MODIFIED", event("e3", 59), list_id=list_id)
    cache.apply("c", "events", "DELETED", event("e29", 29), list_id=list_id)
    newest, _ = cached_newest(cluster_name="c", kind="events", limit=3)
    assert [e["metadata"]["name"] for e in newest] == ["e3", "e28", "e27"]
    # Nothing counts events (several per pod): no counter is kept for them.
    assert stored_tallies(cache, "events") == {}


def test_a_namespace_is_read_without_fetching_the_others(cache):
    pods = [full_pod(f"p{i}", namespace=f"ns{i % 3}") for i in range(30)]
    cache.replace("c", "pods", pods, "1")
    one, _ = cached_snapshot(cluster_name="c", kind="pods", namespace="ns1")
    assert [p["metadata"]["name"] for p in one] == sorted(f"p{i}" for i in range(1, 30, 3))
    assert cached_snapshot(cluster_name="c", kind="pods", namespace="none")[0] == []


def relisted(cache, pods, resource_version, max_changes):
    builder = cache.relist("c", "pods")
    for pod in pods:
        builder.add(pod)
    return builder.commit(resource_version, max_changes=max_changes)


def test_a_relist_reports_each_change_while_few_and_only_namespaces_when_many(cache):
    relisted(cache, [full_pod("a"), full_pod("b"), full_pod("d")], "1", 5)
    relist = relisted(cache, [full_pod("a"), full_pod("b", rv=2), full_pod("c")], "2", 5)
    assert sorted(t for t, _ in relist.changes) == ["ADDED", "DELETED", "MODIFIED"]
    assert stored_tallies(cache) == recount(cache)
    many = [full_pod(f"x{i}", namespace=f"n{i % 2}") for i in range(2500)]
    relist = relisted(cache, many, "3", 5)
    assert relist.changes is None
    assert relist.namespaces == {"ns", "n0", "n1"}
    assert len(cached_snapshot(cluster_name="c", kind="pods")[0]) == 2500
    assert stored_tallies(cache) == recount(cache)
    assert not list(cache.client.scan_iter(match=f"{cache.prefix}:*previous*"))


def test_node_usage_is_in_whole_units_again():
    node = {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "1Gi"}}}
    [row] = node_rows([node], [full_pod(cpu="1500m")])
    assert row.requested == {"cpu": Decimal("1.5"), "memory": Decimal(64 * 1024**2)}
