"""Events about objects in a Terminating namespace are refused, as kube-apiserver refuses them,
and the refusal names the event."""

from __future__ import annotations

import asyncio
import logging

from sandbox.testing import running_cluster


def test_an_event_in_a_terminating_namespace_is_refused_with_its_name(caplog):
    async def scenario() -> None:
        async with running_cluster(nodes=1, controllers=False) as cluster:
            store = cluster.api
            store.create("namespaces", {"metadata": {"name": "ending"}})
            pod = store.create(
                "pods",
                {
                    "metadata": {"name": "slow", "namespace": "ending"},
                    "spec": {
                        "nodeName": "some-node",
                        "containers": [{"name": "c", "image": "nginx:1.25"}],
                    },
                },
            )
            # the pod bound to a node terminates gracefully, keeping the namespace Terminating
            store.delete("namespaces", None, "ending")
            assert store.get("namespaces", None, "ending")["metadata"]["deletionTimestamp"]
            with caplog.at_level(logging.WARNING, logger="sandbox.machinery.events"):
                store.record_event(pod, reason="Killing", message="Stopping container c",
                                   component="kubelet")  # fmt: skip
            assert store.list("events", "ending") == []

    asyncio.run(scenario())
    [record] = [r for r in caplog.records if r.name == "sandbox.machinery.events"]
    message = record.getMessage()
    assert "{name}" not in message
    assert 'events "slow.' in message
    assert (
        "is forbidden: unable to create new content in namespace ending because it is being "
        "terminated" in message
    )
