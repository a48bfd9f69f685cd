"""Fuzz the API: hundreds of malformed requests, generated from a fixed seed, on every route
(WebSocket upgrades included). Each must answer a 4xx whose JSON message names what was
wrong, the server must log no error or traceback, and a normal task must still complete.

Every request is malformed by construction (one field of a valid request replaced by a
value that field refuses, or a broken body, path, query or header), so the expected answer
and the field its message names are known; nothing here depends on luck.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import gc
import json
import logging
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import websockets

from tests.test_server import SKETCH, finished, read_sse, start, start_model, ws_url
from vibedraw_widget.local.recognize import recognize
from vibedraw_widget.local.scene import build_scene

SEED = 15
DATA = Path(__file__).parent / "data"
UPLOAD_LIMIT = 64 * 1024
NOT_PNG = base64.b64encode(b"hello, this is not a picture").decode()


@pytest.fixture
def vibedraw_config(vibedraw_config):
    return {**vibedraw_config, "max_upload_bytes": UPLOAD_LIMIT}


@dataclass
class Probe:
    """One malformed request and the field its answer must name."""

    method: str
    path: str  # relative to the API root, already URL-encoded
    names: str  # a word the answer's message must contain (case-insensitive)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    status: tuple[int, ...] = (400,)


def _scene() -> dict[str, Any]:
    sketch = json.loads((DATA / "scene_snowman_00.json").read_text())
    return build_scene(recognize(sketch), "a snowman")


# Invalid values per field: what each field must refuse, and the word its message names.
SKETCH_FIELDS: dict[tuple[Any, ...], tuple[str, list[Any]]] = {
    (): ("sketch", [5, "a sketch", [], True]),
    ("strokes",): ("strokes", [5, "x", {}, [5], [[]]]),
    ("strokes", 0, "points"): (
        "points",
        ["x", 5, [[1]], [[1, "a"]], [[1, 2, 3, 4]], [[1e6, 1]], [[None, 1]], [{"x": 1}]],
    ),
    ("strokes", 0, "color"): ("color", ["red", 5, "#12345", "#gggggg", None]),
    ("strokes", 0, "width"): ("width", [-1, 0, 1000, "4", [4]]),
    ("width",): ("width", [0, -5, 1e9, "640", None]),
    ("height",): ("height", [0, -5, 1e9, "480", []]),
    ("background",): ("background", ["white", 0, "#ffff"]),
    ("texts",): ("texts", [5, "label", [{"text": 5}], [{"x": 1}]]),
    ("version",): ("version", [2, "1", 0]),
}
BODY_FIELDS: dict[str, list[Any]] = {
    "prompt": [5, [], {"a": 1}, "x" * 20_001],
    "provider": [5, [], "no-such-provider", "x" * 101],
    "task_id": ["../../etc/passwd", 5, "not-a-uuid", str(uuid.uuid4()).upper() + "x"],
    "max_tokens": [-1, 0.5, "10", 10**9, True],
    "temperature": [-1, 2, "hot", [0.2]],
    "system_prompt": [5, ["x"]],
    "detail": [-1, 0, 100, "x"],
    "size": [0, -1, 1e9, "big"],
}
SCENE_FIELDS: dict[str, list[Any]] = {
    "name": [
        "a\nb",
        "x = 1; fetch('//evil')",
        "return",
        "*/ alert(1) /*",
        "</script>",
        'say"hi',
        "line\u2028sep",
        "para\u2029sep",
        5,
        None,
    ],
    "kind": ["ellipse\n}); alert(1); //", "*/", "</script>", "\u2028", 5, "circle"],
    "role": ["head\nalert(1)", "*/", "</script>", 5, "'quoted'"],
    "primitive": ["torus", 5, None, "sphere\n"],
    "color": ["red", "#abc", "0xffffff", 5, "#12345z"],
    "position": [[0, 0], [0, "1", 0], [0, 0, None], "origin", [0, 0, 1e300]],
    "rotation": [[0], [0, 0, True]],
    "scale": [[1, 1], "big"],
    "params": [{"radius": "1"}, {"radius": -1}, {"radius": 1, "x": 2}, {}, [1], None],
    "material": [{"roughness": 2}, {"shiny": True}, "metal", {"emissive": "red"}],
    "parent": ["nobody", 5, "root"],
    "shape_index": [-1, "0", 1.5],
}


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def probes(rng: random.Random) -> Iterator[Probe]:  # noqa: C901 - one table per route
    valid_3d = {"sketch": SKETCH, "prompt": "a box", "provider": "scripted"}
    valid_model = {"task_type": "image-to-3d", "input": {"seed": 1}, "sketch": SKETCH}
    valid_model["provider"] = "scripted"
    scene = _scene()
    valid_edit = {"scene": scene, "prompt": "make it red"}

    def post(path: str, body: Any, names: str, status: tuple[int, ...] = (400,)) -> Probe:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return Probe("POST", path, names, raw, status=status)

    # Bodies: one field of a valid request replaced by a value it must refuse.
    for route, valid in (("queue/3d", valid_3d), ("queue/improve", valid_3d)):
        for path, (word, values) in SKETCH_FIELDS.items():
            for value in values:
                yield post(route, {**valid, "sketch": _set(SKETCH, path, value)}, word)
        for key, values in BODY_FIELDS.items():
            for value in values:
                yield post(route, {**valid, key: value}, key)
        yield post(route, {**valid, "image_base64": NOT_PNG, "sketch": None}, "image_base64")
        yield post(route, {**valid, "image_base64": 5, "sketch": None}, "image_base64")
        yield post(route, {**valid, "sketch": {"strokes": []}}, "sketch")
    for path, (word, values) in SKETCH_FIELDS.items():
        for value in values:
            yield post("trellis/task", {**valid_model, "sketch": _set(SKETCH, path, value)}, word)
    for key, value in (
        ("task_type", "text-to-3d"),
        ("input", "an image"),
        ("input", {"image": "https://example.com/a.png"}),
        ("input", {"image": NOT_PNG}),
        ("input", {"image": 5}),
        ("input", {"seed": -1}),
        ("input", {"ss_sampling_steps": 0.5}),
        ("input", {"slat_guidance_strength": "high"}),
        ("prompt", 5),
        ("provider", "no-such-model-provider"),
    ):
        word = "input" if key == "input" else key
        expected = "task_type" if key == "task_type" else word
        yield post("trellis/task", {**valid_model, key: value}, expected)
    for index in range(len(scene["parts"])):
        for key, values in SCENE_FIELDS.items():
            for value in values:
                broken = copy.deepcopy(scene)
                broken["parts"][index][key] = value
                yield post("queue/edit", {**valid_edit, "scene": broken}, f"parts[{index}]")
    for value in (5, [], {"parts": 5}, {"parts": [5]}, {"parts": [], "version": 2}):
        yield post("queue/edit", {**valid_edit, "scene": value}, "scene")
    for key, value in (("title", 5), ("object", ["x"]), ("transform", {"position": [0]})):
        yield post("queue/edit", {**valid_edit, "scene": {**scene, key: value}}, key)
    yield post("queue/edit", {"prompt": "make it red"}, "threejs_code")
    yield post("queue/edit", {"threejs_code": 5, "prompt": "x"}, "threejs_code")
    yield post("queue/edit", {**valid_edit, "prompt": "  "}, "prompt")
    yield post("queue/edit", {**valid_edit, "error": 5}, "error")
    # Bodies that are not a JSON object at all.
    routes = ["queue/3d", "queue/edit", "queue/improve", "trellis/task"]
    broken_bodies = [
        b"",
        b"   ",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"42",
        b"null",
        b'{"sketch": NaN}',
        b'{"prompt": Infinity}',
        b"\xff\xfe\x00{",
        b'{"a": 1',
        json.dumps(valid_3d).encode()[:-7],
        b"[" * 3000 + b"]" * 3000,
        b'{"sketch":' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}",
    ]
    for route in routes:
        for raw in broken_bodies:
            yield post(route, raw, "body")
        yield post(route, bytes(rng.randrange(256) for _ in range(64)), "body")
        yield post(route, b" " * (UPLOAD_LIMIT + 1), "max_upload_bytes", status=(413,))
    for _ in range(8):
        yield post(f"queue/{quote(_junk(rng), safe='')}", valid_3d, "type")
    # Task ids in paths: undecodable bytes, junk, ids that are not anyone's.
    ids = [
        "%ff%fe",
        "%c3%28",
        "%00",
        "..%2f..%2fetc",
        "x" * 1000,
        quote("\u2028"),
        str(uuid.uuid4()),
        str(uuid.uuid4()).upper(),
        str(uuid.uuid4())[:-1] + "g",
        "%20",
    ] + [quote(_junk(rng)) for _ in range(12)]
    for task_id in ids:
        undecodable = task_id in ("%ff%fe", "%c3%28")
        status = (400,) if undecodable else (404,)
        yield Probe("GET", f"task/{task_id}", "task", status=status)
        yield Probe("DELETE", f"task/{task_id}", "task", status=status)
        yield Probe("GET", f"subscribe/{task_id}", "task", status=status)
        yield Probe("GET", f"models/{task_id}.glb", "task", status=status)
        yield Probe("GET", f"trellis/task/ws/{task_id}", "task", headers=UPGRADE, status=status)
    # Unknown routes.
    for _ in range(12):
        method = rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE"])
        path = "/".join(quote(_junk(rng)) for _ in range(rng.randint(1, 3)))
        yield Probe(method, f"nothing-{path}", "route", status=(404,))


OWN_TASK = "{own}"  # replaced by a real task id of the test's own


def own_task_probes(rng: random.Random) -> Iterator[Probe]:
    """Malformed queries, headers and handshakes on a task that exists."""
    positions = ["-1", "1e3", "²", "99999999999999999999", "abc", "1.5", "0x10"]
    positions += ["x" + _junk(rng) for _ in range(6)]
    for raw in positions:
        yield Probe("GET", f"subscribe/{OWN_TASK}", "last_event_id", params={"last_event_id": raw})
        header = "".join(c for c in raw if c.isprintable() and c != "\u2028").strip()
        yield Probe(
            "GET", f"subscribe/{OWN_TASK}", "last_event_id", headers={"Last-Event-ID": header}
        )
        yield Probe(
            "GET", f"trellis/task/ws/{OWN_TASK}", "after", headers=UPGRADE, params={"after": raw}
        )
    handshakes = [
        ({}, "Upgrade"),
        ({**UPGRADE, "Upgrade": "h2c"}, "Upgrade"),
        ({**UPGRADE, "Connection": "keep-alive"}, "Connection"),
        ({**UPGRADE, "Sec-WebSocket-Version": "99"}, "Sec-WebSocket-Version"),
        ({k: v for k, v in UPGRADE.items() if k != "Sec-WebSocket-Key"}, "Sec-WebSocket-Key"),
    ]
    for headers, word in handshakes:
        status = (426,) if word == "Sec-WebSocket-Version" else (400,)
        yield Probe("GET", f"trellis/task/ws/{OWN_TASK}", word, headers=headers, status=status)


UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
}


def _junk(rng: random.Random) -> str:
    alphabet = "abcXYZ019-_.~!$&'()*+,;=:@ é\u2028\x00\x7f"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))


async def test_malformed_requests_get_a_4xx_naming_the_field_and_no_errors_logged(
    api_url, auth, engine, caplog, jp_serverapp
):
    caplog.set_level(logging.WARNING)
    # The extension's own logger does not propagate to the root logger caplog watches.
    for app in jp_serverapp.extension_manager.extension_apps["vibedraw_widget"]:
        app.log.addHandler(caplog.handler)
    rng = random.Random(SEED)
    own = await start_model(api_url, auth)
    await finished(engine, own)
    generated = list(probes(rng)) + list(own_task_probes(rng))
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(headers=auth, timeout=60) as client:
        for probe in generated:
            url = api_url + probe.path.replace(OWN_TASK, own)
            response = await client.request(
                probe.method,
                url,
                content=probe.body,
                headers={k: v.encode() for k, v in probe.headers.items()},  # any bytes
                params=probe.params,
            )
            statuses[response.status_code] += 1
            where = f"{probe.method} {probe.path} {probe.params} {(probe.body or b'')[:120]!r}"
            assert response.status_code in probe.status, f"{where}: {response.text[:300]}"
            assert response.headers["content-type"].startswith("application/json"), where
            message = response.json()["message"]
            assert probe.names.lower() in message.lower(), f"{where}: {message!r}"
            assert "Traceback" not in message and " object at 0x" not in message, where
    # Real WebSocket clients: refused upgrades, and clients that vanish mid-stream.
    for task_id in ("%ff%fe", str(uuid.uuid4()), "x" * 300):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws_url(api_url, task_id), additional_headers=auth):
                pass
        assert refused.value.response.status_code in (400, 404)
        assert "task" in json.loads(refused.value.response.body)["message"]
        statuses[refused.value.response.status_code] += 1
    await _abrupt_disconnects(api_url, auth, engine)
    total = sum(statuses.values())
    print(
        f"\nfuzz: {total} malformed requests, answers by status: {dict(sorted(statuses.items()))}"
    )
    assert total >= 500
    # Afterwards the server still does its job.
    task_id = await start(api_url, auth, prompt="n=3")
    events = await read_sse(api_url, auth, task_id)
    assert [e[1] for e in events] == ["start", "delta", "delta", "delta", "complete"]
    gc.collect()  # an un-awaited send's failure is reported when its task is collected
    await asyncio.sleep(0.05)
    problems = [
        f"{r.name} {r.levelname}: {r.getMessage()[:300]}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()
    ]
    assert not problems, "\n".join(problems[:20])
    assert any(r.getMessage().startswith("400 ") for r in caplog.records)  # log captured


async def _abrupt_disconnects(api_url, auth, engine) -> None:
    """Sockets that drop their TCP connection while status messages are being pushed, and
    one that closes properly: that close carries a code and a reason (not 1005)."""
    for _ in range(3):
        task_id = await start_model(api_url, auth, prompt="wait")
        ws = await websockets.connect(ws_url(api_url, task_id), additional_headers=auth)
        await ws.recv()
        ws.transport.abort()  # no closing handshake: the server finds out on its next send
        await engine.cancel(task_id)
    task_id = await start_model(api_url, auth)
    async with websockets.connect(ws_url(api_url, task_id), additional_headers=auth) as ws:
        async for _ in ws:
            pass
    assert ws.close_code == 1000 and ws.close_reason == "the task ended"
    async with websockets.connect(ws_url(api_url, task_id), additional_headers=auth) as ws:
        await ws.send("close")
        with pytest.raises(websockets.ConnectionClosedOK):
            while True:
                await ws.recv()
    assert ws.close_code == 1000 and "request" in ws.close_reason
