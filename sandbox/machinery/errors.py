"""ApiError: an error the API server reports as a metav1.Status."""

from __future__ import annotations

from typing import Any

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def qualified(resource: Any) -> str:
    """'pods' for the core group, 'deployments.apps' otherwise, as messages spell it."""
    return getattr(resource, "key", None) or str(resource)


def _group_and_plural(resource: Any) -> tuple[str, str]:
    if hasattr(resource, "plural"):
        return resource.group, resource.plural
    plural, _, group = str(resource).partition(".")
    return group, plural


class ApiError(Exception):
    """An API failure with the fields of a metav1.Status."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.list_continue: str | None = None  # a 410 on a list may offer a fresh token

    def status(self) -> dict:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {"continue": self.list_continue} if self.list_continue else {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body

    def __repr__(self) -> str:
        return f"ApiError({self.code}, {self.reason!r}, {self.message!r})"

    # ---- constructors worded like the real API server ----

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def not_found(cls, resource: Any, name: str) -> ApiError:
        group, plural = _group_and_plural(resource)
        return cls(
            404,
            "NotFound",
            f'{qualified(resource)} "{name}" not found',
            {"name": name, "group": group, "kind": plural}
            if group
            else {"name": name, "kind": plural},
        )

    @classmethod
    def already_exists(cls, resource: Any, name: str) -> ApiError:
        group, plural = _group_and_plural(resource)
        details = {"name": name, "kind": plural}
        if group:
            details["group"] = group
        return cls(409, "AlreadyExists", f'{qualified(resource)} "{name}" already exists', details)

    @classmethod
    def conflict(cls, resource: Any, name: str, why: str | None = None) -> ApiError:
        group, plural = _group_and_plural(resource)
        details = {"name": name, "kind": plural}
        if group:
            details["group"] = group
        why = why or (
            "the object has been modified; please apply your changes to the latest version "
            "and try again"
        )
        return cls(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {qualified(resource)} "{name}": {why}',
            details,
        )

    @classmethod
    def invalid(cls, kind: str, name: str, causes: list[dict], group: str = "") -> ApiError:
        """causes: [{"field": "spec.replicas", "reason": "FieldValueInvalid", "message": ...}]."""
        qualified_kind = f"{kind}.{group}" if group else kind
        if len(causes) == 1:
            summary = f"{causes[0]['field']}: {causes[0]['message']}"
        else:
            summary = "[" + ", ".join(f"{c['field']}: {c['message']}" for c in causes) + "]"
        details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
        if group:
            details["group"] = group
        return cls(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)

    @classmethod
    def forbidden(cls, message: str, details: dict | None = None) -> ApiError:
        return cls(403, "Forbidden", message, details)

    @classmethod
    def expired(cls, message: str) -> ApiError:
        return cls(410, "Expired", message)

    @classmethod
    def unavailable(cls, message: str) -> ApiError:
        return cls(503, "ServiceUnavailable", message)

    @classmethod
    def method_not_allowed(
        cls, message: str = "the server does not allow this method on the requested resource"
    ) -> ApiError:
        return cls(405, "MethodNotAllowed", message)


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict:
    return {"reason": reason, "message": message, "field": field}


def required(field: str, detail: str = "") -> dict:
    return cause(field, "Required value" + (f": {detail}" if detail else ""), "FieldValueRequired")


def invalid_value(field: str, value: Any, detail: str) -> dict:
    return cause(field, f"Invalid value: {_go_value(value)}: {detail}", "FieldValueInvalid")


def unsupported(field: str, value: Any, supported: list[str]) -> dict:
    vals = ", ".join(f'"{s}"' for s in supported)
    return cause(
        field,
        f"Unsupported value: {_go_value(value)}: supported values: {vals}",
        "FieldValueNotSupported",
    )


def duplicate(field: str, value: Any) -> dict:
    return cause(field, f"Duplicate value: {_go_value(value)}", "FieldValueDuplicate")


def forbidden_field(field: str, detail: str) -> dict:
    return cause(field, f"Forbidden: {detail}", "FieldValueForbidden")


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)
