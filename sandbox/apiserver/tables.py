"""Server-side Table printing (meta.k8s.io/v1 Table) with the columns kubectl shows.

Column sets follow the upstream printers; columns with priority 1 are the extra `-o wide` ones.
Rows are built from the stored dicts; each row's object metadata comes from a cached
serialization so a 30,000-pod list stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sandbox.machinery.resources import ResourceType
from sandbox.machinery.selectors import selector_string
from sandbox.storage.entry import Entry

Col = tuple[str, str, int, str]  # name, type, priority, description


_TS_CACHE: dict[str, float | None] = {}


def _ts(value: str | None) -> float | None:
    # many objects share a second-precision timestamp: parse each distinct one once
    if not value:
        return None
    hit = _TS_CACHE.get(value)
    if hit is not None or value in _TS_CACHE:
        return hit
    try:
        parsed: float | None = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        parsed = None
    if len(_TS_CACHE) > 100_000:
        _TS_CACHE.clear()
    _TS_CACHE[value] = parsed
    return parsed


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        days, rem = divmod(hours, 24)
        return f"{days}d" if rem == 0 else f"{days}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = divmod(hours // 24, 365)
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def age(value: str | None, now: float) -> str:
    t = _ts(value)
    return "<unknown>" if t is None else human_duration(now - t)


def _name(obj: dict) -> str:
    return obj["metadata"]["name"]


def _age(obj: dict, now: float) -> str:
    return age(obj["metadata"].get("creationTimestamp"), now)


def _containers(spec: dict) -> tuple[str, str]:
    cts = spec.get("containers") or []
    return ",".join(c.get("name", "") for c in cts), ",".join(c.get("image", "") for c in cts)


def _tpl_spec(obj: dict) -> dict:
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


# ---- pods ----


def pod_status_reason(pod: dict) -> tuple[str, int, int, int, str]:
    """(STATUS, ready, total, restarts, last restart age suffix) as kubectl computes them."""
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    total = len(spec.get("containers") or [])
    ready = restarts = 0
    last_restart: float | None = None
    init_statuses = status.get("initContainerStatuses") or []
    initializing = False
    for i, cs in enumerate(init_statuses):
        restarts += cs.get("restartCount", 0)
        state = cs.get("state") or {}
        term = state.get("terminated")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
            initializing = True
        elif state.get("waiting") and state["waiting"].get("reason") not in (
            None,
            "PodInitializing",
        ):
            reason = "Init:" + state["waiting"]["reason"]
            initializing = True
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
            initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            last = (cs.get("lastState") or {}).get("terminated")
            if last and last.get("finishedAt"):
                t = _ts(last["finishedAt"])
                if t and (last_restart is None or t > last_restart):
                    last_restart = t
            state = cs.get("state") or {}
            if state.get("waiting") and state["waiting"].get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated"):
                term = state["terminated"]
                if term.get("reason"):
                    reason = term["reason"]
                elif term.get("signal"):
                    reason = f"Signal:{term['signal']}"
                else:
                    reason = f"ExitCode:{term.get('exitCode')}"
            elif cs.get("ready") and state.get("running"):
                has_running = True
                ready += 1
            elif state.get("running"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
            conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
            if conds.get("Ready") != "True":
                reason = "NotReady"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating" if status.get("reason") != "NodeLost" else "Unknown"
    suffix = ""
    if last_restart is not None:
        suffix = f" ({human_duration(datetime.now(UTC).timestamp() - last_restart)} ago)"
    return reason, ready, total, restarts, suffix


def _pod_cells(pod: dict, now: float) -> list:
    reason, ready, total, restarts, suffix = pod_status_reason(pod)
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    gates = spec.get("readinessGates") or []
    gates_cell = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        ok = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gates_cell = f"{ok}/{len(gates)}"
    return [
        _name(pod),
        f"{ready}/{total}",
        reason,
        f"{restarts}{suffix}",
        _age(pod, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]


_POD_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
    ("Status", "string", 0, "The aggregate status of the containers in this pod."),
    (
        "Restarts",
        "string",
        0,
        "The number of times the containers in this pod have been "
        "restarted and when the last container in this pod has restarted.",
    ),
    ("Age", "string", 0, "CreationTimestamp"),
    ("IP", "string", 1, "IP address"),
    ("Node", "string", 1, "Node name"),
    ("Nominated Node", "string", 1, "Nominated node name"),
    ("Readiness Gates", "string", 1, "Readiness gates"),
]


def _deployment_cells(d: dict, now: float) -> list:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(_tpl_spec(d))
    return [
        _name(d),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(d, now),
        names,
        images,
        selector_string(spec.get("selector")) or "<none>",
    ]


_DEPLOY_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Ready", "string", 0, "Number of the pod with ready state"),
    (
        "Up-to-date",
        "string",
        0,
        "Total number of non-terminated pods targeted by this "
        "deployment that have the desired template spec.",
    ),
    ("Available", "string", 0, "Total number of available pods"),
    ("Age", "string", 0, "CreationTimestamp"),
    ("Containers", "string", 1, "Names of each container in the template."),
    ("Images", "string", 1, "Images referenced by each container in the template."),
    ("Selector", "string", 1, "Label selector for pods."),
]


def _rs_cells(rs: dict, now: float) -> list:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers(_tpl_spec(rs))
    return [
        _name(rs),
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(rs, now),
        names,
        images,
        selector_string(spec.get("selector")) or "<none>",
    ]


_RS_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Desired", "integer", 0, "Number of desired pods"),
    ("Current", "integer", 0, "Number of actually running pods"),
    ("Ready", "integer", 0, "Number of ready pods"),
    ("Age", "string", 0, "CreationTimestamp"),
    ("Containers", "string", 1, "Names of each container in the template."),
    ("Images", "string", 1, "Images referenced by each container in the template."),
    ("Selector", "string", 1, "Label selector for pods."),
]


def _svc_ports(spec: dict) -> str:
    parts = []
    for p in spec.get("ports") or []:
        s = f"{p.get('port')}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        parts.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _svc_cells(svc: dict, now: float) -> list:
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    stype = spec.get("type", "ClusterIP")
    external = "<none>"
    if stype == "LoadBalancer":
        ips = [
            i.get("ip") or i.get("hostname")
            for i in (status.get("loadBalancer") or {}).get("ingress") or []
        ]
        ips += spec.get("externalIPs") or []
        external = ",".join(i for i in ips if i) or "<pending>"
    elif stype == "ExternalName":
        external = spec.get("externalName", "<none>")
    elif spec.get("externalIPs"):
        external = ",".join(spec["externalIPs"])
    sel = spec.get("selector")
    return [
        _name(svc),
        stype,
        spec.get("clusterIP") or "<none>",
        external,
        _svc_ports(spec),
        _age(svc, now),
        ",".join(f"{k}={v}" for k, v in sorted(sel.items())) if sel else "<none>",
    ]


_SVC_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Type", "string", 0, "The type of the service."),
    ("Cluster-IP", "string", 0, "The IP address of the service."),
    ("External-IP", "string", 0, "The external IP address of the service."),
    ("Port(s)", "string", 0, "The ports of the service."),
    ("Age", "string", 0, "CreationTimestamp"),
    ("Selector", "string", 1, "The label selector of the service."),
]


def _node_cells(node: dict, now: float) -> list:
    status, spec = node.get("status") or {}, node.get("spec") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = {"True": "Ready", "False": "NotReady"}.get(conds.get("Ready"), "Unknown")
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = node["metadata"].get("labels") or {}
    roles = sorted(
        k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k
    )
    roles += [v for k, v in labels.items() if k == "kubernetes.io/role"]
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [
        _name(node),
        state,
        ",".join(roles) or "<none>",
        _age(node, now),
        info.get("kubeletVersion", ""),
        addrs.get("InternalIP") or "<none>",
        addrs.get("ExternalIP") or "<none>",
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


_NODE_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Status", "string", 0, "The status of the node"),
    ("Roles", "string", 0, "The roles of the node"),
    ("Age", "string", 0, "CreationTimestamp"),
    ("Version", "string", 0, "Kubelet Version reported by the node."),
    ("Internal-IP", "string", 1, "List of internal IPs."),
    ("External-IP", "string", 1, "List of external IPs."),
    ("OS-Image", "string", 1, "OS image reported by the node."),
    ("Kernel-Version", "string", 1, "Kernel version reported by the node."),
    ("Container-Runtime", "string", 1, "Container runtime reported by the node."),
]


def _job_cells(job: dict, now: float) -> list:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    completions = spec.get("completions")
    succeeded = status.get("succeeded", 0)
    comp = (
        f"{succeeded}/{completions}"
        if completions is not None
        else (f"{succeeded}/1 of {spec.get('parallelism', 1)}")
    )
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if conds.get("Complete") == "True":
        state = "Complete"
    elif conds.get("Failed") == "True":
        state = "Failed"
    elif conds.get("FailureTarget") == "True":
        state = "FailureTarget"
    elif conds.get("SuccessCriteriaMet") == "True":
        state = "SuccessCriteriaMet"
    elif conds.get("Suspended") == "True":
        state = "Suspended"
    else:
        state = "Running"
    start = _ts(status.get("startTime"))
    end = _ts(status.get("completionTime"))
    duration = "" if start is None else human_duration((end or now) - start)
    names, images = _containers(_tpl_spec(job))
    return [
        _name(job),
        state,
        comp,
        duration,
        _age(job, now),
        names,
        images,
        selector_string(spec.get("selector")) or "<none>",
    ]


_JOB_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Status", "string", 0, "Status of the job."),
    ("Completions", "string", 0, "The completion status of the job"),
    ("Duration", "string", 0, "Time required to complete the job."),
    ("Age", "string", 0, "CreationTimestamp"),
    ("Containers", "string", 1, "Names of each container in the template."),
    ("Images", "string", 1, "Images referenced by each container in the template."),
    ("Selector", "string", 1, "Label selector for pods."),
]


def _hpa_targets(hpa: dict) -> str:
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    current = status.get("currentMetrics") or []
    parts = []
    for i, m in enumerate(spec.get("metrics") or []):
        mtype = m.get("type")
        src = (
            m.get(
                {
                    "Resource": "resource",
                    "Pods": "pods",
                    "Object": "object",
                    "External": "external",
                    "ContainerResource": "containerResource",
                }.get(mtype, ""),
                {},
            )
            or {}
        )
        target = src.get("target") or {}
        cur = current[i] if i < len(current) and current[i].get("type") == mtype else {}
        cur_val = (
            cur.get(
                {
                    "Resource": "resource",
                    "Pods": "pods",
                    "Object": "object",
                    "External": "external",
                    "ContainerResource": "containerResource",
                }.get(mtype, "")
            )
            or {}
        ).get("current") or {}
        name = src.get("name") or (src.get("metric") or {}).get("name", "")
        if target.get("type") == "Utilization":
            have = cur_val.get("averageUtilization")
            parts.append(
                f"{name}: {'<unknown>' if have is None else f'{have}%'}/"
                f"{target.get('averageUtilization')}%"
            )
        else:
            want = target.get("averageValue") or target.get("value")
            have = cur_val.get("averageValue") or cur_val.get("value")
            parts.append(f"{name}: {have if have is not None else '<unknown>'}/{want}")
    return ", ".join(parts) or "<none>"


def _hpa_cells(hpa: dict, now: float) -> list:
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [
        _name(hpa),
        f"{ref.get('kind')}/{ref.get('name')}",
        _hpa_targets(hpa),
        spec.get("minReplicas", 1),
        spec.get("maxReplicas"),
        status.get("currentReplicas", 0),
        _age(hpa, now),
    ]


_HPA_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Reference", "string", 0, "reference to the target object"),
    ("Targets", "string", 0, "the current and target metric values"),
    ("MinPods", "string", 0, "lower limit for the number of pods"),
    ("MaxPods", "integer", 0, "upper limit for the number of pods"),
    ("Replicas", "integer", 0, "current number of replicas"),
    ("Age", "string", 0, "CreationTimestamp"),
]


def _event_cells(ev: dict, now: float) -> list:
    inv = ev.get("involvedObject") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or ev["metadata"].get("creationTimestamp")
    first = ev.get("firstTimestamp") or ev.get("eventTime")
    src = ev.get("source") or {}
    source = src.get("component", "")
    if src.get("host"):
        source += f", {src['host']}"
    return [
        age(last, now),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}",
        inv.get("fieldPath", ""),
        source,
        (ev.get("message") or "").strip(),
        age(first, now),
        ev.get("count", 1),
        _name(ev),
    ]


_EVENT_COLS: list[Col] = [
    ("Last Seen", "string", 0, "Time when last event occurred"),
    ("Type", "string", 0, "Type of this event"),
    ("Reason", "string", 0, "Reason of this event"),
    ("Object", "string", 0, "The object that this event is about"),
    ("Subobject", "string", 1, "The subobject this event is about"),
    ("Source", "string", 1, "The source of this event"),
    ("Message", "string", 0, "The message of this event"),
    ("First Seen", "string", 1, "Time when first event occurred"),
    ("Count", "string", 1, "The number of times this event has occurred"),
    ("Name", "string", 1, "The name of this event"),
]


def _ns_cells(ns: dict, now: float) -> list:
    return [_name(ns), (ns.get("status") or {}).get("phase", ""), _age(ns, now)]


_NS_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Status", "string", 0, "The status of the namespace"),
    ("Age", "string", 0, "CreationTimestamp"),
]


def _ing_cells(ing: dict, now: float) -> list:
    spec, status = ing.get("spec") or {}, ing.get("status") or {}
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    addrs = [
        i.get("ip") or i.get("hostname")
        for i in (status.get("loadBalancer") or {}).get("ingress") or []
    ]
    ports = "80, 443" if spec.get("tls") else "80"
    return [
        _name(ing),
        spec.get("ingressClassName") or "<none>",
        ",".join(hosts) or "*",
        ",".join(a for a in addrs if a),
        ports,
        _age(ing, now),
    ]


_ING_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Class", "string", 0, "The name of the IngressClass"),
    ("Hosts", "string", 0, "Hosts that incoming requests are matched against"),
    ("Address", "string", 0, "Address is a list containing ingress points for the load-balancer"),
    ("Ports", "string", 0, "Ports of TLS configurations that open"),
    ("Age", "string", 0, "CreationTimestamp"),
]


def _ep_cells(ep: dict, now: float) -> list:
    addrs = []
    for subset in ep.get("subsets") or []:
        for a in subset.get("addresses") or []:
            for p in subset.get("ports") or [{}]:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else a.get("ip"))
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_name(ep), shown or "<none>", _age(ep, now)]


_EP_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Endpoints", "string", 0, "Endpoints of the service"),
    ("Age", "string", 0, "CreationTimestamp"),
]


def _cm_cells(cm: dict, now: float) -> list:
    return [_name(cm), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), _age(cm, now)]


def _secret_cells(s: dict, now: float) -> list:
    return [_name(s), s.get("type", ""), len(s.get("data") or {}), _age(s, now)]


def _sa_cells(sa: dict, now: float) -> list:
    return [_name(sa), len(sa.get("secrets") or []), _age(sa, now)]


def _ingclass_cells(ic: dict, now: float) -> list:
    spec = ic.get("spec") or {}
    params = spec.get("parameters")
    return [
        _name(ic),
        spec.get("controller", ""),
        f"{params.get('kind')}/{params.get('name')}" if params else "<none>",
        _age(ic, now),
    ]


def _gateway_cells(gw: dict, now: float) -> list:
    # the printer columns of the Gateway API CRDs
    spec, status = gw.get("spec") or {}, gw.get("status") or {}
    addresses = [a.get("value") for a in status.get("addresses") or [] if a.get("value")]
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return [
        _name(gw),
        spec.get("gatewayClassName", ""),
        ",".join(addresses),
        conds.get("Programmed", "Unknown"),
        _age(gw, now),
    ]


def _route_cells(route: dict, now: float) -> list:
    hosts = (route.get("spec") or {}).get("hostnames") or []
    return [_name(route), ",".join(hosts), _age(route, now)]


def _role_cells(role: dict, now: float) -> list:
    # kubectl shows roles' creation time as RFC 3339 in UTC, not an age
    return [_name(role), (role.get("metadata") or {}).get("creationTimestamp", "")]


def _binding_cells(binding: dict, now: float) -> list:
    ref = binding.get("roleRef") or {}
    users, groups, sas = [], [], []
    for subject in binding.get("subjects") or []:
        kind, name = subject.get("kind"), subject.get("name", "")
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            ns = subject.get("namespace")
            sas.append(f"{ns}/{name}" if ns else name)
    return [
        _name(binding),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(binding, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]


_ROLE_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Created At", "date", 0, "Time at which the object was created"),
]
_BINDING_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Role", "string", 0, "RoleRef is the Role referenced by the binding"),
    ("Age", "string", 0, "CreationTimestamp"),
    ("Users", "string", 1, "Users in the binding"),
    ("Groups", "string", 1, "Groups in the binding"),
    ("ServiceAccounts", "string", 1, "ServiceAccounts in the binding"),
]


def _default_cells(obj: dict, now: float) -> list:
    return [_name(obj), _age(obj, now)]


_DEFAULT_COLS: list[Col] = [
    ("Name", "string", 0, "name"),
    ("Age", "string", 0, "CreationTimestamp"),
]

PRINTERS: dict[str, tuple[list[Col], Callable[[dict, float], list]]] = {
    "gateways.gateway.networking.k8s.io": (
        [
            ("Name", "string", 0, "name"),
            ("Class", "string", 0, "gatewayClassName"),
            ("Address", "string", 0, "status.addresses[*].value"),
            ("Programmed", "string", 0, "Programmed condition"),
            ("Age", "date", 0, "CreationTimestamp"),
        ],
        _gateway_cells,
    ),
    "httproutes.gateway.networking.k8s.io": (
        [
            ("Name", "string", 0, "name"),
            ("Hostnames", "string", 0, "spec.hostnames"),
            ("Age", "date", 0, "CreationTimestamp"),
        ],
        _route_cells,
    ),
    "pods": (_POD_COLS, _pod_cells),
    "roles.rbac.authorization.k8s.io": (_ROLE_COLS, _role_cells),
    "clusterroles.rbac.authorization.k8s.io": (_ROLE_COLS, _role_cells),
    "rolebindings.rbac.authorization.k8s.io": (_BINDING_COLS, _binding_cells),
    "clusterrolebindings.rbac.authorization.k8s.io": (_BINDING_COLS, _binding_cells),
    "deployments.apps": (_DEPLOY_COLS, _deployment_cells),
    "replicasets.apps": (_RS_COLS, _rs_cells),
    "services": (_SVC_COLS, _svc_cells),
    "nodes": (_NODE_COLS, _node_cells),
    "jobs.batch": (_JOB_COLS, _job_cells),
    "horizontalpodautoscalers.autoscaling": (_HPA_COLS, _hpa_cells),
    "events": (_EVENT_COLS, _event_cells),
    "namespaces": (_NS_COLS, _ns_cells),
    "ingresses.networking.k8s.io": (_ING_COLS, _ing_cells),
    "endpoints": (_EP_COLS, _ep_cells),
    "configmaps": (
        [
            ("Name", "string", 0, "name"),
            ("Data", "string", 0, "Number of data"),
            ("Age", "string", 0, "CreationTimestamp"),
        ],
        _cm_cells,
    ),
    "secrets": (
        [
            ("Name", "string", 0, "name"),
            ("Type", "string", 0, "The type of the secret"),
            ("Data", "string", 0, "Number of data"),
            ("Age", "string", 0, "CreationTimestamp"),
        ],
        _secret_cells,
    ),
    "serviceaccounts": (
        [
            ("Name", "string", 0, "name"),
            ("Secrets", "string", 0, "Number of secrets"),
            ("Age", "string", 0, "CreationTimestamp"),
        ],
        _sa_cells,
    ),
    "ingressclasses.networking.k8s.io": (
        [
            ("Name", "string", 0, "name"),
            ("Controller", "string", 0, "Controller"),
            ("Parameters", "string", 0, "Parameters"),
            ("Age", "string", 0, "CreationTimestamp"),
        ],
        _ingclass_cells,
    ),
}


def _columns(cols: list[Col]) -> list[dict]:
    return [
        {
            "name": n,
            "type": t,
            "format": "name" if n == "Name" else "",
            "description": d,
            "priority": p,
        }
        for n, t, p, d in cols
    ]


def columns_for(rt: ResourceType) -> list[dict]:
    return _columns(PRINTERS.get(rt.key, (_DEFAULT_COLS, None))[0])


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def row_bytes(
    rt: ResourceType,
    entry: Entry,
    include_object: str,
    now: float,
    obj_override: dict | None = None,
) -> bytes:
    cells_fn = PRINTERS.get(rt.key, (None, _default_cells))[1]
    obj = obj_override if obj_override is not None else entry.obj
    cells = _dumps(cells_fn(obj, now))
    if include_object == "None":
        return b'{"cells":' + cells + b"}"
    if include_object == "Object":
        raw = _dumps(obj) if obj_override is not None else entry.raw
        return b'{"cells":' + cells + b',"object":' + raw + b"}"
    meta = _dumps(obj["metadata"]) if obj_override is not None else entry.meta_raw
    return (
        b'{"cells":' + cells + b',"object":{"kind":"PartialObjectMetadata","apiVersion":'
        b'"meta.k8s.io/v1","metadata":' + meta + b"}}"
    )


def table_bytes(
    rt: ResourceType,
    entries: Iterable[Entry],
    *,
    resource_version: int,
    continue_token: str | None = None,
    remaining: int | None = None,
    include_object: str = "Metadata",
    with_columns: bool = True,
    objects: list[dict] | None = None,
) -> bytes:
    now = datetime.now(UTC).timestamp()
    meta: dict = {"resourceVersion": str(resource_version)}
    if continue_token:
        meta["continue"] = continue_token
        if remaining is not None:
            meta["remainingItemCount"] = remaining
    if objects is not None:
        rows = b",".join(row_bytes(rt, Entry(o), include_object, now, o) for o in objects)
    else:
        rows = b",".join(row_bytes(rt, e, include_object, now) for e in entries)
    cols = _dumps(columns_for(rt) if with_columns else [])
    return (
        b'{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":'
        + _dumps(meta)
        + b',"columnDefinitions":'
        + cols
        + b',"rows":['
        + rows
        + b"]}"
    )
