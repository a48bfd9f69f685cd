"""Sketch → watertight 3D parts by inflation (Teddy / Monster Mash style), and GLB export.

The pipeline has four stages, each a module-level function of plain, picklable data so
that a provider can run it in a worker process and report progress in between:

1. :func:`find_outlines` (*tracing*): strokes → closed outlines (single strokes whose ends
   meet, or two strokes whose ends meet each other) as clean polygons with
   self-overlaps resolved, plus open strokes as tube centrelines; the sketch's plane is
   mapped to metres, x right, y up (sketch y is down), centred on the drawing in x, its
   bottom on ``y = 0`` as in the code path's scenes: a mesh and a code object side by
   side in a World stand on the same floor.
2. :func:`triangulate_outline` (*triangulating*): a polygon → a conforming Delaunay
   triangulation with interior points on a jittered hexagonal lattice; interior edges
   that join two outline vertices are split, so front and back glue watertight.
3. :func:`inflate_layout` (*inflating*): per outline a Poisson solve (cotangent
   Laplacian, ``-Δu = 1``, ``u = 0`` on the outline); height ``= 2·sqrt(u)``, which is
   exactly a sphere for a circle; the back is the mirror image sharing the outline.
   Nested outlines ride on their container's surface as slightly raised lenses,
   partly overlapping outlines of one colour are unioned and of different colours
   layered by draw order; open strokes become tubes with round caps.
4. :func:`meshes_to_glb` (*exporting*): one named glTF node per part, one material per
   stroke colour.

:func:`sketch_to_meshes` runs all four in-process.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import trimesh
from scipy import sparse
from scipy.interpolate import LinearNDInterpolator
from scipy.sparse.linalg import spsolve
from scipy.spatial import Delaunay, cKDTree
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.ops import polygonize, unary_union

from .recognize import polyline_length, resample
from .sketch import solid_color

DEFAULT_SIZE = 1.0
"""The drawing's larger side becomes this many metres."""

DEFAULT_DETAIL = 1.0
"""Detail 1 gives about 6,000 triangles per inflated part; the count scales linearly."""

MIN_FACES, MAX_FACES = 2_000, 30_000
NESTED_RAISE = 0.35
"""How far a nested outline stands out of its container, relative to its own inflation."""

CLOSE_GAP = 0.2
"""A stroke is closed when its ends come within this fraction of its bounding-box
diagonal (measured on the samples: closed shapes ≤ 0.13, open strokes ≥ 0.4)."""

MIN_LOOP_RATIO = 1.6
"""A closed loop is at least this many bounding-box diagonals long (a circle: 2.22, a
flat ellipse: 2, a line: 1)."""

LAYER_SHIFT = 0.5
"""A later, overlapping outline of another colour sits this fraction of the earlier
part's height in front of it (layering by draw order)."""


# ----------------------------------------------------------------------------- data


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


@dataclass
class Triangulation:
    """A planar triangulation of one outline: ``vertices[:n_boundary]`` lie on it."""

    vertices: np.ndarray
    faces: np.ndarray
    n_boundary: int


@dataclass
class Part:
    """One named, watertight mesh of the model, with its colour and provenance."""

    name: str
    mesh: trimesh.Trimesh
    color: str
    kind: str  # "inflated" or "tube"
    strokes: list[int]
    outline: Polygon | MultiPolygon | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Parts travel between pool processes. A pickled Trimesh carries its whole cache
        # (normals, adjacency …), eight times the mesh, and the server would spend
        # milliseconds holding the GIL on it: send the two arrays instead.
        state = dict(self.__dict__)
        state["mesh"] = (np.asarray(self.mesh.vertices), np.asarray(self.mesh.faces))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        vertices, faces = state["mesh"]
        mesh = trimesh.Trimesh(vertices, faces, process=False, validate=False)
        self.__dict__.update(state, mesh=mesh)


# ------------------------------------------------------------------- stage 1: outlines


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


# -------------------------------------------------------------- stage 2: triangulation


def _target_faces(detail: float) -> int:
    return int(min(max(6_000 * float(detail), MIN_FACES * 1.2), MAX_FACES * 0.8))


def _resample_ring(ring: np.ndarray, spacing: float) -> np.ndarray:
    """A closed ring (without the repeated last point) resampled at even arc length."""
    n = max(int(round(polyline_length(np.vstack((ring, ring[:1]))) / spacing)), 8)
    return resample(ring, n, closed=True)


def _hex_lattice(bounds: tuple[float, float, float, float], spacing: float) -> np.ndarray:
    x0, y0, x1, y1 = bounds
    dy = spacing * math.sqrt(3) / 2
    ys = np.arange(y0 + dy / 2, y1, dy)
    xs = np.arange(x0 + spacing / 2, x1, spacing)
    gx, gy = np.meshgrid(xs, ys)
    gx = gx + (np.arange(len(ys))[:, None] % 2) * spacing / 2
    pts = np.column_stack((gx.ravel(), gy.ravel()))
    # A fixed, tiny jitter keeps Qhull away from co-circular quadruples.
    rng = np.random.default_rng(12345)
    return pts + rng.uniform(-0.05, 0.05, pts.shape) * spacing


def _edge_keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return lo.astype(np.int64) * n + hi.astype(np.int64)


def triangulate_outline(
    polygon: Polygon | MultiPolygon, detail: float = DEFAULT_DETAIL
) -> Triangulation:
    """Stage 2 (*triangulating*): a conforming Delaunay triangulation of ``polygon``.

    The outline is resampled evenly, interior points fill a hexagonal lattice of about
    the same spacing (sized so the inflated part has ~``6000·detail`` triangles), and
    outline segments missing from the Delaunay triangulation are split until all are
    present, so the triangles inside the polygon cover it exactly. Interior edges
    joining two outline vertices are then split at their midpoints.
    """
    polys = [polygon] if isinstance(polygon, Polygon) else list(polygon.geoms)
    target = _target_faces(detail)
    area_total = sum(p.area for p in polys)
    pieces = [_triangulate_polygon(p, max(int(target * p.area / area_total), 800)) for p in polys]
    # Outline vertices of every component first, so n_boundary stays one number.
    n_boundary = sum(nb for _, _, nb in pieces)
    bverts, iverts, faces = [], [], []
    b_off, i_off = 0, n_boundary
    for pts, f, nb in pieces:
        remap = np.concatenate((b_off + np.arange(nb), i_off + np.arange(len(pts) - nb)))
        faces.append(remap[f])
        bverts.append(pts[:nb])
        iverts.append(pts[nb:])
        b_off, i_off = b_off + nb, i_off + len(pts) - nb
    vertices = np.concatenate(bverts + iverts)
    return Triangulation(vertices, np.concatenate(faces).astype(np.int64), n_boundary)


def _triangulate_polygon(poly: Polygon, target_faces: int) -> tuple[np.ndarray, np.ndarray, int]:
    """One polygon → (vertices, faces, number of outline vertices, which come first)."""
    poly = shapely.geometry.polygon.orient(poly, 1.0)
    # Inflated faces ≈ 4 × vertices; hexagonal cells have area (√3/2)·h².
    n_vertices = target_faces / 4
    h = math.sqrt(poly.area / (n_vertices * math.sqrt(3) / 2))
    perimeter = poly.length
    h = max(h, perimeter / (n_vertices * 0.8))
    rings = [np.asarray(poly.exterior.coords)[:-1]] + [
        np.asarray(r.coords)[:-1] for r in poly.interiors
    ]
    rings = [_resample_ring(r, h) for r in rings]
    shapely.prepare(poly)
    lattice = _hex_lattice(poly.bounds, h)
    inside = shapely.contains_xy(poly, lattice[:, 0], lattice[:, 1])
    lattice = lattice[inside]
    boundary_lines = shapely.MultiLineString([np.vstack((r, r[:1])) for r in rings])
    dist = (
        shapely.distance(boundary_lines, shapely.points(lattice)) if len(lattice) else np.zeros(0)
    )
    interior = lattice[dist >= 0.6 * h]

    # Far guard points keep the outline off the convex hull, where Qhull would make
    # flat triangles of collinear outline points (e.g. a straight gap closure).
    x0, y0, x1, y1 = poly.bounds
    reach = 2.0 * math.hypot(x1 - x0, y1 - y0) + h
    ang = np.arange(8) * (np.pi / 4) + 0.1
    guards = np.column_stack(
        ((x0 + x1) / 2 + reach * np.cos(ang), (y0 + y1) / 2 + reach * np.sin(ang))
    )
    for _ in range(12):
        bpts = np.concatenate(rings)
        n_b = len(bpts)
        pts = np.concatenate((bpts, interior, guards))
        tri = Delaunay(pts)
        simp = tri.simplices
        n = len(pts)
        edges = np.concatenate(
            (
                _edge_keys(simp[:, 0], simp[:, 1], n),
                _edge_keys(simp[:, 1], simp[:, 2], n),
                _edge_keys(simp[:, 2], simp[:, 0], n),
            )
        )
        edges = np.unique(edges)
        missing_any = False
        new_rings, start = [], 0
        for r in rings:
            idx = np.arange(start, start + len(r))
            keys = _edge_keys(idx, np.roll(idx, -1), n)
            missing = ~np.isin(keys, edges)
            if missing.any():
                missing_any = True
                mids = (r + np.roll(r, -1, axis=0)) / 2
                out = np.empty((len(r) + int(missing.sum()), 2))
                pos = np.arange(len(r)) + np.concatenate(([0], np.cumsum(missing)[:-1]))
                out[pos] = r
                out[pos[missing] + 1] = mids[missing]
                r = out
            new_rings.append(r)
            start += len(rings[len(new_rings) - 1])
        if not missing_any:
            break
        rings = new_rings
        # Drop interior points that now crowd a (shorter) outline segment.
        bpts = np.concatenate(rings)
        if len(interior):
            tree = cKDTree(interior)
            close = tree.query_ball_point(bpts, r=0.5 * h)
            drop = {k for lst in close for k in lst}
            if drop:
                interior = np.delete(interior, sorted(drop), axis=0)
    else:
        raise ValueError("could not recover the outline in the triangulation")

    # Every outline segment is an edge now, so each triangle is wholly in or out.
    region = Polygon(rings[0], rings[1:])
    cent = pts[simp].mean(axis=1)
    keep = shapely.contains_xy(region, cent[:, 0], cent[:, 1])
    faces = simp[keep]
    # Counter-clockwise in (x, y), so the front's normals point to +z.
    a, b, c = pts[faces[:, 0]], pts[faces[:, 1]], pts[faces[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    faces[cross < 0] = faces[cross < 0][:, [0, 2, 1]]
    faces = faces[np.abs(cross) > 1e-14 * h * h]
    # Drop vertices no kept face uses (lattice points lost in the recovery, etc.).
    used = np.zeros(len(pts), bool)
    used[faces.ravel()] = True
    used[:n_b] = True
    remap = np.cumsum(used) - 1
    pts, faces = pts[used], remap[faces]
    pts, faces = _split_chords(pts, faces, n_b)
    return pts, faces, n_b


def _split_chords(pts: np.ndarray, faces: np.ndarray, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """Split every interior edge whose two ends lie on the outline at its midpoint.

    Such an edge would lie at height 0 on both the front and the back, i.e. in four
    faces once they are glued; its midpoint becomes an interior vertex instead. Each
    chord gets one midpoint shared by both its faces, so the result stays conforming.
    """
    n = len(pts)
    e = np.stack((faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]), axis=1)  # (F, 3, 2)
    keys = _edge_keys(e[..., 0], e[..., 1], n)
    both = (e[..., 0] < n_b) & (e[..., 1] < n_b)
    uniq, counts = np.unique(keys[both], return_counts=True)
    chords = uniq[counts == 2]
    if len(chords) == 0:
        return pts, faces
    is_chord = np.isin(keys, chords) & both
    mid_index = np.full(keys.shape, -1, dtype=np.int64)
    mid_index[is_chord] = n + np.searchsorted(chords, keys[is_chord])
    a, b = chords // n, chords % n
    pts = np.concatenate((pts, (pts[a] + pts[b]) / 2))
    out = [faces[~is_chord.any(axis=1)]]
    for r in np.flatnonzero(is_chord.any(axis=1)):
        v, m, c = faces[r], mid_index[r], is_chord[r]
        k = int(c.sum())
        if k == 3:
            out.append(
                np.array(
                    [[v[0], m[0], m[2]], [m[0], v[1], m[1]], [m[2], m[1], v[2]], [m[0], m[1], m[2]]]
                )
            )
            continue
        # Rotate so the chords come first: edges (0,1) [and (1,2)].
        s = next(s for s in range(3) if c[s] and (k == 1 or c[(s + 1) % 3]))
        v, m = np.roll(v, -s), np.roll(m, -s)
        if k == 1:
            out.append(np.array([[v[0], m[0], v[2]], [m[0], v[1], v[2]]]))
        else:
            out.append(np.array([[m[0], v[1], m[1]], [v[0], m[0], m[1]], [v[0], m[1], v[2]]]))
    return pts, np.concatenate(out).astype(np.int64)


# ------------------------------------------------------------------- stage 3: inflation


def poisson_height(tri: Triangulation) -> np.ndarray:
    """Heights over ``tri``: solve ``-Δu = 1`` with ``u = 0`` on the outline (cotangent
    FEM, lumped mass) and return ``2·sqrt(u)`` — a hemisphere over a circle."""
    v, f = tri.vertices, tri.faces
    n = len(v)
    rows, cols, vals = [], [], []
    area = np.zeros(n)
    for k in range(3):
        i, j, o = f[:, k], f[:, (k + 1) % 3], f[:, (k + 2) % 3]
        e1, e2 = v[i] - v[o], v[j] - v[o]
        cross = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        cot = (e1 * e2).sum(axis=1) / np.maximum(np.abs(cross), 1e-300)
        w = 0.5 * cot
        rows += [i, j, i, j]
        cols += [j, i, i, j]
        vals += [-w, -w, w, w]
        np.add.at(area, o, np.abs(cross) / 6)
    lap = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    nb = tri.n_boundary
    inner = lap[nb:, nb:].tocsc()
    u = np.zeros(n)
    if n > nb:
        u[nb:] = spsolve(inner, area[nb:])
    return 2.0 * np.sqrt(np.clip(u, 0.0, None))


def inflated_mesh(tri: Triangulation, height: np.ndarray) -> trimesh.Trimesh:
    """Front (``+height``) and mirrored back (``-height``) glued at the outline."""
    v2, f = tri.vertices, tri.faces
    n, nb = len(v2), tri.n_boundary
    front = np.column_stack((v2, height))
    back = np.column_stack((v2[nb:], -height[nb:]))
    verts = np.concatenate((front, back))
    back_index = np.concatenate((np.arange(nb), n + np.arange(n - nb)))
    faces = np.concatenate((f, back_index[f][:, ::-1]))
    return trimesh.Trimesh(verts, faces, process=False, validate=False)


class _Surfaces:
    """z of each inflated part's front surface as a function of (x, y), built on demand
    (only nested outlines and strokes drawn over an outline need one)."""

    def __init__(self) -> None:
        self.fronts: dict[int, np.ndarray] = {}
        self._interp: dict[int, LinearNDInterpolator] = {}

    def add(self, index: int, mesh: trimesh.Trimesh, n_front: int) -> None:
        self.fronts[index] = mesh.vertices[:n_front]

    def z(self, index: int, xy: np.ndarray) -> np.ndarray:
        if index not in self._interp:
            v = self.fronts[index]
            self._interp[index] = LinearNDInterpolator(v[:, :2], v[:, 2], fill_value=0.0)
        return self._interp[index](xy)


def inflate_layout(
    layout: Layout, triangulations: list[Triangulation], detail: float = DEFAULT_DETAIL
) -> list[Part]:
    """Stage 3 (*inflating*): inflate each outline, place nested and layered ones, build
    tubes, and centre the whole model along z (the frame placed x and y)."""
    parts: list[Part] = []
    surfaces = _Surfaces()
    meshes: dict[int, trimesh.Trimesh] = {}
    order = _parents_first(layout.outlines)
    for i in order:
        outline, tri = layout.outlines[i], triangulations[i]
        h = poisson_height(tri)
        mesh = inflated_mesh(tri, h)
        n_front = len(tri.vertices)
        if outline.parent is not None and outline.parent in surfaces.fronts:
            # A lens on the container's surface: front and back both ride on it.
            base = surfaces.z(outline.parent, mesh.vertices[:, :2])
            v = mesh.vertices.copy()
            v[:, 2] = base + NESTED_RAISE * v[:, 2]
            mesh = trimesh.Trimesh(v, mesh.faces, process=False, validate=False)
        elif outline.under:
            shift = max(
                (float(np.nanmax(meshes[k].vertices[:, 2])) for k in outline.under if k in meshes),
                default=0.0,
            )
            mesh.apply_translation((0.0, 0.0, LAYER_SHIFT * shift))
        surfaces.add(i, mesh, n_front)
        meshes[i] = mesh
    for i, outline in enumerate(layout.outlines):
        parts.append(
            Part(
                name=f"outline_{i}",
                mesh=meshes[i],
                color=outline.color,
                kind="inflated",
                strokes=outline.strokes,
                outline=outline.polygon,
            )
        )
    for k, tube in enumerate(layout.tubes):
        pts = np.column_stack((tube.points, np.zeros(len(tube.points))))
        # A tube drawn over an outline lies on its surface.
        for i in reversed(order):
            poly = layout.outlines[i].polygon
            if shapely.contains_xy(poly, tube.points[:, 0], tube.points[:, 1]).mean() > 0.5:
                pts[:, 2] = surfaces.z(i, tube.points) + tube.radius * 0.5
                break
        mesh = tube_mesh(pts, tube.radius, detail)
        parts.append(Part(f"tube_{k}", mesh, tube.color, "tube", tube.strokes))
    if parts:
        zs = np.concatenate([p.mesh.bounds[:, 2] for p in parts])
        dz = -(zs.min() + zs.max()) / 2
        for p in parts:
            p.mesh.apply_translation((0.0, 0.0, dz))
    return parts


def _parents_first(outlines: list[Outline]) -> list[int]:
    depth = []
    for o in outlines:
        d, cur, seen = 0, o, set()
        while cur.parent is not None and cur.parent not in seen:
            seen.add(cur.parent)
            cur, d = outlines[cur.parent], d + 1
        depth.append(d)
    return sorted(range(len(outlines)), key=lambda i: (depth[i], i))


def _smooth_polyline(p: np.ndarray, spacing: float) -> np.ndarray:
    """Resample a polyline evenly and smooth it lightly (ends fixed)."""
    length = polyline_length(p)
    if length <= 1e-12:
        return p[:1]
    q = resample(p, max(int(math.ceil(length / spacing)) + 1, 2))
    for _ in range(2):
        if len(q) > 2:
            q[1:-1] = 0.25 * q[:-2] + 0.5 * q[1:-1] + 0.25 * q[2:]
    return q


def tube_mesh(points: np.ndarray, radius: float, detail: float = DEFAULT_DETAIL) -> trimesh.Trimesh:
    """A closed tube of ``radius`` along ``points`` (``(n, 3)``) with hemispherical caps.

    Rings follow the centreline with rotation-minimising frames; a single point gives a
    sphere. Watertight and outward-facing by construction.
    """
    sides = int(min(max(round(16 * math.sqrt(detail)), 8), 32))
    cap_rings = max(sides // 4, 2)
    length = polyline_length(points)
    spacing = max(radius * 1.5, length / 400) if length > 0 else 1.0
    c = _smooth_polyline(points, spacing) if length > 0 else points[:1]
    if len(c) == 1:
        t = np.array([[1.0, 0.0, 0.0]])
    else:
        t = np.gradient(c, axis=0)
        t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    # Rotation-minimising frames by projection, starting from the axis least along t.
    normals = np.empty_like(t)
    ref = np.eye(3)[int(np.argmin(np.abs(t[0])))]
    nrm = ref - (ref @ t[0]) * t[0]
    for i in range(len(t)):
        nrm = nrm - (nrm @ t[i]) * t[i]
        if np.linalg.norm(nrm) < 1e-9:
            ref = np.eye(3)[int(np.argmin(np.abs(t[i])))]
            nrm = ref - (ref @ t[i]) * t[i]
        nrm = nrm / np.linalg.norm(nrm)
        normals[i] = nrm
    binormals = np.cross(t, normals)
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ca, sa = np.cos(ang), np.sin(ang)

    def ring(center: np.ndarray, nv: np.ndarray, bv: np.ndarray, r: float) -> np.ndarray:
        return center + r * (ca[:, None] * nv + sa[:, None] * bv)

    rings = []
    phis = np.linspace(0, np.pi / 2, cap_rings + 1)[1:-1]  # pole and equator excluded
    for phi in phis:  # start cap, from the pole towards the equator
        rings.append(
            ring(
                c[0] - t[0] * radius * math.cos(phi),
                normals[0],
                binormals[0],
                radius * math.sin(phi),
            )
        )
    for i in range(len(c)):
        rings.append(ring(c[i], normals[i], binormals[i], radius))
    for phi in phis[::-1]:  # end cap, from the equator towards the pole
        rings.append(
            ring(
                c[-1] + t[-1] * radius * math.cos(phi),
                normals[-1],
                binormals[-1],
                radius * math.sin(phi),
            )
        )
    start_pole = c[0] - t[0] * radius
    end_pole = c[-1] + t[-1] * radius
    body = np.concatenate(rings)
    verts = np.concatenate((start_pole[None], body, end_pole[None]))
    nr = len(rings)
    faces = []
    j = np.arange(sides)
    jn = (j + 1) % sides
    first = 1
    faces.append(np.column_stack((np.zeros(sides, int), first + jn, first + j)))
    for r in range(nr - 1):
        a, b = first + r * sides, first + (r + 1) * sides
        faces.append(np.column_stack((a + j, a + jn, b + jn)))
        faces.append(np.column_stack((a + j, b + jn, b + j)))
    last = first + (nr - 1) * sides
    pole = len(verts) - 1
    faces.append(np.column_stack((np.full(sides, pole), last + j, last + jn)))
    mesh = trimesh.Trimesh(verts, np.concatenate(faces), process=False, validate=False)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


# ----------------------------------------------------------------------- all in one


def triangulate_layout(layout: Layout, detail: float = DEFAULT_DETAIL) -> list[Triangulation]:
    """Stage 2 for every outline of ``layout``."""
    return [triangulate_outline(o.polygon, detail) for o in layout.outlines]


def sketch_to_meshes(
    sketch: dict[str, Any], detail: float = DEFAULT_DETAIL, size: float = DEFAULT_SIZE
) -> list[Part]:
    """A validated sketch → watertight parts (metres, x right, y up, inflated along ±z).

    ``detail`` scales the triangle count (1 ≈ 6,000 triangles per inflated part, kept
    within 2,000–30,000); ``size`` is the drawing's larger side in metres.
    """
    layout = find_outlines(sketch, size)
    return inflate_layout(layout, triangulate_layout(layout, detail), detail)


# ------------------------------------------------------------------ stage 4: export


def _rgba(color: str) -> list[float]:
    c = color.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    rgb = [int(c[k : k + 2], 16) / 255 for k in (0, 2, 4)]
    # glTF colour factors are linear; sketch colours are sRGB.
    lin = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in rgb]
    return [round(x, 6) for x in lin] + [1.0]


def meshes_to_glb(parts: list[Part]) -> bytes:
    """Stage 4 (*exporting*): a binary glTF 2.0 file with one named node (and mesh) per
    part, smooth vertex normals, and one PBR material per distinct colour.

    Node ``extras`` record the part's kind and the stroke indices it came from.
    """
    blob = bytearray()
    views: list[dict[str, Any]] = []
    accessors: list[dict[str, Any]] = []

    def add_view(data: bytes, target: int) -> int:
        while len(blob) % 4:
            blob.append(0)
        views.append(
            {"buffer": 0, "byteOffset": len(blob), "byteLength": len(data), "target": target}
        )
        blob.extend(data)
        return len(views) - 1

    materials: list[dict[str, Any]] = []
    material_of: dict[str, int] = {}
    meshes, nodes = [], []
    for part in parts:
        mesh = part.mesh
        pos = np.ascontiguousarray(mesh.vertices, dtype=np.float32)
        nrm = np.ascontiguousarray(mesh.vertex_normals, dtype=np.float32)
        idx = np.ascontiguousarray(mesh.faces, dtype=np.uint32).ravel()
        pv = add_view(pos.tobytes(), 34962)
        accessors.append(
            {
                "bufferView": pv,
                "componentType": 5126,
                "count": len(pos),
                "type": "VEC3",
                "min": pos.min(axis=0).tolist(),
                "max": pos.max(axis=0).tolist(),
            }
        )
        nv = add_view(nrm.tobytes(), 34962)
        accessors.append(
            {"bufferView": nv, "componentType": 5126, "count": len(nrm), "type": "VEC3"}
        )
        iv = add_view(idx.tobytes(), 34963)
        accessors.append(
            {"bufferView": iv, "componentType": 5125, "count": len(idx), "type": "SCALAR"}
        )
        if part.color not in material_of:
            material_of[part.color] = len(materials)
            materials.append(
                {
                    "name": f"color_{part.color.lstrip('#')}",
                    "pbrMetallicRoughness": {
                        "baseColorFactor": _rgba(solid_color(part.color)),
                        "metallicFactor": 0.0,
                        "roughnessFactor": 0.6,
                    },
                }
            )
        n = len(accessors)
        meshes.append(
            {
                "name": part.name,
                "primitives": [
                    {
                        "attributes": {"POSITION": n - 3, "NORMAL": n - 2},
                        "indices": n - 1,
                        "material": material_of[part.color],
                        "mode": 4,
                    }
                ],
            }
        )
        nodes.append(
            {
                "name": part.name,
                "mesh": len(meshes) - 1,
                "extras": {"kind": part.kind, "strokes": list(part.strokes), "color": part.color},
            }
        )
    while len(blob) % 4:
        blob.append(0)
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "vibedraw_widget.inflate"},
        "scene": 0,
        "scenes": [{"name": "sketch", "nodes": list(range(len(nodes)))}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(blob)}],
    }
    if not parts:
        for key in ("meshes", "materials", "accessors", "bufferViews", "buffers"):
            del gltf[key]
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<II", len(text), 0x4E4F534A) + text
    if parts:
        chunks += struct.pack("<II", len(blob), 0x004E4942) + bytes(blob)
    return struct.pack("<III", 0x46546C67, 2, 12 + len(chunks)) + chunks
