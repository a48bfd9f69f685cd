"""Events and the in-memory event log (docs/protocol.md, Events).

One append-only log per task; ids are 1, 2, 3, … Readers follow a log from any id: they
get the replay, then live events as they are appended. Readers wake on append (an
``asyncio.Event`` swapped on every append), so there is no polling and no sleep, and any
number of readers each see every event exactly once, in order.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import VibeDrawError

FINAL_STATUS = {"complete": "completed", "error": "failed", "cancelled": "cancelled"}
"""The task status each terminal event sets."""
TERMINAL = frozenset(FINAL_STATUS)
EVENT_TYPES = frozenset({"start", "progress", "delta"}) | TERMINAL


@dataclass(frozen=True)
class Event:
    """One entry of a task's log."""

    id: int
    type: str
    data: dict[str, Any]
    time: float = field(default_factory=time.time, compare=False)

    @property
    def terminal(self) -> bool:
        """Whether this event ends the log (``complete``, ``error``, ``cancelled``)."""
        return self.type in TERMINAL

    @functools.cached_property
    def sse(self) -> bytes:
        """The event framed for Server-Sent Events (``id``, ``event``, ``data``, blank line).

        Cached: with many subscribers the same event is framed once, not once per reader.
        """
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(self.data)}\n\n".encode()

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"id", "type", "data"}``."""
        return {"id": self.id, "type": self.type, "data": self.data}


class LogClosed(VibeDrawError, RuntimeError):
    """Appending to a log that already holds its terminal event."""


class EventLog:
    """An append-only, followable log of one task's events, living in process memory.

    Must be used from one event loop (the engine appends from the loop thread only).
    """

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._appended = asyncio.Event()

    def __len__(self) -> int:
        return len(self._events)

    @property
    def closed(self) -> bool:
        """True once the terminal event is in."""
        return bool(self._events) and self._events[-1].terminal

    @property
    def events(self) -> list[Event]:
        """A copy of every event so far."""
        return list(self._events)

    def append(self, type: str, data: dict[str, Any]) -> Event:
        """Append an event and wake every reader. Raises :class:`LogClosed` after the end."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        if self.closed:
            raise LogClosed("the log already ended")
        event = Event(len(self._events) + 1, type, data)
        self._events.append(event)
        woken, self._appended = self._appended, asyncio.Event()
        woken.set()
        return event

    async def follow(self, after: int = 0) -> AsyncIterator[Event]:
        """Yield events with id > ``after``: the replay, then live ones, until the end."""
        position = max(0, after)
        while True:
            while position < len(self._events):
                event = self._events[position]
                position += 1
                yield event
                if event.terminal:
                    return
            if self.closed:  # resumed at or past the end: nothing more will come
                return
            await self._appended.wait()
