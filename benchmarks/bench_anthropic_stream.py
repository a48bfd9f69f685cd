"""Delta forwarding through the server: Claude's stream → our SSE, measured end to end.

A local fake of the Messages API (the tests' ``FakeAnthropic``) streams ``--deltas``
text deltas ``--pace`` seconds apart, each stamped with the time it left the fake; a
jupyter-server (subprocess) runs the real ``anthropic`` SDK against it; one SSE reader
measures stamp → receipt for every delta. Prints p50/p99 and whether every delta came
as its own event, in order, before ``complete``.

    python benchmarks/bench_anthropic_stream.py [--deltas 300] [--pace 0.01]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from httpx_sse import connect_sse

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_stream import server  # noqa: E402

from tests.fakes.anthropic_api import FakeAnthropic, StreamReply  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=300)
    parser.add_argument("--pace", type=float, default=0.01, help="seconds between deltas")
    args = parser.parse_args()
    reply = StreamReply(deltas=["x"] * args.deltas, pace=args.pace, stamp=True)
    with FakeAnthropic(script=[reply]) as fake, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="sk-ant-bench")
        with server("memory://", Path(tmp)) as (url, token, _):
            headers = {"Authorization": f"token {token}"}
            with httpx.Client(headers=headers, timeout=60) as http:
                body = {"sketch": {"strokes": []}, "provider": "anthropic", "prompt": "a cube"}
                task_id = http.post(url + "queue/3d", json=body).json()["task_id"]
                latencies, order, kinds = [], [], []
                with connect_sse(http, "GET", f"{url}subscribe/{task_id}") as source:
                    for sse in source.iter_sse():
                        now = time.time_ns()
                        if not sse.event:
                            continue
                        kinds.append(sse.event)
                        if sse.event == "delta":
                            stamp = int(sse.json()["text"])
                            latencies.append((now - stamp) / 1e6)
                            order.append(stamp)
                        if sse.event in ("complete", "error", "cancelled"):
                            break
    latencies.sort()
    print(f"{args.deltas} deltas, {args.pace * 1000:.0f} ms apart, fake API → SDK → server → SSE")
    print(f"  received {len(latencies)} delta events (one per API delta: "
          f"{len(latencies) == args.deltas}), in order: {order == sorted(order)}, "
          f"ended with: {kinds[-1]}")  # fmt: skip
    print(f"  forwarding latency p50 {statistics.median(latencies):.2f} ms   "
          f"p99 {latencies[int(0.99 * (len(latencies) - 1))]:.2f} ms   "
          f"max {latencies[-1]:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
