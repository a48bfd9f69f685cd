"""Stage 2 of meshing (*triangulating*): a polygon → a conforming Delaunay triangulation.

Interior points lie on a jittered hexagonal lattice; interior edges that join two outline
vertices are split, so that front and back glue watertight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import Delaunay, cKDTree
from shapely.geometry import MultiPolygon, Polygon

from ..recognize import polyline_length, resample
from .outlines import Layout

DEFAULT_DETAIL = 1.0
"""Detail 1 gives about 6,000 triangles per inflated part; the count scales linearly."""


MIN_FACES, MAX_FACES = 2_000, 30_000


@dataclass
class Triangulation:
    """A planar triangulation of one outline: ``vertices[:n_boundary]`` lie on it."""

    vertices: np.ndarray
    faces: np.ndarray
    n_boundary: int


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


def triangulate_layout(layout: Layout, detail: float = DEFAULT_DETAIL) -> list[Triangulation]:
    """Stage 2 for every outline of ``layout``."""
    return [triangulate_outline(o.polygon, detail) for o in layout.outlines]
