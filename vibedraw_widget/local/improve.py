"""Redraw a sketch clean: each recognised shape drawn from its fit (docs/architecture.md,
The offline pipeline).

Circles come out round, lines straight, rectangles square-cornered, triangles and
polygons with straight sides, blobs smoothed; colours and pen widths are kept, as are
the sketch's size, background and text labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .recognize import Shape, recognize, resample

_PRESSURE = 0.5  # the pad's nominal width


def improve_sketch(sketch: Any, shapes: Sequence[Shape] | None = None) -> dict[str, Any]:
    """A new sketch with every shape of ``sketch`` redrawn clean.

    ``shapes`` may be passed when already recognised (from this same sketch)."""
    from ..sketch import Sketch

    source = Sketch.from_any(sketch)
    if shapes is None:
        shapes = recognize(source)  # a Sketch is already valid: not validated again
    data = source.to_dict()
    strokes = [
        {"points": _clean_points(shape), "color": shape.color, "width": shape.width}
        for shape in shapes
    ]
    return {**data, "strokes": strokes}


def improve_png(sketch: Any) -> tuple[dict[str, Any], bytes]:
    """The clean sketch and its PNG rendering."""
    from ..sketch import render_png

    clean = improve_sketch(sketch)
    return clean, render_png(clean)


def _with_pressure(points: np.ndarray | Sequence[Sequence[float]]) -> list[list[float]]:
    return [[round(float(x), 2), round(float(y), 2), _PRESSURE] for x, y in points]


def _closed_polygon(corners: Sequence[Sequence[float]]) -> list[list[float]]:
    pts = [list(p) for p in corners]
    return _with_pressure(pts + pts[:1])


def _clean_points(shape: Shape) -> list[list[float]]:
    g = shape.geometry
    if shape.kind == "ellipse":
        (cx, cy), (rx, ry) = g["center"], g["radii"]
        if abs(rx - ry) <= 0.08 * max(rx, ry):  # nearly round: make it a true circle
            rx = ry = (rx + ry) / 2
        a = math.radians(g.get("angle", 0.0))
        n = max(24, min(128, int(2 * math.pi * max(rx, ry) / 4)))
        t = np.linspace(0, 2 * math.pi, n + 1)
        x = cx + rx * np.cos(t) * math.cos(a) - ry * np.sin(t) * math.sin(a)
        y = cy + rx * np.cos(t) * math.sin(a) + ry * np.sin(t) * math.cos(a)
        return _with_pressure(np.column_stack([x, y]))
    if shape.kind == "rectangle":
        (cx, cy), (w, h) = g["center"], g["size"]
        a = math.radians(g.get("angle", 0.0))
        if abs(g.get("angle", 0.0)) < 4:  # hand-drawn tilt: square it up
            a = 0.0
        c, s = math.cos(a), math.sin(a)
        local = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
        return _closed_polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in local])
    if shape.kind in ("triangle", "polygon"):
        return _closed_polygon(g["corners"])
    if shape.kind == "blob":
        pts = np.asarray(g["points"], float)
        smooth = _smooth_closed(pts)
        return _with_pressure(np.vstack([smooth, smooth[:1]]))
    if shape.kind == "line":
        return _with_pressure([g["start"], g["end"]])
    return _with_pressure(g["points"])  # polyline: its straight-sided simplification


def _smooth_closed(pts: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Evenly spaced, gently smoothed outline (a few passes of neighbour averaging)."""
    pts = resample(pts, 64, closed=True)
    for _ in range(rounds):
        pts = 0.25 * np.roll(pts, 1, axis=0) + 0.5 * pts + 0.25 * np.roll(pts, -1, axis=0)
    return pts
