"""The Python client against real servers: async twin in-process, blocking twin in a subprocess."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import trimesh

from tests.browser_support import run_lab
from tests.providers_for_tests import release
from vibedraw_widget.client import AsyncClient, Client, VibeDrawError

DATA = Path(__file__).parent / "data"
SKETCH = json.loads((DATA / "ellipse_00.json").read_text())


@pytest.fixture
def client(api_url, token):
    return AsyncClient(api_url.split("vibedraw/api/")[0], token)


class CuttingProxy:
    """A TCP proxy that counts connections and (``cut=True``) drops its first one once a
    ``delta`` event went through."""

    def __init__(self, target_port: int, cut: bool = True) -> None:
        self.target_port = target_port
        self.cut_first = cut
        self.connections = 0
        self.cut = asyncio.Event()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer) -> None:
        self.connections += 1
        number = self.connections
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src, dst, watch: bool) -> None:
            seen = b""
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
                    seen += data
                    if watch and self.cut_first and number == 1 and b"event: delta" in seen:
                        self.cut.set()
                        break
            finally:
                dst.close()
                src_writer = writer if src is reader else up_writer
                src_writer.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))


async def test_submit_and_follow_a_code_task(client):
    task_id = await client.submit("code", SKETCH, prompt="n=4", provider="scripted")
    events = [event async for event in client.events(task_id)]
    assert [e.type for e in events] == ["start"] + ["delta"] * 4 + ["complete"]
    assert (await client.status(task_id))["status"] == "completed"


async def test_events_resume_after_a_dropped_connection_with_nothing_lost(
    client, jp_http_port, jp_base_url, token
):
    proxy = CuttingProxy(jp_http_port)
    port = await proxy.start()
    via_proxy = AsyncClient(f"http://127.0.0.1:{port}{jp_base_url}", token)
    task_id = await client.submit("code", SKETCH, prompt="wait n=5", provider="scripted")
    events = []
    async for event in via_proxy.events(task_id):
        events.append(event)
        if proxy.cut.is_set() and event.type == "delta" and event.data["text"] == "// part 0\n":
            release(task_id)
    assert proxy.connections >= 2  # the stream really was cut and resumed
    assert [e.id for e in events] == list(range(1, 8))
    assert (
        "".join(e.data["text"] for e in events if e.type == "delta") == events[-1].data["content"]
    )


async def test_requests_reuse_one_keep_alive_connection(api_url, jp_http_port, jp_base_url, token):
    proxy = CuttingProxy(jp_http_port, cut=False)
    port = await proxy.start()
    async with AsyncClient(f"http://127.0.0.1:{port}{jp_base_url}", token) as via_proxy:
        for _ in range(5):
            assert await via_proxy.providers()
        task_id = await via_proxy.submit("code", SKETCH, prompt="n=1", provider="scripted")
        assert (await via_proxy.wait(task_id)).type == "complete"
        assert (await via_proxy.status(task_id))["status"] == "completed"
    assert proxy.connections == 1


async def test_follow_a_model_task_over_the_websocket_and_download_it(client):
    task_id = await client.submit("model", SKETCH, provider="scripted")
    updates = [u async for u in client.model_updates(task_id)]
    assert updates[-1]["status"] == "completed"
    glb = await client.glb(task_id)
    assert glb[:4] == b"glTF"
    assert trimesh.load(trimesh.util.wrap_as_stream(glb), file_type="glb").bounds is not None


async def test_cancel_and_errors_are_reported(client):
    task_id = await client.submit("code", SKETCH, provider="hanging")
    assert (await client.cancel(task_id))["status"] == "cancelled"
    assert (await client.wait(task_id)).type == "cancelled"
    with pytest.raises(VibeDrawError) as refused:
        await client.submit("code", SKETCH, provider="nope")
    assert refused.value.status == 400 and "provider" in refused.value.message
    with pytest.raises(VibeDrawError) as missing:
        await client.status("0b7c3f9e-4a51-4d0e-9b9e-3f2d6c1a2b3c")
    assert missing.value.status == 404
    wrong = AsyncClient(client.base_url, "not-the-token")
    task_id = await client.submit("code", SKETCH, prompt="n=1", provider="scripted")
    calls = (wrong.providers(), wrong.submit("code", SKETCH), wrong.wait(task_id))
    for call in calls:  # a GET, a POST and an SSE stream
        with pytest.raises(VibeDrawError) as refused:
            await call
        assert refused.value.status == 403 and "token" in refused.value.message
    await wrong.aclose()


def test_the_blocking_client_streams_a_local_3d_task_from_a_running_server(tmp_path):
    with run_lab(tmp_path, tmp_path / "server.log") as lab:
        client = Client(lab.url, lab.token)
        names = {(p["kind"], p["name"]) for p in client.providers()}
        assert {("code", "local"), ("model", "local")} <= names
        task_id = client.submit("3d", SKETCH, prompt="a red ball")
        events = list(client.events(task_id))
        deltas = [e for e in events if e.type == "delta"]
        assert len(deltas) >= 2  # streamed part by part
        assert events[-1].type == "complete"
        assert "THREE" in events[-1].data["content"]
        model_id = client.submit("model", SKETCH)
        assert list(client.model_updates(model_id))[-1]["status"] == "completed"
        assert client.glb(model_id)[:4] == b"glTF"
        client.close()


def test_one_reconnect_loop_resumes_after_the_last_item_and_gives_up_after_max_reconnects():
    """SSE and WebSocket share AsyncClient._resumed: a drop reconnects after the last id."""
    client = AsyncClient("http://localhost:1/", max_reconnects=2)
    asked: list[int] = []

    def connect(plan):
        async def once(last):
            asked.append(last)
            for item in plan.pop(0):
                if item is None:
                    raise httpx.ReadError("dropped")
                yield item

        return once

    async def collect(plan):
        stream = client._resumed(connect(plan), lambda i, _: i, lambda i: i == 3, after=0)
        return [item async for item in stream]

    assert asyncio.run(collect([[1, 2, None], [3, 4]])) == [1, 2, 3]
    assert asked == [0, 2]
    asked.clear()
    with pytest.raises(httpx.ReadError):
        asyncio.run(collect([[None], [None], [None]]))
    assert asked == [0, 0, 0]
