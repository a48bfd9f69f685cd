"""The jupyter-server extension (routes of DESIGN §4–§6)."""

from .app import VibeDraw

__all__ = ["VibeDraw"]
