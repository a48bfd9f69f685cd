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
