"""The pad as a canvas, in JupyterLab and real Chromium: code you can edit and run, select /
move / scale / delete, zoom and pan that leave the notebook's scrolling alone, a resizable
surface, and pen, touch and mouse input through pointer events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser_support import (
    CHROMIUM,
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

NOTEBOOK = "canvas.ipynb"
# Tall cells around the pad so that the notebook has something to scroll.
CELLS = [
    "print('\\n'.join(str(i) for i in range(60)))",
    "from vibedraw_widget.widget import SketchPad\npad = SketchPad(width=800, height=500)\npad",
    "print('\\n'.join(str(i) for i in range(60)))",
]
RED_BOX = (
    "const box = new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1),\n"
    "  new THREE.MeshStandardMaterial({ color: 0xe03131 }));\n"
    "return box;"
)
BROKEN = "const a = 1;\nconst b = 2;\nnull.boom;\nreturn new THREE.Group();"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    write_notebook(root / NOTEBOOK, CELLS)
    config = tmp_path_factory.mktemp("config")
    write_server_config(config)
    ARTIFACTS.mkdir(exist_ok=True)
    with run_lab(root, ARTIFACTS / "jupyterlab-canvas.log", config_dir=config) as server:
        yield server


@pytest.fixture
def page(lab, request):
    """A page with a new pad shown (the cells re-run), between two tall outputs."""
    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        open_notebook(page, lab, NOTEBOOK)
        for i in range(3):
            run_cell(page, i)
        page.locator(".vd-pad").wait_for(timeout=90_000)
        page.wait_for_selector(".vd-connection[data-state='connected']", timeout=60_000)
        # In view: Chromium gives an off-screen preview frame no animation frames.
        page.locator(".vd-pad").scroll_into_view_if_needed()
        yield page
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


SURFACE = "document.querySelector('.vd-pad').__vdSurface"


def kernel(lab, expression: str):
    return json.loads(
        execute(lab, lab.kernel_id(NOTEBOOK), f"import json; print(json.dumps({expression}))")
    )


def surface(page, expression: str):
    """Evaluate `expression` with `s` bound to the pad's drawing surface."""
    return page.evaluate(f"() => {{ const s = {SURFACE}; return {expression}; }}")


def frames(page) -> int:
    return int(page.locator(".vd-preview").get_attribute("data-frames") or 0)


def wait_frames_above(page, n: int) -> None:
    page.wait_for_function(
        f"() => Number(document.querySelector('.vd-preview').dataset.frames) > {n}", timeout=60_000
    )


def to_page(page, x: float, y: float) -> tuple[float, float]:
    """Sketch pixels → page coordinates at the current view."""
    return tuple(
        page.evaluate(
            """([x, y]) => { const s = document.querySelector('.vd-pad').__vdSurface;
            const r = s.live.getBoundingClientRect(), v = s.view;
            return [r.left + (x * v.zoom + v.panX) * r.width / s.sketch.width,
                    r.top + (y * v.zoom + v.panY) * r.height / s.sketch.height]; }""",
            [x, y],
        )
    )


def drag(page, points: list[tuple[float, float]], button: str = "left") -> None:
    page.mouse.move(*to_page(page, *points[0]))
    page.mouse.down(button=button)
    for x, y in points[1:]:
        page.mouse.move(*to_page(page, x, y), steps=4)
    page.mouse.up(button=button)


def sketch_strokes(lab) -> list:
    return kernel(lab, "pad.sketch['strokes']")


def wait_strokes(page, n: int) -> None:
    page.wait_for_function(
        f"() => document.querySelector('.vd-pad').__vdSurface.sketch.strokes.length === {n}"
    )


def test_edited_code_runs_on_ctrl_enter_and_errors_point_at_the_line(lab, page):
    editor = page.locator(".vd-code textarea")
    before = frames(page)
    editor.click()
    editor.fill(RED_BOX)
    page.keyboard.press("Control+Enter")
    wait_frames_above(page, before)
    assert kernel(lab, "[pad.code, pad.result_kind]") == [RED_BOX, "code"]
    # Highlighted, and the same text as the textarea.
    assert page.locator(".vd-editor-hl .vd-hl-t").first.text_content() == "THREE"
    # An error marks its line (3: `null.boom`) and keeps the text.
    editor.fill(BROKEN)
    page.keyboard.press("Control+Enter")
    page.locator(".vd-editor-error").wait_for(timeout=60_000)
    assert page.locator(".vd-editor-error").text_content() == "null.boom;"
    assert "null" in kernel(lab, "pad.error")
    # Escape leaves the editor for the pad (a second Escape would leave for the notebook).
    editor.focus()
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.classList.contains('vd-canvas-live')")


def test_code_set_from_python_shows_in_the_editor_and_the_preview(lab, page):
    before = frames(page)
    execute(lab, lab.kernel_id(NOTEBOOK), f"pad.code = {RED_BOX!r}")
    wait_frames_above(page, before)
    assert page.locator(".vd-code textarea").input_value() == RED_BOX
    assert page.locator(".vd-editor-error").count() == 0


def test_select_move_scale_delete_are_undoable_and_reach_pad_sketch(lab, page):
    page.locator(".vd-pad button", has_text="Clear").click()
    wait_strokes(page, 0)
    page.locator(".vd-pad button[data-tool='pen']").click()
    drag(page, [(100, 100), (200, 100), (200, 180)])
    drag(page, [(500, 300), (600, 320)])
    wait_strokes(page, 2)
    first = surface(page, "s.sketch.strokes[0].points[0]")
    page.locator(".vd-pad button[data-tool='select']").click()
    # Click the first stroke and drag it by (+50, +20) sketch pixels.
    drag(page, [(150, 100), (175, 110), (200, 120)])
    page.wait_for_function(f"() => {SURFACE}.sketch.strokes[0].points[0][0] > {first[0] + 40}")
    moved = sketch_strokes(lab)
    assert abs(moved[0]["points"][0][0] - (first[0] + 50)) < 2
    assert abs(moved[0]["points"][0][1] - (first[1] + 20)) < 2
    assert moved[1]["points"][0][:2] == [500, 300]  # the other stroke stayed
    # Scale with the bottom-right handle: twice as wide about the top-left corner.
    b = surface(page, "s.selectionBox()")
    x0, x1, y1 = b["x0"], b["x1"], b["y1"]
    drag(page, [(x1, y1), (x1 + (x1 - x0) / 2, y1), (x0 + 2 * (x1 - x0), y1)])
    page.wait_for_function(
        "() => { const p = document.querySelector('.vd-pad').__vdSurface.sketch.strokes[0].points;"
        f" return Math.max(...p.map(q => q[0])) > {x1 + 60}; }}"
    )
    # Delete removes it; Ctrl+Z brings it back, Ctrl+Z again undoes the scale.
    page.keyboard.press("Delete")
    wait_strokes(page, 1)
    assert len(sketch_strokes(lab)) == 1
    page.keyboard.press("Control+z")
    wait_strokes(page, 2)
    # A box around the second stroke selects it alone; a Shift+lasso around both, both.
    drag(page, [(480, 280), (560, 320), (620, 340)])
    assert surface(page, "[...s.selection.strokes]") == [1]
    page.keyboard.down("Shift")
    drag(page, [(20, 20), (780, 20), (780, 480), (20, 480), (20, 30)])
    page.keyboard.up("Shift")
    assert sorted(surface(page, "[...s.selection.strokes]")) == [0, 1]


def test_plain_wheel_scrolls_the_notebook_and_ctrl_wheel_zooms_the_pad(lab, page):
    page.locator(".vd-pad button[data-tool='pen']").click()
    # Whatever element scrolls the notebook, the canvas moves on the page when it does.
    canvas_top = "document.querySelector('.vd-canvas-live').getBoundingClientRect().top"
    page.locator(".vd-canvas-live").scroll_into_view_if_needed()
    page.mouse.move(*to_page(page, 400, 250))
    top = page.evaluate(f"() => {canvas_top}")
    page.mouse.wheel(0, 120)
    page.wait_for_function(f"() => {canvas_top} !== {top}")
    assert surface(page, "s.view.zoom") == 1
    page.locator(".vd-canvas-live").scroll_into_view_if_needed()
    page.mouse.move(*to_page(page, 400, 250))
    top = page.evaluate(f"() => {canvas_top}")
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)
    page.keyboard.up("Control")
    page.wait_for_function(f"() => {SURFACE}.view.zoom > 1.5")
    assert page.evaluate(f"() => {canvas_top}") == top, "Ctrl+wheel scrolled the notebook"
    # Drawing while zoomed lands where it is drawn, in unchanged sketch pixels.
    n = surface(page, "s.sketch.strokes.length")
    drag(page, [(380, 240), (420, 260)])
    wait_strokes(page, n + 1)
    last = sketch_strokes(lab)[-1]["points"]
    assert abs(last[0][0] - 380) < 2 and abs(last[-1][1] - 260) < 2
    assert kernel(lab, "[pad.sketch['width'], pad.sketch['height']]") == [800, 500]
    # Space-drag and middle-drag pan; Fit frames the drawing.
    pan = surface(page, "[s.view.panX, s.view.panY]")
    canvas = page.locator(".vd-canvas-live")
    canvas.focus()
    page.keyboard.down(" ")
    x, y = to_page(page, 400, 250)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 30, steps=3)
    page.mouse.up()
    page.keyboard.up(" ")
    after = surface(page, "[s.view.panX, s.view.panY]")
    assert after[0] > pan[0] and after[1] > pan[1]
    assert surface(page, "s.sketch.strokes.length") == n + 1, "space-drag drew a stroke"
    x, y = to_page(page, 400, 250)
    page.mouse.move(x, y)
    page.mouse.down(button="middle")
    page.mouse.move(x - 40, y, steps=3)
    page.mouse.up(button="middle")
    assert surface(page, "s.view.panX") < after[0]
    page.locator(".vd-pad button", has_text="Fit").click()
    assert surface(page, "(() => { const b = s.view; return b.zoom; })()") >= 1


def test_pen_touch_and_mouse_pointer_events_draw_with_pressure_and_pinch_zooms(lab, page):
    page.locator(".vd-pad button[data-tool='pen']").click()
    n = surface(page, "s.sketch.strokes.length")
    dispatch = """([type, pts, pressure, id]) => {
        const s = document.querySelector('.vd-pad').__vdSurface, r = s.live.getBoundingClientRect();
        const at = ([x, y]) => ({clientX: r.left + x * r.width / s.sketch.width / s.view.zoom,
                                 clientY: r.top + y * r.height / s.sketch.height / s.view.zoom});
        s.setView({zoom: 1, panX: 0, panY: 0});
        const ev = (name, p) => s.live.dispatchEvent(new PointerEvent(name, {bubbles: true,
            pointerId: id, pointerType: type, isPrimary: true, button: 0, buttons: 1,
            pressure, ...at(p)}));
        ev('pointerdown', pts[0]); for (const p of pts.slice(1)) ev('pointermove', p);
        ev('pointerup', pts[pts.length - 1]); }"""
    page.evaluate(dispatch, ["pen", [[50, 400], [90, 410], [130, 420]], 0.8, 11])
    page.evaluate(dispatch, ["touch", [[200, 400], [240, 410]], 0.5, 12])
    page.evaluate(dispatch, ["mouse", [[300, 400], [340, 410]], 0.5, 1])
    wait_strokes(page, n + 3)
    strokes = sketch_strokes(lab)[-3:]
    assert {p[2] for p in strokes[0]["points"]} == {0.8}, "the pen's pressure was not kept"
    assert len(strokes[1]["points"]) == 2 and strokes[2]["points"][0][:2] == [300, 400]
    # Two touches moving apart: a pinch zooms and draws nothing.
    page.evaluate(
        """() => { const s = document.querySelector('.vd-pad').__vdSurface;
        const r = s.live.getBoundingClientRect();
        const ev = (name, id, x) => s.live.dispatchEvent(new PointerEvent(name, {bubbles: true,
            pointerId: id, pointerType: 'touch', clientX: r.left + x, clientY: r.top + 100,
            pressure: 0.5}));
        ev('pointerdown', 21, 200); ev('pointerdown', 22, 240);
        ev('pointermove', 21, 150); ev('pointermove', 22, 290);
        ev('pointerup', 21, 150); ev('pointerup', 22, 290); }"""
    )
    assert surface(page, "s.view.zoom") > 1.5
    assert surface(page, "s.sketch.strokes.length") == n + 3


def test_the_pad_is_as_wide_as_its_sketch_and_resizes_by_its_handle(lab, page):
    box = page.locator(".vd-surface-box")
    assert box.evaluate("e => e.style.maxWidth") == "800px"
    width = box.bounding_box()["width"]
    handle = page.locator(".vd-resize").bounding_box()
    page.mouse.move(handle["x"] + 7, handle["y"] + 7)
    page.mouse.down()
    page.mouse.move(handle["x"] - 150, handle["y"] + 7, steps=5)
    page.mouse.up()
    assert box.bounding_box()["width"] < width - 100
    # The canvas follows (ResizeObserver) and the sketch keeps its pixels.
    page.wait_for_function(
        "() => document.querySelector('.vd-canvas-live').getBoundingClientRect().width"
        f" < {width - 100}"
    )
    assert kernel(lab, "[pad.sketch['width'], pad.sketch['height']]") == [800, 500]
