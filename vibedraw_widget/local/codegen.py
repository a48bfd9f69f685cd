"""Write a scene description (:mod:`.scene`) as Three.js code, part by part (the contract:
docs/protocol.md, Generated code).

The code is the body of ``async function build(THREE, ctx)``: it makes a ``THREE.Group``
named after the object, one named mesh (or group) per part with a comment saying what it
is, and returns the group. Parts made from a recognised shape carry
``userData.shapeIndex``. It uses only core geometries and ``MeshStandardMaterial`` (the host
owns lights and camera). The scene description itself ends the code as one comment line,
``// vibedraw-scene: {...}``, so that an edit can pick up where the code left off.

:func:`generate_chunks` yields the code in pieces (a header, one piece per part, the
footer) so a provider can stream it; :func:`generate_code` joins them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

SCENE_MARKER = "// vibedraw-scene: "
"""Prefix of the comment line that carries the scene description inside generated code."""


def generate_code(scene: dict[str, Any]) -> str:
    """The whole Three.js code for ``scene``."""
    return "".join(generate_chunks(scene))


def generate_chunks(scene: dict[str, Any]) -> Iterator[str]:
    """The Three.js code for ``scene`` in pieces: header, one piece per part, footer."""
    parts = scene["parts"]
    title = scene.get("title") or scene.get("object") or "sketch"
    root_name = scene.get("object") or "sketch"
    shapes = sum(1 for p in parts if p.get("shape_index") is not None)
    yield (
        f"// {_comment(title)}: {shapes} shape{'s' if shapes != 1 else ''} recognised in the"
        " sketch, built by vibedraw's local provider.\n"
        "// Units: the drawing's larger side is 4; y is up; later strokes sit nearer the camera.\n"
        "const root = new THREE.Group();\n"
        f"root.name = {_js_string(root_name)};\n"
    )
    for part in parts:
        yield "\n" + _part_code(part)
    t = scene.get("transform", {})
    footer = "\n"
    if t.get("position", [0, 0, 0]) != [0, 0, 0]:
        footer += f"root.position.set({_nums(t['position'])});\n"
    if t.get("rotation", [0, 0, 0]) != [0, 0, 0]:
        footer += f"root.rotation.set({_angles(t['rotation'])});\n"
    if t.get("scale", [1, 1, 1]) != [1, 1, 1]:
        footer += f"root.scale.set({_nums(t['scale'])});\n"
    footer += "return root;\n"
    yield footer
    yield SCENE_MARKER + json.dumps(scene, separators=(",", ":")) + "\n"


def scene_from_code(code: str) -> dict[str, Any] | None:
    """The scene description embedded in code made by :func:`generate_code`, or ``None``."""
    for line in code.splitlines():
        line = line.strip()
        if line.startswith(SCENE_MARKER):
            try:
                scene = json.loads(line[len(SCENE_MARKER) :])
            except json.JSONDecodeError:
                return None
            if isinstance(scene, dict) and isinstance(scene.get("parts"), list):
                return scene
    return None


# ---------------------------------------------------------------------------------------
# pieces


def _num(v: float) -> str:
    v = float(v)
    if not math.isfinite(v):
        v = 0.0
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _nums(vs: Any) -> str:
    return ", ".join(_num(v) for v in vs)


def _angles(degrees: Any) -> str:
    return ", ".join(_num(math.radians(v)) for v in degrees)


def _js_string(text: str) -> str:
    return json.dumps(str(text))


def _comment(text: str) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text[:1].upper() + text[1:] if text else "Sketch"


def _hex(color: str) -> str:
    return "0x" + color.lstrip("#").lower()


def _material(part: dict[str, Any]) -> str:
    m = part.get("material") or {}
    fields = [f"color: {_hex(part['color'])}"]
    fields.append(f"roughness: {_num(m.get('roughness', 0.6))}")
    fields.append(f"metalness: {_num(m.get('metalness', 0.0))}")
    if m.get("opacity", 1.0) < 1.0:
        fields += ["transparent: true", f"opacity: {_num(m['opacity'])}"]
    if m.get("emissive"):
        fields += [f"emissive: {_hex(m['emissive'])}", "emissiveIntensity: 0.6"]
    return "new THREE.MeshStandardMaterial({ " + ", ".join(fields) + " })"


_WHAT = {
    "sphere": "sphere",
    "box": "box",
    "cone": "cone",
    "cylinder": "cylinder",
    "prism": "prism (extruded outline)",
    "extrusion": "extrusion with rounded edges",
    "lathe": "lathe (turned profile)",
    "tube": "tube along the stroke",
    "group": "group",
}


def _points2(points: Any) -> str:
    return "[" + ", ".join(f"[{_num(x)}, {_num(y)}]" for x, y in points) + "]"


def _geometry(part: dict[str, Any]) -> tuple[str, list[str]]:
    """A geometry expression, plus statements that must come before it."""
    p = part["params"]
    prim = part["primitive"]
    name = part["name"]
    if prim == "sphere":
        return f"new THREE.SphereGeometry({_num(p['radius'])}, 32, 16)", []
    if prim == "box":
        return f"new THREE.BoxGeometry({_nums([p['width'], p['height'], p['depth']])})", []
    if prim == "cone":
        return f"new THREE.ConeGeometry({_num(p['radius'])}, {_num(p['height'])}, 32)", []
    if prim == "cylinder":
        dims = _nums([p["radiusTop"], p["radiusBottom"], p["height"]])
        return f"new THREE.CylinderGeometry({dims}, 24)", []
    if prim in ("prism", "extrusion"):
        bevel = prim == "extrusion"
        depth = p["depth"] * (0.6 if bevel else 1.0)
        bevel_size = p["depth"] * 0.2
        options = f"depth: {_num(depth)}, " + (
            f"bevelEnabled: true, bevelThickness: {_num(bevel_size)}, "
            f"bevelSize: {_num(bevel_size * 0.5)}, bevelSegments: 4"
            if bevel
            else "bevelEnabled: false"
        )
        pre = [
            f"const {name}Outline = new THREE.Shape({_points2(p['points'])}"
            ".map(([x, y]) => new THREE.Vector2(x, y)));",
            f"const {name}Geometry = new THREE.ExtrudeGeometry({name}Outline, {{ {options} }});",
            f"{name}Geometry.translate(0, 0, {_num(-depth / 2)}); // centre the depth",
        ]
        return f"{name}Geometry", pre
    if prim == "lathe":
        pre = [
            f"const {name}Profile = {_points2(p['points'])}"
            ".map(([r, y]) => new THREE.Vector2(r, y));",
        ]
        return f"new THREE.LatheGeometry({name}Profile, 48)", pre
    if prim == "tube":
        pts = ", ".join(f"new THREE.Vector3({_nums(q)})" for q in p["points"])
        pre = [
            f"const {name}Path = new THREE.CurvePath();",
            f"const {name}Points = [{pts}];",
            f"for (let i = 1; i < {name}Points.length; i++) "
            f"{name}Path.add(new THREE.LineCurve3({name}Points[i - 1], {name}Points[i]));",
        ]
        segments = max(16, 24 * (len(p["points"]) - 1))
        return (
            f"new THREE.TubeGeometry({name}Path, {segments}, {_num(p['radius'])}, 12, false)",
            pre,
        )
    raise ValueError(f"unknown primitive {prim!r} in part {name!r}")


def _part_code(part: dict[str, Any]) -> str:
    name = part["name"]
    kind = part.get("kind", "")
    what = _WHAT.get(part["primitive"], part["primitive"])
    origin = f"{kind} → {what}" if kind and kind != "extra" else what
    lines = [f"// {name}: {origin}"]
    if part["primitive"] == "group":
        lines.append(f"const {name} = new THREE.Group();")
        wheel = part.get("wheel")
        if wheel:
            lines += _wheel_pair(part, wheel)
    else:
        geometry, pre = _geometry(part)
        lines += pre
        lines.append(f"const {name} = new THREE.Mesh({geometry}, {_material(part)});")
    lines.append(f"{name}.name = {_js_string(name)};")
    if any(part["position"]):
        lines.append(f"{name}.position.set({_nums(part['position'])});")
    if any(part["rotation"]):
        lines.append(f"{name}.rotation.set({_angles(part['rotation'])});")
    if part["scale"] != [1, 1, 1]:
        lines.append(f"{name}.scale.set({_nums(part['scale'])});")
    if part.get("shape_index") is not None:
        lines.append(f"{name}.userData.shapeIndex = {int(part['shape_index'])};")
    lines.append(f"{part.get('parent') or 'root'}.add({name});")
    return "\n".join(lines) + "\n"


def _wheel_pair(part: dict[str, Any], wheel: dict[str, Any]) -> list[str]:
    """Two wheels, one each side of the body, axles along z."""
    name = part["name"]
    r, track, width = wheel["radius"], wheel["track"], wheel["width"]
    return [
        f"const {name}Geometry = new THREE.CylinderGeometry({_nums([r, r, width])}, 24);",
        f"{name}Geometry.rotateX(Math.PI / 2); // axle along z",
        f"const {name}Material = {_material(part)};",
        "for (const side of [-1, 1]) {",
        f"  const tyre = new THREE.Mesh({name}Geometry, {name}Material);",
        f"  tyre.name = {_js_string(name)} + (side < 0 ? 'Back' : 'Front');",
        f"  tyre.position.z = side * {_num(track)};",
        f"  {name}.add(tyre);",
        "}",
    ]
