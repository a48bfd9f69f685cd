"""vibedraw_widget: sketch in a notebook, get 3D."""

from .settings import Settings
from .sketch import Sketch, SketchError, render_png, validate_sketch

__version__ = "0.1.0"

__all__ = ["Settings", "Sketch", "SketchError", "render_png", "validate_sketch"]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    """Tell jupyter-server where the extension app is (auto-enabled on install)."""
    from .server import VibeDraw

    return [{"module": "vibedraw_widget", "app": VibeDraw}]
