"""Used by `make run` after migrating: register the sandbox, make sure an admin can log in."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from controlplane.clusters.services import cluster_register_sandbox

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Register the local sandbox cluster and create the local admin account once."

    def handle(self, *args, **options):
        kubeconfig = settings.SANDBOX_KUBECONFIG
        if not kubeconfig.is_file():
            raise CommandError(f"the sandbox kubeconfig {kubeconfig} does not exist yet")
        cluster = cluster_register_sandbox(path=kubeconfig)
        self.stdout.write(f"cluster '{cluster.name}' registered at {cluster.server}")

        users = get_user_model()
        if users.objects.filter(username=ADMIN_USERNAME).exists():
            self.stdout.write(
                f"local account '{ADMIN_USERNAME}' exists; forgot its password? "
                f"run: .venv/bin/python manage.py changepassword {ADMIN_USERNAME}"
            )
            return
        # Shown once, here, and stored only as Django's password hash.
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
        self.stdout.write(
            "\n  Created the local admin account (this password is shown only once):\n"
            f"    username: {ADMIN_USERNAME}\n    password: {password}\n"
        )
