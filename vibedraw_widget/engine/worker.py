"""``vibedraw worker``: run queued tasks from a Redis store (docs/architecture.md, Scaling out).

Jupyter servers with ``c.VibeDraw.store_url = "redis://…"`` only record and queue tasks;
any number of worker processes (each running ``--concurrency`` tasks at once) take them
from the queue's consumer group and run them with the ordinary :class:`Engine`.

* **At-least-once.** A running task's queue entry is refreshed every
  ``claim_after_seconds / 3``; when a worker dies (even by SIGKILL) its entries go idle
  and, ``claim_after_seconds`` later, another worker takes them over and runs them again
  (see :mod:`vibedraw_widget.engine.stores.redis` for how readers tell attempts apart).
* **Cancel.** A server's cancel reaches the worker over a pub/sub channel (and, should
  that message be missed, through the next refresh); the task ends with ``cancelled``.
* **Shutdown.** SIGTERM / SIGINT: take no new tasks, let running ones finish for up to
  ``grace`` seconds, then hand the rest back to the queue (another worker re-runs them at
  once). A second signal hands them back immediately.
* **Redis away.** Every loop reconnects with backoff; tasks keep running, their appends
  wait for Redis (up to the store's ``reconnect_timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Sequence

from ..providers.base import ProviderError
from ..providers.registry import provider_classes
from ..settings import Settings
from .runner import Engine
from .stores.redis import TRANSIENT, Backoff, Lease, RedisStore

log = logging.getLogger(__name__)


class Worker:
    """Takes tasks from the Redis queue and runs up to ``concurrency`` of them at once."""

    def __init__(
        self,
        store_url: str,
        concurrency: int = 1,
        settings: Settings | None = None,
        *,
        name: str | None = None,
        grace: float = 30.0,
    ) -> None:
        self.settings = settings or Settings()
        self.settings.store_url = store_url
        self.concurrency = max(1, concurrency)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.grace = grace
        self.claim_after = float(self.settings.claim_after_seconds)
        self.store = RedisStore(store_url, self.settings)
        self.engine = Engine(self.settings, store=self.store, run_tasks=False)
        self.running: dict[str, tuple[Lease, asyncio.Task[None]]] = {}
        self._stopping = asyncio.Event()
        self._now = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Worker {self.name} running={len(self.running)}/{self.concurrency}>"

    def stop(self, now: bool = False) -> None:
        """Stop taking tasks; ``now``: hand running ones back without waiting."""
        if self._stopping.is_set():
            now = True
        self._stopping.set()
        if now:
            self._now.set()

    async def run(self) -> None:
        """Work until :meth:`stop` is called."""
        # Import every provider now: a first import inside a task (anthropic, trimesh …)
        # would block this loop, and with it the heartbeats, for seconds.
        provider_classes()
        await self.store.ensure_group()
        log.info("worker %s: taking tasks from %s", self.name, self.store.url)
        helpers = [
            asyncio.create_task(self._listen_for_cancels()),
            asyncio.create_task(self._refresh_loop()),
        ]
        slots = asyncio.Semaphore(self.concurrency)
        block = min(2.0, self.claim_after / 2)
        backoff = Backoff()
        try:
            while not self._stopping.is_set():
                if not await self._until(slots.acquire(), self._stopping):
                    break
                try:
                    lease = await self.store.claim(self.name, block, self.claim_after)
                except TRANSIENT as exc:
                    slots.release()
                    log.warning("worker %s: Redis unreachable (%s); retrying", self.name, exc)
                    await backoff.wait()
                    continue
                backoff.reset()
                if lease is None:
                    slots.release()
                    continue
                task = asyncio.create_task(self._execute(lease))
                self.running[lease.task_id] = (lease, task)
                task.add_done_callback(lambda _, s=slots: s.release())
            await self._drain()
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.engine.close()

    @staticmethod
    async def _until(work: asyncio.Future | object, stop: asyncio.Event) -> bool:
        """Await ``work`` unless ``stop`` is set first; True when ``work`` finished."""
        job = asyncio.ensure_future(work)  # type: ignore[arg-type]
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({job, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if job.done():
            return True
        job.cancel()
        return False

    async def _drain(self) -> None:
        """Shutdown: give running tasks ``grace`` seconds, then hand them back."""
        tasks = [task for _, task in self.running.values()]
        if tasks:
            log.info(
                "worker %s: waiting up to %.0fs for %d tasks", self.name, self.grace, len(tasks)
            )
            waiter = asyncio.ensure_future(asyncio.wait(tasks, timeout=self.grace))
            await self._until(waiter, self._now)
        for lease, task in list(self.running.values()):
            log.info("worker %s: handing task %s back to the queue", self.name, lease.task_id)
            with contextlib.suppress(*TRANSIENT):
                await self.store.release(lease)
            task.cancel()
        await asyncio.gather(*(t for _, t in self.running.values()), return_exceptions=True)

    async def _execute(self, lease: Lease) -> None:
        """Run one task to its end, then take it off the queue (unless it was lost)."""
        task_id = lease.task_id
        log.info("worker %s: task %s attempt %d", self.name, task_id, lease.attempt)
        try:
            try:
                await self.engine.run_spec(lease.spec)
            except (LookupError, ProviderError) as exc:
                # The provider is unknown or not configured *here*: the task ends with an error.
                error_type = getattr(exc, "error_type", type(exc).__name__)
                await self.engine._finish(
                    task_id, "error", {"error": str(exc), "error_type": error_type}
                )
        except asyncio.CancelledError:
            pass  # cancel requested (the log ends with `cancelled`) or handed back (stale)
        except Exception:
            # Typically Redis away for longer than reconnect_timeout: leave the entry
            # unacknowledged so that the task is claimed back and run again.
            log.exception("worker %s: task %s broke off", self.name, task_id)
            self.store.forget(lease)
            self.running.pop(task_id, None)
            return
        try:
            if not lease.stale:
                await self.store.ack(lease)
        except TRANSIENT:
            log.exception("worker %s: could not acknowledge %s", self.name, task_id)
        finally:
            self.store.forget(lease)
            self.running.pop(task_id, None)

    async def _refresh(self) -> None:
        """One heartbeat round: keep entries fresh, act on cancel flags and lost tasks."""
        for lease, task in list(self.running.values()):
            if lease.stale or task.done():
                continue
            state = await self.store.heartbeat(lease)
            if state == "cancel":
                task.cancel()
            elif state in ("lost", "ended"):
                lease.stale = True  # another worker owns it now: stop without a word
                task.cancel()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.claim_after / 3)
            try:
                await self._refresh()
            except TRANSIENT as exc:
                log.warning("worker %s: heartbeat failed (%s)", self.name, exc)

    async def _listen_for_cancels(self) -> None:
        async for task_id in self.store.cancel_requests():
            if not task_id:  # (re)subscribed: requests may have been missed meanwhile
                with contextlib.suppress(*TRANSIENT):
                    await self._refresh()
                continue
            entry = self.running.get(task_id)
            if entry is not None and not entry[0].stale:
                log.info("worker %s: cancelling %s", self.name, task_id)
                entry[1].cancel()


async def run_worker(
    store_url: str,
    concurrency: int = 1,
    settings: Settings | None = None,
    *,
    name: str | None = None,
    grace: float = 30.0,
    handle_signals: bool = True,
) -> None:
    """Run a worker until SIGTERM / SIGINT (or until cancelled)."""
    worker = Worker(store_url, concurrency, settings, name=name, grace=grace)
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
    await worker.run()


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The ``vibedraw worker`` options (added to ``parser`` when given)."""
    parser = parser or argparse.ArgumentParser(
        prog="vibedraw worker", description="Run queued vibedraw tasks from a Redis store."
    )
    defaults = Settings()
    parser.add_argument("--store", required=True, help="redis://host:port/db (as the servers')")
    parser.add_argument("--concurrency", type=int, default=1, help="tasks run at once")
    parser.add_argument("--name", default=None, help="consumer name (default host:pid)")
    parser.add_argument(
        "--claim-after",
        type=float,
        default=defaults.claim_after_seconds,
        help="seconds after which a dead worker's task is taken over",
    )
    parser.add_argument(
        "--grace", type=float, default=30.0, help="seconds to finish tasks on SIGTERM"
    )
    parser.add_argument("--task-timeout", type=float, default=defaults.task_timeout)
    parser.add_argument(
        "--retention",
        type=float,
        default=defaults.retention_seconds,
        help="seconds a finished task is kept (use the servers' retention_seconds)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``vibedraw worker`` (``python -m vibedraw_widget.engine.worker``)."""
    return run_from_args(build_parser().parse_args(argv))


def run_from_args(args: argparse.Namespace) -> int:
    """Run a worker from parsed :func:`build_parser` options (for the ``vibedraw`` CLI)."""
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings(
        store_url=args.store,
        claim_after_seconds=args.claim_after,
        task_timeout=args.task_timeout,
        retention_seconds=args.retention,
        max_concurrent_tasks=args.concurrency,
    )
    asyncio.run(
        run_worker(args.store, args.concurrency, settings, name=args.name, grace=args.grace)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
