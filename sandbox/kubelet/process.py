"""The process runtime: containers whose image the runtime map names run as local processes.

Each container is one process in its own session (process group), started with the parent-death
signal set to SIGKILL, so nothing outlives the sandbox even when the sandbox itself is killed.
stdout and stderr become the container's log; the exit status becomes its termination (a
signal N reads as 128+N, as container runtimes report it). Stopping sends SIGTERM to the whole
group and SIGKILL once the grace period is over. CPU and memory are sampled from /proc for the
whole group; a group over its memory limit is killed and reported as OOMKilled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import itertools
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.kubelet.procenv import container_env, expand
from sandbox.kubelet.proctools import (
    CLK_TCK,
    Reaper,
    die_with_parent,
    group_usage,
    main_process_exit,
)
from sandbox.kubelet.runtime import ContainerHandle, PullResult, image_id
from sandbox.kubelet.runtimemap import ProcessRule, RuntimeMap
from sandbox.machinery.quantity import quantity_bytes
from sandbox.scripting import normalize_image

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
_PYTHON = re.compile(r"^(/usr(/local)?/bin/)?python(3(\.\d+)?)?$")
_CHUNK = 65536
_MAX_LINE = 1 << 20


@dataclass
class ProcessHandle(ContainerHandle):
    proc: asyncio.subprocess.Process | None = None
    pid: int = 0
    oom: bool = False
    report_exit: bool = True  # False once the kubelet stopped it: no exited() callback
    on_finished: list[Callable[[], None]] = field(default_factory=list)
    task: asyncio.Task | None = None
    memory_limit: int | None = None
    cpu_milli: float = 0.0
    memory: int = 0
    _last_sample: tuple[float, int] | None = None
    _kill_timer: asyncio.TimerHandle | None = None


class ProcessRuntime:
    """Runs the containers the runtime map names; the kubelet reaches it through MixedRuntime."""

    def __init__(self, runtime_map: RuntimeMap, api: Any, logs: Any) -> None:
        self.map = runtime_map
        self.api = api
        self.logs = logs
        self.handles: dict[str, ProcessHandle] = {}
        self._ids = itertools.count(1)
        self.sample_seconds = 1.0
        self.reaper = Reaper()

    def rule_for(self, container: dict) -> ProcessRule | None:
        return self.map.rule_for(container.get("image", ""))

    def pull(self, container: dict, done: Callable[[PullResult], None]) -> None:
        image = normalize_image(container.get("image", ""))
        # The program is on this machine already: the image is "present" on every node.
        asyncio.get_running_loop().call_soon(
            done, PullResult(True, image, image_id(image), already_present=True)
        )

    # -- start ---------------------------------------------------------------------------

    def argv_env_cwd(self, pod: dict, container: dict) -> tuple[list[str], dict, str, str]:
        """(argv, environment, working directory, note about the working directory)."""
        rule = self.rule_for(container)
        assert rule is not None
        status = pod.get("status") or {}
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
            "HOSTNAME": pod["metadata"]["name"],
        }
        tag = _tag(container.get("image", ""))
        env.update({k: expand(v, {"IMAGE_TAG": tag}) for k, v in rule.env.items()})
        env.update(container_env(self.api, pod, container))
        if rule.host_env and status.get("podIP"):
            env[rule.host_env] = status["podIP"]
        port = _first_port(container) or rule.default_port
        if rule.port_env and port:
            env[rule.port_env] = str(port)
        if container.get("command"):
            argv = [*container["command"], *(container.get("args") or [])]
        elif container.get("args"):
            argv = [*rule.command, *container["args"]]
        else:
            argv = [*rule.command, *(expand(a, {"IMAGE_TAG": tag}) for a in rule.args)]
        argv = [expand(a, env) for a in argv]
        if _PYTHON.match(argv[0]):
            argv[0] = sys.executable
        note = ""
        default_dir = str((ROOT / rule.working_dir).resolve())
        wanted = container.get("workingDir")
        if wanted and Path(wanted).is_dir():
            cwd = wanted
        else:
            cwd = default_dir
            if wanted:
                note = (
                    f'workingDir "{wanted}" does not exist on this machine; the process runs in '
                    f"{cwd} (the runtime map's workingDir for {rule.image})"
                )
        return argv, env, cwd, note

    def start(
        self, pod: dict, container: dict, restart_count: int, exited: Callable[[int, str], None]
    ) -> ProcessHandle:
        meta = pod["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        seed = f"{meta.get('uid')}/{container['name']}/{restart_count}/{next(self._ids)}"
        limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
        handle = ProcessHandle(
            container_id="process://" + hashlib.sha256(seed.encode()).hexdigest()[:32],
            pod_key=key,
            name=container["name"],
            process=True,
            memory_limit=quantity_bytes(limit) if limit else None,
        )
        self.handles[handle.container_id] = handle
        argv, env, cwd, note = self.argv_env_cwd(pod, container)
        if note:
            self.api.record_event(
                pod, reason="WorkingDir", message=note, type="Warning", component="kubelet"
            )
        task = asyncio.get_running_loop().create_task(
            self._run(handle, argv, env, cwd, exited),
            name=f"process-{key[0]}-{key[1]}-{handle.name}",
        )
        handle.task = task
        return handle

    async def _run(
        self,
        handle: ProcessHandle,
        argv: list[str],
        env: dict,
        cwd: str,
        exited: Callable[[int, str], None],
    ) -> None:
        ns, pod = handle.pod_key
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=functools.partial(die_with_parent, os.getpid()),
            )
        except OSError as exc:
            self.logs.append(ns, pod, handle.name, f"exec {argv[0]}: {exc.strerror or exc}")
            self._finish(handle, exited, 128, "StartError")
            return
        handle.proc, handle.pid = proc, proc.pid
        self.reaper.watch(proc.pid)
        if handle.stopped:
            self._signal(handle, signal.SIGTERM)
        readers = [
            asyncio.create_task(self._pump(proc.stdout, handle)),
            asyncio.create_task(self._pump(proc.stderr, handle)),
        ]
        await main_process_exit(proc.pid)
        # As in a container, the rest of the group ends with its main process (and only then
        # do the pipes close, which asyncio's wait() also waits for).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        code = await proc.wait()
        # A grandchild may hold the pipes open; its output after the exit is not this run's.
        await asyncio.wait(readers, timeout=1.0)
        for reader in readers:
            reader.cancel()
        if code < 0:
            code = 128 - code
        reason = "OOMKilled" if handle.oom else ("Completed" if code == 0 else "Error")
        self._finish(handle, exited, code, reason)

    def _finish(
        self, handle: ProcessHandle, exited: Callable[[int, str], None], code: int, reason: str
    ) -> None:
        handle.finished = True
        if handle._kill_timer is not None:
            handle._kill_timer.cancel()
        self.handles.pop(handle.container_id, None)
        if handle.pid:
            # Whatever the program left behind in its group goes with it, as with a container.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(handle.pid, signal.SIGKILL)
            self.reaper.forget(handle.pid)
        if handle.report_exit:
            exited(code, reason)
        for callback in handle.on_finished:
            callback()

    async def _pump(self, stream: asyncio.StreamReader | None, handle: ProcessHandle) -> None:
        if stream is None:
            return
        ns, pod = handle.pod_key
        partial = b""
        while True:
            chunk = await stream.read(_CHUNK)
            if not chunk:
                break
            partial += chunk
            *lines, partial = partial.split(b"\n")
            for line in lines:
                self.logs.append(ns, pod, handle.name, line.decode("utf-8", errors="replace"))
            if len(partial) > _MAX_LINE:
                self.logs.append(ns, pod, handle.name, partial.decode("utf-8", errors="replace"))
                partial = b""
        if partial:
            self.logs.append(ns, pod, handle.name, partial.decode("utf-8", errors="replace"))

    # -- stop ----------------------------------------------------------------------------

    def stop(self, handle: ContainerHandle, grace_seconds: float, *, report: bool = False) -> None:
        """SIGTERM the group now, SIGKILL after the grace period. With report, the exit is
        reported to the kubelet as any other (a liveness kill that leads to a restart)."""
        assert isinstance(handle, ProcessHandle)
        if handle.finished:
            return
        handle.report_exit = report and handle.report_exit
        if handle.stopped:
            if grace_seconds <= 0:
                self._signal(handle, signal.SIGKILL)
            return
        handle.stopped = True
        if grace_seconds <= 0:
            self._signal(handle, signal.SIGKILL)
            return
        self._signal(handle, signal.SIGTERM)
        handle._kill_timer = asyncio.get_running_loop().call_later(
            grace_seconds, self._signal, handle, signal.SIGKILL
        )

    def _signal(self, handle: ProcessHandle, sig: int) -> None:
        if handle.finished or not handle.pid:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(handle.pid, sig)

    async def shutdown(self, grace_seconds: float = 5.0) -> None:
        """Stop every process (the sandbox is stopping): SIGTERM, then SIGKILL after grace."""
        handles = list(self.handles.values())
        for handle in handles:
            handle.report_exit = False
            self.stop(handle, grace_seconds)
        tasks = [h.task for h in handles if h.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace_seconds + 2.0)
            for task in late:
                task.cancel()
        await asyncio.get_running_loop().run_in_executor(None, self.reaper.close)

    # -- usage ---------------------------------------------------------------------------

    def usage(self, container_id: str) -> tuple[float, int] | None:
        handle = self.handles.get(container_id)
        if handle is None or not handle.pid or handle._last_sample is None:
            return None
        return handle.cpu_milli, handle.memory

    def sample(self) -> None:
        """One /proc pass for every running group: CPU since the last pass, resident memory."""
        groups = {h.pid: h for h in self.handles.values() if h.pid and not h.finished}
        if not groups:
            return
        totals = group_usage(set(groups))
        at = time.monotonic()
        for pid, handle in groups.items():
            ticks, rss = totals[pid]
            if handle._last_sample is not None:
                last_at, last_ticks = handle._last_sample
                elapsed = max(at - last_at, 1e-6)
                handle.cpu_milli = max(ticks - last_ticks, 0) / CLK_TCK / elapsed * 1000
            handle._last_sample = (at, ticks)
            handle.memory = rss
            limit = handle.memory_limit
            if limit is not None and rss > limit and not handle.oom:
                handle.oom = True
                ns, pod = handle.pod_key
                log.info("%s/%s %s: %d bytes over its limit, killed", ns, pod, handle.name, rss)
                self._signal(handle, signal.SIGKILL)

    async def run(self) -> None:
        """Sample usage until cancelled; then stop every process before returning."""
        try:
            while True:
                await asyncio.sleep(self.sample_seconds)
                self.sample()
        finally:
            await self.shutdown()


def _tag(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _first_port(container: dict) -> int | None:
    for port in container.get("ports") or []:
        if port.get("containerPort"):
            return int(port["containerPort"])
    return None
