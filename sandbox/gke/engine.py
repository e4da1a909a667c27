"""Clusters, node pools and the long-running operations that change them.

Every mutation answers at once with an Operation (PENDING), which runs as an asyncio task:
RUNNING after a third of `operation_seconds`, the work itself (starting or stopping the
backing sandbox cluster, adding or removing nodes), then DONE when the time is up, with
`error` set when the work failed. One operation at a time per cluster, as GKE: another
mutation meanwhile is FAILED_PRECONDITION.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from pathlib import Path
from typing import Any

from sandbox.machinery.util import rfc3339

from . import resources
from .auth import TokenService
from .backing import BackingCluster, apply_node_change, plan_nodes, start_backing
from .errors import GoogleError
from .persistence import state_restore, state_write
from .reads import EngineReads, _public

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # project, location, cluster name


class Engine(EngineReads):
    def __init__(
        self,
        *,
        tokens: TokenService,
        backing_config: Any,
        operation_seconds: float = 6.0,
        state: Path | None = None,
    ) -> None:
        self.tokens = tokens
        self.backing_config = backing_config
        self.operation_seconds = operation_seconds
        self.state = state
        self.base_url = ""
        self.clusters: dict[Key, dict] = {}
        self.backing: dict[Key, BackingCluster] = {}
        self.operations: dict[str, dict] = {}
        self._busy: dict[Key, str] = {}  # cluster -> the operation running on it
        self._tasks: set[asyncio.Task] = set()

    # ---- operations ----

    def _begin(self, key: Key, op_type: str, target: str, work) -> dict:
        running = self._busy.get(key)
        if running is not None:
            raise GoogleError(
                "FAILED_PRECONDITION", f"Cluster is running incompatible operation {running}."
            )
        project, location, _ = key
        name = f"operation-{int(time.time() * 1000)}-{secrets.token_hex(4)}"
        op = {
            "name": name,
            "zone": location,
            "location": location,
            "operationType": op_type,
            "status": "PENDING",
            "selfLink": self._self_link(project, location, "operations", name),
            "targetLink": self._self_link(project, location, target),
            "startTime": rfc3339(),
            "progress": {"status": "PENDING", "metrics": []},
            "_project": project,
        }
        self.operations[name] = op
        self._busy[key] = name
        task = asyncio.create_task(self._run(key, op, work), name=f"gke-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.save()
        return _public(op)

    def _progress(self, op: dict, done: int, total: int) -> None:
        op["progress"] = {
            "status": op["status"],
            "metrics": [
                {"name": "NODES_DONE", "intValue": str(done)},
                {"name": "NODES_TOTAL", "intValue": str(total)},
            ],
        }

    async def _run(self, key: Key, op: dict, work) -> None:
        try:
            await asyncio.sleep(self.operation_seconds / 3)
            op["status"] = "RUNNING"
            op["progress"]["status"] = "RUNNING"
            # the work spends about a third (nodes come one by one), the rest is settling
            await work(op)
            await asyncio.sleep(self.operation_seconds / 3)
        except GoogleError as exc:
            op["error"] = exc.rpc_status()
            op["statusMessage"] = exc.message
        except asyncio.CancelledError:
            op["error"] = {
                "code": 10,
                "message": "The operation was aborted: the endpoint stopped.",
            }
            raise
        except Exception as exc:
            log.exception("operation %s failed", op["name"])
            op["error"] = {"code": 13, "message": f"Internal error: {type(exc).__name__}: {exc}"}
        finally:
            op["status"] = "DONE"
            op["progress"]["status"] = "DONE"
            op["endTime"] = rfc3339()
            self._busy.pop(key, None)
            self.save()

    # ---- mutations ----

    def create_cluster(self, project: str, location: str, body: dict) -> dict:
        zones = resources.check_location(location)
        resource = resources.cluster(
            body.get("cluster"), project=project, location=location, zones=zones
        )
        key = (project, location, resource["name"])
        if key in self.clusters:
            raise GoogleError(
                "ALREADY_EXISTS",
                f"Already exists: projects/{project}/locations/{location}/clusters/"
                f"{resource['name']}.",
            )
        self.clusters[key] = resource

        async def work(op: dict) -> None:
            await self._start_backing(key)
            await self._sync(key, op)
            resource["status"] = "RUNNING"
            for pool in resource["_pools"].values():
                pool["status"] = "RUNNING"

        try:
            return self._begin(key, "CREATE_CLUSTER", f"clusters/{resource['name']}", work)
        except GoogleError:
            del self.clusters[key]
            raise

    async def _start_backing(self, key: Key, port: int = 0) -> BackingCluster:
        state = None
        if self.state is not None:
            state = self.state.parent / f"{self.state.name}.d" / ("-".join(key) + ".json")
        backing = await start_backing(
            tokens=self.tokens, config=self.backing_config, state=state, port=port
        )
        self.backing[key] = backing
        self.clusters[key]["_port"] = backing.port
        return backing

    async def _sync(self, key: Key, op: dict) -> None:
        """Add and remove nodes one by one over a third of the operation's time, counting
        them in the operation's progress as GKE counts instance-group changes."""
        backing = self.backing.get(key)
        if backing is None:
            return
        pools = list(self.clusters[key]["_pools"].values())
        remove, add = plan_nodes(backing, cluster=key[2], pools=pools)
        changes = [*remove, *add]
        step = self.operation_seconds / 3 / max(len(changes), 1)
        self._progress(op, 0, len(changes))
        for done, change in enumerate(changes, start=1):
            apply_node_change(backing, change)
            self._progress(op, done, len(changes))
            await asyncio.sleep(step)

    def delete_cluster(self, project: str, location: str, name: str) -> dict:
        resource = self._cluster(project, location, name)
        key = (project, location, name)

        async def work(op: dict) -> None:
            resource["status"] = "STOPPING"
            backing = self.backing.pop(key, None)
            if backing is not None:
                await backing.stop()
            self.clusters.pop(key, None)

        return self._begin(key, "DELETE_CLUSTER", f"clusters/{name}", work)

    def _pool_op(self, project, location, cluster, op_type, target, change) -> dict:
        resource = self._cluster(project, location, cluster)
        key = (project, location, cluster)
        if resource["status"] != "RUNNING" and key not in self._busy:
            raise GoogleError(
                "FAILED_PRECONDITION",
                f"Cluster {cluster} is not running (status {resource['status']}).",
            )

        async def work(op: dict) -> None:
            change(resource)
            await self._sync(key, op)

        return self._begin(key, op_type, f"clusters/{cluster}/{target}", work)

    def create_pool(self, project: str, location: str, cluster: str, body: dict) -> dict:
        resource = self._cluster(project, location, cluster)
        zones = tuple(resource["locations"])
        pool = resources.node_pool(
            body.get("nodePool"), field="node_pool", project=project, zones=zones
        )
        if pool["name"] in resource["_pools"]:
            raise GoogleError(
                "ALREADY_EXISTS",
                f"Already exists: projects/{project}/locations/{location}/clusters/{cluster}"
                f"/nodePools/{pool['name']}.",
            )

        def change(res: dict) -> None:
            pool["status"] = "RUNNING"

        result = self._pool_op(
            project, location, cluster, "CREATE_NODE_POOL", f"nodePools/{pool['name']}", change
        )
        resource["_pools"][pool["name"]] = pool
        return result

    def delete_pool(self, project: str, location: str, cluster: str, name: str) -> dict:
        pool = self._pool(project, location, cluster, name)

        def change(res: dict) -> None:
            res["_pools"].pop(name, None)

        result = self._pool_op(
            project, location, cluster, "DELETE_NODE_POOL", f"nodePools/{name}", change
        )
        pool["status"] = "STOPPING"
        return result

    def set_size(self, project: str, location: str, cluster: str, name: str, body: dict) -> dict:
        pool = self._pool(project, location, cluster, name)
        count = resources.node_count(body.get("nodeCount"))

        def change(res: dict) -> None:
            pool["_per_zone"] = count
            pool["status"] = "RUNNING"

        result = self._pool_op(
            project, location, cluster, "SET_NODE_POOL_SIZE", f"nodePools/{name}", change
        )
        pool["status"] = "RECONCILING"
        return result

    def set_autoscaling(self, project, location, cluster, name, body: dict) -> dict:
        pool = self._pool(project, location, cluster, name)
        autoscaling = resources.autoscaling(body.get("autoscaling"))

        def change(res: dict) -> None:
            pool["autoscaling"] = autoscaling
            if autoscaling:
                # Outside the new bounds the autoscaler moves the pool inside them first.
                low, high = autoscaling["minNodeCount"], autoscaling["maxNodeCount"]
                pool["_per_zone"] = min(max(pool["_per_zone"], low), high)
            pool["status"] = "RUNNING"

        result = self._pool_op(
            project, location, cluster, "SET_NODE_POOL_SIZE", f"nodePools/{name}", change
        )
        pool["status"] = "RECONCILING"
        return result

    # ---- state ----

    def save(self) -> None:
        state_write(self)

    async def restore(self) -> None:
        """Read --state and start every cluster's backing sandbox again, on its old port."""
        await state_restore(self)

    def start_autoscaler(self, *, interval: float, scale_down_seconds: float) -> None:
        from .autoscaler import Autoscaler

        scaler = Autoscaler(self, interval=interval, scale_down_seconds=scale_down_seconds)
        task = asyncio.create_task(scaler.run(), name="gke-autoscaler")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.save()
        for backing in list(self.backing.values()):
            await backing.stop()
        self.backing.clear()
