"""The pad in every host it runs in, in real Chromium: JupyterLab 4 and Notebook 7, each
with and without the vibedraw server extension, and marimo. In each: draw, Make 3D, Make
mesh, Cancel, the preview's canvas drawn (its pixels read inside the sandboxed frame),
and "To cell" (a cell below in Jupyter, the clipboard elsewhere).

VS Code and Colab have no Jupyter server the pad can reach: their stand-in is the kernel
path, JupyterLab and Notebook 7 without the extension (the pad finds a server, its routes
answer 404, tasks go over the comm), and marimo (no server at all).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.browser_support import (
    CHROMIUM,
    free_port,
    launch_chromium,
    run_lab,
    serve,
    write_notebook,
    write_server_config,
)

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
STATIC = Path(__file__).parent.parent / "vibedraw_widget" / "static" / "sketchpad.js"

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
    pytest.mark.skipif(not STATIC.exists(), reason="needs the built bundle (npm run build)"),
    pytest.mark.timeout(900),
]
playwright = pytest.importorskip("playwright.sync_api")

# The pad, with the slow test provider (for Cancel) known to the kernel.
PAD_SETUP = """from vibedraw_widget.providers import registry
from vibedraw_widget.widget import SketchPad
registry.BUILTIN[("code", "slow")] = "tests.browser_support:SlowCode"
registry.provider_classes.cache_clear()
pad = SketchPad()"""
NOTEBOOK = "hosts.ipynb"
SAVED = "saved.ipynb"
RESULTS = "results.ipynb"
SNOWMAN = Path(__file__).parent.parent / "notebooks" / "sketches" / "scene_snowman_00.json"
# A Result and a gallery, as scripts show them (the last line is the cell's display).
RESULTS_SETUP = f"""from vibedraw_widget import World, gallery, generate
shown = [generate({str(SNOWMAN)!r}, kind="code", prompt="a snowman"),
         generate({str(SNOWMAN)!r}, kind="model")]"""
MARIMO_APP = f"""import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
{"".join("    " + line + chr(10) for line in PAD_SETUP.splitlines())}
    widget = mo.ui.anywidget(pad)
    widget
    return (mo,)


@app.cell
def _(mo):
{"".join("    " + line + chr(10) for line in RESULTS_SETUP.splitlines())}
    mo.vstack([shown[0], gallery(shown), mo.ui.anywidget(World.from_results(shown))])
    return


if __name__ == "__main__":
    app.run()
"""
# host → (server, front end, connection the pad shows)
HOSTS = {
    "lab": ("extension", "lab", "connected"),
    "lab-no-extension": ("no-extension", "lab", "kernel"),
    "notebook7": ("extension", "notebook", "connected"),
    "notebook7-no-extension": ("no-extension", "notebook", "kernel"),
    "marimo": ("marimo", "marimo", "kernel"),
}
CIRCLE = [
    (150 + 70 * math.cos(a / 8 * math.pi), 130 + 70 * math.sin(a / 8 * math.pi)) for a in range(17)
]

# Inside the preview frame: the WebGL canvas' size and how many of its pixels differ from
# the corner (the background). Read in an animation frame after the runtime's own render,
# while the drawing buffer still holds it.
CANVAS_PIXELS = """() => new Promise((resolve) => {
  const read = () => {
    const c = document.querySelector('canvas');
    if (!c || c.width < 2 || c.height < 2) {
      return resolve({width: c?.width ?? 0, height: c?.height ?? 0, drawn: 0});
    }
    const copy = document.createElement('canvas');
    copy.width = c.width; copy.height = c.height;
    const g = copy.getContext('2d');
    g.drawImage(c, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let drawn = 0;
    for (let i = 0; i < d.length; i += 4) {
      const diff = Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]);
      if (diff > 48) drawn++;
    }
    resolve({width: c.width, height: c.height, drawn});
  };
  requestAnimationFrame(read);
  setTimeout(read, 2000); // Chrome runs no animation frames in a frame out of view
})"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Started on first use, shared by the module: a Jupyter server with the extension,
    one without, a marimo app. Each Jupyter server serves JupyterLab and Notebook 7."""
    ARTIFACTS.mkdir(exist_ok=True)
    started: dict[str, object] = {}
    stack = __import__("contextlib").ExitStack()

    def get(kind: str):
        if kind in started:
            return started[kind]
        root = tmp_path_factory.mktemp(kind)
        if kind == "marimo":
            (root / "app.py").write_text(MARIMO_APP)
            port = free_port()
            args = [sys.executable, "-m", "marimo", "run", "app.py", "--headless"]
            args += ["--port", str(port), "--host", "127.0.0.1", "--no-token"]
            url = f"http://127.0.0.1:{port}/"
            started[kind] = stack.enter_context(serve(args, url, ARTIFACTS / "marimo.log", root))
        else:
            write_notebook(root / NOTEBOOK, [PAD_SETUP + "\npad", "pad.to_cell()"])
            results = RESULTS_SETUP + "\nfrom IPython.display import display\ndisplay(shown[0])"
            results += "\ndisplay(gallery(shown))\nWorld.from_results(shown)"
            write_notebook(root / RESULTS, [results])
            write_notebook(root / SAVED, ["from vibedraw_widget import SketchPad\nSketchPad()"])
            # Its own settings: widget state saved with the notebook (JupyterLab's
            # "Save Widget State Automatically"), the machine's settings untouched.
            settings = tmp_path_factory.mktemp(f"{kind}-settings")
            plugin = settings / "@jupyter-widgets" / "jupyterlab-manager"
            plugin.mkdir(parents=True)
            (plugin / "plugin.jupyterlab-settings").write_text('{"saveState": true}')
            config = tmp_path_factory.mktemp(f"{kind}-config")
            write_server_config(config)  # the slow provider in the server, for Cancel
            log = ARTIFACTS / f"jupyter-{kind}.log"
            started[kind] = stack.enter_context(
                run_lab(
                    root,
                    log,
                    config_dir=config,
                    extension=kind == "extension",
                    settings_dir=settings,
                )
            )
        return started[kind]

    with stack:
        yield get


@pytest.fixture
def page(request):
    # Playwright per test, as in test_browser.py: its sync loop must not outlive the test
    # (pytest-jupyter's loop fixtures close theirs at each test's end).
    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        yield from _page(browser, request)
        browser.close()


def _page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    yield page
    name = request.node.name.replace("/", "_")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console))
    context.close()


def wait_until(check, timeout: float = 60, what: str = "") -> None:
    """Poll the page state until ``check()`` is truthy (marimo's shadow DOM rules out
    ``wait_for_function`` with ``document.querySelector``)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or check}")
        time.sleep(0.1)  # polling the page, not synchronising with it


def frames(page) -> int:
    return int(page.locator(".vd-preview").get_attribute("data-frames") or 0)


def status(page) -> str:
    return page.locator(".vd-pad").get_attribute("data-status") or ""


def canvas_pixels(page, iframe: str = ".vd-preview iframe") -> dict:
    """A 3D view's canvas size and drawn pixels, from whichever frame under ``iframe`` holds
    it (the runtime may sit in a frame inside a shell frame)."""
    element = page.locator(iframe).first
    element.scroll_into_view_if_needed()
    todo = [element.element_handle().content_frame()]
    while todo:
        frame = todo.pop(0)
        if frame.evaluate("() => !!document.querySelector('canvas')"):
            return frame.evaluate(CANVAS_PIXELS)
        todo.extend(frame.child_frames)
    raise AssertionError(f"no canvas under {iframe}")


def draw(page, points) -> None:
    box = page.locator(".vd-canvas-live").bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
    page.mouse.up()


def cell_text(page, index: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content").inner_text()


def open_host(page, servers, host: str) -> None:
    server, front, _ = HOSTS[host]
    if front == "marimo":
        page.goto(servers("marimo"))  # marimo run executes the app itself
        return
    lab = servers(server)
    path = "lab/tree" if front == "lab" else "notebooks"
    page.goto(f"{lab.url}{path}/{NOTEBOOK}?reset&token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    # Cells run once the page's kernel connection is up (Lab's status bar, Notebook's toolbar).
    if front == "lab":
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    else:
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
        )
    page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")


def make(page, button: str) -> None:
    """Press Make 3D / Make mesh and wait for its result's first frame."""
    before = frames(page)
    page.get_by_role("button", name=button).click()
    wait_until(lambda: status(page) == "completed" and frames(page) > before, 180, button)


@pytest.mark.parametrize("host", list(HOSTS))
def test_pad_draws_makes_3d_and_a_mesh_cancels_and_keeps_results(host, servers, page):
    front, connection = HOSTS[host][1], HOSTS[host][2]
    open_host(page, servers, host)
    page.locator(".vd-pad").wait_for(timeout=120_000)
    page.locator(f".vd-connection[data-state='{connection}']").wait_for(timeout=60_000)
    notice = page.locator(".vd-notice")
    if HOSTS[host][0] == "no-extension":  # a Jupyter server without the routes: say so
        wait_until(lambda: notice.text_content(), 30, "the notice")
        assert notice.text_content().startswith("Tasks run in the kernel")
        assert "restart Jupyter so" not in notice.text_content()
    else:
        assert notice.is_hidden()
    assert page.locator(".vd-connection").text_content() == (
        "runs in the kernel" if connection == "kernel" else "connected"
    )

    draw(page, CIRCLE)
    wait_until(lambda: page.get_by_role("button", name="Undo").is_enabled(), 30, "the stroke")
    unsized: list[str] = []  # preview canvases left at 1x1 (issue 14)

    def check_preview(what: str) -> None:
        pixels = canvas_pixels(page)
        if pixels["width"] <= 1 or pixels["height"] <= 1:
            unsized.append(f"{what}: {pixels}")
        else:
            assert pixels["drawn"] > 500, f"{what}: the preview drew nothing: {pixels}"

    make(page, "Make 3D")
    code = page.locator(".vd-code").text_content()
    assert "THREE" in code
    check_preview("Make 3D")

    make(page, "Make mesh")
    assert page.locator(".vd-code").text_content() == code  # a mesh leaves the code alone
    assert page.get_by_role("button", name="Download .glb").is_enabled()
    check_preview("Make mesh")

    # Cancel a slow code task: the code shown before comes back.
    page.get_by_label("Code provider").select_option("slow")
    page.get_by_role("button", name="Make 3D").click()
    code_pane = page.locator(".vd-code")
    wait_until(lambda: "// line 2" in code_pane.text_content(), 60, "the slow stream")
    page.get_by_role("button", name="Cancel").click()
    wait_until(lambda: status(page) == "cancelled", 30, "cancelled")
    assert code_pane.text_content() == code

    # To cell: in Jupyter a cell below the pad's that regenerates the mesh; elsewhere the
    # clipboard. pad.to_cell() (IPython's set_next_input) puts one below its own cell.
    page.get_by_role("button", name="To cell").click()
    if front == "marimo":
        wait_until(lambda: "clipboard" in notice.text_content(), 30, "the clipboard notice")
        assert 'generate(sketch, kind="model")' in page.evaluate("navigator.clipboard.readText()")
    else:
        wait_until(lambda: page.locator(".jp-Notebook .jp-Cell").count() >= 3, 30, "a new cell")
        inserted = cell_text(page, 1)
        assert inserted.startswith("# vibedraw: Make mesh")
        assert 'generate(sketch, kind="model")' in inserted
        assert cell_text(page, 2) == "pad.to_cell()"
        page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        # Shift+Enter adds an empty last cell at once; the kernel's reply then inserts
        # the set_next_input cell right below the executed one.
        wait_until(lambda: cell_text(page, 3).startswith("# vibedraw"), 30, "set_next_input")
        assert cell_text(page, 3) == inserted

    # The frame is made before the pad is laid out (every host here, marimo included): the
    # runtime sizes its canvas from the frame's real box (docs/preview.md).
    assert not unsized, "the preview canvas stayed 1x1: " + "; ".join(unsized)


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """Voilà serving a copy of the quickstart notebook (it saves files beside itself)."""
    work = tmp_path_factory.mktemp("voila") / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns("output", "*.py"))
    port = free_port()
    args = [sys.executable, "-m", "voila", "01_quickstart.ipynb", "--no-browser"]
    args += [f"--port={port}", "--Voila.ip=127.0.0.1"]
    base = f"http://127.0.0.1:{port}/"
    ARTIFACTS.mkdir(exist_ok=True)
    # Voilà runs the whole notebook for each page request: wait on a static file instead.
    ready = f"{base}voila/static/extension.js"
    with serve(args, base, ARTIFACTS / "voila.log", work, ready_url=ready) as url:
        yield url


def test_voila_page_of_the_quickstart_draws_and_makes_3d(voila, page):
    page.goto(voila)
    page.locator(".vd-pad").wait_for(timeout=240_000)  # after every cell has run
    # Voilà has a Jupyter-like page (jupyter-config-data) but serves no vibedraw routes and
    # refuses them (403): the pad runs its tasks in the kernel and gives no advice.
    page.locator(".vd-connection[data-state='kernel']").wait_for(timeout=60_000)
    assert page.locator(".vd-notice").is_hidden()
    assert status(page) == "completed"  # the notebook's own pad.generate("code") ran
    undo = page.get_by_role("button", name="Undo")
    undo.click()  # the loaded sample goes, the pad is empty again
    wait_until(lambda: not undo.is_enabled(), 30, "the empty pad")
    draw(page, CIRCLE)
    wait_until(undo.is_enabled, 30, "the stroke")
    make(page, "Make 3D")
    assert "THREE" in page.locator(".vd-code").text_content()
    pixels = canvas_pixels(page)
    assert pixels["width"] > 1 and pixels["height"] > 1, f"the canvas stayed 1x1: {pixels}"
    assert pixels["drawn"] > 500, pixels


def test_saved_notebook_reopened_after_its_kernel_is_gone_shows_the_drawing(servers, page):
    """With "Save Widget State Automatically" on, the pad's state (its drawing) is saved in
    the notebook and comes back when it is reopened after its kernel is gone."""
    lab = servers("extension")
    page.goto(f"{lab.url}lab/tree/{SAVED}?reset&token={lab.token}")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    page.locator(".vd-pad").wait_for(timeout=60_000)
    draw(page, CIRCLE)
    wait_until(lambda: page.get_by_role("button", name="Undo").is_enabled(), 30, "the stroke")
    page.keyboard.press("Control+s")
    page.wait_for_selector(".jp-mod-current.jp-mod-dirty", state="detached", timeout=30_000)
    saved = json.loads((lab.root / SAVED).read_text())
    states = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    sketches = [s["state"]["sketch"] for s in states.values() if "sketch" in s["state"]]
    assert [len(s["strokes"]) for s in sketches] == [1]

    for session in lab.get_json("api/sessions"):  # no kernel keeps the model alive
        httpx.delete(lab.api(f"api/sessions/{session['id']}"), headers=lab.headers(), timeout=30)
    page.goto(f"{lab.url}lab/tree/{SAVED}?reset&token={lab.token}")
    page.locator(".vd-pad").wait_for(timeout=90_000)
    shown = "() => document.querySelector('.vd-pad').__vdSurface.sketch.strokes.length"
    assert page.evaluate(shown) == 1


@pytest.mark.parametrize("host", ["lab", "notebook7", "marimo"])
def test_result_gallery_and_world_displays_draw(host, servers, page):
    """A Result, a gallery() and a World shown by a cell draw their 3D views in each
    front end."""
    front = HOSTS[host][1]
    if front == "marimo":
        page.goto(servers("marimo"))  # the app's second cell shows them
    else:
        lab = servers("extension")
        path = "lab/tree" if front == "lab" else "notebooks"
        page.goto(f"{lab.url}{path}/{RESULTS}?reset&token={lab.token}")
        if front == "lab":
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        else:
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
            )
        page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
    unsized = []
    # A Result's frame is titled by its label (here the sketch's file name).
    for iframe in ("iframe[title$='.json preview']", "iframe[title='gallery']", ".vd-world iframe"):
        page.locator(iframe).first.wait_for(timeout=120_000)
        deadline = time.monotonic() + 30
        while True:  # the view draws once its runtime has unpacked and built the scene
            pixels = canvas_pixels(page, iframe)
            if pixels["drawn"] > 500 or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # polling the frame, not synchronising with it
        if pixels["width"] <= 1 or pixels["height"] <= 1:
            unsized.append(f"{iframe}: {pixels}")
        else:
            assert pixels["drawn"] > 500, f"{iframe} drew nothing: {pixels}"
    assert not unsized, "a 3D view's canvas stayed 1x1: " + "; ".join(unsized)
