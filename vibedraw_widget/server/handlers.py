"""HTTP, SSE and WebSocket handlers of docs/protocol.md, all under ``{base_url}vibedraw/api/``.

Every method is authenticated and authorized through jupyter-server (``@web.authenticated``
+ ``@authorized`` on ``vibedraw_widget:tasks``; ``@ws_authenticated`` plus an explicit
``execute`` check for the WebSocket). jupyter-server's own machinery adds the XSRF check on
cookie-authenticated writes and the same-origin check on WebSocket upgrades.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httputil import responses
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..engine import Engine, Event, TaskRecord, TaskSpec, UnknownTask, valid_task_id
from ..engine.events import FINAL_STATUS
from ..errors import VibeDrawError
from ..providers.registry import describe_providers
from .parsing import (
    LARGE_BODY,
    event_id,
    parse_body,
    parse_large_body,
    queue_spec,
    trellis_spec,
    unpack_checked_sketch,
)

AUTH_RESOURCE = "vibedraw_widget:tasks"
API_PREFIX = "vibedraw/api"


class VibeDrawMixin(ExtensionHandlerMixin):
    """What every handler here shares: the engine, id checks, URLs."""

    auth_resource = AUTH_RESOURCE

    @property
    def engine(self) -> Engine:
        return self.extensionapp.engine  # type: ignore[attr-defined,no-any-return]

    def checked_task_id(self, task_id: str) -> str:
        if not valid_task_id(task_id):
            raise web.HTTPError(404, f"no task {task_id[:64]!r}: task ids are UUIDs")
        return task_id.lower()

    @contextlib.contextmanager
    def known_task(self, task_id: str) -> Iterator[str]:
        """The checked id of ``task_id``; an :class:`UnknownTask` inside answers 404."""
        checked = self.checked_task_id(task_id)
        try:
            yield checked
        except UnknownTask:
            raise web.HTTPError(404, f"no task {checked}") from None

    @property
    def submitter(self) -> str:
        """Who is asking, as tasks record it (README, "Security"): stable for one person,
        distinct between people.

        * With an identity provider that names people (JupyterHub's, or any other than
          jupyter-server's own), the user it names: ``user:<name>``.
        * With jupyter-server's own provider (token or password) on a single-user server
          spawned by JupyterHub, the hub user the server belongs to (``JUPYTERHUB_USER``).
        * Otherwise whoever holds the token or the password is the server's owner; and
          since jupyter-server gives each token request without a login cookie a fresh
          anonymous user, every request maps to the server itself: ``server:<id>``, the id
          derived from its token (or password hash), so servers sharing a store and a
          token share their tasks.
        """
        user = self.current_user
        provider = self.identity_provider
        own_provider = type(provider).__module__.startswith("jupyter_server.")
        if not own_provider and getattr(user, "username", None):
            return f"user:{user.username}"
        hub_user = os.environ.get("JUPYTERHUB_USER")
        if hub_user:
            return f"user:{hub_user}"
        secret = (
            provider.token
            or getattr(provider, "hashed_password", "")
            or self.extensionapp.instance_id  # type: ignore[attr-defined]
        )
        return "server:" + hashlib.sha256(secret.encode()).hexdigest()[:16]

    async def owned_task(self, task_id: str) -> TaskRecord:
        """The record of ``task_id`` if it exists and the asker submitted it; else 404, the
        same answer as for an unknown id (another person's task is not theirs to know)."""
        with self.known_task(task_id) as checked:
            record = await self.engine.get(checked)
        if record.submitter is not None and record.submitter != self.submitter:
            raise web.HTTPError(404, f"no task {checked}")
        return record

    def resume_position(self, raw: str, field: str) -> int:
        """The event id a stream resumes after (``Last-Event-ID``, ``after``); else 400."""
        return event_id(raw, field)  # a BadRequest: 400, see _handle_request_exception

    def _handle_request_exception(self, e: BaseException) -> None:
        """The one place a :class:`VibeDrawError` becomes an HTTP answer: its ``status``
        and its message, as jupyter-server writes any ``HTTPError`` (JSON for the API).
        A 500 stays an unhandled error, logged with its traceback: that is a bug."""
        if isinstance(e, VibeDrawError) and e.status != 500:
            try:
                # Raised, so that the logging and write_error below see an HTTPError.
                raise web.HTTPError(e.status, e.message) from None
            except web.HTTPError as http:
                super()._handle_request_exception(http)  # type: ignore[misc]
            return
        super()._handle_request_exception(e)  # type: ignore[misc]

    def model_url(self, task_id: str) -> str:
        base = self.settings.get("base_url", "/")
        path = url_path_join(base, API_PREFIX, "models", f"{task_id}.glb")
        return f"{self.request.protocol}://{self.request.host}{path}"


class VibeDrawAPIHandler(VibeDrawMixin, APIHandler):
    """JSON handlers: errors as ``{"message": …}`` with each error's ``status``."""

    async def read_body(self) -> dict[str, Any]:
        """The body's JSON object. A large one is parsed and its sketch checked in another
        process, so that the event loop keeps serving streams meanwhile."""
        raw = self.request.body
        limit = self.extensionapp.max_upload_bytes  # type: ignore[attr-defined]
        if len(raw) > limit:
            raise web.HTTPError(413, f"body: {len(raw)} bytes exceeds max_upload_bytes={limit}")
        if len(raw) < LARGE_BODY:
            return parse_body(raw)  # a BadRequest answers its own 400
        pool = self.extensionapp.body_pool  # type: ignore[attr-defined]
        body, sketch = await pool.run(parse_large_body, raw)
        if sketch is not None:
            body["sketch"] = await unpack_checked_sketch(sketch)
        return body

    async def submit(self, build: Any, *args: Any) -> TaskSpec:
        body = await self.read_body()
        spec: TaskSpec = build(*args, body)
        spec.submitter = self.submitter
        await self.engine.submit(spec)  # its errors (TaskExists: 409 …) answer their own status
        self.log.info("vibedraw task %s (%s) submitted", spec.task_id, spec.type)
        return spec


class QueueHandler(VibeDrawAPIHandler):
    """``POST queue/{type}``: start a code (``3d``), ``edit`` or ``improve`` task."""

    @web.authenticated
    @authorized
    async def post(self, task_type: str) -> None:
        spec = await self.submit(queue_spec, task_type)
        self.finish(
            {"task_id": spec.task_id, "status": "pending", "message": f"{task_type} task queued"}
        )


class TaskHandler(VibeDrawAPIHandler):
    """``GET task/{id}``: status and result; ``DELETE task/{id}``: cancel."""

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        self.answer(await self.owned_task(task_id))

    @web.authenticated
    @authorized
    async def delete(self, task_id: str) -> None:
        record = await self.owned_task(task_id)
        with self.known_task(task_id):
            self.answer(await self.engine.cancel(record.task_id))

    def answer(self, record: TaskRecord) -> None:
        self.finish(
            {"task_id": record.task_id, "status": record.status, "result": record.to_dict()}
        )


class TrellisTaskHandler(VibeDrawAPIHandler):
    """``POST trellis/task``: start a model task from a PiAPI-shaped body."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        spec = await self.submit(trellis_spec)
        self.finish(
            {
                "code": 200,
                "message": "success",
                "data": {"task_id": spec.task_id, "status": "pending", "task_type": "image-to-3d"},
            }
        )


class ModelFileHandler(VibeDrawAPIHandler):
    """``GET models/{id}.glb``: the mesh of a finished model task."""

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        record = await self.owned_task(task_id)
        with self.known_task(task_id):
            glb = await self.engine.glb(record.task_id)
        if glb is None:
            raise web.HTTPError(404, f"task {record.task_id} has no mesh (yet)")
        self.set_header("Content-Disposition", f'attachment; filename="{record.task_id}.glb"')
        self.finish(glb)

    def finish(self, chunk: Any = None) -> Any:
        if not isinstance(chunk, bytes):
            return super().finish(chunk)  # errors stay JSON
        # APIHandler.finish would label the bytes application/json.
        self.write(chunk)
        self.set_header("Content-Type", "model/gltf-binary")
        return JupyterHandler.finish(self)


class ProvidersHandler(VibeDrawAPIHandler):
    """``GET providers``: every provider, which is default, which are configured."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish({"providers": describe_providers(self.engine.settings)})


class SubscribeHandler(VibeDrawAPIHandler):
    """``GET subscribe/{id}``: the task's events as Server-Sent Events (docs/protocol.md, SSE)."""

    def after_id(self) -> int:
        raw = self.request.headers.get("Last-Event-ID") or self.get_argument("last_event_id", "0")
        return self.resume_position(raw, "last_event_id")

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        record = await self.owned_task(task_id)
        after = self.after_id()
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        self.last_write = time.monotonic()
        self.streaming = asyncio.ensure_future(self._stream(record.task_id, after))
        keepalive = asyncio.ensure_future(self._keepalive())
        try:
            with contextlib.suppress(asyncio.CancelledError):  # the client went away
                await self.streaming
        finally:
            keepalive.cancel()
        if not self.request.connection.stream.closed():  # type: ignore[union-attr]
            self.finish()

    async def _stream(self, task_id: str, after: int) -> None:
        events = self.engine.follow(task_id, after)
        try:
            self.write("retry: 3000\n\n")
            await self.flush()
            async for event in events:
                self.write(event.sse)
                self.last_write = time.monotonic()
                await self.flush()
        except StreamClosedError:
            self.log.debug("SSE reader of %s went away", task_id)
        except UnknownTask:
            # The task expired mid-stream (a shared store's TTL): headers are out, so end
            # the stream with a comment saying why instead of a 500 nobody can read.
            self.write(b": the task expired\n\n")
        finally:
            await events.aclose()

    async def _keepalive(self) -> None:
        """A comment line after each ``sse_keepalive_seconds`` of silence, so proxies and
        clients keep the connection; a separate task keeps the event path free of timers."""
        interval = self.extensionapp.sse_keepalive_seconds  # type: ignore[attr-defined]
        while True:
            await asyncio.sleep(max(0.0, self.last_write + interval - time.monotonic()))
            if time.monotonic() - self.last_write >= interval:
                self.last_write = time.monotonic()
                self.write(b": keepalive\n\n")
                with contextlib.suppress(StreamClosedError):
                    await self.flush()

    def on_connection_close(self) -> None:
        # Release the reader now: on a quiet task no write would notice the client left.
        streaming = getattr(self, "streaming", None)
        if streaming is not None:
            streaming.cancel()
        super().on_connection_close()


WS_STATUS = {"start": "processing", "progress": "processing", **FINAL_STATUS}


class ModelTaskSocket(VibeDrawMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """``WS trellis/task/ws/{id}``: model-task status pushed as it changes
    (docs/protocol.md, WebSocket)."""

    def set_default_headers(self) -> None:
        """No JupyterHandler headers on a WebSocket upgrade."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Refusals before the upgrade are JSON ``{"message"}``, as on every other route
        (JupyterHandler would render an HTML page, and fail to for an undecodable path)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:
            message = responses.get(status_code, "error")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    @ws_authenticated
    async def get(self, task_id: str) -> None:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "execute", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403, f"not authorized to follow tasks ({AUTH_RESOURCE})")
        self.task_id = (await self.owned_task(task_id)).task_id
        self.after = self.resume_position(self.get_argument("after", "0"), "after")
        self.check_handshake()
        await super().get(task_id)

    def check_handshake(self) -> None:
        """What tornado checks before it upgrades, refused here first so that the answer is
        JSON naming the header (tornado's own refusals are plain text or empty)."""
        headers = self.request.headers
        if headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPError(400, 'Upgrade: expected "websocket" (this route is a WebSocket)')
        connection = [v.strip().lower() for v in headers.get("Connection", "").split(",")]
        if "upgrade" not in connection:
            raise web.HTTPError(400, 'Connection: expected "Upgrade"')
        if headers.get("Sec-WebSocket-Version") not in ("7", "8", "13"):
            raise web.HTTPError(426, "Sec-WebSocket-Version: expected 13")
        if not headers.get("Sec-WebSocket-Key"):
            raise web.HTTPError(400, "Sec-WebSocket-Key: missing")
        origin = headers.get("Origin") or headers.get("Sec-Websocket-Origin")
        if origin is not None and not self.check_origin(origin):
            raise web.HTTPError(403, "Origin: cross-origin WebSockets are not allowed")

    def open(self, task_id: str) -> None:  # type: ignore[override]
        super().open()  # starts jupyter-server's ping loop
        self.pump = asyncio.ensure_future(self._push_events())

    async def _push_events(self) -> None:
        reason = "the task ended"
        try:
            record = await self.engine.get(self.task_id)
            if self.after == 0 and record.status == "pending":
                await self._send(
                    {"status": "pending", "message": "waiting for a free slot", "progress": 0}
                )
            async for event in self.engine.follow(self.task_id, self.after):
                message = self._message(event)
                if message is not None:
                    await self._send(message)
        except UnknownTask:
            reason = "the task expired"
            await self._send({"status": "failed", "message": reason, "progress": 0})
        self.close(1000, reason)  # the log ended: nothing more will be pushed

    def _message(self, event: Event) -> dict[str, Any] | None:
        status = WS_STATUS.get(event.type)
        if status is None:
            return None  # deltas are for the SSE stream
        data = event.data
        message: dict[str, Any] = {"status": status, "event_id": event.id, "data": None}
        if event.type == "start":
            message.update(message=f"started on {data.get('provider')}", progress=0.0)
        elif event.type == "progress":
            message.update(message=data.get("message") or data.get("stage", ""))
            message.update(progress=data.get("progress", 0.0), stage=data.get("stage"))
        elif event.type == "complete":
            message.update(message="completed", progress=1.0)
            message["data"] = self.model_url(self.task_id) if "glb_size" in data else data
        elif event.type == "error":
            message.update(message=data.get("error", ""), error_type=data.get("error_type"))
        else:
            message.update(message="cancelled")
        return message

    async def _send(self, message: dict[str, Any]) -> None:
        """Send one status message; a client already gone is not an error."""
        text = json.dumps({"id": self.task_id, "progress": None, **message})
        with contextlib.suppress(WebSocketClosedError, StreamClosedError):
            await self.write_message(text)

    async def on_message(self, message: str | bytes) -> None:
        text = message.decode(errors="replace") if isinstance(message, bytes) else message
        if text.strip().strip('"') == "close":
            self.close(1000, "closed at the client's request")
            return
        try:
            action = json.loads(text).get("action")
        except (ValueError, AttributeError, RecursionError):
            action = None
        if action == "cancel":
            with contextlib.suppress(UnknownTask):  # expired: the pump says so and closes
                await self.engine.cancel(self.task_id)
        else:
            await self._send(
                {"status": "error", "message": 'message: expected "close" or {"action": "cancel"}'}
            )

    def on_close(self) -> None:
        pump = getattr(self, "pump", None)
        if pump is not None:
            pump.cancel()
        super().on_close()


class UnknownRouteHandler(VibeDrawAPIHandler):
    """Any other path under the API: a JSON 404 (not Jupyter's HTML page), once signed in."""

    @web.authenticated
    def _unknown(self, path: str) -> None:
        raise web.HTTPError(404, f"no route {self.request.method} {API_PREFIX}/{path}")

    get = post = put = patch = delete = _unknown


def handlers() -> list[tuple[str, type]]:
    """The routes, relative to the server's base URL."""
    task = r"(?P<task_id>[^/]+)"
    routes = [
        (r"queue/(?P<task_type>[^/]+)", QueueHandler),
        (rf"subscribe/{task}", SubscribeHandler),
        (rf"task/{task}", TaskHandler),
        (r"trellis/task", TrellisTaskHandler),
        (rf"trellis/task/ws/{task}", ModelTaskSocket),
        (r"models/(?P<task_id>[^/]+)\.glb", ModelFileHandler),
        (r"providers", ProvidersHandler),
        (r"(?P<path>.*)", UnknownRouteHandler),  # last: only what nothing above matched
    ]
    return [(rf"/{API_PREFIX}/{path}", handler) for path, handler in routes]
