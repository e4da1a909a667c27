"""Pod, node and deployment metrics: sampled from metrics.k8s.io by Celery beat, kept as
compact time series in Redis, served as JSON and charts, and streamed live."""
