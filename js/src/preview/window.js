// The scene runtime's page side (docs/preview.md): the runtime frame's document. It runs
// no generated code: it starts the worker (scene.js, the same runtime script) with the
// page's canvas handed over as an OffscreenCanvas, forwards input and the view's size to
// it, shows overlays (errors, a title, the paused note, the gallery's grid) and relays
// messages: from its parent (the shell) down to the worker, and from the worker up to the
// shell, each with the frame's secret (its window name, read and cleared at once).
import { transfersOf } from "./transfer.js";
import { forwardInput } from "./proxy.js";

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
.cell .view { height: 170px; touch-action: none; }
.cell .meta { display: flex; gap: 6px; align-items: center; padding: 4px 6px; background: #fff; border-top: 1px solid #eee; }
.cell .meta img { width: 48px; height: 36px; object-fit: contain; border: 1px solid #eee; }
.cell .meta span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.cell.failed .view { background: #fff5f5; color: #900; padding: 8px; box-sizing: border-box; overflow: auto; }
`;

// What the worker may say, and where it goes: up to the shell, or handled here.
const UP = new Set(["ready", "status", "frame", "error", "exported", "themed", "pong", "lost", "transform", "select", "object-glb", "world-glb"]);

/**
 * Size the canvas from the page's real box whenever it changes: a ResizeObserver, the
 * window's resize, and again when the page becomes visible. A frame made while hidden or
 * before layout has no size; sizing it once at start left a 1×1 canvas for good.
 * `onSize(width, height)` gets CSS pixels (0 while there is no layout). Returns a stop
 * function.
 */
export function watchSize(element, onSize) {
  let w = -1;
  let h = -1;
  const check = () => {
    const width = element.clientWidth;
    const height = element.clientHeight;
    if (width === w && height === h) return;
    w = width;
    h = height;
    onSize(width, height);
  };
  const observer = typeof ResizeObserver === "function" ? new ResizeObserver(check) : null;
  observer?.observe(element);
  window.addEventListener("resize", check);
  document.addEventListener("visibilitychange", check);
  check();
  return () => {
    observer?.disconnect();
    window.removeEventListener("resize", check);
    document.removeEventListener("visibilitychange", check);
  };
}

function gallery(config) {
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
    view.dataset.view = cell.id;
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
  return views;
}

/** Run the page side; `source` is the runtime script itself (the worker runs it too). */
export function startPage(source) {
  const secret = window.name;
  window.name = "";
  const holder = document.getElementById("vd-config");
  const config = JSON.parse(holder?.textContent || "{}");
  holder?.remove();
  const shell = window.parent !== window ? window.parent : null;
  const post = (msg, transfer = []) => shell?.postMessage({ ...msg, secret }, "*", transfer);
  const errors = [];
  const mode = config.mode || "preview";
  let status = "loading";

  function setStatus(value) {
    status = value;
    document.body.dataset.status = value;
    post({ type: "status", status: value });
  }

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

  function paused() {
    setStatus("paused");
    const note = document.createElement("button");
    note.id = "vibedraw-paused";
    note.textContent =
      "3D view paused: the browser took its graphics context away (many 3D views at once, or " +
      "the GPU was reset). Click to show it again (gallery(results) shows many results in one view).";
    note.addEventListener("click", () => post({ type: "reload" }));
    document.body.appendChild(note);
  }

  // Escape leaves the 3D view: the host hands focus back to the notebook.
  window.addEventListener("keydown", (event) => event.key === "Escape" && post({ type: "escape" }));
  if (mode !== "preview") {
    const style = document.createElement("style");
    style.textContent = PAGE_STYLE;
    document.head.appendChild(style);
  }
  if (config.title && mode === "viewer") {
    const title = document.createElement("div");
    title.id = "vibedraw-title";
    title.textContent = config.title;
    document.body.appendChild(title);
  }
  const views = mode === "gallery" ? gallery(config) : null;
  const canvas = document.createElement("canvas");
  document.body.prepend(canvas);

  let worker;
  try {
    worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
  } catch (err) {
    report(`the 3D view could not start: ${err && err.message ? err.message : err}`);
    setStatus("error");
    return;
  }
  const toWorker = (msg, transfer = []) => worker.postMessage(msg, transfer);

  // Input: over the canvas (or a gallery cell's view) it goes to that view's stand-in.
  const targetOf = (event) => {
    if (views) return event.target?.closest?.("[data-view]")?.dataset.view ?? null;
    return event.target === canvas ? "canvas" : null;
  };
  forwardInput(toWorker, targetOf);

  // Sizes: the view's CSS size (the worker sizes its drawing buffer); gallery cells' boxes.
  const offscreen = canvas.transferControlToOffscreen();
  let size = { width: 0, height: 0 };
  const pixelRatio = window.devicePixelRatio || 1;
  if (views) {
    // The cells' boxes move when the page scrolls or the grid's layout changes: sent then,
    // not polled every frame (a still gallery does no work).
    let last = "";
    const sendRects = () => {
      const rects = {};
      for (const [id, view] of views) {
        const r = view.getBoundingClientRect();
        rects[id] = { left: r.left, top: r.top, width: r.width, height: r.height };
      }
      const text = JSON.stringify(rects);
      if (text !== last) {
        last = text;
        toWorker({ type: "rects", rects });
      }
    };
    document.addEventListener("scroll", sendRects, { capture: true, passive: true }); // whichever element scrolls
    new ResizeObserver(sendRects).observe(document.querySelector(".gallery"));
    sendRects();
  }
  watchSize(canvas, (width, height) => {
    size = { width, height };
    toWorker({ type: "size", width, height });
  });
  toWorker({ type: "init", config, canvas: offscreen, ...size, pixelRatio }, [offscreen]);

  // Tests and the curious: what the scene holds, and a way to lose the WebGL context.
  const asked = new Map();
  let questions = 0;
  window.vibedraw = {
    state() {
      const id = ++questions;
      return new Promise((resolve) => {
        asked.set(id, resolve);
        toWorker({ type: "describe", id });
      });
    },
    loseContext: () => toWorker({ type: "lose-context" }),
  };

  worker.addEventListener("message", (event) => {
    const msg = event.data || {};
    if (msg.type === "described") {
      asked.get(msg.id)?.(msg.state);
      asked.delete(msg.id);
    } else if (msg.type === "report") report(String(msg.message));
    else if (msg.type === "paused") paused();
    else if (msg.type === "built") {
      if (status !== "paused") setStatus(errors.length ? "error" : "ready");
    } else if (UP.has(msg.type)) post(msg, transfersOf(msg));
  });
  worker.addEventListener("error", (event) => {
    event.preventDefault();
    report(`the 3D view stopped: ${event.message || "an error in its worker"}`);
  });

  window.addEventListener("message", (event) => {
    if (event.source !== shell) return; // only the shell (relaying its host) drives the scene
    const msg = event.data || {};
    if (typeof msg.type !== "string") return;
    if (msg.type === "theme") document.body.style.background = msg.dark ? "#1e1e1e" : "#f5f5f5";
    const started = performance.timeOrigin + performance.now();
    toWorker({ ...msg, started }, transfersOf(msg));
  });
}
