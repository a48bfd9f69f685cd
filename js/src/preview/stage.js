// The one stage every 3D view shows things on (docs/preview.md): renderer, lights, ground,
// camera framing and sizing. The pad's preview, a Result, the gallery's cells and the
// World all use these, so a mesh and a code result of the same drawing look the same:
// the drawing's front (+z, the side it was drawn on) faces the viewer, seen a little from
// above and to the right, standing on a grid at its lowest point.
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

export const BUILD_BUDGET_MS = 8000; // build() may run this long before it is stopped
export const FRAME_BUDGET_MS = 250; // one frame's onFrame callbacks may run this long
export const BACKGROUND = { light: 0xf5f5f5, dark: 0x1e1e1e };
/** Where the camera looks from, relative to the object's centre: front, above, right. */
export const VIEW_DIRECTION = new THREE.Vector3(0.35, 0.45, 1).normalize();
const FOV = 45;

/** The lights every view has (generated code may add its own). */
export function addLights(scene) {
  scene.add(new THREE.HemisphereLight(0xffffff, 0x555555, 1.6));
  const sun = new THREE.DirectionalLight(0xffffff, 2.2);
  sun.position.set(5, 10, 7);
  scene.add(sun);
}

/** A unit grid (scaled and placed by `placeGround`). */
export function makeGround() {
  const grid = new THREE.GridHelper(1, 10, 0x888888, 0xbbbbbb);
  grid.name = "vibedraw-ground";
  grid.material.transparent = true;
  grid.material.opacity = 0.6;
  grid.material.depthWrite = false;
  return grid;
}

/** The object's box; throws when there is nothing finite to show. */
export function boundsOf(object) {
  const box = new THREE.Box3().setFromObject(object);
  if (box.isEmpty() || !Number.isFinite(box.min.x + box.max.x + box.min.y + box.max.y + box.min.z + box.max.z)) {
    throw new Error("the object is empty or not finite (no bounding box)");
  }
  return box;
}

/** Put the ground under `box` (at its lowest point, `floor` if given), a bit wider than it. */
export function placeGround(ground, box, floor = null) {
  const size = box.getSize(new THREE.Vector3());
  const centre = box.getCenter(new THREE.Vector3());
  const span = Math.max(size.x, size.z, size.y * 0.5, 1e-3) * 2.5;
  ground.scale.setScalar(span);
  // A hair below the lowest point: a model's own ground plane should not flicker with it.
  const y = floor ?? box.min.y - span * 1e-3;
  ground.position.set(floor === null ? centre.x : 0, y, floor === null ? centre.z : 0);
}

/** Point `camera` (and `controls`) at `box` from VIEW_DIRECTION so that all of it shows. */
export function fitCamera(camera, controls, box) {
  const sphere = box.getBoundingSphere(new THREE.Sphere());
  const r = Math.max(sphere.radius, 1e-3);
  const fov = THREE.MathUtils.degToRad(camera.fov / 2);
  const aspect = Math.max(camera.aspect, 1e-3);
  const fit = Math.min(Math.sin(fov), Math.sin(Math.atan(Math.tan(fov) * aspect)));
  const dist = (r / fit) * 1.1;
  camera.position.copy(sphere.center).addScaledVector(VIEW_DIRECTION, dist);
  camera.near = dist / 100;
  camera.far = dist * 100;
  camera.updateProjectionMatrix();
  if (controls) {
    controls.target.copy(sphere.center);
    controls.update();
  }
}

/**
 * A full-view stage in the worker: renderer on `canvas` (an OffscreenCanvas), scene with
 * lights and ground, camera, orbit controls on `element` (an ElementProxy), sized by
 * `resize` (CSS pixels, from the page's `watchSize`). `preserveDrawingBuffer` for pages
 * whose pixels tests read.
 */
export function createStage(canvas, element, { dark = false, ground = true, preserveDrawingBuffer = false, pixelRatio = 1 } = {}) {
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer });
  renderer.setPixelRatio(Math.min(2, pixelRatio || 1));
  renderer.outputColorSpace = THREE.SRGBColorSpace;
  const scene = new THREE.Scene();
  scene.background = new THREE.Color();
  addLights(scene);
  const grid = ground ? makeGround() : null;
  if (grid) {
    grid.visible = false; // until there is something to stand on it
    scene.add(grid);
  }
  const camera = new THREE.PerspectiveCamera(FOV, 1, 0.01, 1000);
  camera.position.set(3, 2.5, 4);
  if (grid) {
    // Compile the ground's shader now, not in the first frame of the first result.
    grid.visible = true;
    renderer.compile(scene, camera);
    grid.visible = false;
  }
  const controls = new OrbitControls(camera, element);
  controls.enableDamping = true;

  const stage = {
    renderer,
    scene,
    camera,
    controls,
    element,
    ground: grid,
    size: { width: 0, height: 0 },
    setTheme(isDark) {
      scene.background.set(isDark ? BACKGROUND.dark : BACKGROUND.light);
    },
    /** Frame `box` (and put the ground under it; `floor`: a fixed ground height). */
    frame(box, { move = true, floor = null } = {}) {
      if (grid) {
        placeGround(grid, box, floor);
        grid.visible = true;
      }
      if (move) fitCamera(camera, controls, box);
    },
    /** The view's size in CSS pixels (0 while the page has no layout: keep the last one). */
    resize(width, height) {
      stage.size = { width, height };
      element.rect = { ...element.rect, width, height };
      if (!width || !height) return;
      renderer.setSize(width, height, false);
      camera.aspect = width / height;
      camera.updateProjectionMatrix();
    },
  };
  stage.setTheme(dark);
  return stage;
}
