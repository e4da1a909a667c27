"""Metrics sampling (deployments/metrics): scripted sandbox usage in, stored series out;
downsampling, retention pruning, overlapping cycles and clusters without metrics.k8s.io."""

import math
import time
import uuid

import pytest
from django.conf import settings

from controlplane.clusters.services import cluster_register_sandbox
from controlplane.kube.metrics import pod_metrics_list
from deployments.metrics.sampling import metrics_redis, metrics_sample, store_for
from deployments.metrics.store import HOUR, SeriesStore
from sandbox.testing import SandboxProcess
from tests.fixtures.controlplane import make_deployment, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
MIB = 2**20


def _clear(store: SeriesStore) -> None:
    keys = list(store.client.scan_iter(match=f"{store.base}:*", count=1000))
    if keys:
        store.client.unlink(*keys)


@pytest.fixture
def store():
    s = SeriesStore(metrics_redis(), prefix=settings.REDIS_PREFIX, cluster=uuid.uuid4().hex)
    yield s
    _clear(s)


def _pod_values(sandbox_cluster, namespace):
    items = pod_metrics_list(sandbox_cluster.connection())
    return {
        m["metadata"]["name"]: m["containers"][0]["usage"]
        for m in items
        if m["metadata"]["namespace"] == namespace
    }


def test_a_cycle_stores_each_pods_scripted_usage_and_the_deployment_total(
    sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    _clear(store_for(sandbox_cluster.name))
    make_deployment(sandbox, kube_namespace, tmp_path, name="model", replicas=2)
    sandbox.script(
        "usage", {"match": {"namespace": kube_namespace}, "cpu": "250m", "memory": "100Mi"}
    )
    wait_for(
        lambda: len(_pod_values(sandbox_cluster, kube_namespace)) == 2,
        what="two pods with metrics",
    )
    at = (int(1e9) // HOUR) * HOUR + 30 * 60  # a fixed half past, so slots are known
    result = metrics_sample(cluster=sandbox_cluster, now=at)
    assert result.status == "ok", result.message
    assert result.pods >= 2
    assert result.nodes >= 1

    s = store_for(sandbox_cluster.name)
    pods = s.members(deployment=f"{kube_namespace}/model", start=at, end=at)
    assert sorted(pods) == sorted(_pod_values(sandbox_cluster, kube_namespace))
    interval = settings.METRICS_INTERVAL
    series = [f"p/{kube_namespace}/{p}" for p in pods] + [f"d/{kube_namespace}/model"]
    read = s.read(series=series, start=at - 60, end=at, step=interval, interval=interval)
    for pod in pods:
        [(t, (cpu, memory))] = read[f"p/{kube_namespace}/{pod}"]
        assert t == at
        assert cpu == pytest.approx(0.25)
        assert memory == pytest.approx(100 * MIB)
    [(t, record)] = read[f"d/{kube_namespace}/model"]
    replicas, ready, cpu, memory, *hpa = record
    assert (replicas, ready) == (2, 2)
    assert cpu == pytest.approx(0.5)
    assert memory == pytest.approx(200 * MIB)
    assert hpa == [None, None, None, None]  # no autoscaler: nothing invented
    state = s.state()
    assert state["status"] == "ok"
    assert float(state["last_sample"]) == at
    assert float(state["cycle_seconds"]) > 0


def test_downsampling_averages_each_minute_and_five_minutes_and_skips_gaps(store):
    hour = 400_000
    start = hour * HOUR
    # cpu = the minute number, memory = twice it; minute 3 has no samples at all, minute 4
    # only one of its four.
    for second in range(0, 10 * 60, 15):
        minute = second // 60
        if minute == 3 or (minute == 4 and second % 60):
            continue
        store.write(
            at=start + second,
            interval=15,
            samples={"p/ns/a": (float(minute), 2.0 * minute + second % 60)},
            members={},
            retention=24 * HOUR,
        )
    assert store.compact(hour=hour, interval=15, retention=24 * HOUR) == 1
    minutes = store.client.get(store.key(60, hour, "p/ns/a"))
    fives = store.client.get(store.key(300, hour, "p/ns/a"))
    from array import array

    m = array("f")
    m.frombytes(minutes)
    cpu = m[0::2]
    memory = m[1::2]
    assert list(cpu[:3]) == [0.0, 1.0, 2.0]
    assert math.isnan(cpu[3])
    assert math.isnan(memory[3])
    assert cpu[4] == 4.0
    assert memory[4] == 8.0
    assert memory[1] == pytest.approx(2.0 + (0 + 15 + 30 + 45) / 4)
    assert all(math.isnan(v) for v in cpu[10:])
    f = array("f")
    f.frombytes(fives)
    assert f[0] == pytest.approx((0 + 1 + 2 + 4) / 4)  # the gap is skipped, not a zero
    assert f[2] == pytest.approx((5 + 6 + 7 + 8 + 9) / 5)
    # A read at 5-minute steps of the raw hour gives the same means as the rollup.
    read = store.read(series=["p/ns/a"], start=start, end=start + 599, step=300, interval=15)[
        "p/ns/a"
    ]
    assert [t for t, _ in read] == [start, start + 300]
    assert read[1][1][0] == pytest.approx(7.0)


def test_pruning_drops_each_level_at_its_age_and_everything_past_the_retention(store):
    now_hour = 500_000
    retention = 24 * HOUR
    for back in (30, 10, 3, 1, 0):
        hour = now_hour - back
        for second in (0, 15):
            store.write(
                at=hour * HOUR + second,
                interval=15,
                samples={"p/ns/a": (1.0, 2.0), "d/ns/web": (1.0,) * 8},
                members={"ns/web": ["a"]},
                retention=retention,
            )
    now = now_hour * HOUR + 10
    assert store.hours_to_compact(now=now) == [
        now_hour - 30,
        now_hour - 10,
        now_hour - 3,
        now_hour - 1,
    ]
    for hour in store.hours_to_compact(now=now):
        store.compact(hour=hour, interval=15, retention=retention)
    assert store.hours_to_compact(now=now) == []
    store.prune(now=now, interval=15, retention=retention)

    def present(step, back):
        return bool(store.client.exists(store.key(step, now_hour - back, "p/ns/a")))

    # Past the retention: every level and the deployment's pod list are gone.
    assert not any(present(step, 30) for step in (15, 60, 300))
    assert not store.client.exists(store.members_key(now_hour - 30, "ns/web"))
    assert now_hour - 30 not in store.hours()
    # Ten hours back: only 5-minute means; three back: 1- and 5-minute; the last two: raw too.
    assert [present(step, 10) for step in (15, 60, 300)] == [False, False, True]
    assert [present(step, 3) for step in (15, 60, 300)] == [False, True, True]
    assert [present(step, 1) for step in (15, 60, 300)] == [True, True, True]
    assert [present(step, 0) for step in (15, 60, 300)] == [True, False, False]
    # Reads fall back to whatever level an hour still has.
    read = store.read(
        series=["p/ns/a"], start=(now_hour - 10) * HOUR, end=now, step=300, interval=15
    )["p/ns/a"]
    assert [t // HOUR for t, _ in read] == [now_hour - 10, now_hour - 3, now_hour - 1, now_hour]
    assert all(values == (1.0, 2.0) for _, values in read)


def test_a_cycle_is_skipped_while_another_holds_the_clusters_lock(offline_cluster):
    s = store_for(offline_cluster.name)
    lock = s.client.lock(s.lock_key, timeout=30)
    assert lock.acquire(blocking=False)
    try:
        result = metrics_sample(cluster=offline_cluster)
    finally:
        lock.release()
    assert result.status == "skipped"


def test_a_cluster_without_metrics_api_is_recorded_as_such(tmp_path):
    proc = SandboxProcess(tmp_path / "bare", extra_args=("--no-controllers",))
    proc.start()
    try:
        cluster = cluster_register_sandbox(name="bare", path=proc.kubeconfig)
        _clear(store_for(cluster.name))
        result = metrics_sample(cluster=cluster)
    finally:
        proc.stop()
    assert result.status == "absent"
    assert "metrics.k8s.io" in result.message
    state = store_for(cluster.name).state()
    assert state["status"] == "absent"
    assert "last_sample" not in state
    _clear(store_for(cluster.name))


def test_the_cluster_task_samples_and_queues_each_finished_hour_for_compaction_once(
    sandbox_cluster, monkeypatch
):
    from deployments.metrics import tasks

    _clear(store_for(sandbox_cluster.name))
    queued = []
    monkeypatch.setattr(tasks.metrics_compact, "delay", lambda *args: queued.append(args))
    an_hour_ago = time.time() - HOUR
    assert metrics_sample(cluster=sandbox_cluster, now=an_hour_ago).status == "ok"

    assert tasks.metrics_sample_cluster.run(sandbox_cluster.id)["status"] == "ok"

    assert queued == [(sandbox_cluster.id, int(an_hour_ago // HOUR))]
    assert tasks.metrics_compact.run(*queued[0]) > 0
    assert tasks.metrics_compact.run(*queued[0]) == 0  # done already: not twice
    _clear(store_for(sandbox_cluster.name))


def test_a_cycle_records_the_autoscalers_current_against_its_target(
    sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    import json

    _clear(store_for(sandbox_cluster.name))
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "scaled", "namespace": kube_namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "scaled"}},
            "template": {
                "metadata": {"labels": {"app": "scaled"}},
                "spec": {
                    "containers": [
                        {
                            "name": "model",
                            "image": "example/model:1",
                            "resources": {"requests": {"cpu": "500m"}},
                        }
                    ]
                },
            },
        },
    }
    path = tmp_path / "scaled.json"
    path.write_text(json.dumps(manifest))
    assert sandbox.kubectl("create", "--validate=false", "-f", str(path)).returncode == 0
    sandbox.script("usage", {"match": {"namespace": kube_namespace}, "cpu": "250m"})
    result = sandbox.kubectl(
        "autoscale", "deployment/scaled", "-n", kube_namespace,
        "--cpu-percent=80", "--min=2", "--max=4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    def current():
        hpa = json.loads(
            sandbox.kubectl("get", "hpa", "scaled", "-n", kube_namespace, "-o", "json").stdout
        )
        return (hpa.get("status") or {}).get("currentMetrics")

    wait_for(current, what="the autoscaler to measure cpu")
    at = time.time()
    assert metrics_sample(cluster=sandbox_cluster, now=at).status == "ok"
    s = store_for(sandbox_cluster.name)
    interval = settings.METRICS_INTERVAL
    series = f"d/{kube_namespace}/scaled"
    [(_, record)] = s.read(series=[series], start=at - 1, end=at, step=interval, interval=interval)[
        series
    ]
    replicas, _ready, _cpu, _memory, hpa_now, hpa_desired, hpa_current, hpa_target = record
    assert replicas == 2
    assert hpa_target == 80
    assert hpa_current == 50  # 250m used of a 500m request
    assert (hpa_now, hpa_desired) == (2, 2)
    label = s.client.hget(f"{s.base}:hpa", f"{kube_namespace}/scaled")
    assert label == b"cpu utilization (% of request)"
    _clear(s)


def test_an_hour_without_gaps_is_averaged_like_one_with_them():
    from array import array

    from deployments.metrics.store import downsample

    full = array("f", [float(i) for i in range(240 * 2)])
    means = downsample(full, width=2, factor=4)
    assert len(means) == 60 * 2
    assert list(means[:4]) == [3.0, 4.0, 11.0, 12.0]  # (0+2+4+6)/4, (1+3+5+7)/4, ...
    gapped = array("f", full)
    gapped[-1] = float("nan")
    assert list(downsample(gapped, width=2, factor=4)[:-1]) == list(means[:-1])
    assert downsample(gapped, width=2, factor=4)[-1] == pytest.approx((473 + 475 + 477) / 3)
