"""Decoding of Kubernetes protobuf request bodies into JSON-shaped dicts.

kubectl 1.37's typed clients (create deployment, autoscale, create job/namespace/...,
drain's evictions) send built-in objects as application/vnd.kubernetes.protobuf and do not
fall back to JSON. This module reads that wire format: the "k8s\\0" envelope
(runtime.Unknown), then the object by the field numbers of the k8s.io/api messages, written
down here for the types kubectl creates. A field number the table does not know is reported
as a clear 415 error naming the message, never silently dropped.
"""

from __future__ import annotations

import base64
import struct
from datetime import UTC, datetime
from functools import cache

from sandbox.machinery.errors import ApiError

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# message -> "number jsonName kind; ..." where kind is s (string), i (int), b (bool),
# y (bytes, base64 in JSON), q (Quantity), ios (IntOrString), t (Time), ss/sq/sy (maps of
# string to string/Quantity/bytes), a message name, and a leading * for repeated fields.
# Go pointer fields carry a trailing ? : their zero values are real values. Every other
# scalar field is always on the wire (gogo encodes non-pointer fields even when zero) while
# its JSON form omits zero values, so zero values of those are dropped.
_MESSAGES = {
    "TypeMeta": "1 apiVersion s; 2 kind s",
    "Unknown": "1 typeMeta TypeMeta; 2 raw y; 3 contentEncoding s; 4 contentType s",
    "ObjectMeta": "1 name s; 2 generateName s; 3 namespace s; 4 selfLink s; 5 uid s; "
    "6 resourceVersion s; 7 generation i; 8 creationTimestamp t; "
    "9 deletionTimestamp t; 10 deletionGracePeriodSeconds i?; 11 labels ss; "
    "12 annotations ss; 13 ownerReferences *OwnerReference; 14 finalizers *s; "
    "17 managedFields *ManagedFieldsEntry",
    "OwnerReference": "1 kind s; 3 name s; 4 uid s; 5 apiVersion s; 6 controller b?; "
    "7 blockOwnerDeletion b?",
    "ManagedFieldsEntry": "1 manager s; 2 operation s; 3 apiVersion s; 4 time t; "
    "6 fieldsType s; 7 fieldsV1 FieldsV1; 8 subresource s",
    "FieldsV1": "1 Raw y",
    "LabelSelector": "1 matchLabels ss; 2 matchExpressions *LabelSelectorRequirement",
    "LabelSelectorRequirement": "1 key s; 2 operator s; 3 values *s",
    "DeleteOptions": "1 gracePeriodSeconds i?; 2 preconditions Preconditions; "
    "3 orphanDependents b?; 4 propagationPolicy s; 5 dryRun *s; "
    "6 ignoreStoreReadErrorWithClusterBreakingPotential b",
    "Preconditions": "1 uid s; 2 resourceVersion s",
    # apps/v1
    "Deployment": "1 metadata ObjectMeta; 2 spec DeploymentSpec; 3 status Empty",
    "DeploymentSpec": "1 replicas i?; 2 selector LabelSelector; 3 template PodTemplateSpec; "
    "4 strategy DeploymentStrategy; 5 minReadySeconds i; "
    "6 revisionHistoryLimit i?; 7 paused b; 9 progressDeadlineSeconds i?",
    "DeploymentStrategy": "1 type s; 2 rollingUpdate RollingUpdateDeployment",
    "RollingUpdateDeployment": "1 maxUnavailable ios; 2 maxSurge ios",
    "ReplicaSet": "1 metadata ObjectMeta; 2 spec ReplicaSetSpec; 3 status Empty",
    "ReplicaSetSpec": "1 replicas i?; 2 selector LabelSelector; 3 template PodTemplateSpec; "
    "4 minReadySeconds i",
    # core/v1
    "PodTemplateSpec": "1 metadata ObjectMeta; 2 spec PodSpec",
    "Pod": "1 metadata ObjectMeta; 2 spec PodSpec; 3 status Empty",
    "PodSpec": "1 volumes *Volume; 2 containers *Container; 3 restartPolicy s; "
    "4 terminationGracePeriodSeconds i?; 5 activeDeadlineSeconds i?; 6 dnsPolicy s; "
    "7 nodeSelector ss; 8 serviceAccountName s; 9 serviceAccount s; 10 nodeName s; "
    "11 hostNetwork b; 12 hostPID b; 13 hostIPC b; 14 securityContext Empty; "
    "15 imagePullSecrets *LocalObjectReference; 16 hostname s; 17 subdomain s; "
    "19 schedulerName s; 20 initContainers *Container; "
    "21 automountServiceAccountToken b?; 22 tolerations *Toleration; "
    "24 priorityClassName s; 25 priority i?; 27 shareProcessNamespace b?; "
    "30 enableServiceLinks b?; 31 preemptionPolicy s",
    "Container": "1 name s; 2 image s; 3 command *s; 4 args *s; 5 workingDir s; "
    "6 ports *ContainerPort; 7 env *EnvVar; 8 resources ResourceRequirements; "
    "9 volumeMounts *VolumeMount; 10 livenessProbe Probe; 11 readinessProbe Probe; "
    "13 terminationMessagePath s; 14 imagePullPolicy s; 16 stdin b; "
    "17 stdinOnce b; 18 tty b; 19 envFrom *EnvFromSource; "
    "20 terminationMessagePolicy s; 22 startupProbe Probe; 24 restartPolicy s",
    "ContainerPort": "1 name s; 2 hostPort i; 3 containerPort i; 4 protocol s; 5 hostIP s",
    "EnvVar": "1 name s; 2 value s; 3 valueFrom EnvVarSource",
    "EnvVarSource": "1 fieldRef ObjectFieldSelector; 3 configMapKeyRef KeySelector; "
    "4 secretKeyRef KeySelector",
    "ObjectFieldSelector": "1 apiVersion s; 2 fieldPath s",
    "KeySelector": "1 localObjectReference LocalObjectReference; 2 key s; 3 optional b?",
    "EnvFromSource": "1 prefix s; 2 configMapRef ConfigMapEnvSource; "
    "3 secretRef ConfigMapEnvSource",
    "ConfigMapEnvSource": "1 localObjectReference LocalObjectReference; 2 optional b?",
    "LocalObjectReference": "1 name s",
    "ResourceRequirements": "1 limits sq; 2 requests sq",
    "VolumeMount": "1 name s; 2 readOnly b; 3 mountPath s; 4 subPath s",
    "Volume": "1 name s; 2 volumeSource VolumeSource",
    "VolumeSource": "1 hostPath HostPathVolumeSource; 2 emptyDir EmptyDirVolumeSource; "
    "6 secret SecretVolumeSource; 19 configMap ConfigMapVolumeSource",
    "HostPathVolumeSource": "1 path s; 2 type s",
    "EmptyDirVolumeSource": "1 medium s; 2 sizeLimit q",
    "SecretVolumeSource": "1 secretName s; 3 defaultMode i?; 4 optional b?",
    "ConfigMapVolumeSource": "1 localObjectReference LocalObjectReference; 3 defaultMode i?; "
    "4 optional b?",
    "Probe": "1 handler ProbeHandler; 2 initialDelaySeconds i; 3 timeoutSeconds i; "
    "4 periodSeconds i; 5 successThreshold i; 6 failureThreshold i",
    "ProbeHandler": "1 exec ExecAction; 2 httpGet HTTPGetAction; 3 tcpSocket TCPSocketAction",
    "ExecAction": "1 command *s",
    "HTTPGetAction": "1 path s; 2 port ios; 3 host s; 4 scheme s",
    "TCPSocketAction": "1 port ios; 2 host s",
    "Toleration": "1 key s; 2 operator s; 3 value s; 4 effect s; 5 tolerationSeconds i?",
    "Namespace": "1 metadata ObjectMeta; 2 spec NamespaceSpec; 3 status Empty",
    "NamespaceSpec": "1 finalizers *s",
    "Service": "1 metadata ObjectMeta; 2 spec ServiceSpec; 3 status Empty",
    "ServiceSpec": "1 ports *ServicePort; 2 selector ss; 3 clusterIP s; 4 type s; "
    "5 externalIPs *s; 7 sessionAffinity s; 8 loadBalancerIP s; "
    "9 loadBalancerSourceRanges *s; 10 externalName s; 11 externalTrafficPolicy s; "
    "12 healthCheckNodePort i; 13 publishNotReadyAddresses b; 17 ipFamilyPolicy s; "
    "18 clusterIPs *s; 19 ipFamilies *s; 20 allocateLoadBalancerNodePorts b?; "
    "21 loadBalancerClass s; 22 internalTrafficPolicy s",
    "ServicePort": "1 name s; 2 protocol s; 3 port i; 4 targetPort ios; 5 nodePort i; "
    "6 appProtocol s",
    "ConfigMap": "1 metadata ObjectMeta; 2 data ss; 3 binaryData sy; 4 immutable b?",
    "Secret": "1 metadata ObjectMeta; 2 data sy; 3 type s; 4 stringData ss; 5 immutable b?",
    "ServiceAccount": "1 metadata ObjectMeta; 2 secrets *ObjectReference; "
    "3 imagePullSecrets *LocalObjectReference; "
    "4 automountServiceAccountToken b?",
    "ObjectReference": "1 kind s; 2 namespace s; 3 name s; 4 uid s; 5 apiVersion s; "
    "6 resourceVersion s; 7 fieldPath s",
    # batch/v1
    "Job": "1 metadata ObjectMeta; 2 spec JobSpec; 3 status Empty",
    "JobSpec": "1 parallelism i?; 2 completions i?; 3 activeDeadlineSeconds i?; "
    "4 selector LabelSelector; 5 manualSelector b?; 6 template PodTemplateSpec; "
    "7 backoffLimit i?; 8 ttlSecondsAfterFinished i?; 9 completionMode s; "
    "10 suspend b?; 14 podReplacementPolicy s",
    # autoscaling
    "HorizontalPodAutoscalerV2": "1 metadata ObjectMeta; 2 spec HPASpecV2; 3 status Empty",
    "HPASpecV2": "1 scaleTargetRef CrossVersionObjectReference; 2 minReplicas i?; "
    "3 maxReplicas i; 4 metrics *MetricSpec",
    "CrossVersionObjectReference": "1 kind s; 2 name s; 3 apiVersion s",
    "MetricSpec": "1 type s; 4 resource ResourceMetricSource",
    "ResourceMetricSource": "1 name s; 2 target MetricTarget",
    "MetricTarget": "1 type s; 2 value q; 3 averageValue q; 4 averageUtilization i?",
    "HorizontalPodAutoscalerV1": "1 metadata ObjectMeta; 2 spec HPASpecV1; 3 status Empty",
    "HPASpecV1": "1 scaleTargetRef CrossVersionObjectReference; 2 minReplicas i?; "
    "3 maxReplicas i; 4 targetCPUUtilizationPercentage i?",
    "Scale": "1 metadata ObjectMeta; 2 spec ScaleSpec; 3 status Empty",
    "ScaleSpec": "1 replicas i",
    # authorization/v1
    "SelfSubjectAccessReview": "1 metadata ObjectMeta; 2 spec SelfSubjectAccessReviewSpec; "
    "3 status Empty",
    "SelfSubjectAccessReviewSpec": "1 resourceAttributes ResourceAttributes; "
    "2 nonResourceAttributes NonResourceAttributes",
    "ResourceAttributes": "1 namespace s; 2 verb s; 3 group s; 4 version s; 5 resource s; "
    "6 subresource s; 7 name s",
    "NonResourceAttributes": "1 path s; 2 verb s",
    "SelfSubjectReview": "1 metadata ObjectMeta; 2 status Empty",
    # policy/v1
    "Eviction": "1 metadata ObjectMeta; 2 deleteOptions DeleteOptions",
    # networking/v1
    "Ingress": "1 metadata ObjectMeta; 2 spec IngressSpec; 3 status Empty",
    "IngressSpec": "1 defaultBackend IngressBackend; 2 tls *IngressTLS; 3 rules *IngressRule; "
    "4 ingressClassName s",
    "IngressTLS": "1 hosts *s; 2 secretName s",
    "IngressRule": "1 host s; 2 ingressRuleValue IngressRuleValue",
    "IngressRuleValue": "1 http HTTPIngressRuleValue",
    "HTTPIngressRuleValue": "1 paths *HTTPIngressPath",
    "HTTPIngressPath": "1 path s; 2 backend IngressBackend; 3 pathType s",
    "IngressBackend": "4 service IngressServiceBackend",
    "IngressServiceBackend": "1 name s; 2 port ServiceBackendPort",
    "ServiceBackendPort": "1 name s; 2 number i",
    # rbac.authorization.k8s.io/v1 (kubectl create role/clusterrole/rolebinding/...)
    "Role": "1 metadata ObjectMeta; 2 rules *PolicyRule",
    "ClusterRole": "1 metadata ObjectMeta; 2 rules *PolicyRule; 3 aggregationRule AggregationRule",
    "PolicyRule": "1 verbs *s; 2 apiGroups *s; 3 resources *s; 4 resourceNames *s; "
    "5 nonResourceURLs *s",
    "AggregationRule": "1 clusterRoleSelectors *LabelSelector",
    "RoleBinding": "1 metadata ObjectMeta; 2 subjects *Subject; 3 roleRef RoleRef",
    "Subject": "1 kind s; 2 apiGroup s; 3 name s; 4 namespace s",
    "RoleRef": "1 apiGroup s; 2 kind s; 3 name s",
    "Empty": "",
}

# Go embeds these structs inline in JSON: their fields move up into the parent object
_INLINE = {"volumeSource", "handler", "ingressRuleValue", "localObjectReference"}

_TOP = {
    ("apps/v1", "Deployment"): "Deployment",
    ("apps/v1", "ReplicaSet"): "ReplicaSet",
    ("v1", "Pod"): "Pod",
    ("v1", "Namespace"): "Namespace",
    ("v1", "Service"): "Service",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("batch/v1", "Job"): "Job",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "HorizontalPodAutoscalerV2",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "HorizontalPodAutoscalerV1",
    ("autoscaling/v1", "Scale"): "Scale",
    ("policy/v1", "Eviction"): "Eviction",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("networking.k8s.io/v1", "Ingress"): "Ingress",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "RoleBinding",
    ("v1", "DeleteOptions"): "DeleteOptions",
    ("meta.k8s.io/v1", "DeleteOptions"): "DeleteOptions",
}


@cache
def _schema(message: str) -> dict[int, tuple[str, str, bool]]:
    spec = _MESSAGES[message]
    out: dict[int, tuple[str, str, bool]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        num, name, kind = part.split()
        repeated = kind.startswith("*")
        out[int(num)] = (name, kind.lstrip("*"), repeated)
    return out


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ApiError.bad_request("protobuf: truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = buf[pos : pos + length]
            if len(value) != length:
                raise ApiError.bad_request("protobuf: truncated field")
            pos += length
        elif wire == 1:
            value = struct.unpack_from("<q", buf, pos)[0]
            pos += 8
        elif wire == 5:
            value = struct.unpack_from("<i", buf, pos)[0]
            pos += 4
        else:
            raise ApiError.bad_request(f"protobuf: unsupported wire type {wire}")
        yield num, wire, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, value, message: str, name: str):
    if kind == "s":
        return bytes(value).decode()
    if kind == "i":
        return _signed(value)
    if kind == "b":
        return bool(value)
    if kind == "y":
        return base64.b64encode(bytes(value)).decode()
    if kind == "q":
        return _message(bytes(value), "Quantity")
    if kind == "ios":
        d = {n: v for n, _, v in _fields(bytes(value))}
        return bytes(d.get(3, b"")).decode() if d.get(1, 0) == 1 else _signed(d.get(2, 0))
    if kind == "t":
        d = {n: v for n, _, v in _fields(bytes(value))}
        if not d.get(1):
            return None
        return datetime.fromtimestamp(_signed(d[1]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _message(bytes(value), kind)


def _map(kind: str, value: bytes, message: str, name: str) -> tuple[str, object]:
    d = {n: v for n, _, v in _fields(value)}
    key = bytes(d.get(1, b"")).decode()
    raw = bytes(d.get(2, b""))
    if kind == "ss":
        return key, raw.decode()
    if kind == "sq":
        return key, _message(raw, "Quantity")
    return key, base64.b64encode(raw).decode()


def _message(buf: bytes, message: str):
    if message == "Empty":
        return {}  # status and similar fields a client cannot set on create
    if message == "Quantity":
        d = {n: v for n, _, v in _fields(buf)}
        return bytes(d.get(1, b"")).decode()
    schema = _schema(message)
    out: dict = {}
    for num, _wire, value in _fields(buf):
        field = schema.get(num)
        if field is None and (value == 0 or value == b""):
            continue  # a Go zero value of a field the table does not list: JSON omits it
        if field is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"protobuf field {num} of {message} is not supported by the sandbox; "
                "send the object as application/json",
            )
        name, kind, repeated = field
        pointer = kind.endswith("?")
        kind = kind.rstrip("?")
        if kind in ("ss", "sq", "sy"):
            k, v = _map(kind, bytes(value), message, name)
            out.setdefault(name, {})[k] = v
            continue
        if repeated and kind in ("s", "i", "b") and _wire == 2 and kind != "s":
            # packed repeated scalars
            items, pos, raw = [], 0, bytes(value)
            while pos < len(raw):
                v, pos = _varint(raw, pos)
                items.append(_scalar(kind, v, message, name))
            out.setdefault(name, []).extend(items)
            continue
        decoded = _scalar(kind, value, message, name)
        if not repeated and not pointer and decoded in ("", 0, False) and kind in ("s", "i", "b"):
            continue  # a Go zero value: JSON omits it
        if repeated:
            out.setdefault(name, []).append(decoded)
        elif name in _INLINE and isinstance(decoded, dict):
            out.update(decoded)
        elif decoded is not None:
            out[name] = decoded
    return out


def decode(body: bytes) -> dict:
    """A protobuf-encoded object as the JSON-shaped dict the server works with."""
    if not body.startswith(MAGIC):
        raise ApiError.bad_request("protobuf: the body lacks the k8s protobuf envelope")
    envelope = _message(body[len(MAGIC) :], "Unknown")
    type_meta = envelope.get("typeMeta") or {}
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    message = _TOP.get((api_version, kind))
    if message is None:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"protobuf bodies of {api_version} {kind} are not supported by the "
            "sandbox; send the object as application/json",
        )
    obj = _message(base64.b64decode(envelope.get("raw", "")), message)
    return {"kind": kind, "apiVersion": api_version, **obj}
