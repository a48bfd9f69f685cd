"""A local fake of the Anthropic Messages API, for driving the real ``anthropic`` SDK offline.

``POST /v1/messages`` answers from a *script*: one reply per request, in order, the last
reply repeating (so ``script=[ErrorReply.rate_limit()]`` is "always 429"). Replies:

* :class:`StreamReply` — the streaming wire format of the real API: ``message_start``,
  ``content_block_start``, ``ping``, one ``content_block_delta`` (``text_delta``) per
  delta, ``content_block_stop``, ``message_delta`` (``stop_reason``, ``usage``),
  ``message_stop``; with knobs to stop at ``max_tokens``, send an ``error`` event
  mid-answer, drop the connection mid-answer, or hold the stream (until
  :meth:`FakeAnthropic.release` or the client hangs up) to test cancellation.
* :class:`ErrorReply` — an HTTP error with the real body
  ``{"type": "error", "error": {"type": …, "message": …}, "request_id": …}``.

Point the SDK at it with ``AsyncAnthropic(base_url=fake.url, api_key=…)`` or
``ANTHROPIC_BASE_URL=fake.url``. Every request is in ``fake.requests`` (``.json`` is the
body the SDK sent). With ``api_key=`` set, requests without that key (``x-api-key`` or
``Authorization: Bearer``) get the real 401 body.

    reply = StreamReply(["```js\\n", "return new THREE.Group();", "\\n```"])
    with FakeAnthropic(script=[reply]) as fake:
        client = AsyncAnthropic(base_url=fake.url, api_key="test")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import FakeHTTPServer, RecordedRequest, Response

__all__ = ["ErrorReply", "FakeAnthropic", "StreamReply"]

_ids = itertools.count(1)


@dataclass
class StreamReply:
    """A streamed answer made of ``deltas`` (each one ``text_delta`` event).

    ``stop_reason`` goes into ``message_delta`` (``"max_tokens"`` for a cut answer).
    After ``error_after`` deltas an ``error`` event (``error_type``, ``error_message``)
    ends the stream; after ``drop_after`` deltas the connection is closed without
    finishing the body; after ``hold_after`` deltas the stream waits for
    :meth:`FakeAnthropic.release` or for the client to hang up.
    """

    deltas: Sequence[str]
    stop_reason: str = "end_turn"
    input_tokens: int = 100
    output_tokens: int | None = None
    """Defaults to the number of deltas."""
    model: str | None = None
    """Defaults to the model the request asked for."""
    error_after: int | None = None
    error_type: str = "overloaded_error"
    error_message: str = "Overloaded"
    drop_after: int | None = None
    hold_after: int | None = None
    pings: bool = True
    pace: float = 0.0
    """Seconds between deltas (benchmarks: a model's token rate)."""
    stamp: bool = False
    """Send each delta's text as the wall-clock time (ns) it left the fake (benchmarks)."""


@dataclass
class ErrorReply:
    """An HTTP error answer in the API's shape (status, ``error.type``, ``error.message``)."""

    status: int
    type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def authentication(cls) -> ErrorReply:
        """401, as for a wrong or revoked key."""
        return cls(401, "authentication_error", "invalid x-api-key")

    @classmethod
    def rate_limit(cls, retry_after_ms: int = 1) -> ErrorReply:
        """429 with ``retry-after`` headers (the SDK honours ``retry-after-ms``)."""
        headers = {"retry-after": "1", "retry-after-ms": str(retry_after_ms)}
        return cls(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            headers,
        )

    @classmethod
    def overloaded(cls, retry_after_ms: int = 1) -> ErrorReply:
        """529 ``overloaded_error``; ``retry-after-ms`` keeps the SDK's retries fast."""
        return cls(529, "overloaded_error", "Overloaded", {"retry-after-ms": str(retry_after_ms)})

    @classmethod
    def invalid_request(cls, message: str) -> ErrorReply:
        """400 ``invalid_request_error`` (not retried by the SDK)."""
        return cls(400, "invalid_request_error", message)


Reply = StreamReply | ErrorReply


class FakeAnthropic(FakeHTTPServer):
    """The fake Messages API; see the module docstring."""

    def __init__(self, script: Sequence[Reply] = (), api_key: str | None = None) -> None:
        super().__init__()
        self.script: list[Reply] = list(script) or [StreamReply(["Hello"])]
        self.api_key = api_key
        self.replies_sent = 0

    @property
    def message_requests(self) -> list[RecordedRequest]:
        """The ``POST /v1/messages`` requests, in order."""
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/messages"]

    async def handle(self, request: RecordedRequest, response: Response) -> None:
        if request.method != "POST" or request.path != "/v1/messages":
            await self._error(response, ErrorReply(404, "not_found_error", "Not found"))
            return
        if self.api_key is not None and self.api_key not in (
            request.headers.get("x-api-key"),
            request.headers.get("authorization", "").removeprefix("Bearer "),
        ):
            await self._error(response, ErrorReply.authentication())
            return
        reply = self.script[min(self.replies_sent, len(self.script) - 1)]
        self.replies_sent += 1
        if isinstance(reply, ErrorReply):
            await self._error(response, reply)
            return
        body = request.json
        model = reply.model or body.get("model", "claude-fake")
        if body.get("stream"):
            await self._stream(response, reply, model)
        else:
            await self._message(response, reply, model)

    @staticmethod
    def _request_id() -> str:
        return f"req_fake{next(_ids):06d}"

    async def _error(self, response: Response, reply: ErrorReply) -> None:
        request_id = self._request_id()
        body = {
            "type": "error",
            "error": {"type": reply.type, "message": reply.message},
            "request_id": request_id,
        }
        await response.send_json(reply.status, body, {"request-id": request_id, **reply.headers})

    async def _message(self, response: Response, reply: StreamReply, model: str) -> None:
        text = "".join(reply.deltas)
        await response.send_json(
            200,
            {
                "id": f"msg_fake{next(_ids):06d}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": reply.stop_reason,
                "stop_sequence": None,
                "usage": _usage(reply),
            },
            {"request-id": self._request_id()},
        )

    async def _stream(self, response: Response, reply: StreamReply, model: str) -> None:
        await response.start(
            200,
            {
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                "request-id": self._request_id(),
            },
        )

        async def event(name: str, data: dict[str, Any]) -> None:
            await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

        usage = _usage(reply)
        await event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_fake{next(_ids):06d}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
                },
            },
        )
        await event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        if reply.pings:
            await event("ping", {"type": "ping"})
        for i, text in enumerate(reply.deltas):
            if await self._interrupt(response, reply, i, event):
                return
            if reply.pace and i:
                await asyncio.sleep(reply.pace)  # pacing the stream like a model's token rate
            await event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {
                        "type": "text_delta",
                        "text": f"{time.time_ns()}\n" if reply.stamp else text,
                    },
                },
            )
        if await self._interrupt(response, reply, len(reply.deltas), event):
            return
        await event("content_block_stop", {"type": "content_block_stop", "index": 0})
        await event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
        await event("message_stop", {"type": "message_stop"})
        await response.end()

    async def _interrupt(
        self, response: Response, reply: StreamReply, sent: int, event: Any
    ) -> bool:
        """Apply the reply's knobs once ``sent`` deltas are out; True when the stream ended."""
        if reply.hold_after == sent:
            await response.wait(self.gate)
        if reply.error_after == sent:
            await event(
                "error",
                {
                    "type": "error",
                    "error": {"type": reply.error_type, "message": reply.error_message},
                },
            )
            await response.end()
            return True
        if reply.drop_after == sent:
            await response.drop()
            return True
        return False


def _usage(reply: StreamReply) -> dict[str, int]:
    output = reply.output_tokens if reply.output_tokens is not None else len(reply.deltas)
    return {"input_tokens": reply.input_tokens, "output_tokens": output}
