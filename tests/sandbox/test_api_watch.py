"""Watches: from a resourceVersion, through kubernetes.watch.Watch, with bookmarks, timeouts,
selector transitions, and 410 Gone when the version is older than the kept history."""

from __future__ import annotations

import json
import threading

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from sandbox.testing import SandboxProcess


def test_a_watch_from_a_list_version_sees_every_later_change(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    rv = core.list_namespaced_config_map(sandbox_namespace).metadata.resource_version
    core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": "w"}})
    core.patch_namespaced_config_map("w", sandbox_namespace, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("w", sandbox_namespace)
    seen = []
    for event in watch.Watch().stream(
        core.list_namespaced_config_map, sandbox_namespace, resource_version=rv, timeout_seconds=5
    ):
        if event["object"].metadata.name == "w":
            seen.append(event["type"])
        if len(seen) == 3:
            break
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


def test_a_watch_without_a_version_starts_with_the_current_objects(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": "early"}})
    w = watch.Watch()
    first = next(
        iter(
            w.stream(
                core.list_namespaced_config_map,
                sandbox_namespace,
                field_selector="metadata.name=early",
                timeout_seconds=5,
            )
        )
    )
    w.stop()
    assert first["type"] == "ADDED"
    assert first["object"].metadata.name == "early"


def test_a_live_watch_delivers_changes_made_while_it_runs(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    rv = core.list_namespaced_config_map(sandbox_namespace).metadata.resource_version
    names = []
    w = watch.Watch()

    def consume():
        for event in w.stream(
            core.list_namespaced_config_map,
            sandbox_namespace,
            resource_version=rv,
            timeout_seconds=10,
        ):
            names.append(event["object"].metadata.name)
            if len(names) == 3:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    for i in range(3):
        core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": f"live-{i}"}})
    t.join(15)
    assert names == ["live-0", "live-1", "live-2"]


def test_bookmarks_arrive_when_allowed(sandbox, sandbox_namespace):
    status, payload, _ = sandbox.request(
        "GET",
        f"/api/v1/namespaces/{sandbox_namespace}/configmaps?watch=true"
        "&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=1",
        raw=True,
    )
    assert status == 200
    events = [json.loads(line) for line in payload.splitlines() if line.strip()]
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks
    assert bookmarks[-1]["object"]["kind"] == "ConfigMap"
    assert int(bookmarks[-1]["object"]["metadata"]["resourceVersion"]) > 1


def test_an_object_leaving_the_selection_is_seen_as_deleted(sandbox_api, sandbox_namespace):
    core = client.CoreV1Api(sandbox_api)
    core.create_namespaced_config_map(
        sandbox_namespace, {"metadata": {"name": "sel", "labels": {"track": "yes"}}}
    )
    rv = core.list_namespaced_config_map(sandbox_namespace).metadata.resource_version
    core.patch_namespaced_config_map(
        "sel", sandbox_namespace, {"metadata": {"labels": {"track": "no"}}}
    )
    events = []
    for event in watch.Watch().stream(
        core.list_namespaced_config_map,
        sandbox_namespace,
        label_selector="track=yes",
        resource_version=rv,
        timeout_seconds=3,
    ):
        events.append(event["type"])
        break
    assert events == ["DELETED"]


@pytest.fixture
def short_history(tmp_path):
    proc = SandboxProcess(tmp_path / "sb", nodes=1, gpu_nodes=0, config={"watch_history_size": 5})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def test_a_watch_older_than_the_history_is_gone(short_history):
    api = short_history.api()
    core = client.CoreV1Api(api)
    try:
        old_rv = core.list_namespaced_config_map("default").metadata.resource_version
        for i in range(10):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
        status, payload, _ = short_history.request(
            "GET",
            f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={old_rv}",
            raw=True,
        )
        assert status == 200
        event = json.loads(payload.splitlines()[0])
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410
        assert event["object"]["reason"] == "Expired"
        assert event["object"]["message"].startswith(f"too old resource version: {old_rv} (")
        with pytest.raises(ApiException) as err:
            for _ in watch.Watch().stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=old_rv,
                timeout_seconds=3,
            ):
                pass
        assert err.value.status == 410
    finally:
        api.close()


def test_kubectl_get_watch_prints_changes(sandbox, sandbox_namespace):
    sandbox.kubectl("create", "configmap", "before", "-n", sandbox_namespace, check=True)
    result = sandbox.kubectl(
        "get", "configmaps", "-n", sandbox_namespace, "-w", "--request-timeout=2s", timeout=20
    )
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "DATA"]
    assert any(line.startswith("before") for line in lines)


def test_a_continue_token_older_than_the_history_is_expired(short_history):
    api = short_history.api()
    core = client.CoreV1Api(api)
    try:
        for i in range(4):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"p{i}"}})
        first = core.list_namespaced_config_map("default", limit=2)
        token = first.metadata._continue
        for i in range(10):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"q{i}"}})
        with pytest.raises(ApiException) as err:
            core.list_namespaced_config_map("default", limit=2, _continue=token)
        assert err.value.status == 410
        status = json.loads(err.value.body)
        assert status["reason"] == "Expired"
        assert status["metadata"]["continue"]
        rest = core.list_namespaced_config_map("default", _continue=status["metadata"]["continue"])
        assert rest.items
    finally:
        api.close()


def test_a_watch_list_sends_initial_events_then_a_marked_bookmark(sandbox, sandbox_namespace):
    core = client.CoreV1Api(sandbox.api())
    core.create_namespaced_config_map(sandbox_namespace, {"metadata": {"name": "wl"}})
    status, payload, _ = sandbox.request(
        "GET",
        f"/api/v1/namespaces/{sandbox_namespace}/configmaps?watch=true"
        "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
        "&timeoutSeconds=1",
        raw=True,
    )
    assert status == 200
    events = [json.loads(line) for line in payload.splitlines() if line.strip()]
    names = [e["object"]["metadata"].get("name") for e in events if e["type"] == "ADDED"]
    assert "wl" in names
    marker = next(e for e in events if e["type"] == "BOOKMARK")
    assert marker["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events.index(marker) == len(names)
