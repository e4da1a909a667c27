"""The reference TensorFlow model server that runs inside serving pods.

`python -m inference` serves one model (TF Serving REST API, an image segmentation endpoint,
health probes and Prometheus metrics); `python -m inference.reference` exports the reference
U-Net. The package imports nothing of the Django side, and TensorFlow only where a model is
built or run, so the HTTP side can start (and answer liveness probes) while TF loads.
"""
