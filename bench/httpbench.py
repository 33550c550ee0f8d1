#!/usr/bin/env python3
"""Closed-loop HTTP/1.1 throughput: N clients, each sending its next request as soon as the last
answer is in, for a fixed time, over TCP, TLS or a unix socket; connections are kept alive unless
the server closes them (gunicorn's sync workers do, after every response: then the client, like
nginx in front of gunicorn, connects again, and that time is part of the latency).

Standard library only: `make bench` copies it onto the host and runs it there with the host's
Python, so the same client measures nginx (TCP, TLS) and gunicorn's own unix socket. It prints one
JSON object: requests, non-2xx, errors, seconds, rps, p50/p99/max latency (ms) and the client's own
CPU seconds (when they approach the wall time, the client and not the server set the figure).

    httpbench.py --target unix:/run/app/gunicorn.sock --host example.org --path /api/ --seconds 10
    httpbench.py --target tls:127.0.0.1:443 --host example.org --cafile root.pem --path /api/
    httpbench.py --target tcp:127.0.0.1:80 --host example.org --path /api/ --connections 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="unix:PATH, tcp:HOST:PORT or tls:HOST:PORT")
    p.add_argument("--host", required=True, help="the Host header (and the TLS server name)")
    p.add_argument("--path", default="/")
    p.add_argument("--header", action="append", default=[], help="extra 'Name: value' header")
    p.add_argument("--cafile", default=None, help="CA bundle for tls: (default: the system's)")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--seconds", type=float, default=10.0, help="how long to measure (at most 300)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of requests before measuring")
    args = p.parse_args(argv)
    if not 0 < args.seconds <= 300 or not 0 <= args.warmup <= 60:
        p.error("--seconds must be in (0, 300] and --warmup in [0, 60]")
    if not 1 <= args.connections <= 256:
        p.error("--connections must be 1 to 256")
    return args


class Stats:
    def __init__(self):
        self.measuring = False
        self.latencies: list[float] = []
        self.non_2xx = 0
        self.errors: dict[str, int] = {}

    def error(self, exc: BaseException):
        if self.measuring:
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """One response: its status, and whether the server closes the connection after it (gunicorn's
    sync workers do after every response; the client then connects again, as nginx does)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close"


async def connect(args, context):
    kind, _, rest = args.target.partition(":")
    if kind == "unix":
        return await asyncio.open_unix_connection(rest)
    host, _, port = rest.rpartition(":")
    if kind == "tls":
        return await asyncio.open_connection(host, int(port), ssl=context, server_hostname=args.host)
    if kind == "tcp":
        return await asyncio.open_connection(host, int(port))
    raise SystemExit(f"httpbench: unknown target kind {kind!r} (unix:, tcp: or tls:)")


async def client(args, context, request: bytes, stats: Stats, deadline: float):
    writer = None
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await connect(args, context)
            start = time.monotonic()
            writer.write(request)
            status, closing = await read_response(reader)
            if stats.measuring:
                stats.latencies.append(time.monotonic() - start)
                if not 200 <= status < 300:
                    stats.non_2xx += 1
            if closing:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            stats.error(exc)
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def measure(args) -> dict:
    context = ssl.create_default_context(cafile=args.cafile) if args.target.startswith("tls:") else None
    extra = "".join(f"{h.split(':', 1)[0].strip()}: {h.split(':', 1)[1].strip()}\r\n" for h in args.header)
    request = f"GET {args.path} HTTP/1.1\r\nHost: {args.host}\r\nAccept: */*\r\n{extra}\r\n".encode("latin-1")
    stats = Stats()
    loop_start = time.monotonic()
    deadline = loop_start + args.warmup + args.seconds
    tasks = [
        asyncio.create_task(client(args, context, request, stats, deadline)) for _ in range(args.connections)
    ]
    await asyncio.sleep(args.warmup)
    stats.measuring = True
    cpu_start, start = time.process_time(), time.monotonic()
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    stats.measuring = False
    seconds = time.monotonic() - start
    cpu = time.process_time() - cpu_start
    await asyncio.gather(*tasks)
    lat = sorted(stats.latencies)

    def pct(q):
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 2) if lat else None

    return {
        "target": args.target,
        "path": args.path,
        "connections": args.connections,
        "requests": len(lat),
        "non_2xx": stats.non_2xx,
        "errors": stats.errors,
        "seconds": round(seconds, 2),
        "rps": round(len(lat) / seconds, 1) if seconds else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "client_cpu_s": round(cpu, 2),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    result = asyncio.run(measure(args))
    print(json.dumps(result))
    return 0 if result["requests"] > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
