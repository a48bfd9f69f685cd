"""World: layout, traits, GLB composition in Python, and the browser side in Chromium."""

from __future__ import annotations

import asyncio
import base64
import functools
import http.server
import io
import json
import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import traitlets
import trimesh

from vibedraw_widget.result import Result
from vibedraw_widget.world import MissingExport, World, transform_matrix

STATIC = Path(__file__).parent.parent / "vibedraw_widget" / "static"
CODE = """
const material = new THREE.MeshStandardMaterial({ color: "red" });
const mesh = new THREE.Mesh(new THREE.BoxGeometry(1, 2, 1), material);
mesh.name = "tower";
return mesh;
"""


def box_glb(size: float = 1.0) -> bytes:
    return trimesh.creation.box(extents=(size, size, size)).export(file_type="glb")


def model_result(label: str, size: float = 1.0) -> Result:
    return Result(kind="model", status="completed", source=label, glb=box_glb(size))


def code_result(label: str) -> Result:
    return Result(kind="code", status="completed", source=label, code=CODE)


def load(glb: bytes) -> trimesh.Scene:
    return trimesh.load(io.BytesIO(glb), file_type="glb", force="scene")


def test_from_results_lays_a_batch_out_on_a_centred_grid():
    results = [model_result(f"m{i}.json") for i in range(5)]
    results.insert(2, Result(kind="model", status="failed", error="x"))
    world = World.from_results(results, spacing=3.0)
    assert [o["label"] for o in world.objects] == [f"m{i}.json" for i in range(5)]
    assert [o["position"] for o in world.objects] == [
        [-3.0, 0.0, -1.5],
        [0.0, 0.0, -1.5],
        [3.0, 0.0, -1.5],
        [-3.0, 0.0, 1.5],
        [0.0, 0.0, 1.5],
    ]
    assert repr(world) == "<World 5 objects (0 code, 5 glb), view=orbit>"


def test_objects_are_validated():
    world = World()
    with pytest.raises(traitlets.TraitError, match=r"objects\[0\]\.position"):
        world.objects = [{"id": "a", "kind": "glb", "label": "a", "position": [0, "x", 0]}]
    with pytest.raises(traitlets.TraitError, match=r"objects\[0\]\.kind"):
        world.objects = [{"id": "a", "kind": "mesh"}]
    with pytest.raises(ValueError, match="glTF"):
        world.add(b"not a glb")
    with pytest.raises(ValueError, match="failed"):
        world.add(Result(kind="code", status="failed"))
    with pytest.raises(KeyError):
        world.move("nope", position=(1, 2, 3))


def test_save_composes_every_mesh_with_its_transform(tmp_path):
    world = World()
    a = world.add(box_glb(1.0), label="a")
    b = world.add(model_result("b", 2.0), position=(10, 0, 0), scale=0.5)
    world.move(a, position=(0, 5, 0), rotation=(0, math.pi / 2, 0))
    scene = load(world.save(tmp_path / "world.glb").read_bytes())
    assert len(scene.geometry) == 2
    bounds = {name.split("/")[0]: scene.graph[name][0] for name in scene.graph.nodes_geometry}
    assert np.allclose(bounds["a"][:3, 3], [0, 5, 0])
    assert np.allclose(bounds["b"][:3, 3], [10, 0, 0])
    assert np.allclose(scene.bounds, [[-0.5, -0.5, -0.5], [10.5, 5.5, 0.5]])
    world.remove(b)
    assert len(load(world.to_glb()).geometry) == 1
    with pytest.raises(ValueError, match="missing='bogus'"):
        world.to_glb(missing="bogus")
    # A .glb file by path is a mesh, not a line of Three.js code.
    (tmp_path / "crate.glb").write_bytes(box_glb(1.0))
    for item in (tmp_path / "crate.glb", str(tmp_path / "crate.glb")):
        crate = world.add(item)
        assert world.objects[-1]["kind"] == "glb" and world.objects[-1]["label"] == "crate"
        world.remove(crate)


def test_transform_matrix_follows_three_js_euler_xyz():
    turn = transform_matrix([1, 2, 3], [0, math.pi / 2, 0], [2, 2, 2])
    assert np.allclose(turn @ [1, 0, 0, 1], [1, 2, 1, 1])  # +90° about y: x → -z, then moved
    tilt = transform_matrix([0, 0, 0], [math.pi / 2, 0, 0], [1, 1, 1])
    assert np.allclose(tilt @ [0, 1, 0, 1], [0, 0, 1, 1])  # +90° about x: y → z
    both = transform_matrix([0, 0, 0], [math.pi / 2, math.pi / 2, 0], [1, 1, 1])
    assert np.allclose(both @ [1, 0, 0, 1], [0, 1, 0, 1])  # XYZ order: y-turn first, then x


def test_code_objects_need_the_browser_export_before_saving(tmp_path):
    world = World()
    world.add(model_result("mesh"))
    tower = world.add(code_result("tower.json"))
    with pytest.raises(MissingExport, match="tower.json"):
        world.save(tmp_path / "w.glb")
    assert len(load(world.to_glb(missing="skip")).geometry) == 1
    # What the browser sends once the tower is built: its GLB over the comm.
    world._on_message(world, {"type": "object-glb", "id": tower}, [box_glb(3.0)])
    world._on_message(
        world,
        {
            "type": "transform",
            "id": tower,
            "position": [4, 0, 0],
            "rotation": [0, 0, 0],
            "scale": [1, 1, 1],
        },
        [],
    )
    assert world.objects[1]["position"] == [4.0, 0.0, 0.0]
    assert len(load(world.save(tmp_path / "w.glb").read_bytes()).geometry) == 2


class Browser:
    """Stands in for the front end: answers the world's messages on another thread, as
    the kernel's comm would deliver them, after ``delay`` seconds."""

    def __init__(self, world: World, views: int, build: dict[str, bytes | str], delay: float):
        self.world, self.views, self.build, self.delay = world, views, build, delay
        self.sent: list[dict] = []
        world.send = self.receive

    def receive(self, content: dict, buffers=None) -> None:
        self.sent.append(content)
        if content.get("type") == "ping":
            for _ in range(self.views):
                threading.Timer(self.delay, self.answer, [content["id"]]).start()

    def answer(self, ping: int) -> None:
        self.world._on_message(self.world, {"type": "pong", "id": ping}, [])
        for object_id, outcome in self.build.items():
            if isinstance(outcome, bytes):
                self.world._on_message(
                    self.world, {"type": "object-glb", "id": object_id}, [outcome]
                )
            else:
                message = {"type": "error", "id": object_id, "message": outcome}
                self.world._on_message(self.world, message, [])


def test_wait_for_exports_waits_for_the_browser_so_run_all_saves_the_code_objects(tmp_path):
    """Run All: the save cell runs before the browser's GLB arrives; awaiting
    world.wait_for_exports() in it waits for that GLB instead of racing it."""
    world = World()
    world.add(model_result("mesh"))
    tower = world.add(code_result("tower.json"))
    browser = Browser(world, views=1, build={tower: box_glb(3.0)}, delay=0.3)
    assert asyncio.run(world.wait_for_exports(ask_timeout=10)) == []
    assert [m["type"] for m in browser.sent] == ["ping"]
    assert len(load(world.save(tmp_path / "w.glb").read_bytes()).geometry) == 2
    # Nothing missing: no question asked.
    assert asyncio.run(world.wait_for_exports()) == [] and len(browser.sent) == 1


def test_wait_for_exports_returns_the_missing_labels_when_no_browser_shows_the_world():
    world = World()
    world.add(code_result("tower.json"))
    browser = Browser(world, views=0, build={}, delay=0)
    started = time.monotonic()
    assert asyncio.run(world.wait_for_exports(timeout=60, ask_timeout=0.5)) == ["tower.json"]
    assert 0.5 <= time.monotonic() - started < 5  # the short wait for an answer, no more
    assert [m["type"] for m in browser.sent] == ["ping"]


def test_wait_for_exports_stops_waiting_for_a_code_object_that_failed_to_build():
    world = World()
    tower = world.add(code_result("tower.json"))
    Browser(world, views=2, build={tower: "tower.json: undefinedThing is not defined"}, delay=0.1)
    started = time.monotonic()
    assert asyncio.run(world.wait_for_exports(timeout=60, ask_timeout=10)) == ["tower.json"]
    assert time.monotonic() - started < 5
    assert world.errors[0] == "tower.json: undefinedThing is not defined"


# -- the browser side ----------------------------------------------------------------------

HARNESS = """<!doctype html><html><body><div id="host"></div><script type="module">
import widget from "./world.js";
const state = JSON.parse(document.getElementById("state").textContent);
const bytes = (b64) => new DataView(Uint8Array.from(atob(b64), c => c.charCodeAt(0)).buffer);
state.glbs = Object.fromEntries(Object.entries(state.glbs).map(([k, v]) => [k, bytes(v)]));
const listeners = {};
window.sent = [];
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (listeners["change:" + k] || []).forEach(f => f()); },
  save_changes() {}, on: (e, f) => (listeners[e] ||= []).push(f), off() {},
  send(content, callbacks, buffers) {
    const b = (buffers || []).map(x => btoa(String.fromCharCode(...new Uint8Array(x))));
    window.sent.push({ content, buffers: b });
  },
};
window.model = model;
widget.render({ model, el: document.getElementById("host") });
</script>
<script id="state" type="application/json">STATE</script></body></html>"""


@pytest.fixture
def served(tmp_path):
    """tmp_path over HTTP (module scripts do not load from file://)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_the_world_widget_builds_code_in_the_sandbox_and_sends_its_glb_back(tmp_path, served):
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.browser_support import launch_chromium, poll

    if not (STATIC / "world.js").is_file():
        pytest.skip("front-end not built")
    world = World()
    mesh_id = world.add(box_glb(1.0), label="box", position=(2, 0, 0))
    tower_id = world.add(CODE, label="tower")
    state = {
        name: world.get_state()[name]
        for name in ("objects", "view", "mode", "selected", "height", "_page")
    }
    state["glbs"] = {k: base64.b64encode(v).decode() for k, v in world.glbs.items()}
    (tmp_path / "world.js").write_text((STATIC / "world.js").read_text())
    (tmp_path / "index.html").write_text(
        HARNESS.replace("STATE", json.dumps(state).replace("<", "\\u003c"))
    )

    with playwright.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(served + "index.html")
        frame = page.locator("iframe")
        assert frame.get_attribute("sandbox") == "allow-scripts"
        page.wait_for_function(
            "window.sent.some(m => m.content.type === 'object-glb')", timeout=30_000
        )
        sent = page.evaluate("window.sent")
        # The scene renders in a Worker; input reaches it through the page: a drag turns
        # the camera (OrbitControls), a click on an object selects it (picking).
        runtime = next(f for f in page.frames if f.evaluate("Boolean(window.vibedraw)"))
        camera = "async () => (await window.vibedraw.state()).camera"
        box = frame.bounding_box()
        before = runtime.evaluate(camera)
        page.mouse.move(box["x"] + 20, box["y"] + 20)
        page.mouse.down()
        page.mouse.move(box["x"] + 120, box["y"] + 40, steps=8)
        page.mouse.up()
        turned = poll(lambda: runtime.evaluate(camera) != before, timeout=10)  # next frames
        assert turned, "a drag did not turn the camera"
        state = "async () => await window.vibedraw.state()"
        selected = None
        for fx, fy in [(x, y) for x in (0.5, 0.4, 0.6, 0.3, 0.7) for y in (0.5, 0.4, 0.6, 0.3)]:
            page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            # The worker handles the click before it answers (messages keep their order).
            selected = runtime.evaluate(state)["selected"]
            if selected:
                break
        page.wait_for_function(f"window.model.get('selected') === {json.dumps(selected)}")
        assert selected in (mesh_id, tower_id), "no click on the scene selected an object"
        # Switching to the walk view reaches the frame without errors.
        page.evaluate("window.model.set('view', 'walk')")
        errors = [m for m in page.evaluate("window.sent") if m["content"]["type"] == "error"]
        browser.close()
    exported = [m for m in sent if m["content"]["type"] == "object-glb"]
    assert [m["content"]["id"] for m in exported] == [tower_id]  # meshes need no export
    assert errors == []
    world._on_message(world, exported[0]["content"], [base64.b64decode(exported[0]["buffers"][0])])
    scene = load(world.to_glb())
    names = sorted(scene.graph.nodes_geometry)
    assert any(n.startswith("tower/") for n in names) and any(n.startswith("box/") for n in names)
    tower = next(g for n, g in scene.geometry.items() if n.startswith("tower/"))
    assert np.allclose(tower.extents, [1, 2, 1])  # the BoxGeometry(1, 2, 1) the code made
    assert mesh_id in world.glbs
