"""What a user can ask for (a *kind*) and the engine task type that makes it: one table.

The widget, :func:`~vibedraw_widget.generate`, the CLI and the client all take a kind;
the widget's front end receives :data:`TASK_TYPE_OF` as a synced trait (``_kinds``), so
the JavaScript holds no copy.
"""

from __future__ import annotations

KINDS = ("code", "model", "improve", "edit")
"""What can be generated: Three.js code, a mesh, a cleaned-up sketch, edited code."""

TASK_TYPE = {"code": "3d", "model": "model", "improve": "improve", "edit": "edit"}
"""Engine task type of each kind (the HTTP route ``queue/3d`` names code tasks ``3d``)."""

KIND_ALIASES = {"mesh": "model"}
"""Other names accepted for a kind: the pad's button says "Make mesh"."""

TASK_TYPE_OF = {
    **TASK_TYPE,
    **{alias: TASK_TYPE[kind] for alias, kind in KIND_ALIASES.items()},
    **{task_type: task_type for task_type in TASK_TYPE.values()},
}
"""Every name a task can be asked for by (a kind, an alias, or the task type itself) →
its task type."""


def canonical_kind(kind: str) -> str:
    """``kind`` with an alias (``"mesh"``) replaced by its kind (``"model"``)."""
    return KIND_ALIASES.get(kind, kind)


def task_type_of(kind: str) -> str:
    """The engine task type for ``kind`` (a kind, an alias or a task type); else ValueError."""
    try:
        return TASK_TYPE_OF[kind]
    except (KeyError, TypeError):
        names = ", ".join(repr(k) for k in (*KINDS, *KIND_ALIASES))
        raise ValueError(f"kind: expected one of {names}, got {kind!r}") from None
