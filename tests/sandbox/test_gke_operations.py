"""Operations of the local GKE endpoint go PENDING -> RUNNING -> DONE, counting the nodes
they add in their progress while they run."""

from __future__ import annotations

import pytest
from google.cloud import container_v1

from sandbox.gke.testing import GkeProcess
from sandbox.testing import wait_for
from tests.sandbox.gke_support import PARENT, wait_done

pytestmark = pytest.mark.timeout(120)


def _metrics(op) -> dict[str, int]:
    return {m.name: m.int_value for m in op.progress.metrics}


def test_a_create_runs_through_pending_running_done_counting_its_nodes(tmp_path):
    with GkeProcess(tmp_path / "gke", operation_seconds=3) as gke:
        client = gke.client()
        op = client.create_cluster(
            parent=PARENT, cluster=container_v1.Cluster(name="slow", initial_node_count=4)
        )
        assert op.status == container_v1.Operation.Status.PENDING
        name = f"{PARENT}/operations/{op.name}"

        def partway():
            current = client.get_operation(name=name)
            metrics = _metrics(current)
            return current.status == current.Status.RUNNING and 0 < metrics.get("NODES_DONE", 0) < 4

        wait_for(partway, "the operation to be RUNNING with some of its nodes added", interval=0.02)
        done = wait_done(client, op)
        assert _metrics(done) == {"NODES_DONE": 4, "NODES_TOTAL": 4}
        assert done.end_time
        cluster = client.get_cluster(name=f"{PARENT}/clusters/slow")
        assert cluster.status == container_v1.Cluster.Status.RUNNING
