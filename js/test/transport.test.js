import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  ApiError,
  MISSING_EXTENSION,
  Server,
  backoff,
  findServer,
  getCookie,
  modelMessageToEvent,
  parseEvent,
  reduceEvent,
} from "../src/transport.js";

const location = { origin: "http://h:8888", protocol: "http:", host: "h:8888" };

function fakeDoc(config, dataset = {}) {
  return {
    getElementById: (id) => (id === "jupyter-config-data" && config ? { textContent: JSON.stringify(config) } : null),
    body: { dataset },
  };
}

/** A fetch that records requests and answers from a table of `METHOD url` → [status, body]. */
function fakeFetch(routes) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url, ...init });
    const [status, body] = routes[`${init.method || "GET"} ${url}`] ?? [404, { message: "not found" }];
    return {
      ok: status < 400,
      status,
      text: async () => JSON.stringify(body),
      arrayBuffer: async () => new Uint8Array([103, 108, 84, 70]).buffer,
    };
  };
  fetch.calls = calls;
  return fetch;
}

class FakeEventSource {
  static instances = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.listeners = {};
    FakeEventSource.instances.push(this);
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  emit(type, id, data) {
    for (const fn of this.listeners[type] ?? []) fn({ data: JSON.stringify(data), lastEventId: String(id) });
  }
  fail(readyState) {
    this.readyState = readyState;
    for (const fn of this.listeners.error ?? []) fn({ type: "error" });
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  close() {
    this.readyState = 2;
    this.closed = true;
  }
}

class FakeWebSocket {
  static instances = [];
  constructor(url) {
    this.url = url;
    this.readyState = 1;
    this.sent = [];
    FakeWebSocket.instances.push(this);
  }
  send(m) {
    this.sent.push(m);
  }
  push(msg) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  close() {
    this.readyState = 3;
    this.closed = true;
  }
}

const manualTimers = () => {
  const pending = [];
  return {
    setTimeout: (fn, ms) => pending.push({ fn, ms }) && pending.length,
    clearTimeout: () => {},
    runAll: () => pending.splice(0).forEach((t) => t.fn()),
    pending,
  };
};

test("findServer reads jupyter-config-data, falls back to data-base-url, else null", () => {
  assert.deepEqual(findServer(fakeDoc({ baseUrl: "/user/a", token: "t" })), { baseUrl: "/user/a/", token: "t", wsUrl: "" });
  assert.deepEqual(findServer(fakeDoc(null, { baseUrl: "/b/" })), { baseUrl: "/b/", token: "", wsUrl: "" });
  assert.equal(findServer(fakeDoc(null)), null); // VS Code, Colab, a bare kernel
  assert.equal(findServer(undefined), null);
});

test("getCookie finds the _xsrf cookie among others", () => {
  assert.equal(getCookie("_xsrf", "a=1; _xsrf=2|abc%3D; b=3"), "2|abc=");
  assert.equal(getCookie("_xsrf", "a=1"), "");
});

test("writes carry the token and the X-XSRFToken header; reads only the token", async () => {
  const fetch = fakeFetch({ "POST http://h:8888/base/vibedraw/api/queue/3d": [200, { task_id: "T" }] });
  const server = new Server({ baseUrl: "/base/", token: "tok" }, { fetch, location, cookie: () => "_xsrf=X1" });
  assert.equal(await server.queue("3d", { prompt: "p" }), "T");
  const call = fetch.calls[0];
  assert.equal(call.headers.Authorization, "token tok");
  assert.equal(call.headers["X-XSRFToken"], "X1");
  assert.equal(call.credentials, "same-origin");
  assert.deepEqual(JSON.parse(call.body), { prompt: "p" });
  await server.request("GET", "providers").catch(() => {});
  assert.equal(fetch.calls[1].headers["X-XSRFToken"], undefined);
});

test("a cookie session (no token, as under JupyterHub) sends no Authorization header", async () => {
  const fetch = fakeFetch({ "DELETE http://h:8888/vibedraw/api/task/T": [200, {}] });
  const server = new Server({ baseUrl: "/" }, { fetch, location, cookie: () => "_xsrf=X" });
  await server.cancel("T");
  assert.equal(fetch.calls[0].headers.Authorization, undefined);
  assert.equal(fetch.calls[0].headers["X-XSRFToken"], "X");
});

test("probe: routes answering → server; 404 → missing, saying tasks run in the kernel", async () => {
  const ok = new Server({ baseUrl: "/" }, {
    fetch: fakeFetch({ "GET http://h:8888/vibedraw/api/providers": [200, { providers: [{ name: "local" }] }] }),
    location,
    cookie: () => "",
  });
  assert.deepEqual(await ok.probe(), { mode: "server", providers: [{ name: "local" }] });
  const missing = new Server({ baseUrl: "/" }, { fetch: fakeFetch({}), location, cookie: () => "" });
  const probe = await missing.probe();
  assert.equal(probe.mode, "missing");
  assert.equal(probe.message, MISSING_EXTENSION);
  assert.match(MISSING_EXTENSION, /^Tasks run in the kernel/);
  const down = new Server({ baseUrl: "/" }, { fetch: async () => { throw new TypeError("network"); }, location, cookie: () => "" });
  assert.equal((await down.probe()).mode, "unreachable");
});

test("API errors carry the server's message and status", async () => {
  const fetch = fakeFetch({ "POST http://h:8888/vibedraw/api/queue/3d": [503, { message: "set ANTHROPIC_API_KEY" }] });
  const server = new Server({ baseUrl: "/" }, { fetch, location, cookie: () => "" });
  await assert.rejects(server.queue("3d", {}), (err) => err instanceof ApiError && err.status === 503 && /ANTHROPIC/.test(err.message));
});

test("parseEvent: id and JSON data; connection errors and retry-only frames are not events", () => {
  assert.deepEqual(parseEvent("delta", { data: '{"text":"a"}', lastEventId: "7" }), { id: 7, type: "delta", data: { text: "a" } });
  assert.equal(parseEvent("error", { type: "error" }), null);
  assert.equal(parseEvent("delta", { data: "" }), null);
  assert.equal(parseEvent("delta", { data: "{oops" }), null);
});

const folding = JSON.parse(readFileSync(new URL("../../tests/data/event_folding.json", import.meta.url), "utf8"));

// The same table drives the Python widget's _apply test (tests/test_widget.py).
for (const { name, task_type, state: initial, events, expect } of folding.cases) {
  test(`reduceEvent: ${name}`, () => {
    let state = { task_type, code: "", last_event_id: 0, ...initial };
    for (const [id, type, data] of events) state = { ...state, ...reduceEvent(state, { id, type, data }) };
    const got = Object.fromEntries(Object.keys(expect).map((field) => [field, state[field]]));
    assert.deepEqual(got, expect);
  });
}

test("subscribe resumes after a dropped stream: Last-Event-ID, no event lost or shown twice", async () => {
  FakeEventSource.instances = [];
  const timers = manualTimers();
  const fetch = fakeFetch({ "GET http://h:8888/vibedraw/api/task/T": [200, { status: "running" }] });
  const server = new Server({ baseUrl: "/", token: "tok" }, { fetch, location, cookie: () => "", EventSource: FakeEventSource, ...timers });
  const seen = [];
  const states = [];
  server.subscribe("T", 2, { onEvent: (e) => seen.push(e.id), onState: (s) => states.push(s) });
  const first = FakeEventSource.instances[0];
  assert.equal(first.url, "http://h:8888/vibedraw/api/subscribe/T?last_event_id=2&token=tok");
  first.open();
  first.emit("delta", 3, { text: "a" });
  first.emit("delta", 4, { text: "b" });
  first.fail(0); // the browser reconnects by itself …
  first.emit("delta", 3, { text: "a" }); // … and a replay of old events is dropped
  first.emit("delta", 5, { text: "c" });
  first.fail(2); // closed for good: the client re-subscribes from the last id
  await new Promise((r) => setImmediate(r));
  timers.runAll();
  const second = FakeEventSource.instances[1];
  assert.match(second.url, /last_event_id=5/);
  second.emit("delta", 5, { text: "c" });
  second.emit("complete", 6, { status: "completed" });
  assert.deepEqual(seen, [3, 4, 5, 6]);
  assert.ok(second.closed, "the stream closes after the terminal event");
  assert.deepEqual(states.slice(0, 3), ["connected", "reconnecting", "reconnecting"]);
});

test("a server-sent `error` event is a task event, not a connection error", () => {
  FakeEventSource.instances = [];
  const server = new Server({ baseUrl: "/" }, { fetch: fakeFetch({}), location, cookie: () => "", EventSource: FakeEventSource, ...manualTimers() });
  const seen = [];
  server.subscribe("T", 0, { onEvent: (e) => seen.push(e), onState: () => {} });
  const es = FakeEventSource.instances[0];
  es.emit("error", 2, { status: "error", error: "bad" });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].data.error, "bad");
  assert.ok(es.closed);
});

test("an unknown task (404 after the stream closed) is reported, not retried forever", async () => {
  FakeEventSource.instances = [];
  const timers = manualTimers();
  const server = new Server({ baseUrl: "/" }, { fetch: fakeFetch({}), location, cookie: () => "", EventSource: FakeEventSource, ...timers });
  let gone = "";
  server.subscribe("T", 0, { onEvent: () => {}, onGone: (m) => (gone = m) });
  FakeEventSource.instances[0].fail(2);
  await new Promise((r) => setImmediate(r));
  assert.match(gone, /no longer known/);
  assert.equal(timers.pending.length, 0);
});

test("followModel: progress, resume with ?after= when the socket drops, GLB URL on completion", () => {
  FakeWebSocket.instances = [];
  const timers = manualTimers();
  const server = new Server({ baseUrl: "/b/", token: "t" }, { fetch: fakeFetch({}), location, cookie: () => "", WebSocket: FakeWebSocket, ...timers });
  const seen = [];
  const states = [];
  server.followModel("M", 0, { onEvent: (e) => seen.push(e), onState: (s) => states.push(s) });
  const ws = FakeWebSocket.instances[0];
  assert.equal(ws.url, "ws://h:8888/b/vibedraw/api/trellis/task/ws/M?after=0&token=t");
  ws.onopen();
  ws.push({ id: "M", status: "processing", event_id: 1, progress: 0, message: "started" });
  ws.push({ id: "M", status: "processing", event_id: 2, progress: 0.5, message: "inflating", stage: "inflating" });
  ws.onclose();
  assert.deepEqual(states, ["connected", "reconnecting"]);
  timers.runAll();
  const again = FakeWebSocket.instances[1];
  assert.match(again.url, /after=2/);
  again.push({ id: "M", status: "processing", event_id: 2, progress: 0.5 }); // duplicate, dropped
  again.push({ id: "M", status: "completed", event_id: 4, progress: 1, data: "http://h/b/vibedraw/api/models/M.glb" });
  assert.deepEqual(seen.map((e) => [e.id, e.type]), [[1, "progress"], [2, "progress"], [4, "complete"]]);
  assert.equal(seen[2].glbUrl, "http://h/b/vibedraw/api/models/M.glb");
  assert.ok(again.closed);
});

test("model messages map onto task events", () => {
  assert.equal(modelMessageToEvent({ status: "failed", event_id: 3, message: "no outline" }, 9).data.error, "no outline");
  assert.equal(modelMessageToEvent({ status: "cancelled" }, 9).id, 9);
  assert.equal(modelMessageToEvent({ status: "pending" }, 1).id, 0);
  assert.equal(modelMessageToEvent({ status: "weird" }, 1), null);
});

test("backoff grows and is capped", () => {
  assert.equal(backoff(0), 500);
  assert.equal(backoff(2), 2000);
  assert.equal(backoff(20), 15000);
});
