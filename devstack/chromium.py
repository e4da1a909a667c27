"""Headless Chromium for the browser tests: Debian's package, never a downloaded build."""

import os
import shutil
from pathlib import Path

from devstack.system import apt_install

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).exists() else None
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def ensure_chromium() -> str:
    found = find_chromium()
    if found:
        return found
    apt_install("chromium", why="The browser tests need Chromium and it is not installed")
    found = find_chromium()
    if not found:
        raise RuntimeError("chromium is still missing after installing it")
    return found
