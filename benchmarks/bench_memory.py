"""Resident memory over many finished tasks: flat once ``max_finished_tasks`` is reached?

Runs 2,000 model tasks through the in-process engine (memory store, default
``retention_seconds`` of an hour, so only the count bounds what is kept). Each task's
provider returns a 190 KiB mesh, about what a local model task keeps, without spending
the time to mesh. Prints the process's resident memory every 250 tasks, once with
``max_finished_tasks`` (default 500) and once without a count limit, for contrast.

    python benchmarks/bench_memory.py [--tasks 2000] [--keep 500]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
from typing import ClassVar

from vibedraw_widget.engine import Engine, TaskSpec
from vibedraw_widget.providers import registry
from vibedraw_widget.providers.base import ModelProvider, Request, TaskContext
from vibedraw_widget.settings import Settings

MESH_BYTES = 190 * 1024
SKETCH = {"strokes": [{"points": [[10, 10], [100, 10], [100, 100], [10, 100], [10, 12]]}]}


class SyntheticMesh(ModelProvider):
    """A model provider that reports progress and returns a fresh 190 KiB 'mesh' at once."""

    name: ClassVar[str] = "synthetic"

    async def make_model(self, request: Request, ctx: TaskContext) -> bytes:
        ctx.progress("mesh", 0.5, "meshing")
        return b"glTF" + os.urandom(MESH_BYTES - 4)


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def run(tasks: int, keep: int) -> list[tuple[int, float, int]]:
    engine = Engine(Settings(max_finished_tasks=keep, cpu_pool="thread", cpu_workers=1))
    samples = [(0, rss_mib(), 0)]
    batch = 50
    for start in range(0, tasks, batch):
        records = [
            await engine.submit(TaskSpec("model", provider="synthetic", sketch=SKETCH))
            for _ in range(batch)
        ]
        for record in records:
            async for event in engine.follow(record.task_id):
                if event.terminal:
                    assert event.type == "complete", event.data
        await asyncio.sleep(0)
        done = start + batch
        if done % 250 == 0:
            gc.collect()
            samples.append((done, rss_mib(), len(engine.store)))
    await engine.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--keep", type=int, default=Settings.max_finished_tasks)
    args = parser.parse_args()
    registry.BUILTIN[("model", "synthetic")] = "__main__:SyntheticMesh"
    registry.provider_classes.cache_clear()
    for label, keep in (
        (f"max_finished_tasks={args.keep}", args.keep),
        ("no count limit (retention only)", 10**9),
    ):
        samples = asyncio.run(run(args.tasks, keep))
        print(f"\n{label}: {args.tasks} model tasks of {MESH_BYTES // 1024} KiB each")
        print(f"{'tasks':>6} {'RSS MiB':>8} {'kept':>6}")
        for done, rss, kept in samples:
            print(f"{done:>6} {rss:>8.1f} {kept:>6}")
        tail = [rss for done, rss, _ in samples if done >= min(2 * keep, args.tasks // 2)]
        if tail:
            print(f"spread of RSS over the second half: {max(tail) - min(tail):.1f} MiB")


if __name__ == "__main__":
    main()
