"""Parameters are stored in the audit log only after anything secret-looking is removed."""

import re

_SECRET_KEY = re.compile(
    r"(?i)(token|password|passwd|secret|credential|kubeconfig|private|key[-_]?data|api[-_]?key|"
    r"authorization|cert(ificate)?[-_]?data)"
)
REDACTED = "[REDACTED]"


def redact_parameters(value):
    if isinstance(value, dict):
        return {
            key: REDACTED if _SECRET_KEY.search(str(key)) else redact_parameters(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_parameters(item) for item in value]
    return value
