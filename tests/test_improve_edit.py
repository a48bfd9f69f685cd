"""Improve (the sketch redrawn clean) and edit (plain instructions on the scene), through
the functions and through the ``local`` provider."""

from __future__ import annotations

import base64
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.fakes import FakeTaskContext
from vibedraw_widget.local.codegen import generate_code, scene_from_code
from vibedraw_widget.local.edit import EditNotUnderstood, apply_edit
from vibedraw_widget.local.improve import improve_sketch
from vibedraw_widget.local.recognize import recognize
from vibedraw_widget.local.scene import build_scene
from vibedraw_widget.local.scene_schema import check_scene
from vibedraw_widget.local.words import COLORS
from vibedraw_widget.providers.base import ProviderError, Request
from vibedraw_widget.providers.local_code import LocalCodeProvider
from vibedraw_widget.sketch import validate_sketch

DATA = Path(__file__).parent / "data"


def _sketch(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def _scene(name: str) -> dict:
    sketch = _sketch(name)
    return build_scene(recognize(sketch), " ".join(t["text"] for t in sketch["texts"]))


# -- improve ----------------------------------------------------------------------------


def test_improved_circle_is_round_and_closed():
    clean = improve_sketch(_sketch("scene_snowman_00"))
    for stroke in clean["strokes"]:
        pts = np.array(stroke["points"])[:, :2]
        assert np.allclose(pts[0], pts[-1])
        radii = np.hypot(*(pts - pts[:-1].mean(0)).T)
        # Round when drawn nearly round, a true ellipse otherwise: no wobble either way.
        shape = recognize({**clean, "strokes": [stroke]})[0]
        assert shape.kind == "ellipse" and shape.score > 0.99
        assert radii.std() / radii.mean() < 0.5


def test_improved_rectangle_has_square_corners_and_straight_lines():
    clean = improve_sketch(_sketch("rectangle_05"))
    (stroke,) = clean["strokes"]
    pts = np.array(stroke["points"])[:, :2]
    assert len(pts) == 5 and np.allclose(pts[0], pts[-1])
    sides = np.diff(pts, axis=0)
    for a, b in zip(sides, np.roll(sides, -1, axis=0), strict=True):
        cos = abs(np.dot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b))
        assert cos < 1e-3  # right angles (to the 0.01 px rounding)


def test_improve_keeps_colours_widths_texts_and_canvas():
    sketch = _sketch("scene_house_00")
    clean = validate_sketch(improve_sketch(sketch))
    assert [s["color"] for s in clean["strokes"]] == [s["color"] for s in sketch["strokes"]]
    assert [s["width"] for s in clean["strokes"]] == [s["width"] for s in sketch["strokes"]]
    assert clean["texts"] == sketch["texts"]
    assert (clean["width"], clean["height"]) == (sketch["width"], sketch["height"])


def test_improved_line_is_two_points():
    (stroke,) = improve_sketch(_sketch("line_03"))["strokes"]
    assert len(stroke["points"]) == 2


async def test_provider_improve_returns_sketch_and_png():
    ctx = FakeTaskContext()
    out = await LocalCodeProvider().improve(
        Request(type="improve", sketch=_sketch("triangle_02")), ctx
    )
    validate_sketch(out["sketch"])
    image = Image.open(io.BytesIO(base64.b64decode(out["image_base64"])))
    assert image.size == (640, 480)
    assert [s.kind for s in recognize(out["sketch"])] == ["triangle"]
    with pytest.raises(ProviderError, match="no strokes to improve"):  # not "completed"
        await LocalCodeProvider().improve(Request(type="improve", sketch={"strokes": []}), ctx)


# -- edit -------------------------------------------------------------------------------


def test_edit_colours_whole_object_or_named_part():
    scene = _scene("scene_house_00")
    red, _ = apply_edit(scene, "make it red")
    assert {p["color"] for p in red["parts"]} == {COLORS["red"]}
    roof, _ = apply_edit(scene, "paint the roof blue")
    by_role = {p["role"]: p for p in roof["parts"]}
    assert by_role["roof"]["color"] == COLORS["blue"]
    assert by_role["walls"]["color"] == {p["role"]: p for p in scene["parts"]}["walls"]["color"]
    assert scene["parts"][1]["color"] != COLORS["blue"]  # the input is not changed


def test_edit_sizes():
    scene = _scene("scene_tree_00")
    bigger, _ = apply_edit(scene, "bigger")
    assert bigger["transform"]["scale"] == [1.5, 1.5, 1.5]
    tall, _ = apply_edit(scene, "twice as tall")
    assert tall["transform"]["scale"] == [1.0, 2.0, 1.0]
    half, _ = apply_edit(scene, "half the size")
    assert half["transform"]["scale"] == [0.5, 0.5, 0.5]
    trunk, _ = apply_edit(scene, "make the trunk wider")
    assert {p["role"]: p for p in trunk["parts"]}["trunk"]["scale"] == [1.5, 1.0, 1.0]


def test_edit_rotate_and_move():
    scene = _scene("scene_house_01")
    turned, done = apply_edit(scene, "rotate 45 degrees")
    assert turned["transform"]["rotation"] == [0.0, 45.0, 0.0]
    tilted, _ = apply_edit(scene, "rotate 90 degrees around x")
    assert tilted["transform"]["rotation"] == [90.0, 0.0, 0.0]
    moved, _ = apply_edit(scene, "move left by 2, then move up")
    assert moved["transform"]["position"] == [-2.0, 1.0, 0.0]


def test_edit_adds_parts_on_known_objects():
    snowman, done = apply_edit(_scene("scene_snowman_00"), "add a hat and eyes")
    names = [p["name"] for p in snowman["parts"]]
    assert {"hat", "hatBrim", "hatCrown", "eyeLeft", "eyeRight"} <= set(names)
    head = {p["role"]: p for p in snowman["parts"]}["head"]
    hat = {p["name"]: p for p in snowman["parts"]}["hat"]
    assert hat["position"][1] > head["position"][1]  # on top of the head
    assert hat["position"][0] == pytest.approx(head["position"][0])
    house, _ = apply_edit(_scene("scene_house_00"), "add a door and a chimney")
    assert {"door", "chimney"} <= {p["name"] for p in house["parts"]}
    car = build_scene(recognize(_sketch("rectangle_01")), "a car")
    car, _ = apply_edit(car, "add wheels")
    wheels = [p for p in car["parts"] if p["role"].startswith("wheel")]
    assert len(wheels) == 2 and all(p["primitive"] == "group" for p in wheels)


def test_edit_remove_a_part():
    scene, _ = apply_edit(_scene("scene_snowman_00"), "add a hat")
    bare, _ = apply_edit(scene, "remove the hat")
    assert not any(p["name"].startswith("hat") for p in bare["parts"])


@pytest.mark.parametrize("prompt", ["make it sing", "", "bigger and dance a jig"])
def test_edit_not_understood_is_an_error_that_lists_what_is(prompt):
    with pytest.raises(EditNotUnderstood) as err:
        apply_edit(_scene("ellipse_00"), prompt)
    assert "I understand" in str(err.value) and "rotate 45 degrees" in str(err.value)


async def test_provider_edits_its_own_code():
    provider = LocalCodeProvider()
    ctx = FakeTaskContext()
    made = "".join(
        [
            c
            async for c in provider.stream_code(
                Request(type="3d", sketch=_sketch("scene_snowman_01"), prompt=""), ctx
            )
        ]
    )
    edit = Request(type="edit", threejs_code=made, prompt="add a hat, make the head blue")
    ctx = FakeTaskContext()
    code = "".join([c async for c in provider.stream_code(edit, ctx)])
    scene = scene_from_code(code)
    assert "hat" in {p["name"] for p in scene["parts"]}
    assert {p["role"]: p for p in scene["parts"]}["head"]["color"] == COLORS["blue"]
    assert "hat" in code and code == generate_code(scene)


async def test_provider_edit_errors_instead_of_ignoring():
    provider = LocalCodeProvider()
    code = generate_code(_scene("ellipse_00"))
    with pytest.raises(ProviderError) as err:
        _ = [
            c
            async for c in provider.stream_code(
                Request(type="edit", threejs_code=code, prompt="make it dance"), FakeTaskContext()
            )
        ]
    assert err.value.error_type == "EditNotUnderstood" and "make it dance" in str(err.value)
    foreign = Request(type="edit", threejs_code="return new THREE.Mesh();", prompt="make it red")
    with pytest.raises(ProviderError, match="vibedraw-scene"):
        _ = [c async for c in provider.stream_code(foreign, FakeTaskContext())]


async def test_provider_edit_accepts_a_scene_description():
    provider = LocalCodeProvider()
    scene = _scene("rectangle_00")
    request = Request(type="edit", threejs_code=json.dumps(scene), prompt="rotate 30 degrees")
    code = "".join([c async for c in provider.stream_code(request, FakeTaskContext())])
    assert "root.rotation.set(0, " + f"{math.radians(30):.3f}".rstrip("0") in code


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "a = 1; fetch('//x'); const b"}, "parts[0].name"),
        ({"name": "return"}, "parts[0].name"),
        ({"color": "#abc"}, "parts[0].color"),
        ({"position": [0, "1", 0]}, "parts[0].position"),
        ({"params": {"radius": float("inf")}}, "parts[0].params"),
    ],
)
async def test_a_scene_from_outside_is_checked_before_code_is_written_from_it(change, field):
    scene = _scene("ellipse_00")
    scene["parts"][0].update(change)
    request = Request(type="edit", threejs_code=json.dumps(scene), prompt="make it red")
    with pytest.raises(ProviderError, match=rf"scene\.{re.escape(field)}"):
        _ = [c async for c in LocalCodeProvider().stream_code(request, FakeTaskContext())]


def test_every_sample_scene_and_its_edits_pass_the_check():
    for path in sorted(DATA.glob("*_0[0-3].json")):
        scene = check_scene(_scene(path.stem))
        for prompt in ("add a hat", "add wheels", "add a chimney and windows", "make it blue"):
            try:
                edited, _ = apply_edit(scene, prompt)
            except EditNotUnderstood:
                continue
            check_scene(edited)
