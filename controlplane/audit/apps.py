from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "controlplane.audit"
    label = "audit"
    verbose_name = "Actions and audit log"

    def ready(self) -> None:
        from celery.signals import worker_ready, worker_shutting_down

        from .workers import worker_heartbeat_start

        beats = []

        # Only worker processes send these signals; web and beat never report themselves.
        @worker_ready.connect(weak=False)
        def _report_alive(sender=None, **_):
            beats.append(worker_heartbeat_start(hostname=sender.hostname))

        @worker_shutting_down.connect(weak=False)
        def _stop_reporting(**_):
            for stop in beats:
                stop.set()
