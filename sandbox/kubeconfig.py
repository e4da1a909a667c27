"""Kubeconfig files for the sandbox: one cluster, one user (a bearer token), one context."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import yaml


def render(
    server: str,
    token: str,
    *,
    ca_pem: str | None = None,
    name: str = "sandbox",
    user: str = "sandbox-admin",
) -> str:
    cluster: dict = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": user, "namespace": "default"}}
        ],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write(
    path: Path, server: str, token: str, *, ca_pem: str | None = None, user: str = "sandbox-admin"
) -> None:
    """Write atomically, so a reader polling for the file never sees half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kubeconfig-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(render(server, token, ca_pem=ca_pem, user=user))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
