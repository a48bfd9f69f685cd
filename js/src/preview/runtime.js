// The scene runtime (docs/preview.md): one script, run twice. In the runtime frame's
// document it is the page side (window.js), which starts a dedicated Worker from this
// same script's text; in that worker it is the scene side (scene.js), where three.js,
// the scene and the generated code run. The page's boot script keeps the text in
// `window.__vdRuntime` for it.
import { startScene } from "./scene.js";
import { startPage } from "./window.js";

if (typeof document === "undefined") startScene(self);
else startPage(window.__vdRuntime);
