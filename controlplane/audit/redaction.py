"""What reaches the audit log: secret-looking parameters removed, and text made storable.

PostgreSQL refuses NUL characters in text and jsonb, so a request carrying one (a fuzzer, an
attacker) would turn its own audit row into a 500; they are stored as the visible "\\x00".
"""

import re

_SECRET_KEY = re.compile(
    r"(?i)(token|password|passwd|secret|credential|kubeconfig|private|key[-_]?data|api[-_]?key|"
    r"authorization|cert(ificate)?[-_]?data)"
)
REDACTED = "[REDACTED]"


def storable(value):
    """`value` with every NUL in its strings (keys included) written as "\\x00"."""
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {storable(str(key)): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def redact_parameters(value):
    if isinstance(value, dict):
        return {
            storable(str(key)): REDACTED
            if _SECRET_KEY.search(str(key))
            else redact_parameters(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_parameters(item) for item in value]
    return storable(value)
