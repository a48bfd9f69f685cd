"""The sketch format (docs/protocol.md, "The sketch"): validate it, render it to PNG, accept a PNG.

A sketch is plain JSON-able data::

    {"version": 1, "width": 640, "height": 480, "background": "#ffffff",
     "strokes": [{"points": [[x, y, pressure], ...], "color": "#1e1e1e", "width": 4}],
     "texts": [{"x": 10, "y": 20, "text": "a red apple", "color": "#e03131", "size": 24}]}

A label's ``color`` and ``size`` (font size in sketch pixels) are optional.

Everything that enters the package from outside goes through :func:`validate_sketch`
or :func:`decode_png`, so the rest of the code can trust its input.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import VibeDrawError

MAX_STROKES = 2_000
MAX_POINTS_PER_STROKE = 20_000
MAX_POINTS_TOTAL = 200_000
MAX_SIDE = 8_000
MAX_IMAGE_PIXELS = 16_000_000
MAX_TEXTS = 200
MAX_TEXT_LENGTH = 2_000
DEFAULT_COLOR = "#1e1e1e"
LABEL_SIZE = 24  # font size of a text label, in sketch pixels (js/src/draw/strokes.js too)
CLAY_COLOR = "#9aa5b1"
"""What the default ink becomes on a 3D surface (see :func:`solid_color`)."""


def solid_color(color: str) -> str:
    """The colour a stroke gives a 3D surface: its own, except the default ink (no colour
    chosen), which would render as a black silhouette, lit or not, and vanish on a dark
    preview: that becomes a neutral clay grey."""
    return CLAY_COLOR if color.lower() == DEFAULT_COLOR else color


_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class SketchError(VibeDrawError, ValueError):
    """An invalid sketch or image; ``field`` names what to fix (e.g. ``strokes[3].points``)."""

    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"`{field}`: {message}")
        self.field = field
        self.detail = message

    def __reduce__(self) -> tuple[type[SketchError], tuple[str, str]]:
        # Raised inside a CPU-pool worker, it must survive pickling back to the server;
        # the default rebuilds from the formatted message alone and breaks the pool.
        return (type(self), (self.field, self.detail))


@dataclass
class Sketch:
    """A validated sketch. ``Sketch.from_any`` accepts a dict, JSON text/path, or PNG."""

    width: int = 640
    height: int = 480
    background: str = "#ffffff"
    strokes: list[dict[str, Any]] = field(default_factory=list)
    texts: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any) -> Sketch:
        """Validate ``data`` (docs/protocol.md, The sketch) and wrap it; raises
        :class:`SketchError`."""
        clean = validate_sketch(data)
        return cls(
            width=clean["width"],
            height=clean["height"],
            background=clean["background"],
            strokes=clean["strokes"],
            texts=clean["texts"],
        )

    @classmethod
    def from_any(cls, source: Any) -> Sketch:
        """A sketch from a dict, a ``Sketch``, JSON text, a ``.json``/``.png`` path or PNG bytes."""
        if isinstance(source, Sketch):
            return source
        if isinstance(source, Mapping):
            return cls.from_dict(source)
        if isinstance(source, (bytes, bytearray)):
            return cls.from_png(bytes(source))
        if isinstance(source, (str, Path)):
            text = str(source)
            if text.lstrip().startswith("{"):
                return cls.from_dict(parse_json(text, "sketch"))
            if text.startswith("data:image"):
                return cls.from_png(decode_png(text))
            path = Path(source)
            try:
                exists = path.is_file()
            except OSError:  # e.g. a long non-JSON string: "file name too long"
                exists = False
            if not exists:
                raise SketchError("input", f"no such file: {text[:120]}")
            if path.suffix.lower() == ".png":
                return cls.from_png(path.read_bytes())
            return cls.from_dict(parse_json(path.read_text(), str(path)))
        raise SketchError(
            "input", f"expected a sketch dict, JSON or PNG, got {type(source).__name__}"
        )

    @classmethod
    def from_png(cls, png: bytes) -> Sketch:
        """Trace a PNG drawing into strokes (thresholded, thinned, followed)."""
        from .trace import trace_png  # numpy/PIL work, imported on demand

        return cls.from_dict(trace_png(decode_png(png)))

    def to_dict(self) -> dict[str, Any]:
        """The sketch as JSON data (docs/protocol.md, The sketch)."""
        return {
            "version": 1,
            "width": self.width,
            "height": self.height,
            "background": self.background,
            "strokes": self.strokes,
            "texts": self.texts,
        }

    def to_png(self, scale: float = 1.0) -> bytes:
        """Render to PNG bytes, looking as the pad draws it."""
        return render_png(self.to_dict(), scale=scale)

    @property
    def prompt_text(self) -> str:
        """The sketch's text labels joined, as they feed the prompt."""
        return " ".join(t["text"] for t in self.texts if t["text"].strip())

    def __repr__(self) -> str:
        points = sum(len(s["points"]) for s in self.strokes)
        return (
            f"Sketch({self.width}x{self.height}, {len(self.strokes)} strokes, "
            f"{points} points, {len(self.texts)} texts)"
        )


def parse_json(text: str | bytes, where: str = "body") -> Any:
    """``json.loads`` that refuses NaN/Infinity and reports failures as :class:`SketchError`."""

    def no_constants(name: str) -> Any:
        raise SketchError(where, f"{name} is not valid JSON")

    try:
        return json.loads(text, parse_constant=no_constants)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SketchError(where, f"not valid JSON ({exc})") from None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SketchError(where, f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise SketchError(where, f"{value} is not a finite number")
    return float(value)


def _color(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _HEX_COLOR.match(value):
        raise SketchError(where, f"expected a colour like '#1e1e1e', got {value!r}")
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value.lower()


def _side(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    number = _number(value, key)
    if not 1 <= number <= MAX_SIDE:
        raise SketchError(key, f"must be between 1 and {MAX_SIDE}, got {value}")
    return int(round(number))


def _point(point: Any) -> list[float]:
    """A clean ``[x, y, pressure]``. Errors name the field relative to the point (``[1]``):
    the caller adds where the point is only when one fails, since formatting that for
    every point was most of the cost of checking a sketch."""
    if not isinstance(point, (list, tuple)) or len(point) not in (2, 3):
        raise SketchError("", "expected [x, y] or [x, y, pressure]")
    x = _number(point[0], "[0]")
    y = _number(point[1], "[1]")
    pressure = _number(point[2], "[2]") if len(point) == 3 else 0.5
    if abs(x) > 10 * MAX_SIDE or abs(y) > 10 * MAX_SIDE:
        raise SketchError("", f"({x}, {y}) is far outside any canvas")
    return [x, y, min(max(pressure, 0.0), 1.0)]


def _points(raw: Any, where: str) -> list[list[float]]:
    if not isinstance(raw, list):
        raise SketchError(where, f"expected a list of [x, y(, pressure)], got {type(raw).__name__}")
    if len(raw) > MAX_POINTS_PER_STROKE:
        raise SketchError(where, f"{len(raw)} points is more than {MAX_POINTS_PER_STROKE}")
    points: list[list[float]] = []
    try:
        for point in raw:
            points.append(_point(point))
    except SketchError as exc:
        raise SketchError(f"{where}[{len(points)}]{exc.field}", exc.detail) from None
    return points


def _stroke(raw: Any, index: int) -> dict[str, Any]:
    where = f"strokes[{index}]"
    if not isinstance(raw, Mapping):
        raise SketchError(where, "expected an object with points, color, width")
    width = _number(raw.get("width", 4), f"{where}.width")
    if not 0 < width <= 200:
        raise SketchError(f"{where}.width", f"must be in (0, 200], got {width}")
    return {
        "points": _points(raw.get("points"), f"{where}.points"),
        "color": _color(raw.get("color", DEFAULT_COLOR), f"{where}.color"),
        "width": width,
    }


def _text(raw: Any, index: int) -> dict[str, Any]:
    where = f"texts[{index}]"
    if not isinstance(raw, Mapping):
        raise SketchError(where, "expected an object with x, y, text")
    text = raw.get("text")
    if not isinstance(text, str):
        raise SketchError(f"{where}.text", "expected a string")
    if len(text) > MAX_TEXT_LENGTH:
        raise SketchError(f"{where}.text", f"longer than {MAX_TEXT_LENGTH} characters")
    label = {
        "x": _number(raw.get("x", 0), f"{where}.x"),
        "y": _number(raw.get("y", 0), f"{where}.y"),
        "text": text,
    }
    # Colour and size are optional (older sketches have neither): kept only when given.
    if raw.get("color") is not None:
        label["color"] = _color(raw["color"], f"{where}.color")
    if raw.get("size") is not None:
        size = _number(raw["size"], f"{where}.size")
        if not 4 <= size <= 400:
            raise SketchError(f"{where}.size", f"must be between 4 and 400, got {size}")
        label["size"] = size
    return label


def validate_sketch(data: Any) -> dict[str, Any]:
    """Check ``data`` against the sketch format (docs/protocol.md) and return a clean copy
    (pressure filled in).

    Raises :class:`SketchError` naming the first bad field, e.g.
    ``strokes[3].points[7][0]: nan is not a finite number``.
    """
    if isinstance(data, Sketch):
        data = data.to_dict()  # a plain dataclass: its fields may have changed since
    if not isinstance(data, Mapping):
        raise SketchError("sketch", f"expected an object, got {type(data).__name__}")
    version = data.get("version", 1)
    if version != 1:
        raise SketchError("version", f"only version 1 is supported, got {version!r}")
    strokes = data.get("strokes", [])
    if not isinstance(strokes, list):
        raise SketchError("strokes", "expected a list")
    if len(strokes) > MAX_STROKES:
        raise SketchError("strokes", f"{len(strokes)} strokes is more than {MAX_STROKES}")
    texts = data.get("texts", [])
    if not isinstance(texts, list) or len(texts) > MAX_TEXTS:
        raise SketchError("texts", f"expected a list of at most {MAX_TEXTS} labels")
    clean_strokes = [_stroke(s, i) for i, s in enumerate(strokes)]
    total = sum(len(s["points"]) for s in clean_strokes)
    if total > MAX_POINTS_TOTAL:
        raise SketchError("strokes", f"{total} points in all is more than {MAX_POINTS_TOTAL}")
    return {
        "version": 1,
        "width": _side(data, "width", 640),
        "height": _side(data, "height", 480),
        "background": _color(data.get("background", "#ffffff"), "background"),
        "strokes": clean_strokes,
        "texts": [_text(t, i) for i, t in enumerate(texts)],
    }


def decode_png(image: str | bytes, where: str = "image_base64") -> bytes:
    """PNG bytes from raw bytes, base64 text, or a ``data:image/png;base64,`` URL.

    The header is checked and the pixel count limited before anything is decoded, so
    a decompression bomb is refused cheaply.
    """
    if isinstance(image, str):
        text = image.strip()
        if text.startswith("data:"):
            header, _, text = text.partition(",")
            if ";base64" not in header:
                raise SketchError(where, "a data URL must be base64-encoded")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise SketchError(where, "not valid base64") from None
    else:
        raw = bytes(image)
    if not raw.startswith(_PNG_MAGIC):
        raise SketchError(where, "not a PNG image")
    if len(raw) < 24:
        raise SketchError(where, "truncated PNG")
    width = int.from_bytes(raw[16:20], "big")
    height = int.from_bytes(raw[20:24], "big")
    if width == 0 or height == 0 or width * height > MAX_IMAGE_PIXELS:
        raise SketchError(
            where,
            f"{width}x{height} pixels is outside the allowed size "
            f"(at most {MAX_IMAGE_PIXELS / 1e6:g} megapixels)",
        )
    _check_png_chunks(raw, where)
    return raw


def _check_png_chunks(raw: bytes, where: str) -> None:
    """Refuse a damaged PNG now, with a message naming the field, rather than later in a
    worker. Pillow's ``verify`` walks the chunks and their checksums without decoding
    the pixels, so it costs little even for a large image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SketchError(where, f"a damaged PNG ({exc})") from None


def render_png(sketch: Mapping[str, Any] | Sketch, scale: float = 1.0) -> bytes:
    """Draw a sketch to PNG bytes: round-capped strokes whose width follows pressure."""
    from PIL import Image, ImageDraw

    data = validate_sketch(sketch)
    size = (max(1, round(data["width"] * scale)), max(1, round(data["height"] * scale)))
    image = Image.new("RGB", size, data["background"])
    draw = ImageDraw.Draw(image)
    for stroke in data["strokes"]:
        _draw_stroke(draw, stroke, scale)
    for label in data["texts"]:
        _draw_label(draw, label, scale)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _draw_stroke(draw: Any, stroke: Mapping[str, Any], scale: float) -> None:
    color = stroke["color"]
    points = stroke["points"]
    for i, (x, y, pressure) in enumerate(points):
        # Pressure 0.5 (the default) draws the nominal width, as the pad does.
        radius = max(0.5, stroke["width"] * scale * (0.5 + pressure) / 2)
        cx, cy = x * scale, y * scale
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=color)
        if i:
            px, py, _ = points[i - 1]
            draw.line((px * scale, py * scale, cx, cy), fill=color, width=round(2 * radius))


def _draw_label(draw: Any, label: Mapping[str, Any], scale: float) -> None:
    """A label as the pad draws it: its colour, ``size`` sketch pixels, top-left at x, y."""
    from PIL import ImageFont

    size = label.get("size", LABEL_SIZE) * scale
    font = ImageFont.load_default(size=max(1.0, size))
    position = (label["x"] * scale, label["y"] * scale)
    draw.text(position, label["text"], fill=label.get("color", DEFAULT_COLOR), font=font)


def png_to_base64(png: bytes) -> str:
    """Bare base64 text of PNG bytes (what the HTTP API carries in ``image_base64``)."""
    return base64.b64encode(png).decode("ascii")
