// The drawing surface: two stacked canvases (committed strokes, the stroke in progress),
// Pointer Events (pen, touch, mouse) with pressure and coalesced points, rendering on
// animation frames only. It calls `onCommit(newSketch)` once per finished stroke, erase,
// label, move, scale or delete, so each is one undo step.
//
// Zoom and pan are a view over the sketch (see view.js): plain wheel scrolls the notebook,
// Ctrl/Cmd+wheel and pinch zoom, space-drag or middle-drag pan.
import {
  contentBounds,
  deleteSelection,
  emptySelection,
  handleAt,
  isEmptySelection,
  moveSelection,
  scaleFactors,
  scaleSelection,
  selectAt,
  selectInBox,
  selectInLasso,
  selectionBounds,
  handles as selectionHandles,
} from "./select.js";
import {
  LABEL_COLOR,
  LABEL_SIZE,
  StrokeBuilder,
  erasedIndices,
  normalizeSketch,
  outlineToPath,
  strokeOutline,
  withStroke,
  withText,
  withoutStrokes,
} from "./strokes.js";
import { canvasTransform, fitView, identityView, panBy, toSketch, wheelFactor, zoomAt } from "./view.js";

const OFF_PAGE = "#d0d4d9";
const HANDLE_PX = 5; // corner handles' half size, in screen pixels

const labelFont = (size) => `${size}px sans-serif`;

export class DrawingSurface {
  /**
   * @param {HTMLElement} container
   * @param {{getSketch: () => object, onCommit: (sketch: object) => void,
   *          getTool: () => {tool: string, color: string, width: number}}} hooks
   */
  constructor(container, hooks) {
    this.hooks = hooks;
    this.container = container;
    container.classList.add("vd-surface");
    this.base = document.createElement("canvas");
    this.live = document.createElement("canvas");
    this.base.className = "vd-canvas vd-canvas-base";
    this.live.className = "vd-canvas vd-canvas-live";
    this.live.tabIndex = 0;
    this.live.setAttribute("role", "img");
    this.live.setAttribute("aria-label", "Drawing canvas");
    container.append(this.base, this.live);
    this.paths = new WeakMap(); // stroke object → Path2D (outlines are computed once)
    this.builder = null;
    this.eraser = null; // {path: [[x,y]], hit: Set}
    this.textInput = null;
    this.frame = 0;
    this.sketch = normalizeSketch(hooks.getSketch());
    this.frameTimes = []; // for the benchmark: ms between drawing frames …
    this.workTimes = []; // … and ms of work per frame
    this._lastFrameAt = 0;
    this.view = identityView();
    this.selection = emptySelection();
    this.drag = null; // {mode: "move"|"scale"|"box"|"lasso"|"pan", …} while a select/pan drag runs
    this.touches = new Map(); // touch pointerId → [clientX, clientY], for pinch
    this.pinch = null;
    this.spaceDown = false;

    this._down = this._down.bind(this);
    this._move = this._move.bind(this);
    this._up = this._up.bind(this);
    this._wheel = this._wheel.bind(this);
    this._spaceKey = this._spaceKey.bind(this);
    this.live.addEventListener("pointerdown", this._down);
    this.live.addEventListener("pointermove", this._move);
    this.live.addEventListener("pointerup", this._up);
    this.live.addEventListener("pointercancel", this._up);
    // Not passive: Ctrl/Cmd+wheel must not also zoom the page. A plain wheel is left alone.
    this.live.addEventListener("wheel", this._wheel, { passive: false });
    this.live.addEventListener("keydown", this._spaceKey);
    this.live.addEventListener("keyup", this._spaceKey);
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.resize();
  }

  /** Replace the shown sketch (from the model). */
  setSketch(sketch) {
    if (sketch === this.sketch) return; // our own commit coming back through the model
    this.sketch = normalizeSketch(sketch);
    this.selection = emptySelection(); // indices may no longer mean the same strokes
    this.container.style.aspectRatio = `${this.sketch.width} / ${this.sketch.height}`;
    this.resize();
  }

  resize() {
    const rect = this.container.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(rect.width * dpr));
    const h = Math.max(1, Math.round(rect.height * dpr));
    for (const c of [this.base, this.live]) {
      if (c.width !== w || c.height !== h) {
        c.width = w;
        c.height = h;
      }
    }
    this.drawBase();
    this.drawLive();
  }

  _transform(ctx, canvas) {
    ctx.setTransform(...canvasTransform(this.view, canvas.width, canvas.height, this.sketch));
  }

  /** Sketch pixels per screen pixel (for sizes that should look the same at any zoom). */
  _pixel() {
    const rect = this.live.getBoundingClientRect();
    return this.sketch.width / Math.max(1, rect.width) / this.view.zoom;
  }

  /** The sketch as shown: during a move or scale drag, with the drag applied. */
  _shown() {
    const d = this.drag;
    if (d?.mode === "move") return moveSelection(this.sketch, this.selection, d.dx, d.dy);
    if (d?.mode === "scale") return scaleSelection(this.sketch, this.selection, ...d.handle.anchor, d.sx, d.sy);
    return this.sketch;
  }

  /** Set the zoom/pan view and redraw. */
  setView(view) {
    this.view = view;
    this._schedule(true);
  }

  /** Zoom to show everything drawn (the whole page when it is empty). */
  fit() {
    this.setView(fitView(this.sketch, contentBounds(this.sketch)));
  }

  /** The selection's box in sketch pixels ({x0, y0, x1, y1}), or null. */
  selectionBox() {
    return selectionBounds(this.sketch, this.selection);
  }

  hasSelection() {
    return !isEmptySelection(this.selection);
  }

  /** Select everything (Ctrl+A with the select tool). */
  selectAll() {
    this.selection = selectInBox(this.sketch, -Infinity, -Infinity, Infinity, Infinity);
    this._schedule();
  }

  /** Remove the selected strokes and labels (Delete / Backspace). */
  deleteSelected() {
    if (!this.hasSelection()) return false;
    const sel = this.selection;
    this.selection = emptySelection();
    this.commit(deleteSelection(this.sketch, sel));
    return true;
  }

  clearSelection() {
    this.selection = emptySelection();
    this._schedule();
  }

  _path(stroke) {
    let path = this.paths.get(stroke);
    if (!path) {
      path = new Path2D(outlineToPath(strokeOutline(stroke)));
      this.paths.set(stroke, path);
    }
    return path;
  }

  /** Committed strokes and labels (redrawn only when the sketch or the erase set changes). */
  drawBase() {
    const ctx = this.base.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = OFF_PAGE; // shows only where zoom or pan uncovers the page's edge
    ctx.fillRect(0, 0, this.base.width, this.base.height);
    this._transform(ctx, this.base);
    this._paint(ctx, this._shown(), this.eraser?.hit);
  }

  /** The sketch's page, strokes and labels, in sketch pixels on `ctx`'s transform. */
  _paint(ctx, s, hidden = null) {
    ctx.fillStyle = s.background;
    ctx.fillRect(0, 0, s.width, s.height);
    s.strokes.forEach((stroke, i) => {
      if (hidden?.has(i)) return;
      ctx.fillStyle = stroke.color;
      ctx.fill(this._path(stroke));
    });
    ctx.textBaseline = "top";
    for (const t of s.texts) {
      ctx.fillStyle = t.color || LABEL_COLOR;
      ctx.font = labelFont(t.size || LABEL_SIZE);
      ctx.fillText(t.text, t.x, t.y);
    }
  }

  /** The stroke in progress (or the eraser's cursor). */
  drawLive() {
    const ctx = this.live.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.live.width, this.live.height);
    this._transform(ctx, this.live);
    if (this.builder && this.builder.points.length) {
      const stroke = { points: this.builder.points, color: this.builder.color, width: this.builder.width };
      ctx.fillStyle = stroke.color;
      ctx.fill(new Path2D(outlineToPath(strokeOutline(stroke, false))));
    }
    this._drawSelection(ctx);
    if (this.eraser?.path.length) {
      const [x, y] = this.eraser.path[this.eraser.path.length - 1];
      ctx.strokeStyle = "#888";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.arc(x, y, this.eraser.radius, 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  /** The selection's box and handles, and the box or lasso being dragged out. */
  _drawSelection(ctx) {
    const px = this._pixel();
    ctx.lineWidth = px;
    ctx.strokeStyle = "#1971c2";
    ctx.setLineDash([4 * px, 3 * px]);
    const d = this.drag;
    if (d?.mode === "box") ctx.strokeRect(d.x0, d.y0, d.x - d.x0, d.y - d.y0);
    if (d?.mode === "lasso" && d.ring.length > 1) {
      ctx.beginPath();
      d.ring.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
      ctx.stroke();
    }
    ctx.setLineDash([]);
    const b = selectionBounds(this._shown(), this.selection);
    if (!b) return;
    ctx.strokeRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
    ctx.fillStyle = "#ffffff";
    const r = HANDLE_PX * px;
    for (const { at } of Object.values(selectionHandles(b))) {
      ctx.fillRect(at[0] - r, at[1] - r, 2 * r, 2 * r);
      ctx.strokeRect(at[0] - r, at[1] - r, 2 * r, 2 * r);
    }
  }

  _schedule(base = false) {
    this._baseDirty ||= base;
    if (this.frame) return;
    this.frame = requestAnimationFrame((t) => {
      this.frame = 0;
      if (this._lastFrameAt) this.frameTimes.push(t - this._lastFrameAt);
      this._lastFrameAt = t;
      if (this.frameTimes.length > 2000) this.frameTimes.splice(0, 1000);
      const start = performance.now();
      if (this._baseDirty) this.drawBase();
      this._baseDirty = false;
      this.drawLive();
      this.workTimes.push(performance.now() - start);
      if (this.workTimes.length > 2000) this.workTimes.splice(0, 1000);
    });
  }

  _coords(event) {
    return toSketch(this.view, event.clientX, event.clientY, this.live.getBoundingClientRect(), this.sketch);
  }

  /** Unzoomed page pixels under the event (what the view's pan is measured in). */
  _page(event) {
    return toSketch(identityView(), event.clientX, event.clientY, this.live.getBoundingClientRect(), this.sketch);
  }

  _wheel(event) {
    if (!(event.ctrlKey || event.metaKey)) return; // a plain wheel scrolls the notebook
    event.preventDefault();
    const [px, py] = this._page(event);
    this.setView(zoomAt(this.view, px, py, wheelFactor(event.deltaY, event.deltaMode)));
  }

  _spaceKey(event) {
    if (event.key !== " ") return;
    event.preventDefault(); // space would scroll the notebook
    this.spaceDown = event.type === "keydown";
    this.container.classList.toggle("vd-panning", this.spaceDown);
  }

  /** Two touches: pinch zooms about their midpoint and pans as it moves. */
  _pinchStep() {
    const [a, b] = [...this.touches.values()];
    const rect = this.live.getBoundingClientRect();
    const mid = { clientX: (a[0] + b[0]) / 2, clientY: (a[1] + b[1]) / 2 };
    const dist = Math.hypot(a[0] - b[0], a[1] - b[1]);
    const [px, py] = toSketch(identityView(), mid.clientX, mid.clientY, rect, this.sketch);
    if (this.pinch) {
      const moved = panBy(this.view, px - this.pinch.px, py - this.pinch.py);
      this.setView(zoomAt(moved, px, py, dist / Math.max(1, this.pinch.dist)));
    }
    this.pinch = { px, py, dist };
  }

  _down(event) {
    if (event.pointerType === "touch") {
      this.touches.set(event.pointerId, [event.clientX, event.clientY]);
      if (this.touches.size === 2) {
        // A second finger: this is a pinch, not a stroke.
        this.builder = null;
        this.eraser = null;
        this.pointerId = null;
        this.pinch = null;
        this._pinchStep();
        this._schedule();
        return;
      }
    }
    const pan = event.button === 1 || (this.spaceDown && event.button === 0);
    if (event.button !== 0 && event.pointerType === "mouse" && !pan) return;
    if (pan) {
      event.preventDefault();
      this._capture(event);
      const [px, py] = this._page(event);
      this.drag = { mode: "pan", px, py };
      return;
    }
    const { tool, color, width } = this.hooks.getTool();
    const [x, y] = this._coords(event);
    if (tool === "select") {
      this._capture(event);
      this._startSelectDrag(x, y, event.shiftKey);
      this._schedule(true);
      return;
    }
    if (tool === "text") {
      event.preventDefault();
      this.openTextInput(x, y);
      return;
    }
    this._capture(event);
    if (tool === "eraser") {
      this.eraser = { path: [[x, y]], hit: new Set(), radius: Math.max(6, width * 2) };
      this._erase();
    } else {
      this.builder = new StrokeBuilder({ color, width, pointerType: event.pointerType });
      this.builder.add(x, y, event.pressure, event.timeStamp);
    }
    this._schedule();
  }

  _capture(event) {
    try {
      this.live.setPointerCapture?.(event.pointerId);
    } catch {
      // a pointer the browser no longer tracks (or a synthetic one): draw without capture
    }
    this.live.focus({ preventScroll: true });
    this.pointerId = event.pointerId;
  }

  /** A select-tool press: grab a handle, the selection, or what is under the pointer;
   * elsewhere start a box (a lasso with Shift). */
  _startSelectDrag(x, y, lasso) {
    const b = selectionBounds(this.sketch, this.selection);
    const handle = b && handleAt(b, x, y, 2 * HANDLE_PX * this._pixel());
    if (handle) {
      this.drag = { mode: "scale", handle, sx: 1, sy: 1 };
      return;
    }
    const inside = b && x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1;
    if (!inside) {
      this.selection = selectAt(this.sketch, x, y, 4 * this._pixel());
    }
    if (this.hasSelection()) this.drag = { mode: "move", x0: x, y0: y, dx: 0, dy: 0 };
    else this.drag = lasso ? { mode: "lasso", ring: [[x, y]] } : { mode: "box", x0: x, y0: y, x, y };
  }

  _dragTo(event) {
    const d = this.drag;
    if (d.mode === "pan") {
      const [px, py] = this._page(event);
      this.setView(panBy(this.view, px - d.px, py - d.py));
      Object.assign(d, { px, py });
      return;
    }
    const [x, y] = this._coords(event);
    if (d.mode === "move") Object.assign(d, { dx: x - d.x0, dy: y - d.y0 });
    else if (d.mode === "scale") [d.sx, d.sy] = scaleFactors(d.handle, x, y, event.shiftKey);
    else if (d.mode === "box") Object.assign(d, { x, y });
    else d.ring.push([x, y]);
    this._schedule(d.mode === "move" || d.mode === "scale");
  }

  _endDrag() {
    const d = this.drag;
    this.drag = null;
    if (d.mode === "box") this.selection = selectInBox(this.sketch, d.x0, d.y0, d.x, d.y);
    else if (d.mode === "lasso") this.selection = selectInLasso(this.sketch, d.ring);
    else if (d.mode === "move" && (d.dx || d.dy)) {
      this.commit(moveSelection(this.sketch, this.selection, d.dx, d.dy), { keepSelection: true });
    } else if (d.mode === "scale" && (d.sx !== 1 || d.sy !== 1)) {
      this.commit(scaleSelection(this.sketch, this.selection, ...d.handle.anchor, d.sx, d.sy), {
        keepSelection: true,
      });
    }
    this._schedule(true);
  }

  _move(event) {
    if (this.touches.has(event.pointerId)) {
      this.touches.set(event.pointerId, [event.clientX, event.clientY]);
      if (this.touches.size >= 2) {
        this._pinchStep();
        return;
      }
    }
    if (event.pointerId !== this.pointerId) return;
    if (this.drag) {
      this._dragTo(event);
      return;
    }
    if (!this.builder && !this.eraser) return;
    const events = event.getCoalescedEvents?.() || [event];
    for (const e of events.length ? events : [event]) {
      const [x, y] = this._coords(e);
      if (this.builder) this.builder.add(x, y, e.pressure, e.timeStamp);
      else this.eraser.path.push([x, y]);
    }
    if (this.eraser) this._erase();
    this._schedule();
  }

  _erase() {
    const before = this.eraser.hit.size;
    const recent = this.eraser.path.slice(-8);
    for (const i of erasedIndices(this.sketch.strokes, recent, this.eraser.radius)) this.eraser.hit.add(i);
    if (this.eraser.hit.size !== before) this._schedule(true);
  }

  _up(event) {
    this.touches.delete(event.pointerId);
    if (this.touches.size < 2) this.pinch = null;
    if (event.pointerId !== this.pointerId) return;
    this.pointerId = null;
    if (this.drag) {
      this._endDrag();
      return;
    }
    if (this.builder) {
      const stroke = this.builder.finish();
      this.builder = null;
      if (stroke) this.commit(withStroke(this.sketch, stroke));
    } else if (this.eraser) {
      const hit = this.eraser.hit;
      this.eraser = null;
      if (hit.size) this.commit(withoutStrokes(this.sketch, hit));
      else this._schedule(true);
    }
    this._schedule();
  }

  /** Show the new sketch at once and hand it to the model (one sync per stroke). */
  commit(sketch, { keepSelection = false } = {}) {
    this.sketch = normalizeSketch(sketch);
    if (!keepSelection) this.selection = emptySelection();
    this._schedule(true);
    this.hooks.onCommit(this.sketch);
  }

  openTextInput(x, y) {
    // Keep a label being typed: clicking elsewhere to place the next one never blurs the
    // field (pointerdown on the canvas is prevented), so the label is committed here.
    this.closeTextInput(true);
    const { color } = this.hooks.getTool();
    const input = document.createElement("input");
    input.type = "text";
    input.className = "vd-text-input";
    input.placeholder = "label, Enter to add";
    input.setAttribute("aria-label", "Text label");
    const v = this.view;
    input.style.left = `${((x * v.zoom + v.panX) / this.sketch.width) * 100}%`;
    input.style.top = `${((y * v.zoom + v.panY) / this.sketch.height) * 100}%`;
    // Typed as it will be drawn: the label's colour, at its size on screen.
    const scale = (this.container.getBoundingClientRect().width / this.sketch.width) * v.zoom || 1;
    input.style.color = color;
    input.style.fontSize = `${Math.max(10, LABEL_SIZE * scale)}px`;
    this.container.appendChild(input);
    this.textInput = { input, x, y, color };
    input.addEventListener("keydown", (e) => {
      e.stopPropagation(); // keep JupyterLab's and the pad's shortcuts out of the field
      if (e.key === "Enter") this.closeTextInput(true);
      else if (e.key === "Escape") this.closeTextInput(false);
    });
    input.addEventListener("blur", () => this.closeTextInput(true));
    setTimeout(() => input.focus(), 0);
  }

  closeTextInput(keep) {
    const t = this.textInput;
    if (!t) return;
    this.textInput = null;
    const text = t.input.value.trim();
    const hadFocus = document.activeElement === t.input;
    t.input.remove();
    if (hadFocus) this.live.focus({ preventScroll: true }); // keys stay with the pad
    if (keep && text) this.commit(withText(this.sketch, t.x, t.y, text, { color: t.color }));
  }

  /** The sketch as a PNG data URL, drawn as the pad shows it, at sketch size. */
  toDataURL() {
    const c = document.createElement("canvas");
    c.width = this.sketch.width;
    c.height = this.sketch.height;
    this._paint(c.getContext("2d"), this.sketch); // the whole page, whatever the view
    return c.toDataURL("image/png");
  }

  dispose() {
    this.resizeObserver.disconnect();
    if (this.frame) cancelAnimationFrame(this.frame);
    this.closeTextInput(false);
    this.live.removeEventListener("pointerdown", this._down);
    this.live.removeEventListener("pointermove", this._move);
    this.live.removeEventListener("pointerup", this._up);
    this.live.removeEventListener("pointercancel", this._up);
    this.live.removeEventListener("wheel", this._wheel);
    this.live.removeEventListener("keydown", this._spaceKey);
    this.live.removeEventListener("keyup", this._spaceKey);
  }
}

/** Scale an image file to fit `width`×`height` on `background`; PNG bytes (ArrayBuffer). */
export async function imageFileToPng(file, width, height, background = "#ffffff") {
  const bitmap = await createImageBitmap(file);
  const c = document.createElement("canvas");
  c.width = width;
  c.height = height;
  const ctx = c.getContext("2d");
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, width, height);
  const k = Math.min(width / bitmap.width, height / bitmap.height);
  const w = bitmap.width * k;
  const h = bitmap.height * k;
  ctx.drawImage(bitmap, (width - w) / 2, (height - h) / 2, w, h);
  bitmap.close?.();
  const blob = await new Promise((resolve) => c.toBlob(resolve, "image/png"));
  return blob.arrayBuffer();
}
