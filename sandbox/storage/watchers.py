"""A live watch on one resource: the store offers it every committed change, and it pushes
the ones its selectors match, as the watch cache's per-watcher filter does."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.machinery.selectors import Matcher
from sandbox.storage.entry import Entry


class Watcher:
    __slots__ = ("field_match", "key", "label_match", "namespace", "push")

    def __init__(
        self,
        key: str,
        namespace: str | None,
        label_match: Matcher,
        field_match: Matcher,
        push: Callable[[tuple[str, Entry]], None],
    ) -> None:
        self.key = key
        self.namespace = namespace
        self.label_match = label_match
        self.field_match = field_match
        self.push = push

    def matches(self, obj: dict) -> bool:
        return self.label_match(obj) and self.field_match(obj)

    def offer(self, etype: str, entry: Entry, old: dict | None) -> None:
        obj = entry.obj
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return
        now = self.matches(obj)
        before = old is not None and self.matches(old)
        if etype == "DELETED":
            if now:
                self.push(("DELETED", entry))
        elif etype == "ADDED":
            if now:
                self.push(("ADDED", entry))
        elif now and before:
            self.push(("MODIFIED", entry))
        elif now:
            self.push(("ADDED", entry))
        elif before:
            # the object left the selection: watchers see it go, as with a real server
            self.push(("DELETED", entry))
