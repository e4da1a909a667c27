"""The batch/v1 Job of a training run: a pure function of its checked parameters.

backoffLimit, parallelism, completions, activeDeadlineSeconds and ttlSecondsAfterFinished are
fields of the Job's spec; the pod template carries none of them (strict validation refuses a
backoffLimit there, a classic mistake in published manifests). GPU pods get GKE's accelerator
node selector and the nvidia.com/gpu toleration GPU pools are tainted with.
"""

from __future__ import annotations

from controlplane.kube.manifests import (
    ACTION_ANNOTATION,
    GKE_ACCELERATOR_LABEL,
    GPU_RESOURCE,
    MANAGED_BY,
    MANAGED_BY_LABEL,
)

RUN_LABEL = "training.mlcp.io/run"
OUTPUT_ANNOTATION = "training.mlcp.io/output-uri"
PARENT_ANNOTATION = "training.mlcp.io/parent-run"
CONTAINER_NAME = "trainer"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
# The program's exit codes for bad arguments (2) and bad data or output (3): retrying cannot
# help, so the Job fails at once instead of spending its backoffLimit (trainer/program/README).
NO_RETRY_EXIT_CODES = [2, 3]

_CONVENIENCE = (
    ("model", "--model"),
    ("data_uri", "--data"),
    ("epochs", "--epochs"),
    ("batch_size", "--batch-size"),
    ("image_size", "--image-size"),
    ("learning_rate", "--learning-rate"),
)


def _has_option(args: list[str], option: str) -> bool:
    single = option[1:]  # the program accepts -epochs as well as --epochs
    return any(a in (option, single) or a.startswith((f"{option}=", f"{single}=")) for a in args)


def program_args(parameters: dict) -> list[str]:
    """The container's args: those given, then the convenience fields not already there."""
    args = list(parameters.get("args") or [])
    for key, option in _CONVENIENCE:
        value = parameters.get(key)
        if value not in (None, "") and not _has_option(args, option):
            args += [option, str(value)]
    if parameters.get("resume") and not _has_option(args, "--resume"):
        args.append("--resume")
    return args


def output_from_args(args: list[str]) -> str:
    """The --output (or -output) value the args carry, or ""."""
    for index, arg in enumerate(args):
        for option in ("--output", "-output"):
            if arg == option and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(f"{option}="):
                return arg.split("=", 1)[1]
    return ""


def run_labels(run_id: int) -> dict[str, str]:
    return {RUN_LABEL: str(run_id), MANAGED_BY_LABEL: MANAGED_BY}


def run_selector(run_id: int) -> str:
    return f"{RUN_LABEL}={run_id}"


def job_manifest(
    *,
    run_id: int,
    namespace: str,
    name: str,
    parameters: dict,
    output_uri: str,
    parent_id: int | None = None,
    action_id: str = "",
) -> dict:
    labels = run_labels(run_id)
    annotations = {OUTPUT_ANNOTATION: output_uri}
    if action_id:
        annotations[ACTION_ANNOTATION] = action_id
    if parent_id:
        annotations[PARENT_ANNOTATION] = str(parent_id)
    env = [{"name": "OUTPUT_URI", "value": output_uri}]
    if parameters.get("data_uri"):
        env.append({"name": "DATA_URI", "value": parameters["data_uri"]})
    container: dict = {
        "name": CONTAINER_NAME,
        "image": parameters["image"],
        "args": program_args(parameters),
        "env": env,
    }
    requests, limits = {}, {}
    if parameters.get("cpu"):
        requests["cpu"] = str(parameters["cpu"])
    if parameters.get("memory"):
        requests["memory"] = limits["memory"] = str(parameters["memory"])
    gpus = int(parameters.get("gpus") or 0)
    if gpus:
        limits[GPU_RESOURCE] = str(gpus)
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    if resources:
        container["resources"] = resources
    pod_spec: dict = {"restartPolicy": "Never", "containers": [container]}
    if gpus:
        pod_spec["nodeSelector"] = {GKE_ACCELERATOR_LABEL: parameters["accelerator"]}
        pod_spec["tolerations"] = [dict(GPU_TOLERATION)]
    spec: dict = {
        "backoffLimit": int(parameters.get("backoff_limit", 6)),
        "parallelism": int(parameters.get("parallelism") or 1),
        "completions": int(parameters.get("completions") or 1),
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": CONTAINER_NAME,
                        "operator": "In",
                        "values": list(NO_RETRY_EXIT_CODES),
                    },
                }
            ]
        },
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
    }
    if parameters.get("active_deadline_seconds") is not None:
        spec["activeDeadlineSeconds"] = int(parameters["active_deadline_seconds"])
    if parameters.get("ttl_seconds_after_finished") is not None:
        spec["ttlSecondsAfterFinished"] = int(parameters["ttl_seconds_after_finished"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": spec,
    }
