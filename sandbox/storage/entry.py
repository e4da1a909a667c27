"""A stored object with its serialized JSON cached: objects never change once stored, so lists,
watches, Tables and the state file join cached bytes instead of re-encoding them."""

from __future__ import annotations

import json


def dumps(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Entry:
    __slots__ = ("_meta_raw", "_raw", "obj")

    def __init__(self, obj: dict) -> None:
        self.obj = obj
        self._raw: bytes | None = None
        self._meta_raw: bytes | None = None

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = dumps(self.obj)
        return self._raw

    @property
    def meta_raw(self) -> bytes:
        if self._meta_raw is None:
            self._meta_raw = dumps(self.obj.get("metadata", {}))
        return self._meta_raw
