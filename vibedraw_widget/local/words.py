"""The words a prompt or an edit may use: colours, materials, known objects, shape kinds;
and how prompt words tint and dress a scene's parts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

COLORS: dict[str, str] = {
    "red": "#e03131",
    "green": "#2f9e44",
    "blue": "#1971c2",
    "yellow": "#fcc419",
    "orange": "#f08c00",
    "purple": "#7048e8",
    "violet": "#7048e8",
    "pink": "#e64980",
    "brown": "#8b5a2b",
    "black": "#1e1e1e",
    "white": "#f8f9fa",
    "grey": "#868e96",
    "gray": "#868e96",
    "cyan": "#15aabf",
    "teal": "#0c8599",
    "navy": "#1c2e6e",
    "beige": "#e9d8b4",
    "gold": "#f2c94c",
    "golden": "#f2c94c",
    "silver": "#ced4da",
}
"""Colour words understood in prompts and edits."""


MATERIALS: dict[str, dict[str, Any]] = {
    "wooden": {"roughness": 0.85, "metalness": 0.0, "color": "#a0522d"},
    "wood": {"roughness": 0.85, "metalness": 0.0, "color": "#a0522d"},
    "metal": {"roughness": 0.3, "metalness": 0.9, "color": "#aab2bd"},
    "metallic": {"roughness": 0.3, "metalness": 0.9},
    "steel": {"roughness": 0.3, "metalness": 0.9, "color": "#aab2bd"},
    "glass": {"roughness": 0.05, "metalness": 0.0, "opacity": 0.35},
    "shiny": {"roughness": 0.15, "metalness": 0.3},
    "glossy": {"roughness": 0.15, "metalness": 0.1},
    "matte": {"roughness": 1.0, "metalness": 0.0},
    "plastic": {"roughness": 0.4, "metalness": 0.0},
    "gold": {"roughness": 0.25, "metalness": 1.0},
    "golden": {"roughness": 0.25, "metalness": 1.0},
    "silver": {"roughness": 0.2, "metalness": 1.0},
    "glowing": {"emissive": True},
}
"""Material words: MeshStandardMaterial settings (``color`` only when none is named)."""


KNOWN_OBJECTS: dict[str, tuple[str, ...]] = {
    "snowman": ("snowman", "snow man", "snowmen"),
    "house": ("house", "home", "hut", "cabin", "cottage", "barn"),
    "tree": ("tree", "pine", "fir", "oak"),
    "car": ("car", "truck", "bus", "vehicle", "van"),
    "sun": ("sun",),
}
"""Objects with a better arrangement, and the words that name them."""


# Words that name the parts of a scene by the kind of shape they came from.
KIND_WORDS = {
    "ellipse": ("circle", "circles", "ball", "balls", "sphere", "spheres", "ellipse", "oval"),
    "rectangle": ("box", "boxes", "square", "rectangle", "cube", "block"),
    "triangle": ("triangle", "cone", "pyramid"),
    "line": ("line", "lines", "stick", "pole", "rod"),
    "polyline": ("zigzag", "tube", "wire", "path"),
    "blob": ("blob", "shape"),
    "polygon": ("polygon",),
}


def split_words(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:\.\d+)?|\d+(?:\.\d+)?", text.lower())


def known_object(words: Sequence[str]) -> str | None:
    text = " ".join(words)
    for name, names in KNOWN_OBJECTS.items():
        if any(re.search(rf"\b{re.escape(n)}\b", text) for n in names):
            return name
    return None


def parts_named(scene: dict[str, Any], words: Sequence[str]) -> list[dict[str, Any]]:
    """The parts the words name ("the roof", "the circles", "wheels"); empty if none."""
    found = []
    for part in scene["parts"]:
        names = {part["name"].lower(), part["role"], part["role"] + "s"}
        names |= set(KIND_WORDS.get(part["kind"], ()))
        if part["role"] == "crown":
            names |= {"leaves", "foliage", "crown"}
        if part["role"] in ("base", "middle", "body"):
            names |= {"body"}
        if names & set(words):
            found.append(part)
    # children follow their parents
    chosen = {p["name"] for p in found}
    for part in scene["parts"]:
        if part.get("parent") in chosen and part not in found:
            found.append(part)
    return found


def _set_color(part: dict[str, Any], color: str) -> None:
    part["color"] = color


def _set_material(part: dict[str, Any], word: str, colored: bool) -> None:
    spec = dict(MATERIALS[word])
    color = spec.pop("color", None)
    if spec.pop("emissive", False):
        spec["emissive"] = part["color"]
    part["material"] = {**part.get("material", {}), **spec}
    if color and not colored:
        part["color"] = color


def apply_words(scene: dict[str, Any], words: Sequence[str], build: bool) -> list[str]:
    """Apply the colour and material words of ``words`` to their targets. In a prompt
    ("a red roof and blue walls") a word names the parts right after it; otherwise it
    applies to all parts. Returns descriptions of what was done."""
    done = []
    for k, word in enumerate(words):
        if word not in COLORS and word not in MATERIALS:
            continue
        if build:
            targets = parts_named(scene, words[k + 1 : k + 3]) or []
            # "a red apple": the word names no part, so it is the whole object's colour
            if not targets:
                named_later = any(
                    parts_named(scene, words[j + 1 : j + 3])
                    for j in range(len(words))
                    if words[j] in COLORS and j != k
                )
                targets = [] if named_later else scene["parts"]
        else:
            targets = parts_named(scene, words) or scene["parts"]
        if word in COLORS and not (
            word in MATERIALS and any(w in COLORS for w in words if w != word)
        ):
            for part in targets:
                _set_color(part, COLORS[word])
            done.append(f"colour {word}")
        if word in MATERIALS:
            colored = any(w in COLORS and w != word for w in words)
            for part in targets:
                _set_material(part, word, colored or word in COLORS)
            done.append(f"material {word}")
    return done
