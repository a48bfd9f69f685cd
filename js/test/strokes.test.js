import assert from "node:assert/strict";
import { test } from "node:test";
import {
  LABEL_SIZE,
  StrokeBuilder,
  emptySketch,
  erasedIndices,
  hitsStroke,
  normalizeSketch,
  outlineToPath,
  parseSketchFile,
  pointCount,
  densify,
  strokeOutline,
  toSketchCoords,
  withStroke,
  withText,
  withoutStrokes,
} from "../src/draw/strokes.js";

test("a pen stroke keeps the pen's pressure, clamped to 0..1", () => {
  const b = new StrokeBuilder({ color: "#e03131", width: 8, pointerType: "pen" });
  b.add(0, 0, 0.2, 0);
  b.add(10, 0, 1.4, 16);
  const s = b.finish();
  assert.deepEqual(s.points, [[0, 0, 0.2], [10, 0, 1]]);
  assert.equal(s.color, "#e03131");
  assert.equal(s.width, 8);
});

test("a mouse stroke simulates pressure from speed: fast is thinner, changes are eased", () => {
  const slow = new StrokeBuilder({ pointerType: "mouse" });
  const fast = new StrokeBuilder({ pointerType: "mouse" });
  for (let i = 0; i < 20; i++) {
    slow.add(i * 0.5, 0, 0.5, i * 16);
    fast.add(i * 40, 0, 0.5, i * 16);
  }
  const last = (b) => b.points.at(-1)[2];
  assert.ok(last(fast) < last(slow), `${last(fast)} < ${last(slow)}`);
  for (const b of [slow, fast]) {
    for (const p of b.points) assert.ok(p[2] >= 0 && p[2] <= 1);
    for (let i = 1; i < b.points.length; i++) assert.ok(Math.abs(b.points[i][2] - b.points[i - 1][2]) < 0.2);
  }
});

test("repeated points are dropped and an empty stroke finishes as null", () => {
  const b = new StrokeBuilder();
  assert.equal(b.finish(), null);
  assert.equal(b.add(1, 1, 0.5, 0), true);
  assert.equal(b.add(1, 1, 0.5, 5), false);
  assert.equal(b.finish().points.length, 1);
});

test("outlines are closed polygons around the stroke; a dot has an outline too", () => {
  const stroke = { points: [[0, 0, 0.5], [50, 0, 0.5], [100, 0, 0.5]], color: "#000", width: 10 };
  const outline = strokeOutline(stroke);
  assert.ok(outline.length > 4);
  const ys = outline.map((p) => p[1]);
  assert.ok(Math.max(...ys) > 2 && Math.min(...ys) < -2, "the outline has width");
  assert.ok(strokeOutline({ points: [[5, 5, 0.5]], color: "#000", width: 6 }).length > 2);
  assert.match(outlineToPath(outline), /^M[-\d.]+,[-\d.]+Q.*Z$/);
  assert.equal(outlineToPath([]), "");
});

test("the eraser hits strokes within its radius plus half the stroke width", () => {
  const stroke = { points: [[0, 0, 0.5], [100, 0, 0.5]], color: "#000", width: 4 };
  assert.ok(hitsStroke(stroke, 50, 5, 4));
  assert.ok(!hitsStroke(stroke, 50, 7, 4));
  assert.ok(hitsStroke({ ...stroke, points: [[10, 10, 0.5]] }, 12, 12, 2));
  const strokes = [stroke, { ...stroke, points: [[0, 50, 0.5], [100, 50, 0.5]] }];
  assert.deepEqual([...erasedIndices(strokes, [[10, 48], [20, 49]], 3)], [1]);
});

test("sketch edits return new sketches and never mutate the old one", () => {
  const s0 = emptySketch(320, 200);
  const stroke = { points: [[1, 2, 0.5]], color: "#000", width: 4 };
  const s1 = withStroke(s0, stroke);
  const s2 = withText(s1, 3.333, 4, "a red apple");
  const s3 = withoutStrokes(s2, new Set([0]));
  assert.equal(s0.strokes.length, 0);
  assert.equal(s1.strokes.length, 1);
  assert.deepEqual(s2.texts, [{ x: 3.33, y: 4, text: "a red apple", color: "#1e1e1e", size: 20 }]);
  assert.equal(s3.strokes.length, 0);
  assert.equal(s3.texts.length, 1);
  assert.equal(pointCount(s2), 1);
  assert.deepEqual([s3.width, s3.height], [320, 200]);
});

test("a label keeps the colour it was written in, at the shared label size", () => {
  const s = withText(emptySketch(), 10, 20, "roof", { color: "#e03131" });
  assert.deepEqual(s.texts, [{ x: 10, y: 20, text: "roof", color: "#e03131", size: LABEL_SIZE }]);
  assert.ok(LABEL_SIZE >= 16, "labels are readable at the pad's usual scale");
});

test("normalizeSketch fills missing fields with DESIGN §3 defaults", () => {
  assert.deepEqual(normalizeSketch(undefined), emptySketch());
  assert.equal(normalizeSketch({ width: -1, strokes: "x" }).width, 640);
  assert.deepEqual(normalizeSketch({ strokes: "x" }).strokes, []);
});

test("client coordinates map to sketch pixels whatever the displayed size", () => {
  const rect = { left: 100, top: 50, width: 320, height: 240 };
  assert.deepEqual(toSketchCoords(260, 170, rect, emptySketch(640, 480)), [320, 240]);
});

test("sketch files must be JSON objects with strokes", () => {
  assert.equal(parseSketchFile('{"strokes": []}').strokes.length, 0);
  assert.throws(() => parseSketchFile("not json"), /not a sketch file/);
  assert.throws(() => parseSketchFile('{"strokes": 3}'), /strokes/);
  assert.throws(() => parseSketchFile('{"hello": 1}'), /strokes/); // not silently an empty sketch
  assert.throws(() => parseSketchFile("[]"), /strokes/);
});

test("a sparse square is drawn through its corners, not smoothed into a blob", () => {
  const corners = [[100, 100, 0.5], [200, 100, 0.5], [200, 200, 0.5], [100, 200, 0.5], [100, 100, 0.5]];
  const outline = strokeOutline({ points: corners, color: "#000", width: 4 });
  for (const [cx, cy] of corners.slice(0, 4)) {
    const nearest = Math.min(...outline.map(([x, y]) => Math.hypot(x - cx, y - cy)));
    assert.ok(nearest < 6, `corner (${cx}, ${cy}) is ${nearest.toFixed(1)} px from the drawn stroke`);
  }
  const dense = densify([[0, 0, 0], [10, 0, 1]], 2);
  assert.equal(dense.length, 6);
  assert.deepEqual(dense[2], [4, 0, 0.4]);
});
