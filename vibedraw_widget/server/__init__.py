"""The jupyter-server extension (the routes of docs/protocol.md)."""

from .app import VibeDraw

__all__ = ["VibeDraw"]
