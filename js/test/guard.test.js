import assert from "node:assert/strict";
import { test } from "node:test";
import { instrumentLoops, makeGuard } from "../src/preview/guard.js";
import { PREVIEW_CSP, inlineJson, inlineScript, previewHtml } from "../src/preview/page.js";

const G = "__vdGuard();";
const count = (s) => s.split(G).length - 1;

test("every braced loop body gets a guard call", () => {
  const code = `for (let i = 0; i < 3; i++) { a(); }
while (x) { y(); }
do { z(); } while (w);
for (const k of list) { }
for await (const v of gen()) { }`;
  const out = instrumentLoops(code);
  assert.equal(count(out), 5);
  assert.match(out, /for \(let i = 0; i < 3; i\+\+\) \{__vdGuard\(\); a\(\); \}/);
});

test("strings, templates, comments, regexes and names are left alone", () => {
  const code = [
    'const s = "for (;;) { }";',
    "const t = `while (1) { ${ 'do {' } }`;",
    "// while (true) { }",
    "/* for (;;) { } */",
    "const r = /for (x) {/;",
    "const fortune = whilst.do;",
    "obj.for = 1;",
  ].join("\n");
  assert.equal(instrumentLoops(code), code);
});

test("instrumented code still runs and a runaway loop is stopped", async () => {
  let now = 0;
  const guard = makeGuard(() => now);
  const fn = new Function("__vdGuard", instrumentLoops("let n = 0; for (let i = 0; i < 5000; i++) { n++; } return n;"));
  assert.equal(fn(guard), 5000);
  guard.arm(100);
  const runaway = new Function("__vdGuard", "tick", instrumentLoops("while (true) { tick(); }"));
  assert.throws(() => runaway(guard, () => (now += 1)), /ran too long/);
  guard.disarm();
});

test("the preview page forbids network access and inlines the runtime safely", () => {
  assert.match(PREVIEW_CSP, /default-src 'none'/);
  assert.doesNotMatch(PREVIEW_CSP, /https?:|\*/);
  const html = previewHtml("var a = '</script><b>';", { code: "return x </script>" });
  assert.equal(html.match(/<\/script>/g).length, 2); // only the page's own closing tags
  assert.ok(html.includes(`content="${PREVIEW_CSP}"`));
  assert.equal(JSON.parse(inlineJson({ code: "</script>" })).code, "</script>");
  assert.equal(inlineScript("a</SCRIPT>"), "a<\\/SCRIPT>");
  assert.ok(!previewHtml("x", { code: null }).includes('"standalone":true'));
});
