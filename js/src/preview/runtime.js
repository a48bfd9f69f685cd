// The preview runtime, running inside `<iframe sandbox="allow-scripts">` (or as the
// standalone downloaded page). It owns the scene, camera, lights, OrbitControls and the
// render loop; runs generated code (docs/protocol.md, Generated code) as `async function build(THREE, ctx)`;
// shows GLB meshes; exports the current object as GLB. It talks to its host only by
// postMessage: in `run`/`glb`/`export`/`ping`/`dispose`; out `ready`/`frame`/`error`/
// `exported`/`pong`.
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { GLTFExporter } from "three/addons/exporters/GLTFExporter.js";
import { runBuild, runFrameCallbacks } from "./build.js";
import { makeGuard } from "./guard.js";

const BUILD_BUDGET_MS = 8000; // build() may run this long before it is stopped
const FRAME_BUDGET_MS = 250; // one frame's onFrame callbacks may run this long

const config = JSON.parse(document.getElementById("vd-config")?.textContent || "{}");
const host = window.parent !== window ? window.parent : null;
const post = (msg, transfer = []) => host?.postMessage(msg, "*", transfer);

// Scene, camera, lights, controls: the host side of the generated-code contract (docs/protocol.md).
const renderer = new THREE.WebGLRenderer({ antialias: true });
renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
renderer.outputColorSpace = THREE.SRGBColorSpace;
document.body.appendChild(renderer.domElement);
renderer.domElement.addEventListener("webglcontextlost", (event) => {
  event.preventDefault();
  post({ type: "lost" }); // the host replaces this frame
});
const scene = new THREE.Scene();
scene.background = new THREE.Color();
function setTheme(dark) {
  scene.background.set(dark ? 0x1e1e1e : 0xf5f5f5);
  document.body.style.background = dark ? "#1e1e1e" : "#f5f5f5";
}
setTheme(config.dark);
let themed = null; // a theme change to acknowledge after the next frame
const camera = new THREE.PerspectiveCamera(45, 1, 0.01, 1000);
camera.position.set(3, 2.5, 4);
scene.add(new THREE.HemisphereLight(0xffffff, 0x444444, 1.6));
const sun = new THREE.DirectionalLight(0xffffff, 2.2);
sun.position.set(5, 10, 7);
scene.add(sun);
const controls = new OrbitControls(camera, renderer.domElement);
controls.enableDamping = true;

let current = null; // the object shown
let frameFns = new Set();
let pendingFrame = null; // {id, started} until the first frame after a run
const guard = makeGuard();

function resize() {
  const w = Math.max(1, window.innerWidth);
  const h = Math.max(1, window.innerHeight);
  renderer.setSize(w, h, false);
  camera.aspect = w / h;
  camera.updateProjectionMatrix();
}
window.addEventListener("resize", resize);
resize();

function reportError(id, err, phase) {
  const message = err && err.message ? err.message : String(err);
  post({ type: "error", id, phase, message, stack: err && err.stack ? String(err.stack) : "" });
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

function clear() {
  if (current) {
    scene.remove(current);
    disposeObject(current);
  }
  current = null;
  frameFns = new Set();
}

/** Point the camera at the object's bounding sphere (`move` false: only check it). */
function fit(obj, move = true) {
  const box = new THREE.Box3().setFromObject(obj);
  if (box.isEmpty() || !Number.isFinite(box.min.x + box.max.x + box.min.y + box.max.y)) {
    throw new Error("the object is empty or not finite (no bounding box)");
  }
  if (!move) return;
  const sphere = box.getBoundingSphere(new THREE.Sphere());
  const r = Math.max(sphere.radius, 1e-3);
  const dist = (r / Math.sin(THREE.MathUtils.degToRad(camera.fov / 2))) * 1.15;
  const dir = new THREE.Vector3(0.9, 0.7, 1.3).normalize();
  camera.position.copy(sphere.center).addScaledVector(dir, dist);
  camera.near = dist / 100;
  camera.far = dist * 100;
  camera.updateProjectionMatrix();
  controls.target.copy(sphere.center);
  controls.update();
}

let viewSet = false; // the camera was fitted to something already

// keepView: an edit's result keeps the camera, so that "make it bigger" looks bigger
// instead of being fitted back to the same size on screen.
function show(obj, id, started, keepView = false) {
  clear();
  current = obj;
  scene.add(obj);
  fit(obj, !(keepView && viewSet));
  viewSet = true;
  pendingFrame = { id, started };
}

async function runCode(code, id, keepView = false) {
  const started = performance.now();
  clear();
  const ctx = {
    scene,
    camera,
    renderer,
    controls,
    onFrame(fn) {
      if (typeof fn === "function") frameFns.add(fn);
    },
  };
  let obj;
  try {
    obj = await runBuild(THREE, code, ctx, guard, BUILD_BUDGET_MS);
  } catch (err) {
    frameFns = new Set();
    reportError(id, err, "build");
    return;
  }
  const fns = frameFns;
  try {
    show(obj, id, started, keepView);
    frameFns = fns;
  } catch (err) {
    reportError(id, err, "build");
  }
}

function showGlb(buffer, id) {
  const started = performance.now();
  new GLTFLoader().parse(
    buffer,
    "",
    (gltf) => {
      try {
        show(gltf.scene, id, started);
      } catch (err) {
        reportError(id, err, "glb");
      }
    },
    (err) => reportError(id, err, "glb"),
  );
}

function exportGlb(id) {
  if (!current) {
    post({ type: "exported", id, error: "nothing to export yet" });
    return;
  }
  new GLTFExporter().parse(
    current,
    (buffer) => post({ type: "exported", id, buffer }, [buffer]),
    (err) => post({ type: "exported", id, error: String(err?.message || err) }),
    { binary: true },
  );
}

let disposed = false;
function dispose() {
  disposed = true;
  renderer.setAnimationLoop(null);
  clear();
  controls.dispose();
  renderer.dispose();
  renderer.forceContextLoss();
}

// The render loop; onFrame callbacks run under the guard, a failing one is dropped.
const timer = new THREE.Timer();
renderer.setAnimationLoop((time) => {
  if (disposed) return;
  timer.update(time);
  const dt = timer.getDelta();
  runFrameCallbacks(frameFns, [dt, timer.getElapsed()], guard, FRAME_BUDGET_MS, (err) =>
    reportError(pendingFrame?.id ?? null, err, "frame"),
  );
  controls.update();
  renderer.render(scene, camera);
  if (themed !== null) {
    post({ type: "themed", dark: themed });
    themed = null;
  }
  if (pendingFrame) {
    const { id, started } = pendingFrame;
    pendingFrame = null;
    post({ type: "frame", id, ms: performance.now() - started });
  }
});

window.addEventListener("message", (event) => {
  if (event.source !== host) return;
  const msg = event.data || {};
  switch (msg.type) {
    case "run":
      runCode(String(msg.code ?? ""), msg.id, Boolean(msg.keepView));
      break;
    case "glb":
      showGlb(msg.buffer, msg.id);
      break;
    case "export":
      exportGlb(msg.id);
      break;
    case "clear":
      clear();
      viewSet = false;
      break;
    case "theme":
      setTheme(Boolean(msg.dark));
      themed = Boolean(msg.dark); // acknowledged once a frame shows it
      break;
    case "ping":
      post({ type: "pong", n: msg.n });
      break;
    case "dispose":
      dispose();
      break;
    default:
      break;
  }
});

// Escape leaves the preview: the host hands focus back to the notebook.
window.addEventListener("keydown", (event) => event.key === "Escape" && post({ type: "escape" }));
window.addEventListener("error", (event) => reportError(null, event.error || event.message, "runtime"));
window.addEventListener("unhandledrejection", (event) => reportError(null, event.reason, "runtime"));

window.vibedraw = { scene, camera }; // for tests and the curious, as in viewer.js
if (config.code) runCode(config.code, "standalone");
post({ type: "ready" });
