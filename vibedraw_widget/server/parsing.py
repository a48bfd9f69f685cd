"""Turn HTTP request bodies into :class:`TaskSpec` s, or a 400 naming the field
(docs/protocol.md, HTTP routes).

Pure functions, so every bad-input case is testable without a server.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..engine.tasks import TaskSpec, valid_task_id
from ..errors import VibeDrawError
from ..sketch import SketchError, decode_png, parse_json, validate_sketch

MAX_PROMPT = 20_000
MAX_CODE = 1_000_000
QUEUE_TYPES = ("3d", "edit", "improve")
TRELLIS_OPTIONS = (
    "seed",
    "ss_sampling_steps",
    "slat_sampling_steps",
    "ss_guidance_strength",
    "slat_guidance_strength",
)


class BadRequest(VibeDrawError, ValueError):
    """A request body that cannot be used; the message names the field."""

    status = 400


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw``, refusing non-JSON, NaN/Infinity and non-objects."""
    if not raw.strip():
        raise BadRequest("body: expected a JSON object, got an empty body")
    try:
        body = parse_json(raw, "body")
    except SketchError as exc:
        raise BadRequest(str(exc)) from None
    if not isinstance(body, dict):
        raise BadRequest(f"body: expected a JSON object, got {type(body).__name__}")
    return body


def event_id(raw: str, field: str) -> int:
    """A resume position (``Last-Event-ID``, ``after``): ASCII digits only (``str.isdigit``
    also takes '²', which ``int`` then refuses)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadRequest(f"{field}: expected a non-negative integer, got {raw[:40]!r}")
    return int(raw)


def _string(body: Mapping[str, Any], key: str, limit: int, default: str | None = "") -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"{key}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise BadRequest(f"{key}: longer than {limit} characters")
    return value


def _bounded(body: Mapping[str, Any], key: str, lo: float, hi: float, integer: bool) -> Any:
    value = body.get(key)
    if value is None:
        return None
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise BadRequest(f"{key}: expected {'an integer' if integer else 'a number'}")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise BadRequest(f"{key}: must be between {lo} and {hi}, got {value}")
    return value


def _task_id(body: Mapping[str, Any]) -> dict[str, str]:
    task_id = body.get("task_id")
    if task_id is None:
        return {}
    if not isinstance(task_id, str) or not valid_task_id(task_id):
        raise BadRequest("task_id: expected a UUID string (or leave it out: the server makes one)")
    return {"task_id": task_id.lower()}


def _drawing(body: Mapping[str, Any], image_key: str) -> tuple[dict[str, Any] | None, bytes | None]:
    sketch = image = None
    try:
        if body.get("sketch") is not None:
            sketch = validate_sketch(body["sketch"])
        if body.get(image_key) is not None:
            if not isinstance(body[image_key], str):
                raise BadRequest(f"{image_key}: expected a base64 PNG or a data URL")
            image = decode_png(body[image_key], where=image_key)
    except SketchError as exc:
        field = exc.field if exc.field.startswith(image_key) else f"sketch.{exc.field}"
        raise BadRequest(f"{field}: {str(exc).split(': ', 1)[1]}") from None
    return sketch, image


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    options = {
        "max_tokens": _bounded(body, "max_tokens", 1, 128_000, integer=True),
        "temperature": _bounded(body, "temperature", 0.0, 1.0, integer=False),
        "system_prompt": _string(body, "system_prompt", MAX_PROMPT, default=None),
        "detail": _bounded(body, "detail", 0.1, 5.0, integer=False),
        "size": _bounded(body, "size", 0.001, 1000.0, integer=False),
    }
    scene = body.get("scene")
    if scene is not None:
        if not isinstance(scene, dict):
            raise BadRequest("scene: expected an object (a scene description)")
        options["scene"] = scene
    return {k: v for k, v in options.items() if v is not None}


def _provider(body: Mapping[str, Any]) -> str | None:
    provider = _string(body, "provider", 100, default=None)
    return provider or None


def queue_spec(task_type: str, body: Mapping[str, Any]) -> TaskSpec:
    """The spec for ``POST queue/{task_type}``."""
    if task_type not in QUEUE_TYPES:
        raise BadRequest(f"type: unknown task type {task_type!r}; expected one of {QUEUE_TYPES}")
    sketch, image = _drawing(body, "image_base64")
    code = _string(body, "threejs_code", MAX_CODE, default=None)
    options = _options(body)
    prompt = _string(body, "prompt", MAX_PROMPT)
    error = _string(body, "error", MAX_PROMPT, default=None)
    if task_type == "edit":
        if not code and "scene" not in options:
            raise BadRequest("threejs_code: an edit needs the code (or scene) to change")
        if not prompt.strip() and not error:
            raise BadRequest("prompt: an edit needs a prompt saying what to change (or an error)")
    elif sketch is None and image is None:
        raise BadRequest("sketch: send a sketch or image_base64 (a PNG)")
    return TaskSpec(
        type=task_type,
        provider=_provider(body),
        sketch=sketch,
        image=image,
        prompt=prompt,
        threejs_code=code,
        error=error,
        options=options,
        **_task_id(body),
    )


def trellis_spec(body: Mapping[str, Any]) -> TaskSpec:
    """The spec for ``POST trellis/task`` (PiAPI-shaped body plus ``sketch``/``provider``)."""
    task_type = body.get("task_type", "image-to-3d")
    if task_type != "image-to-3d":
        raise BadRequest(f"task_type: only 'image-to-3d' is supported, got {task_type!r}")
    inputs = body.get("input", {})
    if not isinstance(inputs, dict):
        raise BadRequest("input: expected an object with image and options")
    image_value = inputs.get("image")
    if isinstance(image_value, str) and image_value.startswith(("http://", "https://")):
        raise BadRequest("input.image: send the PNG itself (base64 or data URL), not a URL")
    sketch, _ = _drawing(body, "image")
    _, image = (
        _drawing({"image": image_value}, "image") if image_value is not None else (None, None)
    )
    if sketch is None and image is None:
        raise BadRequest("input.image: send a PNG (base64 or data URL) or a sketch")
    options = {k: inputs[k] for k in TRELLIS_OPTIONS if k in inputs}
    for key, value in options.items():
        _bounded({key: value}, key, 0, 2**32, integer=key.endswith(("seed", "steps")))
    options.update(_options(body))
    if isinstance(body.get("model"), str):
        options["remote_model"] = body["model"]
    return TaskSpec(
        type="model",
        provider=_provider(body),
        sketch=sketch,
        image=image,
        prompt=_string(body, "prompt", MAX_PROMPT),
        options=options,
        **_task_id(body),
    )
