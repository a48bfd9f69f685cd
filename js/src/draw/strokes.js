// Stroke logic for the pad: capture points, simulate pressure for mice, outline strokes
// with perfect-freehand, erase by hit-testing, and convert to/from the sketch format (docs/protocol.md).
// Pure functions and plain data only (no DOM), so node's test runner covers them.
import { getStroke } from "perfect-freehand";

export const DEFAULT_SKETCH = Object.freeze({
  version: 1,
  width: 640,
  height: 480,
  background: "#ffffff",
  strokes: [],
  texts: [],
});

/** An empty sketch of the given size (docs/protocol.md, The sketch). */
export function emptySketch(width = 640, height = 480, background = "#ffffff") {
  return { version: 1, width, height, background, strokes: [], texts: [] };
}

/** A sketch with every field present (a trait may arrive partly filled). */
export function normalizeSketch(raw) {
  const s = raw && typeof raw === "object" ? raw : {};
  return {
    version: 1,
    width: Number.isFinite(s.width) && s.width > 0 ? s.width : 640,
    height: Number.isFinite(s.height) && s.height > 0 ? s.height : 480,
    background: typeof s.background === "string" ? s.background : "#ffffff",
    strokes: Array.isArray(s.strokes) ? s.strokes : [],
    texts: Array.isArray(s.texts) ? s.texts : [],
  };
}

const round2 = (v) => Math.round(v * 100) / 100;
const clamp01 = (v) => Math.min(1, Math.max(0, v));

/**
 * Collects the points of one stroke as pointer events arrive.
 * Mice report no real pressure (0.5 while pressed), so pressure is simulated from
 * speed (fast → thinner) and *stored*, so the pad, the PNG and every reader agree.
 */
export class StrokeBuilder {
  constructor({ color = "#1e1e1e", width = 4, pointerType = "mouse" } = {}) {
    this.color = color;
    this.width = width;
    this.simulate = pointerType === "mouse";
    this.points = [];
    this._last = null;
  }

  /** Add a point; `pressure` as the PointerEvent gives it, `time` in ms. */
  add(x, y, pressure = 0.5, time = 0) {
    let p;
    if (this.simulate || !(pressure > 0)) {
      p = 0.5;
      if (this._last) {
        const dist = Math.hypot(x - this._last.x, y - this._last.y);
        const dt = Math.max(1, time - this._last.t);
        const target = clamp01(0.75 - Math.min(1, dist / dt / 3) * 0.45);
        p = this._last.p + (target - this._last.p) * 0.3; // ease so width changes smoothly
      }
    } else {
      p = clamp01(pressure);
    }
    const prev = this.points[this.points.length - 1];
    if (prev && prev[0] === round2(x) && prev[1] === round2(y)) return false;
    this._last = { x, y, t: time, p };
    this.points.push([round2(x), round2(y), round2(p)]);
    return true;
  }

  /** The finished stroke (docs/protocol.md, The sketch), or null when nothing was drawn. */
  finish() {
    if (!this.points.length) return null;
    return { points: this.points.slice(), color: this.color, width: this.width };
  }
}

/** Options for perfect-freehand that match the Python renderer (diameter = width·(0.5+p)). */
export function strokeOptions(stroke, last = true) {
  return {
    size: stroke.width,
    thinning: 0.5,
    smoothing: 0.5,
    streamline: 0.4,
    simulatePressure: false,
    last,
  };
}

/** The outline polygon of a stroke: a list of [x, y]. A lone point becomes a dot. */
export function strokeOutline(stroke, last = true) {
  const pts = stroke.points;
  if (!pts.length) return [];
  const input = pts.length === 1 ? [pts[0], [pts[0][0] + 0.01, pts[0][1], pts[0][2]]] : densify(pts, 2);
  return getStroke(input, strokeOptions(stroke, last));
}

/**
 * Points at most `step` px apart, interpolated along each segment. perfect-freehand
 * smooths by streamlining towards each next point, which cuts the corners of sparse
 * strokes (an improved square's five corners, a traced PNG) into blobs; densified, it
 * follows the segments, as the Python renderer does. Hand-drawn strokes are dense already.
 */
export function densify(points, step) {
  const out = [points[0]];
  for (let i = 1; i < points.length; i++) {
    const [x0, y0, p0 = 0.5] = points[i - 1];
    const [x1, y1, p1 = 0.5] = points[i];
    const n = Math.ceil(Math.hypot(x1 - x0, y1 - y0) / step);
    for (let k = 1; k < n; k++) {
      const t = k / n;
      out.push([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, p0 + (p1 - p0) * t]);
    }
    out.push(points[i]);
  }
  return out;
}

/** SVG path data for an outline (Path2D accepts it), with quadratic smoothing. */
export function outlineToPath(outline) {
  const n = outline.length;
  if (n < 2) return "";
  let d = `M${outline[0][0].toFixed(2)},${outline[0][1].toFixed(2)}Q`;
  for (let i = 0; i < n; i++) {
    const [x0, y0] = outline[i];
    const [x1, y1] = outline[(i + 1) % n];
    d += `${x0.toFixed(2)},${y0.toFixed(2)} ${((x0 + x1) / 2).toFixed(2)},${((y0 + y1) / 2).toFixed(2)} `;
  }
  return d + "Z";
}

/** Distance from point p to segment ab. */
export function segmentDistance(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Whether the eraser at (x, y) with radius r touches the stroke. */
export function hitsStroke(stroke, x, y, r) {
  const pts = stroke.points;
  const reach = r + stroke.width / 2;
  if (pts.length === 1) return Math.hypot(pts[0][0] - x, pts[0][1] - y) <= reach;
  for (let i = 1; i < pts.length; i++) {
    if (segmentDistance(x, y, pts[i - 1][0], pts[i - 1][1], pts[i][0], pts[i][1]) <= reach) {
      return true;
    }
  }
  return false;
}

/** Indices of strokes the eraser path (a list of [x, y]) touches. */
export function erasedIndices(strokes, path, r) {
  const hit = new Set();
  strokes.forEach((stroke, i) => {
    if (path.some(([x, y]) => hitsStroke(stroke, x, y, r))) hit.add(i);
  });
  return hit;
}

/** A new sketch with one stroke appended. */
export function withStroke(sketch, stroke) {
  return { ...normalizeSketch(sketch), strokes: [...normalizeSketch(sketch).strokes, stroke] };
}

/** A new sketch without the strokes at `indices`. */
export function withoutStrokes(sketch, indices) {
  const s = normalizeSketch(sketch);
  return { ...s, strokes: s.strokes.filter((_, i) => !indices.has(i)) };
}

/** Font size of a label in sketch pixels (sketch.render_png in Python uses the same). */
export const LABEL_SIZE = 24;
export const LABEL_COLOR = "#1e1e1e";

/** A new sketch with one text label appended (labels feed the prompt), in `color`. */
export function withText(sketch, x, y, text, { color = LABEL_COLOR, size = LABEL_SIZE } = {}) {
  const s = normalizeSketch(sketch);
  return { ...s, texts: [...s.texts, { x: round2(x), y: round2(y), text, color, size }] };
}

/** Total points of a sketch. */
export function pointCount(sketch) {
  return normalizeSketch(sketch).strokes.reduce((n, s) => n + s.points.length, 0);
}

/** Map a client position to sketch pixels, given the canvas' bounding rect. */
export function toSketchCoords(clientX, clientY, rect, sketch) {
  const s = normalizeSketch(sketch);
  return [
    ((clientX - rect.left) * s.width) / Math.max(1, rect.width),
    ((clientY - rect.top) * s.height) / Math.max(1, rect.height),
  ];
}

/** Parse a sketch file's text (JSON, docs/protocol.md, The sketch); throws with a readable message. */
export function parseSketchFile(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not a sketch file: ${err.message}`);
  }
  // `strokes` must be there: an unrelated JSON file would otherwise load as an empty sketch.
  if (!data || typeof data !== "object" || !Array.isArray(data.strokes)) {
    throw new Error("not a sketch file: expected an object with a `strokes` list");
  }
  return data;
}
