// Run generated Three.js code (docs/protocol.md, Generated code) with the real npm `three` package, headless.
// stdin: JSON [{"name", "code"}, ...]; stdout: JSON [{"name", "ok", "error", "box",
// "type", "shapeIndices", "children"}, ...]. The code runs as the body of
// `async function build(THREE, ctx)`; its result's bounding box is measured with Box3.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const threePath = resolve(here, '../../js/node_modules/three/build/three.module.js');
const THREE = await import(pathToFileURL(threePath).href);
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

const jobs = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const job of jobs) {
  const ctx = {
    scene: new THREE.Scene(),
    camera: new THREE.PerspectiveCamera(50, 4 / 3, 0.1, 100),
    renderer: null,
    controls: null,
    onFrame() {},
  };
  const out = { name: job.name, ok: false };
  try {
    const object = await new AsyncFunction('THREE', 'ctx', job.code)(THREE, ctx);
    if (!(object instanceof THREE.Object3D)) throw new Error('build() did not return an Object3D');
    object.updateMatrixWorld(true);
    const box = new THREE.Box3().setFromObject(object);
    const indices = [];
    let meshes = 0;
    object.traverse((o) => {
      if (o.isMesh) meshes += 1;
      if (o.userData && o.userData.shapeIndex !== undefined) indices.push(o.userData.shapeIndex);
    });
    Object.assign(out, {
      ok: true,
      type: object.type,
      box: { min: box.min.toArray(), max: box.max.toArray() },
      shapeIndices: indices,
      children: object.children.map((c) => ({ name: c.name, type: c.type, shapeIndex: c.userData.shapeIndex ?? null })),
      meshes,
    });
  } catch (err) {
    out.error = String(err && err.stack ? err.stack : err);
  }
  results.push(out);
}
process.stdout.write(JSON.stringify(results));
