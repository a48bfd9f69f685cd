"""Per-object layouts: known objects (snowman, house, tree, car, sun) arrange their
recognised parts as the object is built (balls stacked, a roof on its walls …).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..sketch import DEFAULT_COLOR
from .parts import half_extents, part_bottom, part_center, part_top
from .recognize import Shape


def _indices(shapes: Sequence[Shape], kinds: Iterable[str]) -> list[int]:
    kinds = set(kinds)
    return [i for i, s in enumerate(shapes) if s.kind in kinds]


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
        if part_center(parts[i])[1] > part_top(walls) - 0.2 * walls["params"]["height"]
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
            position=[wx, part_top(walls), 0.0],
            rotation=[0.0, 0.0, 0.0],
        )
        _tint(roof, "#b03a2e")
    for i in boxes:
        if i == walls_i:
            continue
        part = parts[i]
        x, y, _ = part["position"]
        if abs(x - wx) < width / 2 and part_bottom(walls) <= y <= part_top(walls):
            low = part_bottom(part) - part_bottom(walls) < 0.1 * walls["params"]["height"]
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
    trunk = parts[min(trunks, key=lambda i: part_center(parts[i])[1])]
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
    for i in sorted(crowns, key=lambda i: part_center(parts[i])[1]):
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
        x, y, _ = part_center(wheel)
        if y > part_center(body)[1]:
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
    lowest = min(
        (part_bottom(parts[i]) for i in wheels if parts[i]["role"] == "wheel"), default=0.0
    )
    if lowest < 0:
        for part in parts:
            part["position"][1] -= lowest


def _arrange_sun(parts: list[dict[str, Any]], shapes: Sequence[Shape]) -> None:
    """The highest round shape glows yellow; the lowest line is the ground."""
    rounds = _indices(shapes, ["ellipse"])
    if rounds:
        sun = parts[max(rounds, key=lambda i: part_center(parts[i])[1])]
        sun["role"] = "sun"
        _tint(sun, "#fcc419")
        sun["material"] = {"roughness": 0.5, "metalness": 0.0, "emissive": "#f08c00"}
    lines = _indices(shapes, ["line", "polyline"])
    if lines:
        ground = parts[min(lines, key=lambda i: part_center(parts[i])[1])]
        ground["role"] = "ground"
        _tint(ground, "#2f9e44")


ARRANGERS = {
    "snowman": _arrange_snowman,
    "house": _arrange_house,
    "tree": _arrange_tree,
    "car": _arrange_car,
    "sun": _arrange_sun,
}
