from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    label = "deployments"
    verbose_name = "Deployments"

    def ready(self) -> None:
        from .logs import keep_hook
        from .logs import live as logs_live
        from .metrics import live, tasks  # noqa: F401 (tasks: registered with Celery)

        live.register()
        logs_live.register()
        keep_hook.register()  # keeps the last lines of pods that go (the watcher calls it)
