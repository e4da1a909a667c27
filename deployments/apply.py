""" "Apply YAML": parsing pasted manifests safely, and describing what applying them changes.

Pure functions (no cluster, no database). The YAML is size-checked before parsing and read by
a safe loader that refuses anchors and aliases and caps the node count, as kubeconfigs are
(controlplane/clusters/kubeconfig.py). Every refusal names the document (0-based index, kind
and name when known) and the field.
"""

from __future__ import annotations

import copy
import difflib

import yaml
from django.core.exceptions import ValidationError

from controlplane.audit.redaction import redact_parameters
from controlplane.kube.apply import KINDS
from controlplane.kube.names import dns1123_label_problem, dns1123_subdomain_problem

MAX_BYTES = 256 * 1024
MAX_DOCUMENTS = 20
MAX_NODES = 20_000

ALLOWED = ", ".join(sorted({f"{kind} ({version})" for version, kind in KINDS}))


class ManifestError(ValueError):
    """One refused document: `document` is its 0-based index (None: the whole input)."""

    def __init__(self, message: str, *, document: int | None = None, field: str = "", what=""):
        self.document = document
        self.field = field
        self.what = what  # "Deployment iris", when known
        self.message = message
        super().__init__(self.describe())

    def describe(self) -> str:
        where = "" if self.document is None else f"document {self.document}"
        if self.what:
            where += f" ({self.what})"
        if self.field:
            where += f" {self.field}" if where else self.field
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {
            "document": self.document,
            "object": self.what,
            "field": self.field,
            "message": self.message,
        }


def invalid(errors: list[ManifestError]) -> ValidationError:
    """The refusal as the API answers it: {"yaml": ["document 1 (Job x) spec...: ..."]}."""
    return ValidationError({"yaml": [error.describe() for error in errors]})


class _Loader(yaml.SafeLoader):
    """SafeLoader without anchors or aliases, and with a node budget over all documents."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0
        self.document = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise ManifestError("YAML aliases (*name) are not allowed", document=self.document)
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise ManifestError("YAML anchors (&name) are not allowed", document=self.document)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise ManifestError(
                f"too many YAML nodes (the limit is {MAX_NODES})", document=self.document
            )
        return super().compose_node(parent, index)


def _documents(text: str) -> list[object]:
    data = text.encode("utf-8", "replace")
    if len(data) > MAX_BYTES:
        raise ManifestError(f"the YAML is {len(data)} bytes; the limit is {MAX_BYTES}")
    if not text.strip():
        raise ManifestError("the YAML is empty")
    if "\x00" in text:
        raise ManifestError("the YAML contains a NUL character (a binary file?)")
    loader = None
    documents: list[object] = []
    try:
        # The reader checks the characters as it is built: inside the try.
        loader = _Loader(text)
        while loader.check_node():
            loader.document = len(documents)
            if len(documents) >= MAX_DOCUMENTS:
                raise ManifestError(f"more than {MAX_DOCUMENTS} documents", document=len(documents))
            documents.append(loader.construct_document(loader.get_node()))
    except RecursionError as exc:
        raise ManifestError("nested too deeply", document=len(documents)) from exc
    except yaml.reader.ReaderError as exc:
        # Raised while the reader is built, before any document: it says where, in characters.
        raise ManifestError(f"not valid YAML: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise ManifestError(f"not valid YAML{where}: {problem}", document=len(documents)) from exc
    finally:
        if loader is not None:
            loader.dispose()
    # "---" at the end, or between two separators, makes an empty (None) document: skipped,
    # as kubectl skips it, but indices keep counting what the user sees.
    return documents


def _check(index: int, doc: object, namespace: str) -> tuple[dict | None, list[ManifestError]]:
    if doc is None:
        return None, []
    if not isinstance(doc, dict):
        return None, [ManifestError("must be a mapping (an object)", document=index)]
    errors = []
    kind, version = doc.get("kind"), doc.get("apiVersion")
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    what = " ".join(str(p) for p in (kind, name) if isinstance(p, str) and p)

    def refuse(field: str, message: str) -> None:
        errors.append(ManifestError(message, document=index, field=field, what=what))

    if not isinstance(version, str) or not version:
        refuse("apiVersion", "is required")
    if not isinstance(kind, str) or not kind:
        refuse("kind", "is required")
    if not errors and (version, kind) not in KINDS:
        refuse("kind", f"{kind} ({version}) cannot be applied here; allowed: {ALLOWED}")
    if not isinstance(meta, dict):
        refuse("metadata", "is required and must be a mapping")
        return None, errors
    if not isinstance(name, str) or not name:
        refuse("metadata.name", "is required")
    elif problem := (
        dns1123_label_problem(name) if kind == "Service" else dns1123_subdomain_problem(name)
    ):
        refuse("metadata.name", problem)
    own = meta.get("namespace")
    if own is not None and own != namespace:
        refuse(
            "metadata.namespace",
            f"is {own!r} but the request applies to namespace {namespace!r}",
        )
    if not errors and (secret := _secret_looking(doc, "")):
        # The audit log keeps the documents with such fields redacted, and the worker applies
        # what the audit log keeps: refused rather than applied with "[REDACTED]" in them.
        refuse(
            secret,
            "a field named like a secret cannot be applied through the control "
            "plane (it would be redacted from the audit log); apply it with kubectl",
        )
    if errors:
        return None, errors
    body = copy.deepcopy(doc)
    body["metadata"]["namespace"] = namespace
    return body, []


def _secret_looking(value: object, path: str) -> str:
    """The path of the first key the audit log would redact, or ""."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if redact_parameters({key: None}) != {key: None}:
                return here
            if found := _secret_looking(item, here):
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := _secret_looking(item, f"{path}[{index}]"):
                return found
    return ""


def manifests_namespace(*, text: object) -> str:
    """The namespace the first document names, or "" (also when the YAML is refused: the
    full parse reports that)."""
    if not isinstance(text, str):
        return ""
    try:
        documents = _documents(text)
    except ManifestError:
        return ""
    for doc in documents:
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        own = meta.get("namespace") if isinstance(meta, dict) else None
        if isinstance(own, str) and own:
            return own
    return ""


def manifests_parse(*, text: object, namespace: str) -> list[dict]:
    """The documents of `text`, each checked and placed in `namespace` (ValidationError on
    the "yaml" field listing every refused document)."""
    if not isinstance(text, str):
        raise invalid([ManifestError("must be a string of YAML")])
    try:
        documents = _documents(text)
    except ManifestError as error:
        raise invalid([error]) from None
    bodies, errors, seen = [], [], {}
    for index, doc in enumerate(documents):
        body, problems = _check(index, doc, namespace)
        errors += problems
        if body is None:
            continue
        key = (body["kind"], body["metadata"]["name"])
        if key in seen:
            errors.append(
                ManifestError(
                    f"{key[0]} {key[1]} is also document {seen[key]}",
                    document=index,
                    field="metadata.name",
                    what=f"{key[0]} {key[1]}",
                )
            )
        seen[key] = index
        bodies.append({"document": index, "body": body})
    if errors:
        raise invalid(errors)
    if not bodies:
        raise invalid([ManifestError("no documents to apply")])
    return bodies


# What the server sets, or changes on every write: never part of a diff.
_SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)


def comparable(obj: dict) -> dict:
    """The object without status and server-set metadata."""
    clean = {k: v for k, v in obj.items() if k != "status"}
    meta = dict(clean.get("metadata") or {})
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "deployment.kubernetes.io/revision"
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    clean["metadata"] = meta
    return clean


def _lines(obj: dict) -> list[str]:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def plan_entry(*, live: dict | None, result: dict) -> dict:
    """ "create" (nothing live), "unchanged", or "change" with a unified diff live -> result."""
    if live is None:
        return {"action": "create", "diff": ""}
    before, after = _lines(comparable(live)), _lines(comparable(result))
    if before == after:
        return {"action": "unchanged", "diff": ""}
    diff = difflib.unified_diff(before, after, fromfile="live", tofile="applied")
    return {"action": "change", "diff": "".join(diff)}


def error_fields(*, message: str, causes: list[dict]) -> list[dict]:
    """The fields an API server's refusal names: its causes, or, for a strict decoding error
    (400, no causes), each `unknown field "spec.x"` of its message."""
    found = [
        {"field": c.get("field") or "", "reason": c.get("reason") or "", "message": c["message"]}
        for c in causes
        if c.get("message")
    ]
    if found:
        return found
    marker = 'unknown field "'
    rest, fields = message, []
    while marker in rest:
        rest = rest.split(marker, 1)[1]
        name, _, rest = rest.partition('"')
        fields.append({"field": name, "reason": "FieldValueUnknown", "message": "unknown field"})
    return fields
