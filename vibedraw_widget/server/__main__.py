"""``python -m vibedraw_widget.server``: a jupyter-server with this extension; with
``--help-all`` it lists every ``VibeDraw`` option and its help (``jupyter server
--help-all`` shows only the server's own classes, never an extension's)."""

from .app import VibeDraw

if __name__ == "__main__":
    VibeDraw.launch_instance()
