"""The outcome of one generation: :class:`Result`.

A ``Result`` is plain data (status, code, GLB bytes, the sketch, usage, timings) with
three ways out: a rich notebook repr (an inline, sandboxed 3D preview), :meth:`Result.show`
and :meth:`Result.save` (``.js``, a standalone offline ``.html`` viewer, ``.glb``, ``.stl``,
``.3mf``, ``.obj``, ``.json``, ``.png``); :meth:`Result.printability` checks a mesh for
3D printing. It never raises for a failed task: ``status`` and ``error`` say what went wrong,
and :meth:`Result.raise_for_status` turns that into an exception when wanted.
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import VibeDrawError


class GenerationError(VibeDrawError, RuntimeError):
    """A generation that ended with an ``error`` (or ``cancelled``) event.

    ``data`` is the terminal event's data; ``result`` the :class:`Result`, when there is one.
    """

    def __init__(
        self, message: str, data: dict[str, Any] | None = None, result: Result | None = None
    ) -> None:
        super().__init__(message)
        self.data = data or {}
        self.result = result


class GenerationCancelled(GenerationError):
    """The generation was cancelled."""


LABEL_LENGTH = 40
"""Characters of a prompt that :attr:`Result.label` shows."""


@dataclass(repr=False, eq=False)
class Result:
    """One generation's outcome.

    ``status`` is ``"completed"``, ``"failed"`` or ``"cancelled"``. Depending on ``kind``:
    ``code`` (and ``content``, the full answer) for code and edit, ``glb`` (bytes) for
    model, ``improved`` (a sketch dict) and ``improved_png`` for improve. ``sketch`` is the
    input sketch (``None`` when the input was a PNG that only the provider traced; then
    ``image`` holds it).
    ``timings`` holds seconds: ``queued`` (waiting for a slot), ``first_output`` (start to
    first delta or progress), ``run`` (start to end) and ``total`` (submit to end).
    """

    kind: str
    status: str
    source: str = ""
    task_id: str | None = None
    provider: str | None = None
    model: str | None = None
    """What answered, as the provider names it (for Claude, the model id)."""
    prompt: str = ""
    code: str | None = None
    content: str | None = None
    glb: bytes | None = None
    sketch: dict[str, Any] | None = None
    image: bytes | None = None
    """The input PNG, when the input was an image."""
    improved: dict[str, Any] | None = None
    improved_png: bytes | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None
    events: list[Any] = field(default_factory=list)
    """Every engine event of the task, in order (``.id``, ``.type``, ``.data``)."""

    # -- state ----------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """Whether the task completed."""
        return self.status == "completed"

    @property
    def label(self) -> str:
        """A short name for this result: the input's file name, else its prompt or the
        sketch's text labels (shortened), else its task id."""
        if self.source:
            return self.source
        texts = (self.sketch or {}).get("texts", [])
        words = " ".join((self.prompt or " ".join(t.get("text", "") for t in texts)).split())
        if words:
            return words if len(words) <= LABEL_LENGTH else words[: LABEL_LENGTH - 1] + "…"
        return (self.task_id or "result")[:8]

    def raise_for_status(self) -> Result:
        """Return ``self`` if completed, else raise :class:`GenerationError`."""
        if not self.ok:
            error = GenerationCancelled if self.status == "cancelled" else GenerationError
            message = f"{self.label}: {self.status}: {self.error or 'no result'}"
            raise error(message, {"error": self.error, "status": self.status}, self)
        return self

    def __repr__(self) -> str:
        parts = [f"Result {self.kind} {self.status}"]
        if self.source:
            parts.append(repr(self.source))
        if self.provider:
            parts.append(f"provider={self.provider}")
        if self.ok:
            if self.code is not None:
                parts.append(f"code={len(self.code):,} chars")
            if self.glb is not None:
                parts.append(f"glb={len(self.glb):,} bytes")
            if self.improved is not None:
                parts.append(f"strokes={len(self.improved.get('strokes', []))}")
        elif self.error:
            parts.append(f"error={_shorten(self.error, 80)!r}")
        if "total" in self.timings:
            total = self.timings["total"]
            parts.append(f"{total * 1000:.0f} ms" if total < 1 else f"{total:.2f} s")
        return "<" + " ".join(parts) + ">"

    # -- output ---------------------------------------------------------------------

    def to_html(self, title: str | None = None) -> str:
        """A standalone offline HTML page showing this result (see :mod:`.viewer`): the 3D
        view of code or a model, the drawings of an improve result, or the error."""
        from . import viewer

        title = title or self.label
        spec = viewer.object_spec(self)
        if spec is not None:
            return viewer.page([spec], "viewer", title)
        body = self._drawings_html() if self.ok else error_html(self)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            f"img-src data:; style-src 'unsafe-inline'\">"
            f"<title>{html.escape(title)}</title></head><body>{body}</body></html>\n"
        )

    def _repr_html_(self) -> str:
        """What a result shows in a notebook: the sandboxed 3D view, drawings, or its error."""
        from . import viewer

        if not self.ok:
            return error_html(self)
        if viewer.object_spec(self) is None:
            return self._drawings_html()
        try:
            return viewer.iframe(self.to_html(), 420, f"{self.label} preview")
        except viewer.RuntimeMissing as exc:
            return f"<pre>{html.escape(repr(self))}\n({html.escape(str(exc))})</pre>"

    def _drawings_html(self) -> str:
        """Before and after, side by side (plain images: nothing to run)."""
        from .sketch import render_png

        figures = []
        if self.sketch is not None:
            figures.append((render_png(self.sketch), "drawn"))
        if self.improved_png:
            figures.append((self.improved_png, "improved"))
        elif self.improved is not None:
            figures.append((render_png(self.improved), "improved"))
        cells = "".join(
            f'<figure style="margin:0"><img alt="{name}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode("ascii")}" style="width:320px;border:1px solid '
            f'#ddd;border-radius:4px;background:#fff"><figcaption style="font:12px sans-serif;'
            f'color:#555">{name}</figcaption></figure>'
            for png, name in figures
        )
        return f'<div style="display:flex;gap:12px;flex-wrap:wrap">{cells}</div>'

    def show(self) -> None:
        """Display the 3D preview: inline in a notebook, else in the web browser."""
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display
        except ImportError:  # pragma: no cover - IPython ships with Jupyter
            get_ipython = None  # type: ignore[assignment]
        if get_ipython is not None and get_ipython() is not None:
            display(HTML(self._repr_html_()))
            return
        import tempfile
        import webbrowser

        handle = tempfile.NamedTemporaryFile("w", suffix=".html", delete=False, encoding="utf-8")
        with handle:
            handle.write(self.to_html())
        if not webbrowser.open(Path(handle.name).as_uri()):
            print(f"no web browser to open; the preview is in {handle.name}")

    def save(self, path: str | Path, *, size_mm: float | None = None) -> Path:
        """Write one output, chosen by the file's suffix, and return its path.

        ``.js``: the code (body of ``async function build(THREE, ctx)``, docs/protocol.md);
        ``.html``: a standalone offline viewer; ``.glb``: the mesh (model results — code
        results export to GLB in the browser, through :class:`~vibedraw_widget.World`);
        ``.stl``, ``.3mf``, ``.obj``: the mesh for printing, in millimetres, z up, its
        largest dimension ``size_mm`` (default 100); ``.json``: the improved sketch
        (improve) or the input sketch; ``.png``: the improved drawing. Raises
        ``ValueError`` when this result has nothing of that kind.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if not self.ok:
            raise ValueError(f"{self.label}: nothing to save, the task {self.status}")
        if suffix in (".stl", ".3mf", ".obj"):
            from .local.printing import DEFAULT_PRINT_MM, export_print

            path.write_bytes(
                export_print(self._mesh_glb(suffix), suffix, size_mm or DEFAULT_PRINT_MM)
            )
            return path
        if suffix == ".js":
            if self.code is None:
                raise ValueError(f"{self.label}: this {self.kind} result has no code to save")
            path.write_text(self.code, encoding="utf-8")
        elif suffix in (".html", ".htm"):
            path.write_text(self.to_html(title=path.stem), encoding="utf-8")
        elif suffix == ".glb":
            if self.glb is None:
                hint = (
                    "; code results export to GLB in the browser: "
                    "World.from_results([result]).save(path)"
                    if self.code is not None
                    else ""
                )
                raise ValueError(f"{self.label}: this {self.kind} result has no GLB{hint}")
            path.write_bytes(self.glb)
        elif suffix == ".json":
            sketch = self.improved if self.improved is not None else self.sketch
            if sketch is None:
                raise ValueError(f"{self.label}: no sketch to save")
            path.write_text(json.dumps(sketch), encoding="utf-8")
        elif suffix == ".png":
            if self.improved is None:
                raise ValueError(f"{self.label}: only improve results have a PNG to save")
            if self.improved_png is None:
                from .sketch import render_png

                self.improved_png = render_png(self.improved)
            path.write_bytes(self.improved_png)
        else:
            raise ValueError(
                f"{path.name}: unknown suffix {suffix!r}; "
                "use .js, .html, .glb, .stl, .3mf, .obj, .json or .png"
            )
        return path

    def _mesh_glb(self, what: str) -> bytes:
        if self.glb is None:
            raise ValueError(
                f"{self.label}: this {self.kind} result has no mesh for {what}; "
                "generate with kind='model'"
            )
        return self.glb

    def printability(self, size_mm: float = 100.0, min_wall_mm: float = 0.8) -> Any:
        """Is this mesh printable with its largest dimension ``size_mm`` millimetres?

        Returns a :class:`~vibedraw_widget.local.printing.Printability` (print it for a
        summary): watertight, number of bodies (``single_body``), volume, size in mm, an
        estimate of the thinnest wall (rays cast inward from sampled surface points), and
        ``warnings``, e.g. for a wall thinner than ``min_wall_mm`` (0.8 mm: two lines of
        a 0.4 mm nozzle).
        """
        from .local.printing import printability

        return printability(self._mesh_glb("printing"), size_mm, min_wall_mm)

    def output_suffixes(self, mesh_format: str = "glb") -> tuple[str, ...]:
        """The files :meth:`save_all` writes for this result (a mesh as ``mesh_format``:
        ``glb``, ``stl``, ``3mf`` or ``obj``)."""
        if not self.ok:
            return ()
        if self.glb is not None:
            return (f".{mesh_format.lower().lstrip('.')}", ".html")
        if self.code is not None:
            return (".js", ".html")
        if self.improved is not None:
            return (".json", ".png")
        return ()

    def save_all(
        self, directory: str | Path, stem: str | None = None, mesh_format: str = "glb"
    ) -> list[Path]:
        """Write every output of this result into ``directory`` (created if needed) as
        ``{stem}.js`` + ``.html`` (code), ``.glb`` (or ``mesh_format``: ``stl``, ``3mf``,
        ``obj``) + ``.html`` (model) or ``.json`` + ``.png`` (improve); a failed result
        writes ``{stem}.error.txt``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        stem = stem or safe_stem(self.label)
        if not self.ok:
            path = directory / f"{stem}.error.txt"
            path.write_text(f"{self.status}: {self.error or ''}\n", encoding="utf-8")
            return [path]
        suffixes = self.output_suffixes(mesh_format)
        return [self.save(directory / f"{stem}{suffix}") for suffix in suffixes]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (bytes as sizes; no events)."""
        return {
            "kind": self.kind,
            "status": self.status,
            "source": self.source,
            "task_id": self.task_id,
            "provider": self.provider,
            "model": self.model,
            "error": self.error,
            "error_type": self.error_type,
            "code_chars": None if self.code is None else len(self.code),
            "glb_bytes": None if self.glb is None else len(self.glb),
            "usage": self.usage,
            "timings": self.timings,
        }

    def glb_base64(self) -> str | None:
        """The GLB as base64 text (for embedding), or ``None``."""
        return None if self.glb is None else base64.b64encode(self.glb).decode("ascii")


def safe_stem(name: str) -> str:
    """A file-name stem made from ``name`` (its stem, unsafe characters replaced)."""
    stem = Path(name).stem if "." in name else name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "result"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_html(result: Result) -> str:
    """A small HTML box for a result that did not complete."""
    return (
        '<div style="border:1px solid #d33;border-radius:4px;padding:6px 10px;'
        'font:13px sans-serif;color:#900;background:#fff5f5">'
        f"<b>{html.escape(result.label)}</b>: {html.escape(result.status)}"
        f"{': ' + html.escape(result.error) if result.error else ''}</div>"
    )
