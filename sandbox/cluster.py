"""The Cluster: storage, the registry over it, logs, garbage collector, controllers and the
HTTP server, wired together on one asyncio loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox import components, kubeconfig, scripting
from sandbox.apiserver import tls
from sandbox.apiserver.server import User, make_app
from sandbox.config import SandboxConfig
from sandbox.kubelet.logbook import LogBook
from sandbox.registry.generic import Registry
from sandbox.storage import persistence
from sandbox.storage.gc import GarbageCollector
from sandbox.storage.store import Store

log = logging.getLogger(__name__)

DEFAULT_EVENT_TTL = 3600.0  # kube-apiserver --event-ttl
BOOT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ADMIN_USER = "sandbox-admin"
READONLY_USER = "sandbox-readonly"


@dataclass
class ClusterOptions:
    nodes: int = 3
    gpu_nodes: int = 0
    state: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    kubeconfig: Path | None = None
    readonly_kubeconfig: Path | None = None
    admin_token: str | None = None
    readonly_token: str | None = None
    # False: the API server alone (no controllers, kubelet or metrics), for API benchmarks
    controllers: bool = True
    event_ttl: float = DEFAULT_EVENT_TTL  # seconds, as kube-apiserver --event-ttl
    # images that run as local processes (sandbox.kubelet.runtimemap.RuntimeMap); None: none
    runtime_map: Any = None


def load_config(timings: str = "realistic", overrides: dict | None = None) -> SandboxConfig:
    cfg = SandboxConfig.fast() if timings == "fast" else SandboxConfig()
    if overrides:
        cfg = SandboxConfig.from_dict(overrides, base=cfg)
    return cfg


class Cluster:
    def __init__(self, options: ClusterOptions | None = None, config=None) -> None:
        self.options = options or ClusterOptions()
        self.config = config if config is not None else load_config()
        self.storage = Store(watch_history_size=int(self.config.watch_history_size))
        # every component, the HTTP handlers included, writes through the registry
        self.api = Registry(self.storage)
        self.logs = LogBook()
        self.logs.attach(self.api)
        self.metrics = None  # the usage model, set by sandbox.components.start
        self.network = None  # Service forwarding (sandbox.network), with the process runtime
        auth = self._load_auth()
        self.admin_token = (
            self.options.admin_token or auth.get("admin_token") or secrets.token_urlsafe(24)
        )
        self.readonly_token = (
            self.options.readonly_token or auth.get("readonly_token") or secrets.token_urlsafe(24)
        )
        self.tls = tls.TlsMaterial.from_dict(auth["tls"]) if "tls" in auth else tls.generate()
        self._save_auth()
        self._users = {
            self.admin_token: User(ADMIN_USER, readonly=False),
            self.readonly_token: User(READONLY_USER, readonly=True),
        }
        self.url: str | None = None
        self.port: int | None = None
        self.gc: GarbageCollector | None = None
        self.state_writer: persistence.StateWriter | None = None
        self._tasks: list[asyncio.Task] = []
        self._runner: web.AppRunner | None = None
        # handler tasks of open watch and log-follow streams, ended first on stop
        self.streams: set[asyncio.Task] = set()
        self.stopping = asyncio.Event()

    def _auth_path(self) -> Path | None:
        return Path(f"{self.options.state}.auth.json") if self.options.state else None

    def _load_auth(self) -> dict:
        """Tokens and TLS material survive a restart with --state, so clients keep working."""
        path = self._auth_path()
        if path is None or not path.exists():
            return {}
        return json.loads(path.read_text())

    def _save_auth(self) -> None:
        path = self._auth_path()
        if path is None:
            return
        data = json.dumps(
            {
                "admin_token": self.admin_token,
                "readonly_token": self.readonly_token,
                "tls": self.tls.to_dict(),
            }
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(data)

    def user_for_token(self, token: str | None) -> User | None:
        if not token:
            return None
        for known, user in self._users.items():
            if secrets.compare_digest(known, token):
                return user
        return None

    def _bootstrap(self) -> None:
        restored = False
        if self.options.state is not None:
            restored = persistence.restore(self.storage, Path(self.options.state))
        for ns in BOOT_NAMESPACES:
            if self.api.get("namespaces", None, ns) is None:
                self.api.create("namespaces", {"metadata": {"name": ns}})
        if not restored:
            log.info("starting with an empty cluster")

    def _default_service_accounts(self) -> None:
        """Every namespace gets a `default` ServiceAccount, as the token controller does."""

        def ensure(ns: str) -> None:
            namespace = self.api.get("namespaces", None, ns)
            if namespace is None or namespace["metadata"].get("deletionTimestamp"):
                return
            if self.api.get("serviceaccounts", ns, "default") is None:
                self.api.create(
                    "serviceaccounts", {"metadata": {"name": "default", "namespace": ns}}
                )

        def on_ns(etype: str, obj: dict, old: dict | None) -> None:
            if etype == "ADDED":
                asyncio.get_running_loop().call_soon(ensure, obj["metadata"]["name"])

        self.api.subscribe("namespaces", on_ns)
        for ns in self.api.list("namespaces"):
            ensure(ns["metadata"]["name"])

    async def start(self) -> str:
        self._bootstrap()
        self.gc = GarbageCollector(self.storage, self.api)
        self._tasks.append(asyncio.create_task(self.gc.run(), name="sandbox-gc"))
        ttl = float(self.options.event_ttl)
        self._tasks.append(
            asyncio.create_task(
                self.gc.expire_events(ttl, interval=min(60.0, ttl / 4)), name="sandbox-event-ttl"
            )
        )
        self._default_service_accounts()
        if self.options.state is not None:
            interval = float(self.config.state_flush_interval)
            self.state_writer = persistence.StateWriter(
                self.storage, Path(self.options.state), interval
            )
        if self.options.controllers:
            self._tasks.extend(components.start(self))
        app = make_app(self)
        if self.options.controllers:
            # the scripting endpoint scripts the controllers' world: only mounted with them
            scripting.add_routes(app, self)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            self.options.host,
            self.options.port,
            reuse_address=True,
            ssl_context=self.tls.server_context(),
        )
        await site.start()
        sockets = site._server.sockets if site._server else []
        self.port = sockets[0].getsockname()[1]
        self.url = f"https://{self.options.host}:{self.port}"
        if self.options.readonly_kubeconfig:
            kubeconfig.write(
                Path(self.options.readonly_kubeconfig),
                self.url,
                self.readonly_token,
                ca_pem=self.tls.ca_pem,
                user=READONLY_USER,
            )
        if self.options.kubeconfig:
            # written last: its appearance tells waiting clients the server is ready
            kubeconfig.write(
                Path(self.options.kubeconfig), self.url, self.admin_token, ca_pem=self.tls.ca_pem
            )
        log.info("sandbox API server listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("sandbox task %s failed while stopping", task.get_name())
        self._tasks.clear()
        # end open watches and log streams cleanly (their chunked responses complete), then
        # cancel whatever did not finish in time
        self.stopping.set()
        self.storage.close_watchers()
        self.logs.wake_all()
        streams = [t for t in self.streams if not t.done()]
        if streams:
            _, late = await asyncio.wait(streams, timeout=2.0)
            for task in late:
                task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.state_writer is not None:
            await self.state_writer.close()
