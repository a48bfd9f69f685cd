"""The root of every exception vibedraw raises, and the HTTP status each one stands for.

Every error class of the package derives from :class:`VibeDrawError`, so one
``except VibeDrawError`` catches whatever vibedraw refused or failed at, and each class
says which HTTP status it answers when it reaches the server's handlers (``status``): the
server turns any :class:`VibeDrawError` into ``{"message": …}`` with that status in one
place (``server/handlers.py``, ``VibeDrawAPIHandler``). The classes keep their builtin
bases too (``ValueError``, ``LookupError`` …), so ``except ValueError`` still works.

The tree (each class lives beside the code that raises it)::

    VibeDrawError                          500
    ├── SketchError (ValueError)           400  sketch/format.py: an invalid sketch or image
    ├── BadRequest (ValueError)            400  server/parsing.py: a body field to fix
    ├── SceneError (ValueError)            400  local/scene_schema.py: a scene from outside
    ├── EditNotUnderstood (ValueError)     400  local/edit.py: an edit the local coder can't do
    ├── UnknownProvider (LookupError)      400  providers/registry.py: no such provider
    ├── ProviderError                      400  providers/base.py: a provider failed or refused
    │   └── NotConfigured                  503  … it lacks a key or URL
    ├── UnknownTask (LookupError)          404  engine/tasks.py: no such task (or expired)
    ├── QueueFull (RuntimeError)           429  engine/tasks.py: max_queued_tasks reached
    ├── LogClosed (RuntimeError)           500  engine/events.py: the log already ended
    │   └── StaleAttempt                   500  engine/stores/redis.py: a superseded attempt
    ├── GenerationError (RuntimeError)     500  result.py: a generation ended in error
    │   └── GenerationCancelled            500  … or was cancelled
    ├── MissingExport (RuntimeError)       500  world.py: the browser never sent a GLB
    ├── RuntimeMissing (FileNotFoundError) 500  viewer.py: the front-end was never built
    └── RequestRefused (RuntimeError)      the server's status   client.py: an HTTP error answer

``VibeDrawError`` is also the name the client has always raised: ``RequestRefused`` is the
client's class, and ``from vibedraw_widget.client import VibeDrawError`` still gives the root.
"""

from __future__ import annotations


class VibeDrawError(Exception):
    """Base of every vibedraw exception; ``status`` is the HTTP status it answers with."""

    status: int = 500

    @property
    def message(self) -> str:
        """The reason, without the decoration ``str()`` adds to some builtin bases (a
        ``LookupError``'s ``str()`` is the *repr* of its message)."""
        return str(self.args[0]) if self.args else type(self).__name__
