"""Browser tests: Debian's Chromium driven by Playwright against a real stack.

The stack is what a user runs: daphne serving the ASGI app (HTTP and websockets), the
watcher (`manage.py watch`) and the session's Celery worker, all subprocesses sharing this
test session's database and Redis prefix, and the sandbox cluster.
"""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from sandbox.testing import free_port
from tests.fixtures.controlplane import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
# devstack (make test) says where it found Chromium; Debian puts it here.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", REPO_ROOT / ".run" / "screenshots"))


class Service:
    def __init__(self, name: str, command: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def live_stack(subprocess_env, celery_worker, tmp_path_factory):
    """daphne + the watcher on this session's database; yields the base URL."""
    log_dir = tmp_path_factory.mktemp("stack")
    port = free_port()
    env = {**subprocess_env, "WATCHER_POLL_INTERVAL": "0.5", "WATCH_TIMEOUT_SECONDS": "15"}
    python = sys.executable
    web = Service(
        "daphne",
        [
            python,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "controlplane.asgi:application",
        ],
        env,
        log_dir,
    )
    watcher = Service("watcher", [python, "manage.py", "watch"], env, log_dir)
    base_url = f"http://127.0.0.1:{port}"

    def serving():
        assert web.alive(), web.log()
        assert watcher.alive(), watcher.log()
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(serving, timeout=60, what="daphne to serve")
        yield base_url
    finally:
        web.stop()
        watcher.stop()


# Package scope: Playwright's sync API keeps an event loop running in the main thread while it
# is open, which would break every later test that uses async_to_sync; it must close when the
# browser tests end, and so must the async-unsafe allowance below.
@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        )
    # With that loop running Django refuses ORM calls from test code; the browser tests only
    # use the ORM for set-up and checks.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_stack, request):
    context = browser.new_context(base_url=live_stack, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-failed.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
