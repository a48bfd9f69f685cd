// Selecting and transforming what is on the pad: pick strokes and text labels by a click,
// a box or a lasso; move, scale and delete them. Pure functions of the sketch (sketch
// pixels, y down), each returning a new sketch, so every change is one undo step and the
// stored format never changes (docs/protocol.md, "The sketch").
import { LABEL_SIZE, hitsStroke, normalizeSketch } from "./strokes.js";

const round2 = (v) => Math.round(v * 100) / 100;

/** An empty selection: indices into `sketch.strokes` and `sketch.texts`. */
export function emptySelection() {
  return { strokes: new Set(), texts: new Set() };
}

export function isEmptySelection(sel) {
  return !sel || (sel.strokes.size === 0 && sel.texts.size === 0);
}

/** A label's box: its anchor is the top-left corner (as drawn: textBaseline "top"). */
export function labelBox(text) {
  const size = text.size || LABEL_SIZE;
  const w = Math.max(size, 0.6 * size * text.text.length);
  return { x0: text.x, y0: text.y, x1: text.x + w, y1: text.y + 1.25 * size };
}

function strokeBox(stroke) {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of stroke.points) {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  const r = (stroke.width || 0) / 2;
  return { x0: x0 - r, y0: y0 - r, x1: x1 + r, y1: y1 + r };
}

const inBox = (x, y, b) => x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1;

/** The topmost label or stroke under (x, y), within `r` pixels; an empty selection if none. */
export function selectAt(sketch, x, y, r = 6) {
  const s = normalizeSketch(sketch);
  const sel = emptySelection();
  for (let i = s.texts.length - 1; i >= 0; i--) {
    if (inBox(x, y, labelBox(s.texts[i]))) {
      sel.texts.add(i);
      return sel;
    }
  }
  for (let i = s.strokes.length - 1; i >= 0; i--) {
    if (s.strokes[i].points.length && hitsStroke(s.strokes[i], x, y, r)) {
      sel.strokes.add(i);
      return sel;
    }
  }
  return sel;
}

/** Everything wholly inside the box from (x0, y0) to (x1, y1), corners in any order. */
export function selectInBox(sketch, x0, y0, x1, y1) {
  const box = { x0: Math.min(x0, x1), y0: Math.min(y0, y1), x1: Math.max(x0, x1), y1: Math.max(y0, y1) };
  const s = normalizeSketch(sketch);
  const sel = emptySelection();
  s.strokes.forEach((stroke, i) => {
    if (stroke.points.length && stroke.points.every(([x, y]) => inBox(x, y, box))) sel.strokes.add(i);
  });
  s.texts.forEach((t, i) => {
    const b = labelBox(t);
    if (inBox(b.x0, b.y0, box) && inBox(b.x1, b.y1, box)) sel.texts.add(i);
  });
  return sel;
}

/** Whether (x, y) is inside the polygon `ring` (a list of [x, y]; even-odd rule). */
export function insidePolygon(x, y, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Strokes with every point inside the lasso `ring`, and labels anchored inside it. */
export function selectInLasso(sketch, ring) {
  const s = normalizeSketch(sketch);
  const sel = emptySelection();
  if (ring.length < 3) return sel;
  s.strokes.forEach((stroke, i) => {
    if (stroke.points.length && stroke.points.every(([x, y]) => insidePolygon(x, y, ring))) {
      sel.strokes.add(i);
    }
  });
  s.texts.forEach((t, i) => {
    if (insidePolygon(t.x, t.y, ring)) sel.texts.add(i);
  });
  return sel;
}

/** The box around the selection ({x0, y0, x1, y1}), or null when it is empty. */
export function selectionBounds(sketch, sel) {
  if (isEmptySelection(sel)) return null;
  const s = normalizeSketch(sketch);
  const boxes = [
    ...[...sel.strokes].filter((i) => s.strokes[i]?.points.length).map((i) => strokeBox(s.strokes[i])),
    ...[...sel.texts].filter((i) => s.texts[i]).map((i) => labelBox(s.texts[i])),
  ];
  if (!boxes.length) return null;
  return {
    x0: Math.min(...boxes.map((b) => b.x0)),
    y0: Math.min(...boxes.map((b) => b.y0)),
    x1: Math.max(...boxes.map((b) => b.x1)),
    y1: Math.max(...boxes.map((b) => b.y1)),
  };
}

/** Apply `f([x, y]) → [x, y]` to the selected strokes' points and labels' anchors. */
function mapSelection(sketch, sel, f) {
  const s = normalizeSketch(sketch);
  return {
    ...s,
    strokes: s.strokes.map((stroke, i) =>
      sel.strokes.has(i)
        ? {
            ...stroke,
            points: stroke.points.map(([x, y, ...rest]) => {
              const [nx, ny] = f(x, y);
              return [round2(nx), round2(ny), ...rest];
            }),
          }
        : stroke,
    ),
    texts: s.texts.map((t, i) => {
      if (!sel.texts.has(i)) return t;
      const [nx, ny] = f(t.x, t.y);
      return { ...t, x: round2(nx), y: round2(ny) };
    }),
  };
}

/** The sketch with the selection moved by (dx, dy) sketch pixels. */
export function moveSelection(sketch, sel, dx, dy) {
  return mapSelection(sketch, sel, (x, y) => [x + dx, y + dy]);
}

/** The sketch with the selection scaled by (sx, sy) about the fixed point (ax, ay). */
export function scaleSelection(sketch, sel, ax, ay, sx, sy) {
  return mapSelection(sketch, sel, (x, y) => [ax + (x - ax) * sx, ay + (y - ay) * sy]);
}

/** The sketch without the selected strokes and labels. */
export function deleteSelection(sketch, sel) {
  const s = normalizeSketch(sketch);
  return {
    ...s,
    strokes: s.strokes.filter((_, i) => !sel.strokes.has(i)),
    texts: s.texts.filter((_, i) => !sel.texts.has(i)),
  };
}

/** The four corner handles of `bounds`: name → [x, y] and the opposite corner it scales about. */
export function handles(bounds) {
  const { x0, y0, x1, y1 } = bounds;
  return {
    nw: { at: [x0, y0], anchor: [x1, y1] },
    ne: { at: [x1, y0], anchor: [x0, y1] },
    sw: { at: [x0, y1], anchor: [x1, y0] },
    se: { at: [x1, y1], anchor: [x0, y0] },
  };
}

/** The handle within `r` pixels of (x, y), or null. */
export function handleAt(bounds, x, y, r) {
  for (const [name, h] of Object.entries(handles(bounds))) {
    if (Math.hypot(h.at[0] - x, h.at[1] - y) <= r) return { name, ...h };
  }
  return null;
}

/**
 * The scale factors that take a handle from where it was grabbed to (x, y), scaling about
 * its anchor; `keepAspect` uses one factor for both axes. Never flips or collapses.
 */
export function scaleFactors(handle, x, y, keepAspect = false) {
  const [ax, ay] = handle.anchor;
  const [hx, hy] = handle.at;
  const f = (to, from, a) => (Math.abs(from - a) < 1e-6 ? 1 : Math.max(0.05, (to - a) / (from - a)));
  let sx = f(x, hx, ax);
  let sy = f(y, hy, ay);
  if (keepAspect) sx = sy = Math.max(sx, sy);
  return [sx, sy];
}

/** Every stroke and label of the sketch. */
export function selectAll(sketch) {
  const s = normalizeSketch(sketch);
  return { strokes: new Set(s.strokes.keys()), texts: new Set(s.texts.keys()) };
}

/** The box around everything drawn, or null for an empty pad. */
export function contentBounds(sketch) {
  return selectionBounds(sketch, selectAll(sketch));
}
