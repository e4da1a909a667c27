"""A stand-in container program for the process runtime tests (stdlib only, starts fast).

Listens on $HOST:$PORT (HTTP/1.1, keep-alive): `/` answers `pod=$HOSTNAME`, `/healthz` and
`/readyz` answer 200 until `/fail-live` or `/fail-ready` is called. Prints its pid, the
environment variables named by --print-env and a line per request. Options make it exit with
a code after a while, spawn a grandchild, hold memory, or take its time over SIGTERM.
"""

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import threading
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--exit-after", type=float)
    p.add_argument("--exit-code", type=int, default=0)
    p.add_argument("--term-delay", type=float, default=0.0)
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--grandchild", action="store_true")
    p.add_argument("--hold-mib", type=int, default=0)
    p.add_argument("--print-env", nargs="*", default=[])
    p.add_argument("--no-listen", action="store_true")
    p.add_argument("--record", help="append the signals received to this file")
    p.add_argument("--quiet", action="store_true", help="no log line per request")
    p.add_argument("--burn", type=float, default=0.0, help="fraction of a core to keep busy")
    args = p.parse_args()
    print(f"standin pid={os.getpid()} cwd={os.getcwd()} argv={' '.join(sys.argv[1:])}", flush=True)
    for name in args.print_env:
        print(f"env {name}={os.environ.get(name, '')}", flush=True)
    print("a line on stderr", file=sys.stderr, flush=True)
    if args.grandchild:
        child = subprocess.Popen(["sleep", "300"])
        print(f"grandchild pid={child.pid}", flush=True)
    if args.burn > 0:
        threading.Thread(target=burn, args=(args.burn,), daemon=True).start()
    held = bytearray(args.hold_mib * 2**20)
    for i in range(0, len(held), 4096):
        held[i] = 1
    return asyncio.run(serve(args))


def burn(fraction: float) -> None:
    """Keep `fraction` of one core busy, in 20 ms periods."""
    while True:
        start = time.perf_counter()
        while time.perf_counter() - start < 0.02 * fraction:
            pass
        time.sleep(0.02 * (1 - fraction))


async def serve(args) -> int:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    state = {"live": True, "ready": True, "draining": False}

    def on_term() -> None:
        print("got SIGTERM", flush=True)
        # like the inference server: keep serving for --term-delay, moving clients off
        state["draining"] = True
        if args.record:
            with open(args.record, "a") as fh:
                fh.write(f"SIGTERM pid={os.getpid()}\n")
        if args.ignore_term:
            return
        loop.call_later(args.term_delay, done.set)

    loop.add_signal_handler(signal.SIGTERM, on_term)
    if args.exit_after is not None:
        loop.call_later(args.exit_after, done.set)

    async def handle(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                path = line.split()[1].decode() if len(line.split()) > 1 else "/"
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                status, body = 200, f"pod={os.environ.get('HOSTNAME', '')}\n"
                if path == "/fail-live":
                    state["live"] = False
                elif path == "/fail-ready":
                    state["ready"] = False
                elif path == "/healthz" and not state["live"]:
                    status = 500
                elif path == "/readyz" and not state["ready"]:
                    status = 503
                if path not in ("/healthz", "/readyz") and not args.quiet:
                    print(f"request {path} {status}", flush=True)
                data = body.encode()
                close = "Connection: close\r\n" if state["draining"] else ""
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Length: {len(data)}\r\n{close}\r\n".encode()
                    + data
                )
                await writer.drain()
                if close:
                    break
        except (ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    if not args.no_listen:
        server = await asyncio.start_server(handle, os.environ["HOST"], int(os.environ["PORT"]))
        print(f"listening on {os.environ['HOST']}:{os.environ['PORT']}", flush=True)
    await done.wait()
    if not args.no_listen:
        server.close()
    print(f"exiting with {args.exit_code}", flush=True)
    return args.exit_code


if __name__ == "__main__":
    sys.exit(main())
