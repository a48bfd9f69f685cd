// SketchPad: the anywidget front end. `initialize` makes one Controller per model (task
// streams live there, so a second view or a re-render shows the same task once);
// `render` builds one view: toolbar, drawing surface, actions, status, code pane, preview.
import "./sketchpad.css";
import { Controller, busy } from "./controller.js";
import { DrawingSurface, imageFileToPng } from "./draw/canvas.js";
import { emptySketch, normalizeSketch, parseSketchFile } from "./draw/strokes.js";
import { createPreview, download, standaloneHtml } from "./preview/host.js";

const controllers = new WeakMap();
const PALETTE = [
  ["#1e1e1e", "black"],
  ["#e03131", "red"],
  ["#2f9e44", "green"],
  ["#1971c2", "blue"],
  ["#f08c00", "orange"],
  ["#9c36b5", "purple"],
  ["#8d6e63", "brown"],
];
const WIDTHS = [2, 4, 8, 16];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children);
  return node;
}

const isDark = () => document.body?.dataset?.jpThemeLight === "false";

function controllerFor(model) {
  let c = controllers.get(model);
  if (!c) {
    c = new Controller(model);
    controllers.set(model, c);
  }
  return c;
}

function initialize({ model }) {
  const controller = controllerFor(model);
  return () => {
    controller.dispose();
    controllers.delete(model);
  };
}

function render({ model, el: host }) {
  const controller = controllerFor(model);
  const cleanups = [];
  const on = (event, fn) => {
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  };
  const tool = { tool: "pen", color: PALETTE[0][0], width: 4 };

  // -- toolbar ------------------------------------------------------------------------
  const toolButtons = {};
  const toolButton = (name, label, key) => {
    const b = el("button", {
      type: "button",
      class: "vd-btn vd-tool",
      "data-tool": name,
      "aria-pressed": String(name === tool.tool),
      title: `${label} (${key})`,
      text: label,
      onclick: () => selectTool(name),
    });
    toolButtons[name] = b;
    return b;
  };
  const selectTool = (name) => {
    tool.tool = name;
    for (const [n, b] of Object.entries(toolButtons)) b.setAttribute("aria-pressed", String(n === name));
    root.dataset.tool = name;
  };
  const swatches = PALETTE.map(([color, name]) =>
    el("button", {
      type: "button",
      class: "vd-swatch",
      style: `background:${color}`,
      "aria-label": `Colour ${name}`,
      "aria-pressed": String(color === tool.color),
      title: name,
      onclick: () => selectColor(color),
    }),
  );
  const picker = el("input", { type: "color", value: tool.color, "aria-label": "Custom colour", class: "vd-picker" });
  picker.addEventListener("input", () => selectColor(picker.value));
  const selectColor = (color) => {
    tool.color = color;
    picker.value = color;
    swatches.forEach((s, i) => s.setAttribute("aria-pressed", String(PALETTE[i][0] === color)));
    if (tool.tool === "eraser" || tool.tool === "text") selectTool("pen");
  };
  const widthSelect = el(
    "select",
    { "aria-label": "Stroke width", class: "vd-select" },
    ...WIDTHS.map((w) => el("option", { value: String(w), text: `${w} px`, selected: w === tool.width })),
  );
  widthSelect.addEventListener("change", () => (tool.width = Number(widthSelect.value)));
  const undoBtn = el("button", { type: "button", class: "vd-btn", title: "Undo (Ctrl+Z)", text: "Undo", onclick: () => model.send({ type: "undo" }) });
  const redoBtn = el("button", { type: "button", class: "vd-btn", title: "Redo (Ctrl+Shift+Z)", text: "Redo", onclick: () => model.send({ type: "redo" }) });
  const clearBtn = el("button", {
    type: "button",
    class: "vd-btn",
    text: "Clear",
    onclick: () => {
      const s = normalizeSketch(model.get("sketch"));
      commit(emptySketch(s.width, s.height, s.background));
    },
  });
  const fileInput = el("input", { type: "file", accept: ".json,application/json,image/*", hidden: true, "aria-hidden": "true", tabindex: "-1" });
  const loadBtn = el("button", { type: "button", class: "vd-btn", text: "Load…", title: "Load a sketch (.json) or an image", onclick: () => fileInput.click() });
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files?.[0];
    fileInput.value = "";
    if (!file) return;
    try {
      if (file.name.endsWith(".json") || file.type === "application/json") {
        model.send({ type: "load_sketch", sketch: parseSketchFile(await file.text()) });
      } else {
        const s = normalizeSketch(model.get("sketch"));
        const png = await imageFileToPng(file, s.width, s.height, s.background);
        model.send({ type: "load_image", name: file.name }, undefined, [png]);
      }
    } catch (err) {
      model.set("error", `could not load ${file.name}: ${err.message || err}`);
      model.save_changes();
    }
  });
  const toolbar = el(
    "div",
    { class: "vd-toolbar", role: "toolbar", "aria-label": "Drawing tools" },
    el("span", { class: "vd-group", role: "group", "aria-label": "Tool" }, toolButton("pen", "Pen", "P"), toolButton("eraser", "Eraser", "E"), toolButton("text", "Text", "T")),
    el("span", { class: "vd-group", role: "group", "aria-label": "Colour" }, ...swatches, picker),
    el("label", { class: "vd-label" }, "Width ", widthSelect),
    el("span", { class: "vd-group", role: "group", "aria-label": "History" }, undoBtn, redoBtn, clearBtn, loadBtn, fileInput),
  );

  // -- drawing surface ------------------------------------------------------------------
  const surfaceBox = el("div", { class: "vd-surface-box" });
  const commit = (sketch) => {
    model.set("sketch", sketch); // change:sketch shows it on the surface
    model.save_changes();
  };
  const surface = new DrawingSurface(surfaceBox, {
    getSketch: () => model.get("sketch"),
    getTool: () => tool,
    onCommit: (sketch) => {
      model.set("sketch", sketch);
      model.save_changes();
    },
  });
  surface.setSketch(model.get("sketch"));
  on("change:sketch", () => surface.setSketch(model.get("sketch")));

  // -- preview --------------------------------------------------------------------------
  const previewBox = el("div", { class: "vd-preview", "data-frames": "0" });
  const placeholder = el("div", { class: "vd-placeholder", text: "Draw, then Make 3D or Make mesh" });
  previewBox.append(placeholder);
  let runtimeError = "";
  const preview = createPreview(previewBox, {
    dark: isDark(),
    onFrame: (msg) => {
      previewBox.dataset.firstFrameMs = String(Math.round(msg.ms));
    },
    onError: (msg) => {
      runtimeError = `${msg.phase === "frame" ? "error in an animation frame" : "error running the code"}: ${msg.message}`;
      fixBtn.hidden = model.get("result_kind") !== "code";
      model.set("error", runtimeError);
      model.save_changes();
    },
  });
  // JupyterLab switches themes live: the preview follows (body[data-jp-theme-light]).
  const themeWatch = new MutationObserver(() => preview.setDark(isDark()));
  if (document.body) themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });
  cleanups.push(() => themeWatch.disconnect());
  let shownVersion = -1;
  const showResult = () => {
    const version = model.get("result_version") || 0;
    const kind = model.get("result_kind");
    if (!kind || version === shownVersion) return;
    if (kind === "model" && !controller.glb) return; // shown when the bytes arrive
    shownVersion = version;
    placeholder.hidden = true;
    runtimeError = "";
    fixBtn.hidden = true;
    if (kind === "code") {
      const keepView = model.get("task_type") === "edit"; // "make it bigger" must look bigger
      preview.showCode(model.get("code"), { keepView }).catch(() => {});
    } else {
      preview.showGlb(controller.glb.buffer).catch(() => {});
    }
    updateButtons();
  };
  const glbBtn = el("button", {
    type: "button",
    class: "vd-btn",
    text: "Download .glb",
    onclick: async () => {
      try {
        if (model.get("result_kind") === "model" && controller.glb) {
          const url = model.get("glb_url");
          if (url && controller.mode === "server") {
            const a = el("a", { href: url, download: `vibedraw-${model.get("task_id")}.glb` });
            document.body.appendChild(a);
            a.click();
            a.remove();
          } else download("vibedraw-model.glb", controller.glb.buffer, "model/gltf-binary");
        } else {
          download("vibedraw-model.glb", await preview.exportGlb(), "model/gltf-binary");
        }
      } catch (err) {
        showError(`could not export: ${err.message || err}`);
      }
    },
  });
  const htmlBtn = el("button", {
    type: "button",
    class: "vd-btn",
    text: "Download .html",
    onclick: () => download("vibedraw-model.html", standaloneHtml(model.get("code")), "text/html"),
  });
  const fixBtn = el("button", {
    type: "button",
    class: "vd-btn vd-fix",
    text: "Fix it",
    hidden: true,
    onclick: () => controller.start("edit", { prompt: "fix the error", error: runtimeError || model.get("error") }),
  });
  const toCellBtn = el("button", {
    type: "button",
    class: "vd-btn",
    text: "To cell",
    title: "Add a code cell below that recreates this result, so the notebook keeps it",
    onclick: () => controller.toCell(),
  });
  const previewPane = el(
    "div",
    { class: "vd-preview-pane" },
    previewBox,
    el("div", { class: "vd-row", role: "group", "aria-label": "Result" }, glbBtn, htmlBtn, toCellBtn, fixBtn),
  );

  // -- actions ----------------------------------------------------------------------------
  const promptInput = el("input", { type: "text", class: "vd-prompt", placeholder: "Prompt (optional): what is it? what to change?", "aria-label": "Prompt" });
  promptInput.value = model.get("prompt") || "";
  promptInput.addEventListener("change", () => {
    model.set("prompt", promptInput.value);
    model.save_changes();
  });
  promptInput.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.key === "Enter") {
      model.set("prompt", promptInput.value);
      model.save_changes();
    }
  });
  on("change:prompt", () => {
    if (document.activeElement !== promptInput) promptInput.value = model.get("prompt") || "";
  });
  const codeProvider = el("select", { class: "vd-select", "aria-label": "Code provider" });
  const meshProvider = el("select", { class: "vd-select", "aria-label": "Mesh provider" });
  const fillProviders = () => {
    const list = controller.providers.length ? controller.providers : model.get("providers") || [];
    for (const [select, kind, trait] of [[codeProvider, "code", "provider"], [meshProvider, "model", "model_provider"]]) {
      const current = model.get(trait);
      select.replaceChildren(el("option", { value: "", text: `${kind === "code" ? "code" : "mesh"}: default` }));
      for (const p of list.filter((p) => p.kind === kind)) {
        select.append(
          el("option", {
            value: p.name,
            text: `${p.name}${p.default ? " (default)" : ""}${p.configured === false ? " — not configured" : ""}`,
            disabled: p.configured === false,
            title: p.message || p.description || "",
          }),
        );
      }
      select.value = current || "";
    }
  };
  codeProvider.addEventListener("change", () => {
    model.set("provider", codeProvider.value);
    model.save_changes();
  });
  meshProvider.addEventListener("change", () => {
    model.set("model_provider", meshProvider.value);
    model.save_changes();
  });
  const go = (kind) => () => {
    model.set("prompt", promptInput.value);
    model.save_changes();
    controller.start(kind, { prompt: promptInput.value });
  };
  const make3d = el("button", { type: "button", class: "vd-btn vd-primary", text: "Make 3D", onclick: go("code") });
  const makeMesh = el("button", { type: "button", class: "vd-btn vd-primary", text: "Make mesh", onclick: go("model") });
  const improve = el("button", { type: "button", class: "vd-btn", text: "Improve", onclick: go("improve") });
  const edit = el("button", { type: "button", class: "vd-btn", text: "Edit", title: "Change the current result as the prompt says", onclick: go("edit") });
  const cancel = el("button", { type: "button", class: "vd-btn", text: "Cancel", onclick: () => controller.cancel() });
  const actions = el(
    "div",
    { class: "vd-toolbar vd-actions", role: "toolbar", "aria-label": "Generate" },
    promptInput,
    codeProvider,
    meshProvider,
    make3d,
    makeMesh,
    improve,
    edit,
    cancel,
  );

  // -- status, errors, code -------------------------------------------------------------
  const connection = el("span", { class: "vd-connection", role: "status", "aria-live": "polite" });
  const statusText = el("span", { class: "vd-status-text", "aria-live": "polite" });
  const bar = el("progress", { class: "vd-progress", max: "1", value: "0", "aria-label": "Progress" });
  const errorBox = el("div", { class: "vd-error", role: "alert", hidden: true });
  const noticeBox = el("div", { class: "vd-notice", role: "note", hidden: true });
  const codeEl = el("code");
  const codePane = el("pre", { class: "vd-code", tabindex: "0", "aria-label": "Generated code" }, codeEl);
  const status = el("div", { class: "vd-status" }, connection, statusText, bar);
  const showError = (text) => {
    errorBox.hidden = !text;
    errorBox.textContent = text || "";
  };

  const updateButtons = () => {
    const running = busy(model.get("status"));
    for (const b of [make3d, makeMesh, improve, edit]) b.disabled = running;
    edit.disabled = running || !model.get("code");
    cancel.disabled = !running;
    undoBtn.disabled = !model.get("can_undo");
    redoBtn.disabled = !model.get("can_redo");
    const kind = model.get("result_kind");
    htmlBtn.disabled = kind !== "code" || !model.get("code");
    glbBtn.disabled = !kind;
  };
  const updateStatus = () => {
    const s = model.get("status") || "idle";
    const msg = model.get("message") || "";
    statusText.textContent = s === "idle" ? "ready" : `${s}${msg && msg !== s ? `: ${msg}` : ""}`;
    root.dataset.status = s;
    bar.value = Math.max(0, Math.min(1, model.get("progress") || 0));
    bar.hidden = !busy(s) && s !== "completed";
    updateButtons();
  };
  const updateCode = () => {
    codeEl.textContent = model.get("code") || "";
    if (busy(model.get("status"))) codePane.scrollTop = codePane.scrollHeight;
  };
  const updateConnection = () => {
    const c = model.get("connection") || "connecting";
    // "kernel": tasks run in the kernel, by choice (transport="kernel") or because the
    // server extension is missing (then the notice below says so).
    connection.textContent = c === "kernel" ? "runs in the kernel" : c;
    connection.dataset.state = c;
  };
  const updateNotice = () => {
    noticeBox.hidden = !controller.notice;
    noticeBox.textContent = controller.notice;
  };

  // -- layout --------------------------------------------------------------------------------
  const root = el(
    "div",
    { class: "vd-pad", "data-tool": "pen" },
    toolbar,
    el("div", { class: "vd-main" }, surfaceBox, previewPane),
    actions,
    status,
    noticeBox,
    errorBox,
    el("details", { class: "vd-code-details", open: true }, el("summary", { text: "Code" }), codePane),
  );
  host.appendChild(root);

  // Shortcuts while focus is inside the pad (not globally: JupyterLab owns the page).
  const onKey = (e) => {
    if (e.target instanceof HTMLInputElement && e.target.type === "text") return;
    const mod = e.ctrlKey || e.metaKey;
    if (mod && e.key.toLowerCase() === "z") {
      e.preventDefault();
      e.stopPropagation();
      model.send({ type: e.shiftKey ? "redo" : "undo" });
    } else if (mod && e.key.toLowerCase() === "y") {
      e.preventDefault();
      e.stopPropagation();
      model.send({ type: "redo" });
    } else if (!mod && !e.altKey && e.target === surface.live) {
      const t = { p: "pen", e: "eraser", t: "text" }[e.key.toLowerCase()];
      if (t) {
        e.stopPropagation();
        selectTool(t);
      }
    }
  };
  root.addEventListener("keydown", onKey);

  on("change:status", updateStatus);
  on("change:message", updateStatus);
  on("change:progress", updateStatus);
  on("change:can_undo", updateButtons);
  on("change:can_redo", updateButtons);
  on("change:result_kind", updateButtons);
  on("change:code", () => {
    updateCode();
    updateButtons();
  });
  on("change:error", () => {
    const e = model.get("error");
    showError(e);
    if (!e) fixBtn.hidden = true;
  });
  on("change:connection", updateConnection);
  // After the whole update: marimo applies a kernel update one trait at a time (in the
  // kernel's order, which varies), so result_kind and code may not be there yet.
  on("change:result_version", () => queueMicrotask(showResult));
  on("change:providers", fillProviders);
  cleanups.push(
    controller.subscribe((what) => {
      if (what === "mode") fillProviders();
      else if (what === "glb") showResult();
      else if (what === "notice") updateNotice();
    }),
  );
  fillProviders();
  updateStatus();
  updateCode();
  updateConnection();
  updateNotice();
  showError(model.get("error"));
  showResult(); // a mesh missing after a reload is fetched once, by the controller's resume()

  // The benchmark and tests read drawing frame times from here.
  root.__vdSurface = surface;

  return () => {
    for (const fn of cleanups) fn();
    root.removeEventListener("keydown", onKey);
    surface.dispose();
    preview.dispose();
    root.remove();
  };
}

export default { initialize, render };
