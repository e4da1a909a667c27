"""API token keys: `cp_<prefix>_<secret>`. The prefix (12 hex digits) is not secret and finds
the stored row; only a SHA-256 digest of the whole key is kept."""

import hashlib
import hmac
import re
import secrets

_KEY = re.compile(r"^cp_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


def key_make() -> tuple[str, str]:
    """A new key and its prefix."""
    prefix = secrets.token_hex(6)
    return f"cp_{prefix}_{secrets.token_urlsafe(32)}", prefix


def key_prefix(key: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    match = _KEY.match(key)
    return match.group(1) if match else None


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(key: str, digest: str) -> bool:
    return hmac.compare_digest(key_digest(key), digest)
