"""Networking for pods that really run: what kube-proxy and the cloud's load balancers do,
on loopback addresses (see proxy.py and forwarder.py)."""
