"""SketchPad figures: bundle size, the preview's time to first frame, and frame times while
drawing on a 10,000-point sketch (target: 60 fps held), in Debian's headless Chromium.

The widget runs in a plain page with a stand-in anywidget model (no kernel, no server:
the pad falls back to "kernel" mode and nothing is sent anywhere), so the numbers are the
front end's own.

    python benchmarks/bench_widget.py
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import math
import statistics
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser_support import launch_chromium  # noqa: E402

STATIC = REPO / "vibedraw_widget" / "static"

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="sketchpad.css"></head><body><div id="host" style="width:1300px"></div>
<script type="module">
import widget from "./sketchpad.js";
const state = %(state)s;
const handlers = {};
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
  on: (e, f) => (handlers[e] ||= []).push(f),
  off: (e, f) => { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
  save_changes() {},
  send() {},
};
window.model = model;
widget.initialize({ model });
window.t0 = performance.now();
widget.render({ model, el: document.getElementById("host") });
</script></body></html>"""

CODE = """const group = new THREE.Group();
const body = new THREE.Mesh(new THREE.SphereGeometry(1, 48, 32),
  new THREE.MeshStandardMaterial({ color: 0xe03131, roughness: 0.5 }));
group.add(body);
const stem = new THREE.Mesh(new THREE.CylinderGeometry(0.06, 0.08, 0.5, 16),
  new THREE.MeshStandardMaterial({ color: 0x8d6e63 }));
stem.position.y = 1.1;
group.add(stem);
return group;"""


def big_sketch(points: int = 10_000, strokes: int = 50) -> dict:
    """``strokes`` wavy strokes with ``points`` points in all, spread over 640×480."""
    per = points // strokes
    out = []
    for s in range(strokes):
        y0 = 20 + s * 440 / strokes
        out.append(
            {
                "points": [
                    [10 + i * 620 / per, y0 + 8 * math.sin(i / 6 + s), 0.5 + 0.3 * math.sin(i / 9)]
                    for i in range(per)
                ],
                "color": "#1e1e1e",
                "width": 3,
            }
        )
    return {
        "version": 1,
        "width": 640,
        "height": 480,
        "background": "#ffffff",
        "strokes": out,
        "texts": [],
    }


def state(sketch: dict) -> dict:
    return {
        "sketch": sketch,
        "prompt": "",
        "provider": "",
        "model_provider": "",
        "transport": "kernel",
        "status": "idle",
        "progress": 0,
        "message": "",
        "code": "",
        "error": "",
        "task_id": "",
        "task_type": "",
        "task_transport": "",
        "last_event_id": 0,
        "result_kind": "",
        "result_version": 0,
        "glb_url": "",
        "connection": "connecting",
        "providers": [],
        "can_undo": False,
        "can_redo": False,
    }


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``directory`` on a free port (a module page needs http, not file://)."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_drawing(page, sketch: dict, label: str) -> None:
    """Draw one more stroke of 400 pointer moves; print page frame intervals and the pad's
    work per drawing frame."""
    canvas = page.locator(".vd-canvas-live")
    box = canvas.bounding_box()
    page.evaluate(
        "() => { const s = document.querySelector('.vd-pad').__vdSurface;"
        " s.frameTimes.length = 0; s.workTimes.length = 0; s._lastFrameAt = 0;"
        # an independent probe: every frame the page gets, drawing or not
        " window.probe = []; window.stopProbe = false; let last = 0; const tick = (t) => {"
        " if (last) window.probe.push(t - last); last = t;"
        " if (!window.stopProbe) requestAnimationFrame(tick); };"
        " requestAnimationFrame(tick); }"
    )
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    moves = 400
    for i in range(moves):
        t = i / moves
        page.mouse.move(
            box["x"] + 20 + t * (box["width"] - 40),
            box["y"] + box["height"] / 2 + 80 * math.sin(t * 12),
        )
    intervals, work = page.evaluate(
        "() => { window.stopProbe = true;"
        " const s = document.querySelector('.vd-pad').__vdSurface;"
        " return [window.probe.slice(), s.workTimes.slice()]; }"
    )
    page.mouse.up()
    points = sum(len(s["points"]) for s in sketch["strokes"])
    fps = 1000 / statistics.mean(intervals)
    held = sum(1 for v in intervals if v <= 1000 / 60 * 1.5) / len(intervals)
    print(
        f"drawing ({label}) on a {points}-point sketch ({len(sketch['strokes'])} strokes), "
        f"one more stroke of {moves} pointer moves: {len(intervals)} page frames, "
        f"mean {fps:.1f} fps, median interval {statistics.median(intervals):.1f} ms, "
        f"p95 {percentile(intervals, 0.95):.1f} ms, max {max(intervals):.1f} ms, "
        f"{held:.0%} of frames within 25 ms; the pad's work per drawing frame: "
        f"median {statistics.median(work):.2f} ms, "
        f"p95 {percentile(work, 0.95):.2f} ms, "
        f"max {max(work):.2f} ms (budget 16.7 ms)"
    )


def main() -> None:
    bundle = STATIC / "sketchpad.js"
    if not bundle.exists():
        sys.exit("build the bundle first: npm --prefix js run build")
    raw = bundle.read_bytes()
    scripts = {p.name: p.stat().st_size for p in sorted(STATIC.glob("*.js"))}
    print(
        f"bundle: sketchpad.js {len(raw) / 1024:.1f} KiB minified "
        f"({len(gzip.compress(raw)) / 1024:.1f} KiB gzip; three.js once, in the preview "
        f"contract); static/*.js together {sum(scripts.values()) / 1e6:.3f} MB "
        f"({', '.join(f'{n} {b / 1024:.1f} KiB' for n, b in scripts.items())}), "
        f"target <= 1.0 MB; sketchpad.css {(STATIC / 'sketchpad.css').stat().st_size / 1024:.1f}"
        " KiB"
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("sketchpad.js", "sketchpad.css"):
            (root / name).write_bytes((STATIC / name).read_bytes())
        sketch = big_sketch()
        (root / "index.html").write_text(PAGE % {"state": json.dumps(state(sketch))})
        server, url = serve(root)
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url + "index.html")
                page.wait_for_function("() => document.querySelector('.vd-pad')")
                # Preview: time to the first frame of a generated result.
                page.wait_for_function("() => document.querySelector('.vd-preview-frame')")
                page.evaluate(
                    """(code) => { window.tRun = performance.now(); model.set('code', code);
                    model.set('result_kind', 'code'); model.set('result_version', 1); }""",
                    CODE,
                )
                page.wait_for_function(
                    "() => Number(document.querySelector('.vd-preview').dataset.frames) > 0",
                    timeout=60_000,
                )
                inside = float(page.locator(".vd-preview").get_attribute("data-first-frame-ms"))
                cold = page.evaluate("() => performance.now() - window.t0")
                # Warm: a second result in the same frame.
                page.evaluate("() => { window.model.set('result_version', 2); }")
                page.wait_for_function(
                    "() => Number(document.querySelector('.vd-preview').dataset.frames) > 1"
                )
                warm = float(page.locator(".vd-preview").get_attribute("data-first-frame-ms"))
                print(
                    f"preview: first frame {inside:.0f} ms after the code arrives (build + fit + "
                    f"render; warm {warm:.0f} ms); {cold:.0f} ms from the pad's render() with a "
                    "cold frame (three.js parsed in the sandbox)"
                )

                # Drawing on the 10,000-point sketch, as it is and zoomed in 2x with a pan.
                measure_drawing(page, sketch, "no zoom")
                page.evaluate(
                    "() => document.querySelector('.vd-pad').__vdSurface"
                    ".setView({zoom: 2, panX: -160, panY: -120})"
                )
                measure_drawing(page, sketch, "zoom 2x, panned")
                browser.close()
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
