"""The Prometheus server the experiments' PromQL tests scrape the sandbox with: Debian's
package, never a downloaded build."""

import os
import shutil
from pathlib import Path

from devstack.system import apt_install


def find_prometheus() -> str | None:
    configured = os.environ.get("PROMETHEUS_PATH")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("prometheus")


def ensure_prometheus() -> str:
    found = find_prometheus()
    if found:
        return found
    apt_install(
        "prometheus", why="The PromQL tests need a Prometheus server and it is not installed"
    )
    found = find_prometheus()
    if not found:
        raise RuntimeError("prometheus is still missing after installing it")
    return found
