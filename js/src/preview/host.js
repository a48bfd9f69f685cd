// The host side of the sandboxed preview: make the frame, talk to it by postMessage,
// watch that it stays responsive, export bytes, build the standalone page. Used by the
// SketchPad and meant for the World widget too.
import RUNTIME from "virtual:preview-runtime";
import { previewHtml } from "./page.js";

export { RUNTIME };

const PING_MS = 1000;
const HUNG_MS = 5000;

/**
 * A preview in `container`. `onError({message, phase, stack})` for errors in generated code
 * or a hung frame; `onFrame({id, ms})` after the first frame of a result; `onEscape()`
 * when Escape is pressed inside the frame.
 */
export function createPreview(container, { dark = false, onError = () => {}, onFrame = () => {}, onEscape = () => {} } = {}) {
  let iframe = null;
  let ready = false;
  let queue = [];
  let lastPong = 0;
  let pingN = 0;
  let nextId = 1;
  let lastShown = null; // what to restore when the frame is rebuilt
  const waiting = new Map(); // id → {resolve, reject}

  const send = (msg, transfer = []) => {
    if (ready && iframe?.contentWindow) iframe.contentWindow.postMessage(msg, "*", transfer);
    else queue.push([msg, transfer]);
  };

  function makeFrame() {
    iframe?.remove();
    ready = false;
    queue = queue.filter(([m]) => m.type !== "ping");
    iframe = document.createElement("iframe");
    iframe.setAttribute("sandbox", "allow-scripts"); // never allow-same-origin (docs/protocol.md, Generated code)
    iframe.setAttribute("title", "3D preview");
    iframe.className = "vd-preview-frame";
    iframe.srcdoc = previewHtml(RUNTIME, { dark });
    container.appendChild(iframe);
    lastPong = performance.now();
  }

  function onMessage(event) {
    if (!iframe || event.source !== iframe.contentWindow) return;
    const msg = event.data || {};
    lastPong = performance.now();
    switch (msg.type) {
      case "ready":
        ready = true;
        for (const [m, t] of queue) iframe.contentWindow.postMessage(m, "*", t);
        queue = [];
        break;
      case "lost":
        // The browser dropped the frame's WebGL context (it keeps about 16 per page):
        // the pad is what the user works in, so it takes a fresh one and shows again.
        makeFrame();
        if (lastShown) display(lastShown).catch(() => {});
        break;
      case "escape":
        onEscape();
        break;
      case "themed":
        container.dataset.theme = msg.dark ? "dark" : "light";
        break;
      case "frame":
        container.dataset.frames = String(Number(container.dataset.frames || 0) + 1);
        onFrame(msg);
        waiting.get(msg.id)?.resolve(msg);
        waiting.delete(msg.id);
        break;
      case "error":
        onError(msg);
        waiting.get(msg.id)?.reject(new Error(msg.message));
        waiting.delete(msg.id);
        break;
      case "exported":
        if (msg.error) waiting.get(msg.id)?.reject(new Error(msg.error));
        else waiting.get(msg.id)?.resolve(msg.buffer);
        waiting.delete(msg.id);
        break;
      default:
        break;
    }
  }
  window.addEventListener("message", onMessage);

  // Watchdog: a frame that stops answering pings is replaced (a hung loop the guard missed).
  const watchdog = setInterval(() => {
    if (!iframe) return;
    if (ready && document.visibilityState !== "hidden" && performance.now() - lastPong > HUNG_MS) {
      onError({ phase: "watchdog", message: "the preview stopped responding (a runaway loop?) and was restarted" });
      for (const w of waiting.values()) w.reject(new Error("the preview was restarted"));
      waiting.clear();
      lastShown = null;
      makeFrame();
      return;
    }
    if (ready) iframe.contentWindow?.postMessage({ type: "ping", n: ++pingN }, "*");
  }, PING_MS);

  const request = (msg, transfer) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      send({ ...msg, id }, transfer);
    });

  /** Show `{code}` or `{glb}` (remembered, to show again in a rebuilt frame). */
  function display(shown, keepView = false) {
    lastShown = shown;
    if (shown.code !== undefined) return request({ type: "run", code: shown.code, keepView });
    const copy = shown.glb.slice(0); // the caller keeps its bytes
    return request({ type: "glb", buffer: copy }, [copy]);
  }

  makeFrame();

  return {
    get iframe() {
      return iframe;
    },
    /** Run generated code; resolves after its first frame, rejects with its error.
     * `keepView`: leave the camera where it is (an edit of what is shown). */
    showCode(code, { keepView = false } = {}) {
      return display({ code }, keepView);
    },
    /** Show a GLB (ArrayBuffer; copied, so the caller keeps its bytes). */
    showGlb(buffer) {
      return display({ glb: buffer });
    },
    clear() {
      lastShown = null;
      send({ type: "clear" });
    },
    /** Follow the notebook's theme (JupyterLab switches it live). */
    setDark(value) {
      dark = Boolean(value); // a rebuilt frame starts in it too
      send({ type: "theme", dark });
    },
    /** The shown object as GLB bytes (GLTFExporter inside the frame). */
    exportGlb() {
      return request({ type: "export" });
    },
    get shown() {
      return lastShown;
    },
    dispose() {
      clearInterval(watchdog);
      window.removeEventListener("message", onMessage);
      try {
        iframe?.contentWindow?.postMessage({ type: "dispose" }, "*");
      } catch {
        /* gone */
      }
      iframe?.remove();
      iframe = null;
      for (const w of waiting.values()) w.reject(new Error("the preview was closed"));
      waiting.clear();
    },
  };
}

/** A standalone HTML page running `code` with three.js inlined (works offline). */
export function standaloneHtml(code, { dark = false, title = "vibedraw model" } = {}) {
  return previewHtml(RUNTIME, { code, dark, title });
}

/** Offer `data` (Blob parts) as a download named `filename`. */
export function download(filename, data, type) {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
