"""Stage 3 of meshing (*inflating*): outlines → watertight rounded parts.

Per outline a Poisson solve (cotangent Laplacian, ``-Δu = 1``, ``u = 0`` on the outline);
height ``= 2·sqrt(u)``, which is exactly a sphere for a circle; the back is the mirror
image sharing the outline. Nested outlines ride on their container's surface as slightly
raised lenses, partly overlapping outlines of one colour are unioned and of different
colours layered by draw order; open strokes become tubes with round caps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import trimesh
from scipy import sparse
from scipy.interpolate import LinearNDInterpolator
from scipy.sparse.linalg import spsolve
from shapely.geometry import MultiPolygon, Polygon

from ..recognize import polyline_length, resample
from .outlines import DEFAULT_SIZE, Layout, Outline, find_outlines
from .triangulate import DEFAULT_DETAIL, Triangulation, triangulate_layout

NESTED_RAISE = 0.35
"""How far a nested outline stands out of its container, relative to its own inflation."""


LAYER_SHIFT = 0.5
"""A later, overlapping outline of another colour sits this fraction of the earlier
part's height in front of it (layering by draw order)."""


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


def sketch_to_meshes(
    sketch: dict[str, Any], detail: float = DEFAULT_DETAIL, size: float = DEFAULT_SIZE
) -> list[Part]:
    """A validated sketch → watertight parts (metres, x right, y up, inflated along ±z).

    ``detail`` scales the triangle count (1 ≈ 6,000 triangles per inflated part, kept
    within 2,000–30,000); ``size`` is the drawing's larger side in metres.
    """
    layout = find_outlines(sketch, size)
    return inflate_layout(layout, triangulate_layout(layout, detail), detail)
