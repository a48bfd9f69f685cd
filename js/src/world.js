// The World widget's front end: a toolbar and the sandboxed scene page (the scene runtime
// in "world" mode, docs/preview.md; its shell page comes from Python in the `_page` trait)
// on the shared frame host.
// Keys never reach the notebook: walking (WASD) happens inside the frame, whose keys stay
// there; the toolbar is guarded like the pad (keys.js); Escape, here or in the frame,
// hands focus back to the notebook.
// Python → page: objects (code as text, meshes as binary buffers), view, gizmo mode,
// selection. Page → Python: transforms after a drag, selection, each code object's GLB
// (exported by GLTFExporter as soon as it is built), errors (with the object's id when one
// failed to build). Each view answers Python's "ping" with a "pong": from it
// `World.wait_for_exports()` learns that a browser shows the world, so GLBs will come.

import { focusNotebook, guardKeys } from "./keys.js";
import { createFrame } from "./preview/frame.js";
import { isDark, watchTheme } from "./theme.js";

// JupyterLab's theme variables (light and dark), the pad's colours as fallbacks elsewhere.
const STYLE = `
.vd-world {
  --vd-bg: var(--jp-layout-color1, #ffffff);
  --vd-bg2: var(--jp-layout-color2, #f0f0f0);
  --vd-fg: var(--jp-ui-font-color1, #1e1e1e);
  --vd-fg2: var(--jp-ui-font-color2, #555555);
  --vd-border: var(--jp-border-color1, #c8c8c8);
  --vd-accent: var(--jp-brand-color1, #1976d2);
  --vd-on-accent: var(--jp-ui-inverse-font-color1, #ffffff); /* text on the accent colour */
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px);
  color: var(--vd-fg);
}
.vd-world-bar { display: flex; gap: 4px; align-items: center; margin-bottom: 4px; flex-wrap: wrap; }
.vd-world-bar button {
  font: inherit; color: var(--vd-fg); background: var(--vd-bg2);
  border: 1px solid var(--vd-border); border-radius: 4px; padding: 2px 8px; cursor: pointer;
}
.vd-world-bar button:hover { border-color: var(--vd-accent); }
.vd-world-bar button:focus-visible { outline: 2px solid var(--vd-accent); outline-offset: 1px; }
.vd-world-bar button[aria-pressed="true"] { background: var(--vd-accent); color: var(--vd-on-accent); border-color: var(--vd-accent); }
.vd-world-bar .sep { width: 8px; }
.vd-world-bar .hint { color: var(--vd-fg2); margin-left: 8px; }
.vd-world-view { border: 1px solid var(--vd-border); border-radius: 6px; overflow: hidden; }
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
  button(
    "Walk",
    "walk view: WASD / arrows to move, drag to look, Escape to leave",
    () => {
      setTrait("view", "walk");
      frame?.iframe?.focus(); // WASD go to the scene at once, not to this button
    },
    "view",
    "walk",
  );
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
    hint.textContent =
      model.get("view") === "walk" ? "WASD / arrows to walk, drag to look, Escape to leave" : "click an object to select it";
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
        post({ type: "theme", dark: isDark() });
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
        model.send({ type: "error", message: String(msg.message || ""), id: msg.id ?? null });
        break;
      case "escape":
        focusNotebook(root);
        break;
      case "themed": // the scene shows the theme (for tests and styling)
        view.dataset.theme = msg.dark ? "dark" : "light";
        break;
      default:
        break;
    }
  }
  const unguard = guardKeys(root);
  const unwatchTheme = watchTheme((dark) => post({ type: "theme", dark }));
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
    "msg:custom": (msg) => {
      if (msg && msg.type === "ping") model.send({ type: "pong", id: msg.id });
    },
  };
  for (const [name, fn] of Object.entries(handlers)) model.on(name, fn);
  pressed();
  loadPage();

  return () => {
    frame?.dispose();
    unguard();
    unwatchTheme();
    for (const [name, fn] of Object.entries(handlers)) model.off(name, fn);
    root.remove();
  };
}

export default { render };
