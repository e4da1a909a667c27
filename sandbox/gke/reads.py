"""Reads of the local GKE: clusters, node pools and operations in the API's JSON shape (the
private `_fields` of the stored resources left out)."""

from __future__ import annotations

import base64

from . import resources
from .errors import not_found


def _public(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if not k.startswith("_")}


class EngineReads:
    """What the Engine answers without changing anything; its state is the Engine's."""

    clusters: dict
    backing: dict
    operations: dict
    base_url: str

    def _cluster(self, project: str, location: str, name: str) -> dict:
        resources.check_location(location)
        found = self.clusters.get((project, location, name))
        if found is None:
            raise not_found(f"projects/{project}/locations/{location}/clusters/{name}")
        return found

    def _pool(self, project: str, location: str, name: str, pool: str) -> dict:
        found = self._cluster(project, location, name)["_pools"].get(pool)
        if found is None:
            raise not_found(
                f"projects/{project}/locations/{location}/clusters/{name}/nodePools/{pool}"
            )
        return found

    def _self_link(self, project: str, location: str, *rest: str) -> str:
        return "/".join([f"{self.base_url}/v1/projects/{project}/locations/{location}", *rest])

    def pool_json(self, project: str, location: str, cluster: str, pool: dict) -> dict:
        out = _public(pool)
        out["selfLink"] = self._self_link(
            project, location, "clusters", cluster, "nodePools", pool["name"]
        )
        if not out["autoscaling"]:
            del out["autoscaling"]
        return out

    def cluster_json(self, project: str, location: str, resource: dict) -> dict:
        out = _public(resource)
        name = resource["name"]
        pools = [self.pool_json(project, location, name, p) for p in resource["_pools"].values()]
        out["nodePools"] = pools
        # A NodePool has no size field in v1; the cluster's (deprecated) count is the sum.
        out["currentNodeCount"] = sum(
            p["_per_zone"] * len(p["locations"]) for p in resource["_pools"].values()
        )
        out["selfLink"] = self._self_link(project, location, "clusters", name)
        backing = self.backing.get((project, location, name))
        if backing is not None and backing.url:
            out["endpoint"] = backing.url.removeprefix("https://")
            ca = base64.b64encode(backing.tls.ca_pem.encode()).decode()
            out["masterAuth"] = {"clusterCaCertificate": ca}
        return out

    def get_cluster(self, project: str, location: str, name: str) -> dict:
        return self.cluster_json(project, location, self._cluster(project, location, name))

    def list_clusters(self, project: str, location: str) -> dict:
        if location != "-":
            resources.check_location(location)
        items = [
            self.cluster_json(p, loc, c)
            for (p, loc, _), c in sorted(self.clusters.items())
            if p == project and location in ("-", loc)
        ]
        return {"clusters": items} if items else {}

    def get_pool(self, project: str, location: str, cluster: str, pool: str) -> dict:
        return self.pool_json(
            project, location, cluster, self._pool(project, location, cluster, pool)
        )

    def list_pools(self, project: str, location: str, cluster: str) -> dict:
        found = self._cluster(project, location, cluster)
        return {
            "nodePools": [
                self.pool_json(project, location, cluster, p) for p in found["_pools"].values()
            ]
        }

    def get_operation(self, project: str, location: str, name: str) -> dict:
        op = self.operations.get(name)
        if op is None or op["_project"] != project or op["location"] != location:
            raise not_found(f"projects/{project}/locations/{location}/operations/{name}")
        return _public(op)

    def list_operations(self, project: str, location: str) -> dict:
        if location != "-":
            resources.check_location(location)
        ops = [
            _public(op)
            for op in self.operations.values()
            if op["_project"] == project and location in ("-", op["location"])
        ]
        return {"operations": ops} if ops else {}
