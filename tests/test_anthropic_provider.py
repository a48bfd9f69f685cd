"""The anthropic code provider against a local fake of the Messages API (real SDK, real
wire format, no network): request shape, streaming, continuation, errors, cancel."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeTaskContext, refused_url
from tests.fakes.anthropic_api import ErrorReply, FakeAnthropic, StreamReply
from vibedraw_widget.providers.anthropic import (
    CONTINUE_PROMPT,
    AnthropicCodeProvider,
    fit_image,
    sdk_takes_temperature,
)
from vibedraw_widget.providers.base import NotConfigured, ProviderError, Request
from vibedraw_widget.providers.codeblocks import extract_code, find_blocks
from vibedraw_widget.settings import Settings

KEY = "sk-ant-test-DO-NOT-LEAK-0123456789"
MODEL = "claude-sonnet-4-6"
DATA = Path(__file__).parent / "data"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

ANSWER = [
    "Here is the object.\n\n",
    "```javascript\n",
    "const geometry = new THREE.SphereGeometry(1, 32, 16);\n",
    "const material = new THREE.MeshStandardMaterial({ color: 'red' });\n",
    "return new THREE.Mesh(geometry, material);\n",
    "```\n",
]
CODE = "".join(ANSWER[2:5]).rstrip("\n")


def sketch() -> dict[str, Any]:
    data = json.loads((DATA / "ellipse_00.json").read_text())
    data["texts"] = [{"x": 10, "y": 20, "text": "a red apple"}]
    return data


def provider(fake: FakeAnthropic | None = None, **overrides: Any) -> AnthropicCodeProvider:
    settings = {
        "anthropic_api_key": KEY,
        "anthropic_base_url": fake.url if fake else None,
        "anthropic_max_retries": 2,
        "anthropic_model": MODEL,
        **overrides,
    }
    return AnthropicCodeProvider(Settings(**settings))


async def collect(p: AnthropicCodeProvider, request: Request, ctx: FakeTaskContext) -> list[str]:
    return [chunk async for chunk in p.stream_code(request, ctx)]


async def failure(p: AnthropicCodeProvider, request: Request) -> tuple[ProviderError, list[str]]:
    chunks: list[str] = []
    with pytest.raises(ProviderError) as info:
        async for chunk in p.stream_code(request, FakeTaskContext()):
            chunks.append(chunk)
    return info.value, chunks


# -- the request ------------------------------------------------------------------------
async def test_request_carries_the_png_image_block_the_texts_and_the_contract() -> None:
    async with FakeAnthropic(script=[StreamReply(ANSWER)], api_key=KEY) as fake:
        request = Request("3d", sketch=sketch(), prompt="make it shiny")
        await collect(provider(fake), request, FakeTaskContext())

    (sent,) = fake.message_requests
    body = sent.json
    assert body["stream"] is True
    assert body["model"] == MODEL
    assert body["max_tokens"] == Settings().max_tokens
    # SDK 2.x (API 2026-10-21) refuses sampling parameters: temperature is sent only
    # through an older SDK that still takes it.
    if sdk_takes_temperature():
        assert body["temperature"] == Settings().temperature
    else:
        assert "temperature" not in body
    for clause in ("async function build(THREE, ctx)", "return", "Object3D", "No imports"):
        assert clause in body["system"]
    (turn,) = body["messages"]
    assert turn["role"] == "user"
    image, text = turn["content"]
    assert image["type"] == "image"
    assert image["source"]["type"] == "base64"
    assert image["source"]["media_type"] == "image/png"
    assert base64.b64decode(image["source"]["data"]).startswith(PNG_MAGIC)
    assert text["type"] == "text"
    assert "make it shiny" in text["text"]
    assert "a red apple" in text["text"]


async def test_options_override_max_tokens_temperature_and_extend_the_system_prompt() -> None:
    async with FakeAnthropic(script=[StreamReply(ANSWER)]) as fake:
        options = {"max_tokens": 1234, "temperature": 0.7, "system_prompt": "Use only blue."}
        request = Request("3d", image=(DATA / "ellipse_00.png").read_bytes(), options=options)
        await collect(provider(fake), request, FakeTaskContext())

    body = fake.message_requests[0].json
    assert body["max_tokens"] == 1234
    assert body.get("temperature", 0.7) == 0.7
    assert body["system"].endswith("Use only blue.")
    assert "async function build(THREE, ctx)" in body["system"]  # the contract stays


async def test_the_sdks_ANTHROPIC_BASE_URL_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeAnthropic(script=[StreamReply(ANSWER)]) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        p = AnthropicCodeProvider(Settings(anthropic_api_key=KEY, anthropic_model=MODEL))
        chunks = await collect(p, Request("3d", sketch=sketch()), FakeTaskContext())
    assert chunks == ANSWER
    assert len(fake.message_requests) == 1


def test_large_images_are_scaled_down_before_upload() -> None:
    from PIL import Image

    big = Image.new("RGB", (4000, 1000), "white")
    buffer = __import__("io").BytesIO()
    big.save(buffer, format="PNG")
    with Image.open(__import__("io").BytesIO(fit_image(buffer.getvalue(), 1568))) as small:
        assert small.size == (1568, 392)
    png = (DATA / "ellipse_00.png").read_bytes()
    assert fit_image(png, 1568) is png


# -- streaming and the complete fields --------------------------------------------------
async def test_every_delta_is_yielded_on_its_own_in_order() -> None:
    deltas = [f"line {i};\n" for i in range(60)]
    async with FakeAnthropic(script=[StreamReply(deltas)]) as fake:
        chunks = await collect(provider(fake), Request("3d", sketch=sketch()), FakeTaskContext())
    assert chunks == deltas


async def test_deltas_are_forwarded_while_the_answer_is_still_being_written() -> None:
    # The fake holds the stream after two deltas: both must come out before it goes on.
    async with FakeAnthropic(script=[StreamReply(ANSWER, hold_after=2)]) as fake:
        stream = provider(fake).stream_code(Request("3d", sketch=sketch()), FakeTaskContext())
        first = [await anext(stream), await anext(stream)]
        assert first == ANSWER[:2]
        assert fake.replies_sent == 1 and not fake.message_requests[0].disconnected.is_set()
        fake.release()
        rest = [chunk async for chunk in stream]
    assert first + rest == ANSWER


async def test_complete_fields_carry_the_fenced_code_model_usage_and_stop_reason() -> None:
    reply = StreamReply(ANSWER, input_tokens=1500, output_tokens=80, model="claude-test-1")
    async with FakeAnthropic(script=[reply]) as fake:
        ctx = FakeTaskContext()
        chunks = await collect(provider(fake), Request("3d", sketch=sketch()), ctx)
    assert "".join(chunks) == "".join(ANSWER)
    assert ctx.result["code"] == CODE
    assert ctx.result["model"] == "claude-test-1"
    assert ctx.result["usage"] == {"input_tokens": 1500, "output_tokens": 80, "total_tokens": 1580}
    assert ctx.result["stop_reason"] == "end_turn"
    assert ctx.result["continuations"] == 0


async def test_an_answer_without_a_fence_is_the_code_itself() -> None:
    bare = [
        "return new THREE.Mesh(",
        "new THREE.BoxGeometry(), ",
        "new THREE.MeshNormalMaterial());",
    ]
    async with FakeAnthropic(script=[StreamReply(bare)]) as fake:
        ctx = FakeTaskContext()
        await collect(provider(fake), Request("3d", sketch=sketch()), ctx)
    assert ctx.result["code"] == "".join(bare)


# -- continuation after max_tokens ------------------------------------------------------
async def test_an_answer_cut_at_max_tokens_is_continued_into_one_whole_answer() -> None:
    cut, rest = ANSWER[:3], ANSWER[3:]
    script = [
        StreamReply(cut, stop_reason="max_tokens", input_tokens=1000, output_tokens=50),
        StreamReply(rest, input_tokens=1050, output_tokens=30),
    ]
    async with FakeAnthropic(script=script) as fake:
        ctx = FakeTaskContext()
        chunks = await collect(provider(fake), Request("3d", sketch=sketch()), ctx)

    assert chunks == ANSWER
    assert ctx.result["code"] == CODE
    assert ctx.result["stop_reason"] == "end_turn"
    assert ctx.result["continuations"] == 1
    assert ctx.result["usage"] == {"input_tokens": 2050, "output_tokens": 80, "total_tokens": 2130}
    first, second = (r.json for r in fake.message_requests)
    assert second["messages"][0] == first["messages"][0]
    # The partial answer is prefilled, minus the trailing whitespace the API refuses.
    assert second["messages"][1] == {"role": "assistant", "content": "".join(cut).rstrip()}
    assert len(second["messages"]) == 2


async def test_whitespace_trimmed_off_the_prefill_is_not_sent_twice() -> None:
    cut = ["```javascript\n", "const g = new THREE.Group();\n"]
    rest = ["\n", "return g;\n```"]  # the model repeats the newline it was not shown
    script = [StreamReply(cut, stop_reason="max_tokens"), StreamReply(rest)]
    async with FakeAnthropic(script=script) as fake:
        ctx = FakeTaskContext()
        chunks = await collect(provider(fake), Request("3d", sketch=sketch()), ctx)
    assert "".join(chunks) == "```javascript\nconst g = new THREE.Group();\nreturn g;\n```"
    assert ctx.result["code"] == "const g = new THREE.Group();\nreturn g;"


async def test_continuation_asks_in_a_user_turn_when_the_model_refuses_a_prefill() -> None:
    cut, rest = ANSWER[:3], ANSWER[3:]
    script = [
        StreamReply(cut, stop_reason="max_tokens"),
        ErrorReply.invalid_request("This model does not support assistant message prefill."),
        StreamReply(rest),
    ]
    async with FakeAnthropic(script=script) as fake:
        ctx = FakeTaskContext()
        chunks = await collect(provider(fake), Request("3d", sketch=sketch()), ctx)
    assert chunks == ANSWER
    third = fake.message_requests[2].json["messages"]
    assert [m["role"] for m in third] == ["user", "assistant", "user"]
    assert third[2]["content"] == CONTINUE_PROMPT


async def test_an_answer_still_cut_after_the_bounded_continuations_is_an_error() -> None:
    script = [StreamReply(["const a = 1;\n"], stop_reason="max_tokens")]
    async with FakeAnthropic(script=script) as fake:
        error, chunks = await failure(provider(fake), Request("3d", sketch=sketch()))
    assert error.error_type == "max_tokens"
    assert "max_tokens" in str(error)
    assert len(fake.message_requests) == AnthropicCodeProvider.max_continuations + 1


# -- edit and repair --------------------------------------------------------------------
async def test_edit_sends_the_current_code_and_the_prompt() -> None:
    async with FakeAnthropic(script=[StreamReply(ANSWER)]) as fake:
        request = Request("edit", threejs_code=CODE, prompt="make it blue")
        ctx = FakeTaskContext()
        await collect(provider(fake), request, ctx)
    (content,) = [m["content"] for m in fake.message_requests[0].json["messages"]]
    assert [block["type"] for block in content] == ["text"]  # no sketch, no image
    assert CODE in content[0]["text"] and "make it blue" in content[0]["text"]
    assert ctx.result["code"] == CODE


async def test_edit_with_a_new_sketch_sends_it_as_an_image() -> None:
    async with FakeAnthropic(script=[StreamReply(ANSWER)]) as fake:
        request = Request("edit", sketch=sketch(), threejs_code=CODE)
        await collect(provider(fake), request, FakeTaskContext())
    content = fake.message_requests[0].json["messages"][0]["content"]
    assert [block["type"] for block in content] == ["image", "text"]
    assert CODE in content[1]["text"]


async def test_edit_with_an_error_asks_for_a_fix_of_that_error() -> None:
    error = "TypeError: THREE.BoxBufferGeometry is not a constructor"
    async with FakeAnthropic(script=[StreamReply(ANSWER)]) as fake:
        request = Request("edit", threejs_code="return new THREE.BoxBufferGeometry();", error=error)
        await collect(provider(fake), request, FakeTaskContext())
    text = fake.message_requests[0].json["messages"][0]["content"][0]["text"]
    assert error in text
    assert "Fix" in text
    assert "return new THREE.BoxBufferGeometry();" in text


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (Request("edit", prompt="make it blue"), "threejs_code"),
        (Request("edit", threejs_code=CODE), "prompt"),
        (Request("3d"), "sketch"),
    ],
)
async def test_incomplete_requests_fail_before_any_call(request_: Request, field: str) -> None:
    async with FakeAnthropic() as fake:
        error, _ = await failure(provider(fake), request_)
    assert field in str(error)
    assert fake.requests == []


# -- errors -----------------------------------------------------------------------------
def test_without_a_key_missing_config_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    p = AnthropicCodeProvider(Settings())
    message = p.missing_config()
    assert message is not None and "ANTHROPIC_API_KEY" in message and "export" in message
    assert provider().missing_config() is None


async def test_without_a_key_stream_code_raises_not_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(NotConfigured, match="ANTHROPIC_API_KEY"):
        await collect(AnthropicCodeProvider(Settings()), Request("3d"), FakeTaskContext())


async def test_a_rejected_key_is_an_authentication_error_and_is_not_retried() -> None:
    async with FakeAnthropic(api_key="sk-ant-the-right-one") as fake:
        error, chunks = await failure(provider(fake), Request("3d", sketch=sketch()))
    assert error.error_type == "authentication_error"
    assert "401" in str(error) and "ANTHROPIC_API_KEY" in str(error)
    assert chunks == []
    assert len(fake.message_requests) == 1


@pytest.mark.parametrize(
    ("reply", "error_type", "words"),
    [
        (ErrorReply.rate_limit(), "rate_limit_error", "rate limited"),
        (ErrorReply.overloaded(), "overloaded_error", "overloaded"),
        (
            ErrorReply(500, "api_error", "Internal server error", {"retry-after-ms": "1"}),
            "api_error",
            "failed",
        ),
    ],
)
async def test_retryable_errors_fail_after_the_sdks_own_retries(
    reply: ErrorReply, error_type: str, words: str
) -> None:
    async with FakeAnthropic(script=[reply]) as fake:
        error, _ = await failure(
            provider(fake, anthropic_max_retries=2), Request("3d", sketch=sketch())
        )
    assert error.error_type == error_type
    assert words in str(error) and "after 2 retries" in str(error)
    assert len(fake.message_requests) == 3


async def test_a_retryable_error_that_clears_up_is_invisible() -> None:
    script = [ErrorReply.overloaded(), StreamReply(ANSWER)]
    async with FakeAnthropic(script=script) as fake:
        chunks = await collect(provider(fake), Request("3d", sketch=sketch()), FakeTaskContext())
    assert chunks == ANSWER
    assert len(fake.message_requests) == 2


async def test_an_error_event_mid_answer_is_an_error_after_the_deltas_so_far() -> None:
    reply = StreamReply(ANSWER, error_after=2, error_type="overloaded_error")
    async with FakeAnthropic(script=[reply]) as fake:
        error, chunks = await failure(provider(fake), Request("3d", sketch=sketch()))
    assert chunks == ANSWER[:2]
    assert error.error_type == "overloaded_error"
    assert "mid-answer" in str(error) and "Overloaded" in str(error)
    assert len(fake.message_requests) == 1  # a stream already answering is not retried


async def test_a_connection_dropped_mid_answer_is_a_stream_error() -> None:
    async with FakeAnthropic(script=[StreamReply(ANSWER, drop_after=3)]) as fake:
        error, chunks = await failure(provider(fake), Request("3d", sketch=sketch()))
    assert chunks == ANSWER[:3]
    assert error.error_type == "stream_error"
    assert "broke mid-answer" in str(error)


async def test_an_unreachable_api_is_a_connection_error_after_retries() -> None:
    with refused_url() as url:
        p = provider(None, anthropic_base_url=url, anthropic_max_retries=1)
        error, _ = await failure(p, Request("3d", sketch=sketch()))
    assert error.error_type == "api_connection_error"
    assert url in str(error) and "after 1 retry" in str(error)


@pytest.mark.parametrize(
    "reply",
    [
        ErrorReply(401, "authentication_error", f"invalid x-api-key {KEY}"),
        ErrorReply.rate_limit(),
        StreamReply(ANSWER, error_after=1, error_message=f"bad key {KEY}"),
        StreamReply(ANSWER, drop_after=1),
        StreamReply(ANSWER),
    ],
)
async def test_the_key_never_appears_in_errors_results_or_logs(
    reply: StreamReply | ErrorReply, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeAnthropic(script=[reply]) as fake:
        ctx = FakeTaskContext()
        try:
            chunks = await collect(
                provider(fake, anthropic_max_retries=1), Request("3d", sketch=sketch()), ctx
            )
        except ProviderError as exc:
            assert KEY not in str(exc) and KEY not in repr(exc.args)
            chunks = []
    assert KEY not in caplog.text
    assert KEY not in json.dumps(ctx.result) + "".join(chunks)
    assert fake.message_requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent


# -- cancellation -----------------------------------------------------------------------
async def test_cancelling_mid_stream_closes_the_upstream_request() -> None:
    async with FakeAnthropic(script=[StreamReply(ANSWER, hold_after=1)]) as fake:
        got_one = asyncio.Event()
        chunks: list[str] = []

        async def consume() -> None:
            async for chunk in provider(fake).stream_code(
                Request("3d", sketch=sketch()), FakeTaskContext()
            ):
                chunks.append(chunk)
                got_one.set()

        task = asyncio.create_task(consume())
        await got_one.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (sent,) = fake.message_requests
        await fake.wait_for(sent.disconnected.is_set)
    assert chunks == ANSWER[:1]


# -- fenced code extraction -------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("```js\nreturn a;\n```", "return a;"),
        ("Intro\n```javascript\nreturn a;\n```\nUsage:\n```bash\nnpm i\n```", "return a;"),
        ("```\nshort\n```\n```\nreturn longer;\n```", "return longer;"),
        ("```html\n<p>\n```\n```js\nreturn b;\n```", "return b;"),
        ("~~~js\nconst s = '```';\nreturn s;\n~~~", "const s = '```';\nreturn s;"),
        ("````js\n```\ninner\n```\n````", "```\ninner\n```"),
        ("```javascript\nreturn cut", "return cut"),  # an unclosed fence runs to the end
        ("  return plain;  ", "return plain;"),
    ],
)
def test_extract_code_picks_the_runnable_block(text: str, code: str) -> None:
    assert extract_code(text) == code


def test_find_blocks_reports_language_and_whether_the_fence_closed() -> None:
    blocks = find_blocks("a\n```JS title\nx\n```\n```\ny")
    assert [(b.language, b.code, b.closed) for b in blocks] == [("js", "x", True), ("", "y", False)]
