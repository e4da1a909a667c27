"""What the controllers, the kubelet, the usage model and the scripting endpoint share: the
work-queue Controller base, informer-like caches and object helpers (conditions, times,
quantities). It imports none of them, so any of them can be imported first."""
