"""Events, the one way any reader follows them (:class:`Tail`), and the in-memory log
(docs/protocol.md, Events).

One append-only log per task; ids are 1, 2, 3, … Readers follow a log from any id: they
get the replay, then live events as they are appended. Every store feeds a :class:`Tail`
(the memory store appends to it directly, the Redis store from its ``XREAD`` loop), and
readers wake on change (an ``asyncio.Event`` swapped on every change), so there is no
polling and no sleep, and any number of readers each see every event exactly once, in order.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import json
import time
from collections.abc import AsyncIterator, Callable
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


class Tail:
    """The events of one task seen so far in this process, and the readers following them.

    One writer (:meth:`add`, :meth:`fail`) and any number of readers (:meth:`read`). Must be
    used from one event loop.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.done = False
        """True once the terminal event is in."""
        self.error: BaseException | None = None
        """Raised to every reader once the events ran out (the task vanished, say)."""
        self.waiting = 0
        """Readers parked until the next change."""
        self._changed = asyncio.Event()

    def add(self, event: Event) -> None:
        """Add the next event (ids increase) and wake every reader."""
        self.events.append(event)
        self.done = self.done or event.terminal
        self._wake()

    def fail(self, error: BaseException) -> None:
        """No more events will come: readers get ``error`` once they have read the rest."""
        self.error = error
        self._wake()

    def _wake(self) -> None:
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    async def read(
        self, after: int = 0, skip: Callable[[Event], bool] | None = None
    ) -> AsyncIterator[Event]:
        """Yield events with id > ``after`` (except those ``skip`` names): the replay, then
        live ones, until the terminal event."""
        position = bisect.bisect_right(self.events, after, key=lambda event: event.id)
        while True:
            changed = self._changed
            while position < len(self.events):
                event = self.events[position]
                position += 1
                if event.id <= after or (skip is not None and skip(event)):
                    continue  # (a tail filled later starts below ``after``)
                yield event
                if event.terminal:
                    return
            if self.error is not None:
                raise self.error
            if self.done:  # resumed at or past the end: nothing more will come
                return
            self.waiting += 1
            try:
                await changed.wait()
            finally:
                self.waiting -= 1


class EventLog:
    """An append-only, followable log of one task's events, living in process memory.

    Must be used from one event loop (the engine appends from the loop thread only).
    """

    def __init__(self) -> None:
        self._tail = Tail()

    def __len__(self) -> int:
        return len(self._tail.events)

    @property
    def closed(self) -> bool:
        """True once the terminal event is in."""
        return self._tail.done

    @property
    def events(self) -> list[Event]:
        """A copy of every event so far."""
        return list(self._tail.events)

    @property
    def waiting(self) -> int:
        """Readers parked until the next event."""
        return self._tail.waiting

    def append(self, type: str, data: dict[str, Any]) -> Event:
        """Append an event and wake every reader. Raises :class:`LogClosed` after the end."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        if self.closed:
            raise LogClosed("the log already ended")
        event = Event(len(self) + 1, type, data)
        self._tail.add(event)
        return event

    def follow(self, after: int = 0) -> AsyncIterator[Event]:
        """Yield events with id > ``after``: the replay, then live ones, until the end."""
        return self._tail.read(max(0, after))
