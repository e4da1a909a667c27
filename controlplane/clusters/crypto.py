"""Credentials encrypted at rest with Fernet; several keys allow rotation (first one encrypts)."""

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted with any configured key."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.CREDENTIALS_KEYS])


def encrypt_json(value: dict) -> str:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str, *, ttl: int | None = None) -> dict:
    try:
        return json.loads(_fernet().decrypt(token.encode(), ttl=ttl))
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "stored credentials cannot be decrypted with the configured CREDENTIALS_KEY"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt with the current first key."""
    return _fernet().rotate(token.encode()).decode()
