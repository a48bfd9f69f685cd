// Build the widget bundles into ../vibedraw_widget/static/ (minified, self-contained):
//   1. the preview runtime (three.js + OrbitControls/GLTFLoader/GLTFExporter + runner) as
//      an IIFE string, inlined into the sandboxed frame's srcdoc (virtual:preview-runtime);
//   2. sketchpad.js (+ sketchpad.css), the anywidget ESM entry;
//   3. world.js (the World widget) and viewer.js (the standalone offline viewer that
//      Result.save(".html"), the gallery and World inline: an IIFE, not a module).
// `node build.mjs --watch` rebuilds on change (use with ANYWIDGET_HMR=1).
import * as esbuild from "esbuild";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "vibedraw_widget", "static");
const watch = process.argv.includes("--watch");
const minify = !process.argv.includes("--no-minify");
mkdirSync(outdir, { recursive: true });

const common = {
  bundle: true,
  minify,
  legalComments: "none",
  target: ["es2020"],
  logLevel: "info",
  alias: { "three/addons": "three/examples/jsm" },
};

async function buildRuntime() {
  const result = await esbuild.build({
    ...common,
    entryPoints: [join(here, "src/preview/runtime.js")],
    format: "iife",
    write: false,
    logLevel: "warning",
  });
  return result.outputFiles[0].text;
}

// Serve the runtime bundle as a string module; rebuilt when any preview source changes.
const runtimePlugin = {
  name: "preview-runtime",
  setup(build) {
    build.onResolve({ filter: /^virtual:preview-runtime$/ }, () => ({
      path: "preview-runtime",
      namespace: "vd-runtime",
    }));
    build.onLoad({ filter: /.*/, namespace: "vd-runtime" }, async () => ({
      contents: `export default ${JSON.stringify(await buildRuntime())};`,
      loader: "js",
      watchDirs: [join(here, "src/preview")],
      watchFiles: ["runtime.js", "build.js", "guard.js"].map((f) => join(here, "src/preview", f)),
    }));
  },
};

const entries = [
  ["sketchpad", "src/sketchpad.js", "esm"],
  ["world", "src/world.js", "esm"],
  ["viewer", "src/viewer.js", "iife"],
].filter(([, src]) => existsSync(join(here, src)));

const contexts = [];
for (const [name, src, format] of entries) {
  const options = {
    ...common,
    entryPoints: { [name]: join(here, src) },
    outdir,
    format,
    plugins: [runtimePlugin],
    loader: { ".css": "css" },
  };
  if (watch) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
    contexts.push(ctx);
  } else {
    await esbuild.build(options);
  }
}

if (!watch) {
  for (const [name] of entries) {
    const file = join(outdir, `${name}.js`);
    console.log(`${file}: ${(statSync(file).size / 1024).toFixed(1)} KiB`);
  }
} else {
  console.log("watching js/src for changes…");
}
