"""Plain-language edits of a scene ("make it red", "add a hat", "twice as tall"),
applied without a model; what is not understood raises :class:`EditNotUnderstood`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import VibeDrawError
from .parts import half_extents, part_bottom, part_center, part_top
from .scene import new_part, tidy, unique_name
from .words import COLORS, apply_words, parts_named, split_words


class EditNotUnderstood(VibeDrawError, ValueError):
    """An edit instruction (or part of one) that :func:`apply_edit` cannot carry out."""

    status = 400


EDIT_HELP = (
    "colours (make it red, paint the roof blue), materials (wooden, metal, glass, shiny, "
    "matte), size (bigger, smaller, twice as big, twice as tall, wider, half the size), "
    "rotation (rotate 45 degrees, rotate 90 degrees around x, upside down), moves (move "
    "left/right/up/down/forward/back, by N units), adding parts (add a hat, eyes, a nose, "
    "buttons, wheels, a door, windows, a chimney) and removing parts (remove the hat)"
)
"""What :func:`apply_edit` understands, for error messages."""


_NUMBERS = {
    "once": 1,
    "one": 1,
    "twice": 2,
    "two": 2,
    "double": 2,
    "three": 3,
    "thrice": 3,
    "triple": 3,
    "four": 4,
    "five": 5,
    "half": 0.5,
    "ten": 10,
}


_AXIS_OF = {
    "tall": 1, "taller": 1, "high": 1, "higher": 1, "short": 1, "shorter": 1,
    "wide": 0, "wider": 0, "broad": 0, "broader": 0, "narrow": 0, "narrower": 0, "thin": 0,
    "thinner": 0, "long": 0, "longer": 0,
    "deep": 2, "deeper": 2, "thick": 2, "thicker": 2, "flat": 2, "flatter": 2,
}  # fmt: skip


_SHRINK = {"short", "shorter", "narrow", "narrower", "thin", "thinner", "flat", "flatter"}


_MOVES = {
    "left": (0, -1), "right": (0, 1), "up": (1, 1), "upward": (1, 1), "upwards": (1, 1),
    "higher": (1, 1), "down": (1, -1), "downward": (1, -1), "lower": (1, -1),
    "forward": (2, 1), "forwards": (2, 1), "closer": (2, 1), "front": (2, 1),
    "back": (2, -1), "backward": (2, -1), "backwards": (2, -1), "away": (2, -1),
}  # fmt: skip


def apply_edit(scene: dict[str, Any], instruction: str) -> tuple[dict[str, Any], list[str]]:
    """Apply a plain-language edit to a copy of ``scene``.

    Returns the new scene and a list of what was done. Every clause of ``instruction``
    (split at commas, "and", "then", full stops) must be understood, else
    :class:`EditNotUnderstood` is raised naming the clause and listing what is understood
    (:data:`EDIT_HELP`) — an instruction is never silently ignored.
    """
    scene = copy.deepcopy(scene)
    clauses = [
        c.strip() for c in re.split(r"[,.;!\n]|\band\b|\bthen\b|\balso\b", instruction.lower())
    ]
    clauses = [c for c in clauses if split_words(c) and set(split_words(c)) - _FILLER]
    if not clauses:
        raise EditNotUnderstood(f"the edit prompt is empty; I understand {EDIT_HELP}")
    done: list[str] = []
    verb = ""
    for clause in clauses:
        result = _apply_clause(scene, clause)
        if not result and verb:  # "add eyes and a nose": the verb carries over
            result = _apply_clause(scene, f"{verb} {clause}")
        first = split_words(clause)[0]
        if first in _VERBS:
            verb = first
        if not result:
            raise EditNotUnderstood(f"I did not understand {clause!r}; I understand {EDIT_HELP}")
        done += result
    return tidy(scene), done


_VERBS = {"add", "put", "give", "remove", "delete", "rotate", "turn", "move", "paint", "make"}


_FILLER = {"please", "it", "the", "a", "an", "make", "now", "can", "you", "thanks", "thank"}


def _apply_clause(scene: dict[str, Any], clause: str) -> list[str]:
    words = split_words(clause)
    wordset = set(words)
    if wordset & {"add", "put", "give"} or re.search(r"\bwith\b", clause):
        return _add_parts(scene, words)
    if wordset & {"remove", "delete", "without"}:
        return _remove_parts(scene, words)
    if wordset & {"rotate", "turn", "spin", "tilt", "rotated"} or "upside" in wordset:
        return _rotate(scene, words)
    if wordset & {"move", "shift", "slide", "moved"}:
        return _move(scene, words)
    sized = _resize(scene, words)
    if sized:
        return sized
    return apply_words(scene, words, build=False)


def _number(words: Sequence[str], default: float | None = None) -> float | None:
    for w in words:
        if re.fullmatch(r"\d+(?:\.\d+)?", w):
            return float(w)
        if w in _NUMBERS:
            return float(_NUMBERS[w])
    return default


def _transforms(scene: dict[str, Any], words: Sequence[str]) -> list[dict[str, Any]]:
    """What a transform edit acts on: the named parts, else the whole object."""
    parts = [p for p in parts_named(scene, words) if p.get("parent") is None]
    return parts or [scene["transform"]]


def _resize(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    wordset = set(words)
    factor: float | None = None
    axes = [0, 1, 2]
    axis_words = [w for w in words if w in _AXIS_OF]
    if axis_words:
        axes = [_AXIS_OF[axis_words[0]]]
    if wordset & {"bigger", "larger", "big", "large", "huge", "grow", "enlarge"}:
        factor = 1.5
    elif wordset & {"smaller", "small", "tiny", "shrink", "little"}:
        factor = 1 / 1.5
    elif axis_words:
        factor = 1 / 1.5 if axis_words[0] in _SHRINK else 1.5
    elif "size" in wordset or "scale" in wordset:
        factor = 1.0
    if factor is None:
        return []
    n = _number(words)
    if n is not None:
        if "half" in wordset or n < 1:
            factor = n if n < 1 else 1 / n
        elif factor < 1 and "times" in wordset:
            factor = 1 / n
        else:
            factor = n
    elif "size" in wordset or "scale" in wordset:
        return []
    for target in _transforms(scene, words):
        for axis in axes:
            target["scale"][axis] = round(target["scale"][axis] * factor, 4)
    which = "xyz"[axes[0]] if len(axes) == 1 else "all axes"
    return [f"scale ×{factor:g} along {which}"]


def _rotate(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    if "upside" in words:
        angle, axis = 180.0, 2
    else:
        angle = _number(words, 45.0) or 45.0
        axis = 1
        for k, w in enumerate(words):
            if (
                w in ("x", "y", "z")
                and k
                and words[k - 1] in ("around", "about", "on", "x", "axis")
            ):
                axis = "xyz".index(w)
            elif w in ("x", "y", "z") and k + 1 < len(words) and words[k + 1] == "axis":
                axis = "xyz".index(w)
        if {"clockwise"} & set(words) and "counterclockwise" not in words:
            angle = -angle
        if "left" in words:
            angle = -abs(angle)
    for target in _transforms(scene, words):
        target["rotation"][axis] = round(target["rotation"][axis] + angle, 4)
    return [f"rotate {angle:g}° around {'xyz'[axis]}"]


def _move(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    moves = [_MOVES[w] for w in words if w in _MOVES]
    if not moves:
        return []
    amount = _number(words, 1.0) or 1.0
    for target in _transforms(scene, words):
        for axis, sign in moves:
            target["position"][axis] = round(target["position"][axis] + sign * amount, 4)
    return [f"move {'/'.join(w for w in words if w in _MOVES)} by {amount:g}"]


def _remove_parts(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    targets = parts_named(scene, words)
    if not targets:
        return []
    gone = {p["name"] for p in targets}
    scene["parts"] = [
        p for p in scene["parts"] if p["name"] not in gone and p.get("parent") not in gone
    ]
    return [f"remove {', '.join(sorted(gone))}"]


def _root_parts(scene: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in scene["parts"] if p.get("parent") is None]


def _head(scene: dict[str, Any]) -> dict[str, Any] | None:
    """The part a face or a hat belongs on: the head, else the highest round part, else
    the highest part."""
    parts = _root_parts(scene)
    if not parts:
        return None
    for p in parts:
        if p["role"] == "head":
            return p
    rounds = [p for p in parts if p["primitive"] == "sphere"]
    return max(rounds or parts, key=part_top)


def _body(scene: dict[str, Any]) -> dict[str, Any] | None:
    parts = _root_parts(scene)
    for role in ("body", "walls"):
        for p in parts:
            if p["role"] == role:
                return p
    if not parts:
        return None
    return max(parts, key=lambda p: np.prod(half_extents(p)[:2]))


def _extra(
    scene: dict[str, Any], role: str, primitive: str, params: dict, position, color: str, **kw
) -> dict:
    part = new_part(None, "extra", primitive, params, position, color, role=role, **kw)
    part["name"] = unique_name(scene, role)
    scene["parts"].append(part)
    return part


def _add_hat(scene: dict[str, Any]) -> None:
    head = _head(scene)
    if head is None:
        return
    x, _, z = part_center(head)
    r = max(half_extents(head)[0], 0.1)
    top = part_top(head) - 0.1 * r
    hat = _extra(scene, "hat", "group", {}, [x, top, z], "#1e1e1e")
    _extra(
        scene,
        "hatBrim",
        "cylinder",
        {"radiusTop": r * 1.1, "radiusBottom": r * 1.1, "height": r * 0.08},
        [0, r * 0.04, 0],
        "#1e1e1e",
    )["parent"] = hat["name"]
    _extra(
        scene,
        "hatCrown",
        "cylinder",
        {"radiusTop": r * 0.65, "radiusBottom": r * 0.7, "height": r * 0.8},
        [0, r * 0.48, 0],
        "#1e1e1e",
    )["parent"] = hat["name"]


def _face_point(head: dict[str, Any], dx: float, dy: float) -> list[float]:
    """A point on the front of ``head`` at (dx, dy) times its half sizes from its centre."""
    x, y, z = part_center(head)
    hx, hy, hz = half_extents(head)
    t = max(1 - dx * dx - dy * dy, 0.05)
    depth = hz * math.sqrt(t) if head["primitive"] == "sphere" else hz
    return [x + dx * hx, y + dy * hy, z + depth]


def _add_eyes(scene: dict[str, Any]) -> None:
    head = _head(scene)
    if head is None:
        return
    r = max(min(half_extents(head)[:2]) * 0.12, 0.02)
    for side, dx in (("Left", -0.35), ("Right", 0.35)):
        _extra(scene, f"eye{side}", "sphere", {"radius": r}, _face_point(head, dx, 0.25), "#1e1e1e")


def _add_nose(scene: dict[str, Any]) -> None:
    head = _head(scene)
    if head is None:
        return
    r = max(min(half_extents(head)[:2]) * 0.12, 0.02)
    pos = _face_point(head, 0.0, 0.0)
    pos[2] += r * 1.5
    _extra(
        scene, "nose", "cone", {"radius": r, "height": r * 4}, pos, "#f08c00", rotation=[90, 0, 0]
    )


def _add_buttons(scene: dict[str, Any]) -> None:
    body = next((p for p in _root_parts(scene) if p["role"] == "middle"), None) or _body(scene)
    if body is None:
        return
    r = max(min(half_extents(body)[:2]) * 0.08, 0.02)
    for k, dy in enumerate((0.4, 0.0, -0.4), start=1):
        _extra(scene, f"button{k}", "sphere", {"radius": r}, _face_point(body, 0.0, dy), "#1e1e1e")


def _add_wheels(scene: dict[str, Any]) -> None:
    body = _body(scene)
    if body is None:
        return
    x, _, z = part_center(body)
    hx, hy, hz = half_extents(body)
    r = max(hy * 0.45, 0.05)
    bottom = part_bottom(body)
    for side, dx in (("Front", 0.6), ("Rear", -0.6)):
        wheel = _extra(scene, f"wheel{side}", "group", {}, [x + dx * hx, bottom, z], "#212529")
        wheel["wheel"] = {"radius": r, "track": hz + r * 0.15, "width": r * 0.5}


def _house_walls(scene: dict[str, Any]) -> dict[str, Any] | None:
    return next((p for p in _root_parts(scene) if p["role"] == "walls"), None) or _body(scene)


def _add_door(scene: dict[str, Any]) -> None:
    walls = _house_walls(scene)
    if walls is None:
        return
    x, _, z = part_center(walls)
    hx, hy, hz = half_extents(walls)
    w, h = hx * 0.45, hy * 1.1
    _extra(
        scene,
        "door",
        "box",
        {"width": w, "height": h, "depth": 0.04},
        [x, part_bottom(walls) + h / 2, z + hz],
        "#6d4c41",
    )


def _add_windows(scene: dict[str, Any]) -> None:
    walls = _house_walls(scene)
    if walls is None:
        return
    x, y, z = part_center(walls)
    hx, hy, hz = half_extents(walls)
    s = min(hx, hy) * 0.4
    for side, dx in (("Left", -0.6), ("Right", 0.6)):
        _extra(
            scene,
            f"window{side}",
            "box",
            {"width": s, "height": s, "depth": 0.04},
            [x + dx * hx, y + 0.3 * hy, z + hz],
            "#a5d8ff",
        )


def _add_chimney(scene: dict[str, Any]) -> None:
    walls = _house_walls(scene)
    if walls is None:
        return
    x, _, z = part_center(walls)
    hx, hy, _ = half_extents(walls)
    roof = next((p for p in _root_parts(scene) if p["role"] == "roof"), None)
    top = part_top(roof) if roof else part_top(walls)
    h = (top - part_top(walls)) * 0.8 + hy * 0.3
    _extra(
        scene,
        "chimney",
        "box",
        {"width": hx * 0.2, "height": h, "depth": hx * 0.2},
        [x + hx * 0.5, part_top(walls) + h / 2, z],
        "#8b5a2b",
    )


_ADDERS = {
    "hat": _add_hat,
    "cap": _add_hat,
    "eyes": _add_eyes,
    "eye": _add_eyes,
    "nose": _add_nose,
    "carrot": _add_nose,
    "buttons": _add_buttons,
    "button": _add_buttons,
    "wheels": _add_wheels,
    "wheel": _add_wheels,
    "door": _add_door,
    "windows": _add_windows,
    "window": _add_windows,
    "chimney": _add_chimney,
}


def _add_parts(scene: dict[str, Any], words: Sequence[str]) -> list[str]:
    done = []
    for w in words:
        if w in _ADDERS and f"add {w}" not in done:
            before = len(scene["parts"])
            _ADDERS[w](scene)
            if len(scene["parts"]) > before:
                new = scene["parts"][before:]
                colour = [c for c in words if c in COLORS]
                if colour:
                    for part in new:
                        part["color"] = COLORS[colour[0]]
                done.append(f"add {w}")
    return done
