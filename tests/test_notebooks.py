"""Every notebook in notebooks/ runs top to bottom on the offline defaults (nbclient)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_the_four_notebooks_are_there_and_stored_without_outputs():
    assert NAMES == [
        "01_quickstart.ipynb",
        "02_batch.ipynb",
        "03_how_it_works.ipynb",
        "04_world.ipynb",
    ]
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path):
    # A copy, so that what the notebook saves lands in tmp_path, not in the source tree.
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns("output", ".ipynb_checkpoints"))
    before = {p.relative_to(work) for p in work.rglob("*")}
    nb = nbformat.read(work / name, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    ).execute()
    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs, "the notebook produced no output at all"
    written = sorted({p.relative_to(work) for p in work.rglob("*") if p.is_file()} - before)
    assert_ignored_by_git([Path("notebooks") / p for p in written])
    if name.startswith("01"):
        for saved in ("snowman.js", "snowman.html", "snowman.glb"):
            assert (work / "output" / saved).stat().st_size > 0
    if name.startswith("02"):
        glbs = sorted((work / "output" / "batch").glob("*.glb"))
        assert len(glbs) >= 8 and all(p.read_bytes()[:4] == b"glTF" for p in glbs)
    if name.startswith("03"):
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(images) >= 3  # recognition overlay, inflation stages, the 3D mesh
        # The last demo's text says the circle's peak height equals its radius: so must
        # the numbers it prints.
        claim = nb.cells[-2].source
        assert "peak height equals the circle's radius" in claim
        printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        radius, height = map(
            float, re.fullmatch(r"radius (\S+) m, peak height (\S+) m\n", printed).groups()
        )
        assert radius > 0.1 and abs(height - radius) <= 0.02 * radius, printed
    if name.startswith("04"):
        import trimesh

        world = trimesh.load(work / "output" / "world.glb", force="scene")
        assert len(world.geometry) >= 4  # every mesh of the batch, placed


def assert_ignored_by_git(paths: list[Path]) -> None:
    """What running a notebook writes must not show up in ``git status``."""
    if not paths or shutil.which("git") is None or not (ROOT / ".git").exists():
        return
    listed = "\n".join(str(p) for p in paths) + "\n"
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "--verbose", "--non-matching", "--stdin"],
        cwd=ROOT,
        input=listed,
        capture_output=True,
        text=True,
        check=False,
    )
    # --non-matching prints "::\tpath" for every path no ignore rule matches.
    not_ignored = [
        line.split("\t", 1)[1] for line in done.stdout.splitlines() if line.startswith("::")
    ]
    assert not_ignored == [], f"a notebook wrote files git would track: {not_ignored}"


@pytest.mark.timeout(600)
def test_marimo_quickstart_runs_headless(tmp_path):
    """notebooks/marimo_quickstart.py runs top to bottom under ``marimo export html``: the
    pad is rendered as an anywidget, the code and mesh results show their previews."""
    pytest.importorskip("marimo")
    import json
    import os
    import subprocess
    import sys

    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns("output", "*.ipynb"))
    out = tmp_path / "quickstart.html"
    repo = str(NOTEBOOKS.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "marimo", "export", "html", "marimo_quickstart.py", "-o", str(out)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    page = out.read_text()
    # The exported page embeds the session: each cell's outputs, as marimo rendered them.
    start = page.index('"session": ') + len('"session": ')
    session, _ = json.JSONDecoder().raw_decode(page[start:])
    outputs = [o for cell in session["cells"] for o in cell["outputs"]]
    assert not [o for o in outputs if o["type"] == "error"], outputs
    html = [o["data"].get("text/html", "") for o in outputs if o["type"] == "data"]
    assert any("<marimo-anywidget" in h for h in html), "the pad was not rendered"
    assert sum('<iframe sandbox="allow-scripts"' in h for h in html) >= 2  # code and mesh
    assert any("strokes" in str(o["data"]) for o in outputs if o["type"] == "data")
