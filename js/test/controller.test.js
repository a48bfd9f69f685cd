import assert from "node:assert/strict";
import { test } from "node:test";
import { Controller, controllerFor, releaseController } from "../src/controller.js";

/** Enough of an anywidget model for the controller: traits, events, sent messages. */
function fakeModel(traits = {}) {
  const state = { transport: "auto", providers: [], ...traits };
  const handlers = new Map();
  return {
    state,
    sent: [],
    get: (k) => state[k],
    set: (k, v) => (state[k] = v),
    save_changes() {},
    on: (event, fn) => handlers.set(event, fn),
    off: (event) => handlers.delete(event),
    send(msg) {
      this.sent.push(msg);
    },
  };
}

async function withFetch(fetch, fn) {
  const saved = globalThis.fetch;
  globalThis.fetch = fetch;
  try {
    return await fn();
  } finally {
    globalThis.fetch = saved;
  }
}

test("no Jupyter server (VS Code, Colab, marimo): runs in the kernel, no advice", async () => {
  const model = fakeModel();
  const c = new Controller(model, { serverInfo: null });
  await c.ready;
  assert.equal(c.mode, "kernel");
  assert.equal(model.state.connection, "kernel");
  assert.equal(c.notice, "");
  assert.deepEqual(model.sent.at(-1), { type: "ready", mode: "kernel" });
});

test("a Jupyter server without the vibedraw routes: kernel, and advice for whoever runs it", async () => {
  const model = fakeModel();
  const notFound = async () => ({ ok: false, status: 404, text: async () => "" });
  const c = await withFetch(notFound, async () => {
    const c = new Controller(model, { serverInfo: { baseUrl: "/" } });
    await c.ready;
    return c;
  });
  assert.equal(c.mode, "kernel");
  assert.equal(model.state.connection, "kernel");
  assert.match(c.notice, /^Tasks run in the kernel/);
  assert.match(c.notice, /jupyter server extension enable vibedraw_widget/);
  assert.doesNotMatch(c.notice, /restart Jupyter so/);
});

test("a server that cannot be reached, or transport='kernel': kernel without a notice", async () => {
  const down = async () => {
    throw new TypeError("network");
  };
  for (const [traits, info] of [[{}, { baseUrl: "/" }], [{ transport: "kernel" }, { baseUrl: "/" }]]) {
    const model = fakeModel(traits);
    const c = await withFetch(down, async () => {
      const c = new Controller(model, { serverInfo: info });
      await c.ready;
      return c;
    });
    assert.equal(c.mode, "kernel");
    assert.equal(c.notice, "");
  }
});

test("To cell: the kernel's code goes below the pad's cell, else to the clipboard", async () => {
  const inserted = [];
  const view = { data: { "application/vnd.jupyter.widget-view+json": { model_id: "M" } } };
  const model = fakeModel();
  model.widget_manager = {
    context: { model: { sharedModel: { cells: [{ getOutputs: () => [view] }], insertCell: (i, c) => inserted.push([i, c.source]) } } },
  };
  const c = new Controller(model, { serverInfo: null });
  await c.ready;
  const other = new Controller(model, { serverInfo: null }); // a second controller of the model
  c.toCell();
  assert.deepEqual(model.sent.at(-1), { type: "to_cell" });
  for (const controller of [c, other]) controller.onCustom({ type: "cell", code: "x = 1", model_id: "M" });
  await c.ready;
  assert.deepEqual(inserted, [[1, "x = 1"]]); // once, by the controller that asked
  assert.match(c.notice, /Added a cell below/);

  const copied = [];
  const bare = new Controller(fakeModel(), { serverInfo: null });
  await bare.ready;
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", { value: { clipboard: { writeText: async (t) => copied.push(t) } }, configurable: true });
  try {
    await bare.placeCell("y = 2", "M");
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
  }
  assert.deepEqual(copied, ["y = 2"]);
  assert.match(bare.notice, /clipboard/);
});

test("two proxies of one widget's model (initialize and render) share one controller", async () => {
  const a = fakeModel({ _pad_id: "pad-1" });
  const b = { ...a, get: a.get }; // another object, the same widget
  const first = controllerFor(a, { serverInfo: null });
  assert.equal(controllerFor(b, { serverInfo: null }), first);
  const other = controllerFor(fakeModel({ _pad_id: "pad-2" }), { serverInfo: null });
  assert.notEqual(other, first);
  await first.ready;
  assert.equal(a.sent.filter((m) => m.type === "ready").length, 1);
  releaseController(a);
  assert.notEqual(controllerFor(b, { serverInfo: null }), first);
});
