"""Standalone, offline HTML viewers for results: one result, or a gallery grid of many.

A page inlines the package's scene runtime (``static/viewer.js``: three.js, orbit controls,
the glTF loader, built from ``js/src/viewer.js``; gzipped, as base64) and its objects
(code, or gzipped GLB as base64), so it opens from disk with no network and no server.
Its Content-Security-Policy forbids every fetch. Generated code only ever runs inside
such a page, and in a notebook that page is an ``<iframe sandbox="allow-scripts">``
(never ``allow-same-origin``: a srcdoc frame would otherwise share the notebook's origin,
cookies and token; docs/protocol.md, Generated code).
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import VibeDrawError

if TYPE_CHECKING:
    from .result import Result

STATIC = Path(__file__).parent / "static"
RUNTIME = STATIC / "viewer.js"

CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; connect-src data: blob:; "
    "font-src data:; media-src data: blob:; form-action 'none'; base-uri 'none'"
)
"""No network at all; ``unsafe-eval`` because generated code runs as an ``AsyncFunction``."""

SANDBOX = "allow-scripts"
"""The only permission a preview frame gets (no same-origin, no downloads, no popups)."""

_STYLE = """
html, body { margin: 0; height: 100%; background: #f4f5f7; font: 13px system-ui, sans-serif; }
#vibedraw-canvas { display: block; width: 100%; height: 100%; }
#vibedraw-errors { position: absolute; left: 8px; right: 8px; bottom: 8px; margin: 0;
  padding: 6px 8px; background: #fff5f5; color: #900; border: 1px solid #d33;
  border-radius: 4px; white-space: pre-wrap; max-height: 40%; overflow: auto; }
#vibedraw-title { position: absolute; left: 10px; top: 8px; color: #555; pointer-events: none; }
#vibedraw-paused { position: absolute; inset: 0; width: 100%; border: 0; cursor: pointer;
  background: #f4f5f7; color: #555; font: inherit; padding: 16px; z-index: 2; }
.gallery { position: relative; display: grid; gap: 10px; padding: 10px;
  grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); }
.gallery #vibedraw-canvas { position: fixed; left: 0; top: 0; width: 100vw; height: 100vh;
  z-index: 0; pointer-events: none; }
.cell { position: relative; z-index: 1; border: 1px solid #ddd; border-radius: 6px;
  background: transparent; overflow: hidden; }
.cell .view { height: 170px; }
.cell .meta { display: flex; gap: 6px; align-items: center; padding: 4px 6px;
  background: #fff; border-top: 1px solid #eee; }
.cell .meta img { width: 48px; height: 36px; object-fit: contain; border: 1px solid #eee; }
.cell .meta span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.cell.failed .view { background: #fff5f5; color: #900; padding: 8px; box-sizing: border-box;
  overflow: auto; }
"""


class RuntimeMissing(VibeDrawError, FileNotFoundError):
    """The built front-end is not there (a source checkout that was never built)."""


@functools.lru_cache(maxsize=1)
def runtime_js() -> str:
    """The scene runtime's JavaScript (read once; raises :class:`RuntimeMissing`)."""
    if not RUNTIME.is_file():
        raise RuntimeMissing(
            f"{RUNTIME} is missing: build the front-end first (cd js && npm ci && npm run build)"
        )
    return RUNTIME.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def runtime_gzip_base64() -> str:
    """The runtime gzipped, as base64: a third of its size, so that every preview in a
    saved notebook costs about 300 KB instead of 950 KB (three.js is most of a page)."""
    return _gzip_base64(runtime_js().encode("utf-8"), level=9)  # once per process


def _gzip_base64(data: bytes, level: int = 1) -> str:
    # Level 1 for meshes: float data gains nothing from harder work (level 9 took 46 ms
    # for a 430 KB GLB, level 1 5 ms, for a file 0.2% larger). mtime=0: the same input
    # gives the same page, byte for byte.
    return base64.b64encode(gzip.compress(data, compresslevel=level, mtime=0)).decode("ascii")


_BOOT = (
    "(async()=>{const b=document.getElementById('vibedraw-runtime').textContent;"
    "const z=Uint8Array.from(atob(b),c=>c.charCodeAt(0));"
    "const s=new Blob([z]).stream().pipeThrough(new DecompressionStream('gzip'));"
    "(0,eval)(await new Response(s).text());})().catch(e=>{"
    "const p=document.getElementById('vibedraw-errors');p.textContent="
    "'could not start the viewer: '+e;p.hidden=false;document.body.dataset.status='error';});"
)
"""Unpacks and runs the runtime (gzip is native to browsers: DecompressionStream)."""


def _json_text(data: Any) -> str:
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def object_spec(result: Result, object_id: str | None = None) -> dict[str, Any] | None:
    """The runtime's description of a completed result (code or GLB), else ``None``."""
    if not result.ok:
        return None
    spec: dict[str, Any] = {"id": object_id or result.task_id or "0", "label": result.label}
    if result.glb is not None:
        spec.update(kind="glb", glb_gzip=_gzip_base64(result.glb))  # meshes halve too
    elif result.code is not None:
        spec.update(kind="code", code=result.code)
    else:
        return None
    return spec


def page(
    objects: Sequence[dict[str, Any]],
    mode: str = "viewer",
    title: str = "vibedraw",
    body: str = "",
) -> str:
    """A complete HTML page running the scene runtime on ``objects``.

    ``mode``: ``viewer`` (one scene, orbit controls), ``gallery`` (``body`` holds the grid
    cells, one scene per cell) or ``world`` (transform controls, driven by postMessage).
    """
    config = {"mode": mode, "objects": list(objects)}
    canvas = '<canvas id="vibedraw-canvas"></canvas>'
    if mode == "gallery":
        content = f'<div class="gallery">{canvas}{body}</div>'
    else:
        label = f'<div id="vibedraw-title">{html.escape(title)}</div>' if mode == "viewer" else ""
        content = canvas + label + body
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body data-status="loading">{content}'
        '<pre id="vibedraw-errors" hidden></pre>'
        f'<script id="vibedraw-config" type="application/json">{_json_text(config)}</script>'
        '<script id="vibedraw-runtime" type="application/octet-stream">'
        f"{runtime_gzip_base64()}</script><script>{_BOOT}</script>"
        "</body></html>\n"
    )


def iframe(document: str, height: int = 420, title: str = "vibedraw preview") -> str:
    """``document`` in a sandboxed srcdoc iframe (scripts only, opaque origin)."""
    return (
        f'<iframe sandbox="{SANDBOX}" title="{html.escape(title)}" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #ddd;border-radius:6px" '
        f'srcdoc="{html.escape(document, quote=True)}"></iframe>'
    )


def result_page(result: Result, title: str | None = None) -> str:
    """A standalone offline page for one result (code or model); improve results show
    their drawings, failed ones their error."""
    from .result import error_html

    title = title or result.label
    spec = object_spec(result)
    if spec is not None:
        return page([spec], "viewer", title)
    body = _improve_html(result) if result.ok else error_html(result)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>\n"
    )


def result_fragment(result: Result, height: int = 420) -> str:
    """What a result shows in a notebook: the sandboxed preview, drawings, or its error."""
    from .result import error_html

    if not result.ok:
        return error_html(result)
    if object_spec(result) is None:
        return _improve_html(result)
    try:
        return iframe(result_page(result), height, f"{result.label} preview")
    except RuntimeMissing as exc:
        return f"<pre>{html.escape(repr(result))}\n({html.escape(str(exc))})</pre>"


def _png_img(png: bytes, alt: str, width: int = 320) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" '
        f'style="width:{width}px;border:1px solid #ddd;border-radius:4px;background:#fff">'
    )


def _improve_html(result: Result) -> str:
    """Before and after, side by side (plain images: nothing to run)."""
    from .sketch import render_png

    figures = []
    if result.sketch is not None:
        figures.append((render_png(result.sketch), "drawn"))
    if result.improved_png:
        figures.append((result.improved_png, "improved"))
    elif result.improved is not None:
        figures.append((render_png(result.improved), "improved"))
    cells = "".join(
        f'<figure style="margin:0">{_png_img(png, name)}<figcaption style="font:12px '
        f'sans-serif;color:#555">{name}</figcaption></figure>'
        for png, name in figures
    )
    return f'<div style="display:flex;gap:12px;flex-wrap:wrap">{cells}</div>'


class Gallery:
    """A grid of results: one sandboxed page, one 3D view per completed result, the sketch
    thumbnail and label under each; failures show their error in their cell."""

    def __init__(self, results: Iterable[Result], height: int | None = None) -> None:
        self.results = list(results)
        self.height = height

    def __repr__(self) -> str:
        ok = sum(r.ok for r in self.results)
        return f"<Gallery {len(self.results)} results, {ok} completed>"

    def to_html(self, title: str = "vibedraw gallery") -> str:
        """The standalone page."""
        from .sketch import render_png

        objects, cells = [], []
        for index, result in enumerate(self.results):
            cell_id = f"cell-{index}"
            spec = object_spec(result, cell_id)
            thumb = ""
            if result.sketch is not None:
                thumb = _png_img(render_png(result.sketch, scale=0.15), "sketch", 48)
            elif result.image is not None:
                thumb = _png_img(result.image, "sketch", 48)
            if spec is not None:
                objects.append(spec)
                view, css = '<div class="view"></div>', "cell"
            else:
                message = result.error or f"{result.kind} result: nothing to show in 3D"
                view = (
                    f'<div class="view">{html.escape(result.status)}: {html.escape(message)}</div>'
                )
                css = "cell" if result.ok else "cell failed"
            cells.append(
                f'<div class="{css}" data-cell="{cell_id}">{view}<div class="meta">{thumb}'
                f"<span>{html.escape(result.label)}</span></div></div>"
            )
        return page(objects, "gallery", title, "".join(cells))

    def _repr_html_(self) -> str:
        rows = max(1, -(-len(self.results) // 4))
        return iframe(self.to_html(), self.height or min(240 * rows + 20, 760), "gallery")

    def save(self, path: str | Path) -> Path:
        """Write the gallery as a standalone offline HTML file."""
        path = Path(path)
        path.write_text(self.to_html(title=path.stem), encoding="utf-8")
        return path


def gallery(results: Iterable[Result], height: int | None = None) -> Gallery:
    """A :class:`Gallery` of ``results`` (display it, or ``.save("gallery.html")``)."""
    return Gallery(results, height)
