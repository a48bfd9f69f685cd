"""The default task store (``memory://``): records, logs and GLBs in this process's memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..events import Event, EventLog
from ..tasks import TaskRecord, UnknownTask


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
