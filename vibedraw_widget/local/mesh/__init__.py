"""Sketch → watertight 3D parts by inflation (Teddy / Monster Mash style).

Three stages, each a module-level function of plain, picklable data so that a provider
can run it in a worker process and report progress in between:

1. :func:`find_outlines` (:mod:`.outlines`, *tracing*): strokes → closed outlines + tubes;
2. :func:`triangulate_outline` (:mod:`.triangulate`, *triangulating*): outline → triangles;
3. :func:`inflate_layout` (:mod:`.inflate`, *inflating*): triangles → watertight parts.

:func:`sketch_to_meshes` runs all three in-process; :func:`vibedraw_widget.local.gltf.meshes_to_glb`
writes the parts as a GLB.
"""

from .inflate import Part, inflate_layout, poisson_height, sketch_to_meshes, tube_mesh
from .outlines import DEFAULT_SIZE, Frame, Layout, Outline, Tube, find_outlines, sketch_frame
from .triangulate import (
    DEFAULT_DETAIL,
    Triangulation,
    triangulate_layout,
    triangulate_outline,
)

__all__ = [
    "DEFAULT_DETAIL",
    "DEFAULT_SIZE",
    "Frame",
    "Layout",
    "Outline",
    "Part",
    "Triangulation",
    "Tube",
    "find_outlines",
    "inflate_layout",
    "poisson_height",
    "sketch_frame",
    "sketch_to_meshes",
    "triangulate_layout",
    "triangulate_outline",
    "tube_mesh",
]
