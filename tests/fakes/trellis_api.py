"""A local fake of a PiAPI-compatible Trellis task API (``c.VibeDraw.trellis_url``).

* ``POST /api/v1/task`` creates a task and answers PiAPI's envelope
  ``{"code": 200, "data": {"task_id", "model", "task_type", "status": "pending", "input",
  "output", "meta", "error", "logs"}, "message": "success"}``;
* ``GET /api/v1/task/{task_id}`` answers the task, advancing one :class:`Poll` per
  request (the last one repeats, so a last ``Poll("processing")`` never finishes);
* ``GET /files/{task_id}.glb`` serves the model named in ``output.model_file`` once the
  task is completed.

Requests without the fake's ``x-api-key`` get PiAPI's 401. Failure knobs: ``create_reply``
/ ``Poll(reply=…)`` answer any status and raw body instead (5xx, malformed JSON),
``Poll(hold=True)`` and ``hold_create`` hold the answer until :meth:`release` or until
the client hangs up (timeouts, cancellation), ``model_file`` points the result elsewhere.

    with FakeTrellis(polls=[Poll("pending"), Poll("processing", 50), Poll("completed")]) as fake:
        settings = Settings(trellis_url=fake.task_url, trellis_api_key=fake.api_key)
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import FakeHTTPServer, RecordedRequest, Response

__all__ = ["FakeTrellis", "Poll", "RawReply", "tiny_glb"]


def tiny_glb() -> bytes:
    """A valid, minimal GLB (glTF 2.0 binary) with an empty scene."""
    doc = json.dumps({"asset": {"version": "2.0"}, "scenes": [{"nodes": []}], "scene": 0})
    chunk = doc.encode().ljust((len(doc) + 3) // 4 * 4, b" ")
    total = 12 + 8 + len(chunk)
    return (
        struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(chunk), b"JSON") + chunk
    )


@dataclass
class RawReply:
    """Any HTTP answer: a status and a raw body (e.g. a 502 page, malformed JSON)."""

    status: int
    body: bytes | str = b""
    content_type: str = "application/json"


@dataclass
class Poll:
    """What one ``GET`` of the task answers: PiAPI ``status`` (sent capitalised, as
    PiAPI does) and optional ``progress`` (0..100), or a failure ``error`` message; or,
    instead, a raw ``reply``. ``hold`` holds the answer first."""

    status: str = "processing"
    progress: int | None = None
    error: str | None = None
    reply: RawReply | None = None
    hold: bool = False


class FakeTrellis(FakeHTTPServer):
    """The fake task API; see the module docstring."""

    def __init__(
        self,
        polls: Sequence[Poll] = (Poll("pending"), Poll("processing", 50), Poll("completed")),
        api_key: str = "trellis-test-key",
        glb: bytes | None = None,
        create_reply: RawReply | None = None,
        hold_create: bool = False,
        model_file: str | None = None,
        file_reply: RawReply | None = None,
    ) -> None:
        super().__init__()
        self.polls = list(polls)
        self.api_key = api_key
        self.glb = glb if glb is not None else tiny_glb()
        self.create_reply = create_reply
        self.hold_create = hold_create
        self.model_file = model_file
        self.file_reply = file_reply
        self.tasks: dict[str, dict[str, Any]] = {}
        self.polled = 0

    @property
    def task_url(self) -> str:
        """What ``c.VibeDraw.trellis_url`` should be."""
        return f"{self.url}/api/v1/task"

    @property
    def creates(self) -> list[RecordedRequest]:
        """The task-creating requests."""
        return [r for r in self.requests if r.method == "POST" and r.path == "/api/v1/task"]

    @property
    def gets(self) -> list[RecordedRequest]:
        """The task-status requests."""
        return [
            r for r in self.requests if r.method == "GET" and r.path.startswith("/api/v1/task/")
        ]

    @property
    def downloads(self) -> list[RecordedRequest]:
        """The model-file requests."""
        return [r for r in self.requests if r.path.startswith("/files/")]

    async def handle(self, request: RecordedRequest, response: Response) -> None:
        if request.path.startswith("/files/"):
            await self._file(request, response)
            return
        if request.headers.get("x-api-key") != self.api_key:
            await self._raw(
                response, RawReply(401, json.dumps(_envelope(401, None, "Unauthorized")))
            )
            return
        if request.method == "POST" and request.path == "/api/v1/task":
            await self._create(request, response)
        elif request.method == "GET" and request.path.startswith("/api/v1/task/"):
            await self._poll(request.path.rsplit("/", 1)[1], response)
        else:
            await self._raw(response, RawReply(404, json.dumps(_envelope(404, None, "not found"))))

    async def _create(self, request: RecordedRequest, response: Response) -> None:
        if self.hold_create:
            await response.wait(self.gate)
        if self.create_reply is not None:
            await self._raw(response, self.create_reply)
            return
        body = request.json
        task_id = f"fake-{len(self.tasks) + 1:04d}-trellis"
        self.tasks[task_id] = {
            "task_id": task_id,
            "model": body.get("model"),
            "task_type": body.get("task_type"),
            "status": "Pending",
            "config": {"service_mode": "", "webhook_config": {"endpoint": "", "secret": ""}},
            "input": body.get("input", {}),
            "output": {},
            "meta": {
                "created_at": "2026-11-27T12:00:00Z",
                "usage": {"type": "point", "consume": 0},
            },
            "detail": None,
            "logs": [],
            "error": {"code": 0, "raw_message": "", "message": "", "detail": None},
        }
        await response.send_json(200, _envelope(200, self.tasks[task_id]))

    async def _poll(self, task_id: str, response: Response) -> None:
        poll = self.polls[min(self.polled, len(self.polls) - 1)]
        self.polled += 1
        if poll.hold:
            await response.wait(self.gate)
        if poll.reply is not None:
            await self._raw(response, poll.reply)
            return
        task = self.tasks.get(task_id)
        if task is None:
            await self._raw(
                response, RawReply(404, json.dumps(_envelope(404, None, "task not found")))
            )
            return
        task["status"] = poll.status.capitalize()
        if poll.progress is not None:
            task["output"]["progress"] = poll.progress
        if poll.error is not None:
            task["error"] = {"code": 10000, "raw_message": poll.error, "message": poll.error}
        if poll.status.lower() == "completed":
            task["output"]["model_file"] = self.model_file or f"{self.url}/files/{task_id}.glb"
        await response.send_json(200, _envelope(200, task))

    async def _file(self, request: RecordedRequest, response: Response) -> None:
        if self.file_reply is not None:
            await self._raw(response, self.file_reply)
        else:
            await response.send(200, self.glb, {"content-type": "model/gltf-binary"})

    @staticmethod
    async def _raw(response: Response, reply: RawReply) -> None:
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        await response.send(reply.status, body, {"content-type": reply.content_type})


def _envelope(code: int, data: dict[str, Any] | None, message: str = "success") -> dict[str, Any]:
    return {"code": code, "data": data, "message": message}
