"""`continue` tokens for paged lists: the resourceVersion of the first page and the last key
returned, so the next page resumes after that key."""

from __future__ import annotations

import base64
import json

from sandbox.machinery.errors import ApiError


def encode_continue(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"v": "sandbox/1", "rv": rv, "start": list(last)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError):
        raise ApiError.bad_request("continue key is not valid: incorrect encoded start") from None
