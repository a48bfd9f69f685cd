"""vibedraw_widget: sketch in a notebook, get 3D."""

from .settings import Settings
from .sketch import Sketch, SketchError, render_png, validate_sketch

__version__ = "0.1.0"

__all__ = ["Settings", "Sketch", "SketchError", "render_png", "validate_sketch"]
