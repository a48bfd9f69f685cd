"""After placing (*merging*, optional): every part unioned into one watertight solid.

The union is exact (manifold3d's mesh booleans), so where parts overlap (a ball sunk
into the one below, a roof resting on its walls, an eye on a face) the inside surfaces
are removed and the result is one closed surface, ready to print. Each triangle of the
union remembers which part it came from, so the solid keeps each region's colour: it
is one :class:`~.inflate.Part` whose ``regions`` give every face's colour (an index into
``region_colors``), which the glTF export writes as one node per colour.
"""

from __future__ import annotations

import numpy as np
import trimesh

from .inflate import Part


def merge_parts(parts: list[Part], name: str = "merged") -> list[Part]:
    """``parts`` unioned into one watertight solid (a one-element list; empty stays empty).

    Parts that do not touch stay separate bodies of the same mesh (the result is still
    watertight, see :func:`~vibedraw_widget.local.printing.printability`).
    """
    import manifold3d as mf

    if not parts:
        return []
    solids, colors = [], []
    for part in parts:
        mesh = mf.Mesh(
            vert_properties=np.asarray(part.mesh.vertices, dtype=np.float32),
            tri_verts=np.asarray(part.mesh.faces, dtype=np.uint32),
        )
        solid = mf.Manifold(mesh).as_original()
        if solid.status() != mf.Error.NoError:
            raise ValueError(f"part {part.name!r} is not a closed manifold: {solid.status()}")
        solids.append(solid)
        colors.append(part.color)
    ids = [s.original_id() for s in solids]
    union = mf.Manifold.batch_boolean(solids, mf.OpType.Add)
    out = union.to_mesh()
    vertices = np.asarray(out.vert_properties, dtype=float)[:, :3]
    faces = np.asarray(out.tri_verts, dtype=np.int64).reshape(-1, 3)
    # Triangles come in runs, one per input part (run_index counts triangle corners).
    palette = list(dict.fromkeys(colors))
    source = {i: palette.index(c) for i, c in zip(ids, colors, strict=True)}
    regions = np.zeros(len(faces), dtype=np.int64)
    bounds = np.asarray(out.run_index, dtype=np.int64) // 3
    for k, original in enumerate(np.asarray(out.run_original_id, dtype=np.int64)):
        regions[bounds[k] : bounds[k + 1]] = source.get(int(original), 0)
    mesh = trimesh.Trimesh(vertices, faces, process=False, validate=False)
    main = palette[int(np.bincount(regions, weights=mesh.area_faces).argmax())]
    return [
        Part(
            name=name,
            mesh=mesh,
            color=main,
            kind="merged",
            strokes=sorted({i for p in parts for i in p.strokes}),
            shape_kind="merged",
            regions=regions,
            region_colors=palette,
        )
    ]
