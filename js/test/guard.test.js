import assert from "node:assert/strict";
import { test } from "node:test";
import { runBuild, runFrameCallbacks } from "../src/preview/build.js";
import { instrumentLoops, makeGuard } from "../src/preview/guard.js";
import { DocumentProxy, ElementProxy } from "../src/preview/proxy.js";
import { RUNTIME_CSP, SHELL_CSP, inlineJson, inlineScript, runtimePage, shellPage } from "../src/preview/page.js";

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
  const release = guard.arm(100);
  const runaway = new Function("__vdGuard", "tick", instrumentLoops("while (true) { tick(); }"));
  assert.throws(() => runaway(guard, () => (now += 1)), /ran too long/);
  release();
});

test("overlapping budgets: the earliest open deadline applies, released ones stop counting", () => {
  let now = 0;
  const guard = makeGuard(() => now);
  const spin = (n) => {
    for (let i = 0; i < n; i++) guard();
  };
  const build = guard.arm(1000); // an async build() awaiting …
  const frame = guard.arm(10); // … while a frame's callbacks run
  now = 20;
  assert.throws(() => spin(2048), /ran too long/);
  frame();
  assert.doesNotThrow(() => spin(4096)); // back under the build's budget
  build();
  now = 5000;
  assert.doesNotThrow(() => spin(4096)); // nothing armed: no limit
});

test("runBuild returns the Object3D; onFrame callbacks that throw are dropped", async () => {
  const THREE = { Object3D: class { constructor() { this.isObject3D = true; } } };
  const guard = makeGuard();
  const obj = await runBuild(THREE, "for (const x of [1]) { } return new THREE.Object3D();", {}, guard, 1000);
  assert.ok(obj.isObject3D);
  await assert.rejects(runBuild(THREE, "return 1;", {}, guard, 1000), /must return a THREE.Object3D/);
  await assert.rejects(runBuild(THREE, "await new Promise(() => {});", {}, guard, 20), /did not finish/);
  const seen = [];
  const errors = [];
  const good = (...args) => seen.push(args);
  const bad = () => {
    throw new Error("boom");
  };
  const fns = new Set([good, bad]);
  runFrameCallbacks(fns, [0.016, 1], guard, 250, (err) => errors.push(err.message));
  runFrameCallbacks(fns, [0.016, 2], guard, 250, (err) => errors.push(err.message));
  assert.deepEqual(seen, [[0.016, 1], [0.016, 2]]);
  assert.deepEqual(errors, ["boom"]);
  assert.deepEqual([...fns], [good]);
});

test("the preview page forbids network access and inlines the runtime safely", () => {
  for (const csp of [RUNTIME_CSP, SHELL_CSP]) {
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /https?:|\*|'self'/);
  }
  assert.match(RUNTIME_CSP, /frame-src 'none'/); // no nested realm in the runtime
  assert.match(RUNTIME_CSP, /worker-src blob:(;|$)/); // the scene's Worker, from the runtime's own text
  assert.match(SHELL_CSP, /frame-src about:(;|$)/); // the runtime frame can go nowhere else
  const page = runtimePage("var a = '</script><b>';", { mode: "viewer", objects: [{ code: "return x </script>" }] });
  assert.equal(page.match(/<\/script>/g).length, 3); // only the page's own closing tags
  assert.ok(page.includes(`content="${RUNTIME_CSP}"`));
  const shell = shellPage("var s = '</script>';", page, { title: "a <b> title" });
  assert.equal(shell.match(/<\/script>/g).length, 2);
  assert.ok(shell.includes(`content="${SHELL_CSP}"`) && !shell.includes("<b>"));
  const inner = JSON.parse(shell.match(/id="vd-page">(.*?)<\/script>/s)[1]).page;
  assert.equal(inner, page); // the shell carries the runtime page exactly
  assert.equal(JSON.parse(inlineJson({ code: "</script>" })).code, "</script>");
  assert.equal(inlineScript("a</SCRIPT>"), "a<\\/SCRIPT>");
});

test("the worker's element stand-ins take listeners, a box, and events as plain data", () => {
  const doc = new DocumentProxy();
  const view = new ElementProxy(doc);
  view.rect = { left: 10, top: 20, width: 300, height: 200 };
  assert.equal(view.clientWidth, 300);
  assert.equal(view.clientHeight, 200);
  assert.deepEqual(view.getBoundingClientRect(), { left: 10, top: 20, width: 300, height: 200, x: 10, y: 20, right: 310, bottom: 220 });
  assert.equal(view.ownerDocument, doc);
  assert.equal(view.getRootNode(), doc);
  const seen = [];
  const down = (e) => {
    e.preventDefault(); // OrbitControls calls these: they must exist
    seen.push([e.type, e.clientX, e.target === view]);
  };
  view.addEventListener("pointerdown", down);
  view.dispatch({ type: "pointerdown", clientX: 42 });
  view.dispatch({ type: "pointerup", clientX: 43 }); // no listener: nothing
  view.removeEventListener("pointerdown", down);
  view.dispatch({ type: "pointerdown", clientX: 44 });
  assert.deepEqual(seen, [["pointerdown", 42, true]]);
  const keys = [];
  doc.addEventListener("keydown", (e) => keys.push(e.key));
  doc.dispatch({ type: "keydown", key: "w" });
  assert.deepEqual(keys, ["w"]);
});
