"""python -m sandbox.load --url URL --rate N --duration S: steady load on a URL, and a report.

Open loop: requests start at the given rate whatever the answers do (up to --concurrency in
flight), so a slow server shows as latency and errors rather than as a quietly lower rate.
For the inference server the body has the right size: a `:predict` URL gets
`{"instances": [image]}` and a `/v1/segment` URL a PNG, with the image size read from the
model's metadata (`GET /v1/models/NAME/metadata`) unless --image-size says it. Any other URL
is fetched with GET. The report gives requests, errors (by status), the achieved rate and the
latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import struct
import sys
import time
import zlib
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import aiohttp


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sandbox.load", description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--rate", type=float, required=True, help="requests per second")
    p.add_argument("--duration", type=float, required=True, help="seconds")
    p.add_argument("--concurrency", type=int, default=256, help="most requests in flight")
    p.add_argument("--image-size", type=int, help="image side (default: from model metadata)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.concurrency <= 0:
        p.error("--rate, --duration and --concurrency must be positive")
    if urlsplit(args.url).scheme not in ("http", "https"):
        p.error("--url must be an http:// or https:// URL")
    return args


def png(width: int, height: int, seed: int = 0) -> bytes:
    """A noisy RGB PNG (stdlib only), so the server decodes a real image of that size."""
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def predict_body(size: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    image = [[[rng.randrange(256) for _ in range(3)] for _ in range(size)] for _ in range(size)]
    return json.dumps({"instances": [image]}, separators=(",", ":")).encode()


async def image_size_from_metadata(session: aiohttp.ClientSession, url: str) -> int:
    parts = urlsplit(url)
    model_path = parts.path.split(":", 1)[0] if ":predict" in parts.path else None
    if model_path is None:
        raise ValueError("give --image-size: only :predict URLs name their model")
    meta_url = urlunsplit((parts.scheme, parts.netloc, model_path + "/metadata", "", ""))
    async with session.get(meta_url) as resp:
        if resp.status != 200:
            raise ValueError(f"GET {meta_url} answered {resp.status}; give --image-size")
        doc = await resp.json()
    signatures = doc["metadata"]["signature_def"]["signature_def"]
    inputs = signatures["serving_default"]["inputs"]
    dims = next(iter(inputs.values()))["tensor_shape"]["dim"]
    return int(dims[1]["size"])


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(args: argparse.Namespace) -> dict:
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        method, body, headers = "GET", None, {}
        if ":predict" in args.url or args.url.rstrip("/").endswith("/v1/segment"):
            size = args.image_size or await image_size_from_metadata(session, args.url)
            method = "POST"
            if ":predict" in args.url:
                body, headers = predict_body(size), {"Content-Type": "application/json"}
            else:
                body, headers = png(size, size), {"Content-Type": "image/png"}
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        slots = asyncio.Semaphore(args.concurrency)

        async def one() -> None:
            async with slots:
                start = time.perf_counter()
                try:
                    async with session.request(method, args.url, data=body, headers=headers) as r:
                        await r.read()
                        statuses[str(r.status)] += 1
                        if r.status < 400:
                            latencies.append(time.perf_counter() - start)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses[type(exc).__name__] += 1

        total = max(1, int(args.rate * args.duration))
        interval = 1.0 / args.rate
        began = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = began + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    latencies.sort()
    ok = sum(n for code, n in statuses.items() if code.isdigit() and int(code) < 400)
    return {
        "url": args.url,
        "requests": total,
        "errors": total - ok,
        "statuses": dict(sorted(statuses.items())),
        "seconds": round(elapsed, 3),
        "rate": round(total / elapsed, 2),
        "latency_ms": {
            name: round(percentile(latencies, q) * 1000, 2)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(run(args))
    except ValueError as exc:
        print(f"sandbox.load: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        lat = report["latency_ms"]
        print(f"url       {report['url']}")
        print(f"requests  {report['requests']} in {report['seconds']} s ({report['rate']}/s)")
        print(f"errors    {report['errors']}  statuses {report['statuses']}")
        print(
            f"latency   p50 {lat['p50']} ms  p90 {lat['p90']} ms  p99 {lat['p99']} ms  "
            f"max {lat['max']} ms"
        )
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
