// The pad's view: zoom and pan over the drawing. The sketch itself stays in canvas pixels
// (the stored format never changes); the view only maps sketch pixels to the screen:
//   screen = (sketch · zoom + pan) · k,   k = the element's CSS pixels per sketch pixel.
// Pure functions of plain data, so node's test runner covers them.

export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 8;

/** The view that shows the whole page as it is: no zoom, no pan. */
export function identityView() {
  return { zoom: 1, panX: 0, panY: 0 };
}

const clampZoom = (z) => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));

/** Sketch pixels under a client position, given the element's bounding rect. */
export function toSketch(view, clientX, clientY, rect, sketch) {
  const kx = Math.max(1, rect.width) / sketch.width;
  const ky = Math.max(1, rect.height) / sketch.height;
  return [
    ((clientX - rect.left) / kx - view.panX) / view.zoom,
    ((clientY - rect.top) / ky - view.panY) / view.zoom,
  ];
}

/** The view zoomed by `factor` about the sketch-page point (px, py) (unzoomed page pixels),
 * which stays under the cursor. */
export function zoomAt(view, px, py, factor) {
  const zoom = clampZoom(view.zoom * factor);
  const k = zoom / view.zoom;
  return { zoom, panX: px - (px - view.panX) * k, panY: py - (py - view.panY) * k };
}

/** The view panned by (dx, dy) page pixels. */
export function panBy(view, dx, dy) {
  return { ...view, panX: view.panX + dx, panY: view.panY + dy };
}

/** Wheel → zoom factor: Ctrl/Cmd+wheel and pinch (Chromium sends pinch as ctrl+wheel). */
export function wheelFactor(deltaY, deltaMode = 0) {
  const pixels = deltaMode === 1 ? deltaY * 16 : deltaMode === 2 ? deltaY * 400 : deltaY;
  return Math.exp(-Math.max(-200, Math.min(200, pixels)) / 300);
}

/** The view that fits the drawing's content (strokes and labels) with a margin; the whole
 * page when the pad is empty. */
export function fitView(sketch, bounds, margin = 0.08) {
  if (!bounds) return identityView();
  const w = Math.max(1, bounds.x1 - bounds.x0);
  const h = Math.max(1, bounds.y1 - bounds.y0);
  const zoom = clampZoom(Math.min((sketch.width * (1 - 2 * margin)) / w, (sketch.height * (1 - 2 * margin)) / h));
  const cx = (bounds.x0 + bounds.x1) / 2;
  const cy = (bounds.y0 + bounds.y1) / 2;
  return { zoom, panX: sketch.width / 2 - cx * zoom, panY: sketch.height / 2 - cy * zoom };
}

/** The canvas 2D transform for the view: [a, b, c, d, e, f] for `ctx.setTransform`. */
export function canvasTransform(view, canvasWidth, canvasHeight, sketch) {
  const kx = canvasWidth / sketch.width;
  const ky = canvasHeight / sketch.height;
  return [kx * view.zoom, 0, 0, ky * view.zoom, kx * view.panX, ky * view.panY];
}
