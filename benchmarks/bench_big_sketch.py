"""Does a 200,000-point sketch stop the server answering everyone else while it is posted?

Starts a jupyter-server with the extension (default settings: bodies from 256 KiB on are
parsed and checked in the engine's process pool), then probes an unrelated SSE stream
(subscribe to a finished task, time to its first event, every 20 ms):

1. idle, for ``--probe-seconds``;
2. while a 200,000-point sketch (10 strokes of 20,000 points, about 9 MB of JSON) is
   posted to ``queue/3d`` by ``curl`` in another process, from the first byte sent to
   the answer (the parse and the check happen in that window); ``--rounds`` times;
3. for comparison, while the task that POST started runs (recognising 200,000 points).

Reports p50 / p99 of each and the ratio of the POST window's p99 to idle (goal: ≤ 2×).

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
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import TOKEN, _auth, finished_task, percentiles, probe, start_server  # noqa: E402

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


def post_and_probe(url: str, probe_task: str, body: Path) -> tuple[list[float], float, str]:
    """Probe while curl posts ``body``; the probe's samples, the POST's seconds, its answer."""
    command = ["curl", "-s", "-H", f"Authorization: token {TOKEN}",
               "--data-binary", f"@{body}", url + "vibedraw/api/queue/3d"]  # fmt: skip
    started = time.perf_counter()
    poster = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    samples: list[float] = []
    while poster.poll() is None:
        samples += probe(url, probe_task, 0.1)
    seconds = time.perf_counter() - started
    return samples, seconds, poster.stdout.read()


def probe_task_run(url: str, probe_task: str, task_id: str, limit: float) -> list[float]:
    """Probe while the posted task runs (up to ``limit`` s; then it is cancelled)."""
    samples: list[float] = []
    end = time.monotonic() + limit
    with httpx.Client(headers=_auth(), timeout=30) as client:
        while time.monotonic() < end:
            status = client.get(url + f"vibedraw/api/task/{task_id}").json()["status"]
            if status in ("completed", "failed", "cancelled"):
                break
            samples += probe(url, probe_task, 0.3)
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
            idle: list[float] = []
            posting: list[float] = []
            running: list[float] = []
            posts = []
            for _ in range(args.rounds):
                idle += probe(url, probe_task, args.probe_seconds)
                samples, seconds, answer = post_and_probe(url, probe_task, body)
                posting += samples
                reply = json.loads(answer)
                posts.append((seconds, reply.get("status") or reply.get("message")))
                if "task_id" in reply:
                    running += probe_task_run(url, probe_task, reply["task_id"], args.task_seconds)
        finally:
            process.terminate()
            process.wait(30)
    i, p, r = percentiles(idle), percentiles(posting), percentiles(running)
    print(f"sketch: {POINTS} points, {size / 1e6:.1f} MB of JSON; {args.rounds} POSTs")
    for seconds, status in posts:
        print(f"  POST answered in {seconds:.2f} s: {status}")
    print(f"idle           n={i['n']:4d}  p50 {i['p50']:6.1f} ms  p99 {i['p99']:6.1f} ms")
    print(f"while posting  n={p['n']:4d}  p50 {p['p50']:6.1f} ms  p99 {p['p99']:6.1f} ms")
    print(f"task running   n={r['n']:4d}  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms")
    print(f"p99 while posting / idle: {p['p99'] / i['p99']:.2f}x (goal: at most 2x)")
    print(f"p99 while the task runs / idle: {r['p99'] / i['p99']:.2f}x")


if __name__ == "__main__":
    main()
