// The World widget's front end: a toolbar and the sandboxed scene page (the scene runtime
// in "world" mode, docs/preview.md; its shell page comes from Python in the `_page` trait)
// on the shared frame host.
// Python → page: objects (code as text, meshes as binary buffers), view, gizmo mode,
// selection. Page → Python: transforms after a drag, selection, each code object's GLB
// (exported by GLTFExporter as soon as it is built), errors.

import { createFrame } from "./preview/frame.js";

const STYLE = `
.vd-world { font: 13px system-ui, sans-serif; }
.vd-world-bar { display: flex; gap: 4px; align-items: center; margin-bottom: 4px; flex-wrap: wrap; }
.vd-world-bar button { border: 1px solid #ccc; background: #fff; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
.vd-world-bar button[aria-pressed="true"] { background: #e3ecff; border-color: #6b8fd6; }
.vd-world-bar .sep { width: 8px; }
.vd-world-bar .hint { color: #777; margin-left: 8px; }
.vd-world-view { border: 1px solid #ddd; border-radius: 6px; overflow: hidden; }
.vd-world iframe { width: 100%; height: 100%; border: 0; display: block; }
`;
function bufferOf(view) {
  if (!view) return null;
  if (view instanceof ArrayBuffer) return view.slice(0);
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice().buffer;
}

function render({ model, el }) {
  const style = document.createElement("style");
  style.textContent = STYLE;
  const root = document.createElement("div");
  root.className = "vd-world";
  const bar = document.createElement("div");
  bar.className = "vd-world-bar";
  const view = document.createElement("div");
  view.className = "vd-world-view";
  root.append(style, bar, view);
  el.appendChild(root);

  // Messages wait in the frame host until the runtime is ready; "ready" sends the state.
  const post = (msg) => frame?.post(msg);

  // Toolbar: view, gizmo mode, download.
  const buttons = {};
  function button(label, title, onClick, group, value) {
    const b = document.createElement("button");
    b.textContent = label;
    b.title = title;
    b.addEventListener("click", onClick);
    if (group) buttons[`${group}:${value}`] = b;
    bar.appendChild(b);
    return b;
  }
  const sep = () => bar.appendChild(Object.assign(document.createElement("span"), { className: "sep" }));
  const setTrait = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };
  button("Orbit", "orbit view: drag to turn, scroll to zoom", () => setTrait("view", "orbit"), "view", "orbit");
  button("Walk", "walk view: WASD / arrows to move, drag to look", () => setTrait("view", "walk"), "view", "walk");
  sep();
  for (const mode of ["translate", "rotate", "scale"]) {
    button(mode[0].toUpperCase() + mode.slice(1), `drag the gizmo to ${mode}`, () => setTrait("mode", mode), "mode", mode);
  }
  sep();
  button("Download GLB", "export the whole world as one .glb", () => post({ type: "export", request_id: Date.now() }));
  const hint = Object.assign(document.createElement("span"), { className: "hint" });
  bar.appendChild(hint);

  function pressed() {
    for (const [key, b] of Object.entries(buttons)) {
      const [group, value] = key.split(":");
      b.setAttribute("aria-pressed", String(model.get(group) === value));
    }
    hint.textContent = model.get("view") === "walk" ? "WASD / arrows to walk, drag to look" : "click an object to select it";
  }

  function objectsForFrame() {
    const glbs = model.get("glbs") || {};
    return (model.get("objects") || []).map((o) =>
      o.kind === "glb" ? { ...o, key: `glb:${o.id}`, buffer: bufferOf(glbs[o.id]) } : { ...o, key: `code:${o.code}` },
    );
  }
  const sync = (refit = false) => post({ type: "set-objects", objects: objectsForFrame(), refit });

  function download(buffer) {
    const url = URL.createObjectURL(new Blob([buffer], { type: "model/gltf-binary" }));
    const a = Object.assign(document.createElement("a"), { href: url, download: "world.glb" });
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "ready":
        sync(true);
        post({ type: "view", view: model.get("view") });
        post({ type: "mode", mode: model.get("mode") });
        break;
      case "transform":
        model.send({ type: "transform", id: msg.id, position: msg.position, rotation: msg.rotation, scale: msg.scale });
        break;
      case "select":
        setTrait("selected", msg.id || "");
        break;
      case "object-glb":
        model.send({ type: "object-glb", id: msg.id }, undefined, [msg.buffer]);
        break;
      case "world-glb":
        download(msg.buffer);
        break;
      case "error":
        model.send({ type: "error", message: String(msg.message || "") });
        break;
      default:
        break;
    }
  }
  let frame = null;
  function loadPage() {
    frame?.dispose();
    view.style.height = `${model.get("height")}px`;
    frame = createFrame(view, {
      page: () => model.get("_page"),
      title: "vibedraw world",
      onMessage,
      // Builds may run long here (many objects): no watchdog; a navigation still stops it.
      watchdog: false,
      onFailure: (failure) => model.send({ type: "error", message: failure.message }),
    });
  }
  const handlers = {
    "change:objects": () => sync(),
    "change:glbs": () => sync(),
    "change:view": () => {
      pressed();
      post({ type: "view", view: model.get("view") });
    },
    "change:mode": () => {
      pressed();
      post({ type: "mode", mode: model.get("mode") });
    },
    "change:selected": () => post({ type: "select", id: model.get("selected") }),
    "change:height": () => (view.style.height = `${model.get("height")}px`),
    "change:_page": loadPage,
  };
  for (const [name, fn] of Object.entries(handlers)) model.on(name, fn);
  pressed();
  loadPage();

  return () => {
    frame?.dispose();
    for (const [name, fn] of Object.entries(handlers)) model.off(name, fn);
    root.remove();
  };
}

export default { render };
