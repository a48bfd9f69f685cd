// The scene runtime (docs/preview.md): runs in the runtime frame inside a shell page, the
// one place generated code runs. Modes (config.mode):
//   preview  the SketchPad's view, driven by messages: run code, show a GLB, export, theme
//   viewer   one or more objects from the config (a Result, a saved .html page)
//   gallery  many objects, one renderer, one view per grid cell
//   world    objects placed by hand (transform gizmo), walk view, export; driven by messages
// It talks only to its parent (the shell) by postMessage; every message it sends carries
// the frame's secret (its window name, read and cleared before any generated code runs).
import { lockdown, lockdownFraming } from "./lockdown.js";
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { TransformControls } from "three/addons/controls/TransformControls.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { GLTFExporter } from "three/addons/exporters/GLTFExporter.js";
import { runBuild, runFrameCallbacks } from "./build.js";
import { makeGuard } from "./guard.js";
import {
  BUILD_BUDGET_MS,
  FRAME_BUDGET_MS,
  addLights,
  boundsOf,
  createStage,
  fitCamera,
  makeGround,
  placeGround,
} from "./stage.js";

lockdown(window);
lockdownFraming(window);
const secret = window.name;
window.name = "";
const holder = document.getElementById("vd-config");
const config = JSON.parse(holder?.textContent || "{}");
holder?.remove();
const shell = window.parent !== window ? window.parent : null;
const post = (msg, transfer = []) => shell?.postMessage({ ...msg, secret }, "*", transfer);
// Escape leaves the 3D view: the host hands focus back to the notebook.
window.addEventListener("keydown", (event) => event.key === "Escape" && post({ type: "escape" }));
const guard = makeGuard();
const errors = [];

function setStatus(status) {
  document.body.dataset.status = status;
  post({ type: "status", status });
}

// Leaving the page is never legitimate: say so before the browser blocks it (the shell's
// CSP) and the shell stops this frame.
window.navigation?.addEventListener("navigate", (event) => {
  post({ type: "navigating", how: event.navigationType || "navigation" });
  if (event.cancelable) event.preventDefault();
});

// A meta refresh is scheduled when its element is inserted; this observer runs before
// the refresh would, reports it (the shell stops the frame) and calls window.stop(). The
// shell's CSP is what blocks the load itself (docs/preview.md).
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType !== 1) continue;
      const metas = node.matches("meta[http-equiv]") ? [node] : [...node.querySelectorAll("meta[http-equiv]")];
      if (!metas.some((m) => /refresh/i.test(m.httpEquiv))) continue;
      window.stop();
      for (const m of metas) m.remove();
      post({ type: "navigating", how: "meta refresh" });
    }
  }
}).observe(document, { childList: true, subtree: true });

const message = (err) => (err && err.message ? err.message : String(err));

/** Show errors over the view (viewer, gallery and world pages). */
function report(text) {
  errors.push(text);
  let box = document.getElementById("vibedraw-errors");
  if (!box) {
    box = document.createElement("pre");
    box.id = "vibedraw-errors";
    document.body.appendChild(box);
  }
  box.textContent = errors.join("\n");
  post({ type: "error", message: text });
}

function base64ToBuffer(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer;
}

/** Bytes from base64 text of gzipped data (pages carry meshes compressed). */
function gunzipBase64(text) {
  const stream = new Blob([base64ToBuffer(text)]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

async function parseGlb(buffer) {
  return (await new GLTFLoader().parseAsync(buffer, "")).scene;
}

/** One object description (docs/preview.md, "Configuration": `objects`) as an Object3D. */
async function buildObject(spec, ctx) {
  if (spec.kind === "glb") return parseGlb(spec.buffer || (await gunzipBase64(spec.glb_gzip)));
  return runBuild(THREE, String(spec.code ?? ""), ctx, guard, BUILD_BUDGET_MS);
}

function disposeObject(obj) {
  obj.traverse((o) => {
    o.geometry?.dispose?.();
    const mats = Array.isArray(o.material) ? o.material : o.material ? [o.material] : [];
    for (const m of mats) {
      for (const v of Object.values(m)) if (v && v.isTexture) v.dispose();
      m.dispose();
    }
  });
}

function exportGlb(object) {
  return new Promise((resolve, reject) => new GLTFExporter().parse(object, resolve, reject, { binary: true }));
}

// A browser keeps about 16 WebGL contexts per page and drops the oldest beyond that.
// The pad takes a new frame at once; a static view says so and comes back on a click
// (the shell makes a fresh runtime frame: a reload would be a navigation).
function onContextLost(renderer, pad) {
  renderer.domElement.addEventListener("webglcontextlost", (event) => {
    event.preventDefault();
    if (pad) {
      post({ type: "lost" });
      return;
    }
    setStatus("paused");
    const note = document.createElement("button");
    note.id = "vibedraw-paused";
    note.textContent =
      "3D view paused: this page has more 3D views than the browser keeps. Click to show it " +
      "again (gallery(results) shows many results in one view).";
    note.addEventListener("click", () => post({ type: "reload" }));
    document.body.appendChild(note);
  });
}

const PAGE_STYLE = `
body { font: 13px system-ui, sans-serif; }
#vibedraw-errors { position: absolute; left: 8px; right: 8px; bottom: 8px; margin: 0; padding: 6px 8px;
  background: #fff5f5; color: #900; border: 1px solid #d33; border-radius: 4px; white-space: pre-wrap;
  max-height: 40%; overflow: auto; }
#vibedraw-title { position: absolute; left: 10px; top: 8px; color: #555; pointer-events: none; }
#vibedraw-paused { position: absolute; inset: 0; width: 100%; border: 0; cursor: pointer; background: #f4f5f7;
  color: #555; font: inherit; padding: 16px; z-index: 2; }
.gallery { position: relative; display: grid; gap: 10px; padding: 10px;
  grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); }
html.vd-gallery, html.vd-gallery body { overflow: auto; }
html.vd-gallery canvas { position: fixed; left: 0; top: 0; width: 100vw; height: 100vh; z-index: 0; pointer-events: none; }
.cell { position: relative; z-index: 1; border: 1px solid #ddd; border-radius: 6px; overflow: hidden; }
.cell .view { height: 170px; }
.cell .meta { display: flex; gap: 6px; align-items: center; padding: 4px 6px; background: #fff; border-top: 1px solid #eee; }
.cell .meta img { width: 48px; height: 36px; object-fit: contain; border: 1px solid #eee; }
.cell .meta span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.cell.failed .view { background: #fff5f5; color: #900; padding: 8px; box-sizing: border-box; overflow: auto; }
`;

function addStyle() {
  const style = document.createElement("style");
  style.textContent = PAGE_STYLE;
  document.head.appendChild(style);
}

// -- preview: the pad's view ----------------------------------------------------------------

function previewMode() {
  const stage = createStage(document.body, { dark: config.dark });
  const { renderer, scene, camera, controls } = stage;
  onContextLost(renderer, true);
  let current = null;
  let frameFns = new Set();
  let pendingFrame = null; // {id, started} until the first frame after a run
  let themed = null; // a theme change to acknowledge after the next frame
  let viewSet = false; // the camera was fitted to something already

  function clear() {
    if (current) {
      scene.remove(current);
      disposeObject(current);
    }
    current = null;
    frameFns = new Set();
  }

  // keepView: an edit's result keeps the camera, so that "make it bigger" looks bigger.
  function show(obj, id, started, keepView = false) {
    const box = boundsOf(obj);
    clear();
    current = obj;
    scene.add(obj);
    stage.frame(box, { move: !(keepView && viewSet) });
    viewSet = true;
    pendingFrame = { id, started };
  }

  async function runCode(code, id, keepView) {
    const started = performance.now();
    clear();
    const ctx = { scene, camera, renderer, controls, onFrame: (fn) => typeof fn === "function" && frameFns.add(fn) };
    try {
      const obj = await runBuild(THREE, code, ctx, guard, BUILD_BUDGET_MS);
      const fns = frameFns;
      show(obj, id, started, keepView);
      frameFns = fns;
    } catch (err) {
      frameFns = new Set();
      reportError(id, err, "build");
    }
  }

  async function showGlb(buffer, id) {
    const started = performance.now();
    try {
      show(await parseGlb(buffer), id, started);
    } catch (err) {
      reportError(id, err, "glb");
    }
  }

  function reportError(id, err, phase) {
    post({ type: "error", id, phase, message: message(err), stack: err && err.stack ? String(err.stack) : "" });
  }

  let disposed = false;
  const timer = new THREE.Timer();
  renderer.setAnimationLoop((time) => {
    if (disposed) return;
    timer.update(time);
    runFrameCallbacks(frameFns, [timer.getDelta(), timer.getElapsed()], guard, FRAME_BUDGET_MS, (err) =>
      reportError(pendingFrame?.id ?? null, err, "frame"),
    );
    controls.update();
    renderer.render(scene, camera);
    if (themed !== null) {
      post({ type: "themed", dark: themed });
      themed = null;
    }
    if (pendingFrame && stage.size.width && stage.size.height) {
      const { id, started } = pendingFrame;
      pendingFrame = null;
      post({ type: "frame", id, ms: performance.now() - started, width: renderer.domElement.width });
    }
  });

  window.addEventListener("message", (event) => {
    if (event.source !== shell) return;
    const msg = event.data || {};
    switch (msg.type) {
      case "run":
        runCode(String(msg.code ?? ""), msg.id, Boolean(msg.keepView));
        break;
      case "glb":
        showGlb(msg.buffer, msg.id);
        break;
      case "export":
        if (!current) post({ type: "exported", id: msg.id, error: "nothing to export yet" });
        else
          exportGlb(current).then(
            (buffer) => post({ type: "exported", id: msg.id, buffer }, [buffer]),
            (err) => post({ type: "exported", id: msg.id, error: message(err) }),
          );
        break;
      case "clear":
        clear();
        viewSet = false;
        if (stage.ground) stage.ground.visible = false;
        break;
      case "theme":
        stage.setTheme(Boolean(msg.dark));
        themed = Boolean(msg.dark); // acknowledged once a frame shows it
        break;
      case "ping":
        post({ type: "pong", n: msg.n });
        break;
      case "dispose":
        disposed = true;
        renderer.setAnimationLoop(null);
        clear();
        controls.dispose();
        renderer.dispose();
        renderer.forceContextLoss();
        break;
      default:
        break;
    }
  });
  window.addEventListener("error", (event) => reportError(null, event.error || event.message, "runtime"));
  window.addEventListener("unhandledrejection", (event) => reportError(null, event.reason, "runtime"));
  window.vibedraw = { scene, camera, renderer }; // for tests and the curious
  post({ type: "ready" });
}

// -- viewer and world: objects from the config or from messages, in one scene -----------------

async function sceneMode() {
  addStyle();
  const isWorld = config.mode === "world";
  const stage = createStage(document.body, { dark: config.dark, preserveDrawingBuffer: !isWorld });
  const { renderer, scene, camera, controls } = stage;
  const canvas = renderer.domElement;
  onContextLost(renderer, false);
  if (config.title && !isWorld) {
    const title = document.createElement("div");
    title.id = "vibedraw-title";
    title.textContent = config.title;
    document.body.appendChild(title);
  }
  const frameCallbacks = new Set();
  const world = new THREE.Group();
  world.name = "world";
  scene.add(world);
  const objects = new Map(); // id -> {spec, payload, object}
  const ctx = { scene, camera, renderer, controls, onFrame: (fn) => typeof fn === "function" && frameCallbacks.add(fn) };

  // Transform controls (world mode): click an object to select it, drag the gizmo.
  let transform = null;
  let selected = null;
  let view = "orbit";
  if (isWorld) {
    transform = new TransformControls(camera, canvas);
    transform.addEventListener("dragging-changed", (e) => {
      controls.enabled = !e.value && view === "orbit";
      if (!e.value && selected) sendTransform(selected);
    });
    scene.add(transform.getHelper());
  }

  function sendTransform(id) {
    const o = objects.get(id)?.object;
    if (!o) return;
    post({ type: "transform", id, position: o.position.toArray(), rotation: [o.rotation.x, o.rotation.y, o.rotation.z], scale: o.scale.toArray() });
  }

  function select(id) {
    selected = objects.has(id) ? id : null;
    if (!transform) return;
    if (selected) transform.attach(objects.get(selected).object);
    else transform.detach();
  }

  function applyTransform(object, spec) {
    if (spec.position) object.position.fromArray(spec.position);
    if (spec.rotation) object.rotation.set(...spec.rotation);
    if (spec.scale) object.scale.fromArray(spec.scale);
  }

  function refit() {
    if (!world.children.length) return;
    try {
      // The World's ground is the plane y = 0 its layout stands on; a viewer's is under its object.
      stage.frame(boundsOf(world), { floor: isWorld ? 0 : null });
    } catch {
      /* nothing finite to frame yet */
    }
  }

  async function setObjects(specs, fit) {
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
        if (isWorld && spec.kind === "code") {
          exportGlb(object).then(
            (buffer) => post({ type: "object-glb", id: spec.id, buffer }, [buffer]),
            (err) => report(`export ${spec.id}: ${message(err)}`),
          );
        }
      } catch (err) {
        report(`${spec.label || spec.id}: ${message(err)}`);
      }
    }
    if (fit) refit();
  }

  function exportWorld(requestId) {
    if (transform) transform.detach();
    exportGlb(world).then(
      (buffer) => {
        post({ type: "world-glb", request_id: requestId, buffer }, [buffer]);
        if (selected) select(selected);
      },
      (err) => report(`export: ${message(err)}`),
    );
  }

  // Views: orbit (drag to turn around the target) and walk (WASD / arrows, drag to look).
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
      refit();
    }
  }
  window.addEventListener("keydown", (e) => keys.add(e.key.toLowerCase()));
  window.addEventListener("keyup", (e) => keys.delete(e.key.toLowerCase()));
  window.addEventListener("blur", () => keys.clear());
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
    const pointer = new THREE.Vector2(((event.clientX - rect.left) / rect.width) * 2 - 1, -((event.clientY - rect.top) / rect.height) * 2 + 1);
    raycaster.setFromCamera(pointer, camera);
    let node = raycaster.intersectObject(world, true)[0]?.object;
    while (node && node.userData.vibedrawId === undefined) node = node.parent;
    if (node) {
      select(node.userData.vibedrawId);
      post({ type: "select", id: selected });
    }
  }

  if (isWorld) {
    window.addEventListener("message", (event) => {
      if (event.source !== shell) return; // only the shell (relaying the widget) drives us
      const msg = event.data || {};
      if (msg.type === "set-objects") setObjects(msg.objects || [], msg.refit);
      else if (msg.type === "view") setView(msg.view);
      else if (msg.type === "select") select(msg.id);
      else if (msg.type === "mode" && transform) transform.setMode(msg.mode);
      else if (msg.type === "export") exportWorld(msg.request_id);
      else if (msg.type === "theme") {
        stage.setTheme(Boolean(msg.dark));
        themed = Boolean(msg.dark); // acknowledged once a frame shows it
      }
    });
  }

  let framed = false;
  let themed = null; // a theme change to acknowledge after the next frame
  const timer = new THREE.Timer();
  renderer.setAnimationLoop((time) => {
    timer.update(time);
    const dt = Math.min(timer.getDelta(), 0.1);
    if (view === "walk") walk(dt);
    else controls.update();
    runFrameCallbacks(frameCallbacks, [dt, timer.getElapsed()], guard, FRAME_BUDGET_MS, (err) => report(`onFrame: ${message(err)}`));
    renderer.render(scene, camera);
    if (themed !== null) {
      post({ type: "themed", dark: themed });
      themed = null;
    }
    if (!framed && stage.size.width && world.children.length) {
      framed = true;
      post({ type: "frame", width: canvas.width });
    }
  });

  window.vibedraw = { scene, world, camera, renderer, objects, setObjects, setView, exportWorld };
  await setObjects(config.objects || [], true);
  if (isWorld) post({ type: "ready" });
}

// -- gallery: one renderer, one scene per grid cell (three.js "multiple elements") --------------

async function galleryMode() {
  addStyle();
  document.documentElement.classList.add("vd-gallery");
  const grid = document.createElement("div");
  grid.className = "gallery";
  const views = new Map();
  for (const cell of config.cells || []) {
    const box = document.createElement("div");
    box.className = cell.error ? "cell failed" : "cell";
    box.dataset.cell = cell.id;
    const view = document.createElement("div");
    view.className = "view";
    if (cell.error) view.textContent = cell.error;
    const meta = document.createElement("div");
    meta.className = "meta";
    if (cell.thumb) {
      const img = document.createElement("img");
      img.alt = "sketch";
      img.src = cell.thumb; // a data: URL (img-src data:)
      meta.appendChild(img);
    }
    const label = document.createElement("span");
    label.textContent = cell.label || cell.id;
    meta.appendChild(label);
    box.append(view, meta);
    grid.appendChild(box);
    views.set(cell.id, view);
  }
  document.body.appendChild(grid);

  const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
  renderer.outputColorSpace = THREE.SRGBColorSpace;
  renderer.setScissorTest(true);
  const canvas = renderer.domElement;
  document.body.prepend(canvas);
  onContextLost(renderer, false);
  const cells = [];
  for (const spec of config.objects || []) {
    const element = views.get(spec.id);
    if (!element) continue;
    const scene = new THREE.Scene();
    scene.background = null;
    addLights(scene);
    const ground = makeGround();
    scene.add(ground);
    const camera = new THREE.PerspectiveCamera(45, 1.3, 0.01, 1000);
    const controls = new OrbitControls(camera, element);
    const frameCallbacks = new Set();
    const ctx = { scene, camera, renderer, controls, onFrame: (fn) => typeof fn === "function" && frameCallbacks.add(fn) };
    const cell = { element, scene, camera, controls, frameCallbacks, box: null };
    cells.push(cell);
    try {
      const object = await buildObject(spec, ctx);
      scene.add(object);
      cell.box = boundsOf(object);
      placeGround(ground, cell.box);
      fitCamera(camera, controls, cell.box);
    } catch (err) {
      report(`${spec.label || spec.id}: ${message(err)}`);
    }
  }
  const timer = new THREE.Timer();
  renderer.setAnimationLoop((time) => {
    timer.update(time);
    const dt = Math.min(timer.getDelta(), 0.1);
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return; // no layout (hidden): nothing to draw into
    if (canvas.width !== Math.floor(width * renderer.getPixelRatio()) || canvas.height !== Math.floor(height * renderer.getPixelRatio())) {
      renderer.setSize(width, height, false);
    }
    renderer.setScissor(0, 0, width, height);
    renderer.setClearColor(0xffffff);
    renderer.clear();
    for (const cell of cells) {
      const rect = cell.element.getBoundingClientRect();
      if (rect.bottom < 0 || rect.top > height || !rect.width) continue; // scrolled away
      const bottom = height - rect.bottom;
      renderer.setViewport(rect.left, bottom, rect.width, rect.height);
      renderer.setScissor(rect.left, bottom, rect.width, rect.height);
      const aspect = rect.width / Math.max(1, rect.height);
      if (cell.camera.aspect !== aspect) {
        cell.camera.aspect = aspect;
        cell.camera.updateProjectionMatrix();
      }
      runFrameCallbacks(cell.frameCallbacks, [dt, timer.getElapsed()], guard, FRAME_BUDGET_MS, (err) => report(`onFrame: ${message(err)}`));
      cell.controls.update();
      renderer.setClearColor(0xf5f5f5);
      renderer.clear();
      renderer.render(cell.scene, cell.camera);
    }
  });
  window.vibedraw = { cells };
}

// -- start -------------------------------------------------------------------------------------

if (config.mode === "preview") {
  previewMode();
} else {
  window.addEventListener("error", (e) => report(e.message));
  window.addEventListener("unhandledrejection", (e) => report(message(e.reason)));
  (config.mode === "gallery" ? galleryMode() : sceneMode())
    .catch((err) => report(message(err)))
    .finally(() => {
      if (document.body.dataset.status === "paused") return; // lost its context meanwhile
      setStatus(errors.length ? "error" : "ready");
    });
}
