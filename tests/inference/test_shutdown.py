"""`python -m inference` as Kubernetes runs it: SIGTERM drains in-flight requests, exits 0."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
import requests

from tests.inference.conftest import IMAGE_SIZE, MODEL_NAME, wait_until

pytestmark = pytest.mark.timeout(120)


class ServerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.port: int | None = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "inference"],
            env={**os.environ, **env},
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_until(lambda: self.port or self.proc.poll() is not None, message="the port")
        assert self.port, "server exited early:\n" + "\n".join(self.lines)
        self.url = f"http://127.0.0.1:{self.port}"

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            match = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match[1])

    def log(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def base_env(model_uri: str) -> dict[str, str]:
    return {
        "MODEL_URI": model_uri,
        "MODEL_NAME": MODEL_NAME,
        "MODEL_VERSION": "7",
        "HOST": "127.0.0.1",
        "PORT": "0",
        "MAX_BATCH_SIZE": "4",
        "DRAIN_GRACE_SECONDS": "1",
        "SHUTDOWN_TIMEOUT_SECONDS": "60",
    }


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_finishes_in_flight_requests_refuses_new_ones_and_exits_zero(exported_model):
    server = ServerProcess(base_env(str(exported_model["saved_model"])))
    try:
        wait_until(
            lambda: requests.get(server.url + "/readyz", timeout=5).status_code == 200,
            timeout=90,
            message="readiness",
        )
        body = json.dumps({"instances": np.ones((2, IMAGE_SIZE, IMAGE_SIZE, 3)).tolist()}).encode()
        in_flight = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        head = (
            f"POST /v1/models/{MODEL_NAME}:predict HTTP/1.1\r\nHost: test\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        half = len(body) // 2
        in_flight.sendall(head.encode() + body[:half])

        server.proc.send_signal(signal.SIGTERM)
        wait_until(
            lambda: (
                refuses_connections(server.port)
                or requests.get(server.url + "/readyz", timeout=5).status_code == 503
            ),
            message="readiness to turn off",
        )
        wait_until(lambda: refuses_connections(server.port), message="new connections refused")
        assert server.proc.poll() is None, "exited with a request still in flight"

        in_flight.sendall(body[half:])
        response = http.client.HTTPResponse(in_flight)
        response.begin()
        payload = json.loads(response.read())
        in_flight.close()
        assert response.status == 200
        assert response.getheader("X-Model-Version") == "7"
        assert np.asarray(payload["predictions"]).shape == (2, IMAGE_SIZE, IMAGE_SIZE, 3)

        assert server.proc.wait(60) == 0, server.log()
        assert "received SIGTERM" in server.log()
    finally:
        server.kill()


def test_sigterm_while_the_model_is_still_loading_exits_zero(exported_model):
    server = ServerProcess(base_env(str(exported_model["saved_model"])))
    try:
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(60) == 0, server.log()
    finally:
        server.kill()


def test_a_model_that_cannot_load_makes_the_process_exit_nonzero(tmp_path):
    server = ServerProcess(base_env(str(tmp_path / "nowhere")))
    try:
        assert server.proc.wait(90) == 1
        assert "does not exist" in server.log()
    finally:
        server.kill()


def test_a_bad_setting_stops_the_process_with_a_message_naming_it():
    result = subprocess.run(
        [sys.executable, "-m", "inference"],
        env={**os.environ, "MODEL_URI": "/m", "MAX_BATCH_SIZE": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "MAX_BATCH_SIZE must be an integer, got 'lots'" in result.stderr


def test_a_second_sigterm_cuts_the_grace_period_short(exported_model):
    env = {**base_env(str(exported_model["saved_model"])), "DRAIN_GRACE_SECONDS": "600"}
    server = ServerProcess(env)
    try:
        wait_until(
            lambda: requests.get(server.url + "/readyz", timeout=5).status_code == 200,
            timeout=90,
            message="readiness",
        )
        server.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "still serving for 600.0s" in server.log(), message="the grace period")
        assert requests.get(server.url + "/readyz", timeout=5).status_code == 503
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(60) == 0, server.log()
        assert "ending the grace period now" in server.log()
    finally:
        server.kill()
