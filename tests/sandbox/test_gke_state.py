"""The local GKE endpoint with --state: keys, clusters and their sandboxes survive a restart."""

from __future__ import annotations

import pytest
from google.cloud import container_v1

from sandbox.gke.testing import GkeProcess
from tests.sandbox.gke_support import PARENT, cluster_kubectl, wait_done

pytestmark = pytest.mark.timeout(120)


def test_a_restart_brings_back_the_clusters_on_their_endpoints_with_their_nodes(tmp_path):
    gke = GkeProcess(tmp_path / "gke")
    with gke:
        first_key = gke.key
        client = gke.client()
        wait_done(
            client,
            client.create_cluster(
                parent=PARENT, cluster=container_v1.Cluster(name="keep", initial_node_count=2)
            ),
        )
        before = client.get_cluster(name=f"{PARENT}/clusters/keep")
    with gke:
        # The key written before the restart still works: its public half was kept.
        client = gke.client(first_key)
        after = client.get_cluster(name=f"{PARENT}/clusters/keep")
        assert after.status == container_v1.Cluster.Status.RUNNING
        assert after.endpoint == before.endpoint
        assert after.master_auth.cluster_ca_certificate == before.master_auth.cluster_ca_certificate
        nodes = cluster_kubectl(gke, after, tmp_path, "get", "nodes")["items"]
        assert len(nodes) == 2
        ops = client.list_operations(parent=PARENT).operations
        assert [o.operation_type for o in ops] == [container_v1.Operation.Type.CREATE_CLUSTER]
