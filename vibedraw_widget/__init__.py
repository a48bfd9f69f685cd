"""vibedraw_widget: sketch in a notebook, get 3D.

The public API, re-exported. Names are imported on first use, so that the server
extension and the CLI start without loading the widget, numpy or three.js bundles.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import VibeDrawError
from .settings import Settings
from .sketch import Sketch, SketchError, render_png, validate_sketch

if TYPE_CHECKING:
    from .batch import generate, generate_many
    from .client import AsyncClient, Client
    from .engine import Engine, Event, TaskSpec
    from .local.gltf import meshes_to_glb
    from .local.improve import improve_sketch
    from .local.mesh import sketch_to_meshes
    from .local.recognize import Shape, recognize
    from .result import GenerationCancelled, GenerationError, Result
    from .viewer import gallery
    from .widget import SketchPad
    from .world import World

__version__ = "0.1.0"

_LAZY = {
    "AsyncClient": "client",
    "Client": "client",
    "Engine": "engine",
    "Event": "engine",
    "GenerationCancelled": "result",
    "GenerationError": "result",
    "Result": "result",
    "Shape": "local.recognize",
    "SketchPad": "widget",
    "TaskSpec": "engine",
    "World": "world",
    "gallery": "viewer",
    "generate": "batch",
    "generate_many": "batch",
    "improve_sketch": "local.improve",
    "meshes_to_glb": "local.gltf",
    "recognize": "local.recognize",
    "sketch_to_meshes": "local.mesh",
}

__all__ = [
    "AsyncClient",
    "Client",
    "Engine",
    "Event",
    "GenerationCancelled",
    "GenerationError",
    "Result",
    "Settings",
    "Shape",
    "Sketch",
    "SketchError",
    "SketchPad",
    "TaskSpec",
    "VibeDrawError",
    "World",
    "gallery",
    "generate",
    "generate_many",
    "improve_sketch",
    "meshes_to_glb",
    "recognize",
    "render_png",
    "sketch_to_meshes",
    "validate_sketch",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    """Tell jupyter-server where the extension app is (auto-enabled on install)."""
    from .server import VibeDraw

    return [{"module": "vibedraw_widget", "app": VibeDraw}]
