// The frame host (docs/preview.md): the one piece of notebook-side code that owns a
// preview frame. It makes the shell frame (sandboxed, a fresh secret as its window name),
// accepts a message only from that frame's window and only with that secret, tears the
// frame down when the shell reports "navigated" (the shell stops its runtime frame on a
// second load), replaces the whole frame on a second load of its own, queues messages
// until the runtime is ready, and replaces a frame that stops answering pings. The SketchPad's preview (host.js) and the World widget use it; it
// carries no runtime, so the World's bundle stays small.
import { SANDBOX } from "./page.js";
import { transfersOf } from "./transfer.js";

const PING_MS = 1000;
const HUNG_MS = 5000;

function newSecret() {
  return Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(16).padStart(8, "0")).join("");
}

/**
 * A hosted preview frame in `container`, showing the shell page `page()` (a function, so
 * a rebuilt frame gets a fresh page). `onMessage(msg)` gets every checked message but
 * pings; `onReady()` each time a runtime says it is ready; `onReload()` when the frame
 * was reloaded from outside (moved in the DOM) and replaced by a fresh one;
 * `onFailure({phase, message})` when the runtime frame was stopped (`navigated`: the
 * generated code tried to leave) or replaced (`watchdog`); a fresh frame says ready again.
 * `watchdog: false` for frames that may be busy for long (the World's builds).
 */
export function createFrame(container, { page, title = "3D preview", className = "", onMessage = () => {}, onReady = () => {}, onReload = () => {}, onFailure = () => {}, watchdog = true } = {}) {
  let iframe = null;
  let secret = "";
  let ready = false;
  let loads = 0;
  let queue = [];
  let lastPong = 0;
  let pingN = 0;
  let disposed = false;

  const postNow = (msg, transfer) => iframe.contentWindow.postMessage(msg, "*", transfer);

  function make() {
    iframe?.remove();
    ready = false;
    loads = 0;
    queue = queue.filter(([m]) => m.type !== "ping");
    secret = newSecret();
    const frame = document.createElement("iframe");
    frame.setAttribute("sandbox", SANDBOX); // never allow-same-origin (docs/preview.md)
    frame.setAttribute("title", title);
    if (className) frame.className = className;
    frame.name = secret; // the shell reads it and clears it
    frame.addEventListener("load", () => {
      loads += 1;
      if (loads === 1 || frame !== iframe) return;
      // A second load of the shell: nothing inside can navigate it (the runtime frame is
      // sandboxed and blocked by the shell's CSP), so the notebook moved the frame in the
      // DOM (JupyterLab's windowing does), which reloads it. Whatever it shows now, it gets
      // a fresh shell with a fresh secret, and what was shown is shown again.
      make();
      onReload();
    });
    frame.srcdoc = page();
    iframe = frame;
    container.appendChild(frame);
    lastPong = performance.now();
  }

  function stop(message) {
    iframe?.remove();
    iframe = null;
    ready = false;
    queue = [];
    onFailure({ phase: "navigated", message });
  }

  function onWindowMessage(event) {
    if (!iframe || event.source !== iframe.contentWindow) return;
    const msg = event.data;
    if (!msg || typeof msg !== "object" || msg.secret !== secret) return;
    lastPong = performance.now();
    if (msg.type === "navigated") {
      stop(String(msg.message || "The preview tried to navigate away and was stopped."));
      return;
    }
    if (msg.type === "ready") {
      ready = true;
      for (const [m, t] of queue) postNow(m, t);
      queue = [];
      onReady();
    }
    if (msg.type !== "pong") onMessage(msg);
  }
  window.addEventListener("message", onWindowMessage);

  // Watchdog: a frame that stops answering pings is replaced (a hung loop the guard missed).
  const timer = watchdog
    ? setInterval(() => {
        // A frame out of the document (an output scrolled away and detached) answers nothing.
        if (!iframe || !ready || !iframe.isConnected) {
          lastPong = performance.now();
          return;
        }
        if (document.visibilityState !== "hidden" && performance.now() - lastPong > HUNG_MS) {
          make();
          onFailure({ phase: "watchdog", message: "the preview stopped responding (a runaway loop?) and was restarted" });
          return;
        }
        postNow({ type: "ping", n: ++pingN }, []);
      }, PING_MS)
    : null;

  make();

  return {
    get iframe() {
      return iframe;
    },
    get ready() {
      return ready;
    },
    /** Send to the runtime now if it is ready, else once it is (ArrayBuffers transferred). */
    post(msg, transfer = transfersOf(msg)) {
      if (!iframe) make(); // a stopped frame starts afresh for the next thing shown
      if (ready) postNow(msg, transfer);
      else queue.push([msg, transfer]);
    },
    /** A fresh frame (the same page). */
    rebuild: make,
    dispose() {
      disposed = true;
      if (timer) clearInterval(timer);
      window.removeEventListener("message", onWindowMessage);
      iframe?.remove();
      iframe = null;
    },
    get disposed() {
      return disposed;
    },
  };
}
