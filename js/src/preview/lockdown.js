// Run in the runtime frame before any generated code (docs/preview.md, "Sandbox"): take
// away what CSP cannot govern. WebRTC sends UDP (STUN/TURN, ICE checks) to any address
// the code names, and no CSP directive covers it; every RTC* constructor (and the
// webkit-prefixed ones) is replaced by a non-configurable, non-writable `undefined`, so
// code cannot put it back. A fresh realm to take them from would need a nested frame,
// which the runtime's CSP (`frame-src 'none'`) refuses, or a popup, which the sandbox
// refuses.

const WEBRTC = /^(webkit|moz)?RTC/;

/** Names removed from `global` (for tests). */
export function lockdown(global = globalThis) {
  const names = new Set();
  for (let o = global; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) if (WEBRTC.test(name)) names.add(name);
  }
  for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection", "RTCDataChannel", "RTCIceTransport", "RTCSctpTransport", "RTCDtlsTransport"]) {
    names.add(name);
  }
  for (const name of names) {
    try {
      delete global[name];
    } catch {
      /* not configurable: overwritten below if possible */
    }
    try {
      Object.defineProperty(global, name, { value: undefined, writable: false, configurable: false, enumerable: false });
    } catch {
      /* a non-configurable original: nothing on this platform exposes one */
    }
  }
  return [...names].sort();
}

// Elements whose loading starts a connection before CSP refuses the load: Chromium opens a
// TCP connection (DNS and handshake, no request) to a blocked `<iframe src>` or a
// `<meta http-equiv="refresh">` target. Generated code never needs them, so the runtime
// refuses to create them at all.
const FRAMING = /^(iframe|frame|frameset|object|embed|meta|link|portal|fencedframe)$/i;
const FRAMING_MARKUP = /<\s*(iframe|frame|frameset|object|embed|meta|link|portal|fencedframe)\b/i;

function refuse(what) {
  throw new DOMException(`${what} is not allowed in the preview (docs/preview.md, "Sandbox")`, "SecurityError");
}

/** Wrap `proto[name]` (a method, or a setter when `setter`) so that markup naming a framing
 * element is refused before it reaches the parser. */
function guardMarkup(proto, name, setter = false) {
  const desc = proto && Object.getOwnPropertyDescriptor(proto, name);
  if (!desc) return;
  const check = (markup) => {
    const found = FRAMING_MARKUP.exec(String(markup));
    if (found) refuse(`markup with <${found[1]}>`);
  };
  if (setter && desc.set) {
    const set = desc.set;
    Object.defineProperty(proto, name, { ...desc, configurable: false, set(value) { check(value); set.call(this, value); } });
  } else if (!setter && typeof desc.value === "function") {
    const fn = desc.value;
    const wrapped = function (...args) {
      for (const a of args) if (typeof a === "string") check(a);
      return fn.apply(this, args);
    };
    Object.defineProperty(proto, name, { ...desc, configurable: false, writable: false, value: wrapped });
  }
}

/** Refuse framing elements in `global`'s DOM: created by name or parsed from markup. */
export function lockdownFraming(global = globalThis) {
  const { Document, Element, ShadowRoot, Range, DOMParser } = global;
  if (!Document) return;
  const create = Document.prototype.createElement;
  const createNS = Document.prototype.createElementNS;
  Object.defineProperty(Document.prototype, "createElement", {
    configurable: false, writable: false,
    value(tag, ...rest) {
      if (FRAMING.test(String(tag))) refuse(`<${tag}>`);
      return create.call(this, tag, ...rest);
    },
  });
  Object.defineProperty(Document.prototype, "createElementNS", {
    configurable: false, writable: false,
    value(ns, tag, ...rest) {
      if (FRAMING.test(String(tag).split(":").pop())) refuse(`<${tag}>`);
      return createNS.call(this, ns, tag, ...rest);
    },
  });
  for (const name of ["innerHTML", "outerHTML"]) guardMarkup(Element.prototype, name, true);
  guardMarkup(ShadowRoot?.prototype, "innerHTML", true);
  for (const name of ["insertAdjacentHTML", "setHTMLUnsafe"]) guardMarkup(Element.prototype, name);
  guardMarkup(ShadowRoot?.prototype, "setHTMLUnsafe");
  for (const name of ["write", "writeln"]) guardMarkup(Document.prototype, name);
  guardMarkup(Document, "parseHTMLUnsafe");
  guardMarkup(Range?.prototype, "createContextualFragment");
  guardMarkup(DOMParser?.prototype, "parseFromString");
}
