"""Starting the server, and stopping it the way Kubernetes expects.

`start` binds the port and starts loading the model; `serve` runs until SIGTERM or SIGINT,
then `Running.drain_and_stop` turns readiness off, keeps serving through the grace period,
stops listening, lets in-flight requests finish and stops the model thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from inference.batching import FAILED, LOADING, WARMING
from inference.config import Settings
from inference.server import InferenceServer

log = logging.getLogger("inference.lifecycle")


class Running:
    """A started server: its bound port, and the way to shut it down gracefully."""

    def __init__(self, server: InferenceServer, runner: web.AppRunner, port: int) -> None:
        self.server = server
        self.runner = runner
        self.port = port
        self._grace_over = asyncio.Event()

    def end_grace(self) -> None:
        """Cut the grace period short (a second SIGTERM or SIGINT asks for this)."""
        self._grace_over.set()

    async def drain_and_stop(self) -> None:
        """Readiness off at once; keep serving for the grace period; then stop listening,
        let in-flight requests finish (up to SHUTDOWN_TIMEOUT_SECONDS) and stop the model."""
        settings = self.server.settings
        was_ready = self.server.ready
        self.server.draining = True
        if was_ready and settings.drain_grace_seconds > 0:
            log.info(
                "draining: readiness is off; still serving for %.1fs", settings.drain_grace_seconds
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._grace_over.wait(), settings.drain_grace_seconds)
        # Stop listening first, then wait for every request already being handled; only then
        # close connections. (aiohttp's own cleanup stops reading from open connections at
        # once, which would strand a request whose body is still uploading.)
        for site in list(self.runner.sites):
            await site.stop()
        log.info(
            "no longer accepting connections; finishing %d in-flight request(s)",
            self.server.in_flight,
        )
        try:
            await asyncio.wait_for(self.server.wait_idle(), settings.shutdown_timeout_seconds)
        except TimeoutError:
            log.warning(
                "%d request(s) still in flight after SHUTDOWN_TIMEOUT_SECONDS=%s; closing",
                self.server.in_flight,
                settings.shutdown_timeout_seconds,
            )
        await self.runner.cleanup()
        worker = self.server.worker
        worker.stop()
        loop = asyncio.get_running_loop()
        if worker.state not in (LOADING, WARMING):
            joined = await loop.run_in_executor(None, worker.join, 30.0)
            if not joined:
                log.error("the model thread did not stop within 30s")
        log.info("stopped")


async def start(settings: Settings, *, load=None) -> Running:
    """Bind the port and start loading the model; returns once the port accepts connections."""
    server = InferenceServer(settings, load=load)
    runner = web.AppRunner(
        server.app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout_seconds,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    log.info(
        "serving model %s version %s on http://%s:%d",
        settings.model_name,
        settings.model_version,
        settings.host,
        port,
    )
    server.worker.start()
    return Running(server, runner, port)


async def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT, then drain; 0 on a clean stop, 1 if the model failed."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    started: list[Running] = []
    # Handlers go in before the port is bound and announced, so a SIGTERM that follows the
    # announcement at once is still a graceful stop, never the default kill.
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, signum, stop, started)
    running = await start(settings)
    started.append(running)
    changed = running.server.state_event()
    while not stop.is_set() and running.server.worker.state != FAILED:
        changed.clear()
        stop_wait = asyncio.ensure_future(stop.wait())
        change_wait = asyncio.ensure_future(changed.wait())
        await asyncio.wait({stop_wait, change_wait}, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        change_wait.cancel()
    if running.server.worker.state == FAILED:
        log.error("model failed: %s", running.server.worker.failure)
        await running.runner.cleanup()
        return 1
    await running.drain_and_stop()
    return 0


def _on_signal(signum: int, stop: asyncio.Event, started: list[Running]) -> None:
    name = signal.Signals(signum).name
    if stop.is_set():
        log.info("received %s again: ending the grace period now", name)
        for running in started:
            running.end_grace()
        return
    log.info("received %s", name)
    stop.set()
