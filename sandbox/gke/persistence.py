"""--state: keys, clusters, pools and operations in one JSON file, written atomically (mode
600); on start every cluster's backing sandbox comes back on its old port."""

from __future__ import annotations

import json
import os
from typing import Any

from .backing import sync_nodes


def state_write(self: Any) -> None:
    if self.state is None:
        return
    data = {
        "keys": self.tokens.to_dict(),
        "clusters": [c for c in self.clusters.values() if c["status"] != "STOPPING"],
        "cluster_keys": [list(k) for k, c in self.clusters.items() if c["status"] != "STOPPING"],
        "operations": list(self.operations.values()),
    }
    tmp = self.state.with_name(self.state.name + ".tmp")
    self.state.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, self.state)


async def state_restore(self: Any) -> None:
    """Read --state and start every cluster's backing sandbox again, on its old port."""
    if self.state is None or not self.state.exists():
        return
    data = json.loads(self.state.read_text())
    self.tokens.load(data.get("keys", {}))
    for op in data.get("operations", []):
        if op["status"] != "DONE":
            op["status"] = "DONE"
            op["error"] = {
                "code": 10,
                "message": "The operation was aborted: the endpoint restarted.",
            }
        self.operations[op["name"]] = op
    for key_list, resource in zip(
        data.get("cluster_keys", []), data.get("clusters", []), strict=True
    ):
        key = (key_list[0], key_list[1], key_list[2])
        for pool in resource["_pools"].values():
            pool["_shape"] = tuple(pool["_shape"])
        self.clusters[key] = resource
        backing = await self._start_backing(key, port=int(resource.get("_port") or 0))
        sync_nodes(backing, cluster=key[2], pools=list(resource["_pools"].values()))
        resource["status"] = "RUNNING"
