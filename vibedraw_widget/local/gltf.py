"""The last step of meshing (*exporting*): parts → one binary glTF (GLB), written by trimesh.

One named node (and mesh) per part, smooth vertex normals, one PBR material per distinct
colour; each node's ``extras`` record the part's kind, colour and the stroke indices it
came from, so a reader can map a part back to the drawing.
"""

from __future__ import annotations

from typing import Any

import trimesh
from trimesh.exchange.gltf import export_glb
from trimesh.visual.material import PBRMaterial

from ..sketch import solid_color
from .mesh import Part


def linear_rgba(color: str) -> list[float]:
    """glTF's ``baseColorFactor`` for a sketch colour: glTF factors are linear, sketch
    colours sRGB (the default ink becomes clay, see :func:`~vibedraw_widget.sketch.solid_color`)."""
    c = solid_color(color).lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    rgb = [int(c[k : k + 2], 16) / 255 for k in (0, 2, 4)]
    lin = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in rgb]
    return [round(x, 6) for x in lin] + [1.0]


def meshes_to_glb(parts: list[Part]) -> bytes:
    """A binary glTF 2.0 file of ``parts``, byte-for-byte the same for the same parts."""
    scene = trimesh.Scene(base_frame="sketch")
    materials: dict[str, PBRMaterial] = {}
    for part in parts:
        if part.color not in materials:
            materials[part.color] = PBRMaterial(name=f"color_{part.color.lstrip('#')}")
        mesh = trimesh.Trimesh(
            part.mesh.vertices,
            part.mesh.faces,
            process=False,
            validate=False,
            visual=trimesh.visual.TextureVisuals(material=materials[part.color]),
        )
        extras: dict[str, Any] = {
            "kind": part.kind,
            "strokes": list(part.strokes),
            "color": part.color,
        }
        scene.add_geometry(mesh, node_name=part.name, geom_name=part.name, metadata=extras)
    factors = {f"color_{c.lstrip('#')}": linear_rgba(c) for c in materials}

    def exact_materials(tree: dict[str, Any]) -> None:
        # trimesh keeps colours as sRGB bytes; write the exact linear factors instead.
        for material in tree.get("materials", []):
            material["pbrMetallicRoughness"] = {
                "baseColorFactor": factors[material["name"]],
                "metallicFactor": 0.0,
                "roughnessFactor": 0.6,
            }

    # export_glb itself, not scene.export: the latter refuses an empty drawing's scene.
    return export_glb(scene, include_normals=True, tree_postprocessor=exact_materials)
