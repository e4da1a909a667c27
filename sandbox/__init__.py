"""A local Kubernetes-compatible cluster: API server, controllers and a simulated kubelet.

It speaks the real Kubernetes REST API over HTTP so kubectl and the official client work
against it. It imports nothing from the Django side of the project.
"""
