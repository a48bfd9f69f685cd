// Build the widget bundles into ../vibedraw_widget/static/ (minified, self-contained):
//   sketchpad.js (+ sketchpad.css)  the SketchPad, an anywidget ESM entry. It carries the
//       preview contract (docs/preview.md): the scene runtime (three.js + addons + runner,
//       an IIFE run inside the sandboxed runtime frame), the shell page's script and the
//       two CSPs, as one JSON literal between /*vd-contract*/ … /*vd-contract-end*/.
//       viewer.py reads it back from there for Results, the gallery, the World and saved
//       pages, so three.js is in the package once.
//   world.js  the World widget (its page comes from Python; the shared frame host only).
// `node build.mjs --watch` rebuilds on change (use with ANYWIDGET_HMR=1).
import * as esbuild from "esbuild";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RUNTIME_CSP, SANDBOX, SHELL_CSP } from "./src/preview/page.js";

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

async function iife(entry) {
  const result = await esbuild.build({ ...common, entryPoints: [join(here, entry)], format: "iife", write: false, logLevel: "warning" });
  return result.outputFiles[0].text.trim();
}

const PLACEHOLDER = "__VD_CONTRACT__";
export const MARK = ["/*vd-contract*/", "/*vd-contract-end*/"];

async function contract() {
  const [runtime, shell] = await Promise.all([iife("src/preview/runtime.js"), iife("src/preview/shell.js")]);
  return { version: 1, sandbox: SANDBOX, runtime_csp: RUNTIME_CSP, shell_csp: SHELL_CSP, runtime, shell };
}

// The contract module is a placeholder the output step replaces with the JSON literal
// (so that the minifier never rewrites it and Python can find it verbatim).
const contractPlugin = {
  name: "preview-contract",
  setup(build) {
    build.onResolve({ filter: /^virtual:preview-contract$/ }, () => ({ path: "contract", namespace: "vd-contract" }));
    build.onLoad({ filter: /.*/, namespace: "vd-contract" }, () => ({
      contents: `export default ${PLACEHOLDER};`,
      loader: "js",
      watchDirs: [join(here, "src/preview")],
    }));
    build.onEnd(async (result) => {
      if (result.errors.length || !result.outputFiles) return;
      let filled = null;
      for (const file of result.outputFiles) {
        let text = file.text;
        if (text.includes(PLACEHOLDER)) {
          if (text.split(PLACEHOLDER).length !== 2) throw new Error(`${file.path}: the contract placeholder must occur once`);
          filled ??= `${MARK[0]}${JSON.stringify(await contract())}${MARK[1]}`;
          text = text.replace(PLACEHOLDER, () => filled);
        }
        writeFileSync(file.path, text);
      }
    });
  },
};

const entries = [
  ["sketchpad", "src/sketchpad.js"],
  ["world", "src/world.js"],
];

for (const [name, src] of entries) {
  const options = {
    ...common,
    entryPoints: { [name]: join(here, src) },
    outdir,
    format: "esm",
    write: false,
    plugins: [contractPlugin],
    loader: { ".css": "css" },
  };
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}

if (!watch) {
  for (const [name] of entries) {
    const file = join(outdir, `${name}.js`);
    console.log(`${file}: ${(statSync(file).size / 1024).toFixed(1)} KiB`);
  }
} else {
  console.log("watching js/src for changes…");
}
