"""Log redaction: a last line of defence so tokens and keys never reach a log line."""

import logging
import re

_PATTERNS = [
    # One-time password links carry their token in the path.
    (re.compile(r"(/accounts/set-password/)[^/\s]+/[^/\s]+/"), r"\1[REDACTED]/"),
    # Authorization headers and bearer tokens.
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|token|basic)\s+[^\s'\",]+"),
        r"\1\2 [REDACTED]",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [REDACTED]"),
    # key: value pairs whose key names a secret (kubeconfig fields, form fields, JSON).
    (
        re.compile(
            r"(?i)(['\"]?(?:token|password|client-key-data|client_key_data|secret|api[_-]?key)"
            r"['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"
        ),
        r"\1[REDACTED]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
