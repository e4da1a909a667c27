"""Everything that runs beside the API server once the cluster is up: the nodes, the
controllers, the scheduler, the kubelets and the usage model, started inside its event loop.

`start(cluster)` creates the configured nodes, builds the shared caches, attaches the usage
model as `cluster.metrics`, and runs every component as an asyncio task.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sandbox.controllers.deployment import DeploymentController
from sandbox.controllers.endpoints import EndpointsController, ServiceController
from sandbox.controllers.hpa import HorizontalPodAutoscalerController
from sandbox.controllers.job import JobController
from sandbox.controllers.nodelifecycle import NodeLifecycle
from sandbox.controllers.nodes import ensure_nodes
from sandbox.controllers.replicaset import ReplicaSetController
from sandbox.controllers.scheduler import Scheduler
from sandbox.kubelet import Kubelet, SimulatedRuntime
from sandbox.kubelet.mixed import MixedRuntime
from sandbox.kubelet.process import ProcessRuntime
from sandbox.kubelet.usage import UsageModel
from sandbox.machinery.cache import Caches
from sandbox.network.gateway import GatewayController
from sandbox.network.proxy import ServiceProxy
from sandbox.scripting import get_script

log = logging.getLogger(__name__)


def start(cluster: Any) -> list[asyncio.Task]:
    """Start every controller on the running loop; cancel the returned tasks to stop them."""
    ensure_nodes(cluster)
    caches = Caches(cluster.api)
    script = get_script(cluster)
    cluster.metrics = UsageModel(cluster, caches, script)
    runtime = SimulatedRuntime(cluster.config, script, cluster.logs)
    process = None
    if cluster.options.runtime_map is not None:
        process = ProcessRuntime(cluster.options.runtime_map, cluster.api, cluster.logs)
        process.sample_seconds = cluster.config.process_sample_seconds
        runtime = MixedRuntime(runtime, process)
        cluster.metrics.measured = process
    controllers = [
        ServiceController(cluster),
        Scheduler(cluster, caches),
        Kubelet(cluster, caches, runtime),
        ReplicaSetController(cluster, caches),
        DeploymentController(cluster, caches),
        JobController(cluster, caches),
        EndpointsController(cluster, caches),
        HorizontalPodAutoscalerController(cluster, caches),
    ]
    if process is not None:
        # Services route for real only where there are real processes to route to.
        controllers.append(ServiceProxy(cluster))
        cluster.network = controllers[-1]
        controllers.append(GatewayController(cluster))
    for controller in controllers:
        controller.setup()
    tasks = [asyncio.create_task(c.run(), name=f"sandbox-{c.name}") for c in controllers]
    lifecycle = NodeLifecycle(cluster, caches)
    tasks.append(asyncio.create_task(lifecycle.run(), name="sandbox-node-lifecycle"))
    if process is not None:
        # cancelled when the cluster stops: it then stops every process it started
        tasks.append(asyncio.create_task(process.run(), name="sandbox-processes"))
    for task in tasks:
        task.add_done_callback(_report_crash)
    return tasks


def _report_crash(task: asyncio.Task) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("controller task %s stopped: %r", task.get_name(), exc, exc_info=exc)
