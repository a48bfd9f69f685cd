// Running generated code (docs/preview.md): the code is the body of
// `async function build(THREE, ctx)`, its loops carry the guard, build() and every
// onFrame callback run under a time budget. Used by the scene runtime (runtime.js) in
// every mode.
import { instrumentLoops } from "./guard.js";

const AsyncFunction = (async () => {}).constructor;

/**
 * Run `code` as `build(THREE, ctx)` with `guard` armed for `budgetMs`; resolves with the
 * `THREE.Object3D` it returned, rejects on an error, a runaway loop, a build that never
 * finishes or a result that is not an Object3D.
 */
export async function runBuild(THREE, code, ctx, guard, budgetMs) {
  const build = new AsyncFunction("THREE", "ctx", "__vdGuard", instrumentLoops(code));
  const release = guard.arm(budgetMs);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`build() did not finish within ${budgetMs / 1000} s`)), budgetMs);
  });
  let obj;
  try {
    obj = await Promise.race([build(THREE, ctx, guard), timeout]);
  } finally {
    release();
    clearTimeout(timer);
  }
  if (!obj || !obj.isObject3D) {
    const got = obj === undefined ? "nothing" : typeof obj;
    throw new Error(`build() must return a THREE.Object3D (it returned ${got})`);
  }
  return obj;
}

/**
 * Call every onFrame callback in `fns` (a Set) with `args`, under `guard` armed for
 * `budgetMs`; one that throws (or loops away) is removed and passed to `onError`.
 */
export function runFrameCallbacks(fns, args, guard, budgetMs, onError) {
  if (!fns.size) return;
  const release = guard.arm(budgetMs);
  try {
    for (const fn of [...fns]) {
      try {
        fn(...args);
      } catch (err) {
        fns.delete(fn);
        onError(err);
      }
    }
  } finally {
    release();
  }
}
