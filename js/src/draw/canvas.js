// The drawing surface: two stacked canvases (committed strokes, the stroke in progress),
// Pointer Events with pressure and coalesced points, rendering on animation frames only.
// It calls `onCommit(newSketch)` once per finished stroke, erase or label.
import {
  LABEL_COLOR,
  LABEL_SIZE,
  StrokeBuilder,
  erasedIndices,
  normalizeSketch,
  outlineToPath,
  strokeOutline,
  toSketchCoords,
  withStroke,
  withText,
  withoutStrokes,
} from "./strokes.js";

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

    this._down = this._down.bind(this);
    this._move = this._move.bind(this);
    this._up = this._up.bind(this);
    this.live.addEventListener("pointerdown", this._down);
    this.live.addEventListener("pointermove", this._move);
    this.live.addEventListener("pointerup", this._up);
    this.live.addEventListener("pointercancel", this._up);
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.resize();
  }

  /** Replace the shown sketch (from the model). */
  setSketch(sketch) {
    if (sketch === this.sketch) return; // our own commit coming back through the model
    this.sketch = normalizeSketch(sketch);
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
    const s = this.sketch;
    ctx.setTransform(canvas.width / s.width, 0, 0, canvas.height / s.height, 0, 0);
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
    const s = this.sketch;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.base.width, this.base.height);
    this._transform(ctx, this.base);
    ctx.fillStyle = s.background;
    ctx.fillRect(0, 0, s.width, s.height);
    const hidden = this.eraser?.hit;
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
    if (this.eraser?.path.length) {
      const [x, y] = this.eraser.path[this.eraser.path.length - 1];
      ctx.strokeStyle = "#888";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.arc(x, y, this.eraser.radius, 0, Math.PI * 2);
      ctx.stroke();
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
    return toSketchCoords(event.clientX, event.clientY, this.live.getBoundingClientRect(), this.sketch);
  }

  _down(event) {
    if (event.button !== 0 && event.pointerType === "mouse") return;
    const { tool, color, width } = this.hooks.getTool();
    const [x, y] = this._coords(event);
    if (tool === "text") {
      event.preventDefault();
      this.openTextInput(x, y);
      return;
    }
    this.live.setPointerCapture?.(event.pointerId);
    this.live.focus({ preventScroll: true });
    this.pointerId = event.pointerId;
    if (tool === "eraser") {
      this.eraser = { path: [[x, y]], hit: new Set(), radius: Math.max(6, width * 2) };
      this._erase();
    } else {
      this.builder = new StrokeBuilder({ color, width, pointerType: event.pointerType });
      this.builder.add(x, y, event.pressure, event.timeStamp);
    }
    this._schedule();
  }

  _move(event) {
    if (event.pointerId !== this.pointerId || (!this.builder && !this.eraser)) return;
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
    if (event.pointerId !== this.pointerId) return;
    this.pointerId = null;
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
  commit(sketch) {
    this.sketch = normalizeSketch(sketch);
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
    input.style.left = `${(x / this.sketch.width) * 100}%`;
    input.style.top = `${(y / this.sketch.height) * 100}%`;
    // Typed as it will be drawn: the label's colour, at its size on screen.
    const scale = this.container.getBoundingClientRect().width / this.sketch.width || 1;
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
    const ctx = c.getContext("2d");
    ctx.drawImage(this.base, 0, 0, c.width, c.height);
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
