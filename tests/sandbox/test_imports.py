"""Every sandbox module can be imported first: no import cycles between its packages."""

from __future__ import annotations

import pkgutil
import random
import subprocess
import sys

import sandbox

# Run in a fresh interpreter. Before each module the sandbox's modules are dropped from
# sys.modules, so that module is imported first, as it would be in a new process; third-party
# modules stay loaded, which keeps 50-odd fresh starts fast.
_PROBE = """
import importlib, sys
order = sys.argv[1:]
for first in order:
    for name in [m for m in sys.modules if m == "sandbox" or m.startswith("sandbox.")]:
        del sys.modules[name]
    for name in [first, *[m for m in order if m != first]]:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            print(f"importing {name} after {first} first failed: {exc}")
            sys.exit(1)
"""


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(sandbox.__path__, "sandbox."))


def test_every_sandbox_module_imports_first_in_a_fresh_interpreter():
    modules = _modules()
    assert "sandbox.scripting" in modules
    assert "sandbox.controllers" in modules
    seed = random.randrange(1_000_000)
    order = modules[:]
    random.Random(seed).shuffle(order)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *order], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"order seed {seed}: {result.stdout}{result.stderr}"


def test_scripting_imports_before_the_controllers():
    # the cycle that existed: scripting -> controllers.util -> controllers -> kubelet -> scripting
    code = "import sandbox.scripting, sandbox.controllers, sandbox.kubelet, sandbox.kubelet.usage"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
