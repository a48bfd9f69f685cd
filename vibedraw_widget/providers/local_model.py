"""The offline ``local`` model provider: a sketch (or a traced PNG) inflated into a GLB.

The work is :mod:`vibedraw_widget.local.mesh`'s three stages and the glTF export of
:mod:`vibedraw_widget.local.gltf`; each runs through
``ctx.run_cpu`` (a worker process in the server), with a progress event between them,
so a cancelled task stops at the next stage boundary and the event loop never blocks:

=================  ==========================================================
``tracing``        the PNG traced into strokes (when only an image was sent),
                   then closed outlines and open strokes found
``triangulating``  one conforming triangulation per outline
``inflating``      Poisson heights, mirrored backs, nesting, tubes
``exporting``      the parts written as GLB
=================  ==========================================================

Options (``request.options``): ``detail`` (float, default 1: about 6,000 triangles per
inflated part; 0.4 to 5 sensible) and ``size`` (metres across the drawing, default 1).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ..local import gltf, mesh
from .base import ModelProvider, ProviderError, Request, TaskContext, sketch_input


def _number_option(
    options: dict[str, Any], key: str, default: float, lo: float, hi: float
) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProviderError(f"`options.{key}`: expected a number, got {value!r}", "ValueError")
    if not lo <= value <= hi:
        raise ProviderError(
            f"`options.{key}`: must be between {lo} and {hi}, got {value}", "ValueError"
        )
    return float(value)


class LocalModelProvider(ModelProvider):
    """Inflates closed outlines into rounded, watertight parts; open strokes become tubes."""

    name: ClassVar[str] = "local"
    description: ClassVar[str] = (
        "Offline: closed outlines inflated into rounded watertight parts (Teddy-style "
        "Poisson inflation), open strokes as tubes, stroke colours as materials; GLB."
    )

    async def make_model(self, request: Request, ctx: TaskContext) -> bytes:
        """Trace, triangulate, inflate and export, reporting each stage; returns GLB bytes."""
        detail = _number_option(request.options, "detail", mesh.DEFAULT_DETAIL, 0.1, 5.0)
        size = _number_option(request.options, "size", mesh.DEFAULT_SIZE, 1e-3, 1e3)

        ctx.progress("tracing", 0.0, "finding outlines")
        sketch = await sketch_input(request, ctx, progress=0.02)
        layout = await ctx.run_cpu(mesh.find_outlines, sketch, size)
        n_out, n_tubes = len(layout.outlines), len(layout.tubes)
        if n_out + n_tubes == 0:
            raise ProviderError("the sketch has no strokes to turn into a model", "ValueError")

        triangulations: list[mesh.Triangulation] = []
        for i, outline in enumerate(layout.outlines):
            ctx.progress(
                "triangulating",
                0.1 + 0.4 * i / max(n_out, 1),
                f"outline {i + 1} of {n_out} ({n_tubes} open strokes)",
            )
            triangulations.append(
                await ctx.run_cpu(mesh.triangulate_outline, outline.polygon, detail)
            )

        ctx.progress("inflating", 0.5, f"inflating {n_out} outlines, {n_tubes} tubes")
        parts = await ctx.run_cpu(mesh.inflate_layout, layout, triangulations, detail)

        faces = sum(len(p.mesh.faces) for p in parts)
        ctx.progress("exporting", 0.9, f"{len(parts)} parts, {faces} triangles")
        glb = await ctx.run_cpu(gltf.meshes_to_glb, parts)
        ctx.result["parts"] = [
            {
                "name": p.name,
                "kind": p.kind,
                "strokes": p.strokes,
                "color": p.color,
                "triangles": len(p.mesh.faces),
            }
            for p in parts
        ]
        ctx.result["triangles"] = faces
        ctx.progress("exporting", 1.0, f"{len(glb)} bytes")
        return glb
