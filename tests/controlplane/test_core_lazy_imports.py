"""The web process and the watcher load every URL module and app; the heavy libraries that
only a worker's task needs (the statistics stack, the Kubernetes Engine client) must not
come with them: together they are over 100 MB in each of those processes."""

import subprocess
import sys

from tests.fixtures.controlplane import REPO_ROOT

HEAVY = ("scipy", "statsmodels", "pandas", "google.cloud.container_v1")

PROGRAM = """
import sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
import controlplane.asgi
print(" ".join(name for name in {heavy!r} if name in sys.modules))
"""


def test_loading_the_urls_and_apps_imports_no_worker_only_library(subprocess_env):
    loaded = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(heavy=HEAVY)],
        cwd=REPO_ROOT,
        env={**subprocess_env, "DJANGO_SETTINGS_MODULE": "controlplane.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == ""
