"""Providers for the tests: deterministic, controllable from the test through gates."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import AsyncIterator

from vibedraw_widget.providers.base import CodeProvider, ModelProvider, Request, TaskContext

GATES: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
"""``GATES[task_id].set()`` lets a provider that was asked to ``wait`` go on."""


def release(task_id: str) -> None:
    """Open the gate a ``wait`` task is parked at."""
    GATES[task_id].set()


def _count(prompt: str, default: int) -> int:
    match = re.search(r"n=(\d+)", prompt)
    return int(match.group(1)) if match else default


class ScriptedCode(CodeProvider):
    """Yields ``n=<N>`` chunks (default 3); with ``wait`` in the prompt it parks after the
    first chunk until the test releases it."""

    name = "scripted"
    supports = frozenset({"3d", "edit", "improve"})

    async def stream_code(self, request: Request, ctx: TaskContext) -> AsyncIterator[str]:
        for i in range(_count(request.prompt, 3)):
            if i == 1 and "wait" in request.prompt:
                await GATES[ctx.task_id].wait()
            yield f"// part {i}\n"
        ctx.result["usage"] = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}

    async def improve(self, request: Request, ctx: TaskContext) -> dict:
        return {"sketch": request.ensure_sketch(), "image_base64": ""}


class FailingCode(CodeProvider):
    """Yields one chunk, then raises."""

    name = "failing"

    async def stream_code(self, request: Request, ctx: TaskContext) -> AsyncIterator[str]:
        yield "// about to fail\n"
        raise RuntimeError("the provider broke")


class HangingCode(CodeProvider):
    """Never finishes (until cancelled or timed out)."""

    name = "hanging"

    async def stream_code(self, request: Request, ctx: TaskContext) -> AsyncIterator[str]:
        yield "// hanging\n"
        await asyncio.Event().wait()


class NeedsKeyCode(CodeProvider):
    """Not configured: submit answers 503."""

    name = "needs-key"

    def missing_config(self) -> str | None:
        return "set NEEDS_KEY_API_KEY in the environment of jupyter-server"


def tiny_glb(size: float) -> bytes:
    """A box mesh as GLB (module-level, so it can run in the CPU pool)."""
    import trimesh

    return trimesh.creation.box(extents=(size, size, size)).export(file_type="glb")


class ScriptedModel(ModelProvider):
    """Reports the local provider's stages and returns a box; ``wait`` parks before export."""

    name = "scripted"

    async def make_model(self, request: Request, ctx: TaskContext) -> bytes:
        for i, stage in enumerate(("tracing", "triangulating", "inflating")):
            ctx.progress(stage, i / 4, f"{stage}…")
        if "wait" in request.prompt:
            await GATES[ctx.task_id].wait()
        ctx.progress("exporting", 0.75, "writing GLB")
        return await ctx.run_cpu(tiny_glb, 1.0)
