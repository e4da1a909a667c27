"""Probes of process containers, really executed: HTTP GET, TCP connect and exec, with the
spec's initialDelaySeconds, periodSeconds, timeoutSeconds and success/failure thresholds.

A startup probe runs first and holds the other two back until it passes. Readiness results
set the container's ready state (and through it the pod's Ready condition and its Service
endpoints); a liveness (or startup) failure past its threshold has the container killed and
restarted. Each failure is an `Unhealthy` event with the kubelet's wording.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)


@dataclass
class ProbeTarget:
    """What a probe of one container run needs: where it listens and how it was started."""

    key: tuple[str, str]
    pod: dict
    container: dict
    ip: str
    handle: Any
    env: dict
    cwd: str


class Prober:
    def __init__(
        self,
        *,
        on_ready: Callable[[ProbeTarget, bool], None],
        on_dead: Callable[[ProbeTarget, str, dict], None],
        on_failure: Callable[[ProbeTarget, str], None],
    ) -> None:
        self.on_ready = on_ready
        self.on_dead = on_dead
        self.on_failure = on_failure
        self._tasks: dict[int, asyncio.Task] = {}
        self._session: aiohttp.ClientSession | None = None

    def start(self, target: ProbeTarget) -> None:
        spec = target.container
        if not any(spec.get(p) for p in ("startupProbe", "readinessProbe", "livenessProbe")):
            return
        task = asyncio.get_running_loop().create_task(
            self._run(target), name=f"probe-{target.key[0]}-{target.key[1]}-{spec['name']}"
        )
        self._tasks[id(target.handle)] = task
        task.add_done_callback(lambda _t, h=id(target.handle): self._tasks.pop(h, None))

    def stop(self, handle: Any) -> None:
        task = self._tasks.pop(id(handle), None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        if self._session is not None:
            await self._session.close()

    async def _run(self, target: ProbeTarget) -> None:
        spec = target.container
        startup = spec.get("startupProbe")
        if startup and not await self._loop(target, "Startup", startup, until_success=True):
            return
        loops = []
        if spec.get("readinessProbe"):
            loops.append(self._loop(target, "Readiness", spec["readinessProbe"]))
        if spec.get("livenessProbe"):
            loops.append(self._loop(target, "Liveness", spec["livenessProbe"]))
        if loops:
            await asyncio.gather(*loops)

    async def _loop(
        self, target: ProbeTarget, kind: str, probe: dict, *, until_success: bool = False
    ) -> bool:
        period = max(float(probe.get("periodSeconds", 10)), 0.05)
        timeout = max(float(probe.get("timeoutSeconds", 1)), 0.05)
        successes_needed = max(int(probe.get("successThreshold", 1)), 1)
        failures_allowed = max(int(probe.get("failureThreshold", 3)), 1)
        await asyncio.sleep(float(probe.get("initialDelaySeconds", 0)))
        successes = failures = 0
        ready: bool | None = None
        while True:
            ok, message = await self._probe(target, probe, timeout)
            if ok:
                successes, failures = successes + 1, 0
                if until_success:
                    return True
                if kind == "Readiness" and ready is not True and successes >= successes_needed:
                    ready = True
                    self.on_ready(target, True)
            else:
                successes, failures = 0, failures + 1
                self.on_failure(target, f"{kind} probe failed: {message}")
                if failures >= failures_allowed:
                    if kind == "Readiness":
                        if ready is not False:
                            ready = False
                            self.on_ready(target, False)
                    else:
                        self.on_dead(target, kind, probe)
                        return False
            await asyncio.sleep(period)

    async def _probe(self, target: ProbeTarget, probe: dict, timeout: float) -> tuple[bool, str]:
        try:
            if "httpGet" in probe:
                return await self._http(target, probe["httpGet"] or {}, timeout)
            if "tcpSocket" in probe:
                return await self._tcp(target, probe["tcpSocket"] or {}, timeout)
            if "exec" in probe:
                return await self._exec(target, probe["exec"] or {}, timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe that cannot even run is a failed probe
            log.debug("probe of %s failed to run", target.key, exc_info=True)
            return False, str(exc) or type(exc).__name__
        return False, "the sandbox runs only httpGet, tcpSocket and exec probes"

    async def _http(self, target: ProbeTarget, get: dict, timeout: float) -> tuple[bool, str]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True, ssl=False)
            )
        host = get.get("host") or target.ip
        port = _port(target.container, get.get("port"))
        scheme = (get.get("scheme") or "HTTP").lower()
        path = get.get("path") or "/"
        url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
        headers = {"User-Agent": "kube-probe/1.31", "Accept": "*/*"}
        for header in get.get("httpHeaders") or []:
            headers[header.get("name", "")] = header.get("value", "")
        try:
            async with self._session.get(
                url,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as resp:
                await resp.read()
                if 200 <= resp.status < 400:
                    return True, ""
                return False, f"HTTP probe failed with statuscode: {resp.status}"
        except TimeoutError:
            return False, (
                f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while '
                "awaiting headers)"
            )
        except aiohttp.ClientConnectorError:
            return False, f'Get "{url}": dial tcp {host}:{port}: connect: connection refused'
        except aiohttp.ClientError as exc:
            return False, f'Get "{url}": {exc}'

    async def _tcp(self, target: ProbeTarget, sock: dict, timeout: float) -> tuple[bool, str]:
        host = sock.get("host") or target.ip
        port = _port(target.container, sock.get("port"))
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except TimeoutError:
            return False, f"dial tcp {host}:{port}: i/o timeout"
        except OSError:
            return False, f"dial tcp {host}:{port}: connect: connection refused"
        writer.close()
        return True, ""

    async def _exec(self, target: ProbeTarget, spec: dict, timeout: float) -> tuple[bool, str]:
        command = [str(c) for c in spec.get("command") or []]
        if not command:
            return False, "exec probe has no command"
        if command[0] in ("python", "python3"):
            command[0] = sys.executable
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=target.env,
            cwd=target.cwd,
            start_new_session=True,
        )
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return False, f"command timed out: {' '.join(command)}"
        if proc.returncode == 0:
            return True, ""
        text = output.decode("utf-8", errors="replace").strip()
        return False, text or f"command exited with {proc.returncode}"


def _port(container: dict, port: Any) -> int:
    if isinstance(port, str) and not port.isdigit():
        for cp in container.get("ports") or []:
            if cp.get("name") == port:
                return int(cp["containerPort"])
        raise ValueError(f"port {port!r} is not a named port of container {container['name']}")
    return int(port)
