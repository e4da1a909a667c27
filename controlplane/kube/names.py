"""Kubernetes' own name rules, checked before a name reaches a path, a query or the audit.

A name such as "." or ".." in a URL path would otherwise be normalised by the HTTP client into
another resource's path (".../deployments/./scale" is ".../deployments/scale"). Messages
follow the API server's wording so a user sees the same reason kubectl would give.
"""

import re

from django.core.exceptions import ValidationError

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

LABEL_MAX = 63
SUBDOMAIN_MAX = 253


def dns1123_label_problem(value: object) -> str | None:
    """Why `value` is not a DNS-1123 label (namespaces, Services), or None when it is."""
    if not isinstance(value, str) or not value:
        return "a name is required"
    if len(value) > LABEL_MAX:
        return f"must be no more than {LABEL_MAX} characters (got {len(value)})"
    if not _LABEL.fullmatch(value):
        return (
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name')"
        )
    return None


def dns1123_subdomain_problem(value: object) -> str | None:
    """Why `value` is not a DNS-1123 subdomain (Deployments, Jobs, ...), or None."""
    if not isinstance(value, str) or not value:
        return "a name is required"
    if len(value) > SUBDOMAIN_MAX:
        return f"must be no more than {SUBDOMAIN_MAX} characters (got {len(value)})"
    if not _SUBDOMAIN.fullmatch(value):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'example.com')"
        )
    return None


def validate_object_names(*, namespace: str | None = None, name: str | None = None) -> None:
    """Raise ValidationError naming each path field that Kubernetes would refuse."""
    errors = {}
    if namespace is not None and (problem := dns1123_label_problem(namespace)):
        errors["namespace"] = [f"{namespace!r}: {problem}"]
    if name is not None and (problem := dns1123_subdomain_problem(name)):
        errors["name"] = [f"{name!r}: {problem}"]
    if errors:
        raise ValidationError(errors)
