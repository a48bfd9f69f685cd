"""One kind table (kinds.py): Python reads it, the front end receives it as a trait."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vibedraw_widget.kinds import KINDS, TASK_TYPE, TASK_TYPE_OF, canonical_kind, task_type_of

JS_SRC = Path(__file__).resolve().parent.parent / "js" / "src"


def test_every_accepted_name_maps_to_a_task_type():
    assert TASK_TYPE_OF == {
        "code": "3d",
        "3d": "3d",
        "model": "model",
        "mesh": "model",  # the pad's button says "Make mesh"
        "improve": "improve",
        "edit": "edit",
    }
    assert [canonical_kind(k) for k in (*KINDS, "mesh")] == [*KINDS, "model"]
    assert set(TASK_TYPE) == set(KINDS)
    with pytest.raises(ValueError, match="expected one of 'code', 'model', .*'mesh', got 'video'"):
        task_type_of("video")


def test_the_widget_sends_the_table_to_its_front_end():
    from vibedraw_widget.widget import SketchPad

    pad = SketchPad()
    assert pad._kinds == TASK_TYPE_OF
    assert "_kinds" in pad.get_state()  # synced: the front end's copy is this one


def test_the_front_end_keeps_no_copy_of_the_table():
    controller = (JS_SRC / "controller.js").read_text(encoding="utf-8")
    assert 'm.get("_kinds")' in controller
    for path in JS_SRC.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""code:\s*["']3d["']""", text), f"{path.name} maps kinds itself"
