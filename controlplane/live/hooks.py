"""Pod event hooks: how a feature app sees every pod change the watcher receives.

The live layer sits below the feature apps and must not import them, yet some of them must act
on a pod's changes as they happen (the logs app keeps the last lines of a pod that goes). An
app registers a function here from its AppConfig.ready(); the watcher (and only the watcher
process: nothing else runs watch streams) calls each one per pods watch event with
(cluster, event_type, obj). A hook runs inside the watch loop, so it must be cheap (decide,
maybe enqueue) and it can never break the loop: whatever it raises is logged and counted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

PodHook = Callable[[str, str, dict], None]

_HOOKS: dict[str, PodHook] = {}
_FAILURES: dict[str, int] = {}
_lock = threading.Lock()


def _name(fn: PodHook) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def pod_hook_register(fn: PodHook) -> None:
    """Add a hook; registering the same function again replaces it (autoreload calls ready()
    again)."""
    with _lock:
        _HOOKS[_name(fn)] = fn


def pod_hook_unregister(fn: PodHook) -> None:
    with _lock:
        _HOOKS.pop(_name(fn), None)


def pod_hook_failures() -> dict[str, int]:
    """How often each hook has raised in this process (its name -> count)."""
    with _lock:
        return dict(_FAILURES)


def pod_hooks_run(*, kind: str, cluster: str, event_type: str, obj: dict) -> None:
    """Called by the watcher for every watch event; only pods events reach the hooks."""
    if kind != "pods" or not _HOOKS:
        return
    for name, fn in list(_HOOKS.items()):
        try:
            fn(cluster, event_type, obj)
        except Exception:
            with _lock:
                _FAILURES[name] = _FAILURES.get(name, 0) + 1
                count = _FAILURES[name]
            log.exception("pod hook %s failed on %s (%d failures so far)", name, event_type, count)
