"""Scene descriptions: recognised shapes become plain data that :mod:`.codegen` writes as
Three.js code, and that plain-language edits change.

A scene is JSON-able::

    {"version": 1, "object": "house", "title": "a small house",
     "transform": {"position": [0, 0, 0], "rotation": [0, 0, 0], "scale": [1, 1, 1]},
     "parts": [{"name": "walls", "role": "walls", "shape_index": 0, "kind": "rectangle",
                "primitive": "box", "params": {"width": 2, "height": 1.5, "depth": 1.6},
                "position": [0, 0.75, 0], "rotation": [0, 0, 0], "scale": [1, 1, 1],
                "color": "#795548", "material": {"roughness": 0.8, "metalness": 0.0},
                "parent": null}, ...]}

Units: the drawing's larger side is :data:`WORLD_SIZE` units, y is up, the bottom of the
drawing sits on y = 0; rotations are in degrees. ``shape_index`` links a part to the
recognised shape it came from (``None`` for parts an edit added); ``parent`` names the
part a child belongs to (its position is then relative to the parent).

Primitives and their ``params``: ``sphere`` (radius), ``box`` (width, height, depth),
``cone`` (radius, height), ``cylinder`` (radiusTop, radiusBottom, height), ``prism`` and
``extrusion`` (points: a 2D outline, depth), ``lathe`` (points: a (radius, y) profile),
``tube`` (points: 3D, radius), ``group`` (none: a parent for other parts).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..sketch import solid_color
from .layouts import ARRANGERS
from .parts import half_extents, part_center, round2
from .recognize import CLOSED_KINDS, Shape
from .words import apply_words, known_object, split_words

WORLD_SIZE = 4.0
"""The drawing's larger side, in world units."""


_DEFAULT_MATERIAL = {"roughness": 0.6, "metalness": 0.05}


def build_scene(
    shapes: Sequence[Shape], prompt: str = "", canvas: tuple[int, int] | None = None
) -> dict[str, Any]:
    """A scene description for ``shapes`` (as :func:`~vibedraw_widget.local.recognize.recognize`
    returns them), steered by the words of ``prompt`` (colours, materials, known objects)."""
    words = split_words(prompt)
    scene: dict[str, Any] = {
        "version": 1,
        "object": known_object(words),
        "title": prompt.strip(),
        "transform": {
            "position": [0.0, 0.0, 0.0],
            "rotation": [0.0, 0.0, 0.0],
            "scale": [1.0, 1.0, 1.0],
        },
        "parts": [],
    }
    if not shapes:
        return scene
    frame = _Frame(shapes)
    parts = [_base_part(shape, index, frame) for index, shape in enumerate(shapes)]
    _layer_by_draw_order(parts, shapes)
    arrange = ARRANGERS.get(scene["object"] or "")
    if arrange is not None:
        arrange(parts, shapes)
    _name_parts(parts)
    for part in parts:  # after arranging, which gives default-ink parts natural colours
        part["color"] = solid_color(part["color"])
    scene["parts"] = parts
    apply_words(scene, words, build=True)
    return tidy(scene)


def tidy(data: Any) -> Any:
    """Round every float in ``data`` to 4 decimals (numpy numbers become plain floats), so
    that a scene is compact, readable JSON."""
    if isinstance(data, dict):
        return {k: tidy(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [tidy(v) for v in data]
    if isinstance(data, (float, np.floating)):
        return round(float(data), 4)
    if isinstance(data, np.integer):
        return int(data)
    return data


class _Frame:
    """Sketch pixels (y down) to world units (y up, drawing centred, bottom on y = 0)."""

    def __init__(self, shapes: Sequence[Shape]) -> None:
        boxes = np.array([s.geometry["bbox"] for s in shapes], float)
        x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
        x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
        self.scale = WORLD_SIZE / max(x1 - x0, y1 - y0, 1.0)
        self.cx = (x0 + x1) / 2
        self.bottom = y1

    def point(self, p: Sequence[float]) -> list[float]:
        return [(p[0] - self.cx) * self.scale, (self.bottom - p[1]) * self.scale]

    def length(self, v: float) -> float:
        return float(v) * self.scale


def new_part(
    shape_index: int | None,
    kind: str,
    primitive: str,
    params: dict[str, Any],
    position: Sequence[float],
    color: str,
    rotation: Sequence[float] = (0.0, 0.0, 0.0),
    scale: Sequence[float] = (1.0, 1.0, 1.0),
    role: str | None = None,
) -> dict[str, Any]:
    return {
        "name": role or kind,
        "role": role or kind,
        "shape_index": shape_index,
        "kind": kind,
        "primitive": primitive,
        "params": params,
        "position": [float(v) for v in position],
        "rotation": [float(v) for v in rotation],
        "scale": [float(v) for v in scale],
        "color": color,
        "material": dict(_DEFAULT_MATERIAL),
        "parent": None,
    }


def _base_part(shape: Shape, index: int, frame: _Frame) -> dict[str, Any]:
    g = shape.geometry
    kind = shape.kind
    pen = max(frame.length(shape.width) * 0.6, 0.03)
    if kind == "ellipse":
        c = frame.point(g["center"])
        rx, ry = (frame.length(r) for r in g["radii"])
        if abs(rx - ry) <= 0.12 * max(rx, ry):
            return new_part(index, kind, "sphere", {"radius": (rx + ry) / 2}, [*c, 0], shape.color)
        return new_part(
            index,
            kind,
            "sphere",
            {"radius": 1.0},
            [*c, 0],
            shape.color,
            rotation=[0, 0, -g["angle"]],
            scale=[rx, ry, min(rx, ry)],
        )
    if kind == "rectangle":
        c = frame.point(g["center"])
        w, h = (frame.length(v) for v in g["size"])
        depth = min(w, h) if max(w, h) < 4 * min(w, h) else max(w, h) / 2
        params = {"width": w, "height": h, "depth": depth}
        return new_part(
            index, kind, "box", params, [*c, 0], shape.color, rotation=[0, 0, -g["angle"]]
        )
    if kind in ("triangle", "polygon"):
        pts = np.array([frame.point(p) for p in g["corners"]])
        if kind == "triangle":
            cone = _as_cone(pts)
            if cone is not None:
                params, position, flip = cone
                rot = [0, 0, 180 if flip else 0]
                return new_part(index, kind, "cone", params, position, shape.color, rotation=rot)
        center = pts.mean(0)
        size = float(np.ptp(pts, axis=0).min())
        params = {"points": round2(pts - center), "depth": max(0.3 * size, 0.05)}
        return new_part(index, kind, "prism", params, [*center, 0], shape.color)
    if kind == "blob":
        pts = np.array([frame.point(p) for p in g["points"]])
        center = (pts.min(0) + pts.max(0)) / 2
        profile = _lathe_profile(pts)
        if profile is not None:
            params = {"points": round2(profile)}
            return new_part(
                index, kind, "lathe", params, [center[0], pts[:, 1].min(), 0], shape.color
            )
        size = float(np.ptp(pts, axis=0).min())
        params = {"points": round2(pts - center), "depth": max(0.25 * size, 0.05)}
        return new_part(index, kind, "extrusion", params, [*center, 0], shape.color)
    if kind == "line":
        a, b = np.array(frame.point(g["start"])), np.array(frame.point(g["end"]))
        mid, d = (a + b) / 2, b - a
        length = float(np.hypot(*d))
        angle = math.degrees(math.atan2(d[1], d[0])) - 90
        params = {"radiusTop": pen, "radiusBottom": pen, "height": max(length, 1e-3)}
        return new_part(
            index, kind, "cylinder", params, [*mid, 0], shape.color, rotation=[0, 0, angle]
        )
    # polyline
    pts = np.array([frame.point(p) for p in g["points"]])
    center = (pts.min(0) + pts.max(0)) / 2
    rel = np.column_stack([pts - center, np.zeros(len(pts))])
    return new_part(
        index, kind, "tube", {"points": round2(rel), "radius": pen}, [*center, 0], shape.color
    )


def _as_cone(pts: np.ndarray) -> tuple[dict[str, float], list[float], bool] | None:
    """Cone parameters when the triangle stands on (or hangs from) a level base with its
    apex above (below) the base's middle; else ``None``."""
    size = float(np.ptp(pts, axis=0).max())
    for flip in (False, True):
        ys = -pts[:, 1] if flip else pts[:, 1]
        apex = int(np.argmax(ys))
        base = np.delete(pts, apex, axis=0)
        base_ys = np.delete(ys, apex)
        if abs(base_ys[0] - base_ys[1]) > 0.15 * size:
            continue
        x_lo, x_hi = sorted(base[:, 0])
        width = x_hi - x_lo
        if width <= 0 or abs(pts[apex, 0] - (x_lo + x_hi) / 2) > 0.2 * width:
            continue
        height = float(ys[apex] - base_ys.mean())
        if height <= 0:
            continue
        base_y = float(base[:, 1].mean())
        cy = base_y - height / 2 if flip else base_y + height / 2
        return {"radius": width / 2, "height": height}, [(x_lo + x_hi) / 2, cy, 0.0], flip
    return None


def _lathe_profile(pts: np.ndarray) -> np.ndarray | None:
    """A (radius, height) profile when the outline is mirror-symmetric about a vertical
    axis (a vase, a bottle): the half-width at each height. ``None`` otherwise."""
    cx = (pts[:, 0].min() + pts[:, 0].max()) / 2
    size = float(np.ptp(pts, axis=0).max())
    mirrored = pts.copy()
    mirrored[:, 0] = 2 * cx - mirrored[:, 0]
    d = np.sqrt(((mirrored[:, None, :] - pts[None, :, :]) ** 2).sum(2)).min(1)
    if d.mean() > 0.035 * size:
        return None
    y_lo, y_hi = pts[:, 1].min(), pts[:, 1].max()
    profile = [[0.0, 0.0]]
    closed = np.vstack([pts, pts[:1]])
    for y in np.linspace(y_lo, y_hi, 26)[1:-1]:
        xs = []
        for (x1, y1), (x2, y2) in zip(closed[:-1], closed[1:], strict=True):
            if (y1 - y) * (y2 - y) <= 0 and y1 != y2:
                xs.append(x1 + (y - y1) * (x2 - x1) / (y2 - y1))
        if len(xs) >= 2:
            profile.append([(max(xs) - min(xs)) / 2, y - y_lo])
    profile.append([0.0, y_hi - y_lo])
    return np.array(profile)


def _layer_by_draw_order(parts: list[dict[str, Any]], shapes: Sequence[Shape]) -> None:
    """Draw order as depth: a shape drawn inside an earlier closed one (an eye in a face, a
    door on a wall) sits on the front of it; others stay in the middle, later ones a hair
    nearer the camera so that touching shapes still touch."""
    # Each closed part's centre, half sizes and roundness, once it has its depth.
    closed: list[tuple[list[float], tuple[float, float, float], bool]] = []
    for i, (part, shape) in enumerate(zip(parts, shapes, strict=True)):
        x, y, _ = part_center(part)
        mine = half_extents(part)
        z = 0.002 * i
        for (ox, oy, oz), (hx, hy, hz), round_ in closed:
            inside = abs(x - ox) < hx and abs(y - oy) < hy and mine[0] * mine[1] < hx * hy
            if not inside:
                continue
            if round_:
                t = 1 - ((x - ox) / hx) ** 2 - ((y - oy) / hy) ** 2
                front = oz + hz * math.sqrt(max(t, 0.0))
            else:
                front = oz + hz
            z = max(z, front)
        part["position"][2] = z
        if shape.kind in CLOSED_KINDS:
            closed.append((part_center(part), mine, part["primitive"] == "sphere"))


def _name_parts(parts: list[dict[str, Any]]) -> None:
    """Unique, readable JavaScript names: ``walls``, ``roof``, ``ellipse1``, ``ellipse2``."""
    counts: dict[str, int] = {}
    for part in parts:
        counts[part["role"]] = counts.get(part["role"], 0) + 1
    seen: dict[str, int] = {}
    for part in parts:
        role = part["role"]
        if counts[role] == 1:
            part["name"] = _identifier(role)
        else:
            seen[role] = seen.get(role, 0) + 1
            part["name"] = _identifier(f"{role}{seen[role]}")


def _identifier(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text) or ["part"]
    name = words[0][0].lower() + words[0][1:] + "".join(w[0].upper() + w[1:] for w in words[1:])
    if name[0].isdigit():
        name = "part" + name
    if name in {"root", "ctx", "THREE", "new", "delete", "function", "class", "return"}:
        name += "Part"
    return name


def unique_name(scene: dict[str, Any], base: str) -> str:
    names = {p["name"] for p in scene["parts"]}
    name = _identifier(base)
    k = 2
    while name in names:
        name = _identifier(f"{base}{k}")
        k += 1
    return name
