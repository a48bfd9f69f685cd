// The vibedraw scene runtime: runs inside a sandboxed page (an <iframe sandbox="allow-scripts">
// or a saved .html file) and shows generated objects with the bundled three.js.
//
// The page carries its configuration in <script id="vibedraw-config" type="application/json">:
//   {mode: "viewer" | "gallery" | "world", background, objects: [{id, label, kind: "code" | "glb",
//    code | glb_gzip (the GLB gzipped, as base64) | buffer, position, rotation, scale}]}
// Code objects follow docs/protocol.md, Generated code: the body of `async function build(THREE, ctx)` returning an
// Object3D. In "world" mode the page talks to its parent by postMessage (see onMessage).
// The page reports its state on <body data-status="loading|ready|error"> for tests.

import * as THREE from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { TransformControls } from "three/examples/jsm/controls/TransformControls.js";
import { GLTFExporter } from "three/examples/jsm/exporters/GLTFExporter.js";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { runBuild, runFrameCallbacks } from "./preview/build.js";
import { makeGuard } from "./preview/guard.js";

const BUILD_TIMEOUT_MS = 10000;
const FRAME_BUDGET_MS = 250; // one frame's onFrame callbacks may run this long
// One guard for every object: loops in build() and in onFrame callbacks throw when their
// budget runs out instead of freezing the page (and the notebook that embeds it).
const guard = makeGuard();
const config = JSON.parse(document.getElementById("vibedraw-config")?.textContent || "{}");
const errors = [];

// -- building objects -------------------------------------------------------------------

function base64ToBuffer(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return bytes.buffer;
}

/** Bytes from base64 text of gzipped data (pages carry meshes compressed). */
function gunzipBase64(text) {
  const stream = new Blob([base64ToBuffer(text)]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

/** Build one object description into an Object3D (code is run, GLB parsed). */
async function buildObject(spec, ctx) {
  if (spec.kind === "glb") {
    const buffer = spec.buffer || (await gunzipBase64(spec.glb_gzip));
    const gltf = await new GLTFLoader().parseAsync(buffer, "");
    return gltf.scene;
  }
  return runBuild(THREE, spec.code, ctx, guard, BUILD_TIMEOUT_MS);
}

function applyTransform(object, spec) {
  if (spec.position) object.position.fromArray(spec.position);
  if (spec.rotation) object.rotation.set(...spec.rotation);
  if (spec.scale) object.scale.fromArray(spec.scale);
}

function addLights(scene) {
  scene.add(new THREE.HemisphereLight(0xffffff, 0x667788, 1.6));
  const sun = new THREE.DirectionalLight(0xffffff, 2.0);
  sun.position.set(4, 8, 6);
  scene.add(sun);
}

function frame(camera, controls, objects) {
  const box = new THREE.Box3();
  for (const object of objects) box.expandByObject(object);
  if (box.isEmpty()) return;
  const size = box.getSize(new THREE.Vector3()).length() || 1;
  const centre = box.getCenter(new THREE.Vector3());
  camera.near = size / 100;
  camera.far = size * 100;
  camera.position.copy(centre).add(new THREE.Vector3(0.6, 0.45, 1).normalize().multiplyScalar(size * 1.3));
  camera.updateProjectionMatrix();
  controls.target.copy(centre);
  controls.update();
}

// `id`: the world object that failed to build or export, so Python stops waiting for it.
function report(message, id = undefined) {
  errors.push(message);
  const box = document.getElementById("vibedraw-errors");
  if (box) {
    box.textContent = errors.join("\n");
    box.hidden = false;
  }
  if (config.mode === "world") window.parent.postMessage({ type: "error", message, id }, "*");
}

function makeRenderer(canvas) {
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  canvas.addEventListener("webglcontextlost", pausedByBrowser);
  return renderer;
}

// A browser keeps about 16 WebGL contexts per page and drops the oldest beyond that: a
// notebook showing many results one by one loses its first previews. Say so, and let a
// click bring this one back (a gallery shows many results in one context).
function pausedByBrowser(event) {
  event.preventDefault();
  document.body.dataset.status = "paused";
  const note = document.createElement("button");
  note.id = "vibedraw-paused";
  note.textContent =
    "3D view paused: this page has more 3D views than the browser keeps. Click to show it " +
    "again (gallery(results) shows many results in one view).";
  note.addEventListener("click", () => location.reload());
  document.body.appendChild(note);
}

// -- one scene: viewer and world --------------------------------------------------------

async function sceneMode() {
  const canvas = document.getElementById("vibedraw-canvas");
  const renderer = makeRenderer(canvas);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(config.background || "#f4f5f7");
  addLights(scene);
  const grid = new THREE.GridHelper(20, 20, 0xbbbbbb, 0xdddddd);
  scene.add(grid);
  const camera = new THREE.PerspectiveCamera(50, 1, 0.01, 1000);
  camera.position.set(3, 2.5, 4);
  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = true;
  const frameCallbacks = new Set();
  const world = new THREE.Group();
  world.name = "world";
  scene.add(world);
  const objects = new Map(); // id -> {spec, object}

  const ctx = {
    scene,
    camera,
    renderer,
    controls,
    onFrame: (fn) => frameCallbacks.add(fn),
  };

  // Transform controls (world mode): click an object to select it, drag the gizmo.
  let transform = null;
  let selected = null;
  if (config.mode === "world") {
    transform = new TransformControls(camera, canvas);
    transform.addEventListener("dragging-changed", (e) => {
      controls.enabled = !e.value && view === "orbit";
      if (!e.value && selected) sendTransform(selected);
    });
    scene.add(transform.getHelper());
  }

  function sendTransform(id) {
    const entry = objects.get(id);
    if (!entry) return;
    const o = entry.object;
    const spec = {
      id,
      position: o.position.toArray(),
      rotation: [o.rotation.x, o.rotation.y, o.rotation.z],
      scale: o.scale.toArray(),
    };
    window.parent.postMessage({ type: "transform", ...spec }, "*");
  }

  function select(id) {
    selected = objects.has(id) ? id : null;
    if (!transform) return;
    if (selected) transform.attach(objects.get(selected).object);
    else transform.detach();
  }

  async function setObjects(specs, refit) {
    const wanted = new Set(specs.map((s) => s.id));
    for (const [id, entry] of objects) {
      if (!wanted.has(id)) {
        if (selected === id) select(null);
        world.remove(entry.object);
        objects.delete(id);
      }
    }
    for (const spec of specs) {
      const entry = objects.get(spec.id);
      const payload = spec.key ?? (spec.kind === "glb" ? spec.glb_gzip : spec.code);
      if (entry && entry.payload === payload) {
        applyTransform(entry.object, spec);
        continue;
      }
      const holder = new THREE.Group(); // keeps the user's transform apart from the object's own
      holder.name = spec.label || spec.id;
      holder.userData.vibedrawId = spec.id;
      applyTransform(holder, spec);
      if (entry) world.remove(entry.object);
      objects.set(spec.id, { spec, payload, object: holder });
      world.add(holder);
      try {
        const object = await buildObject(spec, ctx);
        holder.add(object);
        if (config.mode === "world" && spec.kind === "code") exportObject(spec.id, object);
      } catch (error) {
        report(`${spec.label || spec.id}: ${error.message || error}`, spec.id);
      }
    }
    if (refit) frame(camera, controls, [world]);
  }

  // Code objects are exported once built, so Python can compose GLBs without a browser later.
  function exportObject(id, object) {
    new GLTFExporter().parse(
      object,
      (buffer) => window.parent.postMessage({ type: "object-glb", id, buffer }, "*", [buffer]),
      (error) => report(`export ${id}: ${error.message || error}`, id),
      { binary: true },
    );
  }

  function exportWorld(requestId) {
    if (transform) transform.detach();
    new GLTFExporter().parse(
      world,
      (buffer) => {
        window.parent.postMessage({ type: "world-glb", request_id: requestId, buffer }, "*", [buffer]);
        if (selected) select(selected);
      },
      (error) => report(`export: ${error.message || error}`),
      { binary: true },
    );
  }

  // Views: orbit (drag to turn around the target) and walk (WASD / arrows, drag to look).
  let view = "orbit";
  const keys = new Set();
  const look = { yaw: 0, pitch: 0, dragging: false, x: 0, y: 0 };
  function setView(name) {
    view = name === "walk" ? "walk" : "orbit";
    controls.enabled = view === "orbit";
    if (view === "walk") {
      camera.position.y = 1.6;
      const dir = camera.getWorldDirection(new THREE.Vector3());
      look.yaw = Math.atan2(-dir.x, -dir.z);
      look.pitch = 0;
    } else {
      frame(camera, controls, [world]);
    }
  }
  window.addEventListener("keydown", (e) => {
    // Escape leaves the scene: the embedding page hands focus back to the notebook.
    if (e.key === "Escape") window.parent.postMessage({ type: "escape" }, "*");
    else keys.add(e.key.toLowerCase());
  });
  window.addEventListener("keyup", (e) => keys.delete(e.key.toLowerCase()));
  window.addEventListener("blur", () => keys.clear()); // no key stays held once focus left
  canvas.addEventListener("pointerdown", (e) => {
    Object.assign(look, { dragging: true, x: e.clientX, y: e.clientY });
    if (transform && view === "orbit" && !transform.dragging) pick(e);
  });
  window.addEventListener("pointerup", () => (look.dragging = false));
  canvas.addEventListener("pointermove", (e) => {
    if (view !== "walk" || !look.dragging) return;
    look.yaw -= (e.clientX - look.x) * 0.005;
    look.pitch = Math.max(-1.4, Math.min(1.4, look.pitch - (e.clientY - look.y) * 0.005));
    Object.assign(look, { x: e.clientX, y: e.clientY });
  });
  function walk(dt) {
    camera.rotation.set(look.pitch, look.yaw, 0, "YXZ");
    const speed = (keys.has("shift") ? 6 : 2.5) * dt;
    const forward = new THREE.Vector3(-Math.sin(look.yaw), 0, -Math.cos(look.yaw));
    const right = new THREE.Vector3(-forward.z, 0, forward.x);
    if (keys.has("w") || keys.has("arrowup")) camera.position.addScaledVector(forward, speed);
    if (keys.has("s") || keys.has("arrowdown")) camera.position.addScaledVector(forward, -speed);
    if (keys.has("d") || keys.has("arrowright")) camera.position.addScaledVector(right, speed);
    if (keys.has("a") || keys.has("arrowleft")) camera.position.addScaledVector(right, -speed);
  }

  const raycaster = new THREE.Raycaster();
  function pick(event) {
    const rect = canvas.getBoundingClientRect();
    const pointer = new THREE.Vector2(
      ((event.clientX - rect.left) / rect.width) * 2 - 1,
      -((event.clientY - rect.top) / rect.height) * 2 + 1,
    );
    raycaster.setFromCamera(pointer, camera);
    const hit = raycaster.intersectObject(world, true)[0];
    if (!hit) return;
    let node = hit.object;
    while (node && node.userData.vibedrawId === undefined) node = node.parent;
    if (node) {
      select(node.userData.vibedrawId);
      window.parent.postMessage({ type: "select", id: selected }, "*");
    }
  }

  function onMessage(event) {
    if (event.source !== window.parent) return; // only the embedding page may drive us
    const msg = event.data || {};
    if (msg.type === "set-objects") setObjects(msg.objects || [], msg.refit);
    else if (msg.type === "view") setView(msg.view);
    else if (msg.type === "select") select(msg.id);
    else if (msg.type === "mode" && transform) transform.setMode(msg.mode);
    else if (msg.type === "export") exportWorld(msg.request_id);
  }
  if (config.mode === "world") window.addEventListener("message", onMessage);

  function resize() {
    const { clientWidth: w, clientHeight: h } = canvas;
    if (canvas.width !== Math.floor(w * renderer.getPixelRatio())) {
      renderer.setSize(w, h, false);
      camera.aspect = w / Math.max(1, h);
      camera.updateProjectionMatrix();
    }
  }
  const timer = new THREE.Timer();
  renderer.setAnimationLoop((time) => {
    timer.update(time);
    const dt = Math.min(timer.getDelta(), 0.1);
    resize();
    if (view === "walk") walk(dt);
    else controls.update();
    runFrameCallbacks(frameCallbacks, [dt, timer.getElapsed()], guard, FRAME_BUDGET_MS, (error) =>
      report(`onFrame: ${error.message || error}`),
    );
    renderer.render(scene, camera);
  });

  await setObjects(config.objects || [], true);
  if (config.mode === "world") window.parent.postMessage({ type: "ready" }, "*");
  window.vibedraw = { scene, world, camera, objects, setObjects, setView, exportWorld };
}

// -- gallery: one renderer, one scene per grid cell (three.js "multiple elements") ---------

async function galleryMode() {
  const canvas = document.getElementById("vibedraw-canvas");
  const renderer = makeRenderer(canvas);
  renderer.setScissorTest(true);
  const cells = [];
  for (const spec of config.objects || []) {
    const element = document.querySelector(`[data-cell="${spec.id}"] .view`);
    if (!element) continue;
    const scene = new THREE.Scene();
    addLights(scene);
    const camera = new THREE.PerspectiveCamera(45, 1, 0.01, 1000);
    const controls = new OrbitControls(camera, element);
    const frameCallbacks = new Set();
    const ctx = { scene, camera, renderer, controls, onFrame: (fn) => frameCallbacks.add(fn) };
    cells.push({ element, scene, camera, controls, frameCallbacks });
    try {
      const object = await buildObject(spec, ctx);
      scene.add(object);
      frame(camera, controls, [object]);
    } catch (error) {
      report(`${spec.label || spec.id}: ${error.message || error}`);
    }
  }
  const timer = new THREE.Timer();
  renderer.setAnimationLoop((time) => {
    timer.update(time);
    const dt = Math.min(timer.getDelta(), 0.1);
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.floor(width * renderer.getPixelRatio())) {
      renderer.setSize(width, height, false);
    }
    renderer.setClearColor(0xffffff);
    renderer.setScissor(0, 0, width, height);
    renderer.clear();
    const page = canvas.getBoundingClientRect();
    for (const cell of cells) {
      const rect = cell.element.getBoundingClientRect();
      if (rect.bottom < page.top || rect.top > page.bottom) continue; // scrolled away
      const left = rect.left - page.left;
      const bottom = page.bottom - rect.bottom;
      renderer.setViewport(left, bottom, rect.width, rect.height);
      renderer.setScissor(left, bottom, rect.width, rect.height);
      cell.camera.aspect = rect.width / Math.max(1, rect.height);
      cell.camera.updateProjectionMatrix();
      runFrameCallbacks(cell.frameCallbacks, [dt, timer.getElapsed()], guard, FRAME_BUDGET_MS, (error) =>
        report(`onFrame: ${error.message || error}`),
      );
      renderer.setClearColor(0xf4f5f7);
      renderer.clear();
      renderer.render(cell.scene, cell.camera);
    }
  });
  window.vibedraw = { cells };
}

// -- start ------------------------------------------------------------------------------

window.addEventListener("error", (e) => report(e.message));
window.addEventListener("unhandledrejection", (e) => report(String(e.reason?.message || e.reason)));
(config.mode === "gallery" ? galleryMode() : sceneMode())
  .catch((error) => report(error.message || String(error)))
  .finally(() => {
    if (document.body.dataset.status === "paused") return; // lost its context meanwhile
    document.body.dataset.status = errors.length ? "error" : "ready";
  });
