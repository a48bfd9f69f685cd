"""SketchPad's Python side: traits, validation, history, the Python API and the comm
fallback (the kernel runs the engine and streams into the traits)."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
import traitlets

from tests.providers_for_tests import release
from vibedraw_widget.engine.background import BackgroundEngine
from vibedraw_widget.settings import Settings
from vibedraw_widget.sketch import render_png
from vibedraw_widget.widget import GenerationCancelled, GenerationError, SketchPad

DATA = Path(__file__).parent / "data"
STROKE = {"points": [[10, 10, 0.5], [60, 40, 0.6], [120, 80, 0.4]], "color": "#e03131", "width": 4}


@pytest.fixture(scope="module")
def engine():
    """One in-process engine for the module (thread CPU pool: no spawn cost)."""
    return BackgroundEngine(Settings(cpu_pool="thread", cpu_workers=1))


@pytest.fixture
def pad(engine):
    return SketchPad(engine=engine)


class Frontend:
    """Records what the widget sends to the front end (messages and their buffers)."""

    def __init__(self, pad: SketchPad) -> None:
        self.messages: list[tuple[dict, list[bytes]]] = []
        self.received = threading.Condition()
        original = pad.send

        def send(content, buffers=None):
            with self.received:
                self.messages.append((content, [bytes(b) for b in buffers or []]))
                self.received.notify_all()
            original(content, buffers)

        pad.send = send  # type: ignore[method-assign]


def wait_for(pad: SketchPad, predicate, names: list[str], timeout: float = 30) -> None:
    """Block until ``predicate()`` holds, re-checked whenever one of the traits changes."""
    done = threading.Event()

    def check(_=None) -> None:
        if predicate():
            done.set()

    pad.observe(check, names)
    try:
        check()
        assert done.wait(timeout), f"timed out waiting; status={pad.status!r} code={pad.code!r}"
    finally:
        pad.unobserve(check, names)


def from_frontend(pad: SketchPad, content: dict, buffers: list[bytes] | None = None) -> None:
    """Deliver a custom message as the comm would."""
    pad._handle_message(pad, content, buffers or [])


def test_default_sketch_is_an_empty_valid_sketch(pad):
    assert pad.sketch == {
        "version": 1,
        "width": 640,
        "height": 480,
        "background": "#ffffff",
        "strokes": [],
        "texts": [],
    }
    assert pad.status == "idle" and pad.code == "" and pad.glb is None


def test_invalid_sketch_is_a_trait_error_naming_the_field(pad):
    bad = {"strokes": [{"points": [[0, 0], [float("nan"), 1]]}]}
    with pytest.raises(traitlets.TraitError, match=r"strokes\[0\]\.points"):
        pad.sketch = bad
    assert pad.sketch["strokes"] == []


def test_sketch_from_the_front_end_is_validated_and_filled_in(pad):
    pad.set_state({"sketch": {"strokes": [{"points": [[1, 2], [3, 4]]}]}})
    stroke = pad.sketch["strokes"][0]
    assert stroke["points"] == [[1.0, 2.0, 0.5], [3.0, 4.0, 0.5]]
    assert stroke["color"] and stroke["width"] > 0


def test_undo_and_redo_walk_the_history(pad):
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    pad.sketch = {**pad.sketch, "strokes": [STROKE, STROKE]}
    assert pad.can_undo and not pad.can_redo
    assert pad.undo() and len(pad.sketch["strokes"]) == 1
    assert pad.can_redo
    from_frontend(pad, {"type": "undo"})  # Ctrl+Z in the pad
    assert pad.sketch["strokes"] == [] and not pad.can_undo
    assert pad.undo() is False
    from_frontend(pad, {"type": "redo"})
    assert len(pad.sketch["strokes"]) == 1
    pad.sketch = {**pad.sketch, "strokes": []}  # a new change drops the redo branch
    assert not pad.can_redo


def test_clear_keeps_size_and_is_undoable(engine):
    pad = SketchPad({"width": 320, "height": 200, "strokes": [STROKE]}, engine=engine)
    pad.clear()
    assert pad.sketch["strokes"] == [] and pad.sketch["width"] == 320
    pad.undo()
    assert len(pad.sketch["strokes"]) == 1


def test_load_accepts_dicts_json_files_and_text(pad):
    path = DATA / "rectangle_01.json"
    pad.load(path)
    assert pad.sketch == json.loads(json.dumps(pad.sketch))
    assert len(pad.sketch["strokes"]) >= 1
    pad.load(path.read_text())
    pad.load({"strokes": [STROKE]})
    assert pad.sketch["strokes"][0]["color"] == "#e03131"


def test_load_from_the_front_end_reports_errors_in_the_pad(pad):
    from_frontend(pad, {"type": "load_sketch", "sketch": {"strokes": "nope"}})
    assert "strokes" in pad.error
    from_frontend(pad, {"type": "load_image"}, [b"not a png"])
    assert "PNG" in pad.error


def test_to_png_and_to_pil_render_the_sketch(pad):
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    png = pad.to_png()
    assert png.startswith(b"\x89PNG") and png == render_png(pad.sketch)
    image = pad.to_pil()
    assert image.size == (640, 480)
    assert image.getpixel((60, 40)) != (255, 255, 255)


def test_generate_code_streams_into_the_traits_and_is_awaitable_and_blocking(pad):
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    seen: list[str] = []
    pad.observe(lambda change: seen.append(change["new"]), "code")
    result = pad.generate("code", prompt="n=4", provider="scripted").result(timeout=30)
    expected = "".join(f"// part {i}\n" for i in range(4))
    assert result["content"] == expected and "code" not in result  # the answer, once
    assert pad.code == expected and pad.status == "completed" and pad.progress == 1.0
    assert pad.result_kind == "code" and pad.result_version == 1
    assert pad.task_transport == "kernel" and pad.task_id == result["task_id"]
    assert pad.last_event_id == 6  # start, 4 deltas, complete
    # The code grew chunk by chunk (each prefix seen), not in one piece.
    assert [s for s in seen if s] == [
        "".join(f"// part {i}\n" for i in range(n)) for n in (1, 2, 3, 4)
    ]


async def test_generate_is_awaitable(pad):
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    result = await pad.generate("code", prompt="n=2", provider="scripted")
    assert result["content"] == pad.code == "// part 0\n// part 1\n"


def test_generate_model_keeps_the_glb_and_sends_it_as_a_binary_buffer(pad):
    frontend = Frontend(pad)
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    pad.model_provider = "scripted"
    pad.generate("model").result(timeout=60)
    assert pad.glb is not None and pad.glb[:4] == b"glTF"
    assert pad.result_kind == "model" and pad.status == "completed"
    sent = [(m, b) for m, b in frontend.messages if m.get("type") == "glb"]
    assert sent and sent[0][1] == [pad.glb] and sent[0][0]["task_id"] == pad.task_id
    # A reloaded page asks for the mesh again.
    from_frontend(pad, {"type": "need_glb"})
    assert len([m for m, _ in frontend.messages if m.get("type") == "glb"]) == 2
    # "mesh", the button's name, is the same task.
    pad.generate("mesh").result(timeout=60)
    assert pad.task_type == "model" and pad.result_kind == "model" and pad.glb[:4] == b"glTF"


def test_generate_errors_set_pad_error_and_raise(pad):
    task = pad.generate("code", provider="failing")
    with pytest.raises(GenerationError, match="the provider broke"):
        task.result(timeout=30)
    assert pad.status == "failed" and "the provider broke" in pad.error


def test_unknown_provider_fails_at_once_with_its_message(pad):
    with pytest.raises(Exception, match="unknown code provider"):
        pad.generate("code", provider="nope")
    assert pad.status == "failed" and "nope" in pad.error


def test_cancel_ends_a_running_kernel_task(pad):
    task = pad.generate("code", provider="hanging")
    wait_for(pad, lambda: pad.status == "running" and pad.code, ["status", "code"])
    pad.cancel()
    with pytest.raises(GenerationCancelled):
        task.result(timeout=30)
    assert pad.status == "cancelled"


def test_comm_fallback_runs_a_task_the_front_end_asks_for(pad, engine):
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    pad.provider = "scripted"
    from_frontend(pad, {"type": "generate", "kind": "3d", "prompt": "wait n=3"})
    assert pad.task_transport == "kernel" and pad.status in ("pending", "running")
    task_id = pad.task_id
    wait_for(pad, lambda: pad.code == "// part 0\n", ["code"])  # streamed up to the gate
    assert pad.status == "running"
    engine.loop.call_soon_threadsafe(release, task_id)
    pad.wait(timeout=30)
    assert pad.code == "// part 0\n// part 1\n// part 2\n" and pad.status == "completed"


def test_edit_sends_the_current_code_and_the_error(pad):
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    pad.generate("code", prompt="n=1", provider="scripted").result(timeout=30)
    with pytest.raises(RuntimeError, match="still"):
        pad.status = "running"
        pad.generate("edit")
    pad.status = "completed"
    pad.generate("edit", prompt="n=2", provider="scripted", error="TypeError: x").result(timeout=30)
    assert pad.task_type == "edit" and pad.code == "// part 0\n// part 1\n"


def test_a_result_remembers_its_sketch_and_edit_refuses_a_mesh_on_screen(pad):
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    drawn = pad.sketch
    pad.generate("code", prompt="n=1", provider="scripted").result(timeout=30)
    assert pad.result_sketch == drawn  # the pad marks the code stale once the drawing changes
    pad.sketch = {**drawn, "strokes": [STROKE, STROKE]}
    pad.model_provider = "scripted"
    pad.generate("model").result(timeout=60)
    assert pad.result_kind == "model" and pad.result_sketch == pad.sketch
    # The code left over belongs to the first drawing: an edit would swap the mesh for it.
    with pytest.raises(ValueError, match="mesh"):
        pad.generate("edit", prompt="make it red")
    assert pad.task_type == "model" and pad.result_kind == "model"


def test_labels_keep_their_colour_and_size_and_render_readably():
    from PIL import Image

    from vibedraw_widget.sketch import SketchError, validate_sketch

    label = {"x": 10, "y": 20, "text": "roof", "color": "#e03131", "size": 24}
    sketch = validate_sketch({"texts": [label, {"x": 10, "y": 80, "text": "door"}]})
    assert sketch["texts"][0] == label and "color" not in sketch["texts"][1]
    with pytest.raises(SketchError, match=r"texts\[0\]\.size"):
        validate_sketch({"texts": [{**label, "size": 1}]})
    image = Image.open(io.BytesIO(render_png(sketch))).convert("RGB")
    colours = image.crop((0, 0, 200, 60)).getcolors(20_000)
    assert any(r > 180 and g < 90 for _, (r, g, _b) in colours), "drawn in the label's colour"
    box = Image.eval(image.crop((0, 60, 200, 120)), lambda v: 255 - v).getbbox()
    height = box[3] - box[1]
    assert height >= 12, (
        f"an unsized label is drawn at the pad's label size, not tiny ({height} px)"
    )


def test_improve_replaces_the_sketch_undoably(pad):
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    pad.generate("improve", provider="scripted").result(timeout=30)
    assert pad.status == "completed" and pad.sketch["strokes"]
    assert pad.code == ""  # improve does not touch the code


def test_glb_from_the_front_end_lands_in_pad_glb(pad):
    pad.task_id = "abc"
    from_frontend(pad, {"type": "glb", "task_id": "abc"}, [b"glTF...."])
    assert pad.glb == b"glTF...."
    from_frontend(pad, {"type": "glb", "task_id": "other"}, [b"glTFxxxx"])
    assert pad.glb == b"glTF...."  # a stale task's mesh is ignored


def test_missing_bundle_error_says_how_to_build(monkeypatch, tmp_path):
    import vibedraw_widget.widget as widget

    monkeypatch.setattr(widget, "STATIC", tmp_path)
    with pytest.raises(FileNotFoundError, match="npm --prefix js"):
        SketchPad()


def test_png_starting_point_is_traced(engine):
    png = render_png({"strokes": [STROKE], "width": 200, "height": 120})
    pad = SketchPad(io.BytesIO(png).getvalue(), engine=engine)
    assert pad.sketch["width"] == 200 and pad.sketch["strokes"]


FOLDING = json.loads((Path(__file__).parent / "data" / "event_folding.json").read_text())


@pytest.mark.parametrize("case", FOLDING["cases"], ids=lambda case: case["name"])
def test_events_fold_into_the_pad_as_in_the_front_end(case, engine):
    """The same table drives the front end's reduceEvent test (js/test/transport.test.js)."""
    from vibedraw_widget.engine import Event

    pad = SketchPad(engine=engine)
    pad.task_id, pad.task_type = "t-1", case["task_type"]
    for field, value in case.get("state", {}).items():
        setattr(pad, field, value)
    for event_id, kind, data in case["events"]:
        pad._apply("t-1", Event(event_id, kind, data))
    assert {field: getattr(pad, field) for field in case["expect"]} == case["expect"]


def test_code_set_from_python_becomes_the_shown_result_once(pad):
    pad.code = "return new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1));"
    assert pad.result_kind == "code" and pad.result_version == 1
    pad.code = pad.code  # no change, no new result
    assert pad.result_version == 1
    pad.code = "return new THREE.Group();"
    assert pad.result_version == 2


def test_code_a_task_or_the_front_end_writes_is_not_counted_as_set_by_hand(pad):
    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    pad.generate("code", prompt="n=3", provider="scripted").result(timeout=30)
    assert pad.result_version == 1  # one result for the task, not one per streamed chunk
    # The front end ran an edited code itself and synced code and result together.
    pad.set_state({"code": "return new THREE.Group();", "result_version": 2})
    assert pad.code == "return new THREE.Group();" and pad.result_version == 2


def test_one_solid_box_makes_the_pad_mesh_merged_and_its_cell_says_so(pad):
    cross = {
        "points": [[60, 10, 0.5], [60, 60, 0.5], [60, 110, 0.5]],
        "color": "#e03131",
        "width": 4,
    }
    pad.sketch = {**pad.sketch, "strokes": [STROKE, cross]}  # two tubes that cross
    assert len(pad.generate("mesh", provider="local").result(timeout=120)["parts"]) == 2
    pad.merge_mesh = True
    assert len(pad.generate("mesh", provider="local").result(timeout=120)["parts"]) == 1
    assert "merge=True" in pad.cell_source()


def test_the_pads_stl_download_is_the_mesh_on_screen_in_millimetres(pad):
    import trimesh

    pad.sketch = {**pad.sketch, "strokes": [STROKE]}
    pad.generate("mesh", provider="local").result(timeout=120)
    front = Frontend(pad)
    from_frontend(pad, {"type": "export_print", "format": "stl", "name": "x.stl"}, [pad.glb])
    (msg, buffers), *_ = [m for m in front.messages if m[0].get("type") == "file"]
    assert msg["name"] == "x.stl" and pad.error == ""
    mesh = trimesh.load(io.BytesIO(buffers[0]), file_type="stl")
    assert mesh.is_watertight and abs(max(mesh.extents) - 100.0) < 1.0
