// The preview's pages (docs/preview.md): every place that shows 3D nests two sandboxed
// documents.
//   shell   <iframe sandbox="allow-scripts">, or the top of a saved .html file: no user
//           code; its CSP allows only about: frames, so the runtime frame inside it can
//           never be navigated to another page (the browser checks a frame's navigations
//           against its parent's frame-src before any request is made). It watches the
//           runtime frame's loads, relays messages and checks their secret (shell.js).
//   runtime <iframe sandbox="allow-scripts"> inside the shell: three.js, the scene and the
//           generated code (runtime.js); its CSP forbids every network access and every
//           nested frame.
// viewer.py writes the same two pages from Python (the CSPs come from this file, through
// the bundle's contract).

// A srcdoc frame inherits its parent's policy on top of its own, so the runtime frame lives
// under both: the shell's must allow all the runtime needs (eval for generated code, data:
// images), and only the frame rules differ.
const BASE_CSP = [
  "default-src 'none'",
  "script-src 'unsafe-inline' 'unsafe-eval'", // generated code runs as an AsyncFunction
  "style-src 'unsafe-inline'",
  "img-src data: blob:",
  "media-src data: blob:",
  "connect-src data: blob:",
  "font-src data:",
  "worker-src blob:", // the scene runs in a Worker made from the runtime's own text
  "object-src 'none'",
  "form-action 'none'", // no exfiltration by form submission
  "base-uri 'none'",
];

/** The runtime page's policy: no network, no nested frame (no fresh realm to take WebRTC back from). */
export const RUNTIME_CSP = [...BASE_CSP, "frame-src 'none'", "child-src 'none'"].join("; ");

/** The shell page's policy: the runtime frame (about:srcdoc) and nothing else, ever. */
export const SHELL_CSP = [...BASE_CSP, "frame-src about:", "child-src about:"].join("; ");

/** The only permission either frame gets: no same-origin, popups, forms or downloads. */
export const SANDBOX = "allow-scripts";

/** Make a script body safe to inline in HTML (no early `</script>`). */
export function inlineScript(js) {
  return js.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

/** JSON safe to inline in a `<script type="application/json">`. */
export function inlineJson(value) {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

const escapeText = (text) => String(text).replace(/[<&"]/g, "");

// Runs the runtime, keeping its text for the worker it starts (window.js). A saved page
// carries it gzipped and unpacks it first (viewer.py), then does the same.
const BOOT =
  "{const e=document.getElementById('vd-runtime');window.__vdRuntime=e.textContent;e.remove();" +
  "(0,eval)(window.__vdRuntime);}";

/**
 * The runtime page: `runtime` is the bundled runtime (three.js + addons) source; `config`
 * follows docs/preview.md (mode, dark, objects, …).
 */
export function runtimePage(runtime, config = {}) {
  const bg = config.dark ? "#1e1e1e" : "#f5f5f5";
  return `<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${RUNTIME_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>html,body{margin:0;height:100%;overflow:hidden;background:${bg}}canvas{display:block;width:100%;height:100%;touch-action:none}</style>
</head><body>
<script type="application/json" id="vd-config">${inlineJson(config)}</script>
<script type="text/plain" id="vd-runtime">${inlineScript(runtime)}</script>
<script>${BOOT}</script>
</body></html>`;
}

/**
 * The shell page around a runtime `page` (HTML text): `shell` is the bundled shell script.
 * `hosted`: a frame host (host.js) drives it by postMessage; else it stands alone (a
 * notebook output, a saved file).
 */
export function shellPage(shell, page, { title = "vibedraw preview", dark = false } = {}) {
  const bg = dark ? "#1e1e1e" : "#f5f5f5";
  return `<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${SHELL_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeText(title)}</title>
<style>html,body{margin:0;height:100%;overflow:hidden;background:${bg};font:13px system-ui,sans-serif}iframe{display:block;border:0;width:100%;height:100%}.vd-stopped{padding:12px;color:#900;background:#fff5f5;height:100%;box-sizing:border-box}</style>
</head><body data-status="loading">
<script type="application/json" id="vd-page">${inlineJson({ page, title })}</script>
<script>${inlineScript(shell)}</script>
</body></html>`;
}
