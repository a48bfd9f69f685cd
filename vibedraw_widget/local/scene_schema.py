"""The scene schema: :func:`check_scene` accepts a scene (e.g. an edit's ``scene`` field) only
when every field that reaches code generation is of the documented shape.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import VibeDrawError


class SceneError(VibeDrawError, ValueError):
    """A scene description from outside that cannot be used; the message names the field."""

    status = 400


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


_RESERVED = frozenset(
    "await break case catch class const continue debugger default delete do else enum "
    "export extends false finally for function if implements import in instanceof "
    "interface let new null package private protected public return static super switch "
    "this throw true try typeof var void while with yield root THREE ctx".split()
)


MAX_PARTS = 500


def _finite(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return False


def check_scene(scene: Any) -> dict[str, Any]:
    """Check a scene description that came from outside (read back from code, or sent by a
    client) before code is written from it: part names become JavaScript identifiers,
    colours become hex literals, numbers are pasted in. Raises :class:`SceneError`."""
    if not isinstance(scene, dict) or not isinstance(scene.get("parts"), list):
        raise SceneError("scene.parts: expected a list of parts")
    if len(scene["parts"]) > MAX_PARTS:
        raise SceneError(f"scene.parts: more than {MAX_PARTS} parts")
    names: set[str] = set()
    for i, part in enumerate(scene["parts"]):
        where = f"scene.parts[{i}]"
        if not isinstance(part, dict):
            raise SceneError(f"{where}: expected an object")
        name = part.get("name")
        if not isinstance(name, str) or not _IDENTIFIER.match(name) or name in _RESERVED:
            raise SceneError(f"{where}.name: {str(name)[:40]!r} is not a usable identifier")
        if name in names:
            raise SceneError(f"{where}.name: {name!r} is used twice")
        names.add(name)
        if not isinstance(part.get("color"), str) or not _HEX_COLOR.match(part["color"]):
            raise SceneError(f"{where}.color: expected '#rrggbb', got {part.get('color')!r}")
        for key in ("position", "rotation", "scale"):
            value = part.get(key)
            if not (isinstance(value, list) and len(value) == 3 and _finite(value)):
                raise SceneError(f"{where}.{key}: expected three finite numbers")
        params = part.get("params")
        if not isinstance(params, dict) or not all(_finite(v) for v in params.values()):
            raise SceneError(f"{where}.params: expected an object of finite numbers")
    return scene
