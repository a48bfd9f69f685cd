"""The default task store (``memory://``): records, logs and GLBs in this process's memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ..events import FINAL_STATUS, Event, EventLog
from ..tasks import TaskExists, TaskRecord, TaskSpec, UnknownTask


class MemoryStore:
    """Tasks in this process's memory; lost on restart, seen by this process only.

    A finished task is forgotten ``retention_seconds`` after its terminal event, or sooner
    when more than ``max_finished`` tasks have finished since: a burst must not grow memory
    without bound (a model task keeps its mesh, ~190 KiB, until dropped).
    """

    shared = False

    def __init__(self, retention_seconds: float = 3600.0, max_finished: int = 500) -> None:
        self.retention_seconds = retention_seconds
        self.max_finished = max_finished
        self._records: dict[str, TaskRecord] = {}
        self._logs: dict[str, EventLog] = {}
        self._glbs: dict[str, bytes] = {}
        self._drops: dict[str, asyncio.TimerHandle] = {}

    def __len__(self) -> int:
        return len(self._records)

    async def create(self, record: TaskRecord) -> None:
        if record.task_id in self._records:
            raise TaskExists(f"task_id: {record.task_id} is already in use")
        self._records[record.task_id] = record
        self._logs[record.task_id] = EventLog()

    async def enqueue(self, spec: TaskSpec) -> None:
        raise RuntimeError(
            "memory:// has no workers: tasks run in the process that holds them (run_tasks)"
        )

    async def request_cancel(self, task_id: str) -> None:
        """Cancel a task that no runner of this process holds: its log ends here."""
        log = self._log(task_id)
        if not log.closed:
            await self.append(task_id, "cancelled", {"status": "cancelled", "task_id": task_id})

    async def get(self, task_id: str) -> TaskRecord | None:
        return self._records.get(task_id)

    async def update(self, task_id: str, **fields: Any) -> TaskRecord:
        record = self._record(task_id)
        for name, value in fields.items():
            setattr(record, name, value)
        return record

    async def append(self, task_id: str, type: str, data: dict[str, Any]) -> Event:
        event = self._log(task_id).append(type, data)
        if event.terminal:  # the end sets the final status and starts the retention
            await self.update(task_id, status=FINAL_STATUS[type], finished=event.time, result=data)
            self._drops[task_id] = asyncio.get_running_loop().call_later(
                self.retention_seconds, self._drop_now, task_id
            )
            while len(self._drops) > max(0, self.max_finished):
                self._drop_now(next(iter(self._drops)))  # the oldest (dicts keep order)
        return event

    def follow(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        return self._log(task_id).follow(after)

    async def put_glb(self, task_id: str, glb: bytes) -> None:
        self._record(task_id)
        self._glbs[task_id] = glb

    async def get_glb(self, task_id: str) -> bytes | None:
        return self._glbs.get(task_id)

    async def drop(self, task_id: str) -> None:
        self._drop_now(task_id)

    async def close(self) -> None:
        for handle in self._drops.values():
            handle.cancel()
        self._drops.clear()

    def _drop_now(self, task_id: str) -> None:
        handle = self._drops.pop(task_id, None)
        if handle is not None:
            handle.cancel()
        self._records.pop(task_id, None)
        self._logs.pop(task_id, None)
        self._glbs.pop(task_id, None)

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
