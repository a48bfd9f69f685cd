"""A benchmark-only code provider, registered through the real entry-point group.

``bench`` waits until a gate file exists (so every subscriber is connected first), then
yields ``n`` deltas at ``rate`` per second, each carrying the wall-clock time (ns) of its
append, so readers in another process can measure append → receive latency.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator

from vibedraw_widget.providers.base import CodeProvider, Request, TaskContext


def _arg(prompt: str, key: str, default: float) -> float:
    match = re.search(rf"{key}=([\d.]+)", prompt)
    return float(match.group(1)) if match else default


class BenchCode(CodeProvider):
    """Streams timestamped deltas at a fixed rate once ``gate=<path>`` exists."""

    name = "bench"
    description = "benchmark: timestamped deltas at a fixed rate"

    async def stream_code(self, request: Request, ctx: TaskContext) -> AsyncIterator[str]:
        gate = re.search(r"gate=(\S+)", request.prompt)
        while gate and not os.path.exists(gate.group(1)):
            await asyncio.sleep(0.005)  # benchmark set-up: wait for every reader to connect
        count, rate = int(_arg(request.prompt, "n", 1000)), _arg(request.prompt, "rate", 200)
        start = time.perf_counter()
        for i in range(count):
            yield f"{time.time_ns()}"
            # Pace by schedule, not by sleep length, so the rate holds under load.
            delay = start + (i + 1) / rate - time.perf_counter()
            await asyncio.sleep(max(0.0, delay))
