// SketchPad: the anywidget front end. `initialize` makes one Controller per model (task
// streams live there, so a second view or a re-render shows the same task once);
// `render` builds one view from short parts: toolbar, drawing surface, preview, actions,
// status, code pane, keyboard guard. What the actions and the code pane may offer comes
// from padstate.js, a pure function of the synced state.
import "./sketchpad.css";
import { busy, controllerFor, releaseController } from "./controller.js";
import { DrawingSurface, imageFileToPng } from "./draw/canvas.js";
import { emptySketch, normalizeSketch, parseSketchFile } from "./draw/strokes.js";
import { CodeEditor } from "./editor.js";
import { focusNotebook, guardKeys } from "./keys.js";
import { downloadName, padView } from "./padstate.js";
import { createPreview, download, standaloneHtml } from "./preview/host.js";
import { isDark, watchTheme } from "./theme.js";

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

const button = (text, attrs = {}) => el("button", { type: "button", class: "vd-btn", text, ...attrs });

function initialize({ model }) {
  controllerFor(model);
  return () => releaseController(model);
}

// -- shared view state ----------------------------------------------------------------------

/** What every part of one view shares: the model, its controller, the tool, cleanups. */
function padContext(model) {
  const cleanups = [];
  const pad = {
    model,
    controller: controllerFor(model),
    tool: { tool: "pen", color: PALETTE[0][0], width: 4 },
    cleanups,
    on(event, fn) {
      model.on(event, fn);
      cleanups.push(() => model.off(event, fn));
    },
    save(patch) {
      for (const [k, v] of Object.entries(patch)) model.set(k, v);
      model.save_changes();
    },
    /** The user changed the drawing: an outcome of an earlier task no longer applies. */
    drawingChanged() {
      if (busy(model.get("status"))) return;
      const patch = {};
      if (model.get("error")) patch.error = "";
      if (["failed", "cancelled"].includes(model.get("status"))) Object.assign(patch, { status: "idle", message: "" });
      if (Object.keys(patch).length) pad.save(patch);
    },
    commit(sketch) {
      pad.drawingChanged();
      pad.save({ sketch }); // change:sketch shows it on the surface
    },
    send(msg, buffers) {
      model.send(msg, undefined, buffers);
    },
  };
  return pad;
}

// -- toolbar: tools, colours, width, history, load ------------------------------------------

function toolbarPart(pad) {
  const { model, tool } = pad;
  const toolButtons = {};
  const selectTool = (name) => {
    tool.tool = name;
    for (const [n, b] of Object.entries(toolButtons)) b.setAttribute("aria-pressed", String(n === name));
    pad.root.dataset.tool = name;
    if (name !== "select") pad.surface?.clearSelection();
  };
  const toolButton = (name, label, key) =>
    (toolButtons[name] = button(label, {
      class: "vd-btn vd-tool",
      "data-tool": name,
      "aria-pressed": String(name === tool.tool),
      title: `${label} (${key})`,
      onclick: () => selectTool(name),
    }));

  // A colour is for drawing or writing: picking one leaves the eraser, keeps the text tool.
  const colours = colourPicker(tool, () => tool.tool === "eraser" && selectTool("pen"));

  const widthSelect = el(
    "select",
    { "aria-label": "Stroke width", class: "vd-select" },
    ...WIDTHS.map((w) => el("option", { value: String(w), text: `${w} px`, selected: w === tool.width })),
  );
  widthSelect.addEventListener("change", () => (tool.width = Number(widthSelect.value)));

  const history = (type) => () => {
    pad.drawingChanged();
    pad.send({ type });
  };
  const undoBtn = button("Undo", { title: "Undo (Ctrl+Z)", onclick: history("undo") });
  const redoBtn = button("Redo", { title: "Redo (Ctrl+Shift+Z)", onclick: history("redo") });
  const clearBtn = button("Clear", {
    title: "Remove every stroke and label",
    onclick: () => {
      const s = normalizeSketch(model.get("sketch"));
      pad.commit(emptySketch(s.width, s.height, s.background));
    },
  });
  const fileInput = el("input", { type: "file", accept: ".json,application/json,image/*", hidden: true, "aria-hidden": "true", tabindex: "-1" });
  const loadBtn = button("Load…", { title: "Load a sketch (.json) or an image", onclick: () => fileInput.click() });
  fileInput.addEventListener("change", () => loadFile(pad, fileInput));

  const fitBtn = button("Fit", {
    title: "Zoom to the drawing (F). Ctrl+wheel or pinch zooms, space-drag or middle-drag pans",
    onclick: () => pad.surface.fit(),
  });
  const node = el(
    "div",
    { class: "vd-toolbar", role: "toolbar", "aria-label": "Drawing tools" },
    el(
      "span",
      { class: "vd-group", role: "group", "aria-label": "Tool" },
      toolButton("pen", "Pen", "P"),
      toolButton("eraser", "Eraser", "E"),
      toolButton("text", "Text", "T"),
      toolButton("select", "Select", "V; drag a box, Shift+drag a lasso, Delete removes"),
      fitBtn,
    ),
    colours,
    el("label", { class: "vd-label" }, "Width ", widthSelect),
    el("span", { class: "vd-group", role: "group", "aria-label": "History" }, undoBtn, redoBtn, clearBtn, loadBtn, fileInput),
  );
  const update = () => {
    undoBtn.disabled = !model.get("can_undo");
    redoBtn.disabled = !model.get("can_redo");
  };
  return { node, selectTool, update };
}

/** The palette's swatches and a custom colour input; `onPick` after each choice. */
function colourPicker(tool, onPick) {
  const swatches = PALETTE.map(([color, name]) =>
    el("button", {
      type: "button",
      class: "vd-swatch",
      style: `background:${color}`,
      "aria-label": `Colour ${name}`,
      "aria-pressed": String(color === tool.color),
      title: name,
      onclick: () => select(color),
    }),
  );
  const picker = el("input", { type: "color", value: tool.color, "aria-label": "Custom colour", class: "vd-picker" });
  picker.addEventListener("input", () => select(picker.value));
  const select = (color) => {
    tool.color = color;
    picker.value = color;
    swatches.forEach((s, i) => s.setAttribute("aria-pressed", String(PALETTE[i][0] === color)));
    onPick();
  };
  return el("span", { class: "vd-group", role: "group", "aria-label": "Colour" }, ...swatches, picker);
}

/** Load… : a sketch file goes to the kernel as JSON, an image as PNG bytes (it traces it). */
async function loadFile(pad, fileInput) {
  const { model } = pad;
  const file = fileInput.files?.[0];
  fileInput.value = "";
  if (!file) return;
  try {
    pad.drawingChanged();
    if (file.name.endsWith(".json") || file.type === "application/json") {
      pad.send({ type: "load_sketch", sketch: parseSketchFile(await file.text()) });
    } else {
      const s = normalizeSketch(model.get("sketch"));
      const png = await imageFileToPng(file, s.width, s.height, s.background);
      pad.send({ type: "load_image", name: file.name }, [png]);
    }
  } catch (err) {
    pad.save({ error: `could not load ${file.name}: ${err.message || err}` });
  }
}

// -- drawing surface ---------------------------------------------------------------------

function surfacePart(pad) {
  const { model } = pad;
  const node = el("div", { class: "vd-surface-box" });
  const surface = new DrawingSurface(node, {
    getSketch: () => model.get("sketch"),
    getTool: () => pad.tool,
    onCommit: (sketch) => pad.commit(sketch),
  });
  // Shown at the sketch's own size at most (SketchPad(width=…, height=…)), until resized.
  const fitWidth = () => (node.style.maxWidth = `${normalizeSketch(model.get("sketch")).width}px`);
  fitWidth();
  surface.setSketch(model.get("sketch"));
  pad.on("change:sketch", () => {
    surface.setSketch(model.get("sketch"));
    if (!node.dataset.resized) fitWidth();
  });
  node.append(resizeHandle(node));
  pad.cleanups.push(() => surface.dispose());
  return { node, surface };
}

/** A corner handle that resizes the drawing surface (the sketch keeps its pixels). */
function resizeHandle(box) {
  const handle = el("div", { class: "vd-resize", title: "Drag to resize the pad", "aria-hidden": "true" });
  handle.addEventListener("pointerdown", (down) => {
    down.preventDefault();
    down.stopPropagation();
    handle.setPointerCapture?.(down.pointerId);
    const startWidth = box.getBoundingClientRect().width;
    const move = (e) => {
      const width = Math.max(200, startWidth + e.clientX - down.clientX);
      Object.assign(box.style, { flex: `0 0 ${width}px`, maxWidth: "none", width: `${width}px` });
      box.dataset.resized = "true";
    };
    const up = () => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
  });
  return handle;
}

// -- preview and its downloads ------------------------------------------------------------

function previewPart(pad) {
  const { model, controller } = pad;
  const box = el("div", { class: "vd-preview", "data-frames": "0" });
  const placeholder = el("div", { class: "vd-placeholder", text: "Draw, then Make 3D or Make mesh" });
  box.append(placeholder);
  let runtimeError = "";

  const fixBtn = button("Fix it", {
    class: "vd-btn vd-fix",
    hidden: true,
    title: "Ask for a fix of the error in the code on screen",
    onclick: () => controller.start("edit", { prompt: "fix the error", error: runtimeError || model.get("error") }),
  });
  const preview = createPreview(box, {
    dark: isDark(),
    onFrame: (msg) => (box.dataset.firstFrameMs = String(Math.round(msg.ms))),
    onEscape: () => focusNotebook(pad.root),
    onError: (msg) => {
      runtimeError = `${msg.phase === "frame" ? "error in an animation frame" : "error running the code"}: ${msg.message}`;
      pad.codeEditor?.markError(msg.message, msg.stack);
      fixBtn.hidden = model.get("result_kind") !== "code";
      pad.save({ error: runtimeError });
    },
  });
  pad.cleanups.push(() => preview.dispose());
  pad.cleanups.push(watchTheme((dark) => preview.setDark(dark))); // JupyterLab switches live

  let shownVersion = -1;
  const show = () => {
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
  };

  const toCellBtn = button("To cell", {
    title: "Add a code cell below that recreates this result, so the notebook keeps it",
    onclick: () => controller.toCell(),
  });
  const downloads = downloadButtons(pad, preview);
  const node = el(
    "div",
    { class: "vd-preview-pane" },
    box,
    el("div", { class: "vd-row", role: "group", "aria-label": "Result" }, ...downloads.nodes, toCellBtn, fixBtn),
  );
  const update = () => {
    downloads.update();
    if (!model.get("error")) fixBtn.hidden = true;
  };
  return { node, show, update };
}

/** Download .glb / .html of the result on screen, named after its prompt or labels. */
function downloadButtons(pad, preview) {
  const { model, controller } = pad;
  const fileName = (extension) =>
    downloadName(
      { prompt: model.get("prompt"), sketch: model.get("result_sketch") || model.get("sketch"), kind: model.get("result_kind") },
      extension,
    );
  const downloadGlb = async () => {
    try {
      const name = fileName("glb");
      // A mesh's bytes are here already (the server's URL would name the file by task id).
      if (model.get("result_kind") === "model" && controller.glb) {
        download(name, controller.glb.buffer, "model/gltf-binary");
      } else {
        download(name, await preview.exportGlb(), "model/gltf-binary");
      }
    } catch (err) {
      pad.save({ error: `could not export: ${err.message || err}` });
    }
  };
  const glb = button("Download .glb", { title: "The result on screen as a glTF binary", onclick: downloadGlb });
  // STL for printing: the kernel converts the mesh on screen (millimetres, z up, 100 mm).
  const stl = button("Download .stl", {
    title: "The mesh on screen for 3D printing (millimetres, 100 mm across; tick 'one solid' first)",
    onclick: () => {
      if (!controller.glb) return;
      const name = fileName("stl");
      pad.send({ type: "export_print", format: "stl", name }, [controller.glb.buffer.slice(0)]);
    },
  });
  const onFile = (msg, buffers) => {
    if (msg?.type === "file" && buffers?.length) download(msg.name, buffers[0], "model/stl"); // a DataView
  };
  model.on("msg:custom", onFile);
  pad.cleanups.push(() => model.off("msg:custom", onFile));
  const html = button("Download .html", {
    title: "The code on screen as a page that runs offline",
    onclick: () => download(fileName("html"), standaloneHtml(model.get("code")), "text/html"),
  });
  const update = () => {
    const kind = model.get("result_kind");
    html.disabled = kind !== "code" || !model.get("code");
    glb.disabled = !kind;
    stl.disabled = kind !== "model";
  };
  return { nodes: [glb, stl, html], update };
}

// -- actions: prompt, providers, Make 3D / Make mesh / Improve / Edit / Cancel ----------------

function promptInput(pad) {
  const { model } = pad;
  const input = el("input", {
    type: "text",
    class: "vd-prompt",
    placeholder: "Prompt (optional): what is it? what to change?",
    title: "What the drawing is, or for Edit what to change",
    "aria-label": "Prompt",
  });
  input.value = model.get("prompt") || "";
  const store = () => pad.save({ prompt: input.value });
  input.addEventListener("change", store);
  input.addEventListener("keydown", (e) => e.key === "Enter" && store());
  pad.on("change:prompt", () => {
    if (document.activeElement !== input) input.value = model.get("prompt") || "";
  });
  return input;
}

function providerMenus(pad) {
  const { model, controller } = pad;
  const code = el("select", { class: "vd-select", "aria-label": "Code provider" });
  const mesh = el("select", { class: "vd-select", "aria-label": "Mesh provider" });
  const fill = () => {
    const list = controller.providers.length ? controller.providers : model.get("providers") || [];
    for (const [select, kind, trait] of [[code, "code", "provider"], [mesh, "model", "model_provider"]]) {
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
      select.value = model.get(trait) || "";
    }
  };
  code.addEventListener("change", () => pad.save({ provider: code.value }));
  mesh.addEventListener("change", () => pad.save({ model_provider: mesh.value }));
  pad.on("change:providers", fill);
  pad.cleanups.push(controller.subscribe((what) => what === "mode" && fill()));
  fill();
  return [code, mesh];
}

function actionsPart(pad) {
  const { controller } = pad;
  const prompt = promptInput(pad);
  // `kind` → task type stays in controller.js (TYPES), where it is mapped once.
  const go = (kind) => () => {
    pad.save({ prompt: prompt.value });
    controller.start(kind, { prompt: prompt.value });
  };
  const buttons = {
    make3d: button("Make 3D", { class: "vd-btn vd-primary", onclick: go("code") }),
    makeMesh: button("Make mesh", { class: "vd-btn vd-primary", onclick: go("model") }),
    improve: button("Improve", { onclick: go("improve") }),
    edit: button("Edit", { onclick: go("edit") }),
    cancel: button("Cancel", { onclick: () => controller.cancel() }),
  };
  // "one solid": Make mesh unions the parts (manifold3d) into one watertight, printable body.
  const merge = el("input", { type: "checkbox", "aria-label": "Make mesh as one solid" });
  merge.checked = Boolean(pad.model.get("merge_mesh"));
  merge.addEventListener("change", () => pad.save({ merge_mesh: merge.checked }));
  pad.on("change:merge_mesh", () => (merge.checked = Boolean(pad.model.get("merge_mesh"))));
  const mergeLabel = el("label", { class: "vd-label", title: "Make mesh unions the parts into one watertight solid, for printing" }, merge, " one solid");
  const node = el(
    "div",
    { class: "vd-toolbar vd-actions", role: "toolbar", "aria-label": "Generate" },
    prompt,
    el("span", { class: "vd-group", role: "group", "aria-label": "Providers" }, ...providerMenus(pad)),
    el("span", { class: "vd-group", role: "group", "aria-label": "Actions" }, ...Object.values(buttons), mergeLabel),
  );
  /** Apply padView's answer: enabled or not, and why, on hover. */
  const update = (view) => {
    for (const [name, b] of Object.entries(buttons)) {
      b.disabled = view[name].disabled;
      b.title = view[name].title;
    }
  };
  return { node, update };
}

// -- status, notices, errors, code pane ---------------------------------------------------

function statusPart(pad) {
  const { model, controller } = pad;
  const connection = el("span", { class: "vd-connection", role: "status", "aria-live": "polite" });
  const text = el("span", { class: "vd-status-text", "aria-live": "polite" });
  const bar = el("progress", { class: "vd-progress", max: "1", value: "0", "aria-label": "Progress" });
  const notice = el("div", { class: "vd-notice", role: "note", hidden: true });
  const error = el("div", { class: "vd-error", role: "alert", hidden: true });

  const updateStatus = () => {
    const s = model.get("status") || "idle";
    const msg = model.get("message") || "";
    text.textContent = s === "idle" ? "ready" : `${s}${msg && msg !== s ? `: ${msg}` : ""}`;
    pad.root.dataset.status = s;
    bar.value = Math.max(0, Math.min(1, model.get("progress") || 0));
    bar.hidden = !busy(s) && s !== "completed";
  };
  const updateConnection = () => {
    const c = model.get("connection") || "connecting";
    // "kernel": tasks run in the kernel, by choice (transport="kernel") or because the
    // server extension is missing (then the notice says so).
    connection.textContent = c === "kernel" ? "runs in the kernel" : c;
    connection.dataset.state = c;
  };
  const updateNotice = () => {
    notice.hidden = !controller.notice;
    notice.textContent = controller.notice;
  };
  const updateError = () => {
    const e = model.get("error");
    error.hidden = !e;
    error.textContent = e || "";
  };
  for (const name of ["status", "message", "progress"]) pad.on(`change:${name}`, updateStatus);
  pad.on("change:connection", updateConnection);
  pad.on("change:error", updateError);
  pad.cleanups.push(controller.subscribe((what) => what === "notice" && updateNotice()));
  const update = () => {
    updateStatus();
    updateConnection();
    updateNotice();
    updateError();
  };
  return { nodes: [el("div", { class: "vd-status" }, connection, text, bar), notice, error], update };
}

function codePart(pad) {
  const { model } = pad;
  // Edited code is run as the pad's result: shown, downloadable, and what Edit changes.
  const run = (code) => {
    if (busy(model.get("status"))) return;
    pad.save({
      code,
      error: "",
      result_kind: "code",
      result_sketch: model.get("sketch"),
      result_version: (model.get("result_version") || 0) + 1,
    });
  };
  const editor = new CodeEditor({ onRun: run, onLeave: () => pad.surface.live.focus({ preventScroll: true }) });
  editor.el.classList.add("vd-code");
  pad.codeEditor = editor;
  const runBtn = button("Run code", { title: "Show the code as edited (Ctrl+Enter)", onclick: () => run(editor.value) });
  const note = el("div", { class: "vd-code-note", role: "note", hidden: true });
  const node = el(
    "details",
    { class: "vd-code-details", open: true },
    el("summary", { text: "Code" }),
    note,
    editor.el,
    el("div", { class: "vd-row" }, runBtn),
  );
  const update = (view) => {
    const running = busy(model.get("status"));
    editor.readOnly = running;
    runBtn.disabled = running || !editor.value;
    editor.setValue(model.get("code") || "", { follow: running });
    note.hidden = !view.codeNote;
    note.textContent = view.codeNote;
    editor.el.classList.toggle("vd-stale", Boolean(view.codeNote));
  };
  editor.text.addEventListener("input", () => (runBtn.disabled = busy(model.get("status")) || !editor.value));
  return { node, update };
}

// -- keyboard: the pad's own shortcuts, and nothing for the notebook ----------------------------

function padShortcuts(pad, surface, selectTool) {
  const { root } = pad;
  const onKey = (e) => {
    if ((e.target instanceof HTMLInputElement && e.target.type === "text") || e.target instanceof HTMLTextAreaElement) return;
    const mod = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    if (mod && (key === "z" || key === "y")) {
      e.preventDefault();
      pad.drawingChanged();
      pad.send({ type: key === "y" || e.shiftKey ? "redo" : "undo" });
    } else if (e.target === surface.live && (key === "delete" || key === "backspace")) {
      if (surface.deleteSelected()) e.preventDefault();
    } else if (mod && key === "a" && e.target === surface.live && pad.tool.tool === "select") {
      e.preventDefault();
      surface.selectAll();
    } else if (!mod && !e.altKey && e.target === surface.live) {
      const t = { p: "pen", e: "eraser", t: "text", v: "select" }[key];
      if (t) selectTool(t);
      else if (key === "f") surface.fit();
    }
  };
  root.addEventListener("keydown", onKey);
  pad.cleanups.push(() => root.removeEventListener("keydown", onKey));
  pad.cleanups.push(guardKeys(root)); // after onKey: it stops what reaches the root
}

// -- one view ------------------------------------------------------------------------------

function render({ model, el: host }) {
  const pad = padContext(model);
  pad.root = el("div", { class: "vd-pad", "data-tool": "pen" });
  const toolbar = toolbarPart(pad);
  const { node: surfaceBox, surface } = surfacePart(pad);
  pad.surface = surface;
  const preview = previewPart(pad);
  const actions = actionsPart(pad);
  const status = statusPart(pad);
  const code = codePart(pad);
  pad.root.append(toolbar.node, el("div", { class: "vd-main" }, surfaceBox, preview.node), actions.node, ...status.nodes, code.node);
  host.appendChild(pad.root);
  padShortcuts(pad, surface, toolbar.selectTool);

  const refresh = () => {
    const view = padView({
      status: model.get("status"),
      sketch: model.get("sketch"),
      code: model.get("code"),
      resultKind: model.get("result_kind"),
      resultSketch: model.get("result_sketch"),
      taskType: model.get("task_type"),
    });
    toolbar.update();
    preview.update();
    actions.update(view);
    code.update(view);
  };
  const traits = ["status", "sketch", "code", "error", "result_kind", "result_sketch", "task_type", "can_undo", "can_redo"];
  for (const name of traits) pad.on(`change:${name}`, refresh);
  // After the whole update: marimo applies a kernel update one trait at a time (in the
  // kernel's order, which varies), so result_kind and code may not be there yet.
  pad.on("change:result_version", () => queueMicrotask(preview.show));
  pad.cleanups.push(pad.controller.subscribe((what) => what === "glb" && preview.show()));
  status.update();
  refresh();
  preview.show(); // a mesh missing after a reload is fetched once, by the controller's resume()

  // The benchmark and tests read drawing frame times from here.
  pad.root.__vdSurface = surface;

  return () => {
    for (const fn of pad.cleanups) fn();
    pad.root.remove();
  };
}

export default { initialize, render };
