// Input for a scene that renders in a Worker (docs/preview.md, "Sandbox"): the page
// forwards pointer, wheel and key events as plain data, and the worker replays them on
// stand-ins for the DOM elements three.js's controls listen to.
//   page side    forwardInput(send): window listeners, one message per event
//   worker side  ElementProxy: what OrbitControls and TransformControls use of an element
//                (listeners, client size and box, style, pointer capture, ownerDocument)

const POINTER = ["pointerdown", "pointermove", "pointerup", "pointercancel"];
const FIELDS = [
  "type", "clientX", "clientY", "pageX", "pageY", "offsetX", "offsetY", "button", "buttons",
  "pointerId", "pointerType", "isPrimary", "pressure", "ctrlKey", "shiftKey", "altKey", "metaKey",
  "deltaX", "deltaY", "deltaZ", "deltaMode", "key", "code", "repeat",
];

function plain(event) {
  const data = {};
  for (const name of FIELDS) if (event[name] !== undefined) data[name] = event[name];
  return data;
}

/**
 * Page side: forward input to the worker. `targetOf(event)` names the view an event is
 * over (an id: "canvas", a gallery cell's id), or null; pointer events also go to the
 * worker's document stand-in, as a drag that leaves the view still moves the camera.
 * Wheel and context-menu events over a view are kept from the page (no scrolling).
 * Returns a stop function.
 */
export function forwardInput(send, targetOf) {
  const listeners = [];
  const on = (target, type, fn, options) => {
    target.addEventListener(type, fn, options);
    listeners.push(() => target.removeEventListener(type, fn, options));
  };
  for (const type of POINTER) {
    on(window, type, (event) => {
      const target = targetOf(event);
      if (type === "pointerdown" && target !== null) event.target.setPointerCapture?.(event.pointerId);
      send({ type: "input", target, event: plain(event) });
    }, { capture: true });
  }
  on(window, "wheel", (event) => {
    const target = targetOf(event);
    if (target === null) return;
    event.preventDefault();
    send({ type: "input", target, event: plain(event) });
  }, { capture: true, passive: false });
  on(window, "contextmenu", (event) => targetOf(event) !== null && event.preventDefault(), { capture: true });
  for (const type of ["keydown", "keyup"]) on(window, type, (event) => send({ type: "input", target: null, event: plain(event) }));
  on(window, "blur", () => send({ type: "input", target: null, event: { type: "blur" } }));
  return () => listeners.forEach((stop) => stop());
}

/** Worker side: something to add listeners to and dispatch plain events on. */
class Listeners {
  constructor() {
    this.listeners = new Map();
  }

  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
  }

  removeEventListener(type, fn) {
    this.listeners.get(type)?.delete(fn);
  }

  dispatch(data) {
    const event = { ...data, target: this, preventDefault() {}, stopPropagation() {} };
    for (const fn of [...(this.listeners.get(data.type) || [])]) fn.call(this, event);
  }
}

/** The worker's stand-in for the page's document: window-level pointer and key events. */
export class DocumentProxy extends Listeners {
  pointerLockElement = null;
}

/** The worker's stand-in for a view element (the canvas, or a gallery cell). */
export class ElementProxy extends Listeners {
  constructor(ownerDocument) {
    super();
    this.ownerDocument = ownerDocument;
    this.style = {};
    this.rect = { left: 0, top: 0, width: 0, height: 0 };
  }

  get clientWidth() {
    return this.rect.width;
  }

  get clientHeight() {
    return this.rect.height;
  }

  getBoundingClientRect() {
    const { left, top, width, height } = this.rect;
    return { left, top, width, height, x: left, y: top, right: left + width, bottom: top + height };
  }

  getRootNode() {
    return this.ownerDocument;
  }

  setPointerCapture() {}

  releasePointerCapture() {}

  hasPointerCapture() {
    return false;
  }

  focus() {}
}
