"""Rollouts end to end: API -> action -> real Celery worker -> sandbox, with kubectl as the
witness; a roll back is compared with what `kubectl rollout undo` itself produces."""

import uuid

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import run_action
from deployments.tasks.rollout import deployment_rollback_task
from tests.fixtures.controlplane import FakeTask, kubectl_json, make_deployment, wait_for

from .test_core_scale import wait_until_finished

pytestmark = [pytest.mark.django_db(transaction=True)]

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


def base(namespace, name="web"):
    return f"/api/v1/clusters/sandbox/namespaces/{namespace}/deployments/{name}/"


@pytest.fixture
def engineer_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("mle", role="engineer", cluster=sandbox_cluster))


def deployment(sandbox, namespace, name="web") -> dict:
    return kubectl_json(sandbox, "-n", namespace, "get", "deployment", name)


def image_in_cluster(sandbox, namespace, name="web") -> str:
    return deployment(sandbox, namespace, name)["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]


def succeeded(api, response) -> dict:
    assert response.status_code == 202, response.content
    finished = wait_until_finished(api, response["Location"])
    assert finished["status"] == "succeeded", finished["error"]
    return finished


def rollout_state(api, namespace, state, name="web", timeout=30) -> dict:
    def reached():
        response = api.get(f"{base(namespace, name)}rollout/")
        assert response.status_code == 200, response.content
        body = response.json()
        return body["state"] == state and body

    return wait_for(reached, timeout=timeout, what=f"the rollout to be {state}")


def roll_out(api, namespace, image, cause="", name="web") -> dict:
    body = {"image": image, "change_cause": cause}
    return succeeded(api, api.post(f"{base(namespace, name)}rollout/", body, format="json"))


def test_a_rollout_reaches_the_new_image_as_revision_2_with_its_change_cause(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path, replicas=2)
    rollout_state(engineer_api, kube_namespace, "complete")
    finished = roll_out(engineer_api, kube_namespace, "example/model:2", "model v2 (acc 0.93)")
    assert finished["result"]["revision"] == 2
    assert finished["result"]["images"] == {"model": "example/model:2"}
    assert finished["parameters"] == {
        "containers": [{"name": "model", "image": "example/model:2"}],
        "change_cause": "model v2 (acc 0.93)",
    }
    assert image_in_cluster(sandbox, kube_namespace) == "example/model:2"
    state = rollout_state(engineer_api, kube_namespace, "complete")
    assert state["new_replicaset"]["revision"] == 2
    assert state["new_replicaset"]["images"] == {"model": "example/model:2"}
    assert state["replicas"]["updated"] == 2
    # kubectl sees the change-cause on the new revision, as `kubectl rollout history` shows it.
    history = sandbox.kubectl("-n", kube_namespace, "rollout", "history", "deployment/web")
    assert "model v2 (acc 0.93)" in history.stdout
    revisions = engineer_api.get(f"{base(kube_namespace)}revisions/").json()
    assert [r["revision"] for r in revisions] == [2, 1]
    newest, first = revisions
    assert newest["change_cause"] == "model v2 (acc 0.93)"
    assert newest["current"] is True
    assert newest["images"] == {"model": "example/model:2"}
    assert newest["action"]["actor"] == "mle"
    assert newest["action"]["id"] == finished["id"]
    # Revision 1 was made with kubectl, not here.
    assert first["action"] is None
    event = AuditEvent.objects.get(verb="rollout")
    assert event.state_key.endswith(f"/{kube_namespace}/web/template")


def test_the_diff_between_two_revisions_names_each_changed_field(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    roll_out(engineer_api, kube_namespace, "example/model:2")
    diff = engineer_api.get(f"{base(kube_namespace)}revisions/1/diff/2/")
    assert diff.status_code == 200, diff.content
    assert diff.json() == {
        "from_revision": 1,
        "to_revision": 2,
        "changes": [
            {
                "path": "spec.containers[model].image",
                "before": "example/model:1",
                "after": "example/model:2",
            }
        ],
    }
    assert engineer_api.get(f"{base(kube_namespace)}revisions/1/diff/9/").status_code == 404


def test_a_rollout_whose_image_cannot_be_pulled_is_stuck_with_the_pod_level_reason(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    sandbox.script("registry", {"missingImages": ["registry.invalid/*"]})
    make_deployment(sandbox, kube_namespace, tmp_path, replicas=2)
    rollout_state(engineer_api, kube_namespace, "complete")
    roll_out(engineer_api, kube_namespace, "registry.invalid/model:2", "broken build")
    stuck = rollout_state(engineer_api, kube_namespace, "stuck")
    assert stuck["reason"] in ("ErrImagePull", "ImagePullBackOff")
    new_pods = [p for p in stuck["pods"] if p["revision"] == 2]
    assert new_pods
    assert all(p["reason"] in ("ErrImagePull", "ImagePullBackOff") for p in new_pods)
    assert stuck["reasons"][0]["pods"]
    # The old pods keep serving meanwhile.
    assert stuck["old_replicasets"][0]["available"] == 2
    # Past the progress deadline the controller's own verdict is added to the pods' reasons.
    sandbox.kubectl(
        "-n", kube_namespace, "patch", "deployment", "web", "-p",
        '{"spec": {"progressDeadlineSeconds": 1}}',
    )  # fmt: skip
    wait_for(
        lambda: (
            "ProgressDeadlineExceeded"
            in [
                r["reason"] for r in rollout_state(engineer_api, kube_namespace, "stuck")["reasons"]
            ]
        ),
        what="the progress deadline to be reported",
    )
    # Roll back is one click away: the previous revision, no number needed.
    rollback = engineer_api.post(f"{base(kube_namespace)}rollback/", {}, format="json")
    assert succeeded(engineer_api, rollback)["result"]["rolled_back_to"] == 1
    assert image_in_cluster(sandbox, kube_namespace) == "example/model:1"
    rollout_state(engineer_api, kube_namespace, "complete")


def test_a_rollout_whose_new_pods_crash_is_stuck_in_crash_loop_back_off(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    sandbox.script(
        "behaviors",
        {"match": {"namespace": kube_namespace, "image": "*:crashes"}, "crashAfterSeconds": 0.1},
    )
    make_deployment(sandbox, kube_namespace, tmp_path)
    roll_out(engineer_api, kube_namespace, "example/model:crashes")

    def crash_looping():
        state = rollout_state(engineer_api, kube_namespace, "stuck")
        return state["reason"] == "CrashLoopBackOff" and state

    stuck = wait_for(crash_looping, what="CrashLoopBackOff to be reported")
    assert stuck["reasons"][0]["pods"]


def test_a_rollout_whose_new_pods_fit_no_node_is_stuck_as_unschedulable(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    rollout_state(engineer_api, kube_namespace, "complete")
    # A change made with kubectl is followed as well as one made here.
    changed = sandbox.kubectl(
        "-n", kube_namespace, "set", "resources", "deployment/web", "--requests=cpu=5000"
    )
    assert changed.returncode == 0, changed.stderr
    stuck = rollout_state(engineer_api, kube_namespace, "stuck")
    assert stuck["reason"] == "Unschedulable"
    assert "Insufficient cpu" in stuck["reasons"][0]["message"]


def test_a_rollback_leaves_the_same_deployment_as_kubectl_rollout_undo(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    twin = f"t-{uuid.uuid4().hex[:8]}"
    assert sandbox.kubectl("create", "namespace", twin).returncode == 0
    try:
        for namespace in (kube_namespace, twin):
            make_deployment(sandbox, namespace, tmp_path)
            roll_out(engineer_api, namespace, "example/model:2", "v2")
            roll_out(engineer_api, namespace, "example/model:3", "v3")
        rollback = engineer_api.post(
            f"{base(kube_namespace)}rollback/", {"revision": 2}, format="json"
        )
        finished = succeeded(engineer_api, rollback)
        assert finished["result"]["rolled_back_to"] == 2
        undo = sandbox.kubectl("-n", twin, "rollout", "undo", "deployment/web", "--to-revision=2")
        assert undo.returncode == 0, undo.stderr
        ours = deployment(sandbox, kube_namespace)
        theirs = wait_for(
            lambda: (
                (d := deployment(sandbox, twin))["metadata"]["annotations"].get(REVISION) == "4"
                and d
            ),
            what="kubectl's undo to be observed",
        )
        wait_for(
            lambda: (
                deployment(sandbox, kube_namespace)["metadata"]["annotations"].get(REVISION) == "4"
            ),
            what="our rollback to be observed",
        )
        ours = deployment(sandbox, kube_namespace)
        assert ours["spec"]["template"] == theirs["spec"]["template"]
        assert ours["metadata"]["annotations"] == theirs["metadata"]["annotations"]
        assert ours["metadata"]["annotations"][CHANGE_CAUSE] == "v2"
        assert ours["spec"]["template"]["spec"]["containers"][0]["image"] == "example/model:2"
        revisions = engineer_api.get(f"{base(kube_namespace)}revisions/").json()
        assert revisions[0]["revision"] == 4
        assert revisions[0]["earlier_revisions"] == [2]
        assert revisions[0]["action"]["verb"] == "rollback"
    finally:
        sandbox.kubectl("delete", "namespace", twin, "--wait=false")


def test_pause_holds_a_rollout_until_resume(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    rollout_state(engineer_api, kube_namespace, "complete")
    succeeded(engineer_api, engineer_api.post(f"{base(kube_namespace)}rollout/pause/"))
    assert deployment(sandbox, kube_namespace)["spec"]["paused"] is True
    roll_out(engineer_api, kube_namespace, "example/model:2")
    paused = rollout_state(engineer_api, kube_namespace, "paused")
    assert paused["revision"] == 1
    # Paused: a roll back and a restart are refused as kubectl refuses them.
    refused = engineer_api.post(f"{base(kube_namespace)}rollback/", {}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()) == ["non_field_errors"]
    refused = engineer_api.post(f"{base(kube_namespace)}rollout/restart/")
    assert refused.status_code == 400
    assert "paused" in refused.json()["non_field_errors"][0]
    succeeded(engineer_api, engineer_api.post(f"{base(kube_namespace)}rollout/resume/"))
    assert not deployment(sandbox, kube_namespace)["spec"].get("paused")
    done = rollout_state(engineer_api, kube_namespace, "complete")
    assert done["new_replicaset"]["revision"] == 2
    assert done["new_replicaset"]["images"] == {"model": "example/model:2"}


def test_a_restart_replaces_every_pod_like_kubectl_rollout_restart(
    celery_worker, sandbox, kube_namespace, make_user, sandbox_cluster, api_client_for, tmp_path
):
    operator = api_client_for(make_user("oncall", role="operator", cluster=sandbox_cluster))
    make_deployment(sandbox, kube_namespace, tmp_path, replicas=2)
    before = {p["name"] for p in rollout_state(operator, kube_namespace, "complete")["pods"]}
    finished = succeeded(operator, operator.post(f"{base(kube_namespace)}rollout/restart/"))
    annotations = deployment(sandbox, kube_namespace)["spec"]["template"]["metadata"]["annotations"]
    assert (
        annotations["kubectl.kubernetes.io/restartedAt"] == finished["parameters"]["restarted_at"]
    )
    assert finished["result"]["revision"] == 2

    def replaced():
        state = rollout_state(operator, kube_namespace, "complete")
        names = {p["name"] for p in state["pods"] if not p["terminating"]}
        return len(names) == 2 and not names & before

    wait_for(replaced, what="every pod to be replaced")
    assert AuditEvent.objects.get(verb="restart").state_key == ""


@pytest.mark.parametrize(
    ("verb", "body", "field"),
    [
        ("rollout/", {"containers": {"sidecar": "example/model:2"}}, "containers"),
        ("rollout/", {"image": "Example/Model:2 "}, "image"),
        ("rollout/", {"image": "example/model:v2!"}, "image"),
        ("rollout/", {"change_cause": "no image"}, "image"),
        ("rollout/", {"image": "example/model:2", "change_cause": 7}, "change_cause"),
        ("rollback/", {"revision": 9}, "revision"),
        ("rollback/", {"revision": "two"}, "revision"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    sandbox, kube_namespace, engineer_api, tmp_path, verb, body, field
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    response = engineer_api.post(f"{base(kube_namespace)}{verb}", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert image_in_cluster(sandbox, kube_namespace) == "example/model:1"
    event = AuditEvent.objects.get(verb=verb.rstrip("/"))
    assert event.status == "failed"
    assert event.error.startswith(f"invalid request: {field}:")


def test_rolling_back_a_deployment_with_one_revision_is_refused(
    sandbox, kube_namespace, engineer_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    response = engineer_api.post(f"{base(kube_namespace)}rollback/", {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"revision": ["There is no previous revision."]}


def test_a_deployment_that_does_not_exist_is_a_404_and_audited(
    sandbox, kube_namespace, engineer_api
):
    response = engineer_api.post(
        f"{base(kube_namespace, 'ghost')}rollout/", {"image": "example/model:2"}, format="json"
    )
    assert response.status_code == 404
    assert AuditEvent.objects.get(verb="rollout").error.startswith("NotFound")
    assert engineer_api.get(f"{base(kube_namespace, 'ghost')}rollout/").status_code == 404
    assert engineer_api.get(f"{base(kube_namespace, 'ghost')}revisions/").status_code == 404


ROLES = {
    # verb path: the least role that may do it (in an order where none refuses the next)
    "rollout/restart/": "operator",
    "rollback/": "operator",
    "rollout/": "engineer",
    "rollout/pause/": "engineer",
    "rollout/resume/": "engineer",
}
ORDER = ["viewer", "operator", "engineer"]


@pytest.mark.parametrize("role", ORDER)
def test_each_verb_needs_its_role(
    sandbox, sandbox_cluster, kube_namespace, make_user, api_client_for, tmp_path, role
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    api = api_client_for(make_user(role=role, cluster=sandbox_cluster))
    bodies = {"rollout/": {"image": "example/model:2"}, "rollback/": {"revision": 1}}
    for verb, least in ROLES.items():
        response = api.post(f"{base(kube_namespace)}{verb}", bodies.get(verb, {}), format="json")
        allowed = ORDER.index(role) >= ORDER.index(least)
        # Rolling back to the current (only) revision is accepted and skipped, as kubectl does.
        expected = 202 if allowed else 403
        assert response.status_code == expected, (verb, response.content)
    # Reading the rollout and its history needs only the viewer role.
    assert api.get(f"{base(kube_namespace)}rollout/").status_code == 200
    assert api.get(f"{base(kube_namespace)}revisions/").status_code == 200
    refused = AuditEvent.objects.filter(status="refused").count()
    assert refused == sum(ORDER.index(role) < ORDER.index(least) for least in ROLES.values())


def _template_event(cluster, verb, parameters, state_key):
    return AuditEvent.objects.create(
        actor_name="op",
        cluster=cluster,
        cluster_name=cluster.name,
        namespace="ml",
        kind="deployment",
        name="web",
        verb=verb,
        parameters=parameters,
        status="pending",
        state_key=state_key,
        task=f"deployments.tasks.rollout.deployment_{verb}_task",
    )


@pytest.mark.django_db
def test_an_older_rollback_arriving_after_a_newer_rollout_is_superseded(offline_cluster):
    key = "deployment/offline/ml/web/template"
    older = _template_event(offline_cluster, "rollback", {"revision": 1}, key)
    newer = _template_event(
        offline_cluster,
        "rollout",
        {"containers": [{"name": "model", "image": "example/model:3"}], "change_cause": ""},
        key,
    )
    applied = []
    assert run_action(FakeTask(), str(newer.id), lambda e: applied.append(e.verb) or {}) == (
        "succeeded"
    )
    # The rollback's real task never reaches the (unreachable) cluster: it is superseded.
    assert run_action(FakeTask(), str(older.id), deployment_rollback_task.perform) == "superseded"
    older.refresh_from_db()
    assert older.status == "superseded"
    assert older.result == {"superseded_by": str(newer.id)}
    assert applied == ["rollout"]


@pytest.mark.django_db
def test_an_older_rollout_arriving_late_is_superseded_by_the_newer_one(offline_cluster):
    key = "deployment/offline/ml/web/template"
    images = [{"name": "model", "image": "example/model:2"}]
    older = _template_event(offline_cluster, "rollout", {"containers": images}, key)
    newer = _template_event(offline_cluster, "rollout", {"containers": images}, key)
    assert run_action(FakeTask(), str(newer.id), lambda e: {}) == "succeeded"
    assert run_action(FakeTask(), str(older.id), lambda e: {}) == "superseded"


def test_a_rollout_that_meets_a_concurrent_change_applies_itself_to_the_fresh_object(
    monkeypatch, settings
):
    from controlplane.kube import rollouts as kube
    from controlplane.kube.errors import Conflict
    from deployments import rollouts

    settings.KUBE_CONFLICT_ATTEMPTS = 3

    def stored(version, env):
        container = {"name": "model", "image": "example/model:1", "env": env}
        return {
            "metadata": {"name": "web", "resourceVersion": version},
            "spec": {"template": {"spec": {"containers": [container]}}},
        }

    reads = iter([stored("1", []), stored("2", [{"name": "MODE", "value": "fast"}])])
    written = []

    def fake_read(fn, *args, what, retry_ok=True, **kwargs):
        if what.startswith("get"):
            return next(reads)
        body = args[2]
        if body["metadata"]["resourceVersion"] == "1":
            raise Conflict("the object has been modified; please apply your changes again")
        written.append(body)
        return body

    monkeypatch.setattr(kube, "read_json", fake_read)
    monkeypatch.setattr(kube, "api_client", lambda conn: None)
    result = kube.deployment_update(
        None,
        namespace="ml",
        name="web",
        change=lambda d: rollouts.images_set(
            d, images={"model": "example/model:2"}, change_cause="v2"
        ),
    )
    # Someone's env change made between our read and our write is kept, not overwritten.
    (container,) = result["spec"]["template"]["spec"]["containers"]
    assert container == {
        "name": "model",
        "image": "example/model:2",
        "env": [{"name": "MODE", "value": "fast"}],
    }
    assert len(written) == 1
