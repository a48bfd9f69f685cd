"""Where task records, event logs and GLB results live.

:class:`TaskStore` is the interface the engine needs. :class:`MemoryStore` keeps it all in
process memory (the default, ``memory://``); :class:`RedisStore` shares the same interface
between processes (docs/architecture.md, "Scaling out"). :func:`open_store` picks by URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from ..events import Event
from ..tasks import TaskRecord
from .memory import MemoryStore

if TYPE_CHECKING:
    from ...settings import Settings


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


def open_store(url: str, settings: Settings | None = None) -> TaskStore:
    """The store for ``url``: ``memory://`` or ``redis://host:port/db``.

    ``settings`` (retention, queue limits) matter to shared stores only."""
    if url.startswith("memory://"):
        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisStore

        return RedisStore(url, settings)
    raise ValueError(f"store_url {url!r}: expected memory:// or redis://…")


__all__ = ["MemoryStore", "TaskStore", "open_store"]
