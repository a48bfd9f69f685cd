"""The ``anthropic`` code provider: Claude turns the sketch into Three.js code, streamed.

It uses the official SDK (``AsyncAnthropic``, ``messages.stream``): the sketch goes as a
PNG image block, the prompt and the sketch's text labels as text, and the system prompt
states the generated-code contract (docs/protocol.md, Generated code). Each text delta
is yielded the moment it arrives, so the engine turns it into its own ``delta`` event.
An answer cut off at ``max_tokens`` is continued (at most
:attr:`AnthropicCodeProvider.max_continuations` times) from where it stopped, so the
joined deltas are one whole answer.

Task ``edit`` sends the current code with a prompt and/or a new sketch; with ``error``
(a runtime error from the preview) it asks Claude to fix that error.

Failures become :class:`ProviderError` with a readable message and ``error_type`` (the
API's own error type where there is one: ``authentication_error``, ``rate_limit_error``,
``overloaded_error`` …), raised after the SDK's own retries
(``settings.anthropic_max_retries``). The API key is never logged nor put in a message.

What leaves the machine: the sketch as PNG, the prompt, the texts, for edits the code and
the error, to ``https://api.anthropic.com`` (or ``ANTHROPIC_BASE_URL``).
"""

from __future__ import annotations

import base64
import functools
import inspect
import io
import logging
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from .base import CodeProvider, NotConfigured, ProviderError, Request, TaskContext, image_input
from .codeblocks import extract_code

log = logging.getLogger(__name__)

SYSTEM_PROMPT = """\
You turn drawings into Three.js code for a live 3D preview.

The contract for the code you write (it is run exactly like this):
- Write only the body of `async function build(THREE, ctx)`: no function header, no \
wrapper. It must `return` the main `THREE.Object3D` it made (a Mesh or a Group); the \
host adds that object to the scene.
- `ctx` holds `scene`, `camera`, `renderer`, `controls` and `onFrame(fn)` (a per-frame \
callback, for animation, called as `fn(dt, elapsed)` in seconds). The host owns the \
scene, the camera, the lights, the OrbitControls and the render loop: do not create a \
renderer, a camera, lights or a loop.
- The code runs in a Web Worker: there is no `document`, `window` or DOM at all, and \
`renderer.domElement` is an OffscreenCanvas. No imports, no `require`, no network. Only \
the core geometries and materials of the `THREE` object passed in (current API: \
`BoxGeometry`, not `BoxBufferGeometry`; no `THREE.Geometry`; no addons, loaders or \
textures from URLs; draw a texture on `new OffscreenCanvas(w, h)` if you need one).
- Centre the object near the origin, about 2 units across, y up. Prefer \
`MeshStandardMaterial` with colours that match the drawing.

Answer with exactly one ```javascript fenced code block holding that body, and nothing \
else.\
"""
"""The system prompt: the generated-code contract; ``options["system_prompt"]`` is appended."""

CONTINUE_PROMPT = (
    "Your answer was cut off. Continue exactly where it stopped: output only the rest, "
    "starting with the next character, without repeating anything and without a new fence."
)

MAX_IMAGE_SIDE = 1568
"""Longer sides are scaled down first: the API would do it anyway, after the upload."""


class AnthropicCodeProvider(CodeProvider):
    """Three.js code from Claude (Anthropic Messages API), streamed as it is written."""

    name: ClassVar[str] = "anthropic"
    description: ClassVar[str] = (
        "Claude (Anthropic API) writes the Three.js code; needs ANTHROPIC_API_KEY; paid per token"
    )
    supports: ClassVar[frozenset[str]] = frozenset({"3d", "edit"})
    max_continuations: ClassVar[int] = 3
    """How many times an answer cut at ``max_tokens`` is continued before giving up."""

    def missing_config(self) -> str | None:
        if self.settings.anthropic_api_key:
            return None
        return (
            "the anthropic provider needs an API key: set ANTHROPIC_API_KEY in the "
            "environment of the Jupyter server (e.g. `export ANTHROPIC_API_KEY=sk-ant-...` "
            "before `jupyter lab`; keys at https://console.anthropic.com/settings/keys), "
            "or use code provider 'local'"
        )

    # -- the request ---------------------------------------------------------------------
    async def build_messages(self, request: Request, ctx: TaskContext) -> list[dict[str, Any]]:
        """The ``messages`` of the first call: one user turn, image block first."""
        content: list[dict[str, Any]] = []
        png = await self._image(request, ctx)
        if png is not None:
            content.append(
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": base64.b64encode(png).decode("ascii"),
                    },
                }
            )
        content.append({"type": "text", "text": self._instructions(request, png is not None)})
        return [{"role": "user", "content": content}]

    async def _image(self, request: Request, ctx: TaskContext) -> bytes | None:
        if request.image is None and request.sketch is None:
            return None
        return await ctx.run_cpu(fit_image, await image_input(request, ctx), MAX_IMAGE_SIDE)

    @staticmethod
    def _instructions(request: Request, has_image: bool) -> str:
        labels = " / ".join(
            t["text"].strip() for t in (request.sketch or {}).get("texts", []) if t["text"].strip()
        )
        prompt = request.prompt.strip()
        parts: list[str] = []
        if request.type == "edit":
            if not request.threejs_code:
                raise ProviderError("`threejs_code`: an edit needs the current code", "ValueError")
            if not (prompt or has_image or request.error):
                raise ProviderError(
                    "an edit needs a `prompt`, a new `sketch` or an `error` to fix", "ValueError"
                )
            parts.append(
                "Here is the current code (the body of `build(THREE, ctx)`):\n"
                f"```javascript\n{request.threejs_code.strip()}\n```"
            )
            if request.error:
                parts.append(
                    "Running it in the preview failed with this error:\n"
                    f"```\n{request.error.strip()}\n```\nFix the code so this error cannot happen."
                )
            if has_image:
                parts.append("The attached drawing shows what the object should look like now.")
            if prompt:
                parts.append(f"Change it as asked: {prompt}")
            if labels:
                parts.append(f"Text written in the drawing: {labels}")
            parts.append("Answer with the complete new body in one fenced block.")
        else:
            if not (has_image or prompt or labels):
                raise ProviderError("the request has neither a sketch nor an image", "ValueError")
            if has_image:
                parts.append("Turn the attached drawing into a 3D object.")
            else:
                parts.append("Make a 3D object.")
            if prompt:
                parts.append(f"What the user asks: {prompt}")
            if labels:
                parts.append(f"Text written in the drawing: {labels}")
        return "\n\n".join(parts)

    def _system(self, request: Request) -> str:
        extra = str(request.options.get("system_prompt") or "").strip()
        return f"{SYSTEM_PROMPT}\n\nAdditional instructions:\n{extra}" if extra else SYSTEM_PROMPT

    # -- the stream ----------------------------------------------------------------------
    async def stream_code(self, request: Request, ctx: TaskContext) -> AsyncIterator[str]:
        """Yield Claude's answer delta by delta; fill ``ctx.result`` with ``code``,
        ``model``, ``usage``, ``stop_reason`` and ``continuations`` at the end."""
        missing = self.missing_config()
        if missing:
            raise NotConfigured(missing, "NotConfigured")
        import anthropic

        settings = self.settings
        messages = await self.build_messages(request, ctx)
        params: dict[str, Any] = {
            "model": settings.anthropic_model,
            "max_tokens": int(request.options.get("max_tokens") or settings.max_tokens),
            "system": self._system(request),
        }
        temperature = request.options.get("temperature", settings.temperature)
        if temperature is not None and sdk_takes_temperature():
            params["temperature"] = float(temperature)
        log.info(
            "anthropic: task %s, model %s, max_tokens %s",
            ctx.task_id,
            params["model"],
            params["max_tokens"],
        )

        parts: list[str] = []
        usage = {"input_tokens": 0, "output_tokens": 0}
        model, stop_reason, continuations = params["model"], None, 0
        prefill = True  # continue by prefilling the partial answer; falls back if refused
        client = anthropic.AsyncAnthropic(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,  # None: the SDK reads ANTHROPIC_BASE_URL
            max_retries=settings.anthropic_max_retries,
        )
        async with client:
            while True:
                text_so_far = "".join(parts)
                call = messages
                skip = ""  # whitespace trimmed off a prefill, which the model may repeat
                if continuations:
                    call, skip = _continuation(messages, text_so_far, prefill)
                try:
                    async with client.messages.stream(messages=call, **params) as stream:
                        async for text in stream.text_stream:
                            if skip:
                                text, skip = _drop_repeat(text, skip)
                                if not text:
                                    continue
                            parts.append(text)
                            yield text
                        message = await stream.get_final_message()
                except anthropic.BadRequestError as exc:
                    if continuations and prefill and "".join(parts) == text_so_far:
                        # Some models refuse a prefilled assistant turn: ask instead.
                        prefill = False
                        continue
                    raise self._error(exc, bool(parts)) from exc
                except Exception as exc:
                    raise self._error(exc, bool(parts)) from exc
                model = message.model or model
                stop_reason = message.stop_reason
                usage["input_tokens"] += message.usage.input_tokens or 0
                usage["output_tokens"] += message.usage.output_tokens or 0
                if stop_reason != "max_tokens":
                    break
                if continuations >= self.max_continuations or not "".join(parts).strip():
                    raise ProviderError(
                        f"the answer was still cut off at max_tokens={params['max_tokens']} "
                        f"after {continuations} continuation(s); raise `max_tokens` or ask "
                        "for something simpler",
                        "max_tokens",
                    )
                continuations += 1
                log.info("anthropic: task %s cut at max_tokens, continuing", ctx.task_id)

        content = "".join(parts)
        ctx.result.update(
            model=model,
            usage={**usage, "total_tokens": usage["input_tokens"] + usage["output_tokens"]},
            stop_reason=stop_reason,
            code=extract_code(content),
            continuations=continuations,
        )

    # -- errors --------------------------------------------------------------------------
    def _error(self, exc: BaseException, mid_answer: bool) -> BaseException:
        """A readable :class:`ProviderError` for ``exc`` (with the key scrubbed)."""
        import anthropic

        retries = self.settings.anthropic_max_retries
        after = f" (after {retries} retr{'y' if retries == 1 else 'ies'})" if retries else ""
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, anthropic.APIStatusError):
            kind, detail = _error_fields(exc)
            status = exc.status_code
            if status == 200 or mid_answer:  # an `error` event inside the stream
                message = f"the Anthropic stream broke mid-answer: {kind}: {detail}"
            elif status == 401:
                message = (
                    f"the Anthropic API rejected the API key (401 {kind}: {detail}); "
                    "check ANTHROPIC_API_KEY"
                )
            elif status == 403:
                message = f"the API key may not do this (403 {kind}: {detail})"
            elif status == 404:
                message = (
                    f"not found (404 {kind}: {detail}); is c.VibeDraw.anthropic_model = "
                    f"{self.settings.anthropic_model!r} a model your key can use?"
                )
            elif status == 429:
                message = f"rate limited by the Anthropic API{after}: {detail}; try again later"
            elif status == 529 or kind == "overloaded_error":
                message = f"the Anthropic API is overloaded{after}: {detail}; try again later"
            elif status >= 500:
                message = f"the Anthropic API failed{after} ({status} {kind}): {detail}"
            else:
                message = f"the Anthropic API refused the request ({status} {kind}): {detail}"
            return ProviderError(self._scrub(message), kind or f"http_{status}")
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderError(
                f"the Anthropic API did not answer in time{after}", "timeout_error"
            )
        if isinstance(exc, anthropic.APIConnectionError):
            target = self.settings.anthropic_base_url or "https://api.anthropic.com"
            cause = exc.__cause__ or exc
            return ProviderError(
                self._scrub(f"could not connect to the Anthropic API at {target}{after}: {cause}"),
                "api_connection_error",
            )
        if isinstance(exc, anthropic.APIError) or _is_transport_error(exc):
            where = "mid-answer" if mid_answer else "before the answer"
            return ProviderError(
                self._scrub(f"the connection to the Anthropic API broke {where}: {exc}"),
                "stream_error",
            )
        return exc

    def _scrub(self, text: str) -> str:
        key = self.settings.anthropic_api_key
        return text.replace(key, "[ANTHROPIC_API_KEY]") if key else text


@functools.cache
def sdk_takes_temperature() -> bool:
    """Whether the installed SDK still sends ``temperature``. SDK 2.x speaks API version
    2026-10-21, which refuses sampling parameters (400 even at their defaults) and has
    dropped them from ``messages.stream``; older SDKs (API 2023-06-01) take it."""
    from anthropic.resources.messages import AsyncMessages

    return "temperature" in inspect.signature(AsyncMessages.stream).parameters


def _error_fields(exc: Any) -> tuple[str, str]:
    """``(error.type, error.message)`` of an API error, across SDK versions."""
    kind, detail = getattr(exc, "type", None), getattr(exc, "api_message", None)
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        kind = kind or body["error"].get("type")
        detail = detail or body["error"].get("message")
    return str(kind or "api_error"), str(detail or exc)


def _is_transport_error(exc: BaseException) -> bool:
    """An error of the HTTP stack under the SDK (a dropped connection mid-stream)."""
    if isinstance(exc, OSError):
        return True
    module = type(exc).__module__.split(".")[0]
    return module.startswith(("httpx", "httpcore", "h11", "h2", "anyio"))


def _continuation(
    messages: list[dict[str, Any]], partial: str, prefill: bool
) -> tuple[list[dict[str, Any]], str]:
    """Messages that make the model continue ``partial``; and the whitespace trimmed off
    it (the API refuses a final assistant turn ending in whitespace)."""
    trimmed = partial.rstrip()
    tail = partial[len(trimmed) :]
    if prefill:
        return [*messages, {"role": "assistant", "content": trimmed}], tail
    return [
        *messages,
        {"role": "assistant", "content": trimmed},
        {"role": "user", "content": CONTINUE_PROMPT},
    ], tail


def _drop_repeat(text: str, tail: str) -> tuple[str, str]:
    """Drop from ``text`` the part of ``tail`` (whitespace already sent) it repeats;
    returns the rest of ``text`` and what of ``tail`` may still repeat."""
    n = 0
    while n < len(text) and n < len(tail) and text[n] == tail[n]:
        n += 1
    if n < len(text):  # the continuation went its own way: nothing more to skip
        return text[n:], ""
    return "", tail[n:]


def fit_image(png: bytes, max_side: int = MAX_IMAGE_SIDE) -> bytes:
    """``png`` scaled down so that its longer side is at most ``max_side`` (CPU work)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        if max(image.size) <= max_side:
            return png
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        out = io.BytesIO()
        image.convert("RGB").resize(size, Image.LANCZOS).save(out, format="PNG")
        return out.getvalue()
