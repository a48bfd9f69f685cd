"""Print-ready output: STL, 3MF and OBJ files of a model result, and its printability.

Every format is loaded back with trimesh and must be the same solid as the GLB's
(volume and bounds), in millimetres with z up; the printability report says what a
slicer would meet: watertight, one body, the size, and walls too thin at that size.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from tests.test_cli import run
from vibedraw_widget.local.gltf import meshes_to_glb
from vibedraw_widget.local.mesh import sketch_to_meshes
from vibedraw_widget.local.printing import (
    MIN_WALL_MM,
    glb_bodies,
    print_mesh,
    printability,
    wall_thickness,
)
from vibedraw_widget.result import Result

DATA = Path(__file__).parent / "data"


def model_result(name: str, merge: bool = False) -> Result:
    sketch = json.loads((DATA / f"{name}.json").read_text())
    glb = meshes_to_glb(sketch_to_meshes(sketch, merge=merge))
    return Result(kind="model", status="completed", source=f"{name}.json", glb=glb, sketch=sketch)


@pytest.fixture(scope="module")
def snowman() -> Result:
    return model_result("scene_snowman_00", merge=True)


@pytest.mark.parametrize("suffix", [".stl", ".3mf", ".obj"])
def test_every_print_format_loads_back_as_the_same_solid(snowman, suffix, tmp_path):
    path = snowman.save(tmp_path / f"snowman{suffix}")
    loaded = trimesh.load(path, force="mesh")
    reference = print_mesh(snowman.glb)
    assert loaded.is_watertight and loaded.is_volume
    assert len(loaded.split(only_watertight=False)) == 1
    assert loaded.volume == pytest.approx(reference.volume, rel=1e-3)
    assert np.allclose(loaded.bounds, reference.bounds, atol=1e-2)
    # Millimetres, z up, standing on z = 0, 100 mm at its largest.
    assert max(loaded.extents) == pytest.approx(100.0, rel=1e-4)
    assert loaded.bounds[0, 2] == pytest.approx(0.0, abs=1e-3)
    assert np.argmax(loaded.extents) == 2  # a snowman is tall: its height is z


def test_print_files_are_the_glbs_solid_scaled_to_millimetres(snowman, tmp_path):
    (_, solid), *_ = glb_bodies(snowman.glb)
    loaded = trimesh.load(snowman.save(tmp_path / "s.stl", size_mm=50), force="mesh")
    scale = 50 / max(solid.extents)
    assert loaded.volume == pytest.approx(solid.volume * scale**3, rel=1e-3)
    assert sorted(loaded.extents) == pytest.approx(sorted(solid.extents * scale), rel=1e-4)


def test_a_code_result_has_no_mesh_to_print(tmp_path):
    result = Result(kind="code", status="completed", code="// nothing")
    with pytest.raises(ValueError, match="no mesh"):
        result.save(tmp_path / "x.stl")
    with pytest.raises(ValueError, match="no mesh"):
        result.printability()


def test_printability_of_a_merged_model_is_one_watertight_body(snowman):
    report = snowman.printability(size_mm=100)
    assert report.watertight and report.single_body and report.ok
    assert report.bounds_mm[2] == pytest.approx(100.0, rel=1e-4)
    assert report.volume_mm3 == pytest.approx(print_mesh(snowman.glb).volume, rel=1e-3)
    assert report.thinnest_wall_mm > MIN_WALL_MM
    text = str(report)
    assert "watertight: yes" in text and "single body" in text and "mm" in text
    assert json.loads(json.dumps(report.to_dict()))["single_body"] is True


def test_separate_parts_are_reported_as_several_bodies():
    report = model_result("scene_snowman_00").printability()
    assert report.watertight and report.bodies == 3 and not report.single_body
    assert any("merge=True" in w for w in report.warnings)


def test_a_wall_too_thin_at_that_size_is_a_clear_warning():
    line = model_result("line_00")  # a tube: its diameter is the pen's width
    fine = line.printability(size_mm=200)
    assert fine.ok, fine.warnings
    small = line.printability(size_mm=40)
    assert small.thinnest_wall_mm < MIN_WALL_MM
    (warning,) = small.warnings
    assert "too thin to print" in warning and f"{MIN_WALL_MM:g} mm" in warning
    # The thickness scales with the size.
    assert fine.thinnest_wall_mm == pytest.approx(5 * small.thinnest_wall_mm, rel=1e-6)


def test_wall_thickness_of_a_ball_is_its_diameter():
    ball = trimesh.creation.icosphere(subdivisions=4, radius=2.0)
    walls = wall_thickness(ball)
    assert np.median(walls) == pytest.approx(4.0, rel=0.01)
    assert printability(meshes_to_glb_of(ball), size_mm=10).thinnest_wall_mm == pytest.approx(
        10.0, rel=0.02
    )


def meshes_to_glb_of(mesh: trimesh.Trimesh) -> bytes:
    from vibedraw_widget.local.mesh import Part

    return meshes_to_glb([Part("ball", mesh, "#ff0000", "inflated", [0])])


def test_cli_writes_stl_and_merges_on_request(tmp_path):
    code, out = run(
        [
            "generate",
            str(DATA / "scene_house_00.json"),
            "--kind",
            "model",
            "--format",
            "stl",
            "--merge",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0, out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "scene_house_00.html",
        "scene_house_00.stl",
    ]
    mesh = trimesh.load(tmp_path / "scene_house_00.stl", force="mesh")
    assert mesh.is_watertight and len(mesh.split(only_watertight=False)) == 1


def test_cli_refuses_a_print_format_for_code(tmp_path, capsys):
    code, _ = run(
        ["generate", str(DATA / "blob_00.json"), "--format", "stl", "--out", str(tmp_path)]
    )
    assert code == 2
    assert "--format stl needs --kind mesh" in capsys.readouterr().err


def test_glb_bodies_read_back_every_part_of_an_unmerged_model():
    result = model_result("scene_tree_00")
    bodies = glb_bodies(result.glb)
    assert sorted(name for name, _ in bodies) == ["crown", "trunk"]
    assert all(m.is_watertight for _, m in bodies)
    scene = trimesh.load(io.BytesIO(result.glb), file_type="glb")
    assert sum(len(g.faces) for g in scene.geometry.values()) == sum(
        len(m.faces) for _, m in bodies
    )


def test_the_pad_merges_a_model_on_request():
    from vibedraw_widget import SketchPad
    from vibedraw_widget.engine.background import BackgroundEngine
    from vibedraw_widget.settings import Settings

    pad = SketchPad(engine=BackgroundEngine(Settings(cpu_pool="thread", cpu_workers=1)))
    pad.sketch = json.loads((DATA / "scene_snowman_00.json").read_text())
    pad.model_provider = "local"
    pad.generate("model", merge=True).result(timeout=120)
    bodies = glb_bodies(pad.glb)
    assert [name for name, _ in bodies] == ["merged"]
    assert bodies[0][1].is_watertight
