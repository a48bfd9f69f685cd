"""SSE fan-out through a real jupyter-server: one task appends ``--events`` deltas, read by
1, 10, 100 and 500 concurrent SSE subscribers on loopback.

Prints, per subscriber count: delivered/expected, events per second received (all
subscribers together), append → receive latency p50/p99, and the server's memory per idle
subscriber. Targets (issue 2): nothing lost; p50 <= 5 ms and p99 <= 50 ms at 100.

    python benchmarks/bench_stream.py [--store redis://127.0.0.1:6379/0] [--subscribers 1,10,100]

With ``--store redis://…`` the server keeps its logs in Redis (and runs the task itself),
and the store-level comparison with the seed app's pub/sub pattern
(``bench_stream_redis.py``) runs after it in the same invocation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plugin_dir(root: Path) -> Path:
    """A sys.path entry whose dist-info registers ``bench`` in the providers group."""
    info = root / "vibedraw_bench-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vibedraw-bench\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text(
        "[vibedraw_widget.providers]\nbench = bench_providers:BenchCode\n"
    )
    return root


@contextlib.contextmanager
def server(store: str, workdir: Path) -> Iterator[tuple[str, str, subprocess.Popen]]:
    port, token = free_port(), secrets.token_hex(8)
    path = os.pathsep.join([str(plugin_dir(workdir / "plugins")), str(HERE)])
    env = {**os.environ, "PYTHONPATH": path + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [
        sys.executable, "-m", "jupyter", "server", "--allow-root", "--no-browser",
        f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={workdir}", f"--VibeDraw.store_url={store}",
        "--VibeDraw.run_tasks=True", "--ServerApp.log_level=WARN",
    ]  # fmt: skip
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/vibedraw/api/"
    try:
        deadline = time.monotonic() + 60
        while True:  # readiness of a child process: nothing to wait on but the port
            try:
                headers = {"Authorization": f"token {token}"}
                if httpx.get(url + "providers", headers=headers, timeout=2).is_success:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start; see {workdir / 'server.log'}")
            time.sleep(0.1)
        yield url, token, process
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run_case(url: str, token: str, pid: int, subs: int, events: int, rate: float) -> dict:
    headers = {"Authorization": f"token {token}"}
    gate = Path(tempfile.mkdtemp()) / "go"
    limits = httpx.Limits(max_connections=subs + 10, max_keepalive_connections=subs + 10)
    async with httpx.AsyncClient(headers=headers, timeout=None, limits=limits) as http:
        body = {"sketch": {"strokes": []}, "provider": "bench",
                "prompt": f"n={events} rate={rate} gate={gate}"}  # fmt: skip
        task_id = (await http.post(url + "queue/3d", json=body)).json()["task_id"]
        connected = asyncio.Semaphore(0)
        latencies: list[list[float]] = [[] for _ in range(subs)]

        async def subscriber(index: int) -> int:
            # A lean raw-socket SSE reader: the benchmark measures the server, so the
            # client must not be the bottleneck (httpx-sse costs ~10x more per event).
            host, port = urlsplit(url).hostname, urlsplit(url).port
            reader, writer = await asyncio.open_connection(host, port)
            path = f"{urlsplit(url).path}subscribe/{task_id}"
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: token "
                         f"{token}\r\nAccept: text/event-stream\r\n\r\n".encode())  # fmt: skip
            received, buffer, done = 0, b"", False
            while not done and (chunk := await reader.read(65536)):
                now = time.time_ns()
                buffer += chunk
                *blocks, buffer = buffer.split(b"\n\n")
                for block in blocks:
                    if b"event: start" in block:
                        connected.release()
                    elif b"event: delta" in block:
                        data = json.loads(block.split(b"data: ", 1)[1])
                        latencies[index].append((now - int(data["text"])) / 1e6)
                        received += 1
                    elif b"event: complete" in block or b"event: error" in block:
                        done = True
            writer.close()
            return received

        before = rss_kib(pid)
        readers = [asyncio.ensure_future(subscriber(i)) for i in range(subs)]
        for _ in range(subs):
            await connected.acquire()
        idle_kib = (rss_kib(pid) - before) / subs
        started = time.perf_counter()
        gate.touch()
        counts = await asyncio.gather(*readers)
        elapsed = time.perf_counter() - started
    flat = sorted(x for per in latencies for x in per)
    return {
        "subscribers": subs,
        "delivered": sum(counts),
        "expected": subs * events,
        "events_per_s": sum(counts) / elapsed,
        "p50_ms": statistics.median(flat),
        "p99_ms": flat[min(len(flat) - 1, int(0.99 * len(flat)))],
        "idle_kib_per_subscriber": idle_kib,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="memory://", help="memory:// or redis://host:port/db")
    parser.add_argument("--subscribers", default="1,10,100,500")
    parser.add_argument("--events", type=int, default=1000, help="deltas the task appends")
    parser.add_argument("--rate", type=float, default=200.0, help="appends per second")
    args = parser.parse_args()
    sizes = [int(n) for n in args.subscribers.split(",")]
    print(f"store={args.store} events={args.events} rate={args.rate}/s (SSE over loopback)")
    print(f"{'subs':>5} {'delivered':>17} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'KiB/idle sub':>13}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, server(args.store, Path(tmp)) as (url, token, proc):
        for subs in sizes:
            r = asyncio.run(run_case(url, token, proc.pid, subs, args.events, args.rate))
            print(f"{r['subscribers']:>5} {r['delivered']:>8}/{r['expected']:<8} "
                  f"{r['events_per_s']:>10.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                  f"{r['idle_kib_per_subscriber']:>13.1f}")  # fmt: skip
    if args.store.startswith("redis"):
        sys.path.insert(0, str(HERE))
        import bench_stream_redis

        bench_stream_redis.main(["--store", args.store])


if __name__ == "__main__":
    main()
