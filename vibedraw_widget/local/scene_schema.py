"""The scene schema (docs/protocol.md, "Edit scenes"): :func:`check_scene` accepts a scene
that came from outside (an edit's ``scene`` field, or the description read back from code)
only when every field that reaches editing or code generation has the documented shape,
and returns a clean copy holding those fields only.

Part names become JavaScript identifiers, colours hex literals, numbers are pasted in,
kinds and roles are written into comments: so names are identifiers, kinds come from a
fixed table, roles are plain words, colours ``#rrggbb``, numbers finite and bounded, and
each primitive carries exactly the parameters it is built from. A scene that passes
cannot fail later with a ``KeyError`` or write anything but code.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import VibeDrawError
from .recognize import KINDS


class SceneError(VibeDrawError, ValueError):
    """A scene description from outside that cannot be used; the message names the field."""

    status = 400


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ROLE = re.compile(r"^[A-Za-z][A-Za-z0-9_ -]{0,63}$")
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

_RESERVED = frozenset(
    "await break case catch class const continue debugger default delete do else enum "
    "export extends false finally for function if implements import in instanceof "
    "interface let new null package private protected public return static super switch "
    "this throw true try typeof var void while with yield root THREE ctx".split()
)

PART_KINDS = (*KINDS, "extra")
"""A part's ``kind``: the recognised shape it came from, or ``extra`` (added by an edit)."""

MAX_PARTS = 500
MAX_POINTS = 2_000
"""Points in one outline, profile or tube path."""
MAX_TEXT = 200
"""Characters of ``title`` and ``object``."""
MAX_NUMBER = 1e6
"""Largest magnitude of any number (a scene is a few units across)."""

_POINT_PARAMS = {"prism": (2, 3), "extrusion": (2, 3), "lathe": (2, 2), "tube": (3, 2)}
"""Primitives built from ``params.points``: (coordinates per point, fewest points)."""

PRIMITIVE_PARAMS: dict[str, tuple[str, ...]] = {
    "sphere": ("radius",),
    "box": ("width", "height", "depth"),
    "cone": ("radius", "height"),
    "cylinder": ("radiusTop", "radiusBottom", "height"),
    "prism": ("points", "depth"),
    "extrusion": ("points", "depth"),
    "lathe": ("points",),
    "tube": ("points", "radius"),
    "group": (),
}
"""Each primitive's ``params``, all required, no others. Sizes are numbers ≥ 0."""

_MATERIAL = ("roughness", "metalness", "opacity")
_WHEEL = ("radius", "track", "width")


def check_scene(scene: Any, where: str = "scene") -> dict[str, Any]:
    """A clean copy of ``scene`` if it follows the schema; else :class:`SceneError` naming
    the field (``scene.parts[2].params.radius: …``)."""
    if not isinstance(scene, dict):
        raise SceneError(f"{where}: expected an object (a scene description)")
    version = scene.get("version", 1)
    if version != 1 or isinstance(version, bool):
        raise SceneError(f"{where}.version: only version 1 is supported, got {version!r}")
    raw_parts = scene.get("parts")
    if not isinstance(raw_parts, list):
        raise SceneError(f"{where}.parts: expected a list of parts")
    if len(raw_parts) > MAX_PARTS:
        raise SceneError(f"{where}.parts: more than {MAX_PARTS} parts")
    parts: list[dict[str, Any]] = []
    groups: set[str] = set()  # names of earlier root parts, which children may name
    names: set[str] = set()
    for i, raw in enumerate(raw_parts):
        part = _part(raw, f"{where}.parts[{i}]", names, groups)
        names.add(part["name"])
        if part["parent"] is None:
            groups.add(part["name"])
        parts.append(part)
    transform = scene.get("transform") or {}
    if not isinstance(transform, dict):
        raise SceneError(f"{where}.transform: expected an object with position, rotation, scale")
    _no_others(transform, ("position", "rotation", "scale"), f"{where}.transform")
    return {
        "version": 1,
        "object": _text(scene.get("object"), f"{where}.object"),
        "title": _text(scene.get("title"), f"{where}.title") or "",
        "transform": {
            "position": _vector(
                transform.get("position", [0, 0, 0]), f"{where}.transform.position"
            ),
            "rotation": _vector(
                transform.get("rotation", [0, 0, 0]), f"{where}.transform.rotation"
            ),
            "scale": _vector(transform.get("scale", [1, 1, 1]), f"{where}.transform.scale"),
        },
        "parts": parts,
    }


def _part(raw: Any, where: str, names: set[str], groups: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SceneError(f"{where}: expected an object")
    name = raw.get("name")
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or name in _RESERVED:
        raise SceneError(
            f"{where}.name: {_shown(name)} is not a usable identifier "
            "(letters, digits and _, not a JavaScript keyword, at most 64 characters)"
        )
    if name in names:
        raise SceneError(f"{where}.name: {name!r} is used twice")
    role = raw.get("role", name)
    if not isinstance(role, str) or not _ROLE.match(role):
        raise SceneError(f"{where}.role: {_shown(role)} is not a plain word (letters, digits, _ -)")
    kind = raw.get("kind", "extra")
    if kind not in PART_KINDS:
        raise SceneError(f"{where}.kind: {_shown(kind)} is not one of {', '.join(PART_KINDS)}")
    primitive = raw.get("primitive")
    if primitive not in PRIMITIVE_PARAMS:
        raise SceneError(
            f"{where}.primitive: {_shown(primitive)} is not one of {', '.join(PRIMITIVE_PARAMS)}"
        )
    shape_index = raw.get("shape_index")
    if shape_index is not None and (
        isinstance(shape_index, bool)
        or not isinstance(shape_index, int)
        or not 0 <= shape_index < 100_000
    ):
        raise SceneError(f"{where}.shape_index: expected null or a non-negative integer")
    color = raw.get("color")
    if not isinstance(color, str) or not _HEX_COLOR.match(color):
        raise SceneError(f"{where}.color: expected '#rrggbb', got {_shown(color)}")
    parent = raw.get("parent")
    if parent is not None and parent not in groups:
        raise SceneError(
            f"{where}.parent: {_shown(parent)} is not the name of an earlier top-level part"
        )
    part: dict[str, Any] = {
        "name": name,
        "role": role,
        "shape_index": shape_index,
        "kind": kind,
        "primitive": primitive,
        "params": _params(raw.get("params", {}), primitive, f"{where}.params"),
        "position": _vector(raw.get("position"), f"{where}.position"),
        "rotation": _vector(raw.get("rotation", [0, 0, 0]), f"{where}.rotation"),
        "scale": _vector(raw.get("scale", [1, 1, 1]), f"{where}.scale"),
        "color": color.lower(),
        "material": _material(raw.get("material"), f"{where}.material"),
        "parent": parent,
    }
    if raw.get("wheel") is not None:
        if primitive != "group":
            raise SceneError(f"{where}.wheel: only a group part can carry wheels")
        part["wheel"] = _sizes(raw["wheel"], _WHEEL, f"{where}.wheel")
    return part


def _params(raw: Any, primitive: str, where: str) -> dict[str, Any]:
    keys = PRIMITIVE_PARAMS[primitive]
    if not isinstance(raw, dict):
        raise SceneError(f"{where}: expected an object with {', '.join(keys) or 'nothing'}")
    _no_others(raw, keys, where)
    size_keys = tuple(k for k in keys if k != "points")
    sizes = _sizes({k: raw[k] for k in size_keys if k in raw}, size_keys, where)
    if "points" not in keys:
        return sizes
    width, fewest = _POINT_PARAMS[primitive]
    points = raw.get("points")
    if not isinstance(points, list) or not fewest <= len(points) <= MAX_POINTS:
        raise SceneError(f"{where}.points: expected a list of {fewest} to {MAX_POINTS} points")
    clean = []
    for k, point in enumerate(points):
        if not isinstance(point, list) or len(point) != width:
            raise SceneError(f"{where}.points[{k}]: expected {width} numbers")
        clean.append([_number(v, f"{where}.points[{k}]") for v in point])
    return {"points": clean, **sizes}


def _sizes(raw: Any, keys: tuple[str, ...], where: str) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise SceneError(f"{where}: expected an object with {', '.join(keys)}")
    _no_others(raw, keys, where)
    out = {}
    for key in keys:
        if key not in raw:
            raise SceneError(f"{where}.{key}: missing")
        value = _number(raw[key], f"{where}.{key}")
        if value < 0:
            raise SceneError(f"{where}.{key}: must not be negative, got {value}")
        out[key] = value
    return out


def _material(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {"roughness": 0.6, "metalness": 0.05}
    if not isinstance(raw, dict):
        raise SceneError(f"{where}: expected an object (roughness, metalness, opacity, emissive)")
    _no_others(raw, (*_MATERIAL, "emissive"), where)
    out: dict[str, Any] = {}
    for key in _MATERIAL:
        if key in raw:
            value = _number(raw[key], f"{where}.{key}")
            if not 0 <= value <= 1:
                raise SceneError(f"{where}.{key}: must be between 0 and 1, got {value}")
            out[key] = value
    emissive = raw.get("emissive")
    if emissive is not None:
        if not isinstance(emissive, str) or not _HEX_COLOR.match(emissive):
            raise SceneError(f"{where}.emissive: expected '#rrggbb', got {_shown(emissive)}")
        out["emissive"] = emissive.lower()
    return out


def _vector(raw: Any, where: str) -> list[float]:
    if not isinstance(raw, list) or len(raw) != 3:
        raise SceneError(f"{where}: expected three finite numbers")
    return [_number(v, where) for v in raw]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SceneError(f"{where}: expected finite numbers, got {type(value).__name__}")
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise SceneError(f"{where}: expected finite numbers of at most {MAX_NUMBER:g}")
    return float(value) if isinstance(value, float) else value


def _text(value: Any, where: str) -> str | None:
    """Free text (``title``, ``object``): any characters, escaped wherever it is written."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SceneError(f"{where}: expected a string")
    if len(value) > MAX_TEXT:
        raise SceneError(f"{where}: longer than {MAX_TEXT} characters")
    return value


def _no_others(raw: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    extra = [k for k in raw if k not in keys]
    if extra:
        allowed = ", ".join(keys) or "nothing"
        raise SceneError(f"{where}: unexpected field {_shown(extra[0])} (allowed: {allowed})")


def _shown(value: Any) -> str:
    """A value quoted for a message, short and on one line."""
    text = repr(value) if not isinstance(value, str) else repr(value[:40])
    return text[:60]
