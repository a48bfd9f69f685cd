"""Where task records, event logs and GLB results live.

:class:`TaskStore` is the interface the engine needs; :class:`MemoryStore` keeps it all in
process memory (the default, ``memory://``). A Redis implementation shares the same
interface between processes (DESIGN §9). ``open_store(url)`` picks by URL scheme.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from .events import Event, EventLog
from .tasks import TaskRecord, UnknownTask

if TYPE_CHECKING:
    from ..settings import Settings


class TaskStore(Protocol):
    """Storage of tasks, their logs and results. All methods run on the engine's loop."""

    shared: bool
    """True when other processes see the same tasks (then workers run them)."""

    async def create(self, record: TaskRecord) -> None: ...
    async def get(self, task_id: str) -> TaskRecord | None: ...
    async def update(self, task_id: str, **fields: Any) -> TaskRecord: ...
    async def append(self, task_id: str, type: str, data: dict[str, Any]) -> Event: ...
    def follow(self, task_id: str, after: int = 0) -> AsyncIterator[Event]: ...
    async def put_glb(self, task_id: str, glb: bytes) -> None: ...
    async def get_glb(self, task_id: str) -> bytes | None: ...
    async def drop(self, task_id: str) -> None: ...
    async def close(self) -> None: ...


class MemoryStore:
    """Tasks in this process's memory; lost on restart, seen by this process only."""

    shared = False

    def __init__(self) -> None:
        self._records: dict[str, TaskRecord] = {}
        self._logs: dict[str, EventLog] = {}
        self._glbs: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._records)

    async def create(self, record: TaskRecord) -> None:
        self._records[record.task_id] = record
        self._logs[record.task_id] = EventLog()

    async def get(self, task_id: str) -> TaskRecord | None:
        return self._records.get(task_id)

    async def update(self, task_id: str, **fields: Any) -> TaskRecord:
        record = self._record(task_id)
        for name, value in fields.items():
            setattr(record, name, value)
        return record

    async def append(self, task_id: str, type: str, data: dict[str, Any]) -> Event:
        return self._log(task_id).append(type, data)

    def follow(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        return self._log(task_id).follow(after)

    async def put_glb(self, task_id: str, glb: bytes) -> None:
        self._record(task_id)
        self._glbs[task_id] = glb

    async def get_glb(self, task_id: str) -> bytes | None:
        return self._glbs.get(task_id)

    async def drop(self, task_id: str) -> None:
        self._records.pop(task_id, None)
        self._logs.pop(task_id, None)
        self._glbs.pop(task_id, None)

    async def close(self) -> None:
        pass

    def _record(self, task_id: str) -> TaskRecord:
        try:
            return self._records[task_id]
        except KeyError:
            raise UnknownTask(task_id) from None

    def _log(self, task_id: str) -> EventLog:
        try:
            return self._logs[task_id]
        except KeyError:
            raise UnknownTask(task_id) from None


def open_store(url: str, settings: Settings | None = None) -> TaskStore:
    """The store for ``url``: ``memory://`` or ``redis://host:port/db``.

    ``settings`` (retention, queue limits) matter to shared stores only."""
    if url.startswith("memory://"):
        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis_store import RedisStore

        return RedisStore(url, settings)
    raise ValueError(f"store_url {url!r}: expected memory:// or redis://…")
