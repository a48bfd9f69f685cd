"""Print-ready output from a model's GLB: STL, 3MF and OBJ files, and a printability report.

Print files are in millimetres with z up (slicers' convention; glTF is metres, y up),
scaled so that the model's largest dimension is ``size_mm`` (default
:data:`DEFAULT_PRINT_MM`). :func:`printability` says whether the model is watertight and
one body, its volume and size at that scale, and estimates its thinnest wall by casting a
ray inward from points sampled all over each part's surface: the distance to the surface
on the other side is the local thickness. A part thinner than :data:`MIN_WALL_MM` gets a
warning.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import trimesh

DEFAULT_PRINT_MM = 100.0
"""The model's largest dimension in a print file, unless told otherwise."""

MIN_WALL_MM = 0.8
"""The thinnest wall most FDM printers make reliably (two lines of a 0.4 mm nozzle)."""

PRINT_FORMATS = ("stl", "3mf", "obj")
"""The file types :func:`export_print` writes."""

_WALL_SAMPLES = 400  # surface points per part for the wall estimate
_WALL_PERCENTILE = 1.0  # the thinnest wall: this percentile of the sampled thicknesses


@dataclass
class Printability:
    """What :func:`printability` found, sizes in millimetres at ``size_mm``."""

    size_mm: float
    watertight: bool
    bodies: int
    volume_mm3: float
    bounds_mm: list[float]
    """Width (x), depth (y) and height (z) as printed, z up."""
    thinnest_wall_mm: float
    parts: list[dict[str, Any]] = field(default_factory=list)
    """Per part: ``name``, ``watertight``, ``thinnest_wall_mm``."""
    warnings: list[str] = field(default_factory=list)
    min_wall_mm: float = MIN_WALL_MM

    @property
    def single_body(self) -> bool:
        """Whether the model is one connected solid."""
        return self.bodies == 1

    @property
    def ok(self) -> bool:
        """Watertight, one body, no wall too thin."""
        return not self.warnings

    def to_dict(self) -> dict[str, Any]:
        """JSON-able data (``single_body`` and ``ok`` included)."""
        return {**asdict(self), "single_body": self.single_body, "ok": self.ok}

    def __str__(self) -> str:
        x, y, z = self.bounds_mm
        lines = [
            f"printability at {self.size_mm:g} mm: "
            + ("OK" if self.ok else f"{len(self.warnings)} warning(s)"),
            f"  watertight: {'yes' if self.watertight else 'no'}; "
            f"bodies: {self.bodies}{' (single body)' if self.single_body else ''}",
            f"  size: {x:.1f} × {y:.1f} × {z:.1f} mm; volume: {self.volume_mm3 / 1000:.2f} cm³",
            f"  thinnest wall: {self.thinnest_wall_mm:.2f} mm (minimum {self.min_wall_mm:g} mm)",
        ]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def glb_bodies(glb: bytes) -> list[tuple[str, trimesh.Trimesh]]:
    """The closed meshes of a model GLB as (name, mesh), metres, y up: one per part, a
    merged solid's colour regions welded back into one mesh."""
    scene = trimesh.load(io.BytesIO(glb), file_type="glb", process=False)
    extras = _node_extras(glb)
    pieces: dict[str, list[trimesh.Trimesh]] = {}
    for node in scene.graph.nodes_geometry:
        transform, geom = scene.graph[node]
        mesh = scene.geometry[geom].copy()
        mesh.apply_transform(transform)
        key = extras.get(node, {}).get("solid") or node
        pieces.setdefault(str(key), []).append(mesh)
    bodies = []
    for name, meshes in pieces.items():
        joined = trimesh.util.concatenate(meshes) if len(meshes) > 1 else meshes[0]
        # Welding by position: glTF splits vertices by normal; the solid is closed again.
        welded = trimesh.Trimesh(joined.vertices, joined.faces, process=True)
        bodies.append((name, welded))
    return bodies


def _node_extras(glb: bytes) -> dict[str, dict[str, Any]]:
    """Each named node's ``extras`` (trimesh does not load them)."""
    if len(glb) < 20 or glb[:4] != b"glTF":
        return {}
    size = int.from_bytes(glb[12:16], "little")
    doc = json.loads(glb[20 : 20 + size])
    return {n["name"]: n.get("extras", {}) for n in doc.get("nodes", []) if "name" in n}


def _print_scale(meshes: list[trimesh.Trimesh], size_mm: float) -> np.ndarray:
    """The 4×4 transform from glTF (metres, y up) to print (``size_mm`` across, z up)."""
    lo = np.min([m.bounds[0] for m in meshes], axis=0)
    hi = np.max([m.bounds[1] for m in meshes], axis=0)
    scale = size_mm / max(float(max(hi - lo)), 1e-12)
    y_up_to_z_up = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)
    return np.diag([scale, scale, scale, 1.0]) @ y_up_to_z_up


def print_mesh(glb: bytes, size_mm: float = DEFAULT_PRINT_MM) -> trimesh.Trimesh:
    """Every body of the model in one mesh, in millimetres, z up, standing on z = 0."""
    bodies = [m for _, m in glb_bodies(glb)]
    if not bodies:
        raise ValueError("the model has no geometry to print")
    mesh = trimesh.util.concatenate(bodies) if len(bodies) > 1 else bodies[0].copy()
    mesh.apply_transform(_print_scale(bodies, size_mm))
    mesh.apply_translation((0.0, 0.0, -mesh.bounds[0, 2]))
    return mesh


def export_print(glb: bytes, file_type: str, size_mm: float = DEFAULT_PRINT_MM) -> bytes:
    """The model as an ``stl`` (binary), ``3mf`` or ``obj`` file, in millimetres, z up."""
    file_type = file_type.lower().lstrip(".")
    if file_type not in PRINT_FORMATS:
        raise ValueError(f"{file_type!r}: print formats are {', '.join(PRINT_FORMATS)}")
    data = print_mesh(glb, size_mm).export(file_type=file_type)
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def wall_thickness(mesh: trimesh.Trimesh, samples: int = _WALL_SAMPLES) -> np.ndarray:
    """Local thickness at ``samples`` points spread over the surface (seeded): the
    distance along the inward normal to the next surface (manifold3d ray casts)."""
    import manifold3d as mf

    solid = mf.Manifold(
        mf.Mesh(
            vert_properties=np.asarray(mesh.vertices, np.float32),
            tri_verts=np.asarray(mesh.faces, np.uint32),
        )
    )
    points, faces = trimesh.sample.sample_surface(mesh, samples, seed=17)
    normals = mesh.face_normals[faces]
    reach = 2.0 * float(np.linalg.norm(mesh.extents))
    start = 1e-6 * reach
    out = np.full(len(points), np.nan)
    for k, (p, n) in enumerate(zip(points, normals, strict=True)):
        hits = solid.ray_cast(p - start * n, p - reach * n)
        if hits:  # the distance is a fraction of the cast segment
            out[k] = start + hits[0].distance * (reach - start)
    return out[np.isfinite(out)]


def printability(
    glb: bytes, size_mm: float = DEFAULT_PRINT_MM, min_wall_mm: float = MIN_WALL_MM
) -> Printability:
    """Is the model printable at ``size_mm`` (its largest dimension)? See :class:`Printability`."""
    if not size_mm > 0:
        raise ValueError(f"size_mm={size_mm}: must be positive")
    named = glb_bodies(glb)
    if not named:
        raise ValueError("the model has no geometry to print")
    transform = _print_scale([m for _, m in named], size_mm)
    scale = float(transform[0, 0])
    parts, warnings, bodies, volume = [], [], 0, 0.0
    for name, mesh in named:
        walls = wall_thickness(mesh) * scale
        thinnest = float(np.percentile(walls, _WALL_PERCENTILE)) if len(walls) else 0.0
        count = len(mesh.split(only_watertight=False))
        bodies += count
        volume += abs(float(mesh.volume)) * scale**3
        parts.append(
            {"name": name, "watertight": bool(mesh.is_watertight), "thinnest_wall_mm": thinnest}
        )
        if not mesh.is_watertight:
            warnings.append(f"part {name!r} is not watertight: a slicer may fill it wrongly")
        if thinnest < min_wall_mm:
            warnings.append(
                f"part {name!r} is {thinnest:.2f} mm thin at its thinnest at {size_mm:g} mm: "
                f"below {min_wall_mm:g} mm, too thin to print reliably; print it at least "
                f"{math.ceil(size_mm * min_wall_mm / max(thinnest, 1e-9))} mm large or thicken it"
            )
    if bodies > 1:
        merged = len(named) == 1
        warnings.append(
            f"{bodies} separate bodies: "
            + ("some parts do not touch" if merged else "merge=True unions touching parts")
        )
    everything = trimesh.util.concatenate([m for _, m in named])
    everything.apply_transform(transform)
    return Printability(
        size_mm=float(size_mm),
        watertight=all(p["watertight"] for p in parts),
        bodies=bodies,
        volume_mm3=volume,
        bounds_mm=[float(v) for v in everything.extents],
        thinnest_wall_mm=min(p["thinnest_wall_mm"] for p in parts),
        parts=parts,
        warnings=warnings,
        min_wall_mm=float(min_wall_mm),
    )
