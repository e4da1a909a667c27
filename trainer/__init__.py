"""Training: the program that trains a model inside a Kubernetes Job (`trainer.program`)."""
