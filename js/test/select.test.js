import assert from "node:assert/strict";
import { test } from "node:test";
import {
  contentBounds,
  deleteSelection,
  handleAt,
  insidePolygon,
  isEmptySelection,
  moveSelection,
  scaleFactors,
  scaleSelection,
  selectAt,
  selectInBox,
  selectInLasso,
  selectionBounds,
} from "../src/draw/select.js";
import { canvasTransform, fitView, identityView, panBy, toSketch, wheelFactor, zoomAt } from "../src/draw/view.js";

const square = { points: [[100, 100, 0.5], [200, 100, 0.5], [200, 200, 0.5], [100, 200, 0.5], [100, 100, 0.5]], color: "#e03131", width: 4 };
const line = { points: [[300, 300, 0.5], [400, 350, 0.5]], color: "#1e1e1e", width: 4 };
const sketch = { version: 1, width: 640, height: 480, background: "#ffffff", strokes: [square, line], texts: [{ x: 500, y: 50, text: "sun" }] };
const rect = { left: 10, top: 20, width: 320, height: 240 };

test("a click picks the topmost stroke or label under it, nothing elsewhere", () => {
  assert.deepEqual([...selectAt(sketch, 150, 101).strokes], [0]);
  assert.deepEqual([...selectAt(sketch, 350, 325).strokes], [1]);
  assert.deepEqual([...selectAt(sketch, 505, 55).texts], [0]);
  assert.ok(isEmptySelection(selectAt(sketch, 150, 150))); // inside the square, away from its ink
});

test("a box picks what lies wholly inside it, corners in any order", () => {
  const sel = selectInBox(sketch, 450, 0, 50, 250);
  assert.deepEqual([...sel.strokes], [0]);
  assert.equal(sel.texts.size, 0);
  assert.deepEqual([...selectInBox(sketch, 0, 0, 640, 480).texts], [0]);
});

test("a lasso picks strokes with every point inside and labels anchored inside", () => {
  const ring = [[250, 250], [450, 250], [450, 400], [250, 400]];
  assert.ok(insidePolygon(300, 300, ring) && !insidePolygon(100, 100, ring));
  const sel = selectInLasso(sketch, ring);
  assert.deepEqual([...sel.strokes], [1]);
  assert.ok(isEmptySelection(selectInLasso(sketch, [[0, 0], [1, 1]])));
});

test("moving, scaling and deleting make new sketches and leave the rest alone", () => {
  const sel = selectAt(sketch, 150, 101);
  const moved = moveSelection(sketch, sel, 10, -5);
  assert.deepEqual(moved.strokes[0].points[0], [110, 95, 0.5]);
  assert.equal(moved.strokes[1], line);
  assert.deepEqual(sketch.strokes[0].points[0], [100, 100, 0.5]); // the original is untouched
  const scaled = scaleSelection(sketch, sel, 100, 100, 2, 0.5);
  assert.deepEqual(scaled.strokes[0].points[2], [300, 150, 0.5]);
  const gone = deleteSelection(sketch, { strokes: new Set([0]), texts: new Set([0]) });
  assert.deepEqual(gone.strokes, [line]);
  assert.deepEqual(gone.texts, []);
});

test("corner handles scale about the opposite corner and never flip", () => {
  const b = selectionBounds(sketch, selectAt(sketch, 150, 101));
  assert.deepEqual([b.x0, b.y0, b.x1, b.y1], [98, 98, 202, 202]);
  const h = handleAt(b, 201, 201, 6);
  assert.equal(h.name, "se");
  assert.deepEqual(h.anchor, [98, 98]);
  const [sx, sy] = scaleFactors(h, 306, 150);
  assert.ok(Math.abs(sx - 2) < 1e-9 && Math.abs(sy - 0.5) < 1e-9);
  assert.deepEqual(scaleFactors(h, 0, 0), [0.05, 0.05]);
  assert.deepEqual(scaleFactors(h, 306, 150, true), [2, 2]);
  assert.equal(handleAt(b, 150, 150, 6), null);
});

test("the view maps the screen to sketch pixels and zooms about the cursor", () => {
  const v = identityView();
  assert.deepEqual(toSketch(v, 10 + 160, 20 + 120, rect, sketch), [320, 240]);
  const z = zoomAt(v, 320, 240, 2);
  assert.deepEqual(toSketch(z, 170, 140, rect, sketch), [320, 240]); // the point under the cursor stays
  assert.deepEqual(toSketch(z, 10, 20, rect, sketch), [160, 120]);
  assert.equal(zoomAt(v, 0, 0, 1000).zoom, 8); // clamped
  const p = panBy(z, 40, 0);
  assert.equal(toSketch(p, 170, 140, rect, sketch)[0], 300);
  assert.deepEqual(canvasTransform(z, 1280, 960, sketch), [4, 0, 0, 4, -640, -480]);
  assert.ok(wheelFactor(-100) > 1 && wheelFactor(100) < 1);
  assert.ok(Math.abs(wheelFactor(100) * wheelFactor(-100) - 1) < 1e-12);
});

test("fit frames the drawing's content, or the page when it is empty", () => {
  const f = fitView(sketch, contentBounds(sketch));
  const [x0, y0] = toSketch(f, 10, 20, rect, sketch);
  const [x1, y1] = toSketch(f, 330, 260, rect, sketch);
  const b = contentBounds(sketch);
  assert.ok(x0 <= b.x0 && y0 <= b.y0 && x1 >= b.x1 && y1 >= b.y1, "all content visible");
  assert.ok(x1 - x0 < 640 || y1 - y0 < 480, "zoomed in on the content");
  assert.deepEqual(fitView(sketch, contentBounds({ ...sketch, strokes: [], texts: [] })), identityView());
});
