import assert from "node:assert/strict";
import { test } from "node:test";
import { emptySketch, withStroke, withText } from "../src/draw/strokes.js";
import { downloadName, hasStrokes, padView, sameSketch, slugify } from "../src/padstate.js";

const drawn = withStroke(emptySketch(), { points: [[10, 10, 0.5], [50, 60, 0.4]], color: "#1e1e1e", width: 4 });
const other = withStroke(drawn, { points: [[5, 5, 0.5], [9, 9, 0.5]], color: "#e03131", width: 8 });
const idle = { status: "idle", sketch: drawn, code: "", resultKind: "", resultSketch: {}, taskType: "" };

test("actions that need strokes are disabled on an empty pad, saying why", () => {
  const view = padView({ ...idle, sketch: withText(emptySketch(), 1, 2, "only a label") });
  for (const name of ["make3d", "makeMesh", "improve"]) {
    assert.equal(view[name].disabled, true, name);
    assert.match(view[name].title, /Draw something first/);
  }
  assert.equal(padView(idle).make3d.disabled, false);
});

test("while a task runs only Cancel is enabled", () => {
  const view = padView({ ...idle, status: "running", taskType: "model" });
  for (const name of ["make3d", "makeMesh", "improve", "edit"]) assert.equal(view[name].disabled, true, name);
  assert.equal(view.cancel.disabled, false);
  assert.equal(padView(idle).cancel.disabled, true);
});

test("Edit acts on code on screen made from the drawing as it is", () => {
  const code = { ...idle, status: "completed", code: "return new THREE.Group();", resultKind: "code", resultSketch: drawn };
  assert.equal(padView(code).edit.disabled, false);
  assert.equal(padView(code).codeNote, "");
  // The same drawing coming back from the kernel: keys reordered, pressure filled in.
  const echoed = { ...drawn, strokes: drawn.strokes.map((s) => ({ width: s.width, color: s.color, points: s.points })) };
  assert.equal(padView({ ...code, sketch: echoed }).edit.disabled, false);
});

test("Edit is disabled, saying why, when the result on screen is a mesh", () => {
  // Make 3D on one drawing, then Make mesh on another: the code left is the old drawing's.
  const mesh = { ...idle, status: "completed", sketch: other, code: "old code", resultKind: "model", resultSketch: other };
  const view = padView(mesh);
  assert.equal(view.edit.disabled, true);
  assert.match(view.edit.title, /mesh/);
  assert.match(view.codeNote, /Stale.*mesh/);
});

test("Edit is disabled and the code marked stale once the drawing changed", () => {
  const view = padView({ ...idle, status: "completed", sketch: other, code: "code", resultKind: "code", resultSketch: drawn });
  assert.equal(view.edit.disabled, true);
  assert.match(view.edit.title, /drawing changed/);
  assert.match(view.codeNote, /drawing changed/);
});

test("a result whose sketch is unknown (saved before results recorded it) counts as current", () => {
  for (const resultSketch of [{}, undefined, null]) {
    const view = padView({ ...idle, status: "completed", code: "code", resultKind: "code", resultSketch });
    assert.equal(view.edit.disabled, false);
    assert.equal(view.codeNote, "");
  }
});

test("code being written is never called stale", () => {
  const view = padView({ ...idle, status: "running", taskType: "3d", sketch: other, code: "// part", resultKind: "model", resultSketch: drawn });
  assert.equal(view.codeNote, "");
});

test("sameSketch compares drawings, not JSON text", () => {
  assert.ok(sameSketch(drawn, JSON.parse(JSON.stringify(drawn))));
  assert.ok(!sameSketch(drawn, other));
  assert.ok(sameSketch(withStroke(emptySketch(), { points: [[1, 2]], color: "#000", width: 4 }), withStroke(emptySketch(), { points: [[1, 2, 0.5]], color: "#000", width: 4 })));
  assert.ok(!sameSketch(withText(drawn, 1, 2, "a"), withText(drawn, 1, 2, "b")));
  assert.ok(!sameSketch(drawn, null));
  assert.ok(hasStrokes(drawn) && !hasStrokes(emptySketch()));
});

test("downloads are named after the prompt, else the labels, else the kind", () => {
  assert.equal(downloadName({ prompt: "A red Apple!", sketch: drawn, kind: "code" }, "glb"), "a-red-apple.glb");
  assert.equal(downloadName({ prompt: "", sketch: withText(drawn, 1, 2, "Café roof"), kind: "model" }, "glb"), "cafe-roof.glb");
  assert.equal(downloadName({ prompt: "  ", sketch: drawn, kind: "model" }, "html"), "vibedraw-model.html");
  assert.equal(slugify("x".repeat(100)).length, 60);
  assert.equal(slugify("日本"), "");
});
