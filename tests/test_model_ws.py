"""The ``local`` model provider end to end: ``POST trellis/task`` → the model-task
WebSocket pushes the real stages with progress, then ``completed`` with the GLB URL;
``{"action": "cancel"}`` stops the work (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import trimesh
import websockets

DATA = Path(__file__).parent / "data"
STAGES = ["tracing", "triangulating", "inflating", "exporting"]


def sample(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def many_outlines(count: int = 6) -> dict[str, Any]:
    """Circles side by side: enough work at high detail to cancel in the middle."""
    strokes = []
    for k in range(count):
        t = np.linspace(0, 2 * np.pi * 1.03, 120)
        x, y = 60 + 100 * k + 40 * np.cos(t), 240 + 40 * np.sin(t)
        strokes.append({"points": np.column_stack((x, y)).tolist(), "color": "#4060c0", "width": 3})
    return {"width": 640, "height": 480, "strokes": strokes}


async def start_local_model(api_url, auth, *, sketch=None, image=None, detail=None) -> str:
    body: dict[str, Any] = {
        "model": "Qubico/trellis",
        "task_type": "image-to-3d",
        "input": {"seed": 0, **({"image": image} if image else {})},
        "provider": "local",
    }
    if sketch is not None:
        body["sketch"] = sketch
    if detail is not None:
        body["detail"] = detail
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        response = await client.post(api_url + "trellis/task", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "pending"
    return response.json()["data"]["task_id"]


def ws_url(api_url: str, task_id: str) -> str:
    return f"{api_url.replace('http', 'ws', 1)}trellis/task/ws/{task_id}"


async def all_messages(url: str, auth: dict[str, str]) -> list[dict[str, Any]]:
    async with websockets.connect(url, additional_headers=auth) as ws:
        return [json.loads(raw) async for raw in ws]


async def fetch_glb(url: str, auth: dict[str, str]) -> trimesh.Scene:
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "model/gltf-binary"
    return trimesh.load(trimesh.util.wrap_as_stream(response.content), file_type="glb")


def check_stages(messages: list[dict[str, Any]]) -> None:
    processing = [m for m in messages if m["status"] == "processing" and m.get("stage")]
    stages = [m["stage"] for m in processing]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == STAGES
    progress = [m["progress"] for m in processing]
    assert progress == sorted(progress) and 0 <= progress[0] and progress[-1] <= 1


async def test_local_model_pushes_real_stages_then_the_glb_url(api_url, auth):
    sketch = sample("scene_house_00")
    task_id = await start_local_model(api_url, auth, sketch=sketch)
    messages = await all_messages(ws_url(api_url, task_id), auth)

    assert messages[-1]["status"] == "completed"
    assert {m["status"] for m in messages[:-1]} <= {"pending", "processing"}
    check_stages(messages)
    url = messages[-1]["data"]
    assert url.endswith(f"vibedraw/api/models/{task_id}.glb")

    # Resuming past the end: nothing more, and the socket closes (no endless wait).
    late = await asyncio.wait_for(all_messages(ws_url(api_url, task_id) + "?after=99", auth), 30)
    assert not [m for m in late if (m.get("event_id") or 0) > 99]

    scene = await fetch_glb(url, auth)
    assert sorted(scene.graph.nodes_geometry) == ["outline_0", "outline_1"]
    for mesh in scene.geometry.values():
        assert mesh.is_watertight and mesh.is_volume


async def test_local_model_traces_a_png_sent_as_the_trellis_image(api_url, auth, engine):
    png = base64.b64encode((DATA / "ellipse_04.png").read_bytes()).decode()
    task_id = await start_local_model(api_url, auth, image=f"data:image/png;base64,{png}")
    messages = await all_messages(ws_url(api_url, task_id), auth)

    assert messages[-1]["status"] == "completed", messages[-1]
    check_stages(messages)
    scene = await fetch_glb(messages[-1]["data"], auth)
    (mesh,) = scene.geometry.values()
    assert mesh.is_watertight and 2_000 <= len(mesh.faces) <= 30_000
    record = await engine.get(task_id)
    assert [p["kind"] for p in record.result["parts"]] == ["inflated"]


async def test_cancel_over_the_socket_stops_the_local_model(api_url, auth, engine):
    task_id = await start_local_model(api_url, auth, sketch=many_outlines(), detail=4.0)
    messages = []
    async with websockets.connect(ws_url(api_url, task_id), additional_headers=auth) as ws:
        async for raw in ws:
            messages.append(json.loads(raw))
            if messages[-1].get("stage") == "triangulating":
                await ws.send(json.dumps({"action": "cancel"}))
    statuses = [m["status"] for m in messages]
    assert statuses[-1] == "cancelled"
    assert "completed" not in statuses
    assert "exporting" not in {m.get("stage") for m in messages}
    assert (await engine.get(task_id)).status == "cancelled"
