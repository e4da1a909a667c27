"""python -m bench: run every benchmark module in bench/ (each in its own process)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    if argv:
        unknown = set(argv) - set(names)
        if unknown:
            print(f"unknown benchmarks: {sorted(unknown)}; known: {names}", file=sys.stderr)
            return 2
        names = [n for n in names if n in argv]
    failed = []
    for name in names:
        print(f"== bench.{name}", flush=True)
        rc = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=here.parent)
        if rc != 0:
            failed.append(name)
            print(f"== bench.{name} failed with exit code {rc}", flush=True)
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
