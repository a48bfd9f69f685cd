"""The edit scene schema (docs/protocol.md, "Edit scenes") and what code generation writes:
malformed scenes are refused naming the field, hostile text never reaches the generated
JavaScript raw, and the code still parses and runs in three.js under Node."""

from __future__ import annotations

import copy
import json
import re

import pytest

from tests.test_codegen import _scene, run_in_three
from vibedraw_widget.local.codegen import generate_code, scene_from_code
from vibedraw_widget.local.edit import apply_edit
from vibedraw_widget.local.scene_schema import SceneError, check_scene

HOSTILE = [
    "a\nalert(1)//",
    "a\r\nalert(1)//",
    "*/ alert(2) /*",
    "</script><script>alert(3)</script>",
    'say "hi"); alert(4); ("',
    "it's'); alert(5); ('",
    "line\u2028alert(6)",
    "para\u2029alert(7)",
    "`${alert(8)}`",
    "back\\slash\\'); alert(9)//",
    "nul\x00byte\x1b[31m",
]
"""Text that would break out of a ``//`` comment, a string literal or a ``<script>``."""

RAW = ["\u2028", "\u2029", "</script", "*/", "\x00", "\x1b"]
"""What must never appear in generated code, in any form that a parser reads as such."""


def _assert_safe(code: str, payload: str) -> None:
    assert payload not in code
    for token in RAW:
        assert token not in code, repr(token)
    for line in code.splitlines():
        if line.lstrip().startswith("//") and not line.startswith("// vibedraw-scene: "):
            assert "alert(" not in line or not re.search(r"[\n\r]", line)


def _snowman() -> dict:
    return check_scene(_scene("scene_snowman_00", "a snowman"))


@pytest.mark.parametrize("field", ["name", "kind", "role"])
@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_names_kinds_and_roles_are_refused_naming_the_field(field, payload):
    scene = _snowman()
    scene["parts"][1][field] = payload
    with pytest.raises(SceneError, match=rf"^scene\.parts\[1\]\.{field}: "):
        check_scene(scene)


def test_hostile_free_text_is_escaped_and_the_code_runs_in_three():
    jobs = []
    for i, payload in enumerate(HOSTILE):
        scene = _snowman()
        scene["title"] = payload
        scene["object"] = payload
        clean = check_scene(scene)
        edited, _ = apply_edit(clean, "make it red")
        for j, code in enumerate((generate_code(clean), generate_code(edited))):
            _assert_safe(code, payload)
            assert scene_from_code(code)["title"] == payload  # escaped, not altered
            jobs.append({"name": f"{i}-{j}", "code": code})
    # A prompt reaches the title of a freshly built scene the same way.
    for i, payload in enumerate(HOSTILE):
        code = generate_code(_scene("scene_house_00", f"a house {payload}"))
        _assert_safe(code, payload)
        jobs.append({"name": f"prompt-{i}", "code": code})
    results = run_in_three(jobs)
    assert [r for r in results if not r["ok"]] == []


def test_hostile_kinds_in_an_unchecked_scene_still_write_only_comments():
    """Code generation does not rely on the check alone: a comment keeps plain characters."""
    jobs = []
    for i, payload in enumerate(HOSTILE):
        scene = _snowman()
        for part in scene["parts"]:
            part["kind"] = payload
        code = generate_code(scene)
        _assert_safe(code, payload)
        jobs.append({"name": str(i), "code": code})
    assert all(r["ok"] for r in run_in_three(jobs))


def _part(scene: dict, **change) -> dict:
    scene = copy.deepcopy(scene)
    scene["parts"][0].update(change)
    return scene


MALFORMED = [
    (lambda s: {**s, "parts": "x"}, "scene.parts"),
    (lambda s: {**s, "version": 2}, "scene.version"),
    (lambda s: {**s, "transform": {"position": [0, 0]}}, "scene.transform.position"),
    (lambda s: {**s, "transform": {"skew": 1}}, "scene.transform"),
    (lambda s: {**s, "title": 5}, "scene.title"),
    (lambda s: {**s, "parts": [5]}, "scene.parts[0]"),
    (lambda s: _part(s, role=None), "scene.parts[0].role"),
    (lambda s: _part(s, kind="circle"), "scene.parts[0].kind"),
    (lambda s: _part(s, primitive="torus"), "scene.parts[0].primitive"),
    (lambda s: _part(s, params={"radius": 1, "extra": 2}), "scene.parts[0].params"),
    (lambda s: _part(s, params={}), "scene.parts[0].params.radius"),
    (lambda s: _part(s, params={"radius": -1}), "scene.parts[0].params.radius"),
    (lambda s: _part(s, position=None), "scene.parts[0].position"),
    (lambda s: _part(s, rotation=[0, 0, "1"]), "scene.parts[0].rotation"),
    (lambda s: _part(s, scale=[1, 1, 1e300]), "scene.parts[0].scale"),
    (lambda s: _part(s, material={"opacity": 3}), "scene.parts[0].material.opacity"),
    (lambda s: _part(s, material={"emissive": "red"}), "scene.parts[0].material.emissive"),
    (lambda s: _part(s, parent="nobody"), "scene.parts[0].parent"),
    (lambda s: _part(s, shape_index="0"), "scene.parts[0].shape_index"),
    (lambda s: _part(s, wheel={"radius": 1}), "scene.parts[0].wheel"),
    (lambda s: _part(s, primitive="lathe", params={"points": [[0, 1, 2]]}), "params.points"),
    (lambda s: _part(s, primitive="tube", params={"points": [[0, 0]], "radius": 1}), "points"),
]


@pytest.mark.parametrize(("break_it", "field"), MALFORMED)
def test_malformed_scenes_are_refused_naming_the_field(break_it, field):
    with pytest.raises(SceneError, match=re.escape(field)):
        check_scene(break_it(_snowman()))


def test_the_check_returns_a_clean_copy_that_round_trips_through_the_code():
    scene = _snowman()
    scene["parts"][0]["note"] = "unknown fields are dropped"
    clean = check_scene(scene)
    assert "note" not in clean["parts"][0]
    assert check_scene(scene_from_code(generate_code(clean))) == clean
    assert json.loads(json.dumps(clean)) == clean
