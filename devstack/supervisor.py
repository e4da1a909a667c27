"""Keeps `make run`'s processes up, as a production supervisor would.

Each process runs with its output prefixed by its name. One that dies is started again after
a back-off (doubling from one second to thirty, reset once it has stayed up for a minute),
and the log says so: a killed worker, watcher or sandbox must not take the whole stack down.
Ctrl-C or SIGTERM stops them all: SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
STABLE_AFTER = 60.0
GRACE_SECONDS = 15.0


def say(name: str, line: str) -> None:
    sys.stdout.write(f"{name:>9} | {line}\n")
    sys.stdout.flush()


@dataclass
class Program:
    name: str
    command: list[str]
    env: dict
    cwd: str
    # Where the output goes: None to the prefixed console, else a file (the sandbox's log).
    log_path: str | None = None
    # Called before every restart (not the first start), e.g. to pin the sandbox's port.
    before_restart: Callable[[Program], None] | None = None
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = BACKOFF_START
    next_start: float = 0.0
    pump: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self) -> None:
        self.programs: list[Program] = []
        self._stopping = threading.Event()

    def add(self, program: Program) -> None:
        self.programs.append(program)

    def adopt(self, program: Program, process: subprocess.Popen) -> None:
        """Supervise a process that was started already (e.g. the sandbox, started first)."""
        program.process = process
        program.started_at = time.monotonic()
        self.programs.append(program)
        say(program.name, f"started (pid {process.pid})")

    def _start(self, program: Program) -> None:
        if program.log_path:
            with open(program.log_path, "ab") as log:
                program.process = subprocess.Popen(
                    program.command, cwd=program.cwd, env=program.env, stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
        else:
            program.process = subprocess.Popen(
                program.command, cwd=program.cwd, env=program.env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, bufsize=1, text=True, errors="replace",
            )  # fmt: skip
            program.pump = threading.Thread(
                target=self._pump, args=(program, program.process), daemon=True
            )
            program.pump.start()
        program.started_at = time.monotonic()
        say(program.name, f"started (pid {program.process.pid})")

    @staticmethod
    def _pump(program: Program, process: subprocess.Popen) -> None:
        for line in process.stdout:
            say(program.name, line.rstrip("\n"))

    def _check(self, program: Program, now: float) -> None:
        process = program.process
        if process is not None:
            code = process.poll()
            if code is None:
                if now - program.started_at > STABLE_AFTER:
                    program.backoff = BACKOFF_START
                return
            delay = program.backoff
            program.backoff = min(BACKOFF_CAP, program.backoff * 2)
            program.restarts += 1
            program.next_start = now + delay
            program.process = None
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            say(
                "supervisor",
                f"{program.name} died ({how}); restarting in {delay:.0f} s "
                f"(restart {program.restarts})",
            )
            return
        if now >= program.next_start:
            if program.before_restart is not None:
                program.before_restart(program)
            self._start(program)

    def run(self) -> int:
        """Start everything not yet started, keep it up until stop() is asked, then stop all."""
        for program in self.programs:
            if program.process is None:
                self._start(program)
        while not self._stopping.wait(0.5):
            now = time.monotonic()
            for program in self.programs:
                if not self._stopping.is_set():
                    self._check(program, now)
        self._shutdown()
        return 0

    def stop(self) -> None:
        """Ask run() to stop everything (safe from a signal handler or another thread)."""
        self._stopping.set()

    def _shutdown(self) -> None:
        running = [p for p in reversed(self.programs) if p.process and p.process.poll() is None]
        for program in running:
            program.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for program in running:
            try:
                program.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                program.process.kill()
                program.process.wait()
            say(program.name, "stopped")

    def install_signal_handlers(self) -> None:
        def handle(signum, frame):
            # Children in our process group got a Ctrl-C too; the rest get SIGTERM on the way out.
            self.stop()

        signal.signal(signal.SIGINT, handle)
        signal.signal(signal.SIGTERM, handle)
