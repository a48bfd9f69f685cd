// Talking to the vibedraw server extension the way JupyterLab talks to its server:
// base URL and token from `jupyter-config-data`, the `_xsrf` cookie on writes, an
// EventSource (resumed by Last-Event-ID) for code tasks, a WebSocket for model tasks.
// Browser globals are injected so node's test runner can drive it with fakes.

export const API_PREFIX = "vibedraw/api/";
export const TERMINAL = new Set(["complete", "error", "cancelled"]);
export const SSE_TYPES = ["start", "progress", "delta", "complete", "error", "cancelled"];
// Said only where a Jupyter server answered without the vibedraw routes (JupyterLab or
// Notebook with the extension disabled, a hub's single-user server): there the advice
// applies. Hosts with no Jupyter server (VS Code, Colab, marimo) get no notice at all.
export const MISSING_EXTENSION =
  "Tasks run in the kernel: this Jupyter server does not serve the vibedraw extension. " +
  "Whoever runs the server can enable it (`jupyter server extension enable vibedraw_widget`, " +
  "then restart the server) so tasks run there and survive a page reload.";

/** Where the Jupyter server is, as JupyterLab finds it; null when there is none. */
export function findServer(doc = globalThis.document) {
  if (!doc) return null;
  let config = null;
  const el = doc.getElementById?.("jupyter-config-data");
  if (el) {
    try {
      config = JSON.parse(el.textContent || "{}");
    } catch {
      config = null;
    }
  }
  const baseUrl = config?.baseUrl ?? doc.body?.dataset?.baseUrl ?? null;
  if (!baseUrl) return null;
  return {
    baseUrl: baseUrl.endsWith("/") ? baseUrl : baseUrl + "/",
    token: config?.token || "",
    wsUrl: config?.wsUrl || "",
  };
}

/** A cookie's value from a `document.cookie` string. */
export function getCookie(name, cookieString = globalThis.document?.cookie ?? "") {
  for (const part of cookieString.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** An HTTP error from the API, carrying the server's `{"message"}`. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** One SSE message → `{id, type, data}`; null for frames that are not task events. */
export function parseEvent(type, message) {
  if (!message || typeof message.data !== "string" || message.data === "") return null;
  let data;
  try {
    data = JSON.parse(message.data);
  } catch {
    return null;
  }
  const id = Number.parseInt(message.lastEventId, 10);
  return { id: Number.isFinite(id) ? id : 0, type, data };
}

/**
 * Fold one task event into the pad's state; returns the fields to change.
 * `state` needs `code` (for deltas), `previous_code` (restored on failure) and `task_type`.
 */
export function reduceEvent(state, event) {
  const d = event.data || {};
  const patch = { last_event_id: Math.max(state.last_event_id || 0, event.id || 0) };
  const codeTask = state.task_type === "3d" || state.task_type === "edit";
  switch (event.type) {
    case "start":
      Object.assign(patch, { status: "running", message: `started on ${d.provider ?? "?"}` });
      break;
    case "progress":
      Object.assign(patch, {
        status: "running",
        progress: Number(d.progress) || 0,
        message: d.message || d.stage || "",
      });
      // A worker re-runs the task (Redis store): the earlier attempt's text is void.
      if (d.stage === "retry" && codeTask) patch.code = "";
      break;
    case "delta":
      if (codeTask) patch.code = (state.code || "") + (d.text || "");
      patch.status = "running";
      break;
    case "complete":
      Object.assign(patch, { status: "completed", progress: 1, message: "done", error: "" });
      if (codeTask) {
        patch.code = typeof d.code === "string" ? d.code : (d.content ?? state.code);
        patch.result_kind = "code";
      }
      if (state.task_type === "improve" && d.sketch) patch.sketch = d.sketch;
      break;
    case "error":
      Object.assign(patch, {
        status: "failed",
        error: d.error || "the task failed",
        message: d.error_type || "error",
      });
      break;
    case "cancelled":
      Object.assign(patch, { status: "cancelled", message: "cancelled" });
      break;
    default:
      break;
  }
  // A code task that fails or is cancelled leaves the code shown before, not half an answer.
  if ((event.type === "error" || event.type === "cancelled") && codeTask) patch.code = state.previous_code ?? "";
  return patch;
}

/** Model-task WebSocket message (docs/protocol.md, WebSocket) → a task event for `reduceEvent`, plus the GLB URL. */
export function modelMessageToEvent(msg, fallbackId) {
  const id = Number.isInteger(msg.event_id) ? msg.event_id : fallbackId;
  switch (msg.status) {
    case "pending":
      return { id: 0, type: "progress", data: { progress: 0, message: msg.message || "waiting" } };
    case "processing":
      return {
        id,
        type: "progress",
        data: { progress: msg.progress ?? 0, message: msg.message || "", stage: msg.stage },
      };
    case "completed":
      return { id, type: "complete", data: {}, glbUrl: typeof msg.data === "string" ? msg.data : "" };
    case "failed":
      return { id, type: "error", data: { error: msg.message, error_type: msg.error_type } };
    case "cancelled":
      return { id, type: "cancelled", data: {} };
    default:
      return null;
  }
}

/** Exponential back-off with a ceiling, in ms. */
export function backoff(attempt, base = 500, ceiling = 15000) {
  return Math.min(ceiling, base * 2 ** Math.max(0, attempt));
}

/**
 * The server extension's routes. `env` supplies `fetch`, `EventSource`, `WebSocket`,
 * `location` ({origin, protocol, host}), `cookie()` and `setTimeout` (all default to globals).
 */
export class Server {
  constructor({ baseUrl, token = "", wsUrl = "" }, env = {}) {
    this.baseUrl = baseUrl;
    this.token = token;
    this.env = {
      fetch: env.fetch ?? globalThis.fetch?.bind(globalThis),
      EventSource: env.EventSource ?? globalThis.EventSource,
      WebSocket: env.WebSocket ?? globalThis.WebSocket,
      location: env.location ?? globalThis.location,
      cookie: env.cookie ?? (() => globalThis.document?.cookie ?? ""),
      setTimeout: env.setTimeout ?? globalThis.setTimeout.bind(globalThis),
      clearTimeout: env.clearTimeout ?? globalThis.clearTimeout.bind(globalThis),
    };
    const loc = this.env.location;
    this.origin = loc?.origin ?? "";
    const wsBase = wsUrl || (loc ? `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}` : "");
    this.wsOrigin = wsBase.replace(/\/$/, "");
  }

  /** Absolute URL of an API route, with `query` ({k: v}) and the token when there is one. */
  url(path, query = {}, { ws = false, token = false } = {}) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) params.set(k, String(v));
    if (token && this.token) params.set("token", this.token);
    const q = params.toString();
    const base = (ws ? this.wsOrigin : this.origin) + this.baseUrl + API_PREFIX + path;
    return q ? `${base}?${q}` : base;
  }

  headers(write) {
    const h = { Accept: "application/json" };
    if (this.token) h.Authorization = `token ${this.token}`;
    if (write) {
      h["Content-Type"] = "application/json";
      const xsrf = getCookie("_xsrf", this.env.cookie());
      if (xsrf) h["X-XSRFToken"] = xsrf;
    }
    return h;
  }

  /** A JSON request; throws ApiError with the server's message on HTTP errors. */
  async request(method, path, body) {
    const write = method !== "GET";
    const res = await this.env.fetch(this.url(path), {
      method,
      headers: this.headers(write),
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = { message: text.slice(0, 200) };
    }
    if (!res.ok) {
      const message =
        res.status === 404 && path === "providers"
          ? MISSING_EXTENSION
          : data.message || `${method} ${path}: HTTP ${res.status}`;
      throw new ApiError(res.status, message);
    }
    return data;
  }

  /** `{mode: "server", providers}` when the routes answer, `{mode: "missing"}` on 404. */
  async probe() {
    try {
      const data = await this.request("GET", "providers");
      return { mode: "server", providers: data.providers ?? [] };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return { mode: "missing", message: err.message };
      return { mode: "unreachable", message: String(err.message || err) };
    }
  }

  /** POST queue/{type} → task id. */
  async queue(type, body) {
    return (await this.request("POST", `queue/${type}`, body)).task_id;
  }

  /** POST trellis/task → task id. */
  async queueModel({ image_base64, sketch, provider, task_id, merge = false }) {
    const body = {
      model: "Qubico/trellis",
      task_type: "image-to-3d",
      input: { image: image_base64 ?? "" },
      sketch,
      provider: provider || undefined,
      task_id,
      ...(merge ? { merge: true } : {}),
    };
    if (!image_base64) delete body.input.image;
    const data = await this.request("POST", "trellis/task", body);
    return data.data?.task_id ?? data.task_id;
  }

  cancel(taskId) {
    return this.request("DELETE", `task/${taskId}`);
  }

  task(taskId) {
    return this.request("GET", `task/${taskId}`);
  }

  /** The GLB bytes at `url` (a URL the server gave). */
  async fetchBytes(url) {
    const res = await this.env.fetch(url, { headers: this.headers(false), credentials: "same-origin" });
    if (!res.ok) throw new ApiError(res.status, `could not fetch the model: HTTP ${res.status}`);
    return res.arrayBuffer();
  }

  /**
   * Follow a code task over SSE from event id `after`. Calls `onEvent({id,type,data})`
   * once per event in order (duplicates after a reconnect are dropped), `onState(s)` with
   * "connected" | "reconnecting" | "offline". Returns `{close(), last}`.
   */
  subscribe(taskId, after, { onEvent, onState = () => {}, onGone = () => {} }) {
    return this.resumable(after, onEvent, onState, (stream) => {
      const source = new this.env.EventSource(
        this.url(`subscribe/${taskId}`, { last_event_id: stream.last }, { token: true }),
        { withCredentials: true },
      );
      source.onopen = stream.connected;
      for (const type of SSE_TYPES) {
        source.addEventListener(type, (message) => {
          const event = parseEvent(type, message);
          if (event) stream.deliver(event); // else the EventSource's own "error" (a connection problem)
        });
      }
      source.addEventListener("error", (message) => {
        if (stream.closed || parseEvent("error", message)) return;
        if (source.readyState === 0) {
          onState("reconnecting"); // the browser retries by itself, sending Last-Event-ID
          return;
        }
        // Closed for good (an HTTP error): find out why, then retry with back-off.
        source.close();
        stream.dropped(() =>
          this.task(taskId).then(
            () => true,
            (err) => {
              if (!(err instanceof ApiError && err.status === 404)) return true;
              stream.close();
              onGone(`task ${taskId} is no longer known to the server`);
              return false;
            },
          ),
        );
      });
      return source;
    });
  }

  /**
   * Follow a model task over its WebSocket (docs/protocol.md, WebSocket) from event id `after`, resuming
   * with `?after=` when the socket drops. `onEvent` gets task events (see
   * `modelMessageToEvent`); the complete event carries `glbUrl`. Returns `{close(), last}`.
   */
  followModel(taskId, after, { onEvent, onState = () => {} }) {
    return this.resumable(after, onEvent, onState, (stream) => {
      const socket = new this.env.WebSocket(
        this.url(`trellis/task/ws/${taskId}`, { after: stream.last }, { ws: true, token: true }),
      );
      socket.onopen = stream.connected;
      socket.onmessage = (message) => {
        let msg;
        try {
          msg = JSON.parse(message.data);
        } catch {
          return;
        }
        const event = modelMessageToEvent(msg, stream.last + 1);
        if (event) stream.deliver(event);
      };
      socket.onclose = () => stream.dropped();
      return {
        close() {
          try {
            if (socket.readyState === 1) socket.send("close");
            socket.close();
          } catch {
            /* already gone */
          }
        },
      };
    });
  }

  /**
   * The reconnect loop both task streams share. `connect(stream)` opens one connection
   * from `stream.last` and returns something with `close()`; it hands each event to
   * `stream.deliver` (duplicates after a reconnect are dropped, a terminal event ends the
   * stream), calls `stream.connected` when open and `stream.dropped(check?)` when the
   * connection is gone for good: "reconnecting" (later "offline"), then a new connection
   * after the back-off, unless `check()` resolves false.
   */
  resumable(after, onEvent, onState, connect) {
    let conn = null;
    let attempt = 0;
    let timer = null;
    const open = () => {
      if (!stream.closed) conn = connect(stream);
    };
    const stream = {
      last: after,
      closed: false,
      connected: () => {
        attempt = 0;
        onState("connected");
      },
      deliver: (event) => {
        if (event.id && event.id <= stream.last) return; // replayed after a reconnect
        stream.last = event.id || stream.last;
        onEvent(event);
        if (TERMINAL.has(event.type)) stream.close();
      },
      dropped: (check = null) => {
        if (stream.closed) return;
        onState(attempt > 2 ? "offline" : "reconnecting");
        const again = () => {
          if (!stream.closed) timer = this.env.setTimeout(open, backoff(attempt++));
        };
        if (check) check().then((ok) => ok && again());
        else again();
      },
      close: () => {
        stream.closed = true;
        if (timer) this.env.clearTimeout(timer);
        conn?.close();
      },
    };
    open();
    return { close: stream.close, get last() { return stream.last; } };
  }
}
