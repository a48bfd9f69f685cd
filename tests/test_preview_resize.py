"""A preview made while it has no layout (hidden, or zero-sized) grows and draws once shown.

The runtime sizes its canvas from the frame's real box whenever that changes (a
ResizeObserver, the window's resize, visibility); sizing it once at start left a 1×1
canvas for good in marimo and in about one JupyterLab run in three. Real Chromium.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.browser_support import CHROMIUM, background_pixels_differ, launch_chromium, poll
from tests.test_sandbox import PAD, STATIC, pad_state, serve

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
    pytest.mark.skipif(not (STATIC / "sketchpad.js").exists(), reason="needs the built bundle"),
    pytest.mark.timeout(300),
]
playwright = pytest.importorskip("playwright.sync_api")

BALL = (
    "return new THREE.Mesh(new THREE.SphereGeometry(1, 32, 16),"
    " new THREE.MeshStandardMaterial({ color: 'red' }));"
)


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """A loop of its own (see tests/test_sandbox.py)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


def runtime_canvas(page) -> list[int] | None:
    """The runtime frame's canvas size in device pixels, once there is a runtime."""
    for frame in page.frames:
        try:
            if frame.evaluate("Boolean(window.vibedraw)"):
                return frame.evaluate(
                    "(c => [c.width, c.height])(document.querySelector('canvas'))"
                )
        except playwright.Error:
            continue
    return None


@pytest.mark.parametrize("hidden", ["display:none", "height:0;overflow:hidden"])
def test_the_pads_preview_grows_and_draws_once_shown(hidden, browser, tmp_path):
    for name in ("sketchpad.js", "sketchpad.css"):
        (tmp_path / name).write_bytes((STATIC / name).read_bytes())
    page_html = PAD.replace("STATE", json.dumps(pad_state())).replace(
        '<div id="host" style="width:1000px"></div>',
        f'<div id="outer" style="{hidden}"><div id="host" style="width:1000px"></div></div>',
    )
    (tmp_path / "pad.html").write_text(page_html)
    server = serve(tmp_path)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/pad.html")
        page.wait_for_function("() => document.querySelector('.vd-preview-frame')")
        page.evaluate("code => window.showCode(code)", BALL)
        assert poll(lambda: runtime_canvas(page), timeout=60), "no runtime frame"
        page.wait_for_timeout(500)  # the frame runs the code while it has no layout
        page.evaluate("document.getElementById('outer').removeAttribute('style')")
        size = poll(lambda: (s := runtime_canvas(page)) and s[0] > 100 and s, timeout=30)
        assert size and size[0] > 100 and size[1] > 100, f"the canvas stayed {runtime_canvas(page)}"
        page.wait_for_function(
            "() => Number(document.querySelector('.vd-preview').dataset.frames) > 0",
            timeout=30_000,
        )
        page.wait_for_timeout(300)
        drawn = background_pixels_differ(page.locator(".vd-preview").screenshot())
        assert drawn > 500, "the preview drew nothing"
    finally:
        page.close()
        server.shutdown()


def test_a_result_shown_after_being_hidden_grows_and_draws(browser, tmp_path):
    from vibedraw_widget.result import Result

    fragment = Result(kind="code", status="completed", source="ball", code=BALL)._repr_html_()
    (tmp_path / "result.html").write_text(
        f'<!doctype html><html><body><div id="outer" style="display:none">{fragment}</div>'
        "</body></html>"
    )
    server = serve(tmp_path)
    page = browser.new_page(viewport={"width": 900, "height": 700})
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/result.html")
        assert poll(lambda: runtime_canvas(page), timeout=60), "no runtime frame"
        page.wait_for_timeout(500)
        page.evaluate("document.getElementById('outer').removeAttribute('style')")
        size = poll(lambda: (s := runtime_canvas(page)) and s[0] > 100 and s, timeout=30)
        assert size and size[1] > 100, f"the canvas stayed {runtime_canvas(page)}"
        page.wait_for_timeout(500)
        drawn = background_pixels_differ(page.locator("iframe").first.screenshot())
        assert drawn > 500, "the view drew nothing"
    finally:
        page.close()
        server.shutdown()


def test_the_pads_preview_moved_in_the_page_shows_its_result_again(browser, tmp_path):
    """JupyterLab's windowing detaches and re-attaches outputs, which reloads their frames:
    that is not a navigation, and what was shown comes back without an error."""
    for name in ("sketchpad.js", "sketchpad.css"):
        (tmp_path / name).write_bytes((STATIC / name).read_bytes())
    (tmp_path / "pad.html").write_text(PAD.replace("STATE", json.dumps(pad_state())))
    server = serve(tmp_path)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    frames = "() => Number(document.querySelector('.vd-preview').dataset.frames)"
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/pad.html")
        page.wait_for_function("() => document.querySelector('.vd-preview-frame')")
        page.evaluate("code => window.showCode(code)", BALL)
        page.wait_for_function(f"({frames})() > 0", timeout=60_000)
        page.evaluate(
            "() => { const host = document.getElementById('host'); host.remove();"
            " document.body.appendChild(host); }"
        )
        page.wait_for_function(f"({frames})() > 1", timeout=60_000)
        assert page.evaluate("window.model.get('error')") == ""
        page.wait_for_timeout(300)
        assert background_pixels_differ(page.locator(".vd-preview").screenshot()) > 500
    finally:
        page.close()
        server.shutdown()
