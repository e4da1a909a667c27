"""manage.py user_create USERNAME [--email E] [--cluster C --role R [--namespace NS ...]]
[--password-stdin] [--base-url URL]: create a user, audited as the system."""

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from controlplane.accounts.roles import Role
from controlplane.accounts.services import user_create
from controlplane.clusters.models import Cluster


class Command(BaseCommand):
    help = (
        "Create a user, optionally with a role on one cluster. Prints a one-time link with "
        "which the user sets their password, or reads the password from stdin."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--cluster", help="grant --role on this cluster")
        parser.add_argument("--role", choices=[role.slug for role in Role])
        parser.add_argument(
            "--namespace",
            action="append",
            dest="namespaces",
            default=[],
            help="narrow the grant to this namespace (repeatable)",
        )
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin instead of printing a link",
        )
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where people reach this control plane (for the link)",
        )

    def handle(self, *args, username, email, cluster, role, namespaces, **options):
        if bool(cluster) != bool(role):
            raise CommandError("give --cluster and --role together")
        if namespaces and not cluster:
            raise CommandError("--namespace narrows a grant: give --cluster and --role too")
        target = None
        if cluster:
            target = Cluster.objects.filter(name=cluster).first()
            if target is None:
                raise CommandError(f"no cluster named {cluster!r}")
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin: stdin gave an empty password")
        try:
            created = user_create(
                actor=None,
                username=username,
                email=email,
                password=password,
                cluster=target,
                role=role,
                namespaces=namespaces,
                base_url=options["base_url"],
            )
        except ValidationError as exc:
            lines = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
            raise CommandError("; ".join(lines)) from None
        grant = f" ({role} on {cluster}{' in ' + ', '.join(namespaces) if namespaces else ''})"
        self.stdout.write(f"Created user {username}{grant if cluster else ''}.")
        if created.password_link is not None:
            expires = created.password_link.expires.strftime("%Y-%m-%d %H:%M UTC")
            self.stdout.write(
                f"One-time link to set the password (shown once, valid until {expires}):\n"
                f"{created.password_link.url}"
            )
