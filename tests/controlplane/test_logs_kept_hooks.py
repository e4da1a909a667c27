"""The pod hook registry (controlplane.live.hooks) and the watcher calling it."""

from __future__ import annotations

import logging
import uuid

import pytest

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


# The logs app's hook: which pod events mean lines to keep, once each ----------------------


def _pod(uid, *, phase="Running", deleting=False, restarts=0, state="running", init=None):
    pod = {
        "metadata": {"name": "web-1", "namespace": "ns", "uid": uid},
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"name": "app", "restartCount": restarts, "state": {state: {}}},
            ],
        },
    }
    if deleting:
        pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if init:
        pod["status"]["initContainerStatuses"] = [
            {"name": init, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}
        ]
    return pod


def _marks(event_type, pod):
    from deployments.logs.keep_hook import pod_marks

    return [
        (m["container"], m["mark"], m["previous"], m["gone"]) for m in pod_marks(event_type, pod)
    ]


def test_the_hook_keeps_lines_only_when_a_container_instance_ends_or_its_pod_goes():
    assert _marks("MODIFIED", _pod("u")) == []
    assert _marks("ADDED", _pod("u", init="setup")) == [], "a completed init container is normal"
    assert _marks("MODIFIED", _pod("u", restarts=2)) == [("app", "prev-1", True, False)]
    assert _marks("MODIFIED", _pod("u", state="terminated")) == [("app", "end-0", False, False)]
    assert _marks("MODIFIED", _pod("u", phase="Succeeded", state="terminated")) == [
        ("app", "end-0", False, False)
    ]
    assert _marks("MODIFIED", _pod("u", deleting=True, init="setup")) == [
        ("app", "del-0", False, False),
        ("setup", "end-0", False, False),
    ]
    # Its last words come during the grace period: read again once it has stopped.
    assert _marks("MODIFIED", _pod("u", deleting=True, state="terminated")) == [
        ("app", "end-0", False, False)
    ]
    assert _marks("DELETED", _pod("u", deleting=True, restarts=1)) == [("app", "gone", False, True)]


@pytest.fixture
def enqueued(monkeypatch):
    """The hook's enqueues, recorded instead of sent (what is sent is tested with a worker
    in test_logs_kept_pods.py)."""
    from controlplane import celery_app

    sent = []
    monkeypatch.setattr(
        celery_app,
        "send_task",
        lambda name, kwargs, **_options: sent.append((name, kwargs["container"], kwargs["why"])),
    )
    return sent


def test_a_transition_is_enqueued_once_however_many_events_repeat_it(enqueued):
    from deployments.logs import keep_hook

    uid = str(uuid.uuid4())
    for _ in range(5):
        keep_hook.pod_event("c1", "MODIFIED", _pod(uid, restarts=1))
    # A restarted watcher (its memory gone) asks Redis, which remembers.
    keep_hook._seen.clear()
    keep_hook.pod_event("c1", "MODIFIED", _pod(uid, restarts=1))
    assert enqueued == [("deployments.logs.pod_log_keep", "app", "container restarted")]
    keep_hook.pod_event("c1", "MODIFIED", _pod(uid, restarts=2))
    keep_hook.pod_event("c1", "MODIFIED", _pod(uid, restarts=2, deleting=True))
    keep_hook.pod_event("c1", "MODIFIED", _pod(uid, restarts=2, deleting=True))
    keep_hook.pod_event("c1", "DELETED", _pod(uid, restarts=2, deleting=True))
    assert [why for _name, _c, why in enqueued] == [
        "container restarted",
        "container restarted",
        "pod deleting",
        "pod deleted",
    ]
    keep_hook.pod_event("c2", "MODIFIED", _pod(uid, restarts=1))
    assert len(enqueued) == 5, "another cluster's pod is another pod"


def test_enqueues_are_paced_and_past_the_longest_delay_refused():
    from deployments.logs.keep_hook import Pacer

    pacer = Pacer(rate=10, max_delay=0.25)
    slots = [pacer.slot() for _ in range(4)]
    assert slots[0] == 0
    assert slots[1] == pytest.approx(0.1, abs=0.02)
    assert slots[2] == pytest.approx(0.2, abs=0.02)
    assert slots[3] is None
