"""manage.py drf_create_token USERNAME: make an API token and print it (replaces DRF's
command of the same name, with the same output, so scripts that parse it keep working)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from controlplane.accounts.selectors import api_token_list
from controlplane.accounts.services import api_token_create, api_token_revoke


class Command(BaseCommand):
    help = "Create an API token for a user and print it (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="manage.py drf_create_token")
        parser.add_argument("--days", type=int, default=None, help="lifetime (default 90)")
        parser.add_argument(
            "-r",
            "--reset",
            action="store_true",
            help="revoke the user's other tokens first",
        )

    def handle(self, *args, username, name, days, reset, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        if reset:
            for token in api_token_list(user=user).filter(revoked__isnull=True):
                api_token_revoke(actor=None, token=token)
        try:
            issued = api_token_create(actor=None, user=user, name=name, lifetime_days=days)
        except ValidationError as exc:
            lines = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
            raise CommandError("; ".join(lines)) from None
        self.stdout.write(f"Generated token {issued.key} for user {username}")
