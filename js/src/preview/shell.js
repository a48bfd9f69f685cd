// The shell page's script (docs/preview.md): it hosts the runtime frame. It makes the
// frame (sandboxed, the secret passed as its window name), tears it down for good on a
// second `load` (any navigation; the shell's CSP already blocks the request itself), and
// relays messages: from its host (window.parent, when a frame host named this window)
// down to the runtime, and from the runtime up to the host, only with the frame's secret.
// Standing alone (a notebook output, a saved .html file) it mirrors the runtime's status
// on <body data-status> and rebuilds the runtime when asked (a lost WebGL context).
import { transfersOf } from "./transfer.js";

(() => {
  const hostedSecret = window.name;
  window.name = "";
  const random = () => Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(16)).join("");
  const secret = hostedSecret || random();
  const host = hostedSecret && window.parent !== window ? window.parent : null;
  const holder = document.getElementById("vd-page");
  const { page, title } = JSON.parse(holder.textContent);
  holder.remove();
  let frame = null;

  const up = (msg) => host && host.postMessage({ ...msg, secret }, "*", transfersOf(msg));
  const setStatus = (status) => (document.body.dataset.status = status);

  function stop(message) {
    frame?.remove();
    frame = null;
    const note = document.createElement("div");
    note.className = "vd-stopped";
    note.setAttribute("role", "alert");
    note.textContent = message;
    document.body.replaceChildren(note);
    setStatus("stopped");
    up({ type: "navigated", message });
  }

  function makeFrame() {
    frame?.remove();
    const f = document.createElement("iframe");
    f.setAttribute("sandbox", "allow-scripts"); // its own opaque origin, not the shell's
    f.setAttribute("title", title || "3D preview");
    f.name = secret;
    let loads = 0;
    f.addEventListener("load", () => {
      loads += 1;
      if (loads > 1 && frame === f) {
        stop("The generated code tried to load another page into the preview: it was blocked and the preview stopped.");
      }
    });
    f.srcdoc = page;
    frame = f;
    setStatus("loading");
    document.body.appendChild(f);
  }

  // Focus given to the shell (the World's Walk button) goes on to the runtime's scene;
  // Escape here, as in the runtime, hands focus back to the notebook.
  window.addEventListener("focus", () => frame?.focus());
  window.addEventListener("keydown", (event) => event.key === "Escape" && up({ type: "escape" }));
  window.addEventListener("message", (event) => {
    const msg = event.data;
    if (!msg || typeof msg !== "object") return;
    if (frame && event.source === frame.contentWindow) {
      if (msg.secret !== secret) return; // not the runtime (or it lost its secret): ignore
      if (msg.type === "status") setStatus(String(msg.status));
      if (msg.type === "reload") makeFrame(); // a fresh runtime, which says "ready" again
      up(msg);
    } else if (host && event.source === host && frame) {
      frame.contentWindow.postMessage(msg, "*", transfersOf(msg));
    }
  });

  makeFrame();
})();
