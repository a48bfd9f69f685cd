// The HTML of the preview frame (and of the standalone "Download .html" page): the
// three.js runtime inlined, a CSP that forbids any network access.

export const PREVIEW_CSP = [
  "default-src 'none'",
  "script-src 'unsafe-inline' 'unsafe-eval'",
  "style-src 'unsafe-inline'",
  "img-src data: blob:",
  "media-src data: blob:",
  "connect-src data: blob:",
  "worker-src blob:",
  "font-src data:",
  "form-action 'none'", // no exfiltration by form submission
  "base-uri 'none'",
].join("; ");

/** Make a script body safe to inline in HTML (no early `</script>`). */
export function inlineScript(js) {
  return js.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

/** JSON safe to inline in a `<script type="application/json">`. */
export function inlineJson(value) {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * The page: `runtime` is the bundled runner (three.js + addons) source; `options.code`
 * embeds code to run at load (standalone page); `options.dark` picks the background.
 */
export function previewHtml(runtime, { code = null, dark = false, title = "vibedraw preview" } = {}) {
  const config = { code, dark, standalone: code !== null };
  const bg = dark ? "#1e1e1e" : "#f5f5f5";
  return `<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${PREVIEW_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title.replace(/[<&"]/g, "")}</title>
<style>html,body{margin:0;height:100%;overflow:hidden;background:${bg}}canvas{display:block;width:100%;height:100%;touch-action:none}</style>
</head><body>
<script type="application/json" id="vd-config">${inlineJson(config)}</script>
<script>${inlineScript(runtime)}</script>
</body></html>`;
}
