from django.apps import AppConfig


class GkeConfig(AppConfig):
    name = "controlplane.gke"
    label = "gke"
    verbose_name = "GKE provisioning"

    def ready(self) -> None:
        from controlplane.clusters.tokens import token_provider_register

        from . import live, tasks  # noqa: F401 (tasks: registered with Celery)
        from .tokens import cluster_token

        token_provider_register(source="gke", provider=cluster_token)
        live.register()
