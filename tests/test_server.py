"""The extension's routes against a real jupyter-server (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import pickle
from pathlib import Path

import httpx
import pytest
import trimesh
import websockets
from httpx_sse import aconnect_sse

from tests.providers_for_tests import release
from vibedraw_widget.engine.tasks import TaskSpec
from vibedraw_widget.server.parsing import LARGE_BODY, parse_large_body, unpack_checked_sketch
from vibedraw_widget.sketch import validate_sketch

DATA = Path(__file__).parent / "data"

SKETCH = {
    "width": 200,
    "height": 200,
    "strokes": [{"points": [[10, 10], [100, 100], [150, 20]], "color": "#ff0000", "width": 3}],
}


async def post(api_url, auth, path, body, **kwargs):
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        return await client.post(api_url + path, json=body, **kwargs)


async def get(url, headers=None, **kwargs):
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        return await client.get(url, **kwargs)


async def start(api_url, auth, prompt="", provider="scripted", kind="3d"):
    body = {"sketch": SKETCH, "prompt": prompt, "provider": provider}
    response = await post(api_url, auth, f"queue/{kind}", body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"
    return response.json()["task_id"]


async def read_sse(api_url, auth, task_id, headers=None, params=None, stop_after=None):
    """(id, event, data) of every SSE event; ``stop_after`` drops the connection early."""
    out = []
    async with httpx.AsyncClient(headers={**auth, **(headers or {})}, timeout=30) as client:
        async with aconnect_sse(
            client, "GET", f"{api_url}subscribe/{task_id}", params=params
        ) as source:
            assert source.response.headers["cache-control"] == "no-cache"
            assert source.response.headers["x-accel-buffering"] == "no"
            async for sse in source.aiter_sse():
                if not sse.event or not sse.data:  # the leading `retry:` block
                    continue
                out.append((int(sse.id), sse.event, json.loads(sse.data)))
                if stop_after is not None and len(out) >= stop_after:
                    break
    return out


async def finished(engine, task_id):
    async for event in engine.follow(task_id):
        if event.terminal:
            return event


async def test_a_code_task_streams_start_deltas_complete_with_ids(api_url, auth):
    task_id = await start(api_url, auth, prompt="n=5")
    events = await read_sse(api_url, auth, task_id)
    assert [e[0] for e in events] == list(range(1, 8))
    assert [e[1] for e in events] == ["start"] + ["delta"] * 5 + ["complete"]
    assert events[0][2] == {"task_id": task_id, "type": "3d", "provider": "scripted"}
    complete = events[-1][2]
    assert complete["status"] == "completed"
    assert complete["content"] == "".join(e[2]["text"] for e in events if e[1] == "delta")
    assert "code" not in complete  # it would repeat content: the answer is sent once
    assert complete["usage"]["total_tokens"] == 3
    status = (await get(f"{api_url}task/{task_id}", auth)).json()
    assert status["status"] == "completed" and status["result"]["result"]["content"]


async def test_subscribing_after_the_end_replays_and_closes(api_url, auth, engine):
    task_id = await start(api_url, auth, prompt="n=2")
    await finished(engine, task_id)
    events = await read_sse(api_url, auth, task_id)
    assert [e[1] for e in events] == ["start", "delta", "delta", "complete"]
    # Resuming at or past the end (a browser reconnecting after the terminal event):
    # nothing to replay, and the stream closes instead of idling on keepalives.
    for after in ("4", "99"):
        assert await read_sse(api_url, auth, task_id, headers={"Last-Event-ID": after}) == []


@pytest.mark.parametrize("how", ["header", "query"])
async def test_resume_after_a_dropped_connection_loses_and_repeats_nothing(
    api_url, auth, engine, how
):
    task_id = await start(api_url, auth, prompt="wait n=4")
    first = await read_sse(api_url, auth, task_id, stop_after=2)
    assert [e[1] for e in first] == ["start", "delta"]
    release(task_id)
    if how == "header":
        rest = await read_sse(api_url, auth, task_id, headers={"Last-Event-ID": "2"})
    else:
        rest = await read_sse(api_url, auth, task_id, params={"last_event_id": "2"})
    ids = [e[0] for e in first + rest]
    assert ids == list(range(1, 7))
    texts = [e[2]["text"] for e in first + rest if e[1] == "delta"]
    assert texts == [f"// part {i}\n" for i in range(4)]


async def test_fifty_subscribers_each_see_every_event_once_in_order(api_url, auth, engine):
    task_id = await start(api_url, auth, prompt="wait n=100")
    readers = [asyncio.ensure_future(read_sse(api_url, auth, task_id)) for _ in range(50)]
    # Every reader is connected once the server holds 50 followers of the log.
    log = engine.store._logs[task_id]
    while log.waiting < 50:
        await asyncio.sleep(0.01)
    release(task_id)
    results = await asyncio.gather(*readers)
    for events in results:
        assert [e[0] for e in events] == list(range(1, 103))
        assert events[-1][1] == "complete"


async def test_a_reader_that_goes_away_is_released_even_on_a_quiet_task(api_url, auth, engine):
    task_id = await start(api_url, auth, provider="hanging")
    log = engine.store._logs[task_id]
    events = await read_sse(api_url, auth, task_id, stop_after=2)  # then the client hangs up
    assert [e[1] for e in events] == ["start", "delta"]
    while log.waiting:  # the server notices the closed connection by itself
        await asyncio.sleep(0.01)
    await engine.cancel(task_id)


async def test_cancel_ends_the_stream_with_cancelled(api_url, auth):
    task_id = await start(api_url, auth, provider="hanging")
    reader = asyncio.ensure_future(read_sse(api_url, auth, task_id))
    async with httpx.AsyncClient(headers=auth) as client:
        response = await client.delete(f"{api_url}task/{task_id}")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    events = await reader
    assert events[-1][1] == "cancelled"
    assert [e[1] for e in events].count("cancelled") == 1


@pytest.mark.parametrize("vibedraw_config", [{"task_timeout": 0.3, "cpu_pool": "thread"}])
async def test_a_task_over_its_timeout_ends_with_a_timeout_error(api_url, auth):
    task_id = await start(api_url, auth, provider="hanging")
    events = await read_sse(api_url, auth, task_id)
    assert events[-1][1] == "error"
    assert events[-1][2]["error_type"] == "TimeoutError"
    assert "task_timeout" in events[-1][2]["error"]


async def test_a_failing_provider_ends_only_its_own_task(api_url, auth, engine):
    healthy = await start(api_url, auth, prompt="wait n=3")
    broken = await start(api_url, auth, provider="failing")
    events = await read_sse(api_url, auth, broken)
    assert [e[1] for e in events] == ["start", "delta", "error"]
    assert events[-1][2]["error_type"] == "RuntimeError"
    assert "the provider broke" in events[-1][2]["error"]
    release(healthy)
    assert (await finished(engine, healthy)).type == "complete"


@pytest.mark.parametrize(
    "vibedraw_config",
    [{"max_concurrent_tasks": 1, "max_queued_tasks": 1, "cpu_pool": "thread"}],
)
async def test_a_full_queue_answers_429(api_url, auth, engine):
    running = await start(api_url, auth, provider="hanging")
    async for _start in engine.follow(running):
        break  # `start`: it holds the only slot now
    await start(api_url, auth, provider="hanging")  # waits in the queue
    response = await post(api_url, auth, "queue/3d", {"sketch": SKETCH, "provider": "hanging"})
    assert response.status_code == 429
    assert "max_queued_tasks" in response.json()["message"]


async def test_a_provider_without_its_configuration_answers_503(api_url, auth):
    response = await post(api_url, auth, "queue/3d", {"sketch": SKETCH, "provider": "needs-key"})
    assert response.status_code == 503
    assert "NEEDS_KEY_API_KEY" in response.json()["message"]


@pytest.mark.parametrize("vibedraw_config", [{"max_upload_bytes": 1000, "cpu_pool": "thread"}])
async def test_a_body_over_max_upload_bytes_answers_413(api_url, auth):
    big = {"sketch": SKETCH, "prompt": "x" * 2000, "provider": "scripted"}
    response = await post(api_url, auth, "queue/3d", big)
    assert response.status_code == 413
    assert "max_upload_bytes" in response.json()["message"]


# A PNG header claiming 100000 x 100000 pixels: refused before anything is decoded.
HUGE_PNG = base64.b64encode(
    b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (100_000).to_bytes(4, "big") * 2 + b"\x08\x06"
)

TRUNCATED_PNG = base64.b64encode((DATA / "blob_05.png").read_bytes()[:400])

BAD_BODIES = [
    ("queue/3d", b"not json", "body"),
    ("queue/3d", b"[1, 2]", "body"),
    ("queue/3d", b'{"prompt": "a cat"}', "sketch"),
    ("queue/3d", b'{"sketch": {"strokes": 5}}', "sketch.strokes"),
    ("queue/3d", b'{"sketch": {"strokes": [{"points": [[1, NaN]]}]}}', "body"),
    ("queue/3d", b'{"sketch": {"strokes": [{"points": [[1, 1e999]]}]}}', "sketch.strokes[0]"),
    ("queue/3d", b'{"sketch": {"strokes": [{"points": [[1, "a"]]}]}}', "sketch.strokes[0]"),
    ("queue/3d", b'{"sketch": {"strokes": [{"points": [[1, 2]], "color": "red"}]}}', "color"),
    ("queue/3d", b'{"image_base64": "%%%notbase64"}', "image_base64"),
    ("queue/3d", b'{"image_base64": "aGVsbG8gd29ybGQ="}', "image_base64"),
    ("queue/3d", b'{"image_base64": "%s"}' % HUGE_PNG, "image_base64"),
    ("queue/3d", b'{"image_base64": "%s"}' % TRUNCATED_PNG, "image_base64: a damaged PNG"),
    ("queue/3d", b'{"sketch": {}, "prompt": 7}', "prompt"),
    ("queue/3d", b'{"sketch": {"strokes": [{"points": [[1, 2]]}]}, "provider": "x"}', "provider"),
    ("queue/3d", b'{"sketch": {}}', "sketch.strokes: the sketch is empty"),
    ("queue/3d", b'{"sketch": {"strokes": [{"points": []}]}}', "sketch.strokes"),
    ("queue/3d", b'{"sketch": 5}', "sketch: expected an object"),
    pytest.param(
        "queue/3d", b"[" * 100_000 + b"]" * 100_000, "body: JSON nested too deeply", id="nested"
    ),
    ("queue/improve", b'{"sketch": {"strokes": []}}', "sketch.strokes"),
    ("trellis/task", b'{"sketch": {"strokes": []}}', "sketch.strokes"),
    ("trellis/task", b'{"input": {"image": "aGVsbG8gd29ybGQ="}}', "input.image: not a PNG"),
    ("queue/edit", b'{"scene": {"parts": [{"name": "a"}]}, "prompt": "red"}', "scene.parts[0]"),
    ("queue/3d", b'{"sketch": {}, "task_id": "../../etc"}', "task_id"),
    ("queue/3d", b'{"sketch": {}, "max_tokens": -4}', "max_tokens"),
    ("queue/edit", b'{"prompt": "make it red"}', "threejs_code"),
    ("queue/edit", b'{"threejs_code": "return 1;", "prompt": "  "}', "prompt"),
    ("queue/paint", b'{"sketch": {}}', "type"),
    ("trellis/task", b'{"task_type": "text-to-3d", "input": {}}', "got 'text-to-3d'"),
    ("trellis/task", b'{"input": {"image": "https://example.com/a.png"}}', "input.image"),
    ("trellis/task", b'{"input": {}}', "input.image"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_BODIES)
async def test_bad_input_answers_400_naming_the_field(api_url, auth, path, body, field):
    async with httpx.AsyncClient(headers=auth) as client:
        response = await client.post(api_url + path, content=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert "sketch.sketch" not in response.text and " object at 0x" not in response.text


@pytest.mark.parametrize("position", ["²", "-1", "1e3", "99999999999999999999"])
async def test_bad_resume_positions_answer_400_naming_the_field(api_url, auth, engine, position):
    task_id = await start(api_url, auth, prompt="n=1")
    await finished(engine, task_id)
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        sse = await client.get(f"{api_url}subscribe/{task_id}", params={"last_event_id": position})
        ws = await client.get(f"{api_url}trellis/task/ws/{task_id}", params={"after": position})
    assert sse.status_code == 400 and "last_event_id" in sse.json()["message"]
    assert ws.status_code == 400 and "after" in ws.text


async def test_too_many_points_answer_400(api_url, auth):
    stroke = {"points": [[1, 1]] * 25_000}
    response = await post(api_url, auth, "queue/3d", {"sketch": {"strokes": [stroke]}})
    assert response.status_code == 400
    assert "sketch.strokes[0].points" in response.json()["message"]


def scribble(points: int) -> dict:
    """A sketch of ``points`` points in strokes of 20,000, as JSON numbers with decimals."""
    strokes, left = [], points
    while left:
        n = min(left, 20_000)
        strokes.append({"points": [[i % 640 + 0.25, i % 480 + 0.5, 0.75] for i in range(n)]})
        left -= n
    return {"width": 640, "height": 480, "strokes": strokes}


@pytest.mark.parametrize("points", [100, 60_000])
async def test_a_large_sketch_is_checked_off_the_loop_and_arrives_whole(
    api_url, auth, engine, points
):
    """Over LARGE_BODY the body is parsed in the body pool and unpacked on the loop: the
    provider gets exactly the sketch ``validate_sketch`` gives for a small body."""
    sketch = scribble(points)
    body = {"sketch": sketch, "provider": "scripted"}
    assert (len(json.dumps(body)) >= LARGE_BODY) == (points > 100)
    response = await post(api_url, auth, "queue/improve", body)
    assert response.status_code == 200, response.text
    event = await finished(engine, response.json()["task_id"])
    assert event.type == "complete", event.data
    assert json.loads(json.dumps(event.data["sketch"])) == validate_sketch(sketch)


def test_an_unpacked_sketch_gives_the_collector_nothing_to_track_and_pickles_as_lists():
    body = json.dumps({"sketch": scribble(30_000), "prompt": "p"}).encode()
    rest, packed = parse_large_body(body)
    sketch = asyncio.run(unpack_checked_sketch(packed))
    expected = validate_sketch(json.loads(body)["sketch"])
    assert rest == {"prompt": "p"} and json.loads(json.dumps(sketch)) == expected
    points = [p for s in sketch["strokes"] for p in s["points"]]
    assert len(points) == 30_000
    gc.collect()  # a tuple of floats is untracked once the collector has seen it
    assert not any(gc.is_tracked(p) for p in points)
    assert pickle.loads(pickle.dumps(sketch)) == expected  # a worker gets plain lists
    stored = json.loads(json.dumps(TaskSpec("3d", sketch=sketch).to_dict()))  # a Redis store
    assert stored["sketch"] == expected


@pytest.mark.parametrize(
    "path", ["task/{id}", "subscribe/{id}", "models/{id}.glb", "task/not-a-uuid"]
)
async def test_unknown_tasks_answer_404(api_url, auth, path):
    unknown = "0b7c3f9e-4a51-4d0e-9b9e-3f2d6c1a2b3c"
    response = await get(api_url + path.format(id=unknown), auth)
    assert response.status_code == 404
    assert response.json()["message"]


async def test_unknown_routes_answer_json_404_and_still_need_credentials(api_url, auth):
    for method in ("GET", "POST", "DELETE"):
        async with httpx.AsyncClient(headers=auth, timeout=30) as client:
            response = await client.request(method, api_url + "no/such/thing")
        assert response.status_code == 404
        assert "no/such/thing" in response.json()["message"]
    assert (await get(api_url + "no/such/thing")).status_code == 403


async def test_cancelling_an_unknown_or_just_expired_task_answers_404(api_url, auth, engine):
    unknown = "0b7c3f9e-4a51-4d0e-9b9e-3f2d6c1a2b3c"
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        assert (await client.delete(f"{api_url}task/{unknown}")).status_code == 404
        task_id = await start(api_url, auth, prompt="n=1")
        await finished(engine, task_id)
        await engine.store.drop(task_id)  # what retention_seconds does, here at once
        assert (await client.delete(f"{api_url}task/{task_id}")).status_code == 404
        assert (await client.get(f"{api_url}models/{task_id}.glb")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "providers"), ("POST", "queue/3d"), ("GET", "subscribe/{id}"), ("GET", "task/{id}")],
)
async def test_requests_without_credentials_are_refused(api_url, method, path):
    some_id = "0b7c3f9e-4a51-4d0e-9b9e-3f2d6c1a2b3c"
    async with httpx.AsyncClient() as client:
        url = api_url + path.format(id=some_id)
        response = await client.request(method, url, json={"sketch": SKETCH})
    assert response.status_code == 403


async def cookie_client(api_url, token):
    """A client holding only the login cookie (and the _xsrf cookie), like a browser."""
    client = httpx.AsyncClient(timeout=30)
    root = api_url.split("vibedraw/api/")[0]
    response = await client.get(f"{root}api/status", params={"token": token})
    assert response.status_code == 200
    await client.get(f"{root}lab", params={})  # any page sets the _xsrf cookie
    return client


async def test_cookie_sessions_need_the_xsrf_token_on_writes(api_url, token):
    client = await cookie_client(api_url, token)
    try:
        body = {"sketch": SKETCH, "provider": "scripted"}
        refused = await client.post(api_url + "queue/3d", json=body)
        assert refused.status_code == 403
        assert (await client.get(api_url + "providers")).status_code == 200
        xsrf = client.cookies.get("_xsrf")
        assert xsrf
        accepted = await client.post(api_url + "queue/3d", json=body, headers={"X-XSRFToken": xsrf})
        assert accepted.status_code == 200, accepted.text
    finally:
        await client.aclose()


def ws_url(api_url, task_id, query=""):
    return f"{api_url.replace('http', 'ws', 1)}trellis/task/ws/{task_id}{query}"


async def start_model(api_url, auth, prompt=""):
    body = {
        "model": "Qubico/trellis",
        "task_type": "image-to-3d",
        "input": {"seed": 1},
        "sketch": SKETCH,
        "provider": "scripted",
        "prompt": prompt,
    }
    response = await post(api_url, auth, "trellis/task", body)
    assert response.status_code == 200, response.text
    assert response.json()["code"] == 200
    return response.json()["data"]["task_id"]


async def ws_messages(url, headers, send=None):
    out = []
    async with websockets.connect(url, additional_headers=headers) as ws:
        if send is not None:
            await ws.send(send)
        async for raw in ws:
            out.append(json.loads(raw))
    return out


async def test_the_model_socket_pushes_stages_then_the_glb_url(api_url, auth):
    task_id = await start_model(api_url, auth)
    messages = await ws_messages(ws_url(api_url, task_id), auth)
    statuses = [m["status"] for m in messages]
    assert statuses[-1] == "completed"
    assert set(statuses[:-1]) <= {"pending", "processing"}
    stages = [m.get("stage") for m in messages if m.get("stage")]
    assert stages == ["tracing", "triangulating", "inflating", "exporting"]
    assert all(m["id"] == task_id for m in messages)
    url = messages[-1]["data"]
    assert url.endswith(f"vibedraw/api/models/{task_id}.glb")
    glb = await get(url, auth)
    assert glb.headers["content-type"] == "model/gltf-binary"
    mesh = trimesh.load(trimesh.util.wrap_as_stream(glb.content), file_type="glb")
    assert mesh.bounds is not None


async def test_the_model_socket_resumes_after_an_event_id(api_url, auth, engine):
    task_id = await start_model(api_url, auth)
    await finished(engine, task_id)
    everything = await ws_messages(ws_url(api_url, task_id), auth)
    later = await ws_messages(ws_url(api_url, task_id, "?after=3"), auth)
    assert [m["event_id"] for m in later] == [
        m["event_id"] for m in everything if m["event_id"] > 3
    ]


async def test_cancel_over_the_model_socket(api_url, auth, engine):
    task_id = await start_model(api_url, auth, prompt="wait")
    messages = await ws_messages(ws_url(api_url, task_id), auth, send='{"action": "cancel"}')
    assert messages[-1]["status"] == "cancelled"
    assert (await engine.get(task_id)).status == "cancelled"


async def test_the_model_socket_refuses_unknown_tasks_and_no_credentials(api_url, auth):
    unknown = "0b7c3f9e-4a51-4d0e-9b9e-3f2d6c1a2b3c"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await ws_messages(ws_url(api_url, unknown), auth)
    assert refused.value.response.status_code == 404
    task_id = await start_model(api_url, auth)
    with pytest.raises(websockets.InvalidStatus) as anonymous:
        await ws_messages(ws_url(api_url, task_id), {})
    assert anonymous.value.response.status_code == 403


async def test_cookie_websockets_must_come_from_the_same_origin(api_url, token, auth):
    task_id = await start_model(api_url, auth)
    client = await cookie_client(api_url, token)
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    await client.aclose()
    host = api_url.split("/")[2]
    with pytest.raises(websockets.InvalidStatus) as refused:
        await ws_messages(
            ws_url(api_url, task_id), {"Cookie": cookie, "Origin": "http://evil.example"}
        )
    assert refused.value.response.status_code == 403
    same = await ws_messages(
        ws_url(api_url, task_id), {"Cookie": cookie, "Origin": f"http://{host}"}
    )
    assert same[-1]["status"] == "completed"


async def test_providers_lists_defaults_and_configuration(api_url, auth):
    providers = (await get(api_url + "providers", auth)).json()["providers"]
    by_key = {(p["kind"], p["name"]): p for p in providers}
    assert by_key[("code", "needs-key")]["configured"] is False
    assert "NEEDS_KEY_API_KEY" in by_key[("code", "needs-key")]["message"]
    assert by_key[("code", "scripted")]["configured"] is True
    assert sum(p["default"] for p in providers if p["kind"] == "model") == 1


async def test_token_and_cookie_requests_to_one_server_are_one_person(api_url, auth, token, engine):
    """jupyter-server gives every token request a fresh anonymous user: the server's own
    identity is what they share, and a cookie session of the same server shares it."""
    task_id = await start(api_url, auth, prompt="n=2")
    await finished(engine, task_id)
    again = await read_sse(api_url, auth, task_id)
    assert again[-1][1] == "complete"
    submitter = (await engine.get(task_id)).submitter
    assert submitter.startswith("server:") and token not in submitter
    client = await cookie_client(api_url, token)
    try:
        seen = await client.get(f"{api_url}task/{task_id}")
    finally:
        await client.aclose()
    assert seen.status_code == 200 and seen.json()["status"] == "completed"
