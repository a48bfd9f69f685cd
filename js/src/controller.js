// One controller per widget model (made in anywidget's `initialize`, shared by every view):
// finds the server, runs tasks through it (or asks the kernel to, over the comm), folds
// their events into the synced traits, resumes a running task after a reload, and keeps
// the latest GLB. Views only read the model and call `start`/`cancel`.
import { insertCellBelow } from "./notebook.js";
import { MISSING_EXTENSION, Server, TERMINAL, findServer, reduceEvent } from "./transport.js";

const FLUSH_MS = 60; // code deltas reach the kernel at most this often (and at the end)

function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const busy = (status) => status === "pending" || status === "running";

// One controller per widget, shared by its views. Keyed by the pad's own id (a synced
// trait), not by the model object: anywidget may hand `initialize` and each `render` a
// different proxy of the same model, and two controllers would both follow its task.
const controllers = new Map();

/** The controller of the widget behind `model` (made on first use). */
export function controllerFor(model, options) {
  const key = model.get("_pad_id") || model;
  let c = controllers.get(key);
  if (!c) {
    c = new Controller(model, options);
    controllers.set(key, c);
  }
  return c;
}

/** Dispose of the controller of the widget behind `model` (its model was closed). */
export function releaseController(model) {
  const key = model.get("_pad_id") || model;
  controllers.get(key)?.dispose();
  controllers.delete(key);
}

export class Controller {
  constructor(model, { serverInfo = findServer() } = {}) {
    this.model = model;
    this.mode = "probing"; // "server" | "kernel"
    this.server = null;
    this.providers = [];
    this.notice = "";
    this.follower = null;
    this.glb = null; // {taskId, buffer}
    this.taskSketch = null; // the sketch sent with the task this page started
    this.listeners = new Set();
    this._timer = null;
    this._disposed = false;
    this._onCustom = (msg, buffers) => this.onCustom(msg, buffers);
    model.on("msg:custom", this._onCustom);
    this.ready = this.connect(serverInfo);
  }

  /** Views subscribe to "mode", "glb" and "notice" changes. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(what) {
    for (const fn of this.listeners) fn(what);
  }

  set(patch, flush = true) {
    for (const [k, v] of Object.entries(patch)) this.model.set(k, v);
    if (flush) this.flush();
    else if (!this._timer) this._timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush() {
    if (this._timer) clearTimeout(this._timer);
    this._timer = null;
    if (!this._disposed) this.model.save_changes();
  }

  async connect(serverInfo) {
    const forced = this.model.get("transport");
    if (serverInfo && forced !== "kernel") {
      this.server = new Server(serverInfo);
      const probe = await this.server.probe();
      if (probe.mode === "server") {
        this.mode = "server";
        this.providers = probe.providers;
        this.set({ connection: "connected" });
      } else {
        this.mode = "kernel";
        if (probe.mode === "missing") this.setNotice(MISSING_EXTENSION);
        this.set({ connection: "kernel" });
      }
    } else {
      this.mode = "kernel";
      this.set({ connection: "kernel" });
    }
    if (this.mode === "kernel") this.providers = this.model.get("providers") || [];
    this.emit("mode");
    this.resume();
    this.model.send({ type: "ready", mode: this.mode });
  }

  setNotice(text) {
    this.notice = text;
    this.emit("notice");
  }

  /** Continue following a task that was running when this page (re)loaded. */
  resume() {
    const m = this.model;
    const taskId = m.get("task_id");
    if (m.get("task_transport") === "server" && taskId && busy(m.get("status"))) {
      if (this.mode !== "server") {
        this.set({ status: "failed", error: "the server that ran this task is not reachable" });
        return;
      }
      this.follow(taskId, m.get("task_type"), m.get("last_event_id") || 0);
    }
    this.ensureGlb();
  }

  /** After a reload, the shown mesh comes back from the server (or the kernel). */
  async ensureGlb() {
    const m = this.model;
    if (m.get("result_kind") !== "model" || this.glb) return;
    const url = m.get("glb_url");
    if (url && this.server && this.mode === "server") {
      try {
        this.glb = { taskId: m.get("task_id"), buffer: await this.server.fetchBytes(url) };
        this.emit("glb");
        return;
      } catch {
        /* the server forgot it: ask the kernel */
      }
    }
    m.send({ type: "need_glb" });
  }

  onCustom(msg, buffers) {
    if (msg?.type === "glb" && buffers?.length) {
      const view = buffers[0];
      const buffer = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
      this.glb = { taskId: msg.task_id, buffer };
      this.emit("glb");
    } else if (msg?.type === "cancel") {
      this.cancel();
    } else if (msg?.type === "generate") {
      this.start(msg.kind, msg);
    } else if (msg?.type === "cell" && this._cellWanted) {
      // Only the controller whose view asked: a host may give one model several controllers.
      this._cellWanted = false;
      this.placeCell(msg.code, msg.model_id);
    }
  }

  /** "To cell": ask the kernel for the code that recreates the result (see placeCell). */
  toCell() {
    this._cellWanted = true;
    this.model.send({ type: "to_cell" });
  }

  /** The kernel's cell code goes below the pad's cell where the host lets us, else to the clipboard. */
  async placeCell(code, modelId) {
    if (insertCellBelow(this.model.widget_manager, modelId, code)) {
      this.setNotice("Added a cell below the pad: running it recreates this result.");
      return;
    }
    try {
      await globalThis.navigator.clipboard.writeText(code);
      this.setNotice("This host lets the pad add no cell: its code is on the clipboard, paste it into a new cell.");
    } catch {
      this.setNotice("This host lets the pad add no cell: print(pad.cell_source()) shows its code.");
    }
  }

  /** Start a task: kind "code" | "model" (or "mesh") | "improve" | "edit" (the kernel's
   * `_kinds` table, vibedraw_widget/kinds.py, maps it to a task type); opts {prompt, error}. */
  async start(kind, opts = {}) {
    await this.ready;
    const m = this.model;
    const type = (m.get("_kinds") || {})[kind];
    if (!type) throw new Error(`unknown kind ${kind}`);
    if (busy(m.get("status"))) return;
    const prompt = opts.prompt ?? m.get("prompt") ?? "";
    if (this.mode !== "server") {
      // The kernel runs the engine and streams into the traits (comm fallback).
      m.send({ type: "generate", kind: type, prompt, error: opts.error ?? null, merge: Boolean(m.get("merge_mesh")) });
      return;
    }
    const taskId = uuid();
    const codeTask = type === "3d" || type === "edit";
    const previousCode = m.get("code");
    this.set({
      task_id: taskId,
      task_type: type,
      task_transport: "server",
      status: "pending",
      progress: 0,
      message: "queued",
      error: "",
      last_event_id: 0,
      ...(codeTask ? { code: "", previous_code: previousCode } : {}),
    });
    const sketch = m.get("sketch");
    this.taskSketch = sketch; // what a result of this task was made from
    try {
      if (type === "model") {
        const merge = Boolean(m.get("merge_mesh"));
        await this.server.queueModel({ sketch, provider: m.get("model_provider"), task_id: taskId, merge });
      } else {
        const body = { sketch, prompt, provider: m.get("provider") || undefined, task_id: taskId };
        if (type === "edit") {
          body.threejs_code = previousCode;
          if (opts.error) body.error = opts.error;
        }
        await this.server.queue(type, body);
      }
    } catch (err) {
      const restore = codeTask ? { code: previousCode } : {};
      this.set({ status: "failed", error: String(err.message || err), message: "could not start", ...restore });
      return;
    }
    this.follow(taskId, type, 0);
  }

  follow(taskId, type, after) {
    this.follower?.close();
    const onState = (state) => this.set({ connection: state }, false);
    const onEvent = (event) => this.onEvent(taskId, event);
    const onGone = (message) => this.set({ status: "failed", error: message });
    this.follower =
      type === "model"
        ? this.server.followModel(taskId, after, { onEvent, onState })
        : this.server.subscribe(taskId, after, { onEvent, onState, onGone });
  }

  async onEvent(taskId, event) {
    const m = this.model;
    if (m.get("task_id") !== taskId) return; // a newer task took over
    const state = {
      code: m.get("code"),
      previous_code: m.get("previous_code"),
      task_type: m.get("task_type"),
      last_event_id: m.get("last_event_id"),
    };
    const patch = reduceEvent(state, event);
    if (event.type === "complete" && state.task_type === "model") {
      // The bytes go to the kernel (pad.glb) before the status says "completed".
      try {
        const buffer = await this.server.fetchBytes(event.glbUrl);
        this.glb = { taskId, buffer };
        m.send({ type: "glb", task_id: taskId }, undefined, [buffer.slice(0)]);
        Object.assign(patch, { glb_url: event.glbUrl, result_kind: "model" });
        this.emit("glb");
      } catch (err) {
        Object.assign(patch, { status: "failed", error: String(err.message || err) });
      }
    }
    if (patch.result_kind) {
      patch.result_version = (m.get("result_version") || 0) + 1;
      // After a reload mid-task the sketch sent is unknown: the current one is the best guess.
      patch.result_sketch = this.taskSketch ?? m.get("sketch");
    }
    const terminal = TERMINAL.has(event.type);
    if (terminal) patch.connection = "connected";
    this.set(patch, terminal || event.type !== "delta");
  }

  async cancel() {
    const m = this.model;
    if (!busy(m.get("status"))) return;
    if (m.get("task_transport") === "server" && this.server) {
      try {
        await this.server.cancel(m.get("task_id"));
      } catch (err) {
        this.set({ error: `cancel failed: ${err.message || err}` });
      }
    } else {
      m.send({ type: "cancel" });
    }
  }

  dispose() {
    this._disposed = true;
    if (this._timer) clearTimeout(this._timer);
    this.follower?.close();
    this.model.off("msg:custom", this._onCustom);
    this.listeners.clear();
  }
}
