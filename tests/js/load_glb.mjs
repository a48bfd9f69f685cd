// Load a GLB with three.js's GLTFLoader under Node and print what it holds as JSON.
// Usage: node load_glb.mjs <path/to/three> <file.glb>
// three is imported by path (it lives in js/node_modules, not beside this file);
// GLTFLoader resolves its own `import 'three'` from there, so both share one copy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [threeDir, glbPath] = process.argv.slice(2);
const THREE = await import(pathToFileURL(join(threeDir, 'build', 'three.module.js')).href);
const { GLTFLoader } = await import(
  pathToFileURL(join(threeDir, 'examples', 'jsm', 'loaders', 'GLTFLoader.js')).href
);

const bytes = readFileSync(glbPath);
const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);

new GLTFLoader().parse(
  buffer,
  '',
  (gltf) => {
    const meshes = [];
    gltf.scene.traverse((object) => {
      if (!object.isMesh) return;
      const geometry = object.geometry;
      const box = new THREE.Box3().setFromObject(object);
      meshes.push({
        name: object.name,
        vertices: geometry.attributes.position.count,
        triangles: geometry.index ? geometry.index.count / 3 : geometry.attributes.position.count / 3,
        hasNormals: Boolean(geometry.attributes.normal),
        color: `#${object.material.color.getHexString()}`, // sRGB, as drawn
        min: box.min.toArray(),
        max: box.max.toArray(),
        extras: object.userData,
      });
    });
    const box = new THREE.Box3().setFromObject(gltf.scene);
    console.log(JSON.stringify({ meshes, min: box.min.toArray(), max: box.max.toArray() }));
  },
  (error) => {
    console.error(String(error && error.stack ? error.stack : error));
    process.exit(1);
  },
);
