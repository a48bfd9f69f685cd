"""Local stand-ins for the online services, for offline tests.

* :mod:`fakes.anthropic_api` — ``FakeAnthropic``: the Messages API (``POST /v1/messages``),
  streaming the real SSE events and answering the real HTTP error bodies.
* :mod:`fakes.trellis_api` — ``FakeTrellis``: a PiAPI-compatible Trellis task API.
* here: :class:`FakeHTTPServer`, the small HTTP/1.1 server both are built on (real
  sockets on a free loopback port, served from a background thread, so the code under
  test talks to it exactly as to the real service and can be sync or async), and
  :class:`FakeTaskContext`, a provider context that records what a provider reports.

Tests synchronise on what the fakes *saw* (``wait_until`` / ``await wait_for``), never
on sleeps. Import as ``from tests.fakes.anthropic_api import FakeAnthropic``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

T = TypeVar("T")

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Site Overloaded",
}


class ClientGone(Exception):
    """The client closed the connection while the fake was answering."""


@dataclass
class RecordedRequest:
    """One request as the fake received it. ``disconnected`` is set when the client closed
    the connection before the fake finished answering (e.g. a cancelled stream)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    disconnected: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class Response:
    """How a handler answers: a whole body (:meth:`send`) or a chunked stream
    (:meth:`start`, :meth:`write` …, then :meth:`end` or :meth:`drop`)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: RecordedRequest
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._request = request
        self._eof: asyncio.Future[bytes] | None = None
        self.keep_alive = True

    async def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Answer with a complete body (``Content-Length`` framing)."""
        await self._stop_watching()
        head = {"content-length": str(len(body)), **(headers or {})}
        self._writer.write(self._head(status, head) + body)
        await self._writer.drain()

    async def send_json(
        self, status: int, data: Any, headers: dict[str, str] | None = None
    ) -> None:
        """Answer with ``data`` as JSON."""
        body = json.dumps(data).encode()
        await self.send(status, body, {"content-type": "application/json", **(headers or {})})

    async def start(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Begin a chunked answer; from here on a client that hangs up is noticed."""
        head = {"transfer-encoding": "chunked", **(headers or {})}
        self._writer.write(self._head(status, head))
        await self._writer.drain()
        # Nothing else arrives on a keep-alive connection before the answer ends, so a
        # pending read completing means the client closed the connection.
        self._eof = asyncio.ensure_future(self._reader.read(1))

    async def write(self, data: bytes) -> None:
        """Send one chunk; raises :class:`ClientGone` when the client has hung up."""
        self._check_gone()
        self._writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        try:
            await self._writer.drain()
        except ConnectionError as exc:
            self._gone()
            raise ClientGone from exc

    async def wait(self, gate: asyncio.Event) -> None:
        """Hold the answer (before it starts, or mid-stream) until ``gate`` is set;
        raises :class:`ClientGone` if the client hangs up first."""
        if self._eof is None:
            self._eof = asyncio.ensure_future(self._reader.read(1))
        waiter = asyncio.ensure_future(gate.wait())
        try:
            await asyncio.wait({waiter, self._eof}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        self._check_gone()

    async def end(self) -> None:
        """Finish a chunked answer properly."""
        await self._stop_watching()
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()

    async def drop(self) -> None:
        """Close the connection in the middle of the answer (a network failure)."""
        await self._stop_watching()
        self.keep_alive = False
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()
        self._writer.close()

    def _check_gone(self) -> None:
        if self._eof is not None and self._eof.done():
            self._gone()
            raise ClientGone

    def _gone(self) -> None:
        self.keep_alive = False
        self._request.disconnected.set()

    async def _stop_watching(self) -> None:
        # Wait for the cancelled read to let go of the reader: the connection's next
        # request is read right after this answer, and a StreamReader takes one reader.
        if self._eof is not None:
            self._eof.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._eof
            self._eof = None

    @staticmethod
    def _head(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class FakeHTTPServer:
    """A minimal HTTP/1.1 server on ``127.0.0.1`` (free port) in a background thread.

    Subclasses implement :meth:`handle`. Use as ``with Fake() as fake:`` or
    ``async with Fake() as fake:``; ``fake.url`` is its base URL and ``fake.requests``
    every request received, in order.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._gate: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving; returns once the port is bound."""
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._loop is not None and not self._loop.is_closed():
            # Scheduled even if run_forever has not begun yet (start() returns as soon as
            # the port is bound): the callback then runs first thing in run_forever.
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Any:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._gate = asyncio.Event()

        async def serve() -> None:
            self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        loop.run_until_complete(serve())
        try:
            loop.run_forever()
        finally:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    # -- synchronisation ----------------------------------------------------------------
    def release(self) -> None:
        """Open the gate that held answers wait on (see :meth:`Response.wait`)."""
        assert self._loop is not None and self._gate is not None
        self._loop.call_soon_threadsafe(self._gate.set)

    def notify(self) -> None:
        """Wake threads blocked in :meth:`wait_until` (call after changing recorded state)."""
        with self._cond:
            self._cond.notify_all()

    def wait_until(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Block until ``predicate()`` is truthy (re-checked on every request and
        disconnect); return its value or raise ``TimeoutError``."""
        with self._cond:
            value = self._cond.wait_for(predicate, timeout)
        if not value:
            raise TimeoutError(f"{type(self).__name__}: condition not met in {timeout} s")
        return value

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """:meth:`wait_until` for async tests (waits in a thread, the loop keeps running)."""
        return await asyncio.to_thread(self.wait_until, predicate, timeout)

    def wait_disconnected(self, request: RecordedRequest, timeout: float = 10.0) -> None:
        """Block until the client closed the connection of ``request`` mid-answer."""
        self.wait_until(request.disconnected.is_set, timeout)

    # -- serving ------------------------------------------------------------------------
    async def handle(self, request: RecordedRequest, response: Response) -> None:
        """Answer one request (subclasses override)."""
        await response.send_json(404, {"message": "not found"})

    @property
    def gate(self) -> asyncio.Event:
        """The event :meth:`release` sets (for handlers running in the server loop)."""
        assert self._gate is not None
        return self._gate

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # Shutdown with the client still connected: end quietly (asyncio's stream
            # callback logs a cancelled connection task as an error on Python 3.11).
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await self._read_body(reader, headers)
            parts = urlsplit(target)
            request = RecordedRequest(method, parts.path, parse_qs(parts.query), headers, body)
            with self._cond:
                self.requests.append(request)
                self._cond.notify_all()
            response = Response(reader, writer, request)
            try:
                await self.handle(request, response)
            except ClientGone:
                pass
            finally:
                self.notify()
            if not response.keep_alive or headers.get("connection", "").lower() == "close":
                return

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk[:-2])
        return await reader.readexactly(int(headers.get("content-length", "0")))


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """A loopback URL where connections are refused: the port stays bound (so no other
    process can take it) but is never listened on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class FakeTaskContext:
    """A provider context (``providers.base.TaskContext``) that records what it is told:
    ``progress_events`` as ``(stage, progress, message)``, ``calls`` as the names of the
    functions given to ``run_cpu``. ``run_cpu`` runs inline but round-trips the call and
    its result through pickle, as the engine's process pool does, so work that could not
    cross to a worker fails here too; with ``cancel_at=n`` the n-th call (from 0) is
    cancelled instead."""

    def __init__(self, task_id: str = "task-1", cancel_at: int | None = None) -> None:
        self.task_id = task_id
        self.result: dict[str, Any] = {}
        self.progress_events: list[tuple[str, float, str]] = []
        self.calls: list[str] = []
        self.cancel_at = cancel_at

    def progress(self, stage: str, progress: float, message: str = "") -> None:
        """Record one progress report."""
        self.progress_events.append((stage, progress, message))

    async def run_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` right here, with arguments and result pickled both ways."""
        if self.cancel_at is not None and len(self.calls) == self.cancel_at:
            raise asyncio.CancelledError
        self.calls.append(fn.__name__)
        fn, args = pickle.loads(pickle.dumps((fn, args)))
        return pickle.loads(pickle.dumps(fn(*args)))
