"""A scene part's extent and place: half extents, centre, top and bottom in world units."""

from __future__ import annotations

from typing import Any

import numpy as np


def round2(a: Any) -> Any:
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


def part_center(part: dict[str, Any]) -> list[float]:
    """World centre of a root-level part (lathes stand on their position)."""
    x, y, z = part["position"]
    if part["primitive"] == "lathe":
        y += half_extents(part)[1]
    return [x, y, z]


def part_top(part: dict[str, Any]) -> float:
    return part_center(part)[1] + half_extents(part)[1]


def part_bottom(part: dict[str, Any]) -> float:
    return part_center(part)[1] - half_extents(part)[1]
