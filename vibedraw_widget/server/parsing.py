"""Turn HTTP request bodies into :class:`TaskSpec` s, or a 400 naming the field
(docs/protocol.md, HTTP routes).

Pure functions, so every bad-input case is testable without a server.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any

from ..engine.tasks import TaskSpec, valid_task_id
from ..errors import VibeDrawError
from ..local.scene_schema import SceneError, check_scene
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
        raise BadRequest(f"body: {exc.detail}") from None
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


def _flag(body: Mapping[str, Any], key: str) -> bool | None:
    """An optional true/false field (``merge``: a mesh as one solid)."""
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{key}: expected true or false, got {type(value).__name__}")
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


class CheckedSketch(dict):  # type: ignore[type-arg]
    """A sketch :func:`validate_sketch` already cleaned off the event loop (a large body):
    :func:`_drawing` takes it as it is instead of checking it twice. Read-only.

    Its points are ``(x, y, pressure)`` tuples, not lists: the garbage collector stops
    tracking a tuple of floats, so a server holding a 200,000-point sketch does not scan
    200,000 more objects in every full collection (a list per point set one off that
    held the event loop for 200 ms). As JSON they are the same.

    It keeps the packed arrays it was unpacked from and pickles as those: a CPU-pool
    worker then receives a few megabytes of floats, not 200,000 small objects to pickle
    on the event loop, and unpickles the plain lists :func:`validate_sketch` gives."""

    packed: dict[str, Any] | None = None

    def __reduce__(self) -> Any:
        if self.packed is None:
            return super().__reduce__()
        return (unpack_sketch, (self.packed,))


def checked_sketch(value: Any) -> dict[str, Any]:
    """``validate_sketch(value)``, its errors as a :class:`BadRequest` naming the field
    under ``sketch`` (``sketch.strokes[3].points[7][0]: …``)."""
    try:
        return validate_sketch(value)
    except SketchError as exc:
        field = exc.field if exc.field == "sketch" else f"sketch.{exc.field}"
        raise BadRequest(f"{field}: {exc.detail}") from None


def _drawing(body: Mapping[str, Any], image_key: str) -> tuple[dict[str, Any] | None, bytes | None]:
    sketch = image = None
    value = body.get("sketch")
    if value is not None:
        sketch = value if isinstance(value, CheckedSketch) else checked_sketch(value)
    if body.get(image_key) is not None:
        if not isinstance(body[image_key], str):
            raise BadRequest(f"{image_key}: expected a base64 PNG or a data URL")
        try:
            image = decode_png(body[image_key], where=image_key)
        except SketchError as exc:
            raise BadRequest(f"{image_key}: {exc.detail}") from None
    return sketch, image


def _not_empty(sketch: dict[str, Any] | None, image: bytes | None) -> None:
    """A task that builds from the drawing needs something drawn: refuse it now rather
    than let it fail in a worker."""
    if image is None and sketch is not None and not any(s["points"] for s in sketch["strokes"]):
        raise BadRequest("sketch.strokes: the sketch is empty; draw something first")


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    options = {
        "max_tokens": _bounded(body, "max_tokens", 1, 128_000, integer=True),
        "temperature": _bounded(body, "temperature", 0.0, 1.0, integer=False),
        "system_prompt": _string(body, "system_prompt", MAX_PROMPT, default=None),
        "detail": _bounded(body, "detail", 0.1, 5.0, integer=False),
        "size": _bounded(body, "size", 0.001, 1000.0, integer=False),
        "merge": _flag(body, "merge"),
    }
    scene = body.get("scene")
    if scene is not None:
        try:
            options["scene"] = check_scene(scene)
        except SceneError as exc:
            raise BadRequest(str(exc)) from None
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
    task_id = _task_id(body)
    provider = _provider(body)
    if task_type == "edit":
        if not code and "scene" not in options:
            raise BadRequest("threejs_code: an edit needs the code (or scene) to change")
        if not prompt.strip() and not error:
            raise BadRequest("prompt: an edit needs a prompt saying what to change (or an error)")
    elif sketch is None and image is None:
        raise BadRequest("sketch: send a sketch or image_base64 (a PNG)")
    else:
        _not_empty(sketch, image)
    return TaskSpec(
        type=task_type,
        provider=provider,
        sketch=sketch,
        image=image,
        prompt=prompt,
        threejs_code=code,
        error=error,
        options=options,
        **task_id,
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
    sketch, _ = _drawing({"sketch": body.get("sketch")}, "image")
    image = None
    if image_value is not None:
        try:
            _, image = _drawing({"image": image_value}, "image")
        except BadRequest as exc:
            raise BadRequest(f"input.{exc}") from None
    if sketch is None and image is None:
        raise BadRequest("input.image: send a PNG (base64 or data URL) or a sketch")
    options = {k: inputs[k] for k in TRELLIS_OPTIONS if k in inputs}
    for key, value in options.items():
        _bounded({f"input.{key}": value}, f"input.{key}", 0, 2**32, key.endswith(("seed", "steps")))
    options.update(_options(body))
    if isinstance(body.get("model"), str):
        options["remote_model"] = body["model"]
    spec = TaskSpec(
        type="model",
        provider=_provider(body),
        sketch=sketch,
        image=image,
        prompt=_string(body, "prompt", MAX_PROMPT),
        options=options,
        **_task_id(body),
    )
    _not_empty(sketch, image)
    return spec


LARGE_BODY = 256 * 1024
"""Bodies from this size on are parsed and checked in the CPU pool (:func:`parse_large_body`),
so one large sketch does not stop the server answering everyone else meanwhile."""


def parse_large_body(raw: bytes) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """:func:`parse_body` and the sketch's check, for a CPU-pool worker.

    Returns the body without its sketch and the checked sketch with each stroke's points
    packed as one float array: a process pool hands arrays back as a copy of their bytes,
    where 200,000 small lists would take the receiving event loop half a second to
    rebuild (:func:`unpack_checked_sketch` turns them back into points)."""
    import numpy as np

    body = parse_body(raw)
    value = body.pop("sketch", None)
    if value is None:
        return body, None
    sketch = checked_sketch(value)
    strokes = [{**s, "points": np.asarray(s["points"], dtype=float)} for s in sketch["strokes"]]
    return body, {**sketch, "strokes": strokes}


def unpack_sketch(packed: dict[str, Any]) -> dict[str, Any]:
    """The sketch :func:`parse_large_body` packed, as :func:`validate_sketch` gives it
    (where a CPU-pool worker unpickles a :class:`CheckedSketch`)."""
    strokes = [{**s, "points": s["points"].reshape(-1, 3).tolist()} for s in packed["strokes"]]
    return {**packed, "strokes": strokes}


UNPACK_CHUNK = 4096
"""Points unpacked between two turns of the event loop (about half a millisecond)."""


async def unpack_checked_sketch(packed: dict[str, Any]) -> CheckedSketch:
    """The sketch :func:`parse_large_body` packed, as a :class:`CheckedSketch`, unpacked on
    the event loop :data:`UNPACK_CHUNK` points at a time with the loop's other callbacks
    run in between (a thread would hold the GIL for up to ``sys.getswitchinterval()``,
    5 ms, each time the loop wanted it back). Each point's tuple is made straight from
    a flat list of floats, with no list per point on the way."""
    strokes = []
    for stroke in packed["strokes"]:
        rows = stroke["points"].reshape(-1, 3)
        points: list[tuple[float, float, float]] = []
        for start in range(0, len(rows), UNPACK_CHUNK):
            flat = rows[start : start + UNPACK_CHUNK].ravel().tolist()
            points += zip(flat[0::3], flat[1::3], flat[2::3], strict=True)
            await asyncio.sleep(0)
        strokes.append({**stroke, "points": points})
    sketch = CheckedSketch({**packed, "strokes": strokes})
    sketch.packed = packed
    return sketch
