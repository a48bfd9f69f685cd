// Messages between the preview's frames and its worker (docs/preview.md, "Messages"):
// the frame host, the shell and the runtime page all pass them on.

/** A message's ArrayBuffers (`buffer`, `objects[].buffer`): every hop transfers them
 * rather than copying (meshes can be megabytes). */
export function transfersOf(msg) {
  const out = [];
  if (msg.buffer instanceof ArrayBuffer) out.push(msg.buffer);
  if (Array.isArray(msg.objects)) for (const o of msg.objects) if (o && o.buffer instanceof ArrayBuffer) out.push(o.buffer);
  return out;
}
