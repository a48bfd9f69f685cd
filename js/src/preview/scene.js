// The scene runtime's worker side (docs/preview.md): three.js, the stage, the modes and the
// generated code, all in a dedicated Worker that renders into the page's canvas (an
// OffscreenCanvas). A worker has no `location` to navigate, no DOM and no WebRTC, and it
// lives under the runtime page's CSP (no network); the page (window.js) owns the canvas,
// the input, the overlays and the messages to the shell.
// Modes (config.mode):
//   preview  the SketchPad's view, driven by messages: run code, show a GLB, export, theme
//   viewer   one or more objects from the config (a Result, a saved .html page)
//   gallery  many objects, one renderer, one view per grid cell
//   world    objects placed by hand (transform gizmo), walk view, export; driven by messages
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { TransformControls } from "three/addons/controls/TransformControls.js";
import { GLTFExporter } from "three/addons/exporters/GLTFExporter.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { runBuild, runFrameCallbacks } from "./build.js";
import { makeGuard } from "./guard.js";
import { DocumentProxy, ElementProxy } from "./proxy.js";
import { BUILD_BUDGET_MS, FRAME_BUDGET_MS, addLights, boundsOf, createStage, fitCamera, makeGround, placeGround } from "./stage.js";

const message = (err) => (err && err.message ? err.message : String(err));

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

async function parseGlb(buffer) {
  return (await new GLTFLoader().parseAsync(buffer, "")).scene;
}

/** Bytes from base64 text of gzipped data (pages carry meshes compressed). */
function gunzipBase64(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

/**
 * Run the worker side. The first message is `init` ({config, canvas, width, height,
 * pixelRatio, cells}); the worker's own `postMessage` is taken away before any generated
 * code runs, so that only this runtime speaks to the page.
 */
export function startScene(global = self) {
  const send = global.postMessage.bind(global);
  for (let o = global; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    if (Object.getOwnPropertyDescriptor(o, "postMessage")) delete o.postMessage;
  }
  const doc = new DocumentProxy();
  // TransformControls reads the global `document.pointerLockElement` on a pointerdown:
  // the stand-in answers (null), as the document a worker does not have.
  global.document = doc;
  const views = new Map(); // target id -> ElementProxy
  const guard = makeGuard();
  let handlers = null; // the mode's message handlers

  const view = (id) => {
    if (!views.has(id)) views.set(id, new ElementProxy(doc));
    return views.get(id);
  };
  const env = { send, doc, view, guard };

  global.addEventListener("message", (event) => {
    const msg = event.data || {};
    // A view drawn on demand may be asleep: any message that may change what it shows
    // draws at least one frame (questions about it do not).
    if (msg.type !== "describe" && msg.type !== "ping") env.wake?.();
    if (msg.type === "input") {
      if (msg.target !== null) views.get(msg.target)?.dispatch(msg.event);
      doc.dispatch(msg.event);
    } else if (msg.type === "rects") {
      for (const [id, rect] of Object.entries(msg.rects)) view(id).rect = rect;
    } else if (msg.type === "init") {
      const mode = msg.config.mode === "preview" ? previewMode : msg.config.mode === "gallery" ? galleryMode : sceneMode;
      handlers = mode(env, msg);
    } else {
      handlers?.(msg);
    }
  });
  global.addEventListener("error", (event) => send({ type: "error", id: null, phase: "runtime", message: message(event.error || event.message), stack: "" }));
  global.addEventListener("unhandledrejection", (event) => send({ type: "error", id: null, phase: "runtime", message: message(event.reason), stack: "" }));
}

// A lost WebGL context (a GPU reset; a page keeps about 16 contexts, though each Worker
// counts its own): the pad takes a new frame at once; a static view says so (the page
// shows a button that asks the shell for a new runtime frame).
function onContextLost(canvas, send, pad) {
  canvas.addEventListener("webglcontextlost", (event) => {
    event.preventDefault();
    send({ type: pad ? "lost" : "paused" });
  });
}

/**
 * Call `step(time, changed)` each animation frame for as long as it returns true (it drew:
 * something changed or is moving); then sleep until `wake()`. `changed` is true on the
 * first frame after a `wake()`. A still view costs nothing, and an idle worker takes the
 * next message at once. Messages from the page wake the view (the listener in
 * `startScene`), and so does a finished build.
 */
function onDemand(renderer, step) {
  let looping = false;
  let changed = true;
  const tick = (time) => {
    const drawn = step(time, changed);
    changed = false;
    if (drawn) return;
    renderer.setAnimationLoop(null);
    looping = false;
  };
  const wake = () => {
    changed = true;
    if (looping) return;
    looping = true;
    renderer.setAnimationLoop(tick);
  };
  wake.drawing = () => looping; // for describe(): a still view is asleep
  wake();
  return wake;
}

/** What tests and the curious may read of a scene (the page's `window.vibedraw.state()`). */
function describe(stage, extra = {}) {
  return { camera: stage.camera.position.toArray(), ...extra };
}

// -- preview: the pad's view ----------------------------------------------------------------

function previewMode(env, { config, canvas, width, height, pixelRatio }) {
  const { send, view, guard } = env;
  const stage = createStage(canvas, view("canvas"), { dark: config.dark, pixelRatio });
  stage.resize(width, height);
  const { renderer, scene, camera, controls } = stage;
  onContextLost(canvas, send, true);
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
    draw(performance.now(), true); // now, not at the worker's next animation frame
    env.wake(); // and on, while the camera settles
  }

  function reportError(id, err, phase) {
    send({ type: "error", id, phase, message: message(err), stack: err && err.stack ? String(err.stack) : "" });
  }

  async function runCode(code, id, keepView, started) {
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

  async function showGlb(buffer, id, started) {
    try {
      show(await parseGlb(buffer), id, started);
    } catch (err) {
      reportError(id, err, "glb");
    }
  }

  // Drawn on demand (onDemand): when something changed (a result, the theme, the size, a
  // message, the camera moving, an animation), not 60 times a second for a still view.
  let disposed = false;
  const timer = new THREE.Timer();
  let last = 0;
  function draw(time, changed) {
    if (disposed) return false;
    last = Math.max(last, time); // draw() also runs outside the loop, with a later time
    timer.update(last);
    runFrameCallbacks(frameFns, [timer.getDelta(), timer.getElapsed()], guard, FRAME_BUDGET_MS, (err) =>
      reportError(pendingFrame?.id ?? null, err, "frame"),
    );
    const moved = controls.update();
    if (!moved && !changed && !frameFns.size && !pendingFrame) return false;
    renderer.render(scene, camera);
    if (themed !== null) {
      send({ type: "themed", dark: themed });
      themed = null;
    }
    if (pendingFrame && stage.size.width && stage.size.height) {
      const { id, started } = pendingFrame;
      pendingFrame = null;
      send({ type: "frame", id, ms: performance.now() + performance.timeOrigin - started, width: canvas.width });
    }
    return true;
  }
  env.wake = onDemand(renderer, draw); // after "dispose", draw() returns false: it stays asleep

  send({ type: "ready" });
  return (msg) => {
    switch (msg.type) {
      case "run":
        runCode(String(msg.code ?? ""), msg.id, Boolean(msg.keepView), msg.started);
        break;
      case "glb":
        showGlb(msg.buffer, msg.id, msg.started);
        break;
      case "export":
        if (!current) send({ type: "exported", id: msg.id, error: "nothing to export yet" });
        else
          exportGlb(current).then(
            (buffer) => send({ type: "exported", id: msg.id, buffer }, [buffer]),
            (err) => send({ type: "exported", id: msg.id, error: message(err) }),
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
      case "size":
        stage.resize(msg.width, msg.height);
        break;
      case "ping":
        send({ type: "pong", n: msg.n });
        break;
      case "describe":
        send({ type: "described", id: msg.id, state: describe(stage, { objects: current ? [current.name] : [], drawing: env.wake.drawing() }) });
        break;
      case "lose-context":
        renderer.getContext().getExtension("WEBGL_lose_context")?.loseContext();
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
  };
}

/** One object description (docs/preview.md, "Configuration": `objects`) as an Object3D. */
async function buildObject(spec, ctx, guard) {
  if (spec.kind === "glb") return parseGlb(spec.buffer || (await gunzipBase64(spec.glb_gzip)));
  return runBuild(THREE, String(spec.code ?? ""), ctx, guard, BUILD_BUDGET_MS);
}

// -- viewer and world: objects from the config or from messages, in one scene -----------------

function sceneMode(env, { config, canvas, width, height, pixelRatio }) {
  const { send, doc, view, guard } = env;
  const isWorld = config.mode === "world";
  const element = view("canvas");
  const stage = createStage(canvas, element, { dark: config.dark, preserveDrawingBuffer: !isWorld, pixelRatio });
  stage.resize(width, height);
  const { renderer, scene, camera, controls } = stage;
  onContextLost(canvas, send, false);
  const report = (text) => send({ type: "report", message: text });
  const frameCallbacks = new Set();
  const world = new THREE.Group();
  world.name = "world";
  scene.add(world);
  const objects = new Map(); // id -> {spec, payload, object}
  const ctx = { scene, camera, renderer, controls, onFrame: (fn) => typeof fn === "function" && frameCallbacks.add(fn) };

  // Transform controls (world mode): click an object to select it, drag the gizmo.
  let transform = null;
  let selected = null;
  let viewName = "orbit";
  if (isWorld) {
    transform = new TransformControls(camera, element);
    transform.addEventListener("dragging-changed", (e) => {
      controls.enabled = !e.value && viewName === "orbit";
      if (!e.value && selected) sendTransform(selected);
    });
    scene.add(transform.getHelper());
  }

  function sendTransform(id) {
    const o = objects.get(id)?.object;
    if (!o) return;
    send({ type: "transform", id, position: o.position.toArray(), rotation: [o.rotation.x, o.rotation.y, o.rotation.z], scale: o.scale.toArray() });
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
        const object = await buildObject(spec, ctx, guard);
        holder.add(object);
        env.wake?.(); // built after the message that asked for it: draw it
        if (isWorld && spec.kind === "code") {
          exportGlb(object).then(
            (buffer) => send({ type: "object-glb", id: spec.id, buffer }, [buffer]),
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
        send({ type: "world-glb", request_id: requestId, buffer }, [buffer]);
        if (selected) select(selected);
      },
      (err) => report(`export: ${message(err)}`),
    );
  }

  // Views: orbit (drag to turn around the target) and walk (WASD / arrows, drag to look).
  const keys = new Set();
  const look = { yaw: 0, pitch: 0, dragging: false, x: 0, y: 0 };
  function setView(name) {
    viewName = name === "walk" ? "walk" : "orbit";
    controls.enabled = viewName === "orbit";
    if (viewName === "walk") {
      camera.position.y = 1.6;
      const dir = camera.getWorldDirection(new THREE.Vector3());
      look.yaw = Math.atan2(-dir.x, -dir.z);
      look.pitch = 0;
    } else {
      refit();
    }
  }
  doc.addEventListener("keydown", (e) => keys.add(String(e.key).toLowerCase()));
  doc.addEventListener("keyup", (e) => keys.delete(String(e.key).toLowerCase()));
  doc.addEventListener("blur", () => keys.clear());
  element.addEventListener("pointerdown", (e) => {
    Object.assign(look, { dragging: true, x: e.clientX, y: e.clientY });
    if (transform && viewName === "orbit" && !transform.dragging) pick(e);
  });
  doc.addEventListener("pointerup", () => (look.dragging = false));
  element.addEventListener("pointermove", (e) => {
    if (viewName !== "walk" || !look.dragging) return;
    look.yaw -= (e.clientX - look.x) * 0.005;
    look.pitch = Math.max(-1.4, Math.min(1.4, look.pitch - (e.clientY - look.y) * 0.005));
    Object.assign(look, { x: e.clientX, y: e.clientY });
  });
  /** Move by the keys held; true while walking or looking around. */
  function walk(dt) {
    camera.rotation.set(look.pitch, look.yaw, 0, "YXZ");
    const speed = (keys.has("shift") ? 6 : 2.5) * dt;
    const forward = new THREE.Vector3(-Math.sin(look.yaw), 0, -Math.cos(look.yaw));
    const right = new THREE.Vector3(-forward.z, 0, forward.x);
    if (keys.has("w") || keys.has("arrowup")) camera.position.addScaledVector(forward, speed);
    if (keys.has("s") || keys.has("arrowdown")) camera.position.addScaledVector(forward, -speed);
    if (keys.has("d") || keys.has("arrowright")) camera.position.addScaledVector(right, speed);
    if (keys.has("a") || keys.has("arrowleft")) camera.position.addScaledVector(right, -speed);
    return keys.size > 0 || look.dragging;
  }

  const raycaster = new THREE.Raycaster();
  function pick(event) {
    const rect = element.getBoundingClientRect();
    const pointer = new THREE.Vector2(((event.clientX - rect.left) / rect.width) * 2 - 1, -((event.clientY - rect.top) / rect.height) * 2 + 1);
    raycaster.setFromCamera(pointer, camera);
    let node = raycaster.intersectObject(world, true)[0]?.object;
    while (node && node.userData.vibedrawId === undefined) node = node.parent;
    if (node) {
      select(node.userData.vibedrawId);
      send({ type: "select", id: selected });
    }
  }

  // Drawn on demand (onDemand): after a message or a build, while the camera moves or an
  // object animates, and while walking.
  let framed = false;
  let themed = null; // a theme change to acknowledge after the next frame
  const timer = new THREE.Timer();
  env.wake = onDemand(renderer, (time, changed) => {
    timer.update(time);
    const dt = Math.min(timer.getDelta(), 0.1);
    const moved = viewName === "walk" ? walk(dt) : controls.update();
    runFrameCallbacks(frameCallbacks, [dt, timer.getElapsed()], guard, FRAME_BUDGET_MS, (err) => report(`onFrame: ${message(err)}`));
    if (!moved && !changed && !frameCallbacks.size) return false;
    renderer.render(scene, camera);
    if (themed !== null) {
      send({ type: "themed", dark: themed });
      themed = null;
    }
    if (!framed && stage.size.width && world.children.length) {
      framed = true;
      send({ type: "frame", width: canvas.width });
    }
    return true;
  });

  setObjects(config.objects || [], true)
    .catch((err) => report(message(err)))
    .finally(() => send({ type: "built" }));
  if (isWorld) send({ type: "ready" });
  return (msg) => {
    if (msg.type === "size") stage.resize(msg.width, msg.height);
    else if (msg.type === "describe") {
      const names = world.children.map((holder) => holder.children[0]?.name ?? "");
      send({ type: "described", id: msg.id, state: describe(stage, { objects: names, selected, drawing: env.wake.drawing() }) });
    }
    else if (msg.type === "lose-context") renderer.getContext().getExtension("WEBGL_lose_context")?.loseContext();
    else if (!isWorld) return; // only the World is driven by messages
    else if (msg.type === "set-objects") setObjects(msg.objects || [], msg.refit);
    else if (msg.type === "view") setView(msg.view);
    else if (msg.type === "select") select(msg.id);
    else if (msg.type === "mode" && transform) transform.setMode(msg.mode);
    else if (msg.type === "export") exportWorld(msg.request_id);
    else if (msg.type === "theme") {
      stage.setTheme(Boolean(msg.dark));
      themed = Boolean(msg.dark); // acknowledged once a frame shows it
    }
  };
}

// -- gallery: one renderer, one scene per grid cell (three.js "multiple elements") --------------

function galleryMode(env, { config, canvas, width, height, pixelRatio }) {
  const { send, view, guard } = env;
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(2, pixelRatio || 1));
  renderer.outputColorSpace = THREE.SRGBColorSpace;
  renderer.setScissorTest(true);
  onContextLost(canvas, send, false);
  const report = (text) => send({ type: "report", message: text });
  const size = { width, height };
  const cells = [];
  const built = (async () => {
    for (const spec of config.objects || []) {
      const element = view(spec.id);
      const scene = new THREE.Scene();
      scene.background = null;
      addLights(scene);
      const ground = makeGround();
      scene.add(ground);
      const camera = new THREE.PerspectiveCamera(45, 1.3, 0.01, 1000);
      const controls = new OrbitControls(camera, element);
      const frameCallbacks = new Set();
      const ctx = { scene, camera, renderer, controls, onFrame: (fn) => typeof fn === "function" && frameCallbacks.add(fn) };
      const cell = { element, scene, camera, controls, frameCallbacks };
      cells.push(cell);
      try {
        const object = await buildObject(spec, ctx, guard);
        cell.object = object;
        scene.add(object);
        const box = boundsOf(object);
        placeGround(ground, box);
        fitCamera(camera, controls, box);
        env.wake?.();
      } catch (err) {
        report(`${spec.label || spec.id}: ${message(err)}`);
      }
    }
  })();
  built.catch((err) => report(message(err))).finally(() => send({ type: "built" }));

  // Drawn on demand (onDemand), like the other modes: after a message (the page sends the
  // cells' boxes when they move) or a build, while a camera moves or an object animates.
  const timer = new THREE.Timer();
  env.wake = onDemand(renderer, (time, changed) => {
    timer.update(time);
    const dt = Math.min(timer.getDelta(), 0.1);
    const { width: w, height: h } = size;
    if (!w || !h) return false; // no layout (hidden): nothing to draw into until it has one
    const moved = cells.map((cell) => cell.controls.update()).some(Boolean);
    if (!moved && !changed && !cells.some((cell) => cell.frameCallbacks.size)) return false;
    renderer.setScissor(0, 0, w, h);
    renderer.setClearColor(0xffffff);
    renderer.clear();
    for (const cell of cells) {
      const rect = cell.element.rect;
      if (rect.top + rect.height < 0 || rect.top > h || !rect.width) continue; // scrolled away
      const bottom = h - (rect.top + rect.height);
      renderer.setViewport(rect.left, bottom, rect.width, rect.height);
      renderer.setScissor(rect.left, bottom, rect.width, rect.height);
      const aspect = rect.width / Math.max(1, rect.height);
      if (cell.camera.aspect !== aspect) {
        cell.camera.aspect = aspect;
        cell.camera.updateProjectionMatrix();
      }
      runFrameCallbacks(cell.frameCallbacks, [dt, timer.getElapsed()], guard, FRAME_BUDGET_MS, (err) => report(`onFrame: ${message(err)}`));
      renderer.setClearColor(0xf5f5f5);
      renderer.clear();
      renderer.render(cell.scene, cell.camera);
    }
    return true;
  });
  const resize = (w, h) => {
    Object.assign(size, { width: w, height: h });
    if (w && h) renderer.setSize(w, h, false);
  };
  resize(width, height);
  return (msg) => {
    if (msg.type === "size") resize(msg.width, msg.height);
    else if (msg.type === "describe") {
      const objects = cells.map((c) => c.object?.name ?? "");
      send({ type: "described", id: msg.id, state: { cells: cells.length, objects, drawing: env.wake.drawing() } });
    }
    else if (msg.type === "lose-context") renderer.getContext().getExtension("WEBGL_lose_context")?.loseContext();
  };
}
