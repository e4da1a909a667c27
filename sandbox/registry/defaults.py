"""The API server's defaulting, applied on every create and update like the real one.

Values and rules follow the upstream SetDefaults_* functions for the served versions.
"""

from __future__ import annotations

import base64
import copy

from sandbox.machinery.resources import ResourceType


def _image_pull_policy(image: str) -> str:
    # a tag of "latest" or no tag (digests aside) means the image may change: always pull
    ref = image.rsplit("/", 1)[-1]
    if "@" in ref:
        return "IfNotPresent"
    tag = ref.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _probe(probe: dict | None) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _container(c: dict) -> None:
    if not isinstance(c, dict):
        return
    if isinstance(c.get("image"), str):
        c.setdefault("imagePullPolicy", _image_pull_policy(c["image"]))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    res = c.setdefault("resources", {})
    if isinstance(res, dict) and isinstance(res.get("limits"), dict):
        # requests default to limits for every resource that has only a limit
        req = res.setdefault("requests", {})
        if isinstance(req, dict):
            for k, v in res["limits"].items():
                req.setdefault(k, v)
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))


def pod_spec(spec: dict | None) -> None:
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            _container(c)
    for vol in spec.get("volumes") or []:
        if isinstance(vol, dict):
            for kind in ("secret", "configMap"):
                if isinstance(vol.get(kind), dict):
                    vol[kind].setdefault("defaultMode", 420)


def _template(tpl: dict | None) -> None:
    if isinstance(tpl, dict):
        tpl.setdefault("metadata", {})
        pod_spec(tpl.get("spec"))


def _pod(obj: dict) -> None:
    spec = obj.get("spec")
    pod_spec(spec)
    if not isinstance(spec, dict):
        return
    # admission plugins of a default cluster: ServiceAccount, DefaultTolerationSeconds
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    if isinstance(tolerations, list):
        keys = {t.get("key") for t in tolerations if isinstance(t, dict)}
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if key not in keys:
                tolerations.append(
                    {
                        "key": key,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                )


def _deployment(obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            if isinstance(ru, dict):
                ru.setdefault("maxUnavailable", "25%")
                ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec.get("template"))


def _replicaset(obj: dict) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _template(spec.get("template"))


def _job(obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    tpl = spec.get("template")
    _template(tpl)
    uid = obj.get("metadata", {}).get("uid")
    if uid and not spec.get("manualSelector") and isinstance(tpl, dict):
        # the job controller's selector: the job's uid, added at creation by the API server
        labels = tpl.setdefault("metadata", {}).setdefault("labels", {})
        name = obj["metadata"].get("name", "")
        if isinstance(labels, dict):
            labels.setdefault("batch.kubernetes.io/controller-uid", uid)
            labels.setdefault("batch.kubernetes.io/job-name", name)
            labels.setdefault("controller-uid", uid)
            labels.setdefault("job-name", name)
        spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})


def _service(obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def _hpa(obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = behavior.setdefault("scaleUp", {})
        if isinstance(up, dict):
            up.setdefault("stabilizationWindowSeconds", 0)
            up.setdefault("selectPolicy", "Max")
            up.setdefault(
                "policies",
                [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15},
                ],
            )
        down = behavior.setdefault("scaleDown", {})
        if isinstance(down, dict):
            down.setdefault("selectPolicy", "Max")
            down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])


def _namespace(obj: dict) -> None:
    meta = obj.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    if isinstance(labels, dict) and meta.get("name"):
        labels["kubernetes.io/metadata.name"] = meta["name"]
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("finalizers", ["kubernetes"])
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Active")


def _secret(obj: dict) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.setdefault("data", {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def _ingress(obj: dict) -> None:
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


_ON_WRITE = {
    "pods": _pod,
    "deployments.apps": _deployment,
    "replicasets.apps": _replicaset,
    "jobs.batch": _job,
    "services": _service,
    "horizontalpodautoscalers.autoscaling": _hpa,
    "namespaces": _namespace,
    "secrets": _secret,
}

# status the API server sets (or resets) when an object is created
_INITIAL_STATUS = {
    "pods": lambda obj: {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})},
    "deployments.apps": lambda obj: {},
    "replicasets.apps": lambda obj: {"replicas": 0},
    "jobs.batch": lambda obj: {},
    "services": lambda obj: {"loadBalancer": {}},
    "horizontalpodautoscalers.autoscaling": lambda obj: {
        "currentReplicas": 0,
        "desiredReplicas": 0,
    },
    "ingresses.networking.k8s.io": lambda obj: {"loadBalancer": {}},
}


def on_create(rt: ResourceType, obj: dict) -> None:
    fn = _ON_WRITE.get(rt.key)
    if fn:
        fn(obj)
    initial = _INITIAL_STATUS.get(rt.key)
    if initial is not None:
        # a client cannot create an object with a status: the server sets the initial one
        obj["status"] = initial(obj)
    if rt.key == "ingresses.networking.k8s.io":
        _ingress(obj)


def on_update(rt: ResourceType, obj: dict, current: dict) -> None:
    fn = _ON_WRITE.get(rt.key)
    if fn:
        if rt.key == "jobs.batch":
            # the generated selector and labels are immutable: carry them over
            cur_spec = current.get("spec") or {}
            spec = obj.get("spec")
            if isinstance(spec, dict) and "selector" not in spec and "selector" in cur_spec:
                spec["selector"] = copy.deepcopy(cur_spec["selector"])
        fn(obj)


def qos_class(spec: dict) -> str:
    containers = [c for c in (spec.get("containers") or []) if isinstance(c, dict)]
    requests_any = limits_any = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        requests_any = requests_any or bool(req)
        limits_any = limits_any or bool(lim)
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim.get(r)) != lim.get(r):
                guaranteed = False
    if guaranteed:
        return "Guaranteed"
    if requests_any or limits_any:
        return "Burstable"
    return "BestEffort"
