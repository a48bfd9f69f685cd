"""The trellis model provider against a local PiAPI-compatible fake: the task body, following
with backoff, progress, download, every failure, cancellation. No network, no sleeps:
the provider's waits are recorded instead of slept."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeHTTPServer, FakeTaskContext, RecordedRequest, Response, refused_url
from tests.fakes.trellis_api import FakeTrellis, Poll, RawReply, tiny_glb
from vibedraw_widget.providers.base import NotConfigured, Provider, ProviderError, Request
from vibedraw_widget.providers.trellis import DEFAULT_INPUT, TrellisModelProvider
from vibedraw_widget.settings import Settings
from vibedraw_widget.sketch import render_png

DATA = Path(__file__).parent / "data"
PNG = (DATA / "ellipse_00.png").read_bytes()
KEY = "trellis-test-key"


def provider(fake: FakeTrellis, **overrides: Any) -> tuple[TrellisModelProvider, list[float]]:
    """A provider pointed at ``fake`` whose waits between polls are recorded, not slept."""
    settings = {"trellis_url": fake.task_url, "trellis_api_key": KEY, **overrides}
    p = TrellisModelProvider(Settings(**settings))
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    p.sleep = no_sleep
    return p, waits


async def failure(p: TrellisModelProvider, request: Request | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await p.make_model(request or Request("model", image=PNG), FakeTaskContext())
    return info.value


# -- the happy path ---------------------------------------------------------------------
async def test_creates_the_piapi_task_follows_it_and_returns_the_glb() -> None:
    glb = tiny_glb()
    polls = [
        Poll("pending"),
        Poll("processing", 20),
        Poll("processing", 70),
        Poll("completed", 100),
    ]
    async with FakeTrellis(polls=polls, glb=glb) as fake:
        p, _ = provider(fake)
        ctx = FakeTaskContext()
        result = await p.make_model(Request("model", image=PNG), ctx)

    assert result == glb
    (create,) = fake.creates
    assert create.headers["x-api-key"] == KEY
    body = create.json
    assert body["model"] == "Qubico/trellis" and body["task_type"] == "image-to-3d"
    assert base64.b64decode(body["input"]["image"]) == PNG
    assert {k: body["input"][k] for k in DEFAULT_INPUT} == DEFAULT_INPUT
    task_id = ctx.result["remote_task_id"]
    assert [r.path for r in fake.gets] == [f"/api/v1/task/{task_id}"] * 4
    assert len(fake.downloads) == 1


async def test_remote_status_and_progress_become_monotonic_progress_events() -> None:
    polls = [
        Poll("pending"),
        Poll("processing", 20),
        Poll("processing", 20),
        Poll("processing", 70),
    ]
    async with FakeTrellis(polls=[*polls, Poll("completed", 100)]) as fake:
        p, _ = provider(fake)
        ctx = FakeTaskContext()
        await p.make_model(Request("model", image=PNG), ctx)

    stages = [stage for stage, _, _ in ctx.progress_events]
    fractions = [fraction for _, fraction, _ in ctx.progress_events]
    assert stages == ["upload", "queued", "generating", "generating", "download"]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    assert fractions[2] == pytest.approx(0.05 + 0.85 * 0.20)  # the repeated 20 % is not re-sent
    assert fractions[3] == pytest.approx(0.05 + 0.85 * 0.70)
    assert "70%" in ctx.progress_events[3][2]


async def test_a_sketch_is_rendered_and_request_options_reach_the_task() -> None:
    sketch = json.loads((DATA / "ellipse_00.json").read_text())
    sketch["texts"] = [{"x": 20, "y": 20, "text": "a red ball", "color": "#e03131"}]
    options = {"seed": 42, "ss_sampling_steps": 12, "slat_guidance_strength": 5}
    async with FakeTrellis(polls=[Poll("completed")]) as fake:
        p, _ = provider(fake)
        await p.make_model(Request("model", sketch=sketch, options=options), FakeTaskContext())
    inputs = fake.creates[0].json["input"]
    # The drawing without its labels (they would become lettering in the mesh).
    assert base64.b64decode(inputs["image"]) == render_png({**sketch, "texts": []})
    assert (inputs["seed"], inputs["ss_sampling_steps"], inputs["slat_guidance_strength"]) == (
        42,
        12,
        5.0,
    )
    assert inputs["slat_sampling_steps"] == DEFAULT_INPUT["slat_sampling_steps"]


async def test_polling_backs_off_geometrically_up_to_a_cap() -> None:
    async with FakeTrellis(polls=[Poll("processing")] * 12 + [Poll("completed")]) as fake:
        p, waits = provider(fake)
        await p.make_model(Request("model", image=PNG), FakeTaskContext())
    assert len(waits) == 13
    assert waits[0] == p.poll_initial
    assert all(b >= a for a, b in zip(waits, waits[1:], strict=False))
    assert waits[1] == pytest.approx(p.poll_initial * p.poll_factor)
    assert max(waits) == p.poll_max  # capped, and reached
    assert len(set(waits)) > 2  # not a fixed interval


async def test_the_key_is_not_sent_to_another_host_serving_the_model() -> None:
    async with FakeTrellis() as files, FakeTrellis() as api:
        api.model_file = f"{files.url}/files/elsewhere.glb"
        api.polls = [Poll("completed")]
        p, _ = provider(api)
        await p.make_model(Request("model", image=PNG), FakeTaskContext())
    (download,) = files.downloads
    assert "x-api-key" not in download.headers
    assert api.creates[0].headers["x-api-key"] == KEY


# -- failures ---------------------------------------------------------------------------
def test_missing_key_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRELLIS_API_KEY", raising=False)
    message = TrellisModelProvider(Settings()).missing_config()
    assert message is not None and "TRELLIS_API_KEY" in message
    assert TrellisModelProvider(Settings(trellis_api_key="k")).missing_config() is None


async def test_without_a_key_make_model_raises_not_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRELLIS_API_KEY", raising=False)
    with pytest.raises(NotConfigured, match="TRELLIS_API_KEY"):
        await TrellisModelProvider(Settings()).make_model(Request("model"), FakeTaskContext())


async def test_a_wrong_key_is_an_authentication_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wrong-key-SHOULD-NOT-LEAK"
    async with FakeTrellis() as fake:
        p, _ = provider(fake, trellis_api_key=secret)
        error = await failure(p)
    assert error.error_type == "authentication_error"
    assert "401" in str(error) and "TRELLIS_API_KEY" in str(error)
    assert secret not in str(error) and secret not in caplog.text
    assert fake.gets == []


async def test_a_failed_remote_task_fails_with_its_reason() -> None:
    polls = [Poll("processing", 30), Poll("failed", error="image has no foreground object")]
    async with FakeTrellis(polls=polls) as fake:
        p, _ = provider(fake)
        error = await failure(p)
    assert error.error_type == "remote_failed"
    assert "image has no foreground object" in str(error)
    assert fake.downloads == []


@pytest.mark.parametrize(
    ("reply", "error_type", "words"),
    [
        (
            RawReply(404, '{"code": 404, "data": null, "message": "task not found"}'),
            "not_found",
            "404",
        ),
        (RawReply(200, "<html>not json</html>", "text/html"), "malformed_response", "malformed"),
        (RawReply(200, '{"code": 200, "data": "nope"}'), "malformed_response", "data"),
        (
            RawReply(200, '{"code": 500, "data": {}, "message": "internal"}'),
            "remote_error",
            "internal",
        ),
    ],
)
async def test_a_bad_status_answer_fails_at_once(
    reply: RawReply, error_type: str, words: str
) -> None:
    async with FakeTrellis(polls=[Poll(reply=reply)]) as fake:
        p, _ = provider(fake)
        error = await failure(p)
    assert error.error_type == error_type
    assert words in str(error)
    assert len(fake.gets) == 1


async def test_persistent_5xx_while_following_fails_after_bounded_retries() -> None:
    reply = RawReply(502, "<html>Bad Gateway</html>", "text/html")
    async with FakeTrellis(polls=[Poll(reply=reply)]) as fake:
        p, _ = provider(fake)
        error = await failure(p)
    assert error.error_type == "server_error"
    assert "502" in str(error) and "Bad Gateway" in str(error)
    assert len(fake.gets) == p.max_poll_errors + 1


async def test_a_passing_5xx_while_following_is_ridden_out() -> None:
    polls = [Poll(reply=RawReply(503, "busy")), Poll("processing", 50), Poll("completed")]
    async with FakeTrellis(polls=polls) as fake:
        p, _ = provider(fake)
        assert await p.make_model(Request("model", image=PNG), FakeTaskContext()) == fake.glb


async def test_a_5xx_on_create_is_not_retried() -> None:
    async with FakeTrellis(create_reply=RawReply(500, '{"message": "boom"}')) as fake:
        p, _ = provider(fake)
        error = await failure(p)
    assert error.error_type == "server_error" and "boom" in str(error)
    assert len(fake.creates) == 1  # a second POST could start a second (paid) task


async def test_an_api_that_does_not_answer_times_out() -> None:
    async with FakeTrellis(hold_create=True) as fake:
        p, _ = provider(fake, trellis_timeout=0.3)
        error = await failure(p)
        await fake.wait_for(fake.creates[0].disconnected.is_set)
    assert error.error_type == "TimeoutError"
    assert "trellis_timeout" in str(error)


async def test_a_task_that_never_finishes_times_out() -> None:
    async with FakeTrellis(polls=[Poll("processing")]) as fake:
        p, _ = provider(fake, trellis_timeout=0.3)
        p.sleep = asyncio.sleep  # real waits, shortened: the deadline is what is tested
        p.poll_initial = p.poll_max = 0.05
        error = await failure(p)
    assert error.error_type == "TimeoutError"
    assert "did not finish" in str(error)


@pytest.mark.parametrize(
    ("file_reply", "words"),
    [(RawReply(404, "gone"), "HTTP 404"), (RawReply(200, b"<html>", "text/html"), "not a GLB")],
)
async def test_a_bad_model_file_is_a_download_error(file_reply: RawReply, words: str) -> None:
    async with FakeTrellis(polls=[Poll("completed")], file_reply=file_reply) as fake:
        p, _ = provider(fake)
        error = await failure(p)
    assert error.error_type == "download_error"
    assert words in str(error)


async def test_an_unreachable_api_is_a_network_error() -> None:
    with refused_url() as url:
        p = TrellisModelProvider(Settings(trellis_url=f"{url}/api/v1/task", trellis_api_key=KEY))
        error = await failure(p)
    assert error.error_type == "network_error"
    assert "could not reach Trellis" in str(error)


# -- cancellation -----------------------------------------------------------------------
async def test_cancelling_stops_following_and_closes_the_request_in_flight() -> None:
    polls = [Poll("pending"), Poll("processing", 10), Poll("processing", hold=True)]
    async with FakeTrellis(polls=polls) as fake:
        p, _ = provider(fake)
        task = asyncio.create_task(p.make_model(Request("model", image=PNG), FakeTaskContext()))
        held = await fake.wait_for(lambda: fake.gets[2] if len(fake.gets) >= 3 else None)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await fake.wait_for(held.disconnected.is_set)
        assert len(fake.gets) == 3  # nothing polled after the cancel
        assert fake.downloads == []


# -- the key stays with its origin ------------------------------------------------------
class Elsewhere(FakeHTTPServer):
    """Another origin (another port): records what arrives and answers 404."""

    async def handle(self, request: RecordedRequest, response: Response) -> None:
        await response.send_json(404, {"code": 404, "data": None, "message": "not here"})


class Redirecting(FakeTrellis):
    """A Trellis fake whose task API answers ``307`` to ``target`` + the same path."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    async def handle(self, request: RecordedRequest, response: Response) -> None:
        location = f"{self.target}{request.path}"
        await response.send(307, b"", {"location": location})


@pytest.mark.parametrize("hops", [1, 2])
async def test_a_redirect_to_another_origin_is_followed_without_the_key(hops: int) -> None:
    with Elsewhere() as other:
        target = other.url
        with Redirecting(target) as far:  # hops=2: one more origin in between
            with Redirecting(far.url if hops == 2 else target) as fake:
                p, _ = provider(fake)
                error = await failure(p)
                assert error.error_type == "not_found"
                assert fake.requests[0].headers["x-api-key"] == KEY
                arrived = [*other.requests, *(far.requests if hops == 2 else [])]
    assert arrived and all(r.path == "/api/v1/task" for r in arrived)
    for request in arrived:
        assert "x-api-key" not in request.headers
        assert KEY not in json.dumps(request.headers)
    assert KEY not in str(error)


async def test_a_redirect_within_the_origin_keeps_the_key() -> None:
    async with FakeTrellis() as fake:
        p, _ = provider(fake)
        answer = fake.handle

        async def handle(request: RecordedRequest, response: Response) -> None:
            if request.method == "POST" and not request.path.startswith("/moved/"):
                await response.send(307, b"", {"location": f"{fake.url}/moved{request.path}"})
            else:
                path = request.path.removeprefix("/moved")
                await answer(dataclasses.replace(request, path=path), response)

        fake.handle = handle
        glb = await p.make_model(Request("model", image=PNG), FakeTaskContext())
    assert glb.startswith(b"glTF")
    posts = [r for r in fake.requests if r.method == "POST"]
    assert [r.path for r in posts] == ["/api/v1/task", "/moved/api/v1/task"]
    assert all(r.headers["x-api-key"] == KEY for r in posts)


class MarkedSecret(Provider):
    """A plug-in that marks its own header secret."""

    secret_headers = frozenset({"X-Plugin-Token"})


async def test_a_plugin_header_marked_secret_stays_with_its_origin() -> None:
    with Elsewhere() as other, Redirecting(other.url) as home:
        async with MarkedSecret().http_client(home.url) as client:
            headers = {"x-plugin-token": "s3cret", "authorization": "Bearer b", "x-other": "1"}
            response = await client.get(f"{home.url}/anything", headers=headers)
    assert response.status_code == 404
    assert home.requests[0].headers["x-plugin-token"] == "s3cret"
    (arrived,) = other.requests
    assert "x-plugin-token" not in arrived.headers and "authorization" not in arrived.headers
    assert arrived.headers["x-other"] == "1"
