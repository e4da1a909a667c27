"""Job controller against the real sandbox: completions, retries, backoffLimit, deadlines."""

from __future__ import annotations

from kubernetes import client

from sandbox.testing import wait_for
from tests.sandbox.ctl_support import condition, events, ok, pods, script, write_manifest

NAMESPACE_PREFIX = "jobs"


def _job(name, *, restart_policy="Never", **spec):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": restart_policy,
                    "containers": [
                        {
                            "name": "train",
                            "image": "python:3.11",
                            "command": ["python", "-m", "train"],
                        }
                    ],
                }
            },
            **spec,
        },
    }


def _read(api, ns, name):
    return client.BatchV1Api(api).read_namespaced_job(name, ns)


def test_a_job_runs_its_completions_and_kubectl_wait_sees_it_complete(sandbox, api, ns, tmp_path):
    manifest = write_manifest(tmp_path, _job("train", completions=3, parallelism=2))
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(manifest)))

    ok(sandbox.kubectl("wait", "-n", ns, "--for=condition=complete", "job/train", "--timeout=30s"))

    job = _read(api, ns, "train")
    assert job.status.succeeded == 3
    assert not job.status.failed
    assert job.status.start_time is not None
    assert job.status.completion_time is not None
    assert condition(job, "Complete").reason == "CompletionsReached"
    assert condition(job, "SuccessCriteriaMet").status == "True"
    job_pods = pods(api, ns, "job-name=train")
    assert len(job_pods) == 3
    assert all(p.status.phase == "Succeeded" for p in job_pods)
    assert all(p.metadata.labels["batch.kubernetes.io/job-name"] == "train" for p in job_pods)
    assert all(p.metadata.labels["controller-uid"] == job.metadata.uid for p in job_pods)
    assert len(events(api, ns, name="train", reason="SuccessfulCreate")) == 3
    assert events(api, ns, name="train", reason="Completed")


def test_a_job_retries_a_failed_pod_and_then_completes(sandbox, api, ns, tmp_path):
    rule = script(
        api,
        "POST",
        "behaviors",
        {
            "match": {"namespace": ns, "labels": {"job-name": "flaky"}},
            "runSeconds": 0.05,
            "exitCode": 1,
        },
    )
    ok(
        sandbox.kubectl(
            "apply", "-n", ns, "-f", str(write_manifest(tmp_path, _job("flaky", backoffLimit=4)))
        )
    )
    wait_for(lambda: (_read(api, ns, "flaky").status.failed or 0) >= 1, "a first failed attempt")

    script(api, "DELETE", f"behaviors/{rule['id']}")  # the next attempt succeeds
    ok(sandbox.kubectl("wait", "-n", ns, "--for=condition=complete", "job/flaky", "--timeout=30s"))

    job = _read(api, ns, "flaky")
    assert job.status.succeeded == 1
    assert job.status.failed >= 1
    failed = [p for p in pods(api, ns, "job-name=flaky") if p.status.phase == "Failed"]
    assert failed[0].status.container_statuses[0].state.terminated.exit_code == 1


def test_a_job_that_keeps_failing_exhausts_its_backoff_limit(sandbox, api, ns, tmp_path):
    script(
        api,
        "POST",
        "behaviors",
        {
            "match": {"namespace": ns, "labels": {"job-name": "broken"}},
            "runSeconds": 0.05,
            "exitCode": 3,
        },
    )
    ok(
        sandbox.kubectl(
            "apply", "-n", ns, "-f", str(write_manifest(tmp_path, _job("broken", backoffLimit=2)))
        )
    )

    ok(sandbox.kubectl("wait", "-n", ns, "--for=condition=failed", "job/broken", "--timeout=30s"))

    job = _read(api, ns, "broken")
    assert job.status.failed == 3  # the first try and two retries
    assert condition(job, "Failed").reason == "BackoffLimitExceeded"
    assert condition(job, "FailureTarget").status == "True"
    assert not job.status.active
    (event,) = events(api, ns, name="broken", reason="BackoffLimitExceeded")
    assert event.type == "Warning"
    assert event.message == "Job has reached the specified backoff limit"


def test_with_restart_policy_on_failure_restarts_in_place_count_toward_the_backoff_limit(
    sandbox, api, ns, tmp_path
):
    script(
        api,
        "POST",
        "behaviors",
        {
            "match": {"namespace": ns, "labels": {"job-name": "crashy"}},
            "runSeconds": 0.05,
            "exitCode": 1,
        },
    )
    manifest = _job("crashy", restart_policy="OnFailure", backoffLimit=2)
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, manifest))))

    ok(sandbox.kubectl("wait", "-n", ns, "--for=condition=failed", "job/crashy", "--timeout=30s"))

    job = _read(api, ns, "crashy")
    assert condition(job, "Failed").reason == "BackoffLimitExceeded"
    assert job.status.failed == 1  # one pod, restarted in place, stopped when the Job failed
    (created,) = events(api, ns, name="crashy", reason="SuccessfulCreate")
    pod_name = created.message.removeprefix("Created pod: ")
    assert events(api, ns, name=pod_name, reason="BackOff")


def test_a_job_past_its_active_deadline_fails_with_deadline_exceeded(sandbox, api, ns, tmp_path):
    script(
        api,
        "POST",
        "behaviors",
        {"match": {"namespace": ns, "labels": {"job-name": "slow"}}, "runSeconds": None},
    )
    ok(
        sandbox.kubectl(
            "apply",
            "-n",
            ns,
            "-f",
            str(write_manifest(tmp_path, _job("slow", activeDeadlineSeconds=1))),
        )
    )

    ok(sandbox.kubectl("wait", "-n", ns, "--for=condition=failed", "job/slow", "--timeout=30s"))

    job = _read(api, ns, "slow")
    assert condition(job, "Failed").reason == "DeadlineExceeded"
    wait_for(
        lambda: not [p for p in pods(api, ns, "job-name=slow") if p.status.phase == "Running"],
        "the running pod to be stopped",
    )


def test_an_indexed_job_completes_every_index(sandbox, api, ns, tmp_path):
    manifest = _job("shards", completions=3, parallelism=3, completionMode="Indexed")
    ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, manifest))))

    ok(sandbox.kubectl("wait", "-n", ns, "--for=condition=complete", "job/shards", "--timeout=30s"))

    job = _read(api, ns, "shards")
    assert job.status.completed_indexes == "0-2"
    indexes = sorted(
        p.metadata.annotations["batch.kubernetes.io/job-completion-index"]
        for p in pods(api, ns, "job-name=shards")
    )
    assert indexes == ["0", "1", "2"]


def test_a_pod_failure_policy_fails_the_job_at_once_or_ignores_the_failure(
    sandbox, api, ns, tmp_path
):
    policy = {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "train", "operator": "In", "values": [42]},
            },
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [143]}},
        ]
    }
    script(
        api,
        "POST",
        "behaviors",
        {
            "match": {"namespace": ns, "labels": {"job-name": "fatal"}},
            "runSeconds": 0.05,
            "exitCode": 42,
        },
    )
    ignored = script(
        api,
        "POST",
        "behaviors",
        {
            "match": {"namespace": ns, "labels": {"job-name": "preempted"}},
            "runSeconds": 0.05,
            "exitCode": 143,
        },
    )
    for name in ("fatal", "preempted"):
        manifest = _job(name, backoffLimit=3, podFailurePolicy=policy)
        ok(sandbox.kubectl("apply", "-n", ns, "-f", str(write_manifest(tmp_path, manifest))))

    ok(sandbox.kubectl("wait", "-n", ns, "--for=condition=failed", "job/fatal", "--timeout=30s"))
    fatal = _read(api, ns, "fatal")
    assert condition(fatal, "Failed").reason == "PodFailurePolicy"
    assert (
        "failed with exit code 42 matching FailJob rule at index 0"
        in condition(fatal, "Failed").message
    )
    assert fatal.status.failed == 1  # no retries

    wait_for(
        lambda: (
            len([p for p in pods(api, ns, "job-name=preempted") if p.status.phase == "Failed"]) >= 2
        ),
        "ignored failures to be retried",
    )
    script(api, "DELETE", f"behaviors/{ignored['id']}")
    ok(
        sandbox.kubectl(
            "wait", "-n", ns, "--for=condition=complete", "job/preempted", "--timeout=30s"
        )
    )
    assert not _read(api, ns, "preempted").status.failed  # ignored failures do not count
