"""Drive a running jupyter-server's vibedraw routes from Python.

:class:`AsyncClient` is the asyncio API; :class:`Client` has the same methods, blocking,
and works inside a notebook cell (its coroutines run on a private loop thread, so a
running kernel loop is no obstacle)::

    client = Client.from_running_server()
    task_id = client.submit("3d", sketch=sketch, prompt="a red apple")
    for event in client.events(task_id):       # SSE, resumed after a dropped connection
        print(event.type, event.data)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import websockets
from httpx_sse import aconnect_sse

from .engine.background import LoopThread
from .engine.events import TERMINAL, Event
from .errors import VibeDrawError
from .kinds import task_type_of
from .sketch import Sketch

T = TypeVar("T")
__all__ = ["AsyncClient", "Client", "RequestRefused", "VibeDrawError"]
WS_TERMINAL = frozenset({"completed", "failed", "cancelled"})
RETRYABLE = (httpx.TransportError, websockets.ConnectionClosedError, OSError)


class RequestRefused(VibeDrawError, RuntimeError):
    """The server refused a request; ``status`` is the HTTP status, ``message`` its reason.

    A :class:`~vibedraw_widget.errors.VibeDrawError`, the name this module has always
    raised: ``except VibeDrawError`` catches it.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.reason = message

    @property
    def message(self) -> str:
        return self.reason

    def __reduce__(self) -> tuple[type[RequestRefused], tuple[int, str]]:
        return (type(self), (self.status, self.reason))


def _raise_for_status(response: httpx.Response, token_sent: bool = False) -> None:
    if response.is_success:
        return
    if response.status_code == 403 and token_sent:
        # A refused token makes jupyter-server treat the request as a cookie session and
        # complain about XSRF ("'_xsrf' argument missing"): say what is wrong.
        raise RequestRefused(
            403, "the server refused the token (or does not let this user run tasks)"
        )
    try:
        message = response.json().get("message") or response.reason_phrase
    except ValueError:
        message = response.text[:200] or response.reason_phrase
    raise RequestRefused(response.status_code, message)


class AsyncClient:
    """Async client of one server: ``url`` is the server's base URL (``http://host:8888/``).

    A token authenticates every request (``Authorization: token …``), which exempts it
    from XSRF and origin checks as in jupyter-server.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_reconnects: int = 10,
    ) -> None:
        self.base_url = url.rstrip("/") + "/"
        self.api_url = self.base_url + "vibedraw/api/"
        self.token = token
        self.timeout = timeout
        self.max_reconnects = max_reconnects
        self.headers = {"Authorization": f"token {token}"} if token else {}
        self._pool: httpx.AsyncClient | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _http(self) -> httpx.AsyncClient:
        """The connection pool, opened on first use and kept: a batch of hundreds of tasks
        reuses a few keep-alive connections instead of paying for a new client (and its
        TLS context, milliseconds of CPU) per request. Connections belong to the event
        loop that opened them, so a call from another loop gets a pool of its own."""
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool_loop is not loop:
            self._pool = httpx.AsyncClient(
                headers=self.headers,
                timeout=self.timeout,
                # Every followed task holds a stream open: no cap below the caller's own.
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=32),
            )
            self._pool_loop = loop
        return self._pool

    async def aclose(self) -> None:
        """Close the pooled connections (the client opens a new pool if used again)."""
        pool, self._pool, self._pool_loop = self._pool, None, None
        if pool is not None:
            await pool.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self._http().request(method, self.api_url + path, **kwargs)
        _raise_for_status(response, bool(self.token))
        return response

    async def providers(self) -> list[dict[str, Any]]:
        """The server's providers (name, kind, default, configured, message)."""
        return (await self._request("GET", "providers")).json()["providers"]

    async def submit(
        self,
        kind: str,
        sketch: Any = None,
        *,
        image: bytes | None = None,
        prompt: str = "",
        provider: str | None = None,
        **fields: Any,
    ) -> str:
        """Start a task and return its id. ``kind``: ``code`` (or ``3d``), ``edit``,
        ``improve`` or ``model`` (or ``mesh``); ``sketch`` anything :meth:`Sketch.from_any`
        takes; extra ``fields`` go into the body as they are (``threejs_code``, ``error``,
        ``max_tokens`` …; for a model, ``input={"seed": …}`` joins the image in the
        Trellis-shaped ``input``)."""
        task_type = task_type_of(kind)
        body: dict[str, Any] = {"prompt": prompt, **fields}
        if provider:
            body["provider"] = provider
        if sketch is not None:
            body["sketch"] = Sketch.from_any(sketch).to_dict()
        encoded = base64.b64encode(image).decode() if image else None
        if task_type == "model":
            body["input"] = {**body.get("input", {}), **({"image": encoded} if encoded else {})}
            body["task_type"] = "image-to-3d"
            response = await self._request("POST", "trellis/task", json=body)
            return response.json()["data"]["task_id"]
        if encoded:
            body["image_base64"] = encoded
        return (await self._request("POST", f"queue/{task_type}", json=body)).json()["task_id"]

    async def status(self, task_id: str) -> dict[str, Any]:
        """``GET task/{id}``: ``{"task_id", "status", "result"}``."""
        return (await self._request("GET", f"task/{task_id}")).json()

    async def cancel(self, task_id: str) -> dict[str, Any]:
        """Cancel a task; returns its status afterwards."""
        return (await self._request("DELETE", f"task/{task_id}")).json()

    async def glb(self, task_id: str) -> bytes:
        """The GLB of a finished model task."""
        return (await self._request("GET", f"models/{task_id}.glb")).content

    async def events(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """The task's events over SSE, from id ``after`` on, until the terminal event.

        A dropped connection is resumed with ``Last-Event-ID``: nothing lost, nothing twice.
        """
        stream = self._resumed(
            lambda last: self._sse_once(task_id, last),
            position=lambda event, last: event.id,
            done=lambda event: event.type in TERMINAL,
            after=after,
        )
        async with contextlib.aclosing(stream):
            async for event in stream:
                yield event

    async def _resumed(
        self,
        connect: Callable[[int], AsyncIterator[T]],
        position: Callable[[T, int], int],
        done: Callable[[T], bool],
        after: int,
    ) -> AsyncIterator[T]:
        """The one reconnect loop (SSE and WebSocket): items of ``connect(last)`` until one
        is ``done``; a dropped connection backs off and reconnects after the last
        ``position`` seen, at most ``max_reconnects`` times in a row."""
        last, failures = after, 0
        while True:
            try:
                # aclosing: hand the connection back as soon as the task ends.
                async with contextlib.aclosing(connect(last)) as stream:  # type: ignore[type-var]
                    async for item in stream:
                        last, failures = position(item, last), 0
                        yield item
                        if done(item):
                            return
                raise httpx.RemoteProtocolError("the stream ended before the task did")
            except RETRYABLE:
                failures += 1
                if failures > self.max_reconnects:
                    raise
                await asyncio.sleep(min(0.1 * 2**failures, 5.0))  # back off, then resume

    async def _sse_once(self, task_id: str, after: int) -> AsyncIterator[Event]:
        headers = {"Last-Event-ID": str(after)} if after else {}
        url = f"{self.api_url}subscribe/{task_id}"
        # No read timeout: a task may be quiet for long (the server sends keepalives).
        async with aconnect_sse(self._http(), "GET", url, headers=headers, timeout=None) as source:
            if not source.response.is_success:
                await source.response.aread()
                _raise_for_status(source.response, bool(self.token))
            blocks = source.aiter_sse()
            async for sse in blocks:
                if not (sse.event and sse.data):  # skip the bare `retry:` block
                    continue
                event = Event(int(sse.id), sse.event, json.loads(sse.data))
                if event.type in TERMINAL:
                    # The server ends the response here: read that end, so that the
                    # connection goes back to the pool instead of being closed.
                    async for _ in blocks:
                        pass
                yield event

    async def model_updates(self, task_id: str, after: int = 0) -> AsyncIterator[dict[str, Any]]:
        """Model-task status messages over the WebSocket (docs/protocol.md, WebSocket),
        resumed on a drop."""
        stream = self._resumed(
            lambda last: self._ws_once(task_id, last),
            position=lambda message, last: message.get("event_id") or last,
            done=lambda message: message["status"] in WS_TERMINAL,
            after=after,
        )
        async with contextlib.aclosing(stream):
            async for message in stream:
                yield message

    async def _ws_once(self, task_id: str, after: int) -> AsyncIterator[dict[str, Any]]:
        parts = urlsplit(self.api_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}{parts.path}trellis/task/ws/{task_id}?after={after}"
        try:
            async with websockets.connect(url, additional_headers=self.headers) as ws:
                async for raw in ws:
                    yield json.loads(raw)
        except websockets.InvalidStatus as exc:
            raise RequestRefused(exc.response.status_code, "WebSocket refused") from None

    async def wait(self, task_id: str) -> Event:
        """Follow a task to its end and return the terminal event."""
        async with contextlib.aclosing(self.events(task_id)) as events:
            async for event in events:
                if event.type in TERMINAL:
                    return event
        raise RequestRefused(500, "the stream ended without a terminal event")


class Client:
    """The blocking twin of :class:`AsyncClient`: same methods, same arguments."""

    def __init__(self, url: str, token: str | None = None, **kwargs: Any) -> None:
        self.aio = AsyncClient(url, token, **kwargs)
        self._thread = LoopThread("vibedraw-client")
        self._loop = self._thread.loop

    @classmethod
    def from_running_server(cls, **kwargs: Any) -> Client:
        """A client of the newest jupyter-server running on this machine (its URL and token)."""
        from jupyter_server.serverapp import list_running_servers

        servers = sorted(list_running_servers(), key=lambda s: s.get("pid", 0))
        if not servers:
            raise RuntimeError("no running jupyter-server found; start one with `jupyter lab`")
        info = servers[-1]
        return cls(info["url"], info.get("token") or None, **kwargs)

    def __repr__(self) -> str:
        return f"<Client {self.aio.base_url}>"

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._thread.run(coro)

    def _iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        return self._thread.iterate(agen)

    def providers(self) -> list[dict[str, Any]]:
        """See :meth:`AsyncClient.providers`."""
        return self._run(self.aio.providers())

    def submit(self, kind: str, sketch: Any = None, **kwargs: Any) -> str:
        """See :meth:`AsyncClient.submit`."""
        return self._run(self.aio.submit(kind, sketch, **kwargs))

    def status(self, task_id: str) -> dict[str, Any]:
        """See :meth:`AsyncClient.status`."""
        return self._run(self.aio.status(task_id))

    def cancel(self, task_id: str) -> dict[str, Any]:
        """See :meth:`AsyncClient.cancel`."""
        return self._run(self.aio.cancel(task_id))

    def glb(self, task_id: str) -> bytes:
        """See :meth:`AsyncClient.glb`."""
        return self._run(self.aio.glb(task_id))

    def wait(self, task_id: str) -> Event:
        """See :meth:`AsyncClient.wait`."""
        return self._run(self.aio.wait(task_id))

    def events(self, task_id: str, after: int = 0) -> Iterator[Event]:
        """See :meth:`AsyncClient.events`."""
        return self._iterate(self.aio.events(task_id, after))

    def model_updates(self, task_id: str, after: int = 0) -> Iterator[dict[str, Any]]:
        """See :meth:`AsyncClient.model_updates`."""
        return self._iterate(self.aio.model_updates(task_id, after))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the client's loop thread."""
        if self._loop.is_running():
            self._run(self.aio.aclose())
            self._thread.stop()
