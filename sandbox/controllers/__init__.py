"""The sandbox's kube-controller-manager and scheduler: each controller runs as an asyncio task
on the API server's loop (the cluster starts them, with the kubelets, in sandbox/cluster.py)."""
