"""Scaling a Deployment in the middle of a rollout spreads the change over its ReplicaSets."""

from __future__ import annotations

import asyncio
import copy

from sandbox.testing import running_cluster, until


def _deployment():
    return {
        "metadata": {"name": "web", "namespace": "ml"},
        "spec": {
            "replicas": 10,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2},
            },
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            },
        },
    }


def test_scaling_a_stuck_rollout_adds_replicas_in_proportion_like_the_upstream_docs_example():
    """kubernetes.io "Proportional scaling": 10 replicas, maxSurge 3, maxUnavailable 2, the new
    image cannot be pulled (8 old + 5 new), scale to 15: 3 go to the old RS and 2 to the new."""

    async def scenario():
        async with running_cluster(nodes=3) as cluster:
            store = cluster.api
            cluster.script.missing_images = ["registry.invalid/*"]
            store.create("namespaces", {"metadata": {"name": "ml"}})
            store.create("deployments.apps", _deployment())

            def sizes():
                rss = sorted(
                    store.list("replicasets.apps", "ml"),
                    key=lambda rs: int(
                        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    ),
                )
                return [rs["spec"]["replicas"] for rs in rss]

            await until(
                lambda: (
                    store.get("deployments.apps", "ml", "web")["status"].get("availableReplicas")
                    == 10
                ),
                "10 available replicas",
            )
            d = copy.deepcopy(store.get("deployments.apps", "ml", "web"))
            d["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.invalid/web:2"
            store.update("deployments.apps", d)
            stuck = await until(lambda: sizes() == [8, 5] and sizes(), "8 old and 5 new")

            d = copy.deepcopy(store.get("deployments.apps", "ml", "web"))
            d["spec"]["replicas"] = 15
            store.update("deployments.apps", d)
            scaled = await until(lambda: sum(sizes()) == 18 and sizes(), "18 replicas")
            return stuck, scaled

    stuck, scaled = asyncio.run(scenario())

    assert stuck == [8, 5]
    assert scaled == [11, 7]
