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

test("an error message's line number is found in the usual forms", () => {
  assert.equal(errorLine("SyntaxError: Unexpected token (line 7)"), 7);
  assert.equal(errorLine("TypeError: x is undefined at scene.js:12:5"), 12);
  assert.equal(errorLine("something went wrong"), null);
});
