"""Batch generation: does a mesh batch keep the server responsive, and how fast is it?

1. **Responsiveness.** Starts a jupyter-server with the extension (default settings:
   the CPU-heavy inflation runs in the engine's process pool), then probes an *unrelated*
   SSE stream — subscribe to a finished task, time to its first event — every 20 ms,
   first idle, then while a batch of meshes runs on the same server through
   ``vibedraw generate --server`` (another process), for several rounds. Reports p50 /
   p99 per round and the loaded/idle p99 ratio of all rounds' samples (goal: within 2×).
2. **Throughput.** In-process ``generate_many`` at concurrency 1, 2 and 4 for the
   ``code`` and ``model`` kinds on the sample sketches; sketches per second.

    python benchmarks/bench_batch.py [--sketches 256] [--rounds 3] [--probe-seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
TOKEN = "bench-token"


def sample_sketches(count: int) -> list[Path]:
    """The richer sample sketches first (scenes), then single shapes."""
    files = sorted(DATA.glob("scene_*.json")) + sorted(DATA.glob("blob_*.json"))
    files += sorted(DATA.glob("ellipse_*.json"))
    return (files * (count // len(files) + 1))[:count]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workdir: Path, cpu_workers: int | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(workdir / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--allow-root", "--no-browser",
         f"--port={port}", f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={workdir}",
         "--ServerApp.jpserver_extensions={'vibedraw_widget': True}",
         *([f"--VibeDraw.cpu_workers={cpu_workers}"] if cpu_workers else [])],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "vibedraw/api/providers", headers=_auth(), timeout=2).is_success:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling a starting process; not part of any measurement
    process.terminate()
    raise RuntimeError(f"the server did not start; see {workdir / 'server.log'}")


def _auth() -> dict[str, str]:
    return {"Authorization": f"token {TOKEN}"}


def finished_task(url: str) -> str:
    """A small code task run to its end (the probe replays its stream)."""
    sketch = json.loads((DATA / "ellipse_00.json").read_text())
    response = httpx.post(url + "vibedraw/api/queue/3d", json={"sketch": sketch}, headers=_auth())
    task_id = response.json()["task_id"]
    with httpx.stream("GET", url + f"vibedraw/api/subscribe/{task_id}", headers=_auth()) as r:
        for _ in r.iter_lines():
            pass
    return task_id


def probe(url: str, task_id: str, seconds: float, interval: float = 0.02) -> list[float]:
    """Milliseconds from subscribing to the first ``id:`` line, every ``interval`` s."""
    latencies = []
    end = time.monotonic() + seconds
    with httpx.Client(headers=_auth(), timeout=30) as client:
        while time.monotonic() < end:
            started = time.perf_counter()
            with client.stream("GET", url + f"vibedraw/api/subscribe/{task_id}") as response:
                for line in response.iter_lines():
                    if line.startswith("id:"):
                        latencies.append((time.perf_counter() - started) * 1000)
                        break
            time.sleep(interval)  # the probe's pace, not synchronisation
    return latencies


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"n": len(values), "p50": statistics.median(ordered), "p99": p99}


def run_batch(url: str, task_id: str, sketches: list[Path], out: Path) -> tuple[list[float], dict]:
    """Probe while a mesh batch runs through the CLI; the probe's samples and the batch.

    The batch runs in its own process, so that the probe measures the server, not this
    process's GIL.
    """
    command = [sys.executable, "-m", "vibedraw_widget.cli", "generate",
               *map(str, sketches), "--kind", "model", "--server", url,
               "--token", TOKEN, "--concurrency", "4", "--no-progress",
               "--out", str(out)]  # fmt: skip
    started = time.perf_counter()
    batch_process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    samples: list[float] = []
    while batch_process.poll() is None:
        samples += probe(url, task_id, 0.3)
    output = batch_process.stdout.read().strip()
    shutil.rmtree(out, ignore_errors=True)  # a few hundred MB of pages and GLBs per round
    return samples, {
        "seconds": time.perf_counter() - started,
        "exit": batch_process.returncode,
        "summary": output.splitlines()[-1] if output else "",
    }


def responsiveness(
    sketches: list[Path], probe_seconds: float, rounds: int, cpu_workers: int | None = None
) -> dict[str, object]:
    """``rounds`` times: probe the idle server, then probe it during a batch. Reports
    each round's p99 ratio and the ratio of the pooled samples."""
    from vibedraw_widget.batch import generate_many
    from vibedraw_widget.client import Client

    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_server(Path(tmp), cpu_workers)
        try:
            task_id = finished_task(url)
            # Warm up: connections, and the engine's worker processes (spawned on first use).
            with Client(url, TOKEN) as warm:
                generate_many(sketches[:4], kind="model", client=warm, progress=False)
            probe(url, task_id, 0.5)
            idle_all: list[float] = []
            loaded_all: list[float] = []
            per_round = []
            for number in range(rounds):
                idle = probe(url, task_id, probe_seconds)
                loaded, batch = run_batch(url, task_id, sketches, Path(tmp) / f"out{number}")
                idle_all += idle
                loaded_all += loaded
                per_round.append(
                    {
                        "idle": percentiles(idle),
                        "loaded": percentiles(loaded),
                        "ratio": percentiles(loaded)["p99"] / percentiles(idle)["p99"],
                        "batch": batch,
                    }
                )
        finally:
            process.terminate()
            process.wait(30)
    idle_p, loaded_p = percentiles(idle_all), percentiles(loaded_all)
    return {
        "rounds": per_round,
        "idle_ms": idle_p,
        "during_batch_ms": loaded_p,
        "p99_ratio": loaded_p["p99"] / idle_p["p99"],
    }


def throughput(sketches: list[Path]) -> list[dict[str, object]]:
    from vibedraw_widget.batch import generate_many

    rows = []
    generate_many(sketches[:2], kind="model", progress=False)  # start the process pool
    for kind in ("code", "model"):
        for concurrency in (1, 2, 4):
            started = time.perf_counter()
            results = generate_many(sketches, kind=kind, concurrency=concurrency, progress=False)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "kind": kind,
                    "concurrency": concurrency,
                    "sketches": len(sketches),
                    "ok": sum(r.ok for r in results),
                    "seconds": round(seconds, 2),
                    "sketches_per_s": round(len(sketches) / seconds, 2),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sketches", type=int, default=256, help="sketches per batch")
    parser.add_argument("--rounds", type=int, default=3, help="idle + batch rounds")
    parser.add_argument(
        "--probe-seconds", type=float, default=8.0, help="idle probe time per round"
    )
    parser.add_argument("--skip-server", action="store_true", help="throughput only")
    parser.add_argument(
        "--cpu-workers", type=int, default=None, help="the server's c.VibeDraw.cpu_workers"
    )
    args = parser.parse_args()
    sketches = sample_sketches(args.sketches)
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    if not args.skip_server:
        report = responsiveness(sketches, args.probe_seconds, args.rounds, args.cpu_workers)
        print("\nSSE probe of an unrelated stream (ms to first event), idle vs during a batch:")
        for number, row in enumerate(report["rounds"], 1):
            idle, loaded, batch = row["idle"], row["loaded"], row["batch"]
            print(
                f"  round {number}: idle n={idle['n']:4} p50={idle['p50']:5.2f} "
                f"p99={idle['p99']:5.2f} | batch n={loaded['n']:4} p50={loaded['p50']:5.2f} "
                f"p99={loaded['p99']:5.2f} | ratio {row['ratio']:.2f}x | {batch['summary']} "
                f"in {batch['seconds']:.1f}s (exit {batch['exit']})"
            )
        idle, loaded = report["idle_ms"], report["during_batch_ms"]
        print(
            f"  all rounds: idle p99 {idle['p99']:.2f} ms (n={idle['n']}), during batches "
            f"p99 {loaded['p99']:.2f} ms (n={loaded['n']}): "
            f"ratio {report['p99_ratio']:.2f}x (goal ≤ 2x)"
        )
    print("\nIn-process throughput:")
    print(f"  {'kind':6} {'conc':>4} {'ok':>5} {'seconds':>8} {'sketches/s':>11}")
    for row in throughput(sketches):
        print(
            f"  {row['kind']:6} {row['concurrency']:>4} {row['ok']:>3}/{row['sketches']:<2}"
            f"{row['seconds']:>7.2f} {row['sketches_per_s']:>11.2f}"
        )


if __name__ == "__main__":
    main()
