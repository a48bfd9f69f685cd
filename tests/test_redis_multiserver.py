"""Two jupyter-servers and two ``vibedraw worker`` processes on one Redis.

docs/architecture.md, Scaling out, says what this proves.

Everything runs as a real process: tasks are submitted on server A and followed on
server B over SSE and the WebSocket while a worker is SIGKILLed and Redis crashes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass

import httpx
import pytest
import redis.asyncio as aioredis
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.redis_server import (
    RedisServer,
    free_port,
    open_gate,
    start_server,
    start_worker,
    stop_process,
)

STEP = 60.0  # seconds any one expected event may take before the test fails
SKETCH = {
    "version": 1,
    "width": 64,
    "height": 64,
    "strokes": [{"points": [[10, 10, 0.5], [50, 50, 0.5]], "color": "#1e1e1e", "width": 4}],
}


@dataclass
class Cluster:
    redis: RedisServer
    servers: list[str]  # API roots of servers A and B
    token: str
    workers: dict
    tmp_path: object

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def ws(self, server: int, path: str) -> str:
        return self.servers[server].replace("http://", "ws://") + path

    async def owner(self, task_id: str) -> str:
        client = aioredis.from_url(self.redis.url)
        try:
            return (await client.hget(f"vibedraw:{{{task_id}}}:task", "owner")).decode()
        finally:
            await client.aclose()


@pytest.fixture
def cluster(tmp_path):
    redis_server = RedisServer(tmp_path / "redis").start()
    token = secrets.token_hex(16)
    processes = []
    servers = []
    workers = {}
    try:
        for name in ("w1", "w2"):
            workers[name] = start_worker(
                redis_server.url, name, claim_after=3.0, log_path=tmp_path / f"{name}.log"
            )
            processes.append(workers[name])
        for name in ("a", "b"):
            port = free_port()
            root = tmp_path / f"server-{name}"
            root.mkdir()
            processes.append(
                start_server(
                    redis_server.url, port, token, root, log_path=tmp_path / f"server-{name}.log"
                )
            )
            servers.append(f"http://127.0.0.1:{port}/vibedraw/api/")
        yield Cluster(redis_server, servers, token, workers, tmp_path)
    finally:
        for process in processes:
            stop_process(process)
        redis_server.stop()


class SSEReader:
    """Follows one task's SSE stream in the background; ``until`` waits for a condition."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self.events: list[dict] = []
        self.changed = asyncio.Condition()
        self.task = asyncio.ensure_future(self._read(client, url, headers))

    async def _read(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        async with aconnect_sse(client, "GET", url, headers=headers) as source:
            source.response.raise_for_status()
            async for sse in source.aiter_sse():
                if not sse.data:
                    continue  # the `retry:` block
                async with self.changed:
                    self.events.append({"id": int(sse.id), "type": sse.event, "data": sse.json()})
                    self.changed.notify_all()

    async def until(self, condition) -> list[dict]:
        async def wait() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: condition(self.events) or self.task.done())

        await asyncio.wait_for(wait(), STEP)
        if not condition(self.events):
            self.task.result()  # raise what ended the stream
            raise AssertionError(f"the stream ended first: {self.events}")
        return self.events

    async def finish(self) -> list[dict]:
        await asyncio.wait_for(self.task, STEP)
        return self.events


def count(kind: str, stage: str | None = None):
    return lambda events: sum(
        e["type"] == kind and (stage is None or e["data"].get("stage") == stage) for e in events
    )


def deltas_of(events: list[dict], attempt: int | None = None) -> str:
    return "".join(
        e["data"]["text"]
        for e in events
        if e["type"] == "delta" and (attempt is None or e["data"]["attempt"] == attempt)
    )


async def test_submit_on_a_follow_on_b_through_a_worker_crash_and_a_redis_crash(cluster):
    a, b = cluster.servers
    async with httpx.AsyncClient(headers=cluster.auth, timeout=STEP) as client:
        body = {"sketch": SKETCH, "provider": "gated", "prompt": "chunks=4 gate=g1 gate_at=2"}
        created = await client.post(a + "queue/3d", json=body)
        assert created.status_code == 200, created.text
        task_id = created.json()["task_id"]
        sse = SSEReader(client, f"{b}subscribe/{task_id}", cluster.auth)
        ws_messages: list[dict] = []

        async def follow_ws() -> None:
            uri = cluster.ws(1, f"trellis/task/ws/{task_id}")
            async with connect(uri, additional_headers=cluster.auth) as socket:
                async for message in socket:
                    ws_messages.append(json.loads(message))

        ws = asyncio.ensure_future(follow_ws())

        await sse.until(lambda ev: count("delta")(ev) == 2)  # parked at the gate
        owner = await cluster.owner(task_id)
        stop_process(cluster.workers[owner], kill=True)
        await sse.until(lambda ev: count("delta")(ev) == 4)  # two more, from attempt 2
        cluster.redis.restart(kill=True)
        await open_gate(cluster.redis.url, "g1")
        events = await sse.finish()
        await asyncio.wait_for(ws, STEP)

        expected = "".join(f"// part {i}\n" for i in range(4))
        ids = [e["id"] for e in events]
        assert ids == sorted(set(ids)) and ids[0] == 1
        assert [e["type"] for e in events if e["type"] in ("complete", "error", "cancelled")] == [
            "complete"
        ]
        retry = next(e for e in events if e["data"].get("stage") == "retry")
        assert retry["data"]["attempt"] == 2
        complete = events[-1]["data"]
        assert complete["content"] == expected == deltas_of(events, attempt=2)
        assert deltas_of(events, attempt=1) == "// part 0\n// part 1\n"
        assert [m["status"] for m in ws_messages][-1] == "completed"
        assert any(m.get("stage") == "retry" for m in ws_messages)

        # Resuming on A after event 3 replays the rest without the dead attempt's text.
        resumed = SSEReader(
            client, f"{a}subscribe/{task_id}", {**cluster.auth, "Last-Event-ID": "3"}
        )
        rest = await resumed.finish()
        assert rest[0]["id"] > 3 and [e["id"] for e in rest] == [
            e["id"]
            for e in events
            if e["id"] > 3 and not (e["type"] == "delta" and e["data"]["attempt"] == 1)
        ]
        assert deltas_of(rest) == expected
        status = (await client.get(f"{a}task/{task_id}")).json()
        assert status["status"] == "completed"


async def test_a_server_cancels_a_task_submitted_elsewhere_and_run_by_a_worker(cluster):
    a, b = cluster.servers
    async with httpx.AsyncClient(headers=cluster.auth, timeout=STEP) as client:
        body = {"sketch": SKETCH, "provider": "gated", "prompt": "gate=never"}
        task_id = (await client.post(a + "queue/3d", json=body)).json()["task_id"]
        sse = SSEReader(client, f"{a}subscribe/{task_id}", cluster.auth)
        await sse.until(count("delta"))

        cancelled = await client.delete(f"{b}task/{task_id}")

        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        events = await sse.finish()
        assert events[-1]["type"] == "cancelled"
        assert (await client.get(f"{a}task/{task_id}")).json()["status"] == "cancelled"


async def test_a_model_made_by_a_worker_is_served_by_every_server(cluster):
    a, b = cluster.servers
    async with httpx.AsyncClient(headers=cluster.auth, timeout=STEP) as client:
        body = {"sketch": SKETCH, "provider": "scripted", "input": {}}
        created = await client.post(a + "trellis/task", json=body)
        assert created.status_code == 200, created.text
        task_id = created.json()["data"]["task_id"]
        messages = []
        uri = cluster.ws(1, f"trellis/task/ws/{task_id}")
        async with connect(uri, additional_headers=cluster.auth) as socket:
            async for message in socket:
                messages.append(json.loads(message))
        assert messages[-1]["status"] == "completed"
        assert messages[-1]["data"].endswith(f"/vibedraw/api/models/{task_id}.glb")
        for server in (a, b):
            glb = await client.get(f"{server}models/{task_id}.glb")
            assert glb.status_code == 200 and glb.content[:4] == b"glTF"


async def test_one_task_id_sent_to_two_servers_at_once_is_created_once_and_runs_once(cluster):
    a, b = cluster.servers
    async with httpx.AsyncClient(headers=cluster.auth, timeout=STEP) as client:
        for trial in range(5):
            task_id = f"00000000-0000-4000-8000-{trial:012d}"
            body = {"sketch": SKETCH, "provider": "gated", "prompt": "chunks=1", "task_id": task_id}
            answers = await asyncio.gather(
                client.post(a + "queue/3d", json=body), client.post(b + "queue/3d", json=body)
            )
            assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
            refused = next(r for r in answers if r.status_code == 409)
            assert "already in use" in refused.json()["message"]
            events = await SSEReader(client, f"{a}subscribe/{task_id}", cluster.auth).finish()
            assert [e["type"] for e in events] == ["start", "delta", "complete"]
            assert {e["data"]["attempt"] for e in events} == {1}  # it ran once


async def test_a_server_with_another_token_on_the_same_redis_sees_none_of_its_tasks(cluster):
    """Another person's server (another token) on the shared store gets 404 on every route
    of a task, while the submitter's other server (same token) serves it."""
    a, b = cluster.servers
    port = free_port()
    root = cluster.tmp_path / "server-c"
    root.mkdir()
    other_token = secrets.token_hex(16)
    log = cluster.tmp_path / "server-c.log"
    process = start_server(cluster.redis.url, port, other_token, root, log_path=log)
    c = f"http://127.0.0.1:{port}/vibedraw/api/"
    other = {"Authorization": f"token {other_token}"}
    try:
        async with httpx.AsyncClient(headers=cluster.auth, timeout=STEP) as client:
            body = {"sketch": SKETCH, "provider": "scripted", "input": {}}
            created = await client.post(a + "trellis/task", json=body)
            task_id = created.json()["data"]["task_id"]
            uri = cluster.ws(1, f"trellis/task/ws/{task_id}")
            async with connect(uri, additional_headers=cluster.auth) as socket:
                async for _ in socket:
                    pass
            assert (await client.get(f"{b}models/{task_id}.glb")).status_code == 200
        async with httpx.AsyncClient(headers=other, timeout=STEP) as client:
            for path in (f"task/{task_id}", f"subscribe/{task_id}", f"models/{task_id}.glb"):
                answer = await client.get(c + path)
                assert answer.status_code == 404, (path, answer.text)
            assert (await client.delete(f"{c}task/{task_id}")).status_code == 404
        uri = c.replace("http://", "ws://") + f"trellis/task/ws/{task_id}"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(uri, additional_headers=other):
                pass
        assert refused.value.response.status_code == 404
    finally:
        stop_process(process)
