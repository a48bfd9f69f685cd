"""Quickstart in marimo: draw, Make 3D, Make mesh.

Run it with ``marimo edit notebooks/marimo_quickstart.py`` (or ``marimo run`` for an app).
marimo has no Jupyter server, so the pad runs its tasks in the kernel (the comm path).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    from pathlib import Path

    import marimo as mo

    from vibedraw_widget import SketchPad, generate

    return Path, SketchPad, generate, mo


@app.cell
def _(mo):
    mo.md(
        """
        # Quickstart: draw, Make 3D, Make mesh

        Everything runs offline on the built-in `local` providers. Draw on the pad (a sample
        sketch is loaded so the notebook also runs unattended), then press **Make 3D** for
        Three.js code or **Make mesh** for a GLB.
        """
    )
    return


@app.cell
def _(Path, SketchPad, mo):
    sketches = Path(__file__).parent / "sketches"
    pad = SketchPad()
    pad.load(sketches / "scene_snowman_00.json")
    widget = mo.ui.anywidget(pad)
    widget
    return pad, sketches, widget


@app.cell
def _(mo, pad, widget):
    # Re-runs whenever the pad's synced state changes (a stroke, a finished task).
    widget.value
    mo.md(
        f"**{len(pad.sketch['strokes'])} strokes** · status `{pad.status}` · "
        f"{len(pad.code)} characters of code"
    )
    return


@app.cell
def _(generate, pad):
    # The same from Python: a Result shows itself as a sandboxed 3D preview.
    code = generate(pad.sketch, kind="code", prompt="a snowman")
    code
    return (code,)


@app.cell
def _(generate, pad):
    mesh = generate(pad.sketch, kind="model")
    mesh
    return (mesh,)


if __name__ == "__main__":
    app.run()
