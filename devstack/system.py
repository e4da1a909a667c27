"""Installing a missing system package, only where that is allowed without asking anyone."""

import os
import shutil
import subprocess


class SetupError(RuntimeError):
    """Set-up cannot continue; the message tells the user exactly what to do."""


def can_install_packages() -> bool:
    return shutil.which("apt-get") is not None and os.geteuid() == 0


def apt_install(package: str, *, why: str) -> None:
    if not can_install_packages():
        raise SetupError(
            f"{why}. Install it with: sudo apt-get install -y {package} "
            "(or your system's package manager), then run the command again."
        )
    print(f"devstack: {why}; installing {package} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env)
