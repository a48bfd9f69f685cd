"""The offline ``local`` code provider: sketch → recognised shapes → scene → Three.js code.

No network, no model: :mod:`..recognize` finds the shapes, :mod:`..scene` arranges them
(steered by the prompt's words) and :mod:`..codegen` writes the code, streamed part by
part. Edits change the scene description that the code carries in its last line;
``improve`` redraws the sketch from the recognised shapes.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ..local.codegen import generate_chunks, scene_from_code
from ..local.edit import EditNotUnderstood, apply_edit
from ..local.recognize import recognize
from ..local.scene import build_scene
from ..local.scene_schema import SceneError, check_scene
from .base import CodeProvider, ProviderError, Request, TaskContext, sketch_input

MODEL_NAME = "vibedraw-local-shapes"


def improve_drawing(sketch: dict[str, Any]) -> dict[str, Any]:
    """``{"sketch", "image_base64"}`` for the clean redrawing of ``sketch``."""
    from ..local.improve import improve_png
    from ..sketch import png_to_base64

    clean, png = improve_png(sketch)
    return {"sketch": clean, "image_base64": png_to_base64(png)}


class LocalCodeProvider(CodeProvider):
    """Three.js code from a sketch without any API: shapes recognised and arranged."""

    name: ClassVar[str] = "local"
    description: ClassVar[str] = (
        "Offline: recognises the drawn shapes and builds them as Three.js primitives"
    )
    supports: ClassVar[frozenset[str]] = frozenset({"3d", "edit", "improve"})

    async def stream_code(self, request: Request, ctx: TaskContext) -> AsyncIterator[str]:
        """Yield the code header, one chunk per part, and the footer."""
        started = time.perf_counter()
        if request.type == "edit":
            scene, done = await self._edited_scene(request, ctx)
            ctx.progress("edit", 0.5, "; ".join(done))
        else:
            sketch = await sketch_input(request, ctx)
            shapes = await ctx.run_cpu(recognize, sketch)  # numpy fitting: off the event loop
            ctx.progress(
                "recognize", 0.3, f"{len(shapes)} shapes: " + ", ".join(s.kind for s in shapes)
            )
            if not shapes:
                raise ProviderError("the sketch has no strokes to build from", "ValueError")
            scene = build_scene(shapes, request.full_prompt)
            ctx.result["shapes"] = [s.to_dict() for s in shapes]
        ctx.result["model"] = MODEL_NAME
        count = 0
        for chunk in generate_chunks(scene):
            count += 1
            yield chunk
        ctx.result["usage"] = {
            "parts": len(scene["parts"]),
            "chunks": count,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        }

    async def _edited_scene(
        self, request: Request, ctx: TaskContext
    ) -> tuple[dict[str, Any], list[str]]:
        """The scene to edit (from the code, the options, or built from the sketch) with the
        prompt's instructions applied."""
        scene = request.options.get("scene") if isinstance(request.options, dict) else None
        if scene is None and request.threejs_code:
            text = request.threejs_code.strip()
            scene = scene_from_code(text)
            if scene is None and text.startswith("{"):
                try:
                    scene = json.loads(text)
                except json.JSONDecodeError:
                    scene = None
        if scene is None and (request.sketch is not None or request.image is not None):
            sketch = await sketch_input(request, ctx)
            shapes = await ctx.run_cpu(recognize, sketch)
            if not shapes:
                raise ProviderError("the sketch has no strokes to build from", "ValueError")
            scene = build_scene(shapes, " ".join(t["text"] for t in sketch.get("texts", [])))
        if not isinstance(scene, dict) or not isinstance(scene.get("parts"), list):
            raise ProviderError(
                "the local provider edits code it made itself (it carries a "
                "'// vibedraw-scene:' line) or its scene description; send threejs_code "
                "from a local 3d task, or a sketch",
                "ValueError",
            )
        try:
            return apply_edit(check_scene(scene), request.prompt)
        except SceneError as exc:
            raise ProviderError(str(exc), "ValueError") from None
        except EditNotUnderstood as exc:
            raise ProviderError(str(exc), "EditNotUnderstood") from None

    async def improve(self, request: Request, ctx: TaskContext) -> dict[str, Any]:
        """The sketch redrawn clean, with its PNG."""
        sketch = await sketch_input(request, ctx)
        if not any(stroke["points"] for stroke in sketch.get("strokes", [])):
            raise ProviderError("the sketch has no strokes to improve", "ValueError")
        ctx.progress("improve", 0.5, "redrawing the recognised shapes")
        return await ctx.run_cpu(improve_drawing, sketch)
