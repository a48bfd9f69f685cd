"""The sketch: its JSON format and validation, rendering to PNG, and tracing a PNG back."""

from .format import (
    CLAY_COLOR,
    DEFAULT_COLOR,
    Sketch,
    SketchError,
    decode_png,
    parse_json,
    png_to_base64,
    render_png,
    solid_color,
    validate_sketch,
)

__all__ = [
    "CLAY_COLOR",
    "DEFAULT_COLOR",
    "Sketch",
    "SketchError",
    "decode_png",
    "parse_json",
    "png_to_base64",
    "render_png",
    "solid_color",
    "validate_sketch",
]
