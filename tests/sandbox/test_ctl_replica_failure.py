"""A ReplicaSet that cannot create pods reports ReplicaFailure, and its Deployment says so."""

from __future__ import annotations

import asyncio

from sandbox.machinery.errors import ApiError
from sandbox.machinery.util import get_condition
from sandbox.testing import running_cluster, until


def _deployment():
    return {
        "metadata": {"name": "web", "namespace": "ml"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            },
        },
    }


def _status(api):
    return api.get("deployments.apps", "ml", "web").get("status")


def test_pod_creation_errors_surface_as_replica_failure_until_pods_can_be_created():
    async def scenario():
        async with running_cluster(nodes=1) as cluster:
            store = cluster.api
            real_create = store.create
            quota = {"exceeded": True}

            def create(res, obj, **kwargs):
                # What an exhausted ResourceQuota answers; the sandbox has no quotas of its own.
                if res == "pods" and quota["exceeded"]:
                    raise ApiError.forbidden(
                        'pods "web-x" is forbidden: exceeded quota: compute, requested: pods=1, '
                        "used: pods=10, limited: pods=10"
                    )
                return real_create(res, obj, **kwargs)

            store.create = create
            store.create("namespaces", {"metadata": {"name": "ml"}})
            store.create("deployments.apps", _deployment())

            failing = await until(
                lambda: get_condition(
                    store.get("deployments.apps", "ml", "web").get("status"), "ReplicaFailure"
                ),
                "ReplicaFailure on the Deployment",
            )
            (rs,) = store.list("replicasets.apps", "ml")
            rs_failure = get_condition(rs.get("status"), "ReplicaFailure")
            quota["exceeded"] = False
            await until(
                lambda: (
                    store.get("deployments.apps", "ml", "web")["status"].get("availableReplicas")
                    == 2
                ),
                "2 available replicas",
            )
            return failing, rs_failure, store.get("deployments.apps", "ml", "web")

    failing, rs_failure, recovered = asyncio.run(scenario())

    assert (failing["status"], failing["reason"]) == ("True", "FailedCreate")
    assert "exceeded quota" in failing["message"]
    assert rs_failure["reason"] == "FailedCreate"
    assert get_condition(recovered.get("status"), "ReplicaFailure") is None
