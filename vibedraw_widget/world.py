"""The World widget: several results in one 3D scene, arranged by hand, exported as one GLB.

Objects are code results (run in the sandboxed scene page; docs/protocol.md, Generated
code) or meshes (GLB).
In the browser: click an object to select it, drag the gizmo to move / rotate / scale it
(the toolbar picks which), switch between an orbit view and a walk view (WASD, drag to
look). Python sees every change in ``world.objects``.

Export: ``world.save("world.glb")`` composes every object's GLB with its transform, in
Python. Meshes carry their GLB; a code object's GLB is made by the browser's
``GLTFExporter`` as soon as the object is built and sent back over the comm, so a world
that contains code must have been displayed once before it can be saved. Those GLBs arrive
while later cells run: ``await world.wait_for_exports()`` waits for them (or learns that no
browser shows the world), so that Run All saves the same world every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from .errors import VibeDrawError
from .result import Result
from .widget import _esm


class MissingExport(VibeDrawError, RuntimeError):
    """Code objects whose GLB the browser has not sent yet (the world was never shown)."""


def _vector(value: Sequence[float], name: str) -> list[float]:
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        raise traitlets.TraitError(f"`{name}`: expected 3 numbers, got {value!r}") from None
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise traitlets.TraitError(f"`{name}`: expected 3 finite numbers, got {value!r}")
    return out


def transform_matrix(
    position: Sequence[float], rotation: Sequence[float], scale: Sequence[float]
) -> np.ndarray:
    """The 4×4 matrix of a three.js transform (Euler angles in radians, order ``XYZ``)."""
    x, y, z = rotation
    cx, sx, cy, sy, cz, sz = (
        math.cos(x),
        math.sin(x),
        math.cos(y),
        math.sin(y),
        math.cos(z),
        math.sin(z),
    )
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    matrix = np.eye(4)
    matrix[:3, :3] = rx @ ry @ rz @ np.diag(scale)
    matrix[:3, 3] = position
    return matrix


class World(anywidget.AnyWidget):
    """Compose results in one scene; move, rotate and scale them; export one GLB.

    >>> world = World.from_results(results)          # doctest: +SKIP
    >>> world                                        # shows the scene
    >>> world.save("world.glb")                      # doctest: +SKIP
    """

    _esm = _esm("world.js")
    _page = traitlets.Unicode(
        "", help="The scene's shell page (runtime inlined; docs/preview.md)."
    ).tag(sync=True)
    objects = traitlets.List(
        traitlets.Dict(),
        help="Objects: id, label, kind ('code' | 'glb'), code, position, rotation, scale.",
    ).tag(sync=True)
    glbs = traitlets.Dict(help="Mesh bytes of 'glb' objects, by object id.").tag(sync=True)
    view = traitlets.Enum(["orbit", "walk"], "orbit", help="Orbit or walk view.").tag(sync=True)
    mode = traitlets.Enum(
        ["translate", "rotate", "scale"], "translate", help="What dragging the gizmo does."
    ).tag(sync=True)
    selected = traitlets.Unicode("", help="Id of the selected object ('' for none).").tag(sync=True)
    height = traitlets.Int(480, help="Height of the view in pixels.").tag(sync=True)
    errors = traitlets.List(traitlets.Unicode(), help="Errors reported by the scene.").tag(
        sync=True
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.exported: dict[str, bytes] = {}
        """GLBs of code objects, as the browser exported them (by object id)."""
        self._failed: dict[str, str] = {}  # code objects the browser could not build/export
        self._asked = self._answered = 0  # pings sent to the views, the latest answered
        self._wakeups: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.on_msg(self._on_message)
        from .viewer import RuntimeMissing, page

        try:
            self._page = page([], "world", "vibedraw world")
        except RuntimeMissing as exc:
            self.errors = [str(exc)]

    def __repr__(self) -> str:
        kinds = [o["kind"] for o in self.objects]
        return (
            f"<World {len(kinds)} objects ({kinds.count('code')} code, "
            f"{kinds.count('glb')} glb), view={self.view}>"
        )

    @traitlets.validate("objects")
    def _check_objects(self, proposal: Any) -> list[dict[str, Any]]:
        checked = []
        for i, obj in enumerate(proposal["value"]):
            if obj.get("kind") not in ("code", "glb"):
                raise traitlets.TraitError(f"`objects[{i}].kind`: 'code' or 'glb'")
            if obj["kind"] == "code" and not isinstance(obj.get("code"), str):
                raise traitlets.TraitError(f"`objects[{i}].code`: a code object needs code")
            obj = dict(obj)
            for name, default in (("position", 0.0), ("rotation", 0.0), ("scale", 1.0)):
                obj[name] = _vector(obj.get(name, [default] * 3), f"objects[{i}].{name}")
            checked.append(obj)
        return checked

    # -- building ---------------------------------------------------------------------

    def add(
        self,
        item: Result | bytes | str | Path,
        position: Sequence[float] = (0, 0, 0),
        rotation: Sequence[float] = (0, 0, 0),
        scale: Sequence[float] | float = 1.0,
        label: str | None = None,
    ) -> str:
        """Add a result (code or model), GLB bytes or a ``.glb`` file, or Three.js code;
        returns its id.

        ``rotation`` is in radians (three.js Euler ``XYZ``); ``scale`` one number or three.
        """
        object_id = uuid.uuid4().hex[:12]
        if isinstance(scale, (int, float)):
            scale = [float(scale)] * 3
        entry: dict[str, Any] = {
            "id": object_id,
            "position": list(position),
            "rotation": list(rotation),
            "scale": list(scale),
        }
        if isinstance(item, Result):
            if not item.ok:
                raise ValueError(f"{item.label}: cannot add a result that {item.status}")
            label = label or item.label
            if item.glb is not None:
                item = item.glb
            elif item.code is not None:
                item = item.code
            else:
                raise ValueError(f"{item.label}: a {item.kind} result has nothing 3D to add")
        if isinstance(item, Path) or (isinstance(item, str) and item.lower().endswith(".glb")):
            path = Path(item)
            label = label or path.stem
            item = path.read_bytes()  # a .glb file, not a line of Three.js code
        if isinstance(item, (bytes, bytearray)):
            if bytes(item[:4]) != b"glTF":
                raise ValueError("GLB bytes must start with b'glTF'")
            entry.update(kind="glb", label=label or f"mesh {len(self.objects) + 1}")
            self.glbs = {**self.glbs, object_id: bytes(item)}
        else:
            entry.update(
                kind="code", code=str(item), label=label or f"code {len(self.objects) + 1}"
            )
        self.objects = [*self.objects, entry]
        return object_id

    def remove(self, object_id: str) -> None:
        """Remove an object."""
        self._index(object_id)
        self.objects = [o for o in self.objects if o["id"] != object_id]
        self.glbs = {k: v for k, v in self.glbs.items() if k != object_id}
        self.exported.pop(object_id, None)
        self._failed.pop(object_id, None)

    def move(
        self,
        object_id: str,
        position: Sequence[float] | None = None,
        rotation: Sequence[float] | None = None,
        scale: Sequence[float] | float | None = None,
    ) -> None:
        """Set an object's position, rotation (radians) and/or scale."""
        index = self._index(object_id)
        entry = dict(self.objects[index])
        if position is not None:
            entry["position"] = list(position)
        if rotation is not None:
            entry["rotation"] = list(rotation)
        if scale is not None:
            entry["scale"] = [float(scale)] * 3 if isinstance(scale, (int, float)) else list(scale)
        objects = list(self.objects)
        objects[index] = entry
        self.objects = objects

    def _index(self, object_id: str) -> int:
        for index, obj in enumerate(self.objects):
            if obj["id"] == object_id:
                return index
        raise KeyError(f"no object {object_id!r} in this world")

    @classmethod
    def from_results(
        cls,
        results: Iterable[Result],
        spacing: float = 5.0,
        columns: int | None = None,
        **kwargs: Any,
    ) -> World:
        """A world with every completed result laid out on a grid in the ground plane
        (``spacing`` metres apart, ``columns`` per row, default about square). Code and
        mesh results are both 4 m across (the drawing's larger side), so the default
        leaves a metre between neighbours."""
        usable = [r for r in results if r.ok and (r.glb is not None or r.code is not None)]
        world = cls(**kwargs)
        columns = columns or max(1, math.ceil(math.sqrt(len(usable))))
        rows = max(1, math.ceil(len(usable) / columns))
        for i, result in enumerate(usable):
            row, col = divmod(i, columns)
            x = (col - (columns - 1) / 2) * spacing
            z = (row - (rows - 1) / 2) * spacing
            world.add(result, position=(x, 0.0, z))
        return world

    # -- export -----------------------------------------------------------------------

    def missing_exports(self) -> list[str]:
        """Labels of code objects whose GLB the browser has not sent yet."""
        return [
            o["label"] for o in self.objects if o["kind"] == "code" and o["id"] not in self.exported
        ]

    async def wait_for_exports(self, timeout: float = 120.0, ask_timeout: float = 5.0) -> list[str]:
        """Wait until a browser showing this world has sent the GLB of every code object;
        return the labels of those still missing (``[]`` when every one arrived).

        In a notebook cell, before :meth:`save`: ``await world.wait_for_exports()``. It first
        asks the world's views, each of which answers; when none answers within
        ``ask_timeout`` seconds, no browser shows the world (a notebook run unattended,
        e.g. by nbclient) and nothing will come, so it returns then. Otherwise it waits up
        to ``timeout`` seconds for the GLBs; an object the browser fails to build ends the
        wait for it (its error is in :attr:`errors`). The answers reach Python while the
        cell awaits only in kernels that handle widget messages then (ipykernel ≥ 7.4);
        with an older one this returns the missing labels after ``ask_timeout``.
        """
        if not self._unsettled():
            return self.missing_exports()
        self._asked += 1
        asked = self._asked
        self.send({"type": "ping", "id": asked})
        if await self._until(lambda: self._answered >= asked, ask_timeout):
            await self._until(lambda: not self._unsettled(), timeout)
        return self.missing_exports()

    def _unsettled(self) -> list[str]:
        """Ids of code objects with neither a GLB nor an error from the browser yet."""
        return [
            o["id"]
            for o in self.objects
            if o["kind"] == "code" and o["id"] not in self.exported and o["id"] not in self._failed
        ]

    async def _until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition()`` holds, checking it after each message from the
        browser, for at most ``timeout`` seconds; whether it holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            wakeup = loop.create_future()
            self._wakeups.append((loop, wakeup))
            try:
                await asyncio.wait_for(wakeup, remaining)
            except asyncio.TimeoutError:
                pass
            finally:
                self._wakeups.remove((loop, wakeup))
        return True

    def _wake(self) -> None:
        for loop, wakeup in list(self._wakeups):
            loop.call_soon_threadsafe(lambda w=wakeup: w.done() or w.set_result(None))

    def to_glb(self, missing: str = "error") -> bytes:
        """The whole world as one GLB: every object's meshes under one node per object,
        with its transform. ``missing="skip"`` leaves out code objects not exported yet
        (default: raise :class:`MissingExport` naming them)."""
        import trimesh

        if missing not in ("error", "skip"):
            raise ValueError(f"missing={missing!r}: expected 'error' or 'skip'")
        absent = self.missing_exports()
        if absent and missing != "skip":
            raise MissingExport(
                f"no GLB yet for code object(s) {', '.join(absent)}: display the world in a "
                "notebook first (the browser exports code objects as they are built), or "
                "pass missing='skip'"
            )
        scene = trimesh.Scene()
        for obj in self.objects:
            glb = self.glbs.get(obj["id"]) if obj["kind"] == "glb" else self.exported.get(obj["id"])
            if glb is None:
                continue
            loaded = trimesh.load(io.BytesIO(glb), file_type="glb", force="scene")
            placement = transform_matrix(obj["position"], obj["rotation"], obj["scale"])
            for node in loaded.graph.nodes_geometry:
                local, geometry = loaded.graph[node]
                scene.add_geometry(
                    loaded.geometry[geometry],
                    node_name=f"{obj['label']}/{node}",
                    geom_name=f"{obj['label']}/{geometry}",
                    transform=placement @ local,
                )
        if not scene.geometry:
            raise ValueError("the world is empty: nothing to export")
        return scene.export(file_type="glb")

    def save(self, path: str | Path, missing: str = "error") -> Path:
        """Write the world as one GLB file (see :meth:`to_glb`)."""
        path = Path(path)
        path.write_bytes(self.to_glb(missing))
        return path

    # -- messages from the browser ----------------------------------------------------

    def _on_message(self, _: Any, content: dict[str, Any], buffers: list[bytes]) -> None:
        kind = content.get("type")
        if kind == "transform":
            try:
                self.move(content["id"], content["position"], content["rotation"], content["scale"])
            except (KeyError, traitlets.TraitError):
                pass  # an object removed meanwhile, or garbage: ignore
        elif kind == "object-glb" and buffers:
            if any(o["id"] == content.get("id") for o in self.objects):
                self.exported[content["id"]] = bytes(buffers[0])
                self._failed.pop(content["id"], None)
        elif kind == "pong":
            with contextlib.suppress(TypeError, ValueError):
                self._answered = max(self._answered, int(content.get("id")))
        elif kind == "error":
            message = str(content.get("message", ""))
            self.errors = [*self.errors, message][-50:]
            if any(o["id"] == content.get("id") for o in self.objects):
                self._failed[content["id"]] = message
        self._wake()
