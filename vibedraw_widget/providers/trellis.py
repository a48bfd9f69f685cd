"""The ``trellis`` model provider: Trellis image-to-3D through a PiAPI-compatible task API.

1. create the task: ``POST {trellis_url}`` with ``x-api-key`` and
   ``{"model": "Qubico/trellis", "task_type": "image-to-3d", "input": {"image": <base64 PNG>,
   "seed", "ss_sampling_steps", "slat_sampling_steps", "ss_guidance_strength",
   "slat_guidance_strength"}}``;
2. follow it: ``GET {trellis_url}/{task_id}`` with a growing delay (not a fixed 2 s loop),
   mapping the remote status and progress onto ``ctx.progress``;
3. download ``data.output.model_file`` and return its bytes (the engine stores them as
   the task's GLB).

Cancelling ``make_model`` (asyncio cancellation) stops following at once and closes the
connections. Remote errors (401, 404, 5xx), timeouts, malformed JSON and failed tasks
raise :class:`ProviderError` with the reason and an ``error_type``. The API key goes only
to ``trellis_url``'s origin: never to the host that serves the model file, never along a
redirect to another origin (the redirect is followed without it), and never into a
message or a log.

What leaves the machine: the drawing as a PNG (and the sampling options) to
``trellis_url`` (PiAPI by default).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import httpx

from .base import ModelProvider, NotConfigured, ProviderError, Request, TaskContext, image_input

log = logging.getLogger(__name__)

DEFAULT_REMOTE_MODEL = "Qubico/trellis"
DEFAULT_INPUT: dict[str, int | float] = {
    "seed": 0,
    "ss_sampling_steps": 50,
    "slat_sampling_steps": 50,
    "ss_guidance_strength": 7.5,
    "slat_guidance_strength": 3.0,
}
"""Trellis sampling options sent when the request does not set them."""

GLB_MAGIC = b"glTF"
_WAITING = {"pending", "staged", "queued", "submitted"}
_RUNNING = {"processing", "running", "in_progress", "started"}
_DONE = {"completed", "succeeded", "success"}
_FAILED = {"failed", "error"}
_CANCELLED = {"cancelled", "canceled"}


class TrellisModelProvider(ModelProvider):
    """A 3D mesh from Trellis (image-to-3D) through PiAPI or a compatible task API."""

    name: ClassVar[str] = "trellis"
    description: ClassVar[str] = (
        "Trellis image-to-3D through a PiAPI-compatible API; needs TRELLIS_API_KEY; paid per task"
    )

    poll_initial: float = 1.0
    """Seconds before the first status request; each later wait is ``poll_factor`` longer."""
    poll_factor: float = 1.5
    poll_max: float = 10.0
    """The longest wait between two status requests."""
    max_poll_errors: int = 3
    """Consecutive transient failures (5xx, 429, network, timeout) tolerated while following."""
    request_timeout: float = 30.0
    """Timeout of one HTTP request (capped by what is left of ``settings.trellis_timeout``)."""
    max_download_bytes: int = 512 * 1024 * 1024
    secret_headers: ClassVar[frozenset[str]] = frozenset({"x-api-key"})
    """The key goes to ``trellis_url``'s origin only; redirects elsewhere go without it."""

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        """How the provider waits between polls (tests replace it to record the delays)."""

    def missing_config(self) -> str | None:
        if not self.settings.trellis_url:
            return "the trellis provider needs a task API URL: set c.VibeDraw.trellis_url"
        if not self.settings.trellis_api_key:
            return (
                "the trellis provider needs an API key: set TRELLIS_API_KEY in the environment "
                "of the Jupyter server (e.g. `export TRELLIS_API_KEY=...` before `jupyter lab`; "
                "keys at https://piapi.ai), or use model provider 'local'"
            )
        return None

    # -- the task ------------------------------------------------------------------------
    async def task_body(self, request: Request, ctx: TaskContext) -> dict[str, Any]:
        """The body that creates the remote task (PiAPI's task format)."""
        # The drawing only: labels are words for a prompt, and an image-to-3D model
        # would build the lettering into the mesh.
        png = await image_input(request, ctx, labels=False)
        inputs: dict[str, Any] = {"image": base64.b64encode(png).decode("ascii")}
        for key, default in DEFAULT_INPUT.items():
            value = request.options.get(key, default)
            inputs[key] = int(value) if isinstance(default, int) else float(value)
        return {
            "model": str(request.options.get("remote_model") or DEFAULT_REMOTE_MODEL),
            "task_type": "image-to-3d",
            "input": inputs,
        }

    async def make_model(self, request: Request, ctx: TaskContext) -> bytes:
        """Create the remote task, follow it, download and return the GLB."""
        missing = self.missing_config()
        if missing:
            raise NotConfigured(missing, "NotConfigured")
        body = await self.task_body(request, ctx)
        deadline = time.monotonic() + self.settings.trellis_timeout
        async with self.http_client(self.settings.trellis_url) as client:
            ctx.progress("upload", 0.0, "sending the drawing to Trellis")
            try:  # not retried: a second POST could start (and bill) a second task
                created = await self._call(
                    client,
                    "POST",
                    self.settings.trellis_url,
                    deadline,
                    "create the task",
                    json=body,
                )
            except _Transient as exc:
                raise exc.error from None
            task_id = created.get("task_id")
            if not isinstance(task_id, str) or not task_id:
                raise ProviderError(
                    "Trellis created no task: its answer has no `data.task_id`",
                    "malformed_response",
                )
            ctx.result["remote_task_id"] = task_id
            log.info("trellis: task %s is remote task %s", ctx.task_id, task_id)
            ctx.progress("queued", 0.02, f"Trellis task {task_id} created")
            done = await self._follow(client, task_id, ctx, deadline)
            url = self._model_url(done, task_id)
            ctx.progress("download", 0.95, "downloading the model")
            return await self._download(client, url, deadline)

    async def _follow(
        self, client: httpx.AsyncClient, task_id: str, ctx: TaskContext, deadline: float
    ) -> dict[str, Any]:
        """Poll the task with a growing delay until it ends; return its final data."""
        url = f"{self.settings.trellis_url.rstrip('/')}/{task_id}"
        delay, errors, started = self.poll_initial, 0, time.monotonic()
        reported: tuple[str, float] = ("queued", 0.02)  # what make_model said last
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timeout(f"Trellis task {task_id} did not finish")
            await self.sleep(min(delay, left))
            delay = min(delay * self.poll_factor, self.poll_max)
            try:
                data = await self._call(client, "GET", url, deadline, "follow the task")
            except _Transient as exc:
                errors += 1
                if errors > self.max_poll_errors:
                    raise exc.error from None
                log.info("trellis: %s (try %d of %d)", exc.error, errors, self.max_poll_errors)
                continue
            errors = 0
            status = str(data.get("status", "")).lower()
            if status in _DONE:
                return data
            if status in _FAILED:
                raise ProviderError(
                    f"Trellis task {task_id} failed: {_remote_reason(data)}", "remote_failed"
                )
            if status in _CANCELLED:
                raise ProviderError(f"Trellis task {task_id} was cancelled remotely", "cancelled")
            stage, fraction, message = _progress(status, data, time.monotonic() - started)
            fraction = max(fraction, reported[1])  # never go backwards
            if (stage, round(fraction, 3)) != (reported[0], round(reported[1], 3)):
                ctx.progress(stage, fraction, message)
                reported = (stage, fraction)

    def _model_url(self, data: dict[str, Any], task_id: str) -> str:
        output = data.get("output")
        model_file = output.get("model_file") if isinstance(output, dict) else None
        if not isinstance(model_file, str) or not model_file:
            raise ProviderError(
                f"Trellis task {task_id} completed without `output.model_file`",
                "malformed_response",
            )
        url = urljoin(self.settings.trellis_url, model_file)
        if urlsplit(url).scheme not in ("http", "https"):
            raise ProviderError(f"Trellis gave a model URL that is not http(s): {url}", "bad_url")
        return url

    async def _download(self, client: httpx.AsyncClient, url: str, deadline: float) -> bytes:
        headers = self._headers() if _same_origin(url, self.settings.trellis_url) else {}
        try:
            async with client.stream(
                "GET", url, headers=headers, timeout=self._timeout_left(deadline)
            ) as response:
                if response.status_code != 200:
                    raise ProviderError(
                        f"could not download the model from {url}: HTTP {response.status_code}",
                        "download_error",
                    )
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_download_bytes:
                        raise ProviderError(
                            f"the model at {url} is larger than {self.max_download_bytes} bytes",
                            "download_error",
                        )
                    chunks.append(chunk)
        except httpx.TimeoutException:
            raise self._timeout("the model download did not finish") from None
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"could not download the model from {url}: {exc}", "download_error"
            ) from exc
        glb = b"".join(chunks)
        if not glb.startswith(GLB_MAGIC):
            raise ProviderError(
                f"the file at {url} is not a GLB (it starts with {glb[:8]!r})", "download_error"
            )
        return glb

    # -- HTTP ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self.settings.trellis_api_key or ""}

    def _timeout_left(self, deadline: float) -> float:
        return max(0.001, min(self.request_timeout, deadline - time.monotonic()))

    def _timeout(self, what: str) -> ProviderError:
        limit = self.settings.trellis_timeout
        return ProviderError(
            f"{what} within {limit:g} s (c.VibeDraw.trellis_timeout)", "TimeoutError"
        )

    async def _call(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        deadline: float,
        what: str,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One API call; returns the envelope's ``data``. Raises :class:`ProviderError`, or
        :class:`_Transient` (wrapping one) for failures worth another try."""
        try:
            response = await client.request(
                method, url, headers=self._headers(), timeout=self._timeout_left(deadline), **kwargs
            )
        except httpx.TimeoutException:
            raise _Transient(self._timeout(f"Trellis did not answer ({what})")) from None
        except httpx.HTTPError as exc:
            error = ProviderError(
                self._scrub(f"could not reach Trellis at {url} to {what}: {exc}"), "network_error"
            )
            raise _Transient(error) from None
        reason = self._scrub(_body_message(response))
        status = response.status_code
        if status in (401, 403):
            raise ProviderError(
                f"Trellis refused the API key ({status}: {reason}); check TRELLIS_API_KEY",
                "authentication_error",
            )
        if status == 404:
            raise ProviderError(
                f"Trellis answered 404 to {method} {url} ({reason}); check c.VibeDraw.trellis_url",
                "not_found",
            )
        if status == 429 or status >= 500:
            kind = "rate_limit_error" if status == 429 else "server_error"
            raise _Transient(ProviderError(f"Trellis failed to {what}: {status} {reason}", kind))
        if status >= 400:
            raise ProviderError(f"Trellis refused to {what}: {status} {reason}", "invalid_request")
        try:
            envelope = response.json()
        except ValueError:
            raise ProviderError(
                f"Trellis answered malformed JSON ({what}): {response.text[:200]!r}",
                "malformed_response",
            ) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
            raise ProviderError(
                f"Trellis answered without a `data` object ({what}): {str(envelope)[:200]}",
                "malformed_response",
            )
        code = envelope.get("code", 200)
        if code not in (200, 0, "200"):
            raise ProviderError(
                self._scrub(f"Trellis could not {what}: code {code}: {_body_message(response)}"),
                "remote_error",
            )
        return envelope["data"]

    def _scrub(self, text: str) -> str:
        key = self.settings.trellis_api_key
        return text.replace(key, "[TRELLIS_API_KEY]") if key else text


class _Transient(Exception):
    """A failure worth another try while following a task; ``error`` says what failed."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def _body_message(response: httpx.Response) -> str:
    """The error text of an answer: PiAPI's ``message``/``error``/``detail``, or the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        for candidate in (
            data.get("error"),
            body.get("error"),
            body.get("detail"),
            body.get("message"),
        ):
            if isinstance(candidate, dict):
                candidate = candidate.get("message") or candidate.get("raw_message")
            if candidate:
                return str(candidate)[:500]
    return str(body)[:200]


def _remote_reason(data: dict[str, Any]) -> str:
    error = data.get("error")
    if isinstance(error, dict):
        reason = error.get("message") or error.get("raw_message") or error.get("detail")
        if reason:
            return str(reason)
    elif error:
        return str(error)
    return "no reason given"


def _remote_fraction(data: dict[str, Any]) -> float | None:
    """The remote progress in 0..1, when the API reports one (0..100 or 0..1)."""
    output = data.get("output") if isinstance(data.get("output"), dict) else {}
    for value in (data.get("progress"), output.get("progress")):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return min(1.0, max(0.0, value / 100 if value > 1 else float(value)))
    return None


def _progress(status: str, data: dict[str, Any], elapsed: float) -> tuple[str, float, str]:
    """``(stage, fraction, message)`` for a task still running; fractions 0.02–0.9."""
    if status in _WAITING or status not in _RUNNING:
        return "queued", 0.02, f"Trellis task {status or 'pending'}"
    remote = _remote_fraction(data)
    if remote is not None:
        return "generating", 0.05 + 0.85 * remote, f"Trellis is generating ({remote:.0%})"
    # No remote figure: an estimate that approaches 0.9 (a Trellis task takes about a minute).
    estimate = 0.05 + 0.85 * (1 - math.exp(-elapsed / 60))
    return "generating", estimate, f"Trellis is generating ({elapsed:.0f} s, estimated)"
