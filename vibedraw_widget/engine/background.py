"""An event loop in a daemon thread (:class:`LoopThread`) and an engine running on one.

A notebook cell already runs inside an event loop, so it cannot ``asyncio.run`` anything;
and the widget's comm fallback needs tasks that outlive the cell that started them.
:class:`LoopThread` answers both: coroutines are handed to its loop and awaited
(``await thread.call(...)``) or waited on (``thread.run(...)``) from any thread.
:class:`BackgroundEngine` runs the engine on one; the blocking
:class:`~vibedraw_widget.client.Client` runs its async twin on another.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from ..settings import Settings
from .events import Event
from .runner import Engine
from .tasks import TaskRecord, TaskSpec

T = TypeVar("T")

_default: BackgroundEngine | None = None
_default_lock = threading.Lock()


class LoopThread:
    """An asyncio loop running forever in a daemon thread; thread-safe ways in."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def schedule(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the loop; its future, to wait on from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and await it from another loop."""
        return await asyncio.wrap_future(self.schedule(coro))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and block this thread until it is done."""
        future = self.schedule(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()  # an interrupted caller (KeyboardInterrupt) stops the work
            raise

    def iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        """Iterate an async generator living on the loop, blocking for each item; leaving
        the iteration early closes the generator there."""
        try:
            while True:
                try:
                    yield self.run(agen.__anext__())  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            self.run(agen.aclose())  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Stop the loop (the thread then ends)."""
        self.loop.call_soon_threadsafe(self.loop.stop)


class BackgroundEngine:
    """An :class:`Engine` running on a private loop thread; thread-safe facade."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.thread = LoopThread("vibedraw-engine")
        self.loop = self.thread.loop
        self.engine: Engine = self.thread.run(self._make(settings))

    @staticmethod
    async def _make(settings: Settings | None) -> Engine:
        return Engine(settings)

    def __repr__(self) -> str:
        return f"<BackgroundEngine {self.engine!r}>"

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the engine's loop and await it from another loop."""
        return await self.thread.call(coro)

    def call_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the engine's loop and block this thread until it is done."""
        return self.thread.run(coro, timeout)

    def submit(self, spec: TaskSpec) -> TaskRecord:
        """Submit a task (blocking only for the bookkeeping, not the work)."""
        return self.call_sync(self.engine.submit(spec))

    def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a task and wait until it has ended."""
        return self.call_sync(self.engine.cancel(task_id))

    def watch(
        self, task_id: str, on_event: Callable[[Event], None], after: int = 0
    ) -> concurrent.futures.Future[None]:
        """Call ``on_event`` (on the engine thread) for each event; the future ends with the log."""

        async def pump() -> None:
            async for event in self.engine.follow(task_id, after):
                on_event(event)

        return self.thread.schedule(pump())

    async def collect(
        self, task_id: str, on_event: Callable[[Event], None] | None = None
    ) -> list[Event]:
        """Await every event of a task (from any loop), calling ``on_event`` as they come."""
        events: list[Event] = []

        def keep(event: Event) -> None:
            events.append(event)
            if on_event is not None:
                on_event(event)

        await asyncio.wrap_future(self.watch(task_id, keep))
        return events


def default_engine() -> BackgroundEngine:
    """The process-wide background engine (created on first use, default settings)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = BackgroundEngine()
        return _default
