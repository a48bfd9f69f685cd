"""The engine: submit tasks, run them with bounded concurrency, follow, cancel.

Every task ends with exactly one terminal event, whatever its provider does: the
provider's outcome is turned into ``complete`` / ``error`` / ``cancelled`` in one place
(:meth:`Engine._run`). CPU-heavy provider steps go to a process pool via
``ctx.run_cpu``, so the event loop that serves streams never blocks on them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from ..providers.base import CodeProvider, ModelProvider, NotConfigured, Provider, ProviderError
from ..providers.registry import get_provider
from ..settings import Settings
from .events import FINAL_STATUS, Event, LogClosed
from .pool import CpuPool
from .stores import TaskStore, open_store
from .tasks import QueueFull, TaskRecord, TaskSpec, UnknownTask, kind_of

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Context:
    """The :class:`~vibedraw_widget.providers.base.TaskContext` the engine gives a provider."""

    def __init__(self, engine: Engine, task_id: str, loop: asyncio.AbstractEventLoop) -> None:
        self.task_id = task_id
        self.result: dict[str, Any] = {}
        self._engine = engine
        self._loop = loop
        self._pending: list[Any] = []

    def progress(self, stage: str, progress: float, message: str = "") -> None:
        data = {
            "task_id": self.task_id,
            "stage": stage,
            "progress": round(min(max(float(progress), 0.0), 1.0), 4),
            "message": message,
        }
        append = self._engine._append_quietly(self.task_id, "progress", data)
        if _on_loop(self._loop):
            self._pending.append(self._loop.create_task(append))
        else:
            self._pending.append(asyncio.run_coroutine_threadsafe(append, self._loop))

    async def drain(self) -> None:
        """Wait until every progress event reported so far is in the log."""
        pending, self._pending = self._pending, []
        for item in pending:
            await (
                asyncio.wrap_future(item) if isinstance(item, concurrent.futures.Future) else item
            )

    async def run_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._engine.cpu.run(fn, *args)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class Engine:
    """Runs tasks on the current event loop; usable in a script, a kernel or the server.

    >>> engine = Engine()                                   # doctest: +SKIP
    >>> record = await engine.submit(TaskSpec("3d", sketch=sketch))
    >>> async for event in engine.follow(record.task_id):
    ...     print(event.type, event.data)
    """

    def __init__(
        self,
        settings: Settings | None = None,
        store: TaskStore | None = None,
        run_tasks: bool | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.store = (
            store if store is not None else open_store(self.settings.store_url, self.settings)
        )
        # With a shared store, `vibedraw worker` processes run the tasks unless told otherwise.
        self.run_tasks = (not self.store.shared) if run_tasks is None else run_tasks
        self.cpu = CpuPool(self.settings.cpu_workers, self.settings.cpu_pool)
        self._slots: asyncio.Semaphore | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._waiting: set[str] = set()  # ids of tasks queued for a slot
        self._drops: dict[str, asyncio.TimerHandle] = {}

    def __repr__(self) -> str:
        return (
            f"<Engine store={self.settings.store_url} running={len(self._running)} "
            f"queued={len(self._waiting)} max_concurrent={self.settings.max_concurrent_tasks}>"
        )

    # -- public API -----------------------------------------------------------------

    def provider_for(self, spec: TaskSpec) -> Provider:
        """The provider that will serve ``spec``; raises if unknown, unsuitable or unconfigured."""
        provider = get_provider(kind_of(spec.type), spec.provider, self.settings)
        if spec.type not in provider.supports:
            raise ProviderError(
                f"provider {provider.name!r} does not support {spec.type!r} tasks", "ValueError"
            )
        missing = provider.missing_config()
        if missing:
            raise NotConfigured(missing)
        return provider

    async def submit(self, spec: TaskSpec) -> TaskRecord:
        """Record ``spec`` as a pending task and schedule it. Raises :class:`QueueFull`,
        :class:`~vibedraw_widget.providers.registry.UnknownProvider` or :class:`NotConfigured`."""
        provider = self.provider_for(spec)
        if len(self._waiting) >= self.settings.max_queued_tasks:
            raise QueueFull(
                f"{len(self._waiting)} tasks are already waiting (max_queued_tasks="
                f"{self.settings.max_queued_tasks}); try again when some finish"
            )
        record = TaskRecord(spec.task_id, spec.type, provider.name)
        await self.store.create(record)
        if self.run_tasks:
            self._waiting.add(spec.task_id)
            task = asyncio.get_running_loop().create_task(self._queued(spec, provider))
            self._running[spec.task_id] = task
        else:
            await self.store.enqueue(spec)  # type: ignore[attr-defined]
        return record

    async def get(self, task_id: str) -> TaskRecord:
        """The task's record; raises :class:`UnknownTask`."""
        record = await self.store.get(task_id)
        if record is None:
            raise UnknownTask(task_id)
        return record

    async def follow(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """Events with id > ``after``: replay, then live, ending with the terminal event."""
        await self.get(task_id)
        async for event in self.store.follow(task_id, after):
            yield event

    async def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a pending or running task (its log ends with ``cancelled``).

        Cancelling a finished task changes nothing and returns its record.
        """
        record = await self.get(task_id)
        task = self._running.pop(task_id, None)
        if task is not None:
            task.cancel()
            try:
                await asyncio.shield(task)  # it ends its own log with `cancelled`…
            except asyncio.CancelledError:
                if not task.cancelled():  # it is *our* caller being cancelled
                    raise
                # …unless it was cancelled before its first step: then nothing ran.
                self._waiting.discard(task_id)
                await self._finish(task_id, "cancelled", {})
        elif not record.done and hasattr(self.store, "request_cancel"):
            await self.store.request_cancel(task_id)
        return await self.get(task_id)

    async def glb(self, task_id: str) -> bytes | None:
        """The GLB of a finished model task, if any."""
        await self.get(task_id)
        return await self.store.get_glb(task_id)

    async def run_spec(self, spec: TaskSpec) -> None:
        """Run an already recorded task to its end here (used by ``vibedraw worker``)."""
        await self._run(spec, self.provider_for(spec))

    async def close(self) -> None:
        """Cancel running tasks (each ends with ``cancelled``) and release resources."""
        for task_id in list(self._running):
            await self.cancel(task_id)
        for handle in self._drops.values():
            handle.cancel()
        self.cpu.shutdown()
        await self.store.close()

    # -- running --------------------------------------------------------------------

    async def _queued(self, spec: TaskSpec, provider: Provider) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.max_concurrent_tasks)
        ran = False
        try:
            try:
                await self._slots.acquire()
            finally:
                self._waiting.discard(spec.task_id)
            try:
                ran = True
                await self._run(spec, provider)
            finally:
                self._slots.release()
        except asyncio.CancelledError:
            if not ran:  # cancelled while queued; once running, _run ends its own log
                await self._finish(spec.task_id, "cancelled", {})
        finally:
            self._running.pop(spec.task_id, None)

    async def _run(self, spec: TaskSpec, provider: Provider) -> None:
        """Run one task; whatever happens, exactly one terminal event is appended."""
        task_id = spec.task_id
        ctx = _Context(self, task_id, asyncio.get_running_loop())
        try:
            try:
                await self.store.update(task_id, status="running", started=time.time())
                start = {"task_id": task_id, "type": spec.type, "provider": provider.name}
                await self.store.append(task_id, "start", start)
                result = await asyncio.wait_for(
                    self._execute(spec, provider, ctx), timeout=self.settings.task_timeout
                )
            finally:
                await ctx.drain()  # progress reported before the end stays before the end
        except asyncio.CancelledError:
            await self._finish(task_id, "cancelled", {})
            raise
        except asyncio.TimeoutError:
            message = f"the task took longer than task_timeout={self.settings.task_timeout}s"
            await self._finish(task_id, "error", {"error": message, "error_type": "TimeoutError"})
        except ProviderError as exc:
            await self._finish(task_id, "error", {"error": str(exc), "error_type": exc.error_type})
        except Exception as exc:  # a provider bug ends its own task, nothing else
            log.exception("task %s failed", task_id)
            message = f"{type(exc).__name__}: {exc}"
            await self._finish(
                task_id, "error", {"error": message, "error_type": type(exc).__name__}
            )
        else:
            await self._finish(task_id, "complete", result)

    async def _execute(self, spec: TaskSpec, provider: Provider, ctx: _Context) -> dict[str, Any]:
        request = spec.request()
        if spec.type == "model":
            assert isinstance(provider, ModelProvider)
            glb = await provider.make_model(request, ctx)
            if not glb:
                raise ProviderError(f"provider {provider.name!r} returned no mesh")
            await self.store.put_glb(spec.task_id, glb)
            return {"model": provider.name, **ctx.result, "glb_size": len(glb)}
        assert isinstance(provider, CodeProvider)
        if spec.type == "improve":
            return {"model": provider.name, **ctx.result, **await provider.improve(request, ctx)}
        chunks: list[str] = []
        async for chunk in provider.stream_code(request, ctx):
            if chunk:
                await ctx.drain()  # progress reported before this chunk goes first
                chunks.append(chunk)
                await self.store.append(
                    spec.task_id, "delta", {"task_id": spec.task_id, "text": chunk}
                )
        content = "".join(chunks)
        result = {"model": provider.name, "usage": {}, **ctx.result, "content": content}
        if result.get("code") == content:
            del result["code"]  # sent once: ``code`` only where it differs from the answer
        return result

    async def _finish(self, task_id: str, event: str, data: dict[str, Any]) -> None:
        status = FINAL_STATUS[event]
        payload = {**data, "status": "error" if event == "error" else status, "task_id": task_id}
        try:
            await self.store.append(task_id, event, payload)
        except LogClosed:
            return  # the task already ended (e.g. cancelled while finishing)
        await self.store.update(task_id, status=status, finished=time.time(), result=payload)
        self._schedule_drop(task_id)

    async def _append_quietly(self, task_id: str, type: str, data: dict[str, Any]) -> None:
        """Append from a provider callback; events after the end are dropped, not raised."""
        try:
            await self.store.append(task_id, type, data)
        except (LogClosed, UnknownTask):
            pass

    def _schedule_drop(self, task_id: str) -> None:
        if self.store.shared:
            return  # a shared store expires records itself (TTL)
        loop = asyncio.get_running_loop()

        def drop() -> None:
            self._drops.pop(task_id, None)
            loop.create_task(self.store.drop(task_id))

        self._drops[task_id] = loop.call_later(self.settings.retention_seconds, drop)
