"""Kubeconfig validation: parse safely, refuse anything that would run code or read files.

Only data fields are accepted. Exec and auth-provider plugins would run programs on the
control plane's host, and path fields would read its files, so both are refused with a
reason that names the field. YAML is size-checked before parsing and parsed by a safe loader
that refuses anchors and aliases (the "billion laughs" expansion) and caps the node count.
"""

import base64
import binascii
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings

from controlplane.kube.names import dns1123_label_problem

# user fields that would make us run a program or read a file, with the reason shown.
_FORBIDDEN_USER_FIELDS = {
    "exec": "exec credential plugins run a program on the control plane; use a token or a "
    "client certificate (client-certificate-data/client-key-data) instead",
    "auth-provider": "auth-provider plugins are not supported; use a token or a client "
    "certificate instead",
    "tokenFile": "file paths are not followed; paste the token itself as 'token'",
    "client-certificate": "file paths are not followed; embed the certificate as "
    "'client-certificate-data'",
    "client-key": "file paths are not followed; embed the key as 'client-key-data'",
    "username": "basic authentication is not supported by Kubernetes; use a token",
    "password": "basic authentication is not supported by Kubernetes; use a token",
    "as": "impersonation is not supported",
    "as-groups": "impersonation is not supported",
    "as-uid": "impersonation is not supported",
    "as-user-extra": "impersonation is not supported",
}
_FORBIDDEN_CLUSTER_FIELDS = {
    "certificate-authority": "file paths are not followed; embed the CA as "
    "'certificate-authority-data'",
    "proxy-url": "proxies are not supported",
}
_ALLOWED_USER_FIELDS = {"token", "client-certificate-data", "client-key-data", "extensions"}
_ALLOWED_CLUSTER_FIELDS = {
    "server",
    "certificate-authority-data",
    "insecure-skip-tls-verify",
    "tls-server-name",
    "disable-compression",
    "extensions",
}


# Lengths of the Cluster columns the server and the context name are stored in.
SERVER_MAX = 500
CONTEXT_NAME_MAX = 253
# What a TLS server name (SNI) may hold: a DNS name or an IP address.
_TLS_SERVER_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?")


class KubeconfigError(ValueError):
    """A kubeconfig is refused; `field` names the offending part (e.g. users[0].user.exec)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ContextPreview:
    name: str
    cluster: str
    user: str
    server: str
    namespace: str
    auth: str  # "token", "client certificate" or "none"


@dataclass(frozen=True)
class Kubeconfig:
    contexts: list[ContextPreview]
    current_context: str
    _clusters: dict = field(repr=False)
    _users: dict = field(repr=False)

    def context(self, name: str | None) -> ContextPreview:
        wanted = name or self.current_context
        if not wanted:
            if len(self.contexts) == 1:
                return self.contexts[0]
            raise KubeconfigError("context", "the kubeconfig has no current-context; choose one")
        for context in self.contexts:
            if context.name == wanted:
                return context
        raise KubeconfigError("context", f"no context named {wanted!r} in the kubeconfig")

    def credentials(self, name: str | None) -> dict:
        """Server and credentials of one context (the dict stored encrypted)."""
        context = self.context(name)
        cluster = self._clusters[context.cluster]
        user = self._users.get(context.user, {})
        return {
            "context": context.name,
            "server": context.server,
            "namespace": context.namespace,
            "ca_data": cluster.get("certificate-authority-data"),
            "insecure": bool(cluster.get("insecure-skip-tls-verify", False)),
            # kubectl connects to the server address and checks the certificate against this.
            "tls_server_name": cluster.get("tls-server-name"),
            "token": user.get("token"),
            "client_cert_data": user.get("client-certificate-data"),
            "client_key_data": user.get("client-key-data"),
        }


class _GuardedLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases and documents with too many nodes."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise KubeconfigError("kubeconfig", "YAML aliases (*name) are not allowed")
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise KubeconfigError("kubeconfig", "YAML anchors (&name) are not allowed")
        self._nodes += 1
        if self._nodes > settings.KUBECONFIG_MAX_NODES:
            raise KubeconfigError("kubeconfig", "the YAML document is too large (too many nodes)")
        return super().compose_node(parent, index)


def _load_yaml(raw: bytes | str) -> object:
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > settings.KUBECONFIG_MAX_BYTES:
        raise KubeconfigError(
            "kubeconfig",
            f"the file is {len(data)} bytes; the limit is {settings.KUBECONFIG_MAX_BYTES}",
        )
    if not data.strip():
        raise KubeconfigError("kubeconfig", "the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KubeconfigError("kubeconfig", "the file is not UTF-8 text") from exc
    if "\x00" in text:
        before = text[: text.index("\x00")]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        raise KubeconfigError(
            "kubeconfig",
            f"contains a NUL character at line {line}, column {column}; a kubeconfig is "
            "plain YAML text (was a binary file chosen, or the paste damaged?)",
        )
    loader = None
    try:
        # The reader checks the characters as it is built: inside the try.
        loader = _GuardedLoader(text)
        return loader.get_single_data()
    except RecursionError as exc:
        raise KubeconfigError("kubeconfig", "the YAML document is nested too deeply") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise KubeconfigError("kubeconfig", f"not valid YAML{where}: {problem}") from exc
    finally:
        if loader is not None:
            loader.dispose()


def _named_entries(doc: dict, section: str, inner: str) -> dict[str, tuple[str, dict]]:
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise KubeconfigError(section, "must be a list")
    found: dict[str, tuple[str, dict]] = {}
    for index, entry in enumerate(entries):
        where = f"{section}[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise KubeconfigError(f"{where}.name", "every entry needs a name")
        body = entry.get(inner)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise KubeconfigError(f"{where}.{inner}", "must be a mapping")
        found[entry["name"]] = (f"{where}.{inner}", body)
    return found


def _check_b64(where: str, value: object) -> None:
    if not isinstance(value, str):
        raise KubeconfigError(where, "must be a base64 string")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KubeconfigError(where, "is not valid base64") from exc


def _pem(where: str, value: object, what: str) -> bytes:
    """The decoded bytes of a *-data field, which must be PEM text ("-----BEGIN ...")."""
    _check_b64(where, value)
    data = base64.b64decode(value)
    if not data.lstrip().startswith(b"-----BEGIN "):
        raise KubeconfigError(
            where,
            f"must be a base64-encoded PEM {what} (text starting with '-----BEGIN'); a binary "
            "(DER) file can be converted with `openssl x509 -inform der -outform pem`",
        )
    return data


def _check_certificates(where: str, value: object) -> None:
    data = _pem(where, value, "certificate")
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise KubeconfigError(
            where, f"is not a readable PEM X.509 certificate ({exc}); paste the whole file"
        ) from exc


def _check_private_key(where: str, value: object) -> None:
    data = _pem(where, value, "private key")
    try:
        load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise KubeconfigError(
            where, "the private key is encrypted; a kubeconfig needs an unencrypted key"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KubeconfigError(
            where, "is not a readable PEM private key (RSA, EC or Ed25519)"
        ) from exc


def _printable_problem(value: str) -> str | None:
    """Why a value sent in an HTTP header or URL is unusable there, or None."""
    for index, char in enumerate(value):
        if char.isspace() or not char.isprintable():
            return f"contains a space or control character ({char!r}) at position {index + 1}"
        if not char.isascii():
            return f"contains a non-ASCII character at position {index + 1}"
    return None


def _check_user(where: str, user: dict) -> None:
    for key in user:
        if key in _FORBIDDEN_USER_FIELDS:
            raise KubeconfigError(f"{where}.{key}", _FORBIDDEN_USER_FIELDS[key])
        if key not in _ALLOWED_USER_FIELDS:
            raise KubeconfigError(f"{where}.{key}", "unsupported field")
    if "token" in user:
        if not isinstance(user["token"], str):
            raise KubeconfigError(f"{where}.token", "must be a string")
        # The token travels in an HTTP header: a line break there would be a 500 on every use.
        if problem := _printable_problem(user["token"]):
            raise KubeconfigError(
                f"{where}.token", f"{problem}; a token is printable ASCII on one line"
            )
    if "client-certificate-data" in user:
        _check_certificates(f"{where}.client-certificate-data", user["client-certificate-data"])
    if "client-key-data" in user:
        _check_private_key(f"{where}.client-key-data", user["client-key-data"])
    if ("client-certificate-data" in user) != ("client-key-data" in user):
        raise KubeconfigError(
            where, "client-certificate-data and client-key-data must be given together"
        )


def _check_cluster(where: str, cluster: dict) -> None:
    for key in cluster:
        if key in _FORBIDDEN_CLUSTER_FIELDS:
            raise KubeconfigError(f"{where}.{key}", _FORBIDDEN_CLUSTER_FIELDS[key])
        if key not in _ALLOWED_CLUSTER_FIELDS:
            raise KubeconfigError(f"{where}.{key}", "unsupported field")
    _check_server(f"{where}.server", cluster.get("server"))
    if "certificate-authority-data" in cluster:
        _check_certificates(
            f"{where}.certificate-authority-data", cluster["certificate-authority-data"]
        )
    if "tls-server-name" in cluster:
        name = cluster["tls-server-name"]
        if (
            not isinstance(name, str)
            or len(name) > CONTEXT_NAME_MAX
            or not _TLS_SERVER_NAME.fullmatch(name)
        ):
            raise KubeconfigError(
                f"{where}.tls-server-name",
                "must be a host name (e.g. kubernetes.default.svc) as a string",
            )
    if not isinstance(cluster.get("insecure-skip-tls-verify", False), bool):
        raise KubeconfigError(f"{where}.insecure-skip-tls-verify", "must be true or false")


def _check_server(where: str, server: object) -> None:
    example = "e.g. https://203.0.113.10:6443"
    if not isinstance(server, str) or not server:
        raise KubeconfigError(where, "the API server address is missing")
    if len(server) > SERVER_MAX:
        raise KubeconfigError(where, f"must be at most {SERVER_MAX} characters")
    if problem := _printable_problem(server):
        raise KubeconfigError(where, f"{problem}; {example}")
    try:
        parts = urlsplit(server)
        port = parts.port
    except ValueError as exc:
        raise KubeconfigError(where, f"is not a valid URL ({exc}); {example}") from exc
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise KubeconfigError(where, f"must be an http:// or https:// URL; {example}")
    if port == 0:
        raise KubeconfigError(where, f"the port must be from 1 to 65535; {example}")


def _auth_kind(user: dict) -> str:
    if user.get("token"):
        return "token"
    if user.get("client-certificate-data"):
        return "client certificate"
    return "none"


def parse_kubeconfig(raw: bytes | str) -> Kubeconfig:
    """Validate a kubeconfig completely; raise KubeconfigError naming the first bad field."""
    doc = _load_yaml(raw)
    if not isinstance(doc, dict):
        raise KubeconfigError("kubeconfig", "must be a YAML mapping with clusters, users, contexts")
    clusters = _named_entries(doc, "clusters", "cluster")
    users = _named_entries(doc, "users", "user")
    contexts = _named_entries(doc, "contexts", "context")
    # Every entry is checked, used or not: a file with a plugin anywhere is refused whole.
    for where, body in users.values():
        _check_user(where, body)
    for where, body in clusters.values():
        _check_cluster(where, body)
    if not contexts:
        raise KubeconfigError("contexts", "the kubeconfig has no contexts")
    previews = []
    for name, (where, body) in contexts.items():
        if len(name) > CONTEXT_NAME_MAX:
            entry = where.rsplit(".", 1)[0]
            raise KubeconfigError(f"{entry}.name", f"must be at most {CONTEXT_NAME_MAX} characters")
        cluster_name = body.get("cluster")
        user_name = body.get("user") or ""
        if not isinstance(cluster_name, str):
            raise KubeconfigError(
                f"{where}.cluster", "must be the name of an entry in clusters (a string)"
            )
        if cluster_name not in clusters:
            raise KubeconfigError(f"{where}.cluster", f"no cluster named {cluster_name!r}")
        if not isinstance(user_name, str):
            raise KubeconfigError(
                f"{where}.user", "must be the name of an entry in users (a string)"
            )
        if user_name and user_name not in users:
            raise KubeconfigError(f"{where}.user", f"no user named {user_name!r}")
        user = users[user_name][1] if user_name else {}
        namespace = body.get("namespace") or "default"
        if not isinstance(namespace, str):
            raise KubeconfigError(f"{where}.namespace", "must be a string")
        if problem := dns1123_label_problem(namespace):
            raise KubeconfigError(f"{where}.namespace", f"{namespace!r}: {problem}")
        previews.append(
            ContextPreview(
                name=name,
                cluster=cluster_name,
                user=user_name,
                server=clusters[cluster_name][1]["server"],
                namespace=namespace,
                auth=_auth_kind(user),
            )
        )
    current = doc.get("current-context") or ""
    if not isinstance(current, str):
        raise KubeconfigError("current-context", "must be a string")
    if current and current not in contexts:
        raise KubeconfigError("current-context", f"no context named {current!r}")
    return Kubeconfig(
        contexts=previews,
        current_context=current,
        _clusters={name: body for name, (_, body) in clusters.items()},
        _users={name: body for name, (_, body) in users.items()},
    )
