"""Serving: deployments, services, scaling, autoscaling, rollouts, pods, logs and metrics."""
