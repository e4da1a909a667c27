"""`python -m inference`: serve the model named by MODEL_URI until SIGTERM (see README.md)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading

from inference.config import ConfigError, Settings


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"inference: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # TensorFlow's C++ start-up chatter drowns the server's own log lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from inference.lifecycle import serve

    code = asyncio.run(serve(settings))
    if any(t.name == "inference-model" and t.is_alive() for t in threading.enumerate()):
        # Stopped while TensorFlow was still loading on the model thread: interpreter
        # teardown under a running TF call can crash, so leave without it.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
