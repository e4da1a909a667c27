"""`manage.py audit_export [--since SEQ] [--output FILE [--append]]`: write the audit chain
as JSON lines (one entry a line, with its prev_hash and hash) for an external store.

Resumable: `--since SEQ` writes only the entries after SEQ, so a shipper that remembers the
last sequence it stored sends each entry once. The last sequence written is reported on
stderr. How to recompute an entry's hash is described in controlplane/audit/integrity.py.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from controlplane.audit.integrity import entries_export


class Command(BaseCommand):
    help = "Export the audit chain as JSON lines, optionally from a sequence number on."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", type=int, default=0, help="export the entries after this sequence number"
        )
        parser.add_argument("--output", type=Path, default=None, help="file (default: stdout)")
        parser.add_argument(
            "--append", action="store_true", help="append to --output instead of replacing it"
        )

    def handle(self, *args, since: int, output: Path | None, append: bool, **options):
        if since < 0:
            raise CommandError("--since is a sequence number (0 or more)")
        if append and output is None:
            raise CommandError("--append needs --output")
        stream = output.open("a" if append else "w", encoding="utf-8") if output else self.stdout
        count, last = 0, since
        try:
            for line in entries_export(since=since):
                stream.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
                count, last = count + 1, line["sequence"]
        finally:
            if output is not None:
                stream.close()
        self.stderr.write(f"exported {count} audit entries; the last sequence is {last}")
