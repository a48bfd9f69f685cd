"""The SketchPad widget (anywidget): draw in a notebook, get Three.js code or a mesh.

The front end (``js/src``, bundled into ``static/``) talks to the server extension
directly; where none answers it asks the kernel, which runs the engine in-process
(:func:`~vibedraw_widget.engine.background.default_engine`) and streams into the traits.
Either way Python sees live state: ``pad.sketch``, ``pad.status``, ``pad.progress``,
``pad.code``, ``pad.error``, ``pad.task_id`` and, after a mesh task, ``pad.glb``.
Bytes (PNG, GLB) cross the comm as binary buffers, never as base64 in traits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import io
import threading
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .engine.background import BackgroundEngine, default_engine
from .engine.events import Event
from .engine.tasks import TaskSpec
from .kinds import TASK_TYPE_OF, task_type_of
from .local.printing import export_print
from .result import GenerationCancelled, GenerationError
from .sketch import Sketch, SketchError, render_png, validate_sketch

STATIC = Path(__file__).parent / "static"
BUSY = frozenset({"pending", "running"})
MAX_HISTORY = 200


MISSING_BUNDLE = (
    "{path} is missing: the widget's JavaScript is not built. Run "
    "`npm --prefix js ci && npm --prefix js run build` in the source checkout "
    "(pip install from a clone does this for you)."
)


def _asset(name: str, fallback: str) -> Path | str:
    """The built front-end file (a Path, so ANYWIDGET_HMR=1 watches it), else ``fallback``.

    A missing bundle must not break ``import vibedraw_widget`` (the server and CLI do not
    need it): :class:`SketchPad` raises when made instead.
    """
    path = STATIC / name
    return path if path.is_file() else fallback


def _esm(name: str) -> Path | str:
    """An anywidget ``_esm``: the built bundle, else a stub that shows how to build it."""
    notice = repr(MISSING_BUNDLE.format(path=STATIC / name))
    return _asset(name, f"export default {{ render({{ el }}) {{ el.textContent = {notice}; }} }};")


def check_bundle(name: str = "sketchpad.js") -> Path:
    """The built bundle's path; raises :class:`FileNotFoundError` saying how to build it."""
    path = STATIC / name
    if not path.is_file():
        raise FileNotFoundError(MISSING_BUNDLE.format(path=path))
    return path


class PadTask:
    """A task started by :meth:`SketchPad.generate`: ``await`` it, or ``.result()`` to block.

    Both give the ``complete`` event's data (``content``, the answer; ``code`` where the
    runnable code differs from it; ``model`` …) or raise :class:`GenerationError`.
    """

    def __init__(self, pad: SketchPad, task_id: str, future: concurrent.futures.Future) -> None:
        self.pad = pad
        self.task_id = task_id
        self._future = future

    def __repr__(self) -> str:
        return f"<PadTask {self.task_id} {'done' if self.done() else 'running'}>"

    def done(self) -> bool:
        """Whether the task has ended."""
        return self._future.done()

    @staticmethod
    def _outcome(event: Event) -> dict[str, Any]:
        if event.type == "complete":
            return event.data
        if event.type == "cancelled":
            raise GenerationCancelled("the task was cancelled", event.data)
        raise GenerationError(str(event.data.get("error", "the task failed")), event.data)

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Block until the task ends (works in a notebook cell); the ``complete`` data."""
        return self._outcome(self._future.result(timeout))

    def __await__(self) -> Generator[Any, None, dict[str, Any]]:
        event = yield from asyncio.wrap_future(self._future).__await__()
        return self._outcome(event)

    def cancel(self) -> None:
        """Cancel the task."""
        self.pad.cancel()


class SketchPad(anywidget.AnyWidget):
    """A drawing pad that turns sketches into Three.js code (Make 3D) or meshes (Make mesh).

    >>> pad = SketchPad()                                  # doctest: +SKIP
    >>> pad                                                # draw on it, click Make 3D …
    >>> pad.sketch, pad.code, pad.status                   # … and read the live state
    >>> await pad.generate("code", prompt="a red apple")  # or drive it from Python
    """

    _esm = _esm("sketchpad.js")
    _css = _asset("sketchpad.css", "")

    sketch = traitlets.Dict(
        help="The drawing (docs/protocol.md, The sketch); validated on every change."
    ).tag(sync=True)
    prompt = traitlets.Unicode("", help="Prompt text; the sketch's labels are added.").tag(
        sync=True
    )
    provider = traitlets.Unicode("", help="Code provider ('' = the server's default).").tag(
        sync=True
    )
    model_provider = traitlets.Unicode("", help="Mesh provider ('' = default).").tag(sync=True)
    transport = traitlets.Enum(
        ["auto", "kernel"], "auto", help="'kernel' forces the comm fallback."
    ).tag(sync=True)

    status = traitlets.Unicode(
        "idle", help="idle, pending, running, completed, failed, cancelled"
    ).tag(sync=True)
    progress = traitlets.Float(0.0, help="Progress of the current task, 0..1.").tag(sync=True)
    message = traitlets.Unicode("", help="The latest status message.").tag(sync=True)
    code = traitlets.Unicode(
        "",
        help="Three.js code; grows as a task streams it. Set it from Python (or edit it on "
        "the pad and press Ctrl+Enter) and the preview runs it as the pad's result.",
    ).tag(sync=True)
    previous_code = traitlets.Unicode(
        "", help="The code before the current code task; it comes back if that task fails."
    ).tag(sync=True)
    error = traitlets.Unicode("", help="The last error (task or preview runtime).").tag(sync=True)
    task_id = traitlets.Unicode("", help="The current (or last) task.").tag(sync=True)
    task_type = traitlets.Unicode("", help="3d, edit, improve or model.").tag(sync=True)
    task_transport = traitlets.Unicode("", help="Who runs the task: 'server' or 'kernel'.").tag(
        sync=True
    )
    last_event_id = traitlets.Int(0, help="Id of the last event folded in (for resume).").tag(
        sync=True
    )
    result_kind = traitlets.Unicode("", help="What the preview shows: 'code' or 'model'.").tag(
        sync=True
    )
    merge_mesh = traitlets.Bool(
        False, help="Make mesh unions the parts into one watertight solid (for printing)."
    ).tag(sync=True)
    result_version = traitlets.Int(0, help="Bumped on each new result.").tag(sync=True)
    result_sketch = traitlets.Dict(
        help="The sketch the shown result was made from (the pad flags it stale after a change)."
    ).tag(sync=True)
    glb_url = traitlets.Unicode("", help="Server URL of the last mesh.").tag(sync=True)
    connection = traitlets.Unicode(
        "connecting", help="connecting, connected, reconnecting, offline or kernel"
    ).tag(sync=True)
    providers = traitlets.List(help="Providers the kernel knows (used in kernel mode).").tag(
        sync=True
    )
    _kinds = traitlets.Dict(
        TASK_TYPE_OF, read_only=True, help="Kind → task type, for the front end (kinds.py)."
    ).tag(sync=True)
    _pad_id = traitlets.Unicode(
        help="This pad's id: its views in the browser share one controller by it."
    ).tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)
    can_redo = traitlets.Bool(False).tag(sync=True)

    @traitlets.default("_pad_id")
    def _new_pad_id(self) -> str:
        return uuid.uuid4().hex

    def __init__(
        self,
        sketch: Any = None,
        *,
        width: int = 640,
        height: int = 480,
        engine: BackgroundEngine | None = None,
        **kwargs: Any,
    ) -> None:
        """``sketch``: a starting sketch (dict, JSON text or path, PNG bytes or path);
        ``engine``: the in-process engine for the comm fallback and :meth:`generate`."""
        start = (
            Sketch.from_any(sketch).to_dict()
            if sketch is not None
            else Sketch(width=width, height=height).to_dict()
        )
        check_bundle("sketchpad.js")
        self._engine = engine
        self._undo: list[dict[str, Any]] = []
        self._redo: list[dict[str, Any]] = []
        self._restoring = False
        self._writing_code = 0  # > 0 while a task (not the user) writes `code`
        self._lock = threading.RLock()
        self.glb: bytes | None = None
        """GLB bytes of the last mesh task (``None`` before one completes)."""
        self._kernel_task: PadTask | None = None
        self._task_sketch: dict[str, Any] = {}  # the sketch of the running kernel task
        super().__init__(sketch=start, **kwargs)
        self.on_msg(self._handle_message)
        try:
            from .providers.registry import describe_providers

            self.providers = describe_providers(self.engine.engine.settings)
        except Exception:  # the menu is a convenience; a broken plug-in must not stop the pad
            self.providers = []

    # -- state ------------------------------------------------------------------------------

    @property
    def engine(self) -> BackgroundEngine:
        """The in-process engine (the process-wide default unless one was given)."""
        if self._engine is None:
            self._engine = default_engine()
        return self._engine

    @traitlets.validate("sketch")
    def _valid_sketch(self, proposal: dict[str, Any]) -> dict[str, Any]:
        try:
            return validate_sketch(proposal["value"])
        except SketchError as exc:
            raise traitlets.TraitError(f"invalid sketch: {exc}") from None

    @traitlets.observe("sketch")
    def _record_history(self, change: dict[str, Any]) -> None:
        if self._restoring or change["old"] in (None, {}) or change["old"] == change["new"]:
            return
        self._undo.append(change["old"])
        del self._undo[:-MAX_HISTORY]
        self._redo.clear()
        self._history_flags()

    def _history_flags(self) -> None:
        self.can_undo = bool(self._undo)
        self.can_redo = bool(self._redo)

    def _restore(self, sketch: dict[str, Any]) -> None:
        self._restoring = True
        try:
            self.sketch = sketch
        finally:
            self._restoring = False
        self._history_flags()

    # -- drawing API -----------------------------------------------------------------------

    def load(self, source: Any) -> None:
        """Start from a sketch: a dict, a :class:`Sketch`, JSON text or path, or a PNG
        (bytes or path; traced into strokes). Undoable."""
        self.sketch = Sketch.from_any(source).to_dict()

    def clear(self) -> None:
        """Remove every stroke and label (keeps size and background). Undoable."""
        s = self.sketch
        self.sketch = Sketch(
            width=s["width"], height=s["height"], background=s["background"]
        ).to_dict()

    def undo(self) -> bool:
        """Undo the last change to the sketch; False when there is nothing to undo."""
        if not self._undo:
            return False
        self._redo.append(copy.deepcopy(self.sketch))
        self._restore(self._undo.pop())
        return True

    def redo(self) -> bool:
        """Redo the last undone change; False when there is nothing to redo."""
        if not self._redo:
            return False
        self._undo.append(copy.deepcopy(self.sketch))
        self._restore(self._redo.pop())
        return True

    def to_png(self, scale: float = 1.0) -> bytes:
        """The sketch as PNG bytes, drawn as the pad draws it."""
        return render_png(self.sketch, scale=scale)

    def to_pil(self, scale: float = 1.0) -> Any:
        """The sketch as a ``PIL.Image.Image``."""
        from PIL import Image

        return Image.open(io.BytesIO(self.to_png(scale)))

    # -- generation --------------------------------------------------------------------------

    # -- code set by hand -----------------------------------------------------------------

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Changes from the front end: its own streaming and runs are already shown there."""
        with self._code_from_a_task():
            super().set_state(sync_data)

    @contextlib.contextmanager
    def _code_from_a_task(self) -> Generator[None, None, None]:
        self._writing_code += 1
        try:
            yield
        finally:
            self._writing_code -= 1

    @traitlets.observe("code")
    def _show_code_set_by_hand(self, change: dict[str, Any]) -> None:
        # `pad.code = …` from Python: a result like any other, shown at once and acted on by
        # Edit/Improve, downloads and the World.
        if self._writing_code or self.status in BUSY or not change["new"]:
            return
        with self.hold_sync():
            self.error = ""
            self.result_sketch = self.sketch  # it belongs to the drawing on the pad now
            self.result_kind = "code"
            self.result_version += 1

    def generate(
        self,
        kind: str = "code",
        prompt: str | None = None,
        *,
        provider: str | None = None,
        error: str | None = None,
        merge: bool = False,
    ) -> PadTask:
        """Run a task on the current sketch in this kernel, streaming into the traits.

        ``kind``: ``"code"`` (Make 3D), ``"model"`` or ``"mesh"`` (Make mesh), ``"improve"`` or
        ``"edit"`` (changes ``pad.code`` as ``prompt`` says; ``error`` asks for a fix).
        ``merge``: a model's parts unioned into one watertight solid (for printing; the
        pad's "one solid" box, :attr:`merge_mesh`, does the same).
        ``await pad.generate(…)`` or ``pad.generate(…).result()`` (blocking) give the
        ``complete`` data or raise :class:`GenerationError`.
        """
        task_type = task_type_of(kind)
        if self.status in BUSY:
            raise RuntimeError(f"task {self.task_id} is still {self.status}; cancel it first")
        if prompt is not None:
            self.prompt = prompt
        if task_type == "edit" and not self.code:
            raise ValueError("an edit needs code to change: run generate('code') first")
        if task_type == "edit" and self.result_kind == "model":
            raise ValueError(
                "an edit changes code, and the result shown is a mesh: run generate('code') first"
            )
        is_model = task_type == "model"
        spec = TaskSpec(
            type=task_type,
            provider=provider or (self.model_provider if is_model else self.provider) or None,
            sketch=self.sketch,
            prompt=self.prompt,
            threejs_code=self.code if task_type == "edit" else None,
            error=error,
            options={"merge": True} if (merge or self.merge_mesh) and is_model else {},
        )
        previous_code = self.code
        self._task_sketch = spec.sketch
        with self.hold_sync():
            self.task_id = spec.task_id
            self.task_type = task_type
            self.task_transport = "kernel"
            self.status = "pending"
            self.progress = 0.0
            self.message = "queued"
            self.error = ""
            self.last_event_id = 0
            if task_type in ("3d", "edit"):
                with self._code_from_a_task():
                    self.previous_code, self.code = self.code, ""
        try:
            self.engine.submit(spec)
        except Exception as exc:
            with self.hold_sync(), self._code_from_a_task():
                self.status = "failed"
                self.error = str(exc)
                self.code = previous_code
            raise
        future = asyncio.run_coroutine_threadsafe(self._pump(spec), self.engine.loop)
        self._kernel_task = PadTask(self, spec.task_id, future)
        return self._kernel_task

    async def _pump(self, spec: TaskSpec) -> Event:
        """Fold the task's events into the traits (runs on the engine's loop thread)."""
        last: Event | None = None
        async for event in self.engine.engine.follow(spec.task_id):
            if event.type == "complete" and spec.type == "model":
                glb = await self.engine.engine.glb(spec.task_id)
                if glb:
                    self.glb = glb
                    self.send({"type": "glb", "task_id": spec.task_id}, [glb])
            self._apply(spec.task_id, event)
            last = event
        assert last is not None
        return last

    def _apply(self, task_id: str, event: Event) -> None:
        """One event → trait changes (the same rules as the front end's ``reduceEvent``)."""
        with self._lock:
            if self.task_id != task_id:
                return
            data = event.data
            code_task = self.task_type in ("3d", "edit")
            with self.hold_sync(), self._code_from_a_task():
                self.last_event_id = max(self.last_event_id, event.id)
                if event.type == "start":
                    self.status = "running"
                    self.message = f"started on {data.get('provider', '?')}"
                elif event.type == "progress":
                    self.status = "running"
                    self.progress = float(data.get("progress", 0.0))
                    self.message = data.get("message") or data.get("stage", "")
                    if data.get("stage") == "retry" and code_task:
                        self.code = ""  # a re-run: the earlier attempt's text is void
                elif event.type == "delta":
                    self.status = "running"
                    if code_task:
                        self.code += data.get("text", "")
                elif event.type == "complete":
                    if code_task:
                        code = data.get("code")
                        self.code = (
                            code if isinstance(code, str) else data.get("content", self.code)
                        )
                        self.result_kind = "code"
                        self.result_sketch = self._task_sketch
                        self.result_version += 1
                    elif self.task_type == "model":
                        self.result_kind = "model"
                        self.result_sketch = self._task_sketch
                        self.glb_url = ""
                        self.result_version += 1
                    elif self.task_type == "improve" and data.get("sketch"):
                        self.sketch = data["sketch"]
                    self.progress = 1.0
                    self.message = "done"
                    self.error = ""
                    self.status = "completed"
                elif event.type == "error":
                    self.error = str(data.get("error") or "the task failed")
                    self.message = str(data.get("error_type") or "error")
                    self.status = "failed"
                elif event.type == "cancelled":
                    self.message = "cancelled"
                    self.status = "cancelled"
                if event.type in ("error", "cancelled") and code_task:
                    self.code = self.previous_code  # not half an answer: the code shown before

    def cancel(self) -> None:
        """Cancel the running task (wherever it runs)."""
        if self.status not in BUSY:
            return
        if self.task_transport == "kernel":
            self.engine.cancel(self.task_id)
        else:
            self.send({"type": "cancel"})  # the front end owns server tasks

    # -- results in the notebook -------------------------------------------------------------

    def cell_source(self) -> str:
        """Python that recreates what the pad shows, for a notebook cell.

        After Make 3D: the sketch and the code as generated, shown by a
        :class:`~vibedraw_widget.result.Result` (no provider runs again, so an LLM's
        answer is kept exactly). After Make mesh: a :func:`~vibedraw_widget.generate` call
        with the sketch and provider, which makes the same mesh byte for byte. Before
        either: a ``SketchPad`` with the drawing.
        """
        sketch = _py_literal(self.sketch)
        kind = self.result_kind
        if kind == "code" and self.code:
            prompt = f", prompt={self.prompt!r}" if self.prompt else ""
            return (
                "# vibedraw: the Three.js code the pad made (Make 3D) from the sketch below.\n"
                "from vibedraw_widget import Result\n\n"
                f"sketch = {sketch}\n"
                f"code = {_py_str(self.code)}\n"
                f'Result(kind="code", status="completed", code=code, sketch=sketch{prompt})\n'
            )
        if kind == "model":
            provider = f", provider={self.model_provider!r}" if self.model_provider else ""
            provider += ", merge=True" if self.merge_mesh else ""
            return (
                "# vibedraw: Make mesh on the sketch below; the same sketch and options give\n"
                "# the same mesh, byte for byte.\n"
                "from vibedraw_widget import generate\n\n"
                f"sketch = {sketch}\n"
                f'generate(sketch, kind="model"{provider})\n'
            )
        return (
            "# vibedraw: the pad with this drawing.\n"
            "from vibedraw_widget import SketchPad\n\n"
            f"sketch = {sketch}\n"
            "SketchPad(sketch=sketch)\n"
        )

    def to_cell(self) -> str:
        """Insert a code cell below the running one that recreates what the pad shows
        (see :meth:`cell_source`), so the notebook records what was made; returns its code.

        Uses IPython's ``set_next_input`` (JupyterLab and Notebook 7 insert the cell below;
        hosts without it get nothing inserted, the returned code is still there). The pad's
        "To cell" button does the same from the front end.
        """
        source = self.cell_source()
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython ships with Jupyter
            return source
        shell = get_ipython()
        if shell is not None:
            shell.set_next_input(source, replace=False)
        return source

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Block until the kernel-run task ends; its ``complete`` data (None if none ran)."""
        return self._kernel_task.result(timeout) if self._kernel_task else None

    # -- messages from the front end ---------------------------------------------------------

    def _handle_message(self, _: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        try:
            if kind == "undo":
                self.undo()
            elif kind == "redo":
                self.redo()
            elif kind == "generate":
                self.generate(
                    content.get("kind", "code"),
                    content.get("prompt"),
                    error=content.get("error"),
                    merge=bool(content.get("merge")),
                )
            elif kind == "cancel":
                if self.task_transport == "kernel":
                    self.cancel()
            elif kind == "glb" and buffers:
                if content.get("task_id") == self.task_id:
                    self.glb = bytes(buffers[0])
            elif kind == "export_print" and buffers:
                # The pad's STL download: the mesh on screen (its bytes sent along, as a
                # server task's mesh may be in the front end only), in millimetres.
                file_type = str(content.get("format", "stl"))
                data = export_print(bytes(buffers[0]), file_type)
                self.send(
                    {"type": "file", "name": content.get("name"), "format": file_type}, [data]
                )
            elif kind == "need_glb" and self.glb:
                self.send({"type": "glb", "task_id": self.task_id}, [self.glb])
            elif kind == "to_cell":
                # The front end inserts it below the pad's cell where it can (JupyterLab).
                self.send({"type": "cell", "code": self.cell_source(), "model_id": self.model_id})
            elif kind == "load_sketch":
                self.load(content.get("sketch"))
            elif kind == "load_image" and buffers:
                self.load(bytes(buffers[0]))
        except Exception as exc:  # shown in the pad: never a silent failure
            self.error = f"{kind}: {exc}"

    def _repr_keys(self) -> Generator[str, None, None]:
        # Keep the repr short: the sketch and code can be large.
        for key in super()._repr_keys():
            if key not in ("sketch", "code", "providers", "result_sketch"):
                yield key


def _py_literal(value: Any) -> str:
    """A Python literal for JSON data (dicts, lists, numbers, strings, bools, None)."""
    import pprint

    return pprint.pformat(value, width=100, compact=True, sort_dicts=False)


def _py_str(text: str) -> str:
    """A readable Python string literal: triple-quoted where that needs no escapes."""
    plain = all(c.isprintable() or c in "\n\t" for c in text)
    if plain and "\\" not in text and "'''" not in text and not text.endswith("'"):
        return "'''" + text + "'''"
    return repr(text)


__all__ = ["GenerationCancelled", "GenerationError", "PadTask", "SketchPad"]
