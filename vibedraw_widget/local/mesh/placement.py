"""After inflating (*placing*): the code path's layout moves the parts, and names them.

A known object ("a snowman", "a house", from the prompt or the sketch's text labels) is
arranged by :mod:`vibedraw_widget.local.layouts` in the code path: balls stacked, a roof
on its walls, a crown on its trunk, wheels on the ground. The same scene is built here
from the same recognised shapes, and every part the arrangement moved is moved to match:
its bounding box's bottom centre goes where the scene's part has it. Parts drawn on a
moved part (an eye on a snowman's head) move with it. Draw order as depth is already the
inflation's (nested outlines ride on their container, later overlapping ones in front).

Names: a part is called after the text label written on or next to it, else after its
role in the arranged object (``walls``, ``roof``, ``head``), else after its recognised
kind and place in the model (``ellipse_0``, ``rectangle_1``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.affinity

from ..parts import half_extents, part_center
from ..recognize import Shape
from .outlines import Layout

if TYPE_CHECKING:  # inflate calls this module at its end
    from .inflate import Part

MOVED = 1e-3
"""A scene part whose anchor moved more than this fraction of the drawing is placed."""


SINK = 0.005
"""A part lowered onto another sinks this fraction of the drawing into it, so that the
two solids share volume (a merge makes one body of them)."""


LABEL_REACH = 0.15
"""A text labels a shape when it is written within this fraction of the shape's
bounding-box diagonal of it (or inside it)."""


def _box(part: dict[str, Any]) -> tuple[float, float, float, float]:
    """A scene part's (x0, y0, x1, y1) in world units (rotation ignored)."""
    x, y, _ = part["position"]
    if part["primitive"] in ("prism", "extrusion"):
        pts = np.asarray(part["params"]["points"], float)[:, :2] * np.asarray(part["scale"][:2])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return x + lo[0], y + lo[1], x + hi[0], y + hi[1]
    cx, cy, _ = part_center(part)
    hx, hy, _ = half_extents(part)
    if part["primitive"] == "group" and "wheel" in part:  # a car's wheel: its radius
        hx = hy = float(part["wheel"]["radius"])
    return cx - hx, cy - hy, cx + hx, cy + hy


def _anchor(part: dict[str, Any]) -> np.ndarray:
    x0, y0, x1, _ = _box(part)
    return np.array([(x0 + x1) / 2, y0])


def arrange_parts(parts: list[Part], layout: Layout, prompt: str = "") -> dict[int, str]:
    """Move ``parts`` (in place) as the code path's scene arranges their shapes; returns
    the role the arrangement gave each shape (by shape index) when it is not its kind."""
    from ..scene import WORLD_SIZE, build_scene
    from ..words import known_object, split_words

    shapes = layout.shapes
    words = " ".join([prompt, *(t.get("text", "") for t in layout.texts)])
    if not shapes or known_object(split_words(words)) is None:
        return {}
    arranged = {p["shape_index"]: p for p in build_scene(shapes, words)["parts"]}
    plain = {p["shape_index"]: p for p in build_scene(shapes, "")["parts"]}
    # The scene's frame: world units per sketch pixel, and where its origin is.
    boxes = np.array([s.geometry["bbox"] for s in shapes], float)
    lo, hi = boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)
    world_per_px = WORLD_SIZE / max(float(max(hi - lo)), 1.0)
    cx, bottom = (lo[0] + hi[0]) / 2, hi[1]
    frame = layout.frame

    def to_model(anchor: np.ndarray) -> np.ndarray:
        px = np.array([anchor[0] / world_per_px + cx, bottom - anchor[1] / world_per_px])
        return frame.to_model(px[None])[0]

    shifts: dict[int, np.ndarray] = {}
    roles: dict[int, str] = {}
    for index, part in enumerate(parts):
        k = part.shape
        if k is None or k not in arranged or k not in plain:
            continue
        if arranged[k]["role"] != arranged[k]["kind"]:
            roles[k] = arranged[k]["role"]
        goal = _anchor(arranged[k])
        if np.hypot(*(goal - _anchor(plain[k]))) <= MOVED * WORLD_SIZE:
            continue
        lo3, hi3 = part.mesh.bounds
        here = np.array([(lo3[0] + hi3[0]) / 2, lo3[1]])
        shifts[index] = to_model(goal) - here
    if not shifts:
        return roles
    # Parts drawn on a moved part (inside its outline) ride along with it.
    riders: dict[int, int] = {}
    for index, part in enumerate(parts):
        if index in shifts:
            continue
        xy = part.mesh.vertices[:, :2]
        for host in sorted(shifts, key=lambda h: parts[h].outline.area if parts[h].outline else 0):
            outline = parts[host].outline
            if (
                outline is not None
                and shapely.contains_xy(outline, xy[:, 0], xy[:, 1]).mean() > 0.5
            ):
                riders[index] = host
                break
    for index, (dx, dy) in shifts.items():
        _move(parts[index], float(dx), float(dy))
    for index, host in riders.items():
        _move(parts[index], float(shifts[host][0]), float(shifts[host][1]))
    # The scene's boxes are fitted shapes, the outlines drawn ones: a roof whose base
    # slopes can end up a hair above a wobbly wall. Lower each moved part until it
    # rests on what is under it (a ball on a ball, a roof on its walls), lowest first.
    size = frame.scale * max(float(max(hi - lo)), 1.0)
    for index in sorted(shifts, key=lambda i: parts[i].mesh.bounds[0, 1]):
        if parts[index].outline is None:
            continue
        others = [p for i, p in enumerate(parts) if i != index and riders.get(i) != index]
        drop = _drop_to_rest(parts[index], others, size)
        if drop > 0:
            _move(parts[index], 0.0, -drop)
            for rider, host in riders.items():
                if host == index:
                    _move(parts[rider], 0.0, -drop)
    return roles


def _move(part: Part, dx: float, dy: float) -> None:
    part.mesh.apply_translation((dx, dy, 0.0))
    if part.outline is not None:
        part.outline = shapely.affinity.translate(part.outline, dx, dy)
    part.offset = (part.offset[0] + dx, part.offset[1] + dy)


def _drop_to_rest(part: Part, others: list[Part], size: float, samples: int = 48) -> float:
    """How far to lower ``part`` so its outline rests on (overlaps by :data:`SINK` of the
    drawing) the highest outline below it; 0 when it already touches one or nothing is
    below it."""
    mine = part.outline
    x0, y0, x1, _ = mine.bounds
    gaps = []
    for other in others:
        if other.outline is None or other.kind != "inflated":
            continue
        ox0, oy0, ox1, oy1 = other.outline.bounds
        lo, hi = max(x0, ox0), min(x1, ox1)
        if hi <= lo or (oy0 + oy1) / 2 >= (y0 + mine.bounds[3]) / 2:
            continue  # not under this part
        best = np.inf
        for x in np.linspace(lo, hi, samples + 2)[1:-1]:
            cut = shapely.LineString([(x, y0 - size), (x, y0 + 2 * size)])
            a, b = mine.intersection(cut), other.outline.intersection(cut)
            if a.is_empty or b.is_empty:
                continue
            best = min(best, a.bounds[1] - b.bounds[3])
        if np.isfinite(best):
            gaps.append(best)
    if not gaps or min(gaps) <= 0:
        return 0.0
    return float(min(gaps)) + SINK * size


def name_parts(parts: list[Part], layout: Layout, roles: dict[int, str] | None = None) -> None:
    """Name ``parts`` (in place) after a nearby text label, an arranged role or their kind;
    names are unique (``door``, ``door_2``)."""
    roles = roles or {}
    labels = _labels(layout)
    names: list[str] = []
    for index, part in enumerate(parts):
        base = labels.get(part.shape) or roles.get(part.shape) or f"{part.shape_kind}_{index}"
        name, k = _identifier(base), 2
        while name in names:
            name, k = f"{_identifier(base)}_{k}", k + 1
        names.append(name)
        part.name = name


def _labels(layout: Layout) -> dict[int, str]:
    """Shape index → the text written on or next to it (the nearest such text wins,
    each text labels one shape: the smallest that it is near)."""
    found: dict[int, str] = {}
    shapes: list[Shape] = layout.shapes
    for text in layout.texts:
        words = str(text.get("text", "")).strip()
        if not words:
            continue
        p = np.array([float(text.get("x", 0)), float(text.get("y", 0))])
        best = None
        for k, shape in enumerate(shapes):
            x0, y0, x1, y1 = shape.geometry["bbox"]
            reach = LABEL_REACH * float(np.hypot(x1 - x0, y1 - y0))
            dx = max(x0 - p[0], 0.0, p[0] - x1)
            dy = max(y0 - p[1], 0.0, p[1] - y1)
            if np.hypot(dx, dy) <= reach:
                area = (x1 - x0) * (y1 - y0)
                if best is None or area < best[0]:
                    best = (area, k)
        if best is not None and best[1] not in found:
            found[best[1]] = words
    return found


def _identifier(text: str) -> str:
    """A node name: lower-case words joined by ``_`` (``"Front door!"`` → ``front_door``)."""
    words = re.findall(r"[A-Za-z0-9]+", text.lower())
    return "_".join(words)[:40] or "part"
