"""`manage.py register_sandbox [--name sandbox] [--kubeconfig PATH]`: register (or refresh)
the local sandbox as a cluster from the kubeconfig it wrote (default settings.SANDBOX_KUBECONFIG).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from controlplane.clusters.kubeconfig import KubeconfigError
from controlplane.clusters.services import cluster_register_sandbox


class Command(BaseCommand):
    help = "Register the local sandbox cluster from its kubeconfig (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="sandbox")
        parser.add_argument("--kubeconfig", type=Path, default=None)

    def handle(self, *args, name: str, kubeconfig: Path | None, **options):
        path = kubeconfig or settings.SANDBOX_KUBECONFIG
        if not path.is_file():
            raise CommandError(f"no sandbox kubeconfig at {path}; start the sandbox first")
        try:
            cluster = cluster_register_sandbox(name=name, path=path)
        except KubeconfigError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        self.stdout.write(f"cluster {cluster.name} -> {cluster.server}")
