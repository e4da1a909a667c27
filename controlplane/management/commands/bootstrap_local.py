"""Used by `make run` after migrating: register the sandbox, make sure an admin can log in."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Register the local sandbox cluster and create the local admin account once."

    def handle(self, *args, **options):
        call_command("register_sandbox", stdout=self.stdout)

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
