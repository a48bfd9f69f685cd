"""Does a 200,000-point sketch stop the server answering everyone else while it is posted?

Starts a jupyter-server with the extension (default settings: bodies from 256 KiB on are
parsed and checked in a process of their own, then unpacked on the event loop a chunk at
a time; docs/architecture.md, "Where a task runs"), then probes an unrelated SSE stream
(subscribe to a finished task, time to its first event, every 20 ms):

1. idle, for ``--probe-seconds``;
2. after one unmeasured large POST (the parsing process starts on the first), while a
   200,000-point sketch (10 strokes of 20,000 points, about 9 MB of JSON) is
   posted to ``queue/3d`` by ``curl`` in another process, from the first byte sent to
   the answer (the parse and the check happen in that window); ``--rounds`` times;
3. for comparison, while the task that POST started runs (recognising 200,000 points).

Reports p50 / p99 of each, the slowest samples while posting, and the ratio of the POST
window's p99 to idle (goal: ≤ 2×).

    python benchmarks/bench_big_sketch.py [--rounds 3] [--probe-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import DATA, TOKEN, _auth, percentiles, probe, start_server  # noqa: E402

POINTS = 200_000
PER_STROKE = 20_000


def big_body(path: Path) -> int:
    rng = random.Random(200_000)
    strokes = []
    for _ in range(POINTS // PER_STROKE):
        x, y = rng.uniform(100, 500), rng.uniform(100, 400)
        points = []
        for _ in range(PER_STROKE):
            x = min(max(x + rng.uniform(-2, 2), 0), 640)
            y = min(max(y + rng.uniform(-2, 2), 0), 480)
            points.append([round(x, 2), round(y, 2), 0.5])
        strokes.append({"points": points, "color": "#1e1e1e", "width": 3})
    body = {"sketch": {"width": 640, "height": 480, "strokes": strokes}, "prompt": "a scribble"}
    path.write_text(json.dumps(body))
    return path.stat().st_size


def finished_task(url: str) -> str:
    """A small code task run to its end (the probe replays its stream). The first task
    waits for the pool's workers to start, which on a busy machine takes a while."""
    sketch = json.loads((DATA / "ellipse_00.json").read_text())
    with httpx.Client(headers=_auth(), timeout=300) as client:
        response = client.post(url + "vibedraw/api/queue/3d", json={"sketch": sketch})
        task_id = response.json()["task_id"]
        with client.stream("GET", url + f"vibedraw/api/subscribe/{task_id}") as r:
            for _ in r.iter_lines():
                pass
    return task_id


def probe_while(url: str, task_id: str, going: Callable[[], bool]) -> list[float]:
    """:func:`bench_batch.probe` on one client for as long as ``going()``: a client made
    per short window would spend the window on its own start-up on a busy machine."""
    latencies = []
    with httpx.Client(headers=_auth(), timeout=60) as client:
        while going():
            started = time.perf_counter()
            with client.stream("GET", url + f"vibedraw/api/subscribe/{task_id}") as response:
                for line in response.iter_lines():
                    if line.startswith("id:"):
                        latencies.append((time.perf_counter() - started) * 1000)
                        break
            time.sleep(0.02)  # the probe's pace, as in bench_batch
    return latencies


def post_and_probe(url: str, probe_task: str, body: Path) -> tuple[list[float], float, str]:
    """Probe while curl posts ``body``; the probe's samples, the POST's seconds, its answer."""
    # As the widget and the Client send it: with curl's default form content type,
    # tornado would first split the whole body as form fields on its event loop.
    command = ["curl", "-s", "-H", f"Authorization: token {TOKEN}",
               "-H", "Content-Type: application/json",
               "--data-binary", f"@{body}", url + "vibedraw/api/queue/3d"]  # fmt: skip
    started = time.perf_counter()
    poster = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    samples = probe_while(url, probe_task, lambda: poster.poll() is None)
    seconds = time.perf_counter() - started
    return samples, seconds, poster.stdout.read()


def probe_task_run(url: str, probe_task: str, task_id: str, limit: float) -> list[float]:
    """Probe while the posted task runs (up to ``limit`` s; then it is cancelled)."""
    end = time.monotonic() + limit
    with httpx.Client(headers=_auth(), timeout=60) as client:

        def going() -> bool:
            status = client.get(url + f"vibedraw/api/task/{task_id}").json()["status"]
            return time.monotonic() < end and status not in ("completed", "failed", "cancelled")

        samples = probe_while(url, probe_task, going)
        client.delete(url + f"vibedraw/api/task/{task_id}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probe-seconds", type=float, default=5.0)
    parser.add_argument("--task-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "big.json"
        size = big_body(body)
        process, url = start_server(Path(tmp), None)
        try:
            probe_task = finished_task(url)
            probe(url, probe_task, 0.5)  # warm connections
            # Warm the parsing process (started on the first large body), not measured:
            # 400 KiB of sketch, over the size that goes to it.
            warm = Path(tmp) / "warm.json"
            points = [[i % 640 + 0.25, i % 480 + 0.25] for i in range(20_000)]
            warm.write_text(json.dumps({"sketch": {"strokes": [{"points": points}]}}))
            print("warm-up POST:", post_and_probe(url, probe_task, warm)[1:])
            idle: list[float] = []
            posting: list[float] = []
            running: list[float] = []
            posts = []
            for _ in range(args.rounds):
                end = time.monotonic() + args.probe_seconds
                idle += probe_while(url, probe_task, lambda end=end: time.monotonic() < end)
                samples, seconds, answer = post_and_probe(url, probe_task, body)
                posting += samples
                reply = json.loads(answer)
                posts.append((seconds, reply.get("status") or reply.get("message")))
                if "task_id" in reply:
                    running += probe_task_run(url, probe_task, reply["task_id"], args.task_seconds)
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()  # it had a minute to cancel its tasks and stop
    i, p, r = percentiles(idle), percentiles(posting), percentiles(running)
    print(f"sketch: {POINTS} points, {size / 1e6:.1f} MB of JSON; {args.rounds} POSTs")
    for seconds, status in posts:
        print(f"  POST answered in {seconds:.2f} s: {status}")
    print(f"idle           n={i['n']:4d}  p50 {i['p50']:6.1f} ms  p99 {i['p99']:6.1f} ms")
    print(f"while posting  n={p['n']:4d}  p50 {p['p50']:6.1f} ms  p99 {p['p99']:6.1f} ms")
    print(f"task running   n={r['n']:4d}  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms")
    print("slowest while posting:", [round(v, 1) for v in sorted(posting)[-6:]])
    print(f"p99 while posting / idle: {p['p99'] / i['p99']:.2f}x (goal: at most 2x)")
    print(f"p99 while the task runs / idle: {r['p99'] / i['p99']:.2f}x")


if __name__ == "__main__":
    main()
