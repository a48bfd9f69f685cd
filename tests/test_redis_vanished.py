"""A jupyter-server on Redis whose data vanishes under open streams (issue 16).

SSE, ``AsyncClient.events`` and the model WebSocket each follow a task, then Redis loses
it (``FLUSHALL``); every one of them must end with an ``error`` event naming the cause,
not hang. The follower's block time is cut to 0.2 s so that this takes a second.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from httpx_sse import aconnect_sse

from tests.redis_server import RedisServer
from vibedraw_widget.client import AsyncClient
from vibedraw_widget.engine.stores.redis import RedisStore

LIMIT = 30.0  # the promise: a vanished task ends every stream within 30 s
SKETCH = {"strokes": [{"points": [[10, 10], [50, 50]]}]}


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis", persist=False).start()
    yield server
    server.stop()


@pytest.fixture
def vibedraw_config(redis_server, monkeypatch):
    monkeypatch.setattr(RedisStore, "read_block", 0.2)
    return {"cpu_pool": "thread", "store_url": redis_server.url}


async def test_sse_client_and_websocket_end_with_an_error_when_redis_loses_the_task(
    api_url, auth, token, engine, redis_server
):
    client = AsyncClient(api_url.split("vibedraw/api/")[0], token)
    # No worker runs: the tasks stay pending, their streams open and quiet.
    code_task = await client.submit("3d", SKETCH, provider="scripted")
    model_task = await client.submit("model", SKETCH, provider="scripted")
    sse_events: list[tuple[str, dict]] = []

    async def raw_sse() -> None:
        http = client._http()
        async with aconnect_sse(http, "GET", f"{api_url}subscribe/{code_task}") as source:
            async for sse in source.aiter_sse():
                if sse.data:
                    sse_events.append((sse.event, json.loads(sse.data)))

    async def client_events() -> list:
        return [event async for event in client.events(code_task)]

    async def ws_updates() -> list:
        return [message async for message in client.model_updates(model_task)]

    readers = [asyncio.ensure_future(f()) for f in (raw_sse, client_events, ws_updates)]
    tails = engine.store._tails
    await asyncio.wait_for(_until(lambda: len(tails) == 2 and _readers(tails) == 3), LIMIT)

    probe = aioredis.from_url(redis_server.url)
    await probe.flushall()
    await probe.aclose()
    done, _ = await asyncio.wait(readers, timeout=LIMIT)
    assert len(done) == 3, "a stream did not end"

    assert [kind for kind, _ in sse_events] == ["error"]
    assert sse_events[0][1]["error_type"] == "TaskLost"
    events = readers[1].result()
    assert [e.type for e in events] == ["error"] and "gone from the store" in events[0].data[
        "error"
    ]
    messages = readers[2].result()
    assert messages[-1]["status"] == "failed" and messages[-1]["error_type"] == "TaskLost"
    status = await client._http().get(f"{api_url}task/{code_task}", headers=auth)
    assert status.status_code == 404
    await client.aclose()


def _readers(tails) -> int:
    return sum(tail.readers for tail in tails.values())


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.02)  # the handlers start following on their own schedule
