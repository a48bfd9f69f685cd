"""Stage 1 of meshing (*tracing*): strokes → closed outlines and open-stroke tubes.

Single strokes whose ends meet, or two strokes whose ends meet each other, become clean
polygons with self-overlaps resolved; other strokes become tube centrelines. The sketch's
plane is mapped to metres, x right, y up (sketch y is down), centred on the drawing in x,
its bottom on ``y = 0`` as in the code path's scenes, so a mesh and a code object side by
side in a World stand on the same floor.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.ops import polygonize, unary_union

from ..recognize import polyline_length

DEFAULT_SIZE = 1.0
"""The drawing's larger side becomes this many metres."""


CLOSE_GAP = 0.2
"""A stroke is closed when its ends come within this fraction of its bounding-box
diagonal (measured on the samples: closed shapes ≤ 0.13, open strokes ≥ 0.4)."""


MIN_LOOP_RATIO = 1.6
"""A closed loop is at least this many bounding-box diagonals long (a circle: 2.22, a
flat ellipse: 2, a line: 1)."""


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
    under: list[int] = field(default_factory=list)
    """Earlier outlines of another colour this one partly overlaps (it sits in front)."""


@dataclass
class Tube:
    """An open stroke: its centreline (model coordinates), radius and colour."""

    points: np.ndarray
    radius: float
    strokes: list[int]
    color: str


@dataclass
class Layout:
    """What :func:`find_outlines` found: outlines, tubes and the pixel→model frame."""

    outlines: list[Outline]
    tubes: list[Tube]
    frame: Frame


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


def _diag(p: np.ndarray) -> float:
    return float(np.hypot(*(p.max(axis=0) - p.min(axis=0)))) if len(p) else 0.0


def _close_loop(p: np.ndarray, width: float) -> np.ndarray | None:
    """The stroke as a closed loop when its ends meet (a small gap, or an overshoot that
    crosses the start), trimmed to that meeting point; ``None`` for an open stroke."""
    if len(p) < 6:
        return None
    length, diag = polyline_length(p), _diag(p)
    if diag <= 0 or length < MIN_LOOP_RATIO * diag:  # a line or an arc encloses little
        return None
    tol = max(CLOSE_GAP * diag, 2.0 * width)
    # Look for the closest pair between the first and the last fifth of the stroke.
    cum = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))))
    head = np.flatnonzero(cum <= 0.2 * length)
    tail = np.flatnonzero(cum >= 0.8 * length)
    d = np.hypot(*(p[head][:, None, :] - p[tail][None, :, :]).transpose(2, 0, 1))
    i, j = np.unravel_index(int(np.argmin(d)), d.shape)
    if d[i, j] > tol:
        return None
    loop = p[head[i] : tail[j] + 1]
    if len(loop) < 6 or polyline_length(loop) < MIN_LOOP_RATIO * _diag(loop):
        return None
    return loop


def _join_pair(a: np.ndarray, b: np.ndarray, width: float) -> np.ndarray | None:
    """Two open strokes whose ends meet each other at both joints, as one loop."""
    diag = _diag(np.concatenate((a, b)))
    tol = max(CLOSE_GAP * diag, 2.0 * width)
    best = None
    for bb in (b, b[::-1]):
        gap = max(np.hypot(*(a[-1] - bb[0])), np.hypot(*(bb[-1] - a[0])))
        if gap <= tol and (best is None or gap < best[0]):
            best = (gap, np.concatenate((a, bb)))
    if best is None:
        return None
    loop = best[1]
    return loop if polyline_length(loop) >= MIN_LOOP_RATIO * _diag(loop) else None


def _maybe_joinable(points: list[np.ndarray], widths: list[float]) -> Iterator[tuple[int, int]]:
    """Index pairs ``i < j`` (in order) whose ends pass :func:`_join_pair`'s gap test.

    The same test on first and last points and bounding boxes, one row of pairs at a
    time in numpy, so that the exact test (which joins the points) runs on the few
    pairs that can pass, not on every pair of hundreds of open strokes. A hair of slack
    keeps it from dropping a pair the exact test would accept.
    """
    if len(points) < 2:
        return
    first = np.array([p[0] for p in points])
    last = np.array([p[-1] for p in points])
    lo = np.array([p.min(axis=0) for p in points])
    hi = np.array([p.max(axis=0) for p in points])
    w = np.asarray(widths, dtype=float)

    def dist(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return np.hypot(p[..., 0] - q[..., 0], p[..., 1] - q[..., 1])

    for i in range(len(points) - 1):
        j = slice(i + 1, None)
        extent = np.maximum(hi[i], hi[j]) - np.minimum(lo[i], lo[j])
        tol = np.maximum(
            CLOSE_GAP * np.hypot(extent[:, 0], extent[:, 1]), 2.0 * np.maximum(w[i], w[j])
        )
        forward = np.maximum(dist(last[i], first[j]), dist(last[j], first[i]))
        backward = np.maximum(dist(last[i], last[j]), dist(first[j], first[i]))
        for k in np.flatnonzero(np.minimum(forward, backward) <= tol * (1 + 1e-9)):
            yield i, i + 1 + int(k)


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
    polys = [region] if isinstance(region, Polygon) else list(getattr(region, "geoms", []))
    polys = [q for q in polys if isinstance(q, Polygon) and not q.is_empty]
    if not polys:
        return None
    biggest = max(q.area for q in polys)
    polys = [Polygon(q.exterior) for q in polys if q.area >= 0.02 * biggest]
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def find_outlines(sketch: dict[str, Any], size: float = DEFAULT_SIZE) -> Layout:
    """Stage 1 (*tracing*): closed outlines and open strokes of a validated sketch.

    A stroke is closed when its ends meet (gap within 20% of its bounding-box diagonal
    or twice its width, overshoots trimmed); two open strokes whose ends meet at both
    joints form one outline. Nesting and overlaps are resolved here too: an outline
    inside another gets ``parent``; partly overlapping outlines of one colour are
    unioned, of different colours the later one lists the earlier in ``under``.
    """
    frame = sketch_frame(sketch, size)
    strokes = sketch.get("strokes", [])
    closed: list[tuple[list[int], np.ndarray, str]] = []
    open_: dict[int, np.ndarray] = {}
    for i, s in enumerate(strokes):
        p = np.asarray(s["points"], dtype=float)[:, :2]
        p = _dedupe(p, 0.5)
        if len(p) == 0:
            continue
        loop = _close_loop(p, float(s.get("width", 4)))
        if loop is not None:
            closed.append(([i], loop, s.get("color", "#1e1e1e")))
        else:
            open_[i] = p
    # Pair open strokes into outlines, closest joints first.
    pairs = []
    keys = sorted(open_)
    widths = [float(strokes[k].get("width", 4)) for k in keys]
    for ai, bi in _maybe_joinable([open_[k] for k in keys], widths):
        a, b = keys[ai], keys[bi]
        loop = _join_pair(open_[a], open_[b], max(widths[ai], widths[bi]))
        if loop is not None:
            gap = min(
                np.hypot(*(open_[a][-1] - open_[b][0])) + np.hypot(*(open_[a][0] - open_[b][-1])),
                np.hypot(*(open_[a][-1] - open_[b][-1])) + np.hypot(*(open_[a][0] - open_[b][0])),
            )
            pairs.append((gap / _diag(loop), a, b, loop))
    for _, a, b, loop in sorted(pairs, key=lambda t: t[0]):
        if a in open_ and b in open_:
            del open_[a], open_[b]
            closed.append(([a, b], loop, strokes[a].get("color", "#1e1e1e")))

    outlines: list[Outline] = []
    for idx, loop, color in sorted(closed, key=lambda t: min(t[0])):
        poly = clean_polygon(frame.to_model(loop))
        if poly is None or poly.area <= 0:
            for i in idx:
                open_[i] = np.asarray(strokes[i]["points"], dtype=float)[:, :2]
            continue
        outlines.append(Outline(poly, idx, color))
    outlines = _resolve_overlaps(outlines)

    tubes = []
    for i in sorted(open_):
        s = strokes[i]
        pts = frame.to_model(_dedupe(open_[i], 0.5))
        radius = max(float(s.get("width", 4)) / 2 * frame.scale, 0.004 * size)
        tubes.append(Tube(pts, radius, [i], s.get("color", "#1e1e1e")))
    return Layout(outlines, tubes, frame)


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
