"""The pod hook registry (controlplane.live.hooks) and the watcher calling it."""

from __future__ import annotations

import logging

from controlplane.live.hooks import (
    pod_hook_failures,
    pod_hook_register,
    pod_hook_unregister,
    pod_hooks_run,
)

POD = {"metadata": {"name": "p", "namespace": "n", "uid": "u1"}}


def test_a_registered_hook_gets_each_pods_event_and_no_other_kind():
    seen = []

    def hook(cluster, event_type, obj):
        seen.append((cluster, event_type, obj["metadata"]["name"]))

    pod_hook_register(hook)
    try:
        pod_hooks_run(kind="pods", cluster="c1", event_type="MODIFIED", obj=POD)
        pod_hooks_run(kind="deployments", cluster="c1", event_type="MODIFIED", obj=POD)
        pod_hooks_run(kind="pods", cluster="c1", event_type="DELETED", obj=POD)
    finally:
        pod_hook_unregister(hook)
    pod_hooks_run(kind="pods", cluster="c1", event_type="ADDED", obj=POD)
    assert seen == [("c1", "MODIFIED", "p"), ("c1", "DELETED", "p")]


def test_registering_a_hook_twice_calls_it_once():
    seen = []

    def hook(cluster, event_type, obj):
        seen.append(event_type)

    pod_hook_register(hook)
    pod_hook_register(hook)
    try:
        pod_hooks_run(kind="pods", cluster="c1", event_type="ADDED", obj=POD)
    finally:
        pod_hook_unregister(hook)
    assert seen == ["ADDED"]


def test_a_failing_hook_is_logged_and_counted_and_the_others_still_run(caplog):
    seen = []

    def broken(cluster, event_type, obj):
        raise RuntimeError("boom")

    def fine(cluster, event_type, obj):
        seen.append(event_type)

    name = f"{broken.__module__}.{broken.__qualname__}"
    before = pod_hook_failures().get(name, 0)
    pod_hook_register(broken)
    pod_hook_register(fine)
    try:
        with caplog.at_level(logging.ERROR, logger="controlplane.live.hooks"):
            pod_hooks_run(kind="pods", cluster="c1", event_type="MODIFIED", obj=POD)
            pod_hooks_run(kind="pods", cluster="c1", event_type="MODIFIED", obj=POD)
    finally:
        pod_hook_unregister(broken)
        pod_hook_unregister(fine)
    assert seen == ["MODIFIED", "MODIFIED"]
    assert pod_hook_failures()[name] == before + 2
    assert "RuntimeError: boom" in caplog.text
    assert "2 failures so far" in caplog.text
