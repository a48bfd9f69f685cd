"""The class deployment of ``examples/jupyterhub``, for real: JupyterHub with
configurable-http-proxy, two students whose servers run the extension on one Redis, and
two ``vibedraw worker`` processes. Both students work at once, through the hub's URLs,
each with their own token.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest
import redis.asyncio as aioredis

from tests.hub_support import hub_available, start_hub
from tests.redis_server import open_gate, stop_process
from vibedraw_widget.client import VibeDrawError

pytestmark = pytest.mark.skipif(hub_available() is not None, reason=str(hub_available()))

STEP = 60.0
SKETCH = {"strokes": [{"points": [[10, 10], [50, 10], [50, 50], [10, 50], [10, 11]]}]}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    running = start_hub(tmp_path_factory.mktemp("hub"), ["alice", "bob"])
    yield running
    running.stop()


async def test_two_students_at_once_get_their_tasks_done_by_the_shared_workers(hub):
    alice, bob = hub.client("alice"), hub.client("bob")
    submitted = await asyncio.gather(
        *(
            submit
            for student in (alice, bob)
            for submit in (
                student.submit("3d", SKETCH, provider="gated", prompt="chunks=3"),
                student.submit("model", SKETCH, provider="scripted"),
            )
        )
    )
    owners = [alice, alice, bob, bob]
    ends = await asyncio.wait_for(
        asyncio.gather(*(c.wait(t) for c, t in zip(owners, submitted, strict=True))), STEP
    )
    assert [end.type for end in ends] == ["complete"] * 4
    assert ends[0].data["content"] == "".join(f"// part {i}\n" for i in range(3))
    glb = await bob.glb(submitted[3])
    assert glb[:4] == b"glTF"
    for client in (alice, bob):
        await client.aclose()


async def test_a_student_gets_404_for_another_students_task(hub):
    alice, bob = hub.client("alice"), hub.client("bob")
    task_id = await alice.submit("3d", SKETCH, provider="gated", prompt="chunks=1")
    await asyncio.wait_for(alice.wait(task_id), STEP)
    for look in (bob.status, bob.wait, bob.cancel):
        with pytest.raises(VibeDrawError) as refused:
            await asyncio.wait_for(look(task_id), STEP)
        assert refused.value.status == 404
    for client in (alice, bob):
        await client.aclose()


async def test_a_worker_killed_mid_task_loses_nothing(hub):
    alice = hub.client("alice")
    task_id = await alice.submit(
        "3d", SKETCH, provider="gated", prompt="chunks=3 gate=hub-kill gate_at=1"
    )
    seen = []
    async with aclosing(alice.events(task_id)) as events:
        async for event in events:
            seen.append(event)
            if event.type == "delta" and event.data["attempt"] == 1:
                # parked at the gate: kill whoever runs it
                probe = aioredis.from_url(hub.redis.url)
                owner = (await probe.hget(f"vibedraw:{{{task_id}}}:task", "owner")).decode()
                await probe.aclose()
                stop_process(hub.workers[owner], kill=True)
            if event.type == "delta" and event.data["attempt"] == 2:
                await open_gate(hub.redis.url, "hub-kill")  # the survivor reached the gate
    hub.start_worker(owner)  # back to two workers for whatever runs next

    assert [e.type for e in seen if e.terminal] == ["complete"]
    retry = next(e for e in seen if e.data.get("stage") == "retry")
    assert retry.data["attempt"] == 2
    text = "".join(e.data["text"] for e in seen if e.type == "delta" and e.data["attempt"] == 2)
    assert text == seen[-1].data["content"] == "".join(f"// part {i}\n" for i in range(3))
    assert (await alice.status(task_id))["status"] == "completed"
    await alice.aclose()
