// The SketchPad's side of the preview (docs/preview.md): the pad's frame on the shared
// frame host, and the standalone page of "Download .html". The runtime and shell scripts
// come from the build's contract (virtual:preview-contract), which viewer.py reads back
// out of the built bundle: three.js ships once.
import CONTRACT from "virtual:preview-contract";
import { createFrame } from "./frame.js";
import { runtimePage, shellPage } from "./page.js";

export const { runtime: RUNTIME, shell: SHELL } = CONTRACT;

/**
 * The SketchPad's preview in `container`. `onError({message, phase, stack})` for errors in
 * generated code, a hung frame or a navigation attempt; `onFrame({id, ms})` after the first
 * frame of a result; `onEscape()` when Escape is pressed inside the frame.
 */
export function createPreview(container, { dark = false, onError = () => {}, onFrame = () => {}, onEscape = () => {} } = {}) {
  let nextId = 1;
  let lastShown = null; // what to restore when the frame is rebuilt
  let restore = false;
  const waiting = new Map(); // id → {resolve, reject}
  const rejectAll = (why) => {
    for (const w of waiting.values()) w.reject(new Error(why));
    waiting.clear();
  };

  const frame = createFrame(container, {
    page: () => shellPage(SHELL, runtimePage(RUNTIME, { mode: "preview", dark }), { dark }),
    title: "3D preview",
    className: "vd-preview-frame",
    onReady() {
      if (restore && lastShown) display(lastShown).catch(() => {});
      restore = false;
    },
    onReload() {
      rejectAll("the preview was reloaded");
      restore = true;
    },
    onFailure(failure) {
      rejectAll(failure.phase === "navigated" ? "the preview was stopped" : "the preview was restarted");
      lastShown = null;
      onError(failure);
    },
    onMessage(msg) {
      switch (msg.type) {
        case "lost":
          // The browser dropped the frame's WebGL context (it keeps about 16 per page):
          // the pad is what the user works in, so it takes a fresh one and shows again.
          restore = true;
          frame.rebuild();
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
    },
  });

  const request = (msg) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      frame.post({ ...msg, id });
    });

  /** Show `{code}` or `{glb}` (remembered, to show again in a rebuilt frame). */
  function display(shown, keepView = false) {
    lastShown = shown;
    if (shown.code !== undefined) return request({ type: "run", code: shown.code, keepView });
    return request({ type: "glb", buffer: shown.glb.slice(0) }); // the caller keeps its bytes
  }

  return {
    get iframe() {
      return frame.iframe;
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
      frame.post({ type: "clear" });
    },
    /** Follow the notebook's theme (JupyterLab switches it live). */
    setDark(value) {
      dark = Boolean(value); // a rebuilt frame starts in it too
      frame.post({ type: "theme", dark });
    },
    /** The shown object as GLB bytes (GLTFExporter inside the frame). */
    exportGlb() {
      return request({ type: "export" });
    },
    get shown() {
      return lastShown;
    },
    dispose() {
      if (frame.ready) frame.post({ type: "dispose" });
      frame.dispose();
      rejectAll("the preview was closed");
    },
  };
}

/**
 * A standalone HTML page running `code` (works offline, from file://): the same shell and
 * runtime pages as every preview, the shell at the top.
 */
export function standaloneHtml(code, { dark = false, title = "vibedraw model" } = {}) {
  const objects = [{ id: "model", label: title, kind: "code", code }];
  return shellPage(SHELL, runtimePage(RUNTIME, { mode: "viewer", dark, title, objects }), { title, dark });
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
