"""`manage.py watch`: run the watcher until SIGINT/SIGTERM."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from controlplane.broadcast import BroadcastLoop
from controlplane.kube.watch import KINDS
from controlplane.live.cache import live_cache
from controlplane.live.watcher import Watcher, clusters_from_db


class Command(BaseCommand):
    help = "Watch every registered cluster, keep the live cache in Redis and publish changes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--kinds",
            default=",".join(KINDS),
            help="comma-separated kinds to watch (default: all the UI shows)",
        )
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=settings.WATCHER_POLL_INTERVAL,
            help="seconds between checks of the cluster list and of Redis",
        )
        parser.add_argument(
            "--watch-timeout",
            type=int,
            default=settings.WATCH_TIMEOUT_SECONDS,
            help="timeoutSeconds asked of the API server for each watch request",
        )

    def handle(self, *args, kinds, poll_interval, watch_timeout, **options):
        chosen = [kind.strip() for kind in kinds.split(",") if kind.strip()]
        unknown = sorted(set(chosen) - set(KINDS))
        if unknown:
            raise CommandError(
                f"--kinds: unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}"
            )
        if poll_interval <= 0:
            raise CommandError("--poll-interval must be positive")
        if watch_timeout <= 0:
            raise CommandError("--watch-timeout must be positive")
        stop = threading.Event()

        def _stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        publisher = BroadcastLoop()
        watcher = Watcher(
            cluster_source=clusters_from_db,
            cache=live_cache(),
            publisher=publisher,
            kinds=chosen,
            poll_interval=poll_interval,
            watch_timeout=watch_timeout,
            backoff_cap=settings.WATCH_BACKOFF_CAP,
        )
        try:
            watcher.run(stop)
        finally:
            publisher.close()
        self.stdout.write("watcher stopped")
