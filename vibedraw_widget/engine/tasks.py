"""Task records: what was asked (:class:`TaskSpec`) and where it stands (:class:`TaskRecord`)."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import VibeDrawError
from ..providers.base import TASK_TYPES, Request

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})


class UnknownTask(VibeDrawError, LookupError):
    """No task with that id (never made, or dropped after ``retention_seconds``)."""

    status = 404


class TaskExists(VibeDrawError, ValueError):
    """A task with that id already exists (a client-made id sent twice; HTTP 409)."""

    status = 409


class TaskLost(UnknownTask):
    """A task vanished from its store while followed: its keys expired or were deleted,
    or the store lost its data (a Redis restarted without persistence, ``FLUSHALL``)."""


class QueueFull(VibeDrawError, RuntimeError):
    """More tasks are waiting than ``max_queued_tasks`` allows (HTTP 429)."""

    status = 429


def new_task_id() -> str:
    """A fresh server-made task id (a UUID4 string)."""
    return str(uuid.uuid4())


def valid_task_id(task_id: str) -> bool:
    """Whether ``task_id`` has the shape of an id this engine makes."""
    try:
        return str(uuid.UUID(task_id)) == task_id.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def kind_of(task_type: str) -> str:
    """Which provider kind serves a task type: ``model`` → model, the rest → code."""
    return "model" if task_type == "model" else "code"


@dataclass
class TaskSpec:
    """One request for work, as submitted. Serialisable (``to_dict``) for shared stores."""

    type: str
    provider: str | None = None
    sketch: dict[str, Any] | None = None
    image: bytes | None = None
    prompt: str = ""
    threejs_code: str | None = None
    error: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    task_id: str = field(default_factory=new_task_id)
    submitter: str | None = None
    """Who submitted it (the server's identity rule, README "Security"); ``None`` in process."""

    def __post_init__(self) -> None:
        if self.type not in TASK_TYPES:
            raise ValueError(f"unknown task type {self.type!r}; expected one of {TASK_TYPES}")

    def request(self) -> Request:
        """The provider-facing view of this spec: every :class:`Request` field, copied
        (``options`` too, so a provider cannot change the recorded spec)."""
        values = {f.name: getattr(self, f.name) for f in fields(Request)}
        return Request(**{**values, "options": dict(self.options)})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the image as base64), for :func:`json.dumps` at once: it shares
        the sketch and options with the spec rather than deep-copying them (``asdict``
        took half a second over a 200,000-point sketch, on the event loop)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["image"] = base64.b64encode(self.image).decode() if self.image else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        if data.get("image"):
            data["image"] = base64.b64decode(data["image"])
        return cls(**data)


@dataclass
class TaskRecord:
    """Where a task stands. ``result`` is the terminal event's data once it ended."""

    task_id: str
    type: str
    provider: str
    status: str = "pending"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] | None = None
    submitter: str | None = None
    """Who submitted the task; only they see it through the server (``None``: anyone)."""

    @property
    def done(self) -> bool:
        """Whether the task reached a final status."""
        return self.status in FINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """What ``GET task/{id}`` answers."""
        return {
            "task_id": self.task_id,
            "type": self.type,
            "provider": self.provider,
            "status": self.status,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "result": self.result,
            "submitter": self.submitter,
        }
