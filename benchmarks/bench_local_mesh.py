"""Benchmark the offline ``local`` model pipeline: sketch → inflated parts → GLB.

Times :func:`vibedraw_widget.local.mesh.sketch_to_meshes` plus :func:`meshes_to_glb` on
every sample sketch in tests/data and on five-outline sketches composed from them, and
prints the median and p95 milliseconds per sketch and the triangles per part.
Targets (2-core machine): median ≤ 150 ms for a single-outline sketch, ≤ 600 ms for a
five-outline sketch.

    python benchmarks/bench_local_mesh.py [--repeat 5] [--detail 1.0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from vibedraw_widget.local.gltf import meshes_to_glb
from vibedraw_widget.local.mesh import find_outlines, sketch_to_meshes

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CLOSED = {"ellipse", "rectangle", "triangle", "blob"}
TARGET_MS = {1: 150.0, 5: 600.0}


def samples() -> list[tuple[str, dict[str, Any]]]:
    labels = json.loads((DATA / "labels.json").read_text())
    return [(e["name"], json.loads((DATA / f"{e['name']}.json").read_text())) for e in labels]


def five_outline_sketches(named: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict]]:
    """Sketches of five closed shapes each, the samples shrunk into five cells side by side."""
    singles = [(n, s) for n, s in named if len(s["strokes"]) == 1 and n.split("_")[0] in CLOSED]
    out = []
    for k in range(0, len(singles) - 4, 5):
        strokes = []
        for cell, (_, sketch) in enumerate(singles[k : k + 5]):
            for stroke in sketch["strokes"]:
                p = np.asarray(stroke["points"], dtype=float)
                centre = (p[:, :2].min(axis=0) + p[:, :2].max(axis=0)) / 2
                xy = (p[:, :2] - centre) * 0.35 + (64 + 128 * cell, 240)
                strokes.append({**stroke, "points": np.column_stack((xy, p[:, 2])).tolist()})
        out.append((f"five_{k // 5:02d}", {**singles[k][1], "strokes": strokes}))
    return out


def time_sketch(
    sketch: dict[str, Any], repeat: int, detail: float
) -> tuple[list[float], list[int]]:
    times, faces = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        parts = sketch_to_meshes(sketch, detail=detail)
        meshes_to_glb(parts)
        times.append((time.perf_counter() - start) * 1000)
        faces = [len(p.mesh.faces) for p in parts if p.kind == "inflated"]
    return times, faces


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per sketch (median kept)")
    parser.add_argument("--detail", type=float, default=1.0, help="inflate detail option")
    args = parser.parse_args()

    named = samples()
    sketch_to_meshes(named[0][1])  # warm imports and caches
    groups: dict[str, list[float]] = {}
    tri_per_part: list[int] = []
    print(f"{'sketch':28s} {'outlines':>8s} {'median ms':>10s} {'triangles/part':>16s}")
    for name, sketch in named + five_outline_sketches(named):
        n_outlines = len(find_outlines(sketch).outlines)
        times, faces = time_sketch(sketch, args.repeat, args.detail)
        median = statistics.median(times)
        tri_per_part += faces
        key = "no outline (tubes only)" if n_outlines == 0 else f"{n_outlines}-outline"
        groups.setdefault(key, []).append(median)
        print(f"{name:28s} {n_outlines:8d} {median:10.1f} {str(faces):>16s}")
    print()
    print(f"{'group':26s} {'sketches':>8s} {'median ms':>10s} {'p95 ms':>8s} {'target':>8s}")
    for key in sorted(groups):
        values = groups[key]
        n = int(key.split("-")[0]) if key[0].isdigit() else 0
        target = f"{TARGET_MS[n]:.0f}" if n in TARGET_MS else "-"
        print(
            f"{key:26s} {len(values):8d} {statistics.median(values):10.1f} "
            f"{p95(values):8.1f} {target:>8s}"
        )
    every = [t for v in groups.values() for t in v]
    print(
        f"{'all sketches':26s} {len(every):8d} {statistics.median(every):10.1f} {p95(every):8.1f}"
    )
    print(
        f"triangles per inflated part: min {min(tri_per_part)}, median "
        f"{int(statistics.median(tri_per_part))}, max {max(tri_per_part)} "
        f"(detail {args.detail})"
    )


if __name__ == "__main__":
    main()
