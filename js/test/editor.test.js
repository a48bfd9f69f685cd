import assert from "node:assert/strict";
import { test } from "node:test";
import { errorLine, highlight } from "../src/editor.js";

const strip = (html) =>
  html.replace(/<[^>]+>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

test("highlighting keeps the text exactly and escapes markup", () => {
  const code = 'const m = new THREE.Mesh(g, "<b>" + `x${1}`); // a </pre> & more\n/* block */ let n = 0x1f * 2.5e3;';
  const html = highlight(code);
  assert.equal(strip(html), `${code}\n`);
  assert.ok(!html.includes("<b>") && !html.includes("</pre>"));
  assert.match(html, /<span class="vd-hl-k">const<\/span>/);
  assert.match(html, /<span class="vd-hl-t">THREE<\/span>/);
  assert.match(html, /<span class="vd-hl-s">"&lt;b&gt;"<\/span>/);
  assert.match(html, /<span class="vd-hl-c">\/\/ a &lt;\/pre&gt; &amp; more<\/span>/);
  assert.match(html, /<span class="vd-hl-n">0x1f<\/span>/);
});

test("an unterminated string or comment highlights to the end without losing text", () => {
  for (const code of ['let s = "open', "/* open comment\nstill", "`tmpl ${x}"]) {
    assert.equal(strip(highlight(code)), `${code}\n`);
  }
});

test("an error points at the user's line: the generated function's frame, else 'line N'", async () => {
  const AsyncFunction = (async () => {}).constructor;
  const code = "const a = 1;\nconst b = 2;\nnull.boom;\nreturn a + b;";
  const build = new AsyncFunction("THREE", "ctx", "__vdGuard", code);
  const err = await build().then(() => null, (e) => e);
  assert.equal(errorLine(err.message, err.stack), 3);
  assert.equal(errorLine("SyntaxError: Unexpected token (line 7)"), 7);
  assert.equal(errorLine("something went wrong", ""), null);
});
