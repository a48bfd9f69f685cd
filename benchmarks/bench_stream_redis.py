"""Benchmark: append → receive latency and events/s of a task's event stream, for

* ``memory``    — the in-process :class:`MemoryStore` (the embedded default),
* ``redis``     — our :class:`RedisStore` (Redis Streams, one ``XREAD BLOCK`` per task
                  per process, fanned out in memory), the writer on its own connection,
* ``reference`` — the seed app's pattern: Redis pub/sub, each subscriber on its own
                  connection calling ``get_message()`` in a loop with a 10 ms sleep,

at 1, 100 and 500 subscribers of one task, all in the same run and on the same Redis.

Latency: ``--events`` events appended at ``--rate`` per second; for every (event,
subscriber) pair, the time from just before the append call to the subscriber holding it
(p50, p99). Throughput: ``--burst`` events appended back to back; events/s is what each
subscriber received per second until the last one had them all.

Run: ``python benchmarks/bench_stream_redis.py [--store redis://host:port/db]`` (without
``--store`` a throw-away redis-server is started on a free port).
Target: ``redis`` p50 at least 5x lower than ``reference`` p50.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from vibedraw_widget.engine.stores import MemoryStore
from vibedraw_widget.engine.stores.redis import RedisStore
from vibedraw_widget.engine.tasks import TaskRecord
from vibedraw_widget.settings import Settings


@dataclass
class Result:
    impl: str
    subscribers: int
    p50_ms: float
    p99_ms: float
    events_per_s: float  # per subscriber, in the burst


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Probe:
    """Send times by event index; subscribers report what they received and when."""

    def __init__(self, subscribers: int) -> None:
        self.subscribers = subscribers
        self.sent: dict[int, float] = {}
        self.latencies: list[float] = []
        self.counts: dict[int, int] = {}
        self.done = asyncio.Event()
        self.target = 0
        self.finished = 0

    def start(self, target: int) -> None:
        """Expect every subscriber to receive events up to index ``target``."""
        self.target, self.finished = target, 0
        self.done = asyncio.Event()

    def received(self, subscriber: int, index: int, record: bool) -> None:
        if record and index in self.sent:
            self.latencies.append(time.perf_counter() - self.sent[index])
        if index == self.target:
            self.finished += 1
            if self.finished == self.subscribers:
                self.done.set()


# -- the three implementations ------------------------------------------------------------
# Each gives: subscribe(n, probe) → a ready coroutine list; publish(index, record) → None.


class OurStore:
    """``memory`` or ``redis``: one task, ``n`` followers, the writer appends deltas."""

    def __init__(self, writer, reader) -> None:
        self.writer, self.reader = writer, reader
        self.task_id = str(uuid.uuid4())
        self.recording = True

    async def subscribe(self, n: int, probe: Probe) -> list[asyncio.Task[None]]:
        await self.writer.create(TaskRecord(self.task_id, "3d", "bench"))

        async def follow(k: int) -> None:
            async for event in self.reader.follow(self.task_id):
                if event.terminal:
                    return
                probe.received(k, event.data["i"], self.recording)

        return [asyncio.ensure_future(follow(k)) for k in range(n)]

    async def publish(self, index: int) -> None:
        await self.writer.append(self.task_id, "delta", {"i": index, "text": "x" * 32})

    async def close(self) -> None:
        await self.writer.append(self.task_id, "complete", {"status": "completed"})


class Reference:
    """The seed app: PUBLISH per event; each subscriber polls its pub/sub connection every
    10 ms (``get_message()`` then ``sleep(0.01)``, as in the original SSE loop)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.channel = f"bench:{uuid.uuid4()}"
        self.publisher = aioredis.from_url(url)
        self.clients: list[aioredis.Redis] = []
        self.stop = False
        self.recording = True

    async def subscribe(self, n: int, probe: Probe) -> list[asyncio.Task[None]]:
        pubsubs = []
        for _ in range(n):
            client = aioredis.from_url(self.url)
            self.clients.append(client)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(self.channel)
            pubsubs.append(pubsub)

        async def poll(k: int, pubsub) -> None:
            while not self.stop:
                message = await pubsub.get_message(ignore_subscribe_messages=True)
                if message is not None:
                    probe.received(k, json.loads(message["data"])["i"], self.recording)
                await asyncio.sleep(0.01)
            await pubsub.aclose()

        return [asyncio.ensure_future(poll(k, p)) for k, p in enumerate(pubsubs)]

    async def publish(self, index: int) -> None:
        await self.publisher.publish(self.channel, json.dumps({"i": index, "text": "x" * 32}))

    async def close(self) -> None:
        self.stop = True


async def measure(
    impl: str,
    make: Callable[[], Awaitable],
    subscribers: int,
    events: int,
    rate: float,
    burst: int,
) -> Result:
    target = await make()
    probe = Probe(subscribers)
    tasks = await target.subscribe(subscribers, probe)
    index = 0

    async def send(count: int, interval: float, record: bool) -> None:
        nonlocal index
        probe.start(index + count - 1)
        start = time.perf_counter()
        for k in range(count):
            if interval:
                delay = start + k * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if record:
                probe.sent[index] = time.perf_counter()
            await target.publish(index)
            index += 1
        await asyncio.wait_for(probe.done.wait(), 600)

    # warm up: every subscriber is connected and has received something
    target.recording = False
    await send(5, 0.01, record=False)
    target.recording = True
    await send(events, 1.0 / rate, record=True)
    latencies = list(probe.latencies)
    target.recording = False
    started = time.perf_counter()
    await send(burst, 0.0, record=False)
    elapsed = time.perf_counter() - started
    await target.close()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    for closer in getattr(target, "closers", []):
        await closer()
    return Result(
        impl,
        subscribers,
        statistics.median(latencies) * 1000,
        _percentile(latencies, 0.99) * 1000,
        burst / elapsed,
    )


# -- a throw-away redis-server -------------------------------------------------------------


@contextlib.contextmanager
def temporary_redis() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
             "--save", "", "--appendonly", "no", "--maxclients", "4000"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            client.close()
            process.terminate()
            process.wait()


async def run(url: str, sizes: list[int], events: int, rate: float, burst: int) -> list[Result]:
    results = []
    settings = Settings(store_url=url, retention_seconds=600)
    for n in sizes:

        async def memory():
            store = MemoryStore()
            return OurStore(store, store)

        async def ours():
            writer = RedisStore(url, settings)  # the worker's connection
            reader = RedisStore(url, settings)  # the server's
            target = OurStore(writer, reader)
            target.closers = [writer.close, reader.close]
            return target

        async def reference():
            target = Reference(url)

            async def close_all() -> None:
                await target.publisher.aclose()
                for client in target.clients:
                    await client.aclose()

            target.closers = [close_all]
            return target

        for impl, make in (("memory", memory), ("redis", ours), ("reference", reference)):
            result = await measure(impl, make, n, events, rate, burst)
            print(
                f"{impl:<10} {n:>5} subscribers: p50 {result.p50_ms:8.2f} ms  "
                f"p99 {result.p99_ms:8.2f} ms  {result.events_per_s:9.0f} events/s",
                flush=True,
            )
            results.append(result)
    return results


def table(results: list[Result]) -> str:
    lines = [
        "| store | subscribers | p50 ms | p99 ms | events/s per subscriber |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.impl} | {r.subscribers} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.events_per_s:,.0f} |"
        )
    lines += ["", "| subscribers | reference p50 / redis p50 | redis events/s / reference |"]
    lines.append("|---:|---:|---:|")
    by = {(r.impl, r.subscribers): r for r in results}
    for n in sorted({r.subscribers for r in results}):
        ours, ref = by[("redis", n)], by[("reference", n)]
        lines.append(
            f"| {n} | {ref.p50_ms / ours.p50_ms:.1f}x | "
            f"{ours.events_per_s / ref.events_per_s:.1f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default=None, help="redis://… (default: a temporary server)")
    parser.add_argument("--subscribers", default="1,100,500", help="comma-separated counts")
    parser.add_argument("--events", type=int, default=200, help="events in the latency run")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s in the latency run")
    parser.add_argument("--burst", type=int, default=500, help="events in the throughput run")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.subscribers.split(",")]
    with contextlib.ExitStack() as stack:
        url = args.store or stack.enter_context(temporary_redis())
        results = asyncio.run(run(url, sizes, args.events, args.rate, args.burst))
    print()
    print(table(results))
    worst = min(
        next(r for r in results if r.impl == "reference" and r.subscribers == n).p50_ms
        / next(r for r in results if r.impl == "redis" and r.subscribers == n).p50_ms
        for n in sizes
    )
    print(f"\nredis p50 beats the reference's by {worst:.1f}x at worst (target: 5x)")
    return 0 if worst >= 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
