"""The pad and the World in a real browser, as a newcomer meets them: keys pressed while
they have focus never reach the notebook (JupyterLab and Notebook 7) and Escape hands
focus back; what the pad shows belongs to the current drawing; both are readable in the
light and dark themes (screenshots in test-artifacts/)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.browser_support import (
    CHROMIUM,
    background_pixels_differ,
    execute,
    launch_chromium,
    open_notebook,
    run_lab,
    write_notebook,
)
from tests.test_browser import CIRCLE, draw, wait_for_frames

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
STATIC = Path(__file__).parent.parent / "vibedraw_widget" / "static" / "sketchpad.js"
SKETCHES = Path(__file__).parent.parent / "notebooks" / "sketches"

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
    pytest.mark.skipif(not STATIC.exists(), reason="needs the built bundle (npm run build)"),
    pytest.mark.timeout(600),
]
playwright = pytest.importorskip("playwright.sync_api")

PAD_CELL = "from vibedraw_widget.widget import SketchPad\npad = SketchPad()\npad"
BOX = (
    "return new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1),"
    " new THREE.MeshStandardMaterial({ color: 'orange' }));"
)
WORLD_CELL = (
    "from vibedraw_widget.world import World\n"
    f"world = World(height=260, objects=[{{'id': 'box', 'label': 'box', 'kind': 'code',"
    f" 'code': {BOX!r}}}])\nworld"
)
# Command-mode keys that change the notebook when they reach it (issue 12).
COMMAND_KEYS = ["m", "a", "b", "d", "d", "x", "c", "v", "y", "Shift+M"]
UIS = ["lab", "notebook7"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("pad")
    for ui in UIS:
        write_notebook(root / f"keys_{ui}.ipynb", [PAD_CELL, WORLD_CELL])
    write_notebook(root / "current.ipynb", [PAD_CELL])
    write_notebook(root / "themes.ipynb", [PAD_CELL, WORLD_CELL])
    ARTIFACTS.mkdir(exist_ok=True)
    # The app object lets the theme test switch themes as the Settings menu does.
    with run_lab(
        root, ARTIFACTS / "jupyterlab-pad.log", extra_args=("--LabApp.expose_app_in_browser=True",)
    ) as server:
        yield server


@pytest.fixture
def page(lab, request):
    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        yield page
        name = request.node.name.replace("[", "-").replace("]", "")
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console))
        browser.close()


def open_in(page, lab, name: str, ui: str) -> None:
    """Open a notebook in JupyterLab or in Notebook 7 (same server, other front end)."""
    if ui == "lab":
        open_notebook(page, lab, name)
        return
    page.goto(f"{lab.url}notebooks/{name}?token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.locator(".jp-KernelName", has_text="Python 3").wait_for(timeout=90_000)


def run_in_place(page, index: int, shows: str) -> None:
    """Run a cell with Ctrl+Enter (Shift+Enter on the last cell would add a cell below)
    until it shows `shows`: Notebook 7 has no status text that says the kernel connection
    is up, and a run sent before it is lost."""
    for attempt in range(3):
        page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
        try:
            page.locator(".jp-Notebook .jp-Cell").nth(index).locator(shows).wait_for(timeout=45_000)
            return
        except playwright.TimeoutError:
            if attempt == 2:
                raise


def kernel_json(lab, notebook: str, expression: str):
    return json.loads(
        execute(lab, lab.kernel_id(notebook), f"import json; print(json.dumps({expression}))")
    )


def cell_types(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map((c) =>
             c.classList.contains('jp-MarkdownCell') ? 'markdown'
             : c.classList.contains('jp-RawCell') ? 'raw' : 'code')"""
    )


def active_cell_holds(page, selector: str) -> bool:
    """Whether focus is on a notebook cell in command mode, the cell holding `selector`."""
    return page.evaluate(
        """(selector) => {
             const cell = document.activeElement?.closest?.('.jp-Cell');
             const notebook = cell?.closest('.jp-Notebook');
             return Boolean(cell && cell.querySelector(selector)
               && notebook.classList.contains('jp-mod-commandMode'));
           }""",
        selector,
    )


def press_all(page, keys) -> None:
    for key in keys:
        page.keyboard.press(key)


@pytest.mark.parametrize("ui", UIS)
def test_keys_stay_in_the_pad_and_the_world_and_escape_returns_to_the_notebook(lab, page, ui):
    name = f"keys_{ui}.ipynb"
    open_in(page, lab, name, ui)
    run_in_place(page, 0, ".vd-pad")
    run_in_place(page, 1, ".vd-world iframe")
    before = cell_types(page)
    assert before == ["code", "code"]

    # Drawing leaves focus on the canvas: command-mode keys must do nothing to the notebook.
    canvas = page.locator(".vd-canvas-live")
    canvas.scroll_into_view_if_needed()  # running the World cell scrolled the pad away
    draw(page, canvas, CIRCLE)
    assert page.evaluate("document.activeElement.classList.contains('vd-canvas-live')")
    press_all(page, COMMAND_KEYS)
    # … nor with focus on one of the pad's buttons.
    page.get_by_role("button", name="Pen", exact=True).click()
    press_all(page, COMMAND_KEYS)
    # Typing in the pad's own prompt still types.
    prompt = page.get_by_label("Prompt")
    prompt.click()
    page.keyboard.type("a box")
    assert prompt.input_value() == "a box"
    # … and in a text label; Enter adds it and gives the keys back to the canvas.
    page.get_by_role("button", name="Text", exact=True).click()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + 40, box["y"] + 30)
    page.locator(".vd-text-input").wait_for()
    # The field takes focus on the next task (the press must not take it back): type then.
    page.wait_for_function("document.activeElement?.classList.contains('vd-text-input')")
    page.keyboard.type("dab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.classList.contains('vd-canvas-live')")
    press_all(page, COMMAND_KEYS)

    # The World: its toolbar, and walking with WASD inside the scene.
    page.get_by_role("button", name="Orbit", exact=True).click()
    press_all(page, COMMAND_KEYS)
    page.get_by_role("button", name="Walk", exact=True).click()
    assert page.evaluate("document.activeElement.tagName") == "IFRAME"  # keys go to the scene
    press_all(page, ["w", "a", "s", "d", "d", "m", "Shift+M"])

    # Escape in the scene hands focus back to the World's cell, in command mode: `b` now
    # reaches the notebook and inserts a cell below that cell.
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement?.tagName !== 'IFRAME'", timeout=10_000)
    assert active_cell_holds(page, ".vd-world")
    page.keyboard.press("b")
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === 3")
    # Escape on the pad does the same for the pad's cell: from the canvas …
    canvas.focus()
    page.keyboard.press("Escape")
    assert active_cell_holds(page, ".vd-pad")
    page.keyboard.press("b")
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === 4")
    # … and from inside the sandboxed preview, whose keys stay in the frame.
    page.locator(".vd-preview-frame").click()
    assert page.evaluate("document.activeElement.tagName") == "IFRAME"
    press_all(page, COMMAND_KEYS)
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement?.tagName !== 'IFRAME'", timeout=10_000)
    assert active_cell_holds(page, ".vd-pad")

    # Only the two cells Escape + b added: no key before them reached the notebook.
    cells = page.locator(".jp-Notebook .jp-Cell")
    assert cell_types(page) == ["code"] * 4
    assert cells.nth(0).locator(".vd-pad").count() == 1
    assert cells.nth(2).locator(".vd-world").count() == 1
    state = kernel_json(
        lab,
        name,
        "{'strokes': len(pad.sketch['strokes']), 'prompt': pad.prompt, 'view': world.view,"
        " 'labels': [t['text'] for t in pad.sketch['texts']]}",
    )
    assert state == {"strokes": 1, "labels": ["dab"], "prompt": "a box", "view": "walk"}


def button_state(page, name: str) -> tuple[bool, str]:
    b = page.get_by_role("button", name=name, exact=True)
    return b.is_disabled(), b.get_attribute("title") or ""


def frames_shown(page) -> int:
    return int(page.locator(".vd-preview").get_attribute("data-frames"))


def run_action(page, action: str) -> None:
    """Click an action and wait for its result on screen: a local task can complete
    within one animation frame, too fast to see it running, so wait for the new frame."""
    frames = frames_shown(page)
    page.get_by_role("button", name=action, exact=True).click()
    wait_for_frames(page, frames)
    page.wait_for_selector(".vd-pad[data-status='completed']", timeout=180_000)


def test_the_pad_shows_only_what_belongs_to_the_current_drawing(lab, page):
    name = "current.ipynb"
    open_in(page, lab, name, "lab")
    run_in_place(page, 0, ".vd-pad")
    page.wait_for_selector(".vd-connection[data-state='connected']", timeout=60_000)
    canvas = page.locator(".vd-canvas-live")
    code_note = page.locator(".vd-code-note")

    # An empty pad: the actions that need strokes are disabled and say why on hover.
    for action in ("Make 3D", "Make mesh", "Improve"):
        disabled, title = button_state(page, action)
        assert disabled and "Draw something first" in title, action
    disabled, title = button_state(page, "Edit")
    assert disabled and "Make 3D first" in title

    # A failure from Python on the empty sketch is shown … and cleared by the next stroke.
    execute(
        lab,
        lab.kernel_id(name),
        "try:\n    pad.generate('code').result(60)\nexcept Exception as e:\n    print(e)",
    )
    page.wait_for_selector(".vd-pad[data-status='failed']", timeout=30_000)
    assert "no strokes" in page.locator(".vd-error").text_content()
    draw(page, canvas, CIRCLE)
    page.wait_for_selector(".vd-pad[data-status='idle']", timeout=30_000)
    assert page.locator(".vd-error").is_hidden()
    assert page.locator(".vd-status-text").text_content() == "ready"

    # Make 3D: code and preview belong to this drawing; Edit may act on them.
    run_action(page, "Make 3D")
    assert button_state(page, "Edit")[0] is False
    assert code_note.is_hidden()

    # Load… a PNG: a new drawing. The code on screen is now stale, and Edit says why.
    page.locator(".vd-pad input[type=file]").set_input_files(SKETCHES / "blob_05.png")
    page.wait_for_function(
        "() => !document.querySelector('.vd-code-note').hidden",
        timeout=60_000,
    )
    assert "drawing changed" in code_note.text_content()
    disabled, title = button_state(page, "Edit")
    assert disabled and "drawing changed" in title

    # Make mesh: the mesh is on screen; the code left over is the old drawing's, so the pane
    # says so and Edit (which changes code) is disabled instead of editing the old scene.
    page.get_by_label("Prompt").fill("make it red")
    run_action(page, "Make mesh")
    disabled, title = button_state(page, "Edit")
    assert disabled and "mesh" in title
    assert "mesh" in code_note.text_content()
    assert page.locator(".vd-code").evaluate("e => e.classList.contains('vd-stale')")
    refused = execute(
        lab,
        lab.kernel_id(name),
        "try:\n    pad.generate('edit', 'make it red')\nexcept ValueError as e:\n    print(e)",
    )
    assert "mesh" in refused
    state = kernel_json(lab, name, "{'kind': pad.result_kind, 'type': pad.task_type}")
    assert state == {"kind": "model", "type": "model"}, "the mesh stays on screen"

    # Downloads are named after the prompt, not a task id.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download .glb", exact=True).click()
    assert download.value.suggested_filename == "make-it-red.glb"

    # Make 3D on the new drawing, then Edit: the edit acts on the code on screen.
    run_action(page, "Make 3D")
    assert button_state(page, "Edit")[0] is False and code_note.is_hidden()
    made = kernel_json(lab, name, "pad.code")
    page.get_by_label("Prompt").fill("make it bigger")
    run_action(page, "Edit")
    state = kernel_json(lab, name, "{'kind': pad.result_kind, 'type': pad.task_type}")
    assert state == {"kind": "code", "type": "edit"}
    assert kernel_json(lab, name, "pad.code") != made
    assert code_note.is_hidden()


# -- themes: screenshots and contrast ------------------------------------------------------

CONTRAST = """(selector) => {
  // WCAG 2 contrast of each visible element's text colour against the colour behind it.
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const behind = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selector)]
    .filter((e) => e.offsetParent !== null && !e.disabled && e.textContent.trim())
    .map((e) => {
      const back = behind(e);
      const [r, g, b, a = 1] = rgb(getComputedStyle(e).color); // translucent text: blend
      const fg = lum([r, g, b].map((v, i) => v * a + back[i] * (1 - a)));
      const bg = lum(back);
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      return [e.textContent.trim().slice(0, 20), Math.round(ratio * 100) / 100];
    });
}"""
TEXTS = {
    "pad": ".vd-pad .vd-btn, .vd-pad .vd-label, .vd-pad .vd-status-text, .vd-pad summary",
    "world": ".vd-world-bar button, .vd-world-bar .hint",
}


def set_theme(page, theme: str) -> None:
    page.evaluate(
        "(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme
    )
    light = "true" if theme == "JupyterLab Light" else "false"
    page.wait_for_selector(f"body[data-jp-theme-light='{light}']", state="attached", timeout=30_000)
    page.wait_for_function(
        "() => !document.body.classList.contains('jp-mod-themeLoading')"
        " && getComputedStyle(document.body).getPropertyValue('--jp-layout-color1').trim() !== ''",
        timeout=30_000,
    )


def test_pad_and_world_are_readable_in_the_light_and_dark_themes(lab, page):
    open_in(page, lab, "themes.ipynb", "lab")
    run_in_place(page, 0, ".vd-pad")
    run_in_place(page, 1, ".vd-world iframe")
    page.locator(".vd-canvas-live").scroll_into_view_if_needed()
    draw(page, page.locator(".vd-canvas-live"), CIRCLE)
    # Labels are drawn in the chosen colour at a readable size.
    page.get_by_role("button", name="Text", exact=True).click()
    page.get_by_role("button", name="Colour red", exact=True).click()
    box = page.locator(".vd-canvas-live").bounding_box()
    page.mouse.click(box["x"] + 260, box["y"] + 40)
    page.locator(".vd-text-input").fill("roof")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.vd-pad [title^=\"Undo\"]').disabled === false"
    )
    surface = page.locator(".vd-surface-box").screenshot(path=str(ARTIFACTS / "label.png"))
    image = Image.open(io.BytesIO(surface)).convert("RGB")
    pixels = image.load()
    red = [
        y
        for x in range(image.width)
        for y in range(image.height)
        if pixels[x, y][0] > 150 and pixels[x, y][1] < 110
    ]
    assert red, "the label is drawn in the colour picked (red)"
    # "roof" at 24 sketch px is ~18 px on screen, its ink ~11 px high (it was 7, in grey).
    assert max(red) - min(red) >= 10, f"the label is {max(red) - min(red)} px high on screen"

    # JupyterLab's news-consent toast would cover part of the screenshots.
    page.add_style_tag(content=".Toastify { display: none !important; }")
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        set_theme(page, theme)
        slug = "dark" if "Dark" in theme else "light"
        for widget, selector in TEXTS.items():
            node = page.locator(".vd-pad" if widget == "pad" else ".vd-world")
            node.scroll_into_view_if_needed()
            shot = node.screenshot(path=str(ARTIFACTS / f"theme-{slug}-{widget}.png"))
            ratios = page.evaluate(CONTRAST, selector)
            assert len(ratios) >= 4, (widget, ratios)
            low = [(text, ratio) for text, ratio in ratios if ratio < 4.5]
            assert not low, f"{theme} {widget}: text below 4.5:1 contrast: {low}"
            toolbar = ".vd-toolbar" if widget == "pad" else ".vd-world-bar"
            crop = page.locator(toolbar).first.screenshot()
            assert background_pixels_differ(crop) > 200, f"{theme} {widget}: the toolbar is blank"
            assert background_pixels_differ(shot) > 2000
        # The World's scene follows the theme too (its corner is the scene's background).
        page.wait_for_selector(f".vd-world-view[data-theme='{slug}']", timeout=30_000)
        scene = Image.open(io.BytesIO(page.locator(".vd-world-view").screenshot()))
        corner = scene.convert("RGB").getpixel((6, 6))
        assert (min(corner) > 200) if slug == "light" else (max(corner) < 60), (theme, corner)


LAYOUT = """(width) => {
  // The pad at `width` px: where each action button sits, and the prompt's room.
  const pad = document.querySelector('.vd-pad');
  pad.style.width = `${width}px`;
  const tops = [...pad.querySelectorAll('.vd-actions .vd-btn')].map(
    (b) => [b.textContent, Math.round(b.getBoundingClientRect().top)]);
  const input = pad.querySelector('.vd-prompt');
  const style = getComputedStyle(input);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontSize} ${style.fontFamily}`;
  const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  return {tops, need: ctx.measureText(input.placeholder).width, room: input.clientWidth - padding};
}"""


def test_the_actions_wrap_without_a_lone_button_or_a_cut_placeholder(lab, page):
    # A 1400 px window (the fixture's) and the pad at the widths a notebook gives it there:
    # full width with the side panel closed, and narrower with it open.
    open_in(page, lab, "current.ipynb", "lab")
    run_in_place(page, 0, ".vd-pad")
    for width in (1300, 1200, 1100, 968, 800, 600):
        layout = page.evaluate(LAYOUT, width)
        tops = layout["tops"]
        for top in {t for _, t in tops}:
            on_line = [text for text, t in tops if t == top]
            assert len(on_line) > 1, f"{width} px: {on_line} alone on a line: {tops}"
        assert layout["need"] <= layout["room"], f"{width} px: the placeholder is cut {layout}"
