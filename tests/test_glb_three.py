"""The local provider's GLB loads in three.js's GLTFLoader under Node (tests/js/load_glb.mjs)
with one named mesh per part, the stroke colours, metres-sized, standing on y = 0, y up."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vibedraw_widget.local.gltf import meshes_to_glb
from vibedraw_widget.local.mesh import sketch_to_meshes
from vibedraw_widget.sketch import solid_color

ROOT = Path(__file__).resolve().parents[1]
THREE = ROOT / "js" / "node_modules" / "three"
SCRIPT = Path(__file__).parent / "js" / "load_glb.mjs"
DATA = Path(__file__).parent / "data"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (THREE / "examples/jsm/loaders/GLTFLoader.js").exists(),
    reason="needs node and js/node_modules/three (npm ci in js/)",
)


def load_in_three(glb: bytes, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "model.glb"
    path.write_bytes(glb)
    done = subprocess.run(
        ["node", str(SCRIPT), str(THREE), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", ["scene_house_00", "scene_sun_and_ground_00", "blob_05"])
def test_gltfloader_sees_every_part_named_coloured_and_in_place(name, tmp_path):
    sketch = json.loads((DATA / f"{name}.json").read_text())
    parts = sketch_to_meshes(sketch)
    seen = load_in_three(meshes_to_glb(parts), tmp_path)

    assert [m["name"] for m in seen["meshes"]] == [p.name for p in parts]
    for mesh, part in zip(seen["meshes"], parts, strict=True):
        assert mesh["vertices"] == len(part.mesh.vertices)
        assert mesh["triangles"] == len(part.mesh.faces)
        assert mesh["hasNormals"]
        assert mesh["color"] == solid_color(sketch["strokes"][part.strokes[0]]["color"])
        assert mesh["extras"]["strokes"] == part.strokes
        assert np.allclose(mesh["min"], part.mesh.bounds[0], atol=1e-5)
        assert np.allclose(mesh["max"], part.mesh.bounds[1], atol=1e-5)
    lo, hi = np.array(seen["min"]), np.array(seen["max"])
    assert max(hi[:2] - lo[:2]) == pytest.approx(1.0, abs=0.02)  # metres-sized
    assert np.allclose((lo + hi)[[0, 2]] / 2, 0, atol=0.02)  # centred in x and z
    assert 0 <= lo[1] < 0.02  # standing on y = 0


def test_gltfloader_puts_the_top_of_the_drawing_at_positive_y(tmp_path):
    sketch = json.loads((DATA / "scene_snowman_00.json").read_text())
    seen = load_in_three(meshes_to_glb(sketch_to_meshes(sketch)), tmp_path)
    mean_y = [np.mean(np.array(s["points"])[:, 1]) for s in sketch["strokes"]]
    top_stroke = int(np.argmin(mean_y))  # smallest sketch y: drawn highest
    top_mesh = max(seen["meshes"], key=lambda m: m["max"][1])
    assert top_mesh["extras"]["strokes"] == [top_stroke]
    assert top_mesh["min"][1] > 0


def test_gltfloader_accepts_an_empty_model(tmp_path):
    seen = load_in_three(meshes_to_glb([]), tmp_path)
    assert seen["meshes"] == []
