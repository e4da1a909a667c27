"""`manage.py audit_verify [--chain-only]`: walk the audit chain from its first entry and
check every hash and link, then check that every action's current row agrees with its
entries. Prints OK with the counts, or the first broken sequence number (or action) and why;
exits with status 1 when anything is broken."""

from django.core.management.base import BaseCommand, CommandError

from controlplane.audit.integrity import actions_verify, chain_verify


class Command(BaseCommand):
    help = "Verify the hash chain of the audit log (exit status 1 when it is broken)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--chain-only",
            action="store_true",
            help="check the chain only, not the actions' current rows against it",
        )

    def handle(self, *args, chain_only: bool, **options):
        verdict = chain_verify()
        if not verdict.ok:
            raise CommandError(
                f"audit chain BROKEN at sequence {verdict.broken_at}: {verdict.reason} "
                f"({verdict.entries} entries before it are intact)",
                returncode=1,
            )
        message = f"audit chain OK: {verdict.entries} entries"
        if not chain_only:
            actions, problem = actions_verify()
            if problem is not None:
                raise CommandError(
                    f"audit chain OK ({verdict.entries} entries), but an action disagrees "
                    f"with it: {problem}",
                    returncode=1,
                )
            message += f", {actions} actions agree with it"
        self.stdout.write(message)
