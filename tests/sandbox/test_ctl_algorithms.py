"""The pure rules behind rollouts and autoscaling, checked against upstream's worked examples."""

from __future__ import annotations

import pytest

from sandbox.controllers import hpa_replicas as calc
from sandbox.controllers import rollout
from sandbox.controllers.hpa_replicas import PodInfo


def _deployment(replicas, surge, unavailable):
    return {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
        },
    }


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (10, "25%", "25%", (3, 2)),  # surge rounds up, unavailable rounds down
        (3, "25%", "25%", (1, 0)),
        (4, 1, 0, (1, 0)),
        (5, 0, 0, (0, 1)),  # both zero would deadlock: one may be unavailable
        (10, "0%", "0%", (0, 1)),
        (1, "100%", "50%", (1, 0)),
    ],
)
def test_it_resolves_max_surge_and_max_unavailable_like_upstream(
    replicas, surge, unavailable, expected
):
    assert rollout.fenceposts(_deployment(replicas, surge, unavailable)) == expected


def test_it_rejects_a_malformed_percentage_naming_the_field():
    with pytest.raises(ValueError, match=r"maxSurge"):
        rollout.fenceposts(_deployment(3, "lots%", 1))


def test_the_pod_template_hash_is_stable_and_ignores_its_own_label():
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "a", "image": "x"}]},
    }
    labelled = {
        "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
        "spec": template["spec"],
    }

    first = rollout.template_hash(template, None)

    assert first == rollout.template_hash(labelled, None)
    assert first != rollout.template_hash(template, 1)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert rollout.templates_equal(template, labelled)


def test_a_new_replicaset_grows_only_within_the_surge():
    d = _deployment(4, 1, 0)
    old = {"metadata": {}, "spec": {"replicas": 4}}
    new = {"metadata": {}, "spec": {"replicas": 0}}

    assert rollout.new_rs_new_replicas(d, [old, new], new) == 1
    assert (
        rollout.new_rs_new_replicas(d, [{"metadata": {}, "spec": {"replicas": 5}}, new], new) == 0
    )


def _pods(n, *, ready=True, phase="Running"):
    return [PodInfo(f"p{i}", phase, ready, False) for i in range(n)]


def test_the_hpa_ignores_changes_within_the_tolerance():
    metrics = {f"p{i}": 54.0 for i in range(4)}
    requests = dict.fromkeys(metrics, 100.0)

    assert (
        calc.resource_replicas(4, 50, metrics, requests, _pods(4), cpu=True, tolerance=0.1)[0] == 4
    )


def test_the_hpa_scales_to_ceil_of_ratio_times_ready_pods():
    metrics = {f"p{i}": 90.0 for i in range(3)}
    requests = dict.fromkeys(metrics, 100.0)

    replicas, utilization, raw = calc.resource_replicas(
        3, 50, metrics, requests, _pods(3), cpu=True, tolerance=0.1
    )

    assert (replicas, utilization, raw) == (6, 90, 90.0)


def test_unready_pods_damp_a_scale_up_as_if_they_used_nothing():
    pods = [
        *_pods(2),
        PodInfo("p2", "Running", False, False),
        PodInfo("p3", "Pending", False, False),
    ]
    metrics = {"p0": 100.0, "p1": 100.0, "p2": 0.0}
    requests = {f"p{i}": 100.0 for i in range(4)}

    # The ready pods alone run at 100% of request against a 50% target (ratio 2); counting the
    # two unready pods at 0% brings the ratio to exactly 1, so the HPA keeps the current size.
    assert calc.resource_replicas(4, 50, metrics, requests, pods, cpu=True, tolerance=0.1)[0] == 4


def test_scale_limits_follow_the_behavior_policies():
    rules = {
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    assert calc.scale_up_limit(3, [], rules, 100.0) == 7
    assert calc.scale_up_limit(10, [], rules, 100.0) == 20
    # 5 were added this period: it started at 5, so 5 + 4 or 2 x 5 = 10, no further growth.
    assert calc.scale_up_limit(10, [(95.0, 5)], rules, 100.0) == 10
    assert calc.scale_up_limit(10, [], {**rules, "selectPolicy": "Disabled"}, 100.0) == 10
    down = {
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
    }
    assert calc.scale_down_limit(10, [], down, 100.0) == 5
    assert calc.scale_down_limit(10, [(90.0, 4)], down, 100.0) == 7


def _pod_status(started_ago, ready, transition_ago, now=10_000.0):
    from sandbox.machinery.util import rfc3339

    return {
        "status": {
            "startTime": rfc3339(now - started_ago),
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "lastTransitionTime": rfc3339(now - transition_ago),
                }
            ],
        }
    }


@pytest.mark.parametrize(
    ("started_ago", "ready", "transition_ago", "unready"),
    [
        (60, "True", 5, True),  # starting, ready for less than a metric window: start-up noise
        (60, "True", 40, False),  # starting, but ready for longer than a window
        (60, "False", 40, True),  # starting and not ready
        (3600, "False", 3595, True),  # long running, never became ready
        (3600, "False", 60, False),  # long running, was ready before: its sample counts
        (3600, "True", 3500, False),
    ],
)
def test_cpu_samples_of_starting_pods_are_ignored_as_upstream_does(
    started_ago, ready, transition_ago, unready
):
    from sandbox.controllers.hpa_metrics import _cpu_unready

    now = 10_000.0
    pod = _pod_status(started_ago, ready, transition_ago, now)

    assert (
        _cpu_unready(pod, now, sample_time=now, window=15.0, init_period=300.0, delay=30.0)
        is unready
    )
