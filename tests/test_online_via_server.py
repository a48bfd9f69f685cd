"""The online providers end to end through the extension's routes, against local fakes of
the Anthropic Messages API and a PiAPI Trellis task API (docs/protocol.md): ``POST queue/3d``
with provider ``anthropic`` → SSE; ``POST trellis/task`` with provider ``trellis`` → the
model-task WebSocket → the GLB."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from httpx_sse import aconnect_sse

from tests.fakes.anthropic_api import ErrorReply, FakeAnthropic, StreamReply
from tests.fakes.trellis_api import FakeTrellis, Poll
from vibedraw_widget.providers.trellis import TrellisModelProvider

DATA = Path(__file__).parent / "data"
ANTHROPIC_KEY = "sk-ant-server-test-NOT-TO-LEAK"
TRELLIS_KEY = "trellis-server-test-key"
SKETCH = json.loads((DATA / "ellipse_00.json").read_text())
ANSWER = [
    "```javascript\n",
    "const ball = new THREE.Mesh(new THREE.SphereGeometry(1), ",
    "new THREE.MeshStandardMaterial({ color: 'red' }));\n",
    "return ball;\n",
    "```",
]


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(script=[StreamReply(ANSWER)], api_key=ANTHROPIC_KEY) as fake:
        yield fake


@pytest.fixture
def fake_trellis() -> Iterator[FakeTrellis]:
    with FakeTrellis(api_key=TRELLIS_KEY) as fake:
        yield fake


@pytest.fixture
def vibedraw_config(vibedraw_config, fake_anthropic, fake_trellis, monkeypatch):
    """The server sees the keys and the SDK's base URL in its environment, as in real use."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.url)
    monkeypatch.setenv("TRELLIS_API_KEY", TRELLIS_KEY)
    # Follow the remote task quickly: the backoff itself is tested in test_trellis_provider.
    monkeypatch.setattr(TrellisModelProvider, "poll_initial", 0.01)
    monkeypatch.setattr(TrellisModelProvider, "poll_max", 0.02)
    return {
        **vibedraw_config,
        "code_provider": "anthropic",
        "model_provider": "trellis",
        "anthropic_model": "claude-sonnet-4-6",
        "anthropic_max_retries": 0,
        "trellis_url": fake_trellis.task_url,
    }


async def post(
    api_url: str, auth: dict[str, str], path: str, body: dict[str, Any]
) -> httpx.Response:
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        return await client.post(api_url + path, json=body)


async def sse_events(api_url: str, auth: dict[str, str], task_id: str, on_event: Any = None):
    """(event, data) of the task's SSE stream; ``on_event`` is awaited after each one."""
    out: list[tuple[str, dict[str, Any]]] = []
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        async with aconnect_sse(client, "GET", f"{api_url}subscribe/{task_id}") as source:
            async for sse in source.aiter_sse():
                if sse.event and sse.data:
                    out.append((sse.event, json.loads(sse.data)))
                    if on_event is not None:
                        await on_event(out)
    return out


async def test_claude_deltas_stream_through_sse_and_complete_with_code(
    api_url, auth, fake_anthropic
):
    body = {"sketch": SKETCH, "prompt": "a red ball", "provider": "anthropic"}
    response = await post(api_url, auth, "queue/3d", body)
    assert response.status_code == 200, response.text
    events = await sse_events(api_url, auth, response.json()["task_id"])

    assert [e for e, _ in events] == ["start"] + ["delta"] * len(ANSWER) + ["complete"]
    assert [d["text"] for e, d in events if e == "delta"] == ANSWER
    complete = events[-1][1]
    assert complete["content"] == "".join(ANSWER)
    assert complete["code"] == "".join(ANSWER[1:4]).rstrip("\n")
    assert complete["model"] == "claude-sonnet-4-6"
    assert complete["usage"]["total_tokens"] == 100 + len(ANSWER)
    content = fake_anthropic.message_requests[0].json["messages"][0]["content"]
    assert content[0]["type"] == "image" and "a red ball" in content[1]["text"]


async def test_a_claude_failure_is_one_readable_error_event(api_url, auth, fake_anthropic):
    fake_anthropic.script = [ErrorReply.overloaded()]
    response = await post(api_url, auth, "queue/3d", {"sketch": SKETCH})  # default: anthropic
    events = await sse_events(api_url, auth, response.json()["task_id"])
    assert [e for e, _ in events] == ["start", "error"]
    error = events[-1][1]
    assert error["error_type"] == "overloaded_error" and "overloaded" in error["error"]
    assert ANTHROPIC_KEY not in json.dumps(events)


async def test_without_a_key_queueing_answers_503_saying_how_to_set_it(api_url, auth, engine):
    engine.settings.anthropic_api_key = None
    response = await post(api_url, auth, "queue/3d", {"sketch": SKETCH, "provider": "anthropic"})
    assert response.status_code == 503
    assert "ANTHROPIC_API_KEY" in response.json()["message"]


async def test_deleting_the_task_mid_stream_closes_the_request_to_claude(
    api_url, auth, fake_anthropic
):
    fake_anthropic.script = [StreamReply(ANSWER, hold_after=2)]
    response = await post(api_url, auth, "queue/3d", {"sketch": SKETCH})
    task_id = response.json()["task_id"]

    async def cancel_after_two_deltas(events: list[tuple[str, dict[str, Any]]]) -> None:
        if [e for e, _ in events].count("delta") == 2 and events[-1][0] == "delta":
            async with httpx.AsyncClient(headers=auth, timeout=30) as client:
                assert (await client.delete(f"{api_url}task/{task_id}")).status_code < 300

    events = await sse_events(api_url, auth, task_id, cancel_after_two_deltas)
    assert [e for e, _ in events] == ["start", "delta", "delta", "cancelled"]
    await fake_anthropic.wait_for(fake_anthropic.message_requests[0].disconnected.is_set)


def ws_url(api_url: str, task_id: str) -> str:
    return f"{api_url.replace('http', 'ws', 1)}trellis/task/ws/{task_id}"


async def start_trellis(api_url: str, auth: dict[str, str]) -> str:
    png = base64.b64encode((DATA / "ellipse_00.png").read_bytes()).decode()
    body = {
        "model": "Qubico/trellis",
        "task_type": "image-to-3d",
        "input": {"image": png, "seed": 7, "ss_sampling_steps": 20},
        "provider": "trellis",
    }
    response = await post(api_url, auth, "trellis/task", body)
    assert response.status_code == 200, response.text
    return response.json()["data"]["task_id"]


async def test_trellis_progress_comes_over_the_websocket_then_the_glb(api_url, auth, fake_trellis):
    fake_trellis.polls = [Poll("pending"), Poll("processing", 40), Poll("completed", 100)]
    task_id = await start_trellis(api_url, auth)
    async with websockets.connect(ws_url(api_url, task_id), additional_headers=auth) as ws:
        messages = [json.loads(raw) async for raw in ws]

    assert messages[-1]["status"] == "completed", messages[-1]
    stages = [m.get("stage") for m in messages if m["status"] == "processing" and m.get("stage")]
    assert stages == ["upload", "queued", "generating", "download"]
    progress = [m["progress"] for m in messages if m["status"] == "processing"]
    assert progress == sorted(progress)
    sent = fake_trellis.creates[0].json
    assert sent["input"]["seed"] == 7 and sent["input"]["ss_sampling_steps"] == 20
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        glb = await client.get(messages[-1]["data"])
    assert glb.status_code == 200 and glb.content == fake_trellis.glb


async def test_cancel_over_the_websocket_stops_following_the_remote_task(
    api_url, auth, fake_trellis
):
    fake_trellis.polls = [Poll("processing", 10), Poll("processing", 20, hold=True)]
    task_id = await start_trellis(api_url, auth)
    statuses = []
    async with websockets.connect(ws_url(api_url, task_id), additional_headers=auth) as ws:
        async for raw in ws:
            message = json.loads(raw)
            statuses.append(message["status"])
            if message.get("stage") == "generating":
                # Cancel while the provider's next poll is held open by the fake.
                held = await fake_trellis.wait_for(
                    lambda: fake_trellis.gets[1] if len(fake_trellis.gets) > 1 else None
                )
                await ws.send(json.dumps({"action": "cancel"}))
    assert statuses[-1] == "cancelled" and "completed" not in statuses
    await fake_trellis.wait_for(held.disconnected.is_set)
    assert fake_trellis.downloads == []
