"""The Redis store and ``vibedraw worker`` against a real redis-server.

The contracts: docs/protocol.md (events, SSE) and docs/architecture.md (Scaling out).

Workers run as subprocesses, so a SIGKILL is a real crash; the ``gated`` provider parks a
task at a gate in Redis until the test opens it, so "mid-task" is a fact, not a timing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.redis_server import (
    GATE_ENV,
    PROVIDERS,
    RedisServer,
    open_gate,
    start_worker,
    stop_process,
)
from vibedraw_widget.engine import Engine, QueueFull, TaskRecord, TaskSpec, UnknownTask
from vibedraw_widget.engine.events import Event, LogClosed
from vibedraw_widget.engine.stores.redis import RedisStore, StaleAttempt
from vibedraw_widget.providers import registry
from vibedraw_widget.settings import Settings

STEP = 30.0  # seconds any one expected event may take before the test fails


@pytest.fixture
def redis_server(tmp_path):
    """A fresh redis-server (AOF on) for one test."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def gated_provider(test_providers, monkeypatch, redis_server):
    """The ``gated`` provider, registered here and gated through the test's Redis."""
    monkeypatch.setattr(registry, "BUILTIN", {**registry.BUILTIN, **PROVIDERS})
    registry.provider_classes.cache_clear()
    monkeypatch.setenv(GATE_ENV, redis_server.url)


@pytest.fixture
def workers(redis_server, tmp_path):
    """Start worker subprocesses by name; all are stopped at the end of the test."""
    started = {}

    def start(name: str, **options):
        started[name] = start_worker(
            redis_server.url, name, log_path=tmp_path / f"{name}.log", **options
        )
        return started[name]

    yield start
    for process in started.values():
        stop_process(process)


def settings(url: str, **overrides) -> Settings:
    return Settings(store_url=url, cpu_pool="thread", **overrides)


async def next_event(events: AsyncIterator[Event]) -> Event:
    return await asyncio.wait_for(events.__anext__(), STEP)


async def read_until(events: AsyncIterator[Event], stop) -> list[Event]:
    """Events from ``events`` up to and including the first one for which ``stop`` is true."""
    seen = []
    while True:
        seen.append(await next_event(events))
        if stop(seen[-1]):
            return seen


async def read_all(engine: Engine, task_id: str, after: int = 0) -> list[Event]:
    return await asyncio.wait_for(_collect(engine.follow(task_id, after)), STEP)


async def _collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


def deltas(events: list[Event]) -> list[str]:
    return [e.data["text"] for e in events if e.type == "delta"]


def is_delta(n: int):
    """Stop condition: the ``n``-th delta seen since the condition was made."""
    count = 0

    def stop(event: Event) -> bool:
        nonlocal count
        count += event.type == "delta"
        return count == n

    return stop


# -- the log -----------------------------------------------------------------------------


async def test_events_get_ids_1_2_3_and_replay_live_and_resume(redis_server):
    store = RedisStore(redis_server.url, settings(redis_server.url))
    await store.create(TaskRecord("t-1", "3d", "gated"))
    live = store.follow("t-1").__aiter__()
    first = asyncio.ensure_future(next_event(live))
    appended = [await store.append("t-1", "start", {"task_id": "t-1"})]
    for i in range(3):
        appended.append(await store.append("t-1", "delta", {"task_id": "t-1", "text": f"{i}"}))
    appended.append(await store.append("t-1", "complete", {"status": "completed"}))

    assert [e.id for e in appended] == [1, 2, 3, 4, 5]
    live_events = [await first] + [e async for e in live]
    assert [e.to_dict() for e in live_events] == [e.to_dict() for e in appended]
    resumed = [e async for e in store.follow("t-1", after=3)]
    assert [e.id for e in resumed] == [4, 5]
    with pytest.raises(LogClosed):
        await store.append("t-1", "delta", {"text": "late"})
    record = await store.get("t-1")
    assert record.status == "completed" and record.result == {"status": "completed"}
    assert record.finished is not None
    await store.close()


async def test_unknown_tasks_are_reported_not_waited_for(redis_server):
    store = RedisStore(redis_server.url)
    assert await store.get("nope") is None
    with pytest.raises(UnknownTask):
        await store.append("nope", "delta", {"text": "x"})
    with pytest.raises(UnknownTask):
        await store.update("nope", status="running")
    with pytest.raises(UnknownTask):
        await asyncio.wait_for(_collect(store.follow("nope")), STEP)
    with pytest.raises(UnknownTask):
        await store.put_glb("nope", b"glTF")
    assert await store.get_glb("nope") is None
    await store.close()


async def test_records_logs_and_glbs_expire_retention_seconds_after_their_last_write(
    redis_server,
):
    store = RedisStore(redis_server.url, settings(redis_server.url, retention_seconds=50))
    await store.create(TaskRecord("t-2", "model", "local"))
    await store.append("t-2", "start", {"task_id": "t-2"})
    await store.put_glb("t-2", b"glTF-binary")
    await store.append("t-2", "complete", {"status": "completed"})
    assert await store.get_glb("t-2") == b"glTF-binary"
    for key in store._keys("t-2"):
        assert 0 < await store.redis.ttl(key) <= 50, key
    other = RedisStore(redis_server.url)  # another process sees the same model
    assert await other.get_glb("t-2") == b"glTF-binary"
    await store.drop("t-2")
    assert await other.get("t-2") is None
    await store.close()
    await other.close()


async def test_many_readers_of_one_task_share_one_redis_read(redis_server):
    store = RedisStore(redis_server.url)
    await store.create(TaskRecord("t-3", "3d", "gated"))
    readers = [store.follow("t-3").__aiter__() for _ in range(50)]
    firsts = [asyncio.ensure_future(next_event(r)) for r in readers]
    await asyncio.sleep(0)
    for i in range(5):
        await store.append("t-3", "delta", {"text": str(i)})
    await store.append("t-3", "complete", {"status": "completed"})
    assert len(store._tails) == 1
    for reader, first in zip(readers, firsts, strict=True):
        events = [await first] + [e async for e in reader]
        assert [e.id for e in events] == [1, 2, 3, 4, 5, 6]
    assert store._tails == {}
    await store.close()


# -- queue, attempts, fencing ------------------------------------------------------------


async def test_a_full_queue_refuses_and_forgets_the_task(redis_server):
    engine = Engine(settings(redis_server.url, max_queued_tasks=2))
    assert not engine.run_tasks  # the server leaves running to the workers
    for _ in range(2):
        await engine.submit(TaskSpec("3d", provider="gated"))
    refused = TaskSpec("3d", provider="gated")
    with pytest.raises(QueueFull, match="max_queued_tasks=2"):
        await engine.submit(refused)
    with pytest.raises(UnknownTask):
        await engine.get(refused.task_id)
    await engine.close()


async def test_a_superseded_attempt_can_no_longer_write_and_its_deltas_are_not_replayed(
    redis_server,
):
    url = redis_server.url
    engine = Engine(settings(url))
    record = await engine.submit(TaskSpec("3d", provider="gated"))
    task_id = record.task_id
    first, second = RedisStore(url), RedisStore(url)

    lease = await first.claim("first", block=1, claim_after=30)
    assert lease.attempt == 1 and lease.spec.task_id == task_id
    await first.append(task_id, "start", {"task_id": task_id})
    await first.append(task_id, "delta", {"task_id": task_id, "text": "stale "})
    live = engine.follow(task_id).__aiter__()
    assert deltas(await read_until(live, is_delta(1))) == ["stale "]

    # "first" stalls; with claim_after=0 "second" takes the task over at once.
    taken = await second.claim("second", block=1, claim_after=0)
    assert taken.attempt == 2
    with pytest.raises(StaleAttempt):
        await first.append(task_id, "delta", {"task_id": task_id, "text": "zombie "})
    assert await first.heartbeat(lease) == "lost"
    await first.ack(lease)  # refused: the entry is the new owner's now
    assert (await second.redis.xpending(second.queue_key, "workers"))["pending"] == 1

    await second.append(task_id, "delta", {"task_id": task_id, "text": "fresh"})
    await second.append(task_id, "complete", {"status": "completed", "content": "fresh"})
    await second.ack(taken)
    assert await second.redis.xlen(second.queue_key) == 0

    rest = [e async for e in live]
    retry = rest[0]
    assert retry.type == "progress" and retry.data["stage"] == "retry"
    assert retry.data["attempt"] == 2
    assert deltas(rest) == ["fresh"] and [e.type for e in rest if e.terminal] == ["complete"]
    replay = await read_all(engine, task_id)
    assert deltas(replay) == ["fresh"]  # the dead attempt's text is not replayed
    assert [e.data.get("attempt") for e in replay if e.type == "delta"] == [2]
    for store in (first, second):
        await store.close()
    await engine.close()


# -- workers (subprocesses) --------------------------------------------------------------


async def test_a_worker_runs_queued_tasks_and_the_server_streams_them(redis_server, workers):
    workers("w1", concurrency=2)
    engine = Engine(settings(redis_server.url))
    records = [
        await engine.submit(TaskSpec("3d", provider="gated", prompt=f"chunks={n}"))
        for n in (2, 3, 4)
    ]
    for record, n in zip(records, (2, 3, 4), strict=True):
        events = await read_all(engine, record.task_id)
        assert [e.type for e in events] == ["start"] + ["delta"] * n + ["complete"]
        assert [e.id for e in events] == list(range(1, n + 3))
        complete = events[-1].data
        assert complete["content"] == "".join(deltas(events)) and "code" not in complete
        assert (await engine.get(record.task_id)).status == "completed"
    await engine.close()


async def test_a_task_of_a_sigkilled_worker_is_rerun_with_one_terminal_and_no_stale_text(
    redis_server, workers
):
    url = redis_server.url
    # claim_after well above any event-loop stall of a loaded machine, yet short
    processes = {name: workers(name, claim_after=2.0) for name in ("w1", "w2")}
    engine = Engine(settings(url))
    record = await engine.submit(
        TaskSpec("3d", provider="gated", prompt="chunks=4 gate=kill gate_at=2")
    )
    task_id = record.task_id
    live = engine.follow(task_id).__aiter__()
    before = await read_until(live, is_delta(2))  # parked at the gate: mid-task for sure
    owner = (await engine.store.redis.hget(engine.store._keys(task_id)[0], "owner")).decode()
    stop_process(processes[owner], kill=True)

    rerun = await read_until(live, is_delta(2))  # the survivor took it over
    retry = rerun[0]
    assert (retry.type, retry.data["stage"], retry.data["attempt"]) == ("progress", "retry", 2)
    await open_gate(url, "kill")
    after = rerun + [e async for e in live]

    assert deltas(before) == ["// part 0\n", "// part 1\n"]
    assert [e.data["attempt"] for e in after if e.type == "delta"] == [2] * 4
    complete = after[-1]
    assert [e.type for e in before + after if e.terminal] == ["complete"]
    assert complete.data["content"] == "".join(f"// part {i}\n" for i in range(4))
    assert complete.data["content"] == "".join(deltas(after))  # the reader's rule
    replay = await read_all(engine, task_id)
    assert [e.id for e in replay] == sorted({e.id for e in replay})
    assert "".join(deltas(replay)) == complete.data["content"]  # stale deltas skipped
    survivor = next(n for n in processes if n != owner)
    assert (await engine.get(task_id)).status == "completed"
    assert (await engine.store.redis.hget(engine.store._keys(task_id)[0], "owner")).decode() == (
        survivor
    )
    await engine.close()


async def test_a_server_cancels_a_task_that_a_worker_runs(redis_server, workers):
    workers("w1")
    engine = Engine(settings(redis_server.url))
    record = await engine.submit(TaskSpec("3d", provider="gated", prompt="gate=never"))
    live = engine.follow(record.task_id).__aiter__()
    await read_until(live, is_delta(1))

    cancelled = await engine.cancel(record.task_id)  # waits until the worker has ended it

    assert cancelled.status == "cancelled"
    rest = [e async for e in live]
    assert [e.type for e in rest] == ["cancelled"] and rest[0].data["attempt"] == 1
    # the worker is free again
    again = await engine.submit(TaskSpec("3d", provider="gated", prompt="chunks=1"))
    assert (await read_all(engine, again.task_id))[-1].type == "complete"
    await engine.close()


async def test_cancelling_a_task_no_worker_started_ends_it_at_once(redis_server):
    engine = Engine(settings(redis_server.url))
    record = await engine.submit(TaskSpec("3d", provider="gated"))
    assert (await engine.cancel(record.task_id)).status == "cancelled"
    assert [e.type for e in await read_all(engine, record.task_id)] == ["cancelled"]
    worker_store = RedisStore(redis_server.url)
    assert await worker_store.claim("w", block=0.1, claim_after=30) is None  # skipped, acked
    assert await worker_store.redis.xlen(worker_store.queue_key) == 0
    await worker_store.close()
    await engine.close()


async def test_a_redis_crash_mid_stream_loses_nothing_and_everyone_reconnects(
    redis_server: RedisServer, workers
):
    url = redis_server.url
    workers("w1")
    engine = Engine(settings(url))
    record = await engine.submit(
        TaskSpec("3d", provider="gated", prompt="chunks=3 gate=restart gate_at=1")
    )
    live = engine.follow(record.task_id).__aiter__()
    before = await read_until(live, is_delta(1))

    redis_server.restart(kill=True)  # SIGKILL, then start again on the same data
    await open_gate(url, "restart")
    after = [e async for e in live]

    events = before + after
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events] == ["start", "delta", "delta", "delta", "complete"]
    assert events[-1].data["content"] == "// part 0\n// part 1\n// part 2\n"
    assert [e.to_dict() for e in await read_all(engine, record.task_id)] == [
        e.to_dict() for e in events
    ]
    # the worker is still at work after the crash
    again = await engine.submit(TaskSpec("3d", provider="gated", prompt="chunks=1"))
    assert (await read_all(engine, again.task_id))[-1].type == "complete"
    await engine.close()


async def test_a_stopping_worker_hands_its_task_to_another_at_once(redis_server, workers):
    url = redis_server.url
    first = workers("w1", grace=0.1)
    engine = Engine(settings(url))
    record = await engine.submit(
        TaskSpec("3d", provider="gated", prompt="chunks=2 gate=handover gate_at=1")
    )
    live = engine.follow(record.task_id).__aiter__()
    await read_until(live, is_delta(1))
    workers("w2", claim_after=600.0)  # would never claim back: only a hand-over reaches it
    stop_process(first)  # SIGTERM: grace passes, the task goes back on the queue
    rerun = await read_until(live, is_delta(1))
    assert rerun[0].data["stage"] == "retry"
    await open_gate(url, "handover")
    rest = [e async for e in live]
    assert rest[-1].type == "complete" and rest[-1].data["attempt"] == 2
    with contextlib.suppress(Exception):
        await engine.close()
