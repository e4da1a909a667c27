"""The simulated kubelet (pod lifecycle) and the container runtime interface it drives."""

from sandbox.kubelet.kubelet import Kubelet
from sandbox.kubelet.runtime import ContainerHandle, PullResult, Runtime, SimulatedRuntime

__all__ = ["ContainerHandle", "Kubelet", "PullResult", "Runtime", "SimulatedRuntime"]
