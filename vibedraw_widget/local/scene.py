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

import copy
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..sketch import DEFAULT_COLOR, solid_color
from .recognize import CLOSED_KINDS, Shape

WORLD_SIZE = 4.0
"""The drawing's larger side, in world units."""

COLORS: dict[str, str] = {
    "red": "#e03131",
    "green": "#2f9e44",
    "blue": "#1971c2",
    "yellow": "#fcc419",
    "orange": "#f08c00",
    "purple": "#7048e8",
    "violet": "#7048e8",
    "pink": "#e64980",
    "brown": "#8b5a2b",
    "black": "#1e1e1e",
    "white": "#f8f9fa",
    "grey": "#868e96",
    "gray": "#868e96",
    "cyan": "#15aabf",
    "teal": "#0c8599",
    "navy": "#1c2e6e",
    "beige": "#e9d8b4",
    "gold": "#f2c94c",
    "golden": "#f2c94c",
    "silver": "#ced4da",
}
"""Colour words understood in prompts and edits."""

MATERIALS: dict[str, dict[str, Any]] = {
    "wooden": {"roughness": 0.85, "metalness": 0.0, "color": "#a0522d"},
    "wood": {"roughness": 0.85, "metalness": 0.0, "color": "#a0522d"},
    "metal": {"roughness": 0.3, "metalness": 0.9, "color": "#aab2bd"},
    "metallic": {"roughness": 0.3, "metalness": 0.9},
    "steel": {"roughness": 0.3, "metalness": 0.9, "color": "#aab2bd"},
    "glass": {"roughness": 0.05, "metalness": 0.0, "opacity": 0.35},
    "shiny": {"roughness": 0.15, "metalness": 0.3},
    "glossy": {"roughness": 0.15, "metalness": 0.1},
    "matte": {"roughness": 1.0, "metalness": 0.0},
    "plastic": {"roughness": 0.4, "metalness": 0.0},
    "gold": {"roughness": 0.25, "metalness": 1.0},
    "golden": {"roughness": 0.25, "metalness": 1.0},
    "silver": {"roughness": 0.2, "metalness": 1.0},
    "glowing": {"emissive": True},
}
"""Material words: MeshStandardMaterial settings (``color`` only when none is named)."""

KNOWN_OBJECTS: dict[str, tuple[str, ...]] = {
    "snowman": ("snowman", "snow man", "snowmen"),
    "house": ("house", "home", "hut", "cabin", "cottage", "barn"),
    "tree": ("tree", "pine", "fir", "oak"),
    "car": ("car", "truck", "bus", "vehicle", "van"),
    "sun": ("sun",),
}
"""Objects with a better arrangement, and the words that name them."""

# Words that name the parts of a scene by the kind of shape they came from.
_KIND_WORDS = {
    "ellipse": ("circle", "circles", "ball", "balls", "sphere", "spheres", "ellipse", "oval"),
    "rectangle": ("box", "boxes", "square", "rectangle", "cube", "block"),
    "triangle": ("triangle", "cone", "pyramid"),
    "line": ("line", "lines", "stick", "pole", "rod"),
    "polyline": ("zigzag", "tube", "wire", "path"),
    "blob": ("blob", "shape"),
    "polygon": ("polygon",),
}

_DEFAULT_MATERIAL = {"roughness": 0.6, "metalness": 0.05}


# ---------------------------------------------------------------------------------------
# shapes → scene


def build_scene(
    shapes: Sequence[Shape], prompt: str = "", canvas: tuple[int, int] | None = None
) -> dict[str, Any]:
    """A scene description for ``shapes`` (as :func:`~vibedraw_widget.local.recognize.recognize`
    returns them), steered by the words of ``prompt`` (colours, materials, known objects)."""
    words = _words(prompt)
    scene: dict[str, Any] = {
        "version": 1,
        "object": _known_object(words),
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
    arrange = _ARRANGERS.get(scene["object"] or "")
    if arrange is not None:
        arrange(parts, shapes)
    _name_parts(parts)
    for part in parts:  # after arranging, which gives default-ink parts natural colours
        part["color"] = solid_color(part["color"])
    scene["parts"] = parts
    _apply_words(scene, words, build=True)
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


def _part(
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
            return _part(index, kind, "sphere", {"radius": (rx + ry) / 2}, [*c, 0], shape.color)
        return _part(
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
        return _part(index, kind, "box", params, [*c, 0], shape.color, rotation=[0, 0, -g["angle"]])
    if kind in ("triangle", "polygon"):
        pts = np.array([frame.point(p) for p in g["corners"]])
        if kind == "triangle":
            cone = _as_cone(pts)
            if cone is not None:
                params, position, flip = cone
                rot = [0, 0, 180 if flip else 0]
                return _part(index, kind, "cone", params, position, shape.color, rotation=rot)
        center = pts.mean(0)
        size = float(np.ptp(pts, axis=0).min())
        params = {"points": _round2(pts - center), "depth": max(0.3 * size, 0.05)}
        return _part(index, kind, "prism", params, [*center, 0], shape.color)
    if kind == "blob":
        pts = np.array([frame.point(p) for p in g["points"]])
        center = (pts.min(0) + pts.max(0)) / 2
        profile = _lathe_profile(pts)
        if profile is not None:
            params = {"points": _round2(profile)}
            return _part(index, kind, "lathe", params, [center[0], pts[:, 1].min(), 0], shape.color)
        size = float(np.ptp(pts, axis=0).min())
        params = {"points": _round2(pts - center), "depth": max(0.25 * size, 0.05)}
        return _part(index, kind, "extrusion", params, [*center, 0], shape.color)
    if kind == "line":
        a, b = np.array(frame.point(g["start"])), np.array(frame.point(g["end"]))
        mid, d = (a + b) / 2, b - a
        length = float(np.hypot(*d))
        angle = math.degrees(math.atan2(d[1], d[0])) - 90
        params = {"radiusTop": pen, "radiusBottom": pen, "height": max(length, 1e-3)}
        return _part(
            index, kind, "cylinder", params, [*mid, 0], shape.color, rotation=[0, 0, angle]
        )
    # polyline
    pts = np.array([frame.point(p) for p in g["points"]])
    center = (pts.min(0) + pts.max(0)) / 2
    rel = np.column_stack([pts - center, np.zeros(len(pts))])
    return _part(
        index, kind, "tube", {"points": _round2(rel), "radius": pen}, [*center, 0], shape.color
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


def _round2(a: Any) -> Any:
    return np.round(np.asarray(a, float), 3).tolist()


def half_extents(part: dict[str, Any]) -> tuple[float, float, float]:
    """Approximate half sizes of a part along x, y, z (scale included, rotation ignored)."""
    p, s = part["params"], part["scale"]
    prim = part["primitive"]
    if prim == "sphere":
        e = (p["radius"],) * 3
    elif prim == "box":
        e = (p["width"] / 2, p["height"] / 2, p["depth"] / 2)
    elif prim == "cone":
        e = (p["radius"], p["height"] / 2, p["radius"])
    elif prim == "cylinder":
        r = max(p["radiusTop"], p["radiusBottom"])
        e = (r, p["height"] / 2, r)
        if abs(part["rotation"][2]) % 180 > 45 and abs(part["rotation"][2]) % 180 < 135:
            e = (p["height"] / 2, r, r)
        if abs(part["rotation"][0]) % 180 > 45 and abs(part["rotation"][0]) % 180 < 135:
            e = (r, r, p["height"] / 2)
    elif prim in ("prism", "extrusion"):
        pts = np.array(p["points"])
        e = (*(np.abs(pts).max(0)), p["depth"] / 2)
    elif prim == "lathe":
        pts = np.array(p["points"])
        r = float(pts[:, 0].max())
        e = (r, float(pts[:, 1].max()) / 2, r)
    elif prim == "tube":
        pts = np.array(p["points"])
        e = (*(np.abs(pts[:, :2]).max(0) + p["radius"]), p["radius"])
    else:
        e = (0.1, 0.1, 0.1)
    return (float(e[0] * s[0]), float(e[1] * s[1]), float(e[2] * s[2]))


def _center(part: dict[str, Any]) -> list[float]:
    """World centre of a root-level part (lathes stand on their position)."""
    x, y, z = part["position"]
    if part["primitive"] == "lathe":
        y += half_extents(part)[1]
    return [x, y, z]


def _layer_by_draw_order(parts: list[dict[str, Any]], shapes: Sequence[Shape]) -> None:
    """Draw order as depth: a shape drawn inside an earlier closed one (an eye in a face, a
    door on a wall) sits on the front of it; others stay in the middle, later ones a hair
    nearer the camera so that touching shapes still touch."""
    # Each closed part's centre, half sizes and roundness, once it has its depth.
    closed: list[tuple[list[float], tuple[float, float, float], bool]] = []
    for i, (part, shape) in enumerate(zip(parts, shapes, strict=True)):
        x, y, _ = _center(part)
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
            closed.append((_center(part), mine, part["primitive"] == "sphere"))


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


def _unique_name(scene: dict[str, Any], base: str) -> str:
    names = {p["name"] for p in scene["parts"]}
    name = _identifier(base)
    k = 2
    while name in names:
        name = _identifier(f"{base}{k}")
        k += 1
    return name


# ---------------------------------------------------------------------------------------
# known objects


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:\.\d+)?|\d+(?:\.\d+)?", text.lower())


def _known_object(words: Sequence[str]) -> str | None:
    text = " ".join(words)
    for name, names in KNOWN_OBJECTS.items():
        if any(re.search(rf"\b{re.escape(n)}\b", text) for n in names):
            return name
    return None


def _indices(shapes: Sequence[Shape], kinds: Iterable[str]) -> list[int]:
    kinds = set(kinds)
    return [i for i, s in enumerate(shapes) if s.kind in kinds]


def _top(part: dict[str, Any]) -> float:
    return _center(part)[1] + half_extents(part)[1]


def _bottom(part: dict[str, Any]) -> float:
    return _center(part)[1] - half_extents(part)[1]


def _tint(part: dict[str, Any], color: str) -> None:
    """Give an arranged part its natural colour (snow white, a red roof …) unless it was
    drawn in a colour of the user's own choosing: only the default pen colour is no choice."""
    if part["color"] == DEFAULT_COLOR:
        part["color"] = color


def _arrange_snowman(parts: list[dict[str, Any]], shapes: Sequence[Shape]) -> None:
    """Balls of snow stacked on one axis, each resting on the one below."""
    balls = sorted(_indices(shapes, ["ellipse"]), key=lambda i: parts[i]["position"][1])
    if len(balls) < 2:
        return
    roles = (
        ["base", "middle", "head"] if len(balls) == 3 else ["body"] * (len(balls) - 1) + ["head"]
    )
    x = parts[balls[0]]["position"][0]
    y = None
    prev_r = 0.0
    for role, i in zip(roles, balls, strict=True):
        part = parts[i]
        r = float(np.mean(half_extents(part)[:2]))
        part.update(primitive="sphere", params={"radius": r}, scale=[1.0, 1.0, 1.0])
        part["rotation"] = [0.0, 0.0, 0.0]
        y = r if y is None else y + 0.85 * (prev_r + r)
        part["position"] = [x, y, 0.0]
        part["role"] = role
        _tint(part, "#f8f9fa")
        part["material"] = {"roughness": 0.9, "metalness": 0.0}
        prev_r = r


def _arrange_house(parts: list[dict[str, Any]], shapes: Sequence[Shape]) -> None:
    """The roof sits on the walls, as wide as them and as deep."""
    boxes = _indices(shapes, ["rectangle"])
    if not boxes:
        return
    walls_i = max(boxes, key=lambda i: np.prod(half_extents(parts[i])[:2]))
    walls = parts[walls_i]
    walls.update(role="walls", rotation=[0.0, 0.0, 0.0])
    _tint(walls, "#e9d8b4")
    walls["params"]["depth"] = walls["params"]["width"] * 0.8
    walls["material"] = {"roughness": 0.8, "metalness": 0.0}
    wx, _, _ = walls["position"]
    width, depth = walls["params"]["width"], walls["params"]["depth"]
    roofs = [
        i
        for i in _indices(shapes, ["triangle", "polygon"])
        if _center(parts[i])[1] > _top(walls) - 0.2 * walls["params"]["height"]
    ]
    if roofs:
        roof = parts[roofs[0]]
        hx, hy, _ = half_extents(roof)
        roof_w, roof_h = max(2 * hx, width * 1.1), 2 * hy
        roof.update(
            role="roof",
            primitive="prism",
            params={
                "points": [[-roof_w / 2, 0.0], [roof_w / 2, 0.0], [0.0, roof_h]],
                "depth": depth * 1.1,
            },
            position=[wx, _top(walls), 0.0],
            rotation=[0.0, 0.0, 0.0],
        )
        _tint(roof, "#b03a2e")
    for i in boxes:
        if i == walls_i:
            continue
        part = parts[i]
        x, y, _ = part["position"]
        if abs(x - wx) < width / 2 and _bottom(walls) <= y <= _top(walls):
            low = _bottom(part) - _bottom(walls) < 0.1 * walls["params"]["height"]
            part["role"] = "door" if low else "window"
            part["params"]["depth"] = 0.05
            part["position"][2] = depth / 2
            _tint(part, "#6d4c41" if low else "#a5d8ff")


def _arrange_tree(parts: list[dict[str, Any]], shapes: Sequence[Shape]) -> None:
    """A trunk under the crown, both on one axis."""
    crowns = _indices(shapes, ["triangle", "ellipse", "blob"])
    trunks = _indices(shapes, ["rectangle", "line"])
    if not crowns or not trunks:
        return
    trunk = parts[min(trunks, key=lambda i: _center(parts[i])[1])]
    tx = trunk["position"][0]
    hx, hy, _ = half_extents(trunk)
    if trunk["kind"] == "line":
        hx = hy / 6
    radius = max(min(hx, hy), 0.05)
    trunk.update(
        role="trunk",
        primitive="cylinder",
        params={"radiusTop": radius * 0.8, "radiusBottom": radius, "height": 2 * hy},
        position=[tx, hy, 0.0],
        rotation=[0.0, 0.0, 0.0],
        scale=[1.0, 1.0, 1.0],
    )
    _tint(trunk, "#8b5a2b")
    top = 2 * hy
    for i in sorted(crowns, key=lambda i: _center(parts[i])[1]):
        crown = parts[i]
        cx_, cy_, cz_ = half_extents(crown)
        if crown["kind"] == "triangle":
            crown.update(
                primitive="cone", params={"radius": cx_, "height": 2 * cy_}, scale=[1.0, 1.0, 1.0]
            )
        crown.update(role="crown", rotation=[0.0, 0.0, 0.0])
        _tint(crown, "#2f9e44")
        base = top - 0.15 * cy_
        y = base + cy_ if crown["primitive"] != "lathe" else base
        crown["position"] = [tx, y, 0.0]
        top = base + 2 * cy_ * 0.6  # a second crown overlaps the first, as fir tiers do


def _arrange_car(parts: list[dict[str, Any]], shapes: Sequence[Shape]) -> None:
    """Wheels on both sides of the body, touching the ground."""
    bodies = _indices(shapes, ["rectangle", "polygon", "blob"])
    wheels = _indices(shapes, ["ellipse"])
    if not bodies:
        return
    body_i = max(bodies, key=lambda i: np.prod(half_extents(parts[i])[:2]))
    body = parts[body_i]
    body["role"] = "body"
    depth = 2 * half_extents(body)[0] * 0.45
    if body["primitive"] == "box":
        body["params"]["depth"] = depth
    elif "depth" in body["params"]:
        body["params"]["depth"] = depth
    for i in wheels:
        wheel = parts[i]
        x, y, _ = _center(wheel)
        if y > _center(body)[1]:
            continue
        r = float(np.mean(half_extents(wheel)[:2]))
        wheel.update(
            role="wheel",
            primitive="group",
            params={},
            position=[x, r, 0.0],
            rotation=[0.0, 0.0, 0.0],
            scale=[1.0, 1.0, 1.0],
        )
        _tint(wheel, "#212529")
        wheel["wheel"] = {"radius": r, "track": depth / 2 + r * 0.15, "width": r * 0.5}
    lowest = min((_bottom(parts[i]) for i in wheels if parts[i]["role"] == "wheel"), default=0.0)
    if lowest < 0:
        for part in parts:
            part["position"][1] -= lowest


def _arrange_sun(parts: list[dict[str, Any]], shapes: Sequence[Shape]) -> None:
    """The highest round shape glows yellow; the lowest line is the ground."""
    rounds = _indices(shapes, ["ellipse"])
    if rounds:
        sun = parts[max(rounds, key=lambda i: _center(parts[i])[1])]
        sun["role"] = "sun"
        _tint(sun, "#fcc419")
        sun["material"] = {"roughness": 0.5, "metalness": 0.0, "emissive": "#f08c00"}
    lines = _indices(shapes, ["line", "polyline"])
    if lines:
        ground = parts[min(lines, key=lambda i: _center(parts[i])[1])]
        ground["role"] = "ground"
        _tint(ground, "#2f9e44")


_ARRANGERS = {
    "snowman": _arrange_snowman,
    "house": _arrange_house,
    "tree": _arrange_tree,
    "car": _arrange_car,
    "sun": _arrange_sun,
}


# ---------------------------------------------------------------------------------------
# words → colours and materials


def _targets(scene: dict[str, Any], words: Sequence[str]) -> list[dict[str, Any]]:
    """The parts the words name ("the roof", "the circles", "wheels"); empty if none."""
    found = []
    for part in scene["parts"]:
        names = {part["name"].lower(), part["role"], part["role"] + "s"}
        names |= set(_KIND_WORDS.get(part["kind"], ()))
        if part["role"] == "crown":
            names |= {"leaves", "foliage", "crown"}
        if part["role"] in ("base", "middle", "body"):
            names |= {"body"}
        if names & set(words):
            found.append(part)
    # children follow their parents
    chosen = {p["name"] for p in found}
    for part in scene["parts"]:
        if part.get("parent") in chosen and part not in found:
            found.append(part)
    return found


def _set_color(part: dict[str, Any], color: str) -> None:
    part["color"] = color


def _set_material(part: dict[str, Any], word: str, colored: bool) -> None:
    spec = dict(MATERIALS[word])
    color = spec.pop("color", None)
    if spec.pop("emissive", False):
        spec["emissive"] = part["color"]
    part["material"] = {**part.get("material", {}), **spec}
    if color and not colored:
        part["color"] = color


def _apply_words(scene: dict[str, Any], words: Sequence[str], build: bool) -> list[str]:
    """Apply the colour and material words of ``words`` to their targets. In a prompt
    ("a red roof and blue walls") a word names the parts right after it; otherwise it
    applies to all parts. Returns descriptions of what was done."""
    done = []
    for k, word in enumerate(words):
        if word not in COLORS and word not in MATERIALS:
            continue
        if build:
            targets = _targets(scene, words[k + 1 : k + 3]) or []
            # "a red apple": the word names no part, so it is the whole object's colour
            if not targets:
                named_later = any(
                    _targets(scene, words[j + 1 : j + 3])
                    for j in range(len(words))
                    if words[j] in COLORS and j != k
                )
                targets = [] if named_later else scene["parts"]
        else:
            targets = _targets(scene, words) or scene["parts"]
        if word in COLORS and not (
            word in MATERIALS and any(w in COLORS for w in words if w != word)
        ):
            for part in targets:
                _set_color(part, COLORS[word])
            done.append(f"colour {word}")
        if word in MATERIALS:
            colored = any(w in COLORS and w != word for w in words)
            for part in targets:
                _set_material(part, word, colored or word in COLORS)
            done.append(f"material {word}")
    return done


# ---------------------------------------------------------------------------------------
# edits


class SceneError(ValueError):
    """A scene description from outside that cannot be used; the message names the field."""


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_RESERVED = frozenset(
    "await break case catch class const continue debugger default delete do else enum "
    "export extends false finally for function if implements import in instanceof "
    "interface let new null package private protected public return static super switch "
    "this throw true try typeof var void while with yield root THREE ctx".split()
)
MAX_PARTS = 500


def _finite(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return False


def check_scene(scene: Any) -> dict[str, Any]:
    """Check a scene description that came from outside (read back from code, or sent by a
    client) before code is written from it: part names become JavaScript identifiers,
    colours become hex literals, numbers are pasted in. Raises :class:`SceneError`."""
    if not isinstance(scene, dict) or not isinstance(scene.get("parts"), list):
        raise SceneError("scene.parts: expected a list of parts")
    if len(scene["parts"]) > MAX_PARTS:
        raise SceneError(f"scene.parts: more than {MAX_PARTS} parts")
    names: set[str] = set()
    for i, part in enumerate(scene["parts"]):
        where = f"scene.parts[{i}]"
        if not isinstance(part, dict):
            raise SceneError(f"{where}: expected an object")
        name = part.get("name")
        if not isinstance(name, str) or not _IDENTIFIER.match(name) or name in _RESERVED:
            raise SceneError(f"{where}.name: {str(name)[:40]!r} is not a usable identifier")
        if name in names:
            raise SceneError(f"{where}.name: {name!r} is used twice")
        names.add(name)
        if not isinstance(part.get("color"), str) or not _HEX_COLOR.match(part["color"]):
            raise SceneError(f"{where}.color: expected '#rrggbb', got {part.get('color')!r}")
        for key in ("position", "rotation", "scale"):
            value = part.get(key)
            if not (isinstance(value, list) and len(value) == 3 and _finite(value)):
                raise SceneError(f"{where}.{key}: expected three finite numbers")
        params = part.get("params")
        if not isinstance(params, dict) or not all(_finite(v) for v in params.values()):
            raise SceneError(f"{where}.params: expected an object of finite numbers")
    return scene


class EditNotUnderstood(ValueError):
    """An edit instruction (or part of one) that :func:`apply_edit` cannot carry out."""


EDIT_HELP = (
    "colours (make it red, paint the roof blue), materials (wooden, metal, glass, shiny, "
    "matte), size (bigger, smaller, twice as big, twice as tall, wider, half the size), "
    "rotation (rotate 45 degrees, rotate 90 degrees around x, upside down), moves (move "
    "left/right/up/down/forward/back, by N units), adding parts (add a hat, eyes, a nose, "
    "buttons, wheels, a door, windows, a chimney) and removing parts (remove the hat)"
)
"""What :func:`apply_edit` understands, for error messages."""

_NUMBERS = {
    "once": 1,
    "one": 1,
    "twice": 2,
    "two": 2,
    "double": 2,
    "three": 3,
    "thrice": 3,
    "triple": 3,
    "four": 4,
    "five": 5,
    "half": 0.5,
    "ten": 10,
}
_AXIS_OF = {
    "tall": 1, "taller": 1, "high": 1, "higher": 1, "short": 1, "shorter": 1,
    "wide": 0, "wider": 0, "broad": 0, "broader": 0, "narrow": 0, "narrower": 0, "thin": 0,
    "thinner": 0, "long": 0, "longer": 0,
    "deep": 2, "deeper": 2, "thick": 2, "thicker": 2, "flat": 2, "flatter": 2,
}  # fmt: skip
_SHRINK = {"short", "shorter", "narrow", "narrower", "thin", "thinner", "flat", "flatter"}
_MOVES = {
    "left": (0, -1), "right": (0, 1), "up": (1, 1), "upward": (1, 1), "upwards": (1, 1),
    "higher": (1, 1), "down": (1, -1), "downward": (1, -1), "lower": (1, -1),
    "forward": (2, 1), "forwards": (2, 1), "closer": (2, 1), "front": (2, 1),
    "back": (2, -1), "backward": (2, -1), "backwards": (2, -1), "away": (2, -1),
}  # fmt: skip


def apply_edit(scene: dict[str, Any], instruction: str) -> tuple[dict[str, Any], list[str]]:
    """Apply a plain-language edit to a copy of ``scene``.

    Returns the new scene and a list of what was done. Every clause of ``instruction``
    (split at commas, "and", "then", full stops) must be understood, else
    :class:`EditNotUnderstood` is raised naming the clause and listing what is understood
    (:data:`EDIT_HELP`) — an instruction is never silently ignored.
    """
    scene = copy.deepcopy(scene)
    clauses = [
        c.strip() for c in re.split(r"[,.;!\n]|\band\b|\bthen\b|\balso\b", instruction.lower())
    ]
    clauses = [c for c in clauses if _words(c) and set(_words(c)) - _FILLER]
    if not clauses:
        raise EditNotUnderstood(f"the edit prompt is empty; I understand {EDIT_HELP}")
    done: list[str] = []
    verb = ""
    for clause in clauses:
        result = _apply_clause(scene, clause)
        if not result and verb:  # "add eyes and a nose": the verb carries over
            result = _apply_clause(scene, f"{verb} {clause}")
        first = _words(clause)[0]
        if first in _VERBS:
            verb = first
        if not result:
            raise EditNotUnderstood(f"I did not understand {clause!r}; I understand {EDIT_HELP}")
        done += result
    return tidy(scene), done


_VERBS = {"add", "put", "give", "remove", "delete", "rotate", "turn", "move", "paint", "make"}
_FILLER = {"please", "it", "the", "a", "an", "make", "now", "can", "you", "thanks", "thank"}


def _apply_clause(scene: dict[str, Any], clause: str) -> list[str]:
    words = _words(clause)
    wordset = set(words)
    if wordset & {"add", "put", "give"} or re.search(r"\bwith\b", clause):
        return _add_parts(scene, words)
    if wordset & {"remove", "delete", "without"}:
        return _remove_parts(scene, words)
    if wordset & {"rotate", "turn", "spin", "tilt", "rotated"} or "upside" in wordset:
        return _rotate(scene, words)
    if wordset & {"move", "shift", "slide", "moved"}:
        return _move(scene, words)
    sized = _resize(scene, words)
    if sized:
        return sized
    return _apply_words(scene, words, build=False)


def _number(words: Sequence[str], default: float | None = None) -> float | None:
    for w in words:
        if re.fullmatch(r"\d+(?:\.\d+)?", w):
            return float(w)
        if w in _NUMBERS:
            return float(_NUMBERS[w])
    return default


def _transforms(scene: dict[str, Any], words: Sequence[str]) -> list[dict[str, Any]]:
    """What a transform edit acts on: the named parts, else the whole object."""
    parts = [p for p in _targets(scene, words) if p.get("parent") is None]
    return parts or [scene["transform"]]


def _resize(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    wordset = set(words)
    factor: float | None = None
    axes = [0, 1, 2]
    axis_words = [w for w in words if w in _AXIS_OF]
    if axis_words:
        axes = [_AXIS_OF[axis_words[0]]]
    if wordset & {"bigger", "larger", "big", "large", "huge", "grow", "enlarge"}:
        factor = 1.5
    elif wordset & {"smaller", "small", "tiny", "shrink", "little"}:
        factor = 1 / 1.5
    elif axis_words:
        factor = 1 / 1.5 if axis_words[0] in _SHRINK else 1.5
    elif "size" in wordset or "scale" in wordset:
        factor = 1.0
    if factor is None:
        return []
    n = _number(words)
    if n is not None:
        if "half" in wordset or n < 1:
            factor = n if n < 1 else 1 / n
        elif factor < 1 and "times" in wordset:
            factor = 1 / n
        else:
            factor = n
    elif "size" in wordset or "scale" in wordset:
        return []
    for target in _transforms(scene, words):
        for axis in axes:
            target["scale"][axis] = round(target["scale"][axis] * factor, 4)
    which = "xyz"[axes[0]] if len(axes) == 1 else "all axes"
    return [f"scale ×{factor:g} along {which}"]


def _rotate(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    if "upside" in words:
        angle, axis = 180.0, 2
    else:
        angle = _number(words, 45.0) or 45.0
        axis = 1
        for k, w in enumerate(words):
            if (
                w in ("x", "y", "z")
                and k
                and words[k - 1] in ("around", "about", "on", "x", "axis")
            ):
                axis = "xyz".index(w)
            elif w in ("x", "y", "z") and k + 1 < len(words) and words[k + 1] == "axis":
                axis = "xyz".index(w)
        if {"clockwise"} & set(words) and "counterclockwise" not in words:
            angle = -angle
        if "left" in words:
            angle = -abs(angle)
    for target in _transforms(scene, words):
        target["rotation"][axis] = round(target["rotation"][axis] + angle, 4)
    return [f"rotate {angle:g}° around {'xyz'[axis]}"]


def _move(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    moves = [_MOVES[w] for w in words if w in _MOVES]
    if not moves:
        return []
    amount = _number(words, 1.0) or 1.0
    for target in _transforms(scene, words):
        for axis, sign in moves:
            target["position"][axis] = round(target["position"][axis] + sign * amount, 4)
    return [f"move {'/'.join(w for w in words if w in _MOVES)} by {amount:g}"]


def _remove_parts(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    targets = _targets(scene, words)
    if not targets:
        return []
    gone = {p["name"] for p in targets}
    scene["parts"] = [
        p for p in scene["parts"] if p["name"] not in gone and p.get("parent") not in gone
    ]
    return [f"remove {', '.join(sorted(gone))}"]


# -- adding parts ----------------------------------------------------------------------


def _root_parts(scene: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in scene["parts"] if p.get("parent") is None]


def _head(scene: dict[str, Any]) -> dict[str, Any] | None:
    """The part a face or a hat belongs on: the head, else the highest round part, else
    the highest part."""
    parts = _root_parts(scene)
    if not parts:
        return None
    for p in parts:
        if p["role"] == "head":
            return p
    rounds = [p for p in parts if p["primitive"] == "sphere"]
    return max(rounds or parts, key=_top)


def _body(scene: dict[str, Any]) -> dict[str, Any] | None:
    parts = _root_parts(scene)
    for role in ("body", "walls"):
        for p in parts:
            if p["role"] == role:
                return p
    if not parts:
        return None
    return max(parts, key=lambda p: np.prod(half_extents(p)[:2]))


def _extra(
    scene: dict[str, Any], role: str, primitive: str, params: dict, position, color: str, **kw
) -> dict:
    part = _part(None, "extra", primitive, params, position, color, role=role, **kw)
    part["name"] = _unique_name(scene, role)
    scene["parts"].append(part)
    return part


def _add_hat(scene: dict[str, Any]) -> None:
    head = _head(scene)
    if head is None:
        return
    x, _, z = _center(head)
    r = max(half_extents(head)[0], 0.1)
    top = _top(head) - 0.1 * r
    hat = _extra(scene, "hat", "group", {}, [x, top, z], "#1e1e1e")
    _extra(
        scene,
        "hatBrim",
        "cylinder",
        {"radiusTop": r * 1.1, "radiusBottom": r * 1.1, "height": r * 0.08},
        [0, r * 0.04, 0],
        "#1e1e1e",
    )["parent"] = hat["name"]
    _extra(
        scene,
        "hatCrown",
        "cylinder",
        {"radiusTop": r * 0.65, "radiusBottom": r * 0.7, "height": r * 0.8},
        [0, r * 0.48, 0],
        "#1e1e1e",
    )["parent"] = hat["name"]


def _face_point(head: dict[str, Any], dx: float, dy: float) -> list[float]:
    """A point on the front of ``head`` at (dx, dy) times its half sizes from its centre."""
    x, y, z = _center(head)
    hx, hy, hz = half_extents(head)
    t = max(1 - dx * dx - dy * dy, 0.05)
    depth = hz * math.sqrt(t) if head["primitive"] == "sphere" else hz
    return [x + dx * hx, y + dy * hy, z + depth]


def _add_eyes(scene: dict[str, Any]) -> None:
    head = _head(scene)
    if head is None:
        return
    r = max(min(half_extents(head)[:2]) * 0.12, 0.02)
    for side, dx in (("Left", -0.35), ("Right", 0.35)):
        _extra(scene, f"eye{side}", "sphere", {"radius": r}, _face_point(head, dx, 0.25), "#1e1e1e")


def _add_nose(scene: dict[str, Any]) -> None:
    head = _head(scene)
    if head is None:
        return
    r = max(min(half_extents(head)[:2]) * 0.12, 0.02)
    pos = _face_point(head, 0.0, 0.0)
    pos[2] += r * 1.5
    _extra(
        scene, "nose", "cone", {"radius": r, "height": r * 4}, pos, "#f08c00", rotation=[90, 0, 0]
    )


def _add_buttons(scene: dict[str, Any]) -> None:
    body = next((p for p in _root_parts(scene) if p["role"] == "middle"), None) or _body(scene)
    if body is None:
        return
    r = max(min(half_extents(body)[:2]) * 0.08, 0.02)
    for k, dy in enumerate((0.4, 0.0, -0.4), start=1):
        _extra(scene, f"button{k}", "sphere", {"radius": r}, _face_point(body, 0.0, dy), "#1e1e1e")


def _add_wheels(scene: dict[str, Any]) -> None:
    body = _body(scene)
    if body is None:
        return
    x, _, z = _center(body)
    hx, hy, hz = half_extents(body)
    r = max(hy * 0.45, 0.05)
    bottom = _bottom(body)
    for side, dx in (("Front", 0.6), ("Rear", -0.6)):
        wheel = _extra(scene, f"wheel{side}", "group", {}, [x + dx * hx, bottom, z], "#212529")
        wheel["wheel"] = {"radius": r, "track": hz + r * 0.15, "width": r * 0.5}


def _house_walls(scene: dict[str, Any]) -> dict[str, Any] | None:
    return next((p for p in _root_parts(scene) if p["role"] == "walls"), None) or _body(scene)


def _add_door(scene: dict[str, Any]) -> None:
    walls = _house_walls(scene)
    if walls is None:
        return
    x, _, z = _center(walls)
    hx, hy, hz = half_extents(walls)
    w, h = hx * 0.45, hy * 1.1
    _extra(
        scene,
        "door",
        "box",
        {"width": w, "height": h, "depth": 0.04},
        [x, _bottom(walls) + h / 2, z + hz],
        "#6d4c41",
    )


def _add_windows(scene: dict[str, Any]) -> None:
    walls = _house_walls(scene)
    if walls is None:
        return
    x, y, z = _center(walls)
    hx, hy, hz = half_extents(walls)
    s = min(hx, hy) * 0.4
    for side, dx in (("Left", -0.6), ("Right", 0.6)):
        _extra(
            scene,
            f"window{side}",
            "box",
            {"width": s, "height": s, "depth": 0.04},
            [x + dx * hx, y + 0.3 * hy, z + hz],
            "#a5d8ff",
        )


def _add_chimney(scene: dict[str, Any]) -> None:
    walls = _house_walls(scene)
    if walls is None:
        return
    x, _, z = _center(walls)
    hx, hy, _ = half_extents(walls)
    roof = next((p for p in _root_parts(scene) if p["role"] == "roof"), None)
    top = _top(roof) if roof else _top(walls)
    h = (top - _top(walls)) * 0.8 + hy * 0.3
    _extra(
        scene,
        "chimney",
        "box",
        {"width": hx * 0.2, "height": h, "depth": hx * 0.2},
        [x + hx * 0.5, _top(walls) + h / 2, z],
        "#8b5a2b",
    )


_ADDERS = {
    "hat": _add_hat,
    "cap": _add_hat,
    "eyes": _add_eyes,
    "eye": _add_eyes,
    "nose": _add_nose,
    "carrot": _add_nose,
    "buttons": _add_buttons,
    "button": _add_buttons,
    "wheels": _add_wheels,
    "wheel": _add_wheels,
    "door": _add_door,
    "windows": _add_windows,
    "window": _add_windows,
    "chimney": _add_chimney,
}


def _add_parts(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    done = []
    for w in words:
        if w in _ADDERS and f"add {w}" not in done:
            before = len(scene["parts"])
            _ADDERS[w](scene)
            if len(scene["parts"]) > before:
                new = scene["parts"][before:]
                colour = [c for c in words if c in COLORS]
                if colour:
                    for part in new:
                        part["color"] = COLORS[colour[0]]
                done.append(f"add {w}")
    return done
