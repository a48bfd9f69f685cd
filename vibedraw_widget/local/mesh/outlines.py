"""Stage 1 of meshing (*tracing*): strokes → closed outlines and open-stroke tubes.

Every shape the recogniser calls closed (one stroke whose ends meet, or several whose
ends chain into a loop) becomes a clean polygon with self-overlaps resolved; other
strokes become tube centrelines. The sketch's
plane is mapped to metres, x right, y up (sketch y is down), centred on the drawing in x,
its bottom on ``y = 0`` as in the code path's scenes, so a mesh and a code object side by
side in a World stand on the same floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.ops import polygonize, unary_union

from ..recognize import CLOSED_KINDS, Shape, recognize_outlines
from ..scene import WORLD_SIZE

DEFAULT_SIZE = WORLD_SIZE
"""The drawing's larger side becomes this many metres: the code path's
:data:`~vibedraw_widget.local.scene.WORLD_SIZE` (one unit is one metre everywhere)."""


SPIKE_WIDTH = 0.004
"""Spikes of an outline thinner than twice this fraction of the square root of its
area are cut off (a hair's width: 1.6 mm on a shape 40 cm across)."""


@dataclass
class Frame:
    """The map from sketch pixels (y down) to model metres (x right, y up): pixel ``(cx, cy)``
    goes to the origin."""

    scale: float
    cx: float
    cy: float

    def to_model(self, points: Any) -> np.ndarray:
        """``(n, 2)`` pixel coordinates → ``(n, 2)`` model coordinates in metres."""
        p = np.asarray(points, dtype=float)[:, :2]
        return np.column_stack(((p[:, 0] - self.cx) * self.scale, (self.cy - p[:, 1]) * self.scale))


@dataclass
class Outline:
    """A closed outline: a clean polygon (model coordinates) and where it came from."""

    polygon: Polygon | MultiPolygon
    strokes: list[int]
    color: str
    parent: int | None = None
    """Index of the outline this one is nested in (it then rides on that surface)."""
    kind: str = "blob"
    """The recognised kind (ellipse, rectangle, triangle, polygon, blob)."""
    shape: int | None = None
    """Index of the recognised shape (in :attr:`Layout.shapes`) it came from."""
    under: list[int] = field(default_factory=list)
    """Earlier outlines of another colour this one partly overlaps (it sits in front)."""


@dataclass
class Tube:
    """An open stroke: its centreline (model coordinates), radius and colour."""

    points: np.ndarray
    radius: float
    strokes: list[int]
    color: str
    kind: str = "line"
    """The recognised kind (line or polyline; a dot is an ellipse)."""
    shape: int | None = None
    """Index of the recognised shape (in :attr:`Layout.shapes`) it came from."""


@dataclass
class Layout:
    """What :func:`find_outlines` found: outlines, tubes and the pixel→model frame."""

    outlines: list[Outline]
    tubes: list[Tube]
    frame: Frame
    shapes: list[Shape] = field(default_factory=list)
    """What the recogniser found, in drawing order (outlines and tubes index into it)."""
    texts: list[dict[str, Any]] = field(default_factory=list)
    """The sketch's text labels (they name parts and may name a known object)."""


def sketch_frame(sketch: dict[str, Any], size: float = DEFAULT_SIZE) -> Frame:
    """The frame that maps the drawing's bounding box (plus a pen width) onto ``size``
    metres, centred on it in x, with its bottom edge (the pen's too) on ``y = 0``."""
    pts = [np.asarray(s["points"], dtype=float)[:, :2] for s in sketch.get("strokes", [])]
    pts = [p for p in pts if len(p)]
    if not pts:
        w, h = float(sketch.get("width", 640)), float(sketch.get("height", 480))
        return Frame(scale=size / max(w, h), cx=w / 2, cy=h)
    allp = np.concatenate(pts)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    # The pen width counts, so a lone dot becomes a ball ``size`` across.
    pen = max(float(s.get("width", 4)) for s in sketch["strokes"])
    extent = float(max(hi - lo)) + pen
    return Frame(scale=size / extent, cx=float(lo[0] + hi[0]) / 2, cy=float(hi[1]) + pen / 2)


def _dedupe(p: np.ndarray, eps: float) -> np.ndarray:
    """Drop points closer than ``eps`` to the previous kept one (keeps the last point)."""
    if len(p) < 2:
        return p
    keep = [0]
    for i in range(1, len(p)):
        if np.hypot(*(p[i] - p[keep[-1]])) > eps:
            keep.append(i)
    return p[keep]


def clean_polygon(loop: np.ndarray) -> Polygon | MultiPolygon | None:
    """The region a closed loop encloses, with self-overlaps resolved: the loop is noded
    at its crossings and every face it bounds is kept (so a stray overshoot loop or a
    figure eight fill as drawn); tiny slivers are dropped."""
    ring = np.vstack((loop, loop[:1]))
    noded = unary_union(LineString(ring))
    faces = [f for f in polygonize(noded) if f.area > 0]
    if not faces:
        return None
    region = unary_union(faces).buffer(0)
    # A morphological opening (mitred, so corners stay sharp) removes needles: where a
    # stroke runs back along itself (strokes overlapping at a joint, an overshoot that
    # never quite crosses) the region has a spike too thin to triangulate or print.
    eps = SPIKE_WIDTH * math.sqrt(region.area)
    opened = region.buffer(-eps, join_style="mitre").buffer(eps, join_style="mitre")
    if opened.area >= 0.9 * region.area:
        region = opened
    polys = [region] if isinstance(region, Polygon) else list(getattr(region, "geoms", []))
    polys = [q for q in polys if isinstance(q, Polygon) and not q.is_empty]
    if not polys:
        return None
    biggest = max(q.area for q in polys)
    polys = [Polygon(q.exterior) for q in polys if q.area >= 0.02 * biggest]
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def find_outlines(sketch: dict[str, Any], size: float = DEFAULT_SIZE) -> Layout:
    """Stage 1 (*tracing*): closed outlines and open strokes of a validated sketch.

    What is closed is the recogniser's call
    (:func:`~vibedraw_widget.local.recognize.recognize_outlines`), so the mesh and the
    code path agree: every shape it recognises as an ellipse,
    rectangle, triangle, polygon or blob becomes an outline, however few points it was
    drawn with, its gap (ends within a tenth of the loop's length) bridged straight and
    its overshoot trimmed; a shape drawn in several strokes whose ends meet is one
    outline. Nesting and overlaps are resolved here too: an outline inside another gets
    ``parent``; partly overlapping outlines of one colour are unioned, of different
    colours the later one lists the earlier in ``under``.
    """
    frame = sketch_frame(sketch, size)
    strokes = sketch.get("strokes", [])
    found = recognize_outlines(sketch) if strokes else []
    outlines: list[Outline] = []
    open_: dict[int, int] = {}  # stroke → shape index
    for k, (shape, loop) in enumerate(found):
        poly = None
        if loop is not None and shape.kind in CLOSED_KINDS:
            poly = clean_polygon(frame.to_model(_dedupe(loop, 0.5)))
        if poly is None or poly.area <= 0:
            open_.update((i, k) for i in shape.strokes)
            continue
        outlines.append(Outline(poly, list(shape.strokes), shape.color, kind=shape.kind, shape=k))
    outlines = _resolve_overlaps(outlines)

    tubes = []
    for i in sorted(open_):
        s = strokes[i]
        pts = frame.to_model(_dedupe(np.asarray(s["points"], dtype=float)[:, :2], 0.5))
        radius = max(float(s.get("width", 4)) / 2 * frame.scale, 0.004 * size)
        kind = found[open_[i]][0].kind if len(found[open_[i]][0].strokes) == 1 else "line"
        tubes.append(Tube(pts, radius, [i], s.get("color", "#1e1e1e"), kind, open_[i]))
    texts = list(sketch.get("texts", []))
    return Layout(outlines, tubes, frame, [shape for shape, _ in found], texts)


def _resolve_overlaps(outlines: list[Outline]) -> list[Outline]:
    """Union partly overlapping outlines of one colour; then find nesting and layering."""
    merged = True
    while merged:
        merged = False
        for i in range(len(outlines)):
            for j in range(i + 1, len(outlines)):
                a, b = outlines[i], outlines[j]
                if a.color != b.color or not a.polygon.intersects(b.polygon):
                    continue
                inter = a.polygon.intersection(b.polygon).area
                if inter <= 0 or inter >= 0.9 * min(a.polygon.area, b.polygon.area):
                    continue  # touching only, or nested: not a union
                union = unary_union([a.polygon, b.polygon]).buffer(0)
                polys = [union] if isinstance(union, Polygon) else list(union.geoms)
                polys = [Polygon(q.exterior) for q in polys]
                a.polygon = polys[0] if len(polys) == 1 else MultiPolygon(polys)
                a.strokes = sorted(a.strokes + b.strokes)
                del outlines[j]
                merged = True
                break
            if merged:
                break
    for j, b in enumerate(outlines):
        best = None
        for i, a in enumerate(outlines):
            if i == j or a.polygon.area <= b.polygon.area:
                continue
            inter = a.polygon.intersection(b.polygon).area
            if inter >= 0.9 * b.polygon.area and (best is None or a.polygon.area < best[0]):
                best = (a.polygon.area, i)
        if best is not None:
            b.parent = best[1]
            continue
        overlaps = (a.polygon.intersection(b.polygon).area for a in outlines[:j])
        b.under = [i for i, inter in enumerate(overlaps) if 0.0 < inter < 0.9 * b.polygon.area]
    return outlines
