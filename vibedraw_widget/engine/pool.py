"""The pool of worker processes that runs CPU-bound provider work off the event loop.

Workers are started with ``spawn`` (forking a process that runs tornado and threads is
unsafe), at the lowest CPU priority, and without re-running the user's ``__main__``
module: multiprocessing would otherwise import it in every worker, so a plain script
calling :func:`vibedraw_widget.generate` at top level (no ``if __name__ == "__main__"``)
would run again, side effects and all, inside each worker and fail there. The workers
only ever run functions of importable modules, so they do not need it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing.context
import multiprocessing.spawn
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CpuPool:
    """A lazily started process (or thread) pool for CPU-bound provider work."""

    def __init__(self, workers: int, kind: str = "process", lowest_priority: bool = True) -> None:
        self.workers = max(1, workers)
        self.kind = kind
        self.lowest_priority = lowest_priority
        """Run the workers at nice 19 (background work); off for work a request waits on."""
        self._pool: concurrent.futures.Executor | None = None
        self._lock = threading.Lock()

    def executor(self) -> concurrent.futures.Executor:
        with self._lock:
            if self._pool is None:
                if self.kind == "thread":
                    self._pool = concurrent.futures.ThreadPoolExecutor(self.workers)
                else:
                    self._pool = concurrent.futures.ProcessPoolExecutor(
                        self.workers,
                        mp_context=_WorkerContext(),
                        initializer=_init_worker,
                        initargs=(os.getpid(), self.lowest_priority),
                    )
            return self._pool

    def warm(self) -> None:
        """Start the workers now and import the geometry modules there, so that the first
        task does not pay for process start-up (about a second) on its first delta."""
        if self.kind == "process":
            for _ in range(self.workers):
                self.executor().submit(_import_geometry)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        pool = self.executor()
        try:
            if self.kind == "process":
                # A process pool starts its workers inside its first submit(), waiting for
                # each child to take its start-up data: seconds on a busy machine, which
                # must not be spent on the event loop.
                future = await asyncio.to_thread(pool.submit, fn, *args)
                return await asyncio.wrap_future(future)
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except concurrent.futures.BrokenExecutor:
            # A worker died (killed, out of memory): start a fresh pool for the next task.
            # Only the broken one: another caller of the same pool may already have
            # started its successor, whose work must not be cancelled.
            self.shutdown(pool)
            raise

    def shutdown(self, only: concurrent.futures.Executor | None = None) -> None:
        """Stop the pool (``only``: if it is still that one)."""
        with self._lock:
            pool = self._pool
            if pool is None or (only is not None and pool is not only):
                return
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)


WORKER_NICENESS = 19
"""Pool workers' nice value. At 19 a worker weighs about 1/70 of a normal process, so a
server woken by a request preempts it at once, yet meshing still progresses beside a
busy kernel (``SCHED_IDLE`` would stall it there). Nice 10 let a mesh batch double the
server's p99 latency on two cores."""


def _init_worker(parent: int, lowest_priority: bool) -> None:
    _die_with_parent(parent)
    if lowest_priority:
        _yield_cpu()


def _die_with_parent(parent: int) -> None:
    """End this pool worker when the process that started it dies, by any signal.

    A killed parent (``kill -9`` of a ``vibedraw worker`` or a server) cannot shut its pool
    down, and the orphans would keep their memory (~100 MB each) forever. A daemon thread
    watches the parent id and exits within a second of the parent's death.

    Not ``PR_SET_PDEATHSIG``: Linux sends it when the *thread* that spawned the worker
    ends, and workers are spawned from short-lived threads (see :meth:`CpuPool.run`); a
    worker killed that way while it holds the call queue's lock leaves the others unable
    to read their stop sentinel, and the interpreter then hangs at exit.
    """
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="vibedraw-parent-watch", daemon=True).start()


def _yield_cpu() -> None:
    """Run pool workers at the lowest priority: when cores are scarce, the process serving
    streams and the notebook UI gets the CPU first and meshing takes what is left."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, 0, WORKER_NICENESS)


def _import_geometry() -> None:
    import vibedraw_widget.local.mesh.inflate  # noqa: F401
    import vibedraw_widget.local.recognize  # noqa: F401


_starting_worker = threading.local()
_preparation_data = multiprocessing.spawn.get_preparation_data


def _worker_preparation_data(name: str) -> dict[str, Any]:
    """``spawn``'s start-up data for a new process, without the main module for ours.

    multiprocessing offers no per-process hook for this, so the function is wrapped once;
    it changes nothing for processes anyone else starts (the flag is per thread).
    """
    data = _preparation_data(name)
    if getattr(_starting_worker, "active", False):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


multiprocessing.spawn.get_preparation_data = _worker_preparation_data


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    def start(self) -> None:
        _starting_worker.active = True
        try:
            super().start()
        finally:
            _starting_worker.active = False


class _WorkerContext(multiprocessing.context.SpawnContext):
    Process = _WorkerProcess
