"""Offline HTML pages for the scene runtime: one result, a gallery grid, the World's scene.

Every page follows the preview contract (docs/preview.md) that the SketchPad's preview
uses too: a *shell* page (the top of a saved ``.html`` file, or an
``<iframe sandbox="allow-scripts">`` in a notebook) whose CSP allows only ``about:``
frames, holding the *runtime* page in its own ``<iframe sandbox="allow-scripts">``, whose
CSP forbids every network access and every nested frame. Generated code only ever runs in
the runtime page. The runtime (three.js and the scene code), the shell's script and both
CSPs are read from the widget's own bundle (``static/sketchpad.js``, between
``/*vd-contract*/`` markers), so three.js is in the package once; pages carry the runtime
gzipped, as base64, so they open from disk with no network and no server.

This module knows nothing of :class:`~vibedraw_widget.result.Result` beyond the attributes
it reads (``ok``, ``code``, ``glb``, ``label``…): ``result.py`` builds on it, not the
other way round.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import VibeDrawError

STATIC = Path(__file__).parent / "static"
BUNDLE = STATIC / "sketchpad.js"
"""The built SketchPad bundle, which carries the preview contract."""

_MARKS = ("/*vd-contract*/", "/*vd-contract-end*/")


class RuntimeMissing(VibeDrawError, FileNotFoundError):
    """The built front-end is not there (a source checkout that was never built)."""


@functools.lru_cache(maxsize=1)
def contract() -> dict[str, Any]:
    """The preview contract from the built bundle: ``runtime`` and ``shell`` (scripts),
    ``runtime_csp``, ``shell_csp``, ``sandbox`` (read once; raises :class:`RuntimeMissing`)."""
    if not BUNDLE.is_file():
        raise RuntimeMissing(
            f"{BUNDLE} is missing: build the front-end first (cd js && npm ci && npm run build)"
        )
    text = BUNDLE.read_text(encoding="utf-8")
    start, end = text.find(_MARKS[0]), text.find(_MARKS[1])
    if start < 0 or end < start:
        raise RuntimeMissing(f"{BUNDLE} has no preview contract: rebuild the front-end")
    return json.loads(text[start + len(_MARKS[0]) : end])


def runtime_js() -> str:
    """The scene runtime's JavaScript (three.js included)."""
    return contract()["runtime"]


@functools.lru_cache(maxsize=1)
def runtime_gzip_base64() -> str:
    """The runtime gzipped, as base64: a third of its size, so that every preview in a
    saved notebook costs about 300 KB instead of 900 KB (three.js is most of a page)."""
    return _gzip_base64(runtime_js().encode("utf-8"), level=9)  # once per process


def _gzip_base64(data: bytes, level: int = 1) -> str:
    # Level 1 for meshes: float data gains nothing from harder work (level 9 took 46 ms
    # for a 430 KB GLB, level 1 5 ms, for a file 0.2% larger). mtime=0: the same input
    # gives the same page, byte for byte.
    return base64.b64encode(gzip.compress(data, compresslevel=level, mtime=0)).decode("ascii")


_BOOT = (
    "(async()=>{const e=document.getElementById('vd-runtime'),b=e.textContent;e.remove();"
    "const z=Uint8Array.from(atob(b),c=>c.charCodeAt(0));"
    "const s=new Blob([z]).stream().pipeThrough(new DecompressionStream('gzip'));"
    "window.__vdRuntime=await new Response(s).text();(0,eval)(window.__vdRuntime);})().catch(e=>{"
    "const p=document.createElement('pre');p.textContent='could not start the viewer: '+e;"
    "document.body.appendChild(p);document.body.dataset.status='error';"
    "parent.postMessage({type:'status',status:'error'},'*');});"
)
"""Unpacks and runs the runtime (gzip is native to browsers: DecompressionStream), keeping
its text in ``window.__vdRuntime`` for the Worker it starts (as page.js's boot does)."""


def _json_text(data: Any) -> str:
    # ensure_ascii escapes U+2028/2029; "<" escaped so no "</script>" ends the block early.
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def _script_text(js: str) -> str:
    # As page.js inlineScript: no "</script" (any case) or "<!--" inside a script block.
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE).replace("<!--", "<\\!--")


def runtime_page(config: dict[str, Any]) -> str:
    """The runtime page (docs/preview.md) for ``config`` (``mode``, ``objects``…)."""
    c = contract()
    background = "#1e1e1e" if config.get("dark") else "#f5f5f5"
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{c["runtime_csp"]}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>html,body{{margin:0;height:100%;overflow:hidden;background:{background}}}"
        "canvas{display:block;width:100%;height:100%;touch-action:none}</style>"
        "</head><body>"
        f'<script type="application/json" id="vd-config">{_json_text(config)}</script>'
        f'<script id="vd-runtime" type="application/octet-stream">{runtime_gzip_base64()}'
        f"</script><script>{_BOOT}</script></body></html>"
    )


def shell_page(runtime: str, title: str = "vibedraw", dark: bool = False) -> str:
    """The shell page around a runtime page: a saved file's top, or a notebook's iframe."""
    c = contract()
    background = "#1e1e1e" if dark else "#f5f5f5"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{c["shell_csp"]}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f"<style>html,body{{margin:0;height:100%;overflow:hidden;background:{background};"
        "font:13px system-ui,sans-serif}iframe{display:block;border:0;width:100%;height:100%}"
        ".vd-stopped{padding:12px;color:#900;background:#fff5f5;height:100%;"
        "box-sizing:border-box}</style>"
        '</head><body data-status="loading">'
        f'<script type="application/json" id="vd-page">'
        f"{_json_text({'page': runtime, 'title': title})}</script>"
        f"<script>{_script_text(c['shell'])}</script></body></html>\n"
    )


def object_spec(result: Any, object_id: str | None = None) -> dict[str, Any] | None:
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
    cells: Sequence[dict[str, Any]] = (),
) -> str:
    """A complete offline page (shell + runtime) showing ``objects``.

    ``mode``: ``viewer`` (one scene, orbit controls), ``gallery`` (``cells``: one grid cell
    each, ``{id, label, thumb, error}``; objects are shown in the cell of their id) or
    ``world`` (transform controls, driven by postMessage from the World widget).
    """
    config: dict[str, Any] = {"mode": mode, "title": title, "objects": list(objects)}
    if mode == "gallery":
        config["cells"] = list(cells)
    return shell_page(runtime_page(config), title)


def iframe(document: str, height: int = 420, title: str = "vibedraw preview") -> str:
    """``document`` in a sandboxed srcdoc iframe (scripts only, opaque origin)."""
    return (
        f'<iframe sandbox="{contract()["sandbox"]}" title="{html.escape(title)}" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #ddd;border-radius:6px" '
        f'srcdoc="{html.escape(document, quote=True)}"></iframe>'
    )


def png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class Gallery:
    """A grid of results: one sandboxed page, one 3D view per completed result, the sketch
    thumbnail and label under each; failures show their error in their cell."""

    def __init__(self, results: Iterable[Any], height: int | None = None) -> None:
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
            cell: dict[str, Any] = {"id": f"cell-{index}", "label": result.label}
            if result.sketch is not None:
                cell["thumb"] = png_data_url(render_png(result.sketch, scale=0.15))
            elif result.image is not None:
                cell["thumb"] = png_data_url(result.image)
            spec = object_spec(result, cell["id"])
            if spec is not None:
                objects.append(spec)
            else:
                message = result.error or f"{result.kind} result: nothing to show in 3D"
                cell["error"] = f"{result.status}: {message}"
            cells.append(cell)
        return page(objects, "gallery", title, cells)

    def _repr_html_(self) -> str:
        rows = max(1, -(-len(self.results) // 4))
        return iframe(self.to_html(), self.height or min(240 * rows + 20, 760), "gallery")

    def save(self, path: str | Path) -> Path:
        """Write the gallery as a standalone offline HTML file."""
        path = Path(path)
        path.write_text(self.to_html(title=path.stem), encoding="utf-8")
        return path


def gallery(results: Iterable[Any], height: int | None = None) -> Gallery:
    """A :class:`Gallery` of ``results`` (display it, or ``.save("gallery.html")``)."""
    return Gallery(results, height)
