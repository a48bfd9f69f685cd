"""The SketchPad end to end in a real browser: JupyterLab on a free port, Debian's headless
Chromium through playwright. Draw with the mouse, Make 3D (code streams, the sandboxed
preview draws), Make mesh (the GLB is shown), and check the kernel saw it all."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.browser_support import (
    CHROMIUM,
    background_pixels_differ,
    execute,
    launch_chromium,
    open_notebook,
    run_cell,
    run_lab,
    write_notebook,
    write_server_config,
)

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
STATIC = Path(__file__).parent.parent / "vibedraw_widget" / "static" / "sketchpad.js"

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
    pytest.mark.skipif(not STATIC.exists(), reason="needs the built bundle (npm run build)"),
    pytest.mark.timeout(600),
]
playwright = pytest.importorskip("playwright.sync_api")

NOTEBOOK = "pad.ipynb"
RESUME = "resume.ipynb"
KERNEL = "kernel.ipynb"
KERNEL_CELL = """from vibedraw_widget.providers import registry
from vibedraw_widget.widget import SketchPad
registry.BUILTIN[("code", "broken")] = "tests.browser_support:BrokenCode"
registry.provider_classes.cache_clear()
pad = SketchPad(transport="kernel")
pad"""
STATE = (
    "import json; print(json.dumps({'sketch': pad.sketch, 'code': pad.code, 'status': pad.status,"
    " 'task_id': pad.task_id, 'task_type': pad.task_type, 'error': pad.error,"
    " 'glb': (len(pad.glb), pad.glb[:4].decode('latin1')) if pad.glb else None}))"
)
# Strokes in page pixels relative to the canvas' top-left corner: a circle-ish loop, a line.
CIRCLE = [
    (150 + 60 * c, 120 + 60 * s)
    for c, s in [
        (1, 0),
        (0.7, 0.7),
        (0, 1),
        (-0.7, 0.7),
        (-1, 0),
        (-0.7, -0.7),
        (0, -1),
        (0.7, -0.7),
        (1, 0),
    ]
]
LINE = [(60, 230), (120, 232), (180, 234), (240, 236)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    write_notebook(
        root / NOTEBOOK,
        ["from vibedraw_widget.widget import SketchPad\npad = SketchPad()\npad"],
    )
    write_notebook(
        root / RESUME,
        ["from vibedraw_widget.widget import SketchPad\npad = SketchPad(provider='slow')\npad"],
    )
    write_notebook(root / KERNEL, [KERNEL_CELL])
    config = tmp_path_factory.mktemp("config")
    write_server_config(config)
    ARTIFACTS.mkdir(exist_ok=True)
    with run_lab(root, ARTIFACTS / "jupyterlab.log", config_dir=config) as server:
        yield server


@pytest.fixture
def page(lab, request):
    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        yield page
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else True:
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
            (ARTIFACTS / f"{request.node.name}.console.txt").write_text("\n".join(console))
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def draw(page, canvas, stroke) -> None:
    box = canvas.bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + stroke[0][0], y0 + stroke[0][1])
    page.mouse.down()
    for x, y in stroke[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=4)
    page.mouse.up()


def kernel_state(lab, notebook: str = NOTEBOOK) -> dict:
    return json.loads(execute(lab, lab.kernel_id(notebook), STATE))


def server_task(lab, task_id: str) -> dict:
    response = httpx.get(lab.api(f"vibedraw/api/task/{task_id}"), headers=lab.headers(), timeout=30)
    response.raise_for_status()
    return response.json()


def show_pad(page, lab, notebook: str, connection: str):
    open_notebook(page, lab, notebook)
    run_cell(page, 0)
    page.locator(".vd-pad").wait_for(timeout=60_000)
    page.wait_for_selector(f".vd-connection[data-state='{connection}']", timeout=30_000)
    return page.locator(".vd-canvas-live")


def preview_pixels(page) -> int:
    return background_pixels_differ(page.locator(".vd-preview").screenshot())


def runtime_frame(page):
    """The frame the code runs in: inside the preview's shell frame (docs/preview.md)."""
    shell = page.locator(".vd-preview-frame").element_handle().content_frame()
    return shell.child_frames[0]


def wait_for_frames(page, more_than: int) -> None:
    page.wait_for_function(
        f"() => Number(document.querySelector('.vd-preview').dataset.frames) > {more_than}",
        timeout=60_000,
    )


def test_draw_make_3d_then_make_mesh(lab, page):
    open_notebook(page, lab, NOTEBOOK)
    run_cell(page, 0)
    pad = page.locator(".vd-pad")
    pad.wait_for(timeout=60_000)
    # The server extension answered: tasks go over HTTP/SSE/WS, not the comm.
    page.wait_for_selector(".vd-connection[data-state='connected']", timeout=30_000)
    canvas = page.locator(".vd-canvas-live")
    draw(page, canvas, CIRCLE)
    draw(page, canvas, LINE)
    page.wait_for_function(
        "() => document.querySelector('.vd-pad [title^=\"Undo\"]').disabled === false"
    )  # the kernel recorded the strokes (it owns the history)
    # Text labels: clicking to place the next label keeps the one being typed.
    page.get_by_role("button", name="Text").click()
    box = canvas.bounding_box()
    for text, y in (("roof", 30), ("door", 60)):
        page.mouse.click(box["x"] + 40, box["y"] + y)
        page.locator(".vd-text-input").fill(text)
    page.keyboard.press("Enter")

    # Make 3D: the code streams into the pane, the sandboxed preview draws it.
    page.get_by_role("button", name="Make 3D").click()
    page.wait_for_selector(".vd-pad[data-status='completed']", timeout=120_000)
    wait_for_frames(page, 0)
    streamed = page.locator(".vd-code textarea").input_value()
    assert streamed.strip()
    assert preview_pixels(page) > 500, "the preview drew nothing"
    frame = page.locator(".vd-preview-frame")
    assert frame.get_attribute("sandbox") == "allow-scripts"

    state = kernel_state(lab)
    assert state["status"] == "completed" and state["task_type"] == "3d"
    assert state["code"] == streamed, "pad.code differs from the streamed code"
    assert state["error"] == ""
    strokes = state["sketch"]["strokes"]
    assert len(strokes) == 2
    assert [t["text"] for t in state["sketch"]["texts"]] == ["roof", "door"]
    box = canvas.bounding_box()
    scale = state["sketch"]["width"] / box["width"]
    first = strokes[0]["points"][0]
    assert abs(first[0] - CIRCLE[0][0] * scale) < 3 and abs(first[1] - CIRCLE[0][1] * scale) < 3
    assert len(strokes[1]["points"]) >= len(LINE)
    # The server's log agrees: content is exactly the deltas joined.
    task = httpx.get(
        lab.api(f"vibedraw/api/task/{state['task_id']}"), headers=lab.headers(), timeout=30
    ).json()
    assert task["status"] == "completed"
    assert task["result"]["result"].get("code", task["result"]["result"]["content"]) == streamed

    # Edit "make it bigger": the camera stays, so the model really looks bigger.
    before = preview_pixels(page)
    frames = int(page.locator(".vd-preview").get_attribute("data-frames"))
    preview = runtime_frame(page)
    camera = "async () => (await window.vibedraw.state()).camera"
    seen_from = preview.evaluate(camera)
    page.get_by_label("Prompt").fill("make it bigger")
    page.get_by_role("button", name="Edit").click()
    # A local edit can finish within one animation frame, too fast to see it running:
    # wait for the frame that shows its result instead.
    wait_for_frames(page, frames)
    page.wait_for_selector(".vd-pad[data-status='completed']", timeout=60_000)
    assert preview.evaluate(camera) == seen_from, "the edit's result was framed anew"
    assert preview_pixels(page) > before  # the model grew on screen (partly out of view)
    streamed = kernel_state(lab)["code"]

    # Make mesh: progress over the WebSocket, the GLB shown with GLTFLoader, bytes in pad.glb.
    frames = int(page.locator(".vd-preview").get_attribute("data-frames"))
    page.get_by_role("button", name="Make mesh").click()
    page.wait_for_function(
        "() => document.querySelector('.vd-pad').dataset.status !== 'completed'", timeout=30_000
    )
    page.wait_for_selector(".vd-pad[data-status='completed']", timeout=180_000)
    wait_for_frames(page, frames)
    assert preview_pixels(page) > 500
    state = kernel_state(lab)
    assert state["task_type"] == "model" and state["status"] == "completed"
    glb = httpx.get(
        lab.api(f"vibedraw/api/models/{state['task_id']}.glb"), headers=lab.headers(), timeout=30
    )
    assert state["glb"] == [len(glb.content), "glTF"]
    assert state["code"] == streamed  # a mesh task leaves the code alone

    # The browser drops the preview's WebGL context (it keeps ~16 per page): the pad
    # replaces its frame and shows the mesh again.
    frames = int(page.locator(".vd-preview").get_attribute("data-frames"))
    preview = runtime_frame(page)
    preview.evaluate("window.vibedraw.loseContext()")  # in the Worker that renders
    wait_for_frames(page, frames)
    assert preview_pixels(page) > 500

    # JupyterLab switches theme: the open preview follows, without a reload.
    def corner() -> tuple[int, ...]:
        shot = Image.open(io.BytesIO(page.locator(".vd-preview").screenshot()))
        return shot.convert("RGB").getpixel((4, 4))

    for light in ("true", "false", "true"):
        page.evaluate(f"document.body.dataset.jpThemeLight = '{light}'")
        theme = "light" if light == "true" else "dark"
        page.wait_for_selector(f".vd-preview[data-theme='{theme}']", timeout=30_000)
        assert (min(corner()) > 200) if theme == "light" else (max(corner()) < 60), theme
    shutil.rmtree(ARTIFACTS / "unused", ignore_errors=True)


def test_reloading_mid_stream_resumes_without_losing_or_repeating(lab, page):
    canvas = show_pad(page, lab, RESUME, "connected")
    draw(page, canvas, CIRCLE)
    page.get_by_role("button", name="Make 3D").click()
    page.wait_for_function(
        "() => document.querySelector('.vd-code textarea').value.includes('// line 3')",
        timeout=60_000,
    )
    page.keyboard.press("Control+s")  # the widget's output must be in the file to come back
    page.wait_for_selector(".jp-mod-current.jp-mod-dirty", state="detached", timeout=30_000)
    task_id = kernel_state(lab, RESUME)["task_id"]
    assert server_task(lab, task_id)["status"] in ("pending", "running"), "reload came too late"
    page.reload()
    page.locator(".vd-pad").wait_for(timeout=90_000)
    page.wait_for_selector(".vd-pad[data-status='completed']", timeout=120_000)
    wait_for_frames(page, 0)
    shown = page.locator(".vd-code textarea").input_value()
    content = server_task(lab, task_id)["result"]["result"]["content"]
    assert shown == content
    assert all(shown.count(f"// line {i}\n") == 1 for i in range(30))
    state = kernel_state(lab, RESUME)
    assert state["code"] == content and state["task_id"] == task_id


def test_kernel_fallback_and_fix_it_for_a_runtime_error(lab, page):
    canvas = show_pad(page, lab, KERNEL, "kernel")
    draw(page, canvas, CIRCLE)
    page.get_by_role("button", name="Make 3D").click()
    page.wait_for_selector(".vd-pad[data-status='completed']", timeout=120_000)
    wait_for_frames(page, 0)
    assert preview_pixels(page) > 500
    streamed = page.locator(".vd-code textarea").input_value()
    state = kernel_state(lab, KERNEL)
    assert state["code"] == streamed and state["status"] == "completed"
    assert len(state["sketch"]["strokes"]) == 1

    # Generated code that throws: the pad shows it, pad.error has it, "Fix it" edits.
    execute(lab, lab.kernel_id(KERNEL), "pad.provider = 'broken'")
    page.get_by_role("button", name="Make 3D").click()
    page.locator(".vd-fix").wait_for(timeout=60_000)
    assert "undefinedThing" in page.locator(".vd-error").text_content()
    page.wait_for_function(
        "() => document.querySelector('.vd-pad').dataset.status === 'completed'", timeout=30_000
    )
    assert "undefinedThing" in kernel_state(lab, KERNEL)["error"]
    page.locator(".vd-fix").click()
    page.wait_for_function(
        "() => document.querySelector('.vd-pad').dataset.status === 'completed'", timeout=60_000
    )
    state = kernel_state(lab, KERNEL)
    assert state["task_type"] == "edit"


def test_run_all_of_04_world_saves_the_code_object_too(lab, page):
    """Run All queues every cell at once: the sun's GLB, exported by the browser once the
    sun is built, must still reach the save cell (wait_for_exports), every time."""
    notebooks = Path(__file__).parent.parent / "notebooks"
    shutil.copy(notebooks / "04_world.ipynb", lab.root / "world.ipynb")
    shutil.copytree(notebooks / "sketches", lab.root / "sketches", dirs_exist_ok=True)
    saved = lab.root / "output" / "world.glb"
    saved.unlink(missing_ok=True)
    open_notebook(page, lab, "world.ipynb")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    outputs = page.locator(".jp-OutputArea-output")
    outputs.filter(has_text="meshes; bounds (m):").wait_for(timeout=300_000)
    printed = outputs.filter(has_text="not exported:").inner_text()
    for session in lab.get_json("api/sessions"):  # its kernel and worker pool: not needed now
        if session["path"].endswith("world.ipynb"):
            httpx.delete(lab.api(f"api/sessions/{session['id']}"), headers=lab.headers())
    assert printed.startswith("not exported: none"), printed
    import trimesh

    world = trimesh.load(saved, force="scene")
    labels = {name.split("/")[0] for name in world.graph.nodes_geometry}
    assert any("sun" in label for label in labels), labels
    assert len(labels) == 5  # four meshes and the sun
