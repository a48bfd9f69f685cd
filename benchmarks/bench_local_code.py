"""Benchmark of the offline ``local`` code provider over the sample sketches in tests/data.

Prints median and p95 milliseconds per sketch for recognition (JSON and PNG input),
scene + code generation, and the time to the first streamed chunk; then the same for a
five-stroke sketch (target: median <= 20 ms for recognition + code), and the accuracy
with its confusion matrix. Run: ``python benchmarks/bench_local_code.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vibedraw_widget.engine import Engine, TaskSpec
from vibedraw_widget.local.codegen import generate_code
from vibedraw_widget.local.recognize import KINDS, predicted_kinds, recognize
from vibedraw_widget.local.scene import build_scene
from vibedraw_widget.providers.base import Request
from vibedraw_widget.providers.local_code import LocalCodeProvider
from vibedraw_widget.settings import Settings
from vibedraw_widget.sketch.trace import trace_png

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


class _Context:
    task_id = "bench"

    def __init__(self) -> None:
        self.result: dict[str, Any] = {}

    def progress(self, stage: str, progress: float, message: str = "") -> None:
        pass

    async def run_cpu(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)


def _ms(fn: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _summary(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"{label:<38} median {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms"


async def _first_delta_ms(sketch: dict[str, Any]) -> float:
    provider = LocalCodeProvider()
    start = time.perf_counter()
    async for _ in provider.stream_code(Request(type="3d", sketch=sketch), _Context()):
        return (time.perf_counter() - start) * 1000
    return float("nan")


async def _first_delta_via_engine(sketches: list[dict[str, Any]]) -> list[float]:
    """``start`` → first ``delta`` (event times) through the engine, with recognition in
    its warmed process pool, as the server runs it."""
    engine = Engine(Settings(max_concurrent_tasks=1))
    engine.cpu.warm()
    await engine.cpu.run(recognize, sketches[0])  # the pool is up and has imported numpy
    out = []
    for sketch in sketches:
        record = await engine.submit(TaskSpec("3d", provider="local", sketch=sketch))
        times = {}
        async for event in engine.follow(record.task_id):
            times.setdefault(event.type, event.time)
        out.append((times["delta"] - times["start"]) * 1000)
    await engine.close()
    return out


def _five_strokes() -> dict[str, Any]:
    """A snowman next to a house: five strokes."""
    snowman = json.loads((DATA / "scene_snowman_00.json").read_text())
    house = json.loads((DATA / "scene_house_00.json").read_text())
    moved = [
        {**s, "points": [[x * 0.5 + 320, y * 0.5 + 120, p] for x, y, p in s["points"]]}
        for s in house["strokes"]
    ]
    snow = [
        {**s, "points": [[x * 0.5, y * 0.5 + 120, p] for x, y, p in s["points"]]}
        for s in snowman["strokes"]
    ]
    return {**snowman, "strokes": snow + moved, "texts": []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per sketch")
    args = parser.parse_args()
    labels = json.loads((DATA / "labels.json").read_text())
    sketches = {e["name"]: json.loads((DATA / f"{e['name']}.json").read_text()) for e in labels}
    pngs = {name: (DATA / f"{name}.png").read_bytes() for name in sketches}

    recognize(next(iter(sketches.values())))  # warm caches and imports
    rec, rec_png, code, first = [], [], [], []
    pairs_json, pairs_png = [], []
    for entry in labels:
        sketch = sketches[entry["name"]]
        shapes = recognize(sketch)
        prompt = " ".join(t["text"] for t in sketch["texts"])
        rec += _ms(lambda s=sketch: recognize(s), args.repeat)
        rec_png += _ms(lambda p=pngs[entry["name"]]: recognize(p), max(1, args.repeat // 2))
        code += _ms(lambda sh=shapes, pr=prompt: generate_code(build_scene(sh, pr)), args.repeat)
        first.append(asyncio.run(_first_delta_ms(sketch)))
        pairs_json += zip(entry["labels"], predicted_kinds(shapes, None, sketch), strict=True)
        traced = trace_png(pngs[entry["name"]])
        pairs_png += zip(
            entry["labels"], predicted_kinds(recognize(traced), traced, sketch), strict=True
        )

    print(f"{len(labels)} sample sketches, {args.repeat} runs each\n")
    print(_summary("recognition (JSON)", rec))
    print(_summary("trace + recognition (PNG)", rec_png))
    print(_summary("scene + code generation", code))
    print(_summary("provider: first delta", first))
    through_engine = asyncio.run(_first_delta_via_engine(list(sketches.values())))
    print(_summary("engine (process pool): start→1st delta", through_engine))

    five = _five_strokes()
    five_shapes = recognize(five)
    repeat = max(20, args.repeat * 4)
    five_rec = _ms(lambda: recognize(five), repeat)
    five_all = _ms(lambda: generate_code(build_scene(recognize(five), "")), repeat)
    print(f"\nfive-stroke sketch ({', '.join(s.kind for s in five_shapes)}):")
    print(_summary("recognition", five_rec))
    print(_summary("recognition + scene + code (<= 20 ms)", five_all))

    for name, pairs in (("JSON", pairs_json), ("PNG", pairs_png)):
        right = sum(t == p for t, p in pairs)
        print(f"\naccuracy on {name}: {right}/{len(pairs)} strokes = {right / len(pairs):.1%}")
        counts = Counter(pairs)
        kinds = [k for k in KINDS if any(k in p for p in pairs)]
        print("true \\ predicted".ljust(18) + "".join(k[:9].rjust(10) for k in kinds))
        for t in kinds:
            print(t.ljust(18) + "".join(str(counts[(t, p)]).rjust(10) for p in kinds))


if __name__ == "__main__":
    main()
