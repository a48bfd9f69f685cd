"""The engine on its own (no Jupyter): logs, terminal events, queueing, retention, plug-ins."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.providers_for_tests import release, tiny_glb
from tests.redis_server import wait_until
from vibedraw_widget.engine import Engine, EventLog, MemoryStore, TaskExists, TaskSpec
from vibedraw_widget.engine.events import TERMINAL, LogClosed
from vibedraw_widget.engine.pool import WORKER_NICENESS, CpuPool
from vibedraw_widget.providers import registry
from vibedraw_widget.settings import Settings

DATA = Path(__file__).parent / "data"


def spec(provider="scripted", prompt="", kind="3d"):
    return TaskSpec(kind, provider=provider, sketch={"strokes": []}, prompt=prompt)


async def events_of(engine, task_id, after=0):
    return [event async for event in engine.follow(task_id, after)]


async def test_readers_starting_anywhere_get_the_replay_then_live_events():
    log = EventLog()
    log.append("start", {})
    early = asyncio.ensure_future(_collect(log.follow(0)))
    late = asyncio.ensure_future(_collect(log.follow(1)))
    await asyncio.sleep(0)  # both readers are now parked on the log
    for i in range(3):
        log.append("delta", {"text": str(i)})
    log.append("complete", {})
    assert [e.id for e in await early] == [1, 2, 3, 4, 5]
    assert [e.id for e in await late] == [2, 3, 4, 5]
    with pytest.raises(LogClosed):
        log.append("delta", {"text": "too late"})


async def _collect(agen):
    return [item async for item in agen]


async def test_exactly_one_terminal_event_when_cancel_races_the_end():
    engine = Engine(Settings(cpu_pool="thread"))
    record = await engine.submit(spec(prompt="wait n=2"))
    release(record.task_id)
    await engine.cancel(record.task_id)  # may land before or after the provider finished
    events = await events_of(engine, record.task_id)
    assert sum(e.terminal for e in events) == 1 and events[-1].terminal
    await engine.close()


async def test_cancelling_a_queued_task_ends_it_without_running_it():
    engine = Engine(Settings(max_concurrent_tasks=1, cpu_pool="thread"))
    running = await engine.submit(spec("hanging"))
    queued = await engine.submit(spec("scripted"))
    await engine.cancel(queued.task_id)
    assert [e.type for e in await events_of(engine, queued.task_id)] == ["cancelled"]
    assert (await engine.get(running.task_id)).status == "running"
    await engine.close()
    assert (await engine.get(running.task_id)).status == "cancelled"


class CountingStore(MemoryStore):
    """Counts attempts to end each log (with Redis, each one is a round trip)."""

    def __init__(self) -> None:
        super().__init__()
        self.endings: Counter[str] = Counter()

    async def append(self, task_id, type, data):
        if type in TERMINAL:
            self.endings[task_id] += 1
        return await super().append(task_id, type, data)


async def test_a_cancel_ends_the_log_with_one_append_wherever_the_task_was():
    store = CountingStore()
    engine = Engine(Settings(max_concurrent_tasks=1, cpu_pool="thread"), store=store)
    running = await engine.submit(spec("hanging"))
    queued = await engine.submit(spec("scripted"))
    first = await anext(aiter(engine.follow(running.task_id)))
    assert first.type == "start"  # inside its provider
    await engine.cancel(queued.task_id)  # waiting for a slot
    await engine.cancel(running.task_id)
    unstarted = await engine.submit(spec("scripted"))
    await engine.cancel(unstarted.task_id)  # before its first step
    for record in (running, queued, unstarted):
        events = await events_of(engine, record.task_id)
        assert events[-1].type == "cancelled" and sum(e.terminal for e in events) == 1
        assert store.endings[record.task_id] == 1
    await engine.close()


async def test_a_second_task_with_an_id_in_use_is_refused_and_the_first_runs_once():
    store = CountingStore()
    engine = Engine(Settings(cpu_pool="thread"), store=store)
    first = await engine.submit(spec(prompt="n=1"))
    with pytest.raises(TaskExists, match="already in use"):
        await engine.submit(TaskSpec("3d", provider="scripted", task_id=first.task_id))
    events = await events_of(engine, first.task_id)
    assert [e.type for e in events] == ["start", "delta", "complete"]
    assert store.endings[first.task_id] == 1
    await engine.close()


async def test_finished_tasks_are_dropped_after_retention_seconds():
    engine = Engine(Settings(retention_seconds=0.05, cpu_pool="thread"))
    record = await engine.submit(spec())
    await events_of(engine, record.task_id)
    assert await engine.store.get(record.task_id) is not None
    while await engine.store.get(record.task_id) is not None:
        await asyncio.sleep(0.01)  # waiting for the retention timer to fire
    assert len(engine.store) == 0
    await engine.close()


async def test_beyond_max_finished_tasks_the_oldest_finished_are_dropped_at_once():
    engine = Engine(Settings(max_finished_tasks=3, cpu_pool="thread"))
    ids = []
    for _ in range(7):
        record = await engine.submit(spec(kind="model"))
        await events_of(engine, record.task_id)
        ids.append(record.task_id)
    await asyncio.sleep(0)  # the drops run as tasks of their own
    kept = [task_id for task_id in ids if await engine.store.get(task_id) is not None]
    assert kept == ids[-3:]
    assert set(engine.store._glbs) == set(ids[-3:])  # the meshes go with them
    await engine.close()


async def test_cpu_work_runs_in_another_process():
    engine = Engine(Settings(cpu_pool="process", cpu_workers=1))
    glb = await engine.cpu.run(tiny_glb, 2.0)
    pid = await engine.cpu.run(_pid)
    assert glb[:4] == b"glTF" and pid != _pid()
    # The workers yield the CPU to the server (and to everything else).
    niceness = await engine.cpu.run(os.getpriority, os.PRIO_PROCESS, 0)
    assert niceness == WORKER_NICENESS
    await engine.close()


async def test_a_late_report_of_a_broken_pool_leaves_its_successor_running():
    cpu = CpuPool(1, "thread")
    broken = cpu.executor()
    cpu.shutdown(broken)  # the first task that saw it broken replaces it
    successor = cpu.executor()
    cpu.shutdown(broken)  # a second task reports the same broken pool later
    assert cpu.executor() is successor
    assert await cpu.run(int, "7") == 7
    cpu.shutdown()


def _pid() -> int:
    import os

    return os.getpid()


def test_third_party_providers_are_found_through_the_entry_point_group(tmp_path, monkeypatch):
    info = tmp_path / "vibedraw_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vibedraw-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[vibedraw_widget.providers]\nshout = tests.providers_for_tests:ScriptedCode\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.provider_classes.cache_clear()
    assert ("code", "scripted") in registry.provider_classes()
    provider = registry.get_provider("code", "scripted", Settings())
    assert type(provider).__module__ == "tests.providers_for_tests"
    assert any(ep.name == "shout" for ep in _group())


def _group():
    from importlib.metadata import entry_points

    return entry_points(group=registry.ENTRY_POINT_GROUP)


def test_unknown_providers_are_named_with_the_known_ones():
    with pytest.raises(registry.UnknownProvider, match="known: .*local"):
        registry.get_provider("code", "nope", Settings())


async def test_the_background_engine_serves_callers_on_any_loop():
    from vibedraw_widget.engine.background import BackgroundEngine

    bg = BackgroundEngine(Settings(cpu_pool="thread"))
    record = bg.submit(spec(prompt="n=3"))
    events = await bg.collect(record.task_id)
    assert [e.type for e in events] == ["start", "delta", "delta", "delta", "complete"]
    assert sys.getrefcount(bg) > 0


def _bad_sketch() -> None:
    from vibedraw_widget.sketch import validate_sketch

    validate_sketch({"strokes": [{"points": [[0, float("nan")]]}]})


async def test_a_sketch_error_raised_in_a_pool_worker_comes_back_whole():
    from vibedraw_widget.sketch import SketchError

    engine = Engine(Settings(cpu_pool="process", cpu_workers=1))
    with pytest.raises(SketchError) as raised:
        await engine.cpu.run(_bad_sketch)
    assert raised.value.field == "strokes[0].points[0][1]"
    assert await engine.cpu.run(_pid) != _pid()  # the pool is still usable
    await engine.close()


def test_a_script_without_a_main_guard_runs_once_and_its_cpu_work_succeeds(tmp_path):
    """Pool workers do not re-run the user's ``__main__`` (multiprocessing's default)."""
    script = tmp_path / "make_mesh.py"
    runs = tmp_path / "runs.txt"
    script.write_text(
        "from pathlib import Path\n"
        "from vibedraw_widget import generate\n"
        f"with open({str(runs)!r}, 'a') as f:\n"
        "    f.write('ran\\n')\n"
        f"result = generate({str(DATA / 'ellipse_00.json')!r}, kind='model')\n"
        "print(result.status, len(result.glb or b''))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    status, size = done.stdout.split()
    assert status == "completed" and int(size) > 1000, done.stderr
    assert runs.read_text() == "ran\n"  # not once more per worker


_POOL_OWNER = """
import os, sys
from vibedraw_widget.engine.pool import CpuPool
pool = CpuPool(2, "process")
pids = {f.result() for f in [pool.executor().submit(os.getpid) for _ in range(2)]}
print(" ".join(str(pid) for pid in pool.executor()._processes), flush=True)
sys.stdin.read()  # until killed
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_workers_exit_when_their_owner_is_killed_with_sigkill(tmp_path):
    owner = subprocess.Popen(
        [sys.executable, "-c", _POOL_OWNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    try:
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        owner.kill()  # SIGKILL: no shutdown code runs in the owner
        owner.wait(timeout=30)
        wait_until(lambda: not any(_alive(pid) for pid in pids), timeout=30, what="orphans")
    finally:
        owner.kill()
        owner.wait()
