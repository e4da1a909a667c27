"""Deployment controller against the real sandbox: rollouts, rollbacks, pauses, deadlines."""

from __future__ import annotations

from kubernetes import client

from sandbox.testing import wait_for
from tests.sandbox.ctl_support import (
    condition,
    deployment_manifest,
    events,
    ok,
    pods,
    script,
    write_manifest,
)

REVISION = "deployment.kubernetes.io/revision"


NAMESPACE_PREFIX = "deploy"


def _apps(api):
    return client.AppsV1Api(api)


def _replicasets(api, ns, app):
    return sorted(
        _apps(api).list_namespaced_replica_set(ns, label_selector=f"app={app}").items,
        key=lambda rs: int(rs.metadata.annotations.get(REVISION, "0")),
    )


def _rolled_out(api, ns, name):
    d = _apps(api).read_namespaced_deployment(name, ns)
    s = d.status
    return (
        s.observed_generation == d.metadata.generation
        and s.updated_replicas == d.spec.replicas
        and s.replicas == d.spec.replicas
        and s.available_replicas == d.spec.replicas
    )


def test_it_rolls_out_a_deployment_that_kubectl_rollout_status_sees_complete(
    sandbox, api, ns, tmp_path
):
    ok(
        sandbox.kubectl(
            "apply",
            "-n",
            ns,
            "-f",
            str(write_manifest(tmp_path, deployment_manifest("web", replicas=3))),
        )
    )

    result = ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))

    assert 'deployment "web" successfully rolled out' in result.stdout
    (rs,) = _replicasets(api, ns, "web")
    pod_hash = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{pod_hash}"
    assert rs.metadata.annotations[REVISION] == "1"
    assert rs.metadata.owner_references[0].kind == "Deployment"
    assert rs.metadata.owner_references[0].controller is True
    running = pods(api, ns, "app=web")
    assert len(running) == 3
    assert {p.metadata.labels["pod-template-hash"] for p in running} == {pod_hash}
    assert all(p.metadata.owner_references[0].name == rs.metadata.name for p in running)
    d = _apps(api).read_namespaced_deployment("web", ns)
    assert (d.status.replicas, d.status.ready_replicas, d.status.available_replicas) == (3, 3, 3)
    assert condition(d, "Available").reason == "MinimumReplicasAvailable"
    assert condition(d, "Progressing").reason == "NewReplicaSetAvailable"
    scaled = events(api, ns, name="web", reason="ScalingReplicaSet")
    assert any(f"Scaled up replica set {rs.metadata.name} from 0 to 3" == e.message for e in scaled)


def test_it_rolls_a_new_image_out_and_undo_brings_the_old_template_back_as_a_new_revision(
    sandbox, api, ns, tmp_path
):
    ok(
        sandbox.kubectl(
            "apply", "-n", ns, "-f", str(write_manifest(tmp_path, deployment_manifest("web")))
        )
    )
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))

    ok(sandbox.kubectl("set", "image", "-n", ns, "deployment/web", "app=nginx:1.26"))
    ok(
        sandbox.kubectl(
            "annotate", "-n", ns, "deployment/web", "kubernetes.io/change-cause=model v2"
        )
    )
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))

    first, second = _replicasets(api, ns, "web")
    assert (first.spec.replicas, second.spec.replicas) == (0, 2)
    assert second.spec.template.spec.containers[0].image == "nginx:1.26"
    assert second.metadata.annotations["kubernetes.io/change-cause"] == "model v2"
    history = ok(sandbox.kubectl("rollout", "history", "-n", ns, "deployment/web")).stdout
    assert "model v2" in history
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]

    ok(sandbox.kubectl("rollout", "undo", "-n", ns, "deployment/web"))
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))

    d = _apps(api).read_namespaced_deployment("web", ns)
    assert d.spec.template.spec.containers[0].image == "nginx:1.25"
    assert d.metadata.annotations[REVISION] == "3"
    rs_by_name = {rs.metadata.name: rs for rs in _replicasets(api, ns, "web")}
    restored = rs_by_name[first.metadata.name]
    assert restored.metadata.annotations[REVISION] == "3"
    assert restored.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert restored.spec.replicas == 2
    assert rs_by_name[second.metadata.name].spec.replicas == 0


def test_a_rolling_update_stays_within_max_surge_and_max_unavailable(sandbox, api, ns, tmp_path):
    manifest = deployment_manifest(
        "web",
        replicas=4,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
    )
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, manifest))))
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))
    # New pods take a moment to become ready, so the rollout has to go step by step.
    script(
        api,
        "POST",
        "behaviors",
        {"match": {"namespace": ns, "image": "nginx:1.26"}, "readinessDelaySeconds": 0.2},
    )

    ok(sandbox.kubectl("set", "image", "-n", ns, "deployment/web", "app=nginx:1.26"))
    samples = []

    def finished():
        rss = _replicasets(api, ns, "web")
        samples.append(
            (
                sum(rs.spec.replicas for rs in rss),
                sum(rs.status.available_replicas or 0 for rs in rss),
            )
        )
        return _rolled_out(api, ns, "web")

    wait_for(finished, "the rollout to finish")

    assert max(total for total, _ in samples) <= 5
    assert min(available for _, available in samples) >= 4
    assert len(_replicasets(api, ns, "web")) == 2


def test_a_rollout_that_cannot_progress_reaches_its_progress_deadline(sandbox, api, ns, tmp_path):
    script(api, "POST", "registry", {"missingImages": ["registry.invalid/*"]})
    manifest = deployment_manifest("web", replicas=2, progressDeadlineSeconds=1)
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, manifest))))
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))

    ok(sandbox.kubectl("set", "image", "-n", ns, "deployment/web", "app=registry.invalid/model:v2"))

    def deadline_exceeded():
        cond = condition(_apps(api).read_namespaced_deployment("web", ns), "Progressing")
        return cond is not None and cond.reason == "ProgressDeadlineExceeded" and cond

    cond = wait_for(deadline_exceeded, "ProgressDeadlineExceeded")
    assert cond.status == "False"
    assert "has timed out progressing" in cond.message
    result = sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s")
    assert result.returncode != 0
    assert 'deployment "web" exceeded its progress deadline' in result.stderr
    d = _apps(api).read_namespaced_deployment("web", ns)
    assert d.status.available_replicas == 2  # the old pods keep serving
    broken = [
        p
        for p in pods(api, ns, "app=web")
        if p.spec.containers[0].image.startswith("registry.invalid")
    ]
    assert broken
    waiting = broken[0].status.container_statuses[0].state.waiting
    assert waiting.reason in ("ErrImagePull", "ImagePullBackOff")


def test_a_paused_deployment_holds_template_changes_until_it_is_resumed(sandbox, api, ns, tmp_path):
    ok(
        sandbox.kubectl(
            "apply", "-n", ns, "-f", str(write_manifest(tmp_path, deployment_manifest("web")))
        )
    )
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))

    ok(sandbox.kubectl("rollout", "pause", "-n", ns, "deployment/web"))
    ok(sandbox.kubectl("set", "image", "-n", ns, "deployment/web", "app=nginx:1.26"))

    def paused_condition():
        cond = condition(_apps(api).read_namespaced_deployment("web", ns), "Progressing")
        return cond is not None and cond.reason == "DeploymentPaused" and cond

    assert wait_for(paused_condition, "the DeploymentPaused condition").status == "Unknown"
    d = _apps(api).read_namespaced_deployment("web", ns)
    assert d.status.observed_generation == d.metadata.generation
    assert len(_replicasets(api, ns, "web")) == 1

    ok(sandbox.kubectl("rollout", "resume", "-n", ns, "deployment/web"))
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))

    assert [rs.spec.template.spec.containers[0].image for rs in _replicasets(api, ns, "web")] == [
        "nginx:1.25",
        "nginx:1.26",
    ]


def test_recreate_removes_every_old_pod_before_starting_new_ones(sandbox, api, ns, tmp_path):
    manifest = deployment_manifest("web", replicas=3, strategy={"type": "Recreate"})
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, manifest))))
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))

    ok(sandbox.kubectl("set", "image", "-n", ns, "deployment/web", "app=nginx:1.26"))
    mixed = []

    def finished():
        images = {p.spec.containers[0].image for p in pods(api, ns, "app=web")}
        if len(images) > 1:
            mixed.append(images)
        return _rolled_out(api, ns, "web")

    wait_for(finished, "the Recreate rollout to finish")

    assert mixed == []
    assert {p.spec.containers[0].image for p in pods(api, ns, "app=web")} == {"nginx:1.26"}


def test_rollout_restart_and_scale_behave_as_in_a_real_cluster(sandbox, api, ns, tmp_path):
    manifest = deployment_manifest("web", revisionHistoryLimit=1)
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, manifest))))
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))

    ok(sandbox.kubectl("set", "image", "-n", ns, "deployment/web", "app=nginx:1.26"))
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))
    ok(sandbox.kubectl("rollout", "restart", "-n", ns, "deployment/web"))
    ok(sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))
    ok(sandbox.kubectl("scale", "-n", ns, "deployment/web", "--replicas=4"))
    wait_for(lambda: _rolled_out(api, ns, "web"), "the scaled deployment to be available")

    rss = wait_for(
        lambda: (lambda r: len(r) == 2 and r)(_replicasets(api, ns, "web")),
        "revisionHistoryLimit to prune old ReplicaSets",
    )
    assert [rs.metadata.annotations[REVISION] for rs in rss] == ["2", "3"]
    assert rss[-1].spec.replicas == 4
    assert "kubectl.kubernetes.io/restartedAt" in rss[-1].spec.template.metadata.annotations
    assert len([p for p in pods(api, ns, "app=web") if not p.metadata.deletion_timestamp]) == 4
