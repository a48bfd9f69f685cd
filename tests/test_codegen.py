"""Scene descriptions and generated Three.js code: the code runs under Node with the real
``three`` package for every sample sketch, follows the code contract (docs/protocol.md),
and streams part by part."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fakes import FakeTaskContext
from vibedraw_widget.local.codegen import (
    SCENE_MARKER,
    generate_chunks,
    generate_code,
    scene_from_code,
)
from vibedraw_widget.local.edit import apply_edit
from vibedraw_widget.local.parts import half_extents
from vibedraw_widget.local.recognize import recognize
from vibedraw_widget.local.scene import build_scene
from vibedraw_widget.local.words import COLORS
from vibedraw_widget.providers.base import Request
from vibedraw_widget.providers.local_code import LocalCodeProvider
from vibedraw_widget.sketch import CLAY_COLOR, DEFAULT_COLOR

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
RUNNER = ROOT / "tests" / "js" / "run_three.mjs"
THREE = ROOT / "js" / "node_modules" / "three" / "build" / "three.module.js"
LABELS = json.loads((DATA / "labels.json").read_text())


def _sketch(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def _scene(name: str, prompt: str | None = None) -> dict:
    sketch = _sketch(name)
    text = " ".join(t["text"] for t in sketch["texts"]) if prompt is None else prompt
    return build_scene(recognize(sketch), text)


def run_in_three(jobs: list[dict]) -> list[dict]:
    """Run ``[{"name", "code"}]`` under Node with npm three; one result dict per job."""
    if shutil.which("node") is None or not THREE.exists():
        pytest.skip("needs node and js/node_modules/three")
    out = subprocess.run(
        ["node", str(RUNNER)], input=json.dumps(jobs), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _finite_nonempty(box: dict) -> bool:
    lo, hi = box["min"], box["max"]
    return all(math.isfinite(v) for v in lo + hi) and all(
        b > a for a, b in zip(lo, hi, strict=True)
    )


def test_generated_code_runs_in_three_for_every_sample_sketch():
    """Issue 3 §3: an Object3D with a finite, non-empty box and one part per shape."""
    jobs, expected = [], {}
    for entry in LABELS:
        sketch = _sketch(entry["name"])
        shapes = recognize(sketch)
        prompt = " ".join(t["text"] for t in sketch["texts"])
        jobs.append({"name": entry["name"], "code": generate_code(build_scene(shapes, prompt))})
        expected[entry["name"]] = len(shapes)
    for result in run_in_three(jobs):
        name = result["name"]
        assert result["ok"], f"{name}: {result.get('error')}"
        assert result["type"] == "Group"
        assert _finite_nonempty(result["box"]), f"{name}: {result['box']}"
        indices = [c["shapeIndex"] for c in result["children"] if c["shapeIndex"] is not None]
        assert sorted(indices) == list(range(expected[name])), name
        assert all(c["name"] for c in result["children"])


def test_code_follows_the_contract_and_reads_well():
    code = generate_code(_scene("scene_house_00"))
    assert not re.search(r"\b(import|require|fetch|document|window|XMLHttpRequest)\b", code)
    assert "MeshStandardMaterial" in code and "return root;" in code
    assert "// walls: rectangle → box" in code and "// roof: triangle → prism" in code
    assert 'walls.name = "walls";' in code
    assert code.count("userData.shapeIndex") == 2


def test_scene_description_round_trips_through_the_code():
    scene = _scene("scene_snowman_00")
    code = generate_code(scene)
    assert code.splitlines()[-1].startswith(SCENE_MARKER)
    assert scene_from_code(code) == scene
    assert scene_from_code("return new THREE.Group();") is None


def test_primitives_follow_the_shape_kinds():
    prims = {}
    for name in ("ellipse_00", "rectangle_00", "triangle_00", "blob_00", "line_00", "polyline_00"):
        (part,) = _scene(name, "")["parts"]
        prims[part["kind"]] = part["primitive"]
    assert prims["ellipse"] == "sphere" and prims["rectangle"] == "box"
    assert prims["triangle"] in ("cone", "prism") and prims["blob"] in ("extrusion", "lathe")
    assert prims["line"] == "cylinder" and prims["polyline"] == "tube"


def test_snowman_balls_are_stacked_and_touch():
    parts = {p["role"]: p for p in _scene("scene_snowman_00")["parts"]}
    base, middle, head = parts["base"], parts["middle"], parts["head"]
    assert base["position"][1] == pytest.approx(base["params"]["radius"])  # on the ground
    for low, high in ((base, middle), (middle, head)):
        gap = high["position"][1] - low["position"][1]
        assert gap < low["params"]["radius"] + high["params"]["radius"]  # they touch
        assert high["position"][0] == low["position"][0]  # one axis
        assert high["params"]["radius"] < low["params"]["radius"]


def test_house_roof_sits_on_the_walls():
    parts = {p["role"]: p for p in _scene("scene_house_01")["parts"]}
    walls, roof = parts["walls"], parts["roof"]
    top = walls["position"][1] + walls["params"]["height"] / 2
    assert roof["position"][1] == pytest.approx(top, abs=1e-3)
    assert roof["params"]["depth"] >= walls["params"]["depth"]


def test_sizes_in_proportion_and_y_up():
    scene = _scene("scene_sun_and_ground_00")
    sun, ground = scene["parts"]
    assert sun["position"][1] > ground["position"][1]  # the sun was drawn above the field
    extents = [max(half_extents(p)[:2]) * 2 for p in scene["parts"]]
    assert max(extents) <= 4.01


def test_prompt_words_steer_colours_and_materials():
    red = _scene("ellipse_00", "a red ball")["parts"][0]
    assert red["color"] == COLORS["red"]
    wood = _scene("rectangle_00", "a wooden crate")["parts"][0]
    assert wood["material"]["roughness"] >= 0.8
    glass = _scene("ellipse_00", "a shiny blue glass ball")["parts"][0]
    assert glass["color"] == COLORS["blue"] and glass["material"]["opacity"] < 1
    house = _scene("scene_house_00", "a house with a blue roof")
    roles = {p["role"]: p for p in house["parts"]}
    assert roles["roof"]["color"] == COLORS["blue"] and roles["walls"]["color"] != COLORS["blue"]


def test_drawn_colours_are_kept_and_natural_ones_fill_in_for_the_default_pen():
    drawn = _sketch("scene_snowman_00")
    colours = [stroke["color"] for stroke in drawn["strokes"]]
    assert DEFAULT_COLOR not in colours  # drawn in colours of the user's choosing
    kept = build_scene(recognize(drawn), "a snowman")
    assert sorted(p["color"] for p in kept["parts"]) == sorted(colours)
    for stroke in drawn["strokes"]:
        stroke["color"] = DEFAULT_COLOR
    filled = build_scene(recognize(drawn), "a snowman")
    assert {p["color"] for p in filled["parts"]} == {"#f8f9fa"}  # snow
    assert build_scene(recognize(drawn), "a blue snowman")["parts"][0]["color"] == COLORS["blue"]
    # Default ink on a shape with no natural colour is clay grey, not a black silhouette.
    (crate,) = build_scene(recognize(_sketch("rectangle_00")))["parts"]
    assert _sketch("rectangle_00")["strokes"][0]["color"] == DEFAULT_COLOR
    assert crate["color"] == CLAY_COLOR


def test_edited_scenes_still_run_in_three():
    scene = _scene("scene_snowman_01")
    edited, _ = apply_edit(scene, "add a hat, add eyes and a nose, make it twice as tall")
    car = build_scene(recognize(_sketch("rectangle_03")), "a car")
    car, _ = apply_edit(car, "add wheels, rotate 45 degrees")
    results = run_in_three(
        [
            {"name": "snowman", "code": generate_code(edited)},
            {"name": "car", "code": generate_code(car)},
        ]
    )
    for result in results:
        assert result["ok"], result.get("error")
        assert _finite_nonempty(result["box"])
    names = {c["name"] for c in results[0]["children"]}
    assert {"hat", "eyeLeft", "eyeRight", "nose"} <= names
    assert results[1]["meshes"] == 1 + 4  # body and two pairs of tyres


async def test_provider_streams_the_code_part_by_part():
    provider = LocalCodeProvider()
    ctx = FakeTaskContext()
    request = Request(type="3d", sketch=_sketch("scene_house_00"), prompt="")
    chunks = [chunk async for chunk in provider.stream_code(request, ctx)]
    assert len(chunks) >= 4  # header, walls, roof, footer (+ scene line)
    code = "".join(chunks)
    assert chunks[1].lstrip().startswith("// walls") and chunks[2].lstrip().startswith("// roof")
    assert scene_from_code(code)["object"] == "house"  # from the sketch's text label
    assert "scene" not in ctx.result  # the code's last line carries it: sent once
    assert [s["kind"] for s in ctx.result["shapes"]] == ["rectangle", "triangle"]
    assert ctx.progress_events and ctx.progress_events[0][0] == "recognize"


async def test_provider_traces_an_image_only_request():
    provider = LocalCodeProvider()
    request = Request(type="3d", image=(DATA / "scene_tree_00.png").read_bytes(), prompt="a tree")
    ctx = FakeTaskContext()
    code = "".join([c async for c in provider.stream_code(request, ctx)])
    assert [p["role"] for p in scene_from_code(code)["parts"]] == ["crown", "trunk"]


def test_chunks_join_to_the_code():
    scene = _scene("scene_tree_01")
    assert "".join(generate_chunks(scene)) == generate_code(scene)
