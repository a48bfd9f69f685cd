"""Where task records, event logs and GLB results live.

:class:`TaskStore` is the interface the engine needs. :class:`MemoryStore` keeps it all in
process memory (the default, ``memory://``); :class:`RedisStore` shares the same interface
between processes (docs/architecture.md, "Scaling out"). :func:`open_store` picks by URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from ..events import Event
from ..tasks import TaskRecord, TaskSpec
from .memory import MemoryStore

if TYPE_CHECKING:
    from ...settings import Settings


class TaskStore(Protocol):
    """Storage of tasks, their logs and results, and their lifecycle. All methods run on
    the engine's loop. The store, not the engine, owns:

    * **creation**: :meth:`create` is atomic; a second create of one id raises
      :class:`~vibedraw_widget.engine.tasks.TaskExists` (whichever process sent it);
    * **the end**: appending the terminal event sets the record's final ``status``,
      ``finished`` and ``result`` in the same step, and appends after it raise
      :class:`~vibedraw_widget.engine.events.LogClosed`;
    * **retention**: a finished task is forgotten ``retention_seconds`` after its end;
    * **hand-over**: :meth:`enqueue` gives a created task to worker processes (shared
      stores), :meth:`request_cancel` cancels a task that this process does not run.

    :meth:`follow` reads through :class:`~vibedraw_widget.engine.events.Tail` and raises
    :class:`~vibedraw_widget.engine.tasks.UnknownTask` if the task vanishes meanwhile.
    """

    shared: bool
    """True when other processes see the same tasks (then workers run them by default)."""

    async def create(self, record: TaskRecord) -> None: ...
    async def enqueue(self, spec: TaskSpec) -> None: ...
    async def request_cancel(self, task_id: str) -> None: ...
    async def get(self, task_id: str) -> TaskRecord | None: ...
    async def update(self, task_id: str, **fields: Any) -> TaskRecord: ...
    async def append(self, task_id: str, type: str, data: dict[str, Any]) -> Event: ...
    def follow(self, task_id: str, after: int = 0) -> AsyncIterator[Event]: ...
    async def put_glb(self, task_id: str, glb: bytes) -> None: ...
    async def get_glb(self, task_id: str) -> bytes | None: ...
    async def drop(self, task_id: str) -> None: ...
    async def close(self) -> None: ...


def open_store(url: str, settings: Settings | None = None) -> TaskStore:
    """The store for ``url``: ``memory://`` or ``redis://host:port/db``.

    ``settings`` (retention, queue limits) matter to shared stores only."""
    if url.startswith("memory://"):
        if settings is None:
            return MemoryStore()
        return MemoryStore(settings.retention_seconds, settings.max_finished_tasks)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisStore

        return RedisStore(url, settings)
    raise ValueError(f"store_url {url!r}: expected memory:// or redis://…")


__all__ = ["MemoryStore", "TaskStore", "open_store"]
