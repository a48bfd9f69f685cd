"""Results live in the notebook: ``pad.cell_source()`` / ``pad.to_cell()`` write Python that
recreates what the pad shows, ``SketchPad(sketch=…)`` round-trips the drawing, and a mesh
is a pure function of its sketch and options (byte for byte, across processes)."""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vibedraw_widget.engine.background import BackgroundEngine
from vibedraw_widget.result import Result
from vibedraw_widget.settings import Settings
from vibedraw_widget.widget import SketchPad, _py_str

ROOT = Path(__file__).parent.parent
SNOWMAN = ROOT / "notebooks" / "sketches" / "scene_snowman_00.json"


@pytest.fixture(scope="module")
def engine():
    return BackgroundEngine(Settings(cpu_pool="thread", cpu_workers=1))


def run_cell(source: str) -> object:
    """Execute a cell's source; the value of its last line, as a notebook would show it."""
    tree = ast.parse(source)
    last = tree.body.pop()
    assert isinstance(last, ast.Expr), "the cell ends without showing anything"
    namespace: dict = {}
    exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102 -- the code under test is ours
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)  # noqa: S307


def test_sketchpad_round_trips_its_sketch(engine):
    pad = SketchPad(SNOWMAN, engine=engine)
    again = SketchPad(sketch=pad.sketch, engine=engine)
    assert again.sketch == pad.sketch
    assert SketchPad(sketch=json.dumps(pad.sketch), engine=engine).sketch == pad.sketch


def test_cell_source_before_a_result_recreates_the_pad_with_its_drawing(engine):
    pad = SketchPad(SNOWMAN, engine=engine)
    shown = run_cell(pad.cell_source())
    assert isinstance(shown, SketchPad) and shown.sketch == pad.sketch


def test_cell_source_after_make_3d_shows_the_same_code(engine):
    pad = SketchPad(SNOWMAN, engine=engine)
    pad.generate("code", prompt="a snowman").result(timeout=60)
    source = pad.cell_source()
    assert source.startswith("# vibedraw:")
    shown = run_cell(source)
    assert isinstance(shown, Result) and shown.ok
    assert shown.code == pad.code and shown.sketch == pad.sketch and shown.prompt == "a snowman"
    assert "<iframe" in shown._repr_html_()


def test_cell_source_after_make_mesh_regenerates_the_same_bytes(engine):
    pad = SketchPad(SNOWMAN, engine=engine)
    pad.generate("model").result(timeout=120)
    shown = run_cell(pad.cell_source())
    assert isinstance(shown, Result) and shown.ok
    assert shown.glb == pad.glb  # another engine (a process pool), the same mesh


@pytest.mark.parametrize(
    "text",
    ["const a = 1;\nreturn a;\n", "s = '\\n'", "ends with '", "has ''' inside", "tab\tand\x00nul"],
)
def test_code_is_written_as_a_literal_that_reads_back_exactly(text):
    assert eval(_py_str(text)) == text  # noqa: S307
    if "\\" not in text and "'''" not in text and "\x00" not in text and not text.endswith("'"):
        assert _py_str(text).startswith("'''")  # readable in the cell


def test_to_cell_asks_ipython_for_a_cell_below(engine, monkeypatch):
    import IPython

    calls = []

    class Shell:
        def set_next_input(self, text, replace=False):
            calls.append((text, replace))

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    pad = SketchPad(SNOWMAN, engine=engine)
    assert pad.to_cell() == pad.cell_source()
    assert calls == [(pad.cell_source(), False)]


def test_to_cell_from_the_front_end_sends_the_code_and_the_widget_id(engine):
    pad = SketchPad(SNOWMAN, engine=engine)
    sent = []
    pad.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    pad._handle_message(None, {"type": "to_cell"}, [])
    assert sent == [{"type": "cell", "code": pad.cell_source(), "model_id": pad.model_id}]


MESH_IN_A_PROCESS = """
import hashlib, sys
from vibedraw_widget import generate
result = generate(sys.argv[1], kind="model").raise_for_status()
print(hashlib.sha256(result.glb).hexdigest(), len(result.glb))
"""


@pytest.mark.timeout(300)
def test_meshes_are_byte_identical_across_processes():
    def one_run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", MESH_IN_A_PROCESS, str(SNOWMAN)],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=ROOT,
            env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split("\n")[-2] if done.stdout.endswith("\n") else done.stdout

    first, second = one_run(), one_run()
    assert first == second
    digest, size = first.split()
    assert int(size) > 1000 and len(digest) == 64
    assert hashlib.sha256(b"").hexdigest() != digest
