"""The Redis task store: tasks shared by every jupyter-server and ``vibedraw worker``
(docs/architecture.md, Scaling out).

Layout (``P`` is the key prefix, ``vibedraw:`` unless the URL says ``?prefix=…``)::

    P{id}:task   hash    the TaskRecord fields (JSON values) + bookkeeping:
                         spec, n (events so far), attempt, owner, closed, cancel, tok
    P{id}:log    stream  the event log; entry id ``0-N`` *is* event id N, so
                         ``Last-Event-ID: N`` resumes with ``XREAD … 0-N``
    P{id}:glb    string  the GLB of a model task
    Pqueue       stream  queued task ids, read by the consumer group ``workers``
    Pcancel      pub/sub channel that tells workers "cancel task X"

Every key of a task expires ``retention_seconds`` after its last write, so a finished task
is kept that long after its end. Every write is a Lua script, so each one is atomic and a
retry after a dropped connection is idempotent (appends carry a token: a re-sent append
that already landed is answered with the id it got, not appended twice).

Readers: one ``XREAD BLOCK`` loop per followed task per process (:class:`_Tail`) feeds any
number of local readers from memory, so 500 subscribers of one task cost one connection,
and a reader wakes as soon as Redis answers — no polling, no sleep.

At-least-once and attempts
--------------------------
A worker takes a task from ``Pqueue`` (``XREADGROUP``), starts an *attempt*
(``attempt`` += 1, ``owner`` = the worker) and refreshes the queue entry's idle time while
it runs. A worker that dies stops refreshing; after ``claim_after_seconds`` another worker
takes the entry over (``XAUTOCLAIM``) and runs the task again as attempt n + 1.

* Every event a worker appends carries ``"attempt": n`` in its data, and only the current
  attempt's owner may append (a stale worker that wakes up later is refused), so the log
  holds exactly one terminal event.
* A re-run first appends ``progress`` ``{"stage": "retry", "attempt": n, "message": …}``
  (then a second ``start``). **Reader rule: text is the ``delta`` texts whose ``attempt`` is
  the highest seen; on a ``retry`` progress event, drop the text collected so far.**
  ``complete.content`` is the final attempt's deltas only.
* :meth:`RedisStore.follow` applies the rule to replays: deltas of attempts older than the
  task's current attempt are not sent at all, so a reader that subscribes (or resumes)
  after a retry never sees stale text; only a reader that was live during the dead attempt
  sees its deltas, followed by the ``retry`` event that tells it to drop them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ...settings import Settings
from ..events import EVENT_TYPES, TERMINAL, Event, LogClosed
from ..tasks import QueueFull, TaskRecord, TaskSpec, UnknownTask

log = logging.getLogger(__name__)
T = TypeVar("T")

GROUP = "workers"
RECORD_FIELDS = ("task_id", "type", "provider", "status", "created", "started", "finished")
TRANSIENT = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
"""Errors that mean "Redis is away for now": retried with backoff, never fatal at once."""


class StaleAttempt(LogClosed):
    """This process's attempt at a task was superseded (claimed back, released).

    A :class:`LogClosed`, so the engine ends the run quietly instead of appending more.
    """


# -- Lua ---------------------------------------------------------------------------------
# One helper shared by every script that appends: the next id is HINCRBY n, the stream id
# is 0-n, a terminal event closes the log and writes the final status in the same step.
_APPEND_FN = """
local function append_event(keys, typ, data, ts, ttl, maxlen)
  if redis.call('HEXISTS', keys[1], 'closed') == 1 then return -2 end
  local n = redis.call('HINCRBY', keys[1], 'n', 1)
  redis.call('XADD', keys[2], 'MAXLEN', '~', maxlen, '0-' .. n, 't', typ, 'd', data, 'ts', ts)
  local final = ({complete='completed', error='failed', cancelled='cancelled'})[typ]
  if final then
    redis.call('HSET', keys[1], 'closed', n, 'status', cjson.encode(final),
               'finished', ts, 'result', data)
  end
  for i = 1, 3 do redis.call('EXPIRE', keys[i], ttl) end
  return n
end
"""

_CREATE = """
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""

# ARGV: type, data, ts, ttl, maxlen, token, attempt ('0' = not leased), owner
_APPEND = (
    _APPEND_FN
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[7] ~= '0' then
  local h = redis.call('HMGET', KEYS[1], 'attempt', 'owner')
  if h[1] ~= ARGV[7] or h[2] ~= ARGV[8] then return -3 end
end
if redis.call('HGET', KEYS[1], 'tok') == ARGV[6] then
  return tonumber(redis.call('HGET', KEYS[1], 'n'))
end
local n = append_event(KEYS, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
if n > 0 then redis.call('HSET', KEYS[1], 'tok', ARGV[6]) end
return n
"""
)

# KEYS: task, log, glb, queue. ARGV: spec, max_queued, group, task_id
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'spec') == 1 then return 1 end
local pending = 0
local p = redis.pcall('XPENDING', KEYS[4], ARGV[3])
if type(p) == 'table' and p.err then
  redis.call('XGROUP', 'CREATE', KEYS[4], ARGV[3], '0', 'MKSTREAM')
else
  pending = p[1]
end
if redis.call('XLEN', KEYS[4]) - pending >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return -2
end
redis.call('HSET', KEYS[1], 'spec', ARGV[1])
redis.call('XADD', KEYS[4], '*', 'task_id', ARGV[4])
return 1
"""

# KEYS: task, log, glb. ARGV: owner, msgid, ts, ttl, maxlen, max_attempts, task_id, token
_BEGIN = (
    _APPEND_FN
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if redis.call('HEXISTS', KEYS[1], 'closed') == 1 then return {-2} end
local spec = redis.call('HGET', KEYS[1], 'spec')
if not spec then return {-1} end
if redis.call('HGET', KEYS[1], 'btok') == ARGV[8] then
  return {tonumber(redis.call('HGET', KEYS[1], 'attempt')), spec}
end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempt', 1)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'msg', ARGV[2], 'btok', ARGV[8],
           'tok', '', 'status', '"running"')
if redis.call('HEXISTS', KEYS[1], 'cancel') == 1 then
  append_event(KEYS, 'cancelled',
    cjson.encode({status='cancelled', task_id=ARGV[7], attempt=attempt}),
    ARGV[3], ARGV[4], ARGV[5])
  return {-2}
end
if attempt > tonumber(ARGV[6]) then
  local msg = 'the task was started ' .. (attempt - 1) .. ' times and no worker finished it'
    .. ' (each stopped mid-task; max_attempts=' .. ARGV[6] .. ')'
  append_event(KEYS, 'error',
    cjson.encode({status='error', task_id=ARGV[7], error=msg, error_type='WorkerLost'}),
    ARGV[3], ARGV[4], ARGV[5])
  return {-2}
end
if attempt > 1 then
  append_event(KEYS, 'progress',
    cjson.encode({task_id=ARGV[7], stage='retry', progress=0, attempt=attempt,
      message='a worker stopped mid-task; running it again (attempt ' .. attempt .. ')'}),
    ARGV[3], ARGV[4], ARGV[5])
end
return {attempt, spec}
"""
)

# KEYS: task, queue. ARGV: owner, attempt, msgid, group → -1 lost, 0 ok, 1 cancel asked, 2 closed
_HEARTBEAT = """
local h = redis.call('HMGET', KEYS[1], 'attempt', 'owner', 'closed', 'cancel')
if h[1] ~= ARGV[2] or h[2] ~= ARGV[1] then return -1 end
if h[3] then return 2 end
redis.call('XCLAIM', KEYS[2], ARGV[4], ARGV[1], 0, ARGV[3], 'JUSTID')
if h[4] then return 1 end
return 0
"""

# KEYS: task, queue. ARGV: owner, attempt, msgid, group
_ACK = """
local h = redis.call('HMGET', KEYS[1], 'attempt', 'owner', 'closed')
if (not h[1]) or h[3] or (h[1] == ARGV[2] and h[2] == ARGV[1]) then
  redis.call('XACK', KEYS[2], ARGV[4], ARGV[3])
  redis.call('XDEL', KEYS[2], ARGV[3])
  return 1
end
return 0
"""

# KEYS: task, queue. ARGV: owner, attempt, msgid, group, task_id
_RELEASE = """
local h = redis.call('HMGET', KEYS[1], 'attempt', 'owner', 'closed')
if h[1] ~= ARGV[2] or h[2] ~= ARGV[1] then return 0 end
redis.call('XACK', KEYS[2], ARGV[4], ARGV[3])
redis.call('XDEL', KEYS[2], ARGV[3])
if not h[3] then
  redis.call('HSET', KEYS[1], 'owner', '', 'status', '"pending"')
  redis.call('XADD', KEYS[2], '*', 'task_id', ARGV[5])
end
return 1
"""

# KEYS: task, log, glb. ARGV: ts, ttl, maxlen, channel, task_id
# → -1 unknown, 0 already ended, 1 cancelled here (nobody ran it), 2 asked its worker
_CANCEL = (
    _APPEND_FN
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'closed') == 1 then return 0 end
local owner = redis.call('HGET', KEYS[1], 'owner')
if (not owner) or owner == '' then
  append_event(KEYS, 'cancelled', cjson.encode({status='cancelled', task_id=ARGV[5]}),
               ARGV[1], ARGV[2], ARGV[3])
  return 1
end
redis.call('HSET', KEYS[1], 'cancel', '1')
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 2
"""
)


# -- helpers -----------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _split_url(url: str) -> tuple[str, str]:
    """``redis://h:p/0?prefix=x:`` → (the URL without ``prefix``, the prefix)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), "vibedraw:")
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def _record(fields: dict[Any, Any]) -> TaskRecord:
    values = {_text(k): _text(v) for k, v in fields.items()}
    data = {name: json.loads(values[name]) for name in RECORD_FIELDS if name in values}
    if "result" in values:
        data["result"] = json.loads(values["result"])
    return TaskRecord(**data)


def _entries(response: Any) -> list[tuple[Any, dict[Any, Any]]]:
    """The entries of a one-stream ``XREAD`` reply (RESP2 list or RESP3 dict)."""
    if not response:
        return []
    if isinstance(response, dict):
        return next(iter(response.values()))[0] if response else []
    return response[0][1]


def _event(entry_id: Any, fields: dict[Any, Any]) -> Event:
    values = {_text(k): v for k, v in fields.items()}
    return Event(
        int(_text(entry_id).split("-", 1)[1]),
        _text(values["t"]),
        json.loads(values["d"]),
        float(values["ts"]),
    )


@dataclass
class Lease:
    """This process's current attempt at one task (what fences its appends)."""

    task_id: str
    msgid: str
    attempt: int
    owner: str
    spec: TaskSpec
    stale: bool = False


@dataclass
class _Tail:
    """One ``XREAD BLOCK`` loop per followed task; local readers wait on ``changed``."""

    task_id: str
    events: list[Event] = field(default_factory=list)
    attempt: int = 0
    done: bool = False
    error: BaseException | None = None
    readers: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    runner: asyncio.Task[None] | None = None

    def wake(self) -> None:
        woken, self.changed = self.changed, asyncio.Event()
        woken.set()


class Backoff:
    """Exponential backoff with jitter for reconnecting: 50 ms doubling up to ``cap``."""

    def __init__(self, first: float = 0.05, cap: float = 2.0) -> None:
        self.first, self.cap, self.delay = first, cap, first

    def reset(self) -> None:
        self.delay = self.first

    async def wait(self) -> None:
        await asyncio.sleep(self.delay * random.uniform(0.5, 1.0))
        self.delay = min(self.delay * 2, self.cap)


# -- the store ---------------------------------------------------------------------------


class RedisStore:
    """Tasks, logs, GLBs and the work queue in Redis, shared by every process that opens
    the same URL. See the module docstring for the layout and the attempt rule.

    ``reconnect_timeout``: how long a write keeps retrying while Redis is away before it
    raises; readers and workers keep retrying forever.
    """

    shared = True

    def __init__(
        self,
        url: str,
        settings: Settings | None = None,
        *,
        max_events: int = 100_000,
        max_attempts: int = 3,
        reconnect_timeout: float = 60.0,
    ) -> None:
        self.settings = settings or Settings()
        self.url, self.prefix = _split_url(url)
        self.max_events = max_events
        self.max_attempts = max_attempts
        self.reconnect_timeout = reconnect_timeout
        # No client-side retries: every operation below retries itself, idempotently.
        self.redis = aioredis.from_url(
            self.url, retry=Retry(NoBackoff(), 0), socket_keepalive=True, health_check_interval=30
        )
        self.queue_key = f"{self.prefix}queue"
        self.cancel_channel = f"{self.prefix}cancel"
        self._scripts = {
            name: self.redis.register_script(source)
            for name, source in {
                "create": _CREATE,
                "update": _UPDATE,
                "append": _APPEND,
                "enqueue": _ENQUEUE,
                "begin": _BEGIN,
                "heartbeat": _HEARTBEAT,
                "ack": _ACK,
                "release": _RELEASE,
                "cancel": _CANCEL,
            }.items()
        }
        self._tails: dict[str, _Tail] = {}
        self._leases: dict[str, Lease] = {}
        self._append_locks: dict[str, asyncio.Lock] = {}
        self._tokens = itertools.count(1)
        self._uid = uuid.uuid4().hex[:12]

    def __repr__(self) -> str:
        return f"<RedisStore {self.url} prefix={self.prefix!r}>"

    @property
    def ttl(self) -> int:
        """Seconds every key of a task lives after its last write (``retention_seconds``)."""
        return max(1, int(round(self.settings.retention_seconds)))

    def _keys(self, task_id: str) -> list[str]:
        base = f"{self.prefix}{{{task_id}}}"
        return [f"{base}:task", f"{base}:log", f"{base}:glb"]

    async def _retry(self, op: Callable[[], Awaitable[T]], what: str) -> T:
        """Run ``op`` until it gets through, backing off while Redis is unreachable."""
        deadline = time.monotonic() + self.reconnect_timeout
        backoff = Backoff()
        while True:
            try:
                return await op()
            except TRANSIENT as exc:
                if time.monotonic() >= deadline:
                    raise RedisConnectionError(
                        f"{what}: Redis at {self.url} unreachable for "
                        f"{self.reconnect_timeout:.0f}s ({exc})"
                    ) from exc
                log.warning("%s: Redis unreachable (%s); retrying", what, exc)
                await backoff.wait()

    async def _script(self, name: str, keys: list[str], args: list[Any], what: str) -> Any:
        script = self._scripts[name]
        return await self._retry(lambda: script(keys=keys, args=args), what)

    # -- TaskStore ----------------------------------------------------------------------

    async def create(self, record: TaskRecord) -> None:
        """Record a new task (replacing any task with the same id)."""
        data = record.to_dict()
        pairs: list[Any] = []
        for name in RECORD_FIELDS:
            pairs += [name, json.dumps(data[name])]
        if record.result is not None:
            pairs += ["result", json.dumps(record.result)]
        keys = self._keys(record.task_id)
        await self._script("create", keys, [self.ttl, *pairs], f"create {record.task_id}")

    async def get(self, task_id: str) -> TaskRecord | None:
        """The task's record, or ``None`` when unknown or expired."""
        key = self._keys(task_id)[0]
        fields = await self._retry(lambda: self.redis.hgetall(key), f"get {task_id}")
        return _record(fields) if fields else None

    async def update(self, task_id: str, **fields: Any) -> TaskRecord:
        """Set record fields; raises :class:`UnknownTask`."""
        pairs: list[Any] = []
        for name, value in fields.items():
            if name not in RECORD_FIELDS and name != "result":
                raise TypeError(f"TaskRecord has no field {name!r}")
            pairs += [name, json.dumps(value)]
        result = await self._script(
            "update", self._keys(task_id)[:1], [self.ttl, *pairs], f"update {task_id}"
        )
        if not result:
            raise UnknownTask(task_id)
        if isinstance(result, list):
            result = dict(zip(result[::2], result[1::2], strict=True))
        return _record(result)

    async def append(self, task_id: str, type: str, data: dict[str, Any]) -> Event:
        """Append an event; raises :class:`LogClosed` after the end, :class:`StaleAttempt`
        when this process's attempt was superseded, :class:`UnknownTask`."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        lease = self._leases.get(task_id)
        if lease is not None:
            if lease.stale:
                raise StaleAttempt(f"task {task_id}: attempt {lease.attempt} was superseded")
            data = {**data, "attempt": lease.attempt}
        lock = self._append_locks.setdefault(task_id, asyncio.Lock())
        # One append at a time per task from this process: keeps order, and makes the
        # token check ("was my last append already applied?") sufficient on retry.
        async with lock:
            now = time.time()
            args = [
                type,
                json.dumps(data),
                repr(now),
                self.ttl,
                self.max_events,
                f"{self._uid}:{next(self._tokens)}",
                lease.attempt if lease else 0,
                lease.owner if lease else "",
            ]
            n = await self._script("append", self._keys(task_id), args, f"append to {task_id}")
        if type in TERMINAL and lock is self._append_locks.get(task_id) and not lock.locked():
            self._append_locks.pop(task_id, None)
        if n == -1:
            raise UnknownTask(task_id)
        if n == -2:
            raise LogClosed(f"task {task_id}: the log already ended")
        if n == -3:
            if lease is not None:
                lease.stale = True
            raise StaleAttempt(f"task {task_id}: another worker took it over")
        return Event(int(n), type, data, now)

    async def follow(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """Events with id > ``after``: the replay, then live ones, until the terminal one.

        Deltas of an attempt older than the newest one known are skipped (module docstring).
        """
        tail = self._tails.get(task_id)
        if tail is None:
            tail = self._tails[task_id] = _Tail(task_id)
            tail.runner = asyncio.get_running_loop().create_task(self._tail(tail))
        tail.readers += 1
        try:
            position = 0
            while True:
                changed = tail.changed
                while position < len(tail.events):
                    event = tail.events[position]
                    position += 1
                    if event.id <= after:
                        continue
                    if event.type == "delta" and event.data.get("attempt", 0) < tail.attempt:
                        continue
                    yield event
                    if event.terminal:
                        return
                if tail.error is not None:
                    raise tail.error
                if tail.done:
                    return
                await changed.wait()
        finally:
            tail.readers -= 1
            if tail.readers == 0 and self._tails.get(task_id) is tail:
                del self._tails[task_id]
                if tail.runner is not None:
                    tail.runner.cancel()

    async def _tail(self, tail: _Tail) -> None:
        task_key, log_key, _ = self._keys(tail.task_id)
        backoff = Backoff()
        last = "0-0"
        checked = False
        try:
            while True:
                try:
                    if not checked:
                        attempt = await self.redis.hget(task_key, "attempt")
                        if attempt is None and not await self.redis.exists(task_key):
                            raise UnknownTask(tail.task_id)
                        tail.attempt = max(tail.attempt, int(attempt or 0))
                        checked = True
                    response = await self.redis.xread({log_key: last}, count=1000, block=10_000)
                except TRANSIENT as exc:
                    log.warning("following %s: Redis unreachable (%s); retrying", tail.task_id, exc)
                    await backoff.wait()
                    continue
                backoff.reset()
                entries = _entries(response)
                if not entries:
                    checked = False  # a quiet log: make sure the task has not expired
                    continue
                for entry_id, fields in entries:
                    last = _text(entry_id)
                    event = _event(entry_id, fields)
                    tail.attempt = max(tail.attempt, int(event.data.get("attempt", 0)))
                    tail.events.append(event)
                    if event.terminal:
                        tail.done = True
                        break
                tail.wake()
                if tail.done:
                    return
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            tail.error = exc
            tail.wake()

    async def put_glb(self, task_id: str, glb: bytes) -> None:
        """Store a model task's GLB (same lifetime as its log)."""
        task_key, _, glb_key = self._keys(task_id)

        async def put() -> None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.exists(task_key)
                pipe.set(glb_key, glb, ex=self.ttl)
                exists, _ = await pipe.execute()
            if not exists:
                await self.redis.delete(glb_key)
                raise UnknownTask(task_id)

        await self._retry(put, f"store the GLB of {task_id}")

    async def get_glb(self, task_id: str) -> bytes | None:
        """A model task's GLB, or ``None``."""
        key = self._keys(task_id)[2]
        return await self._retry(lambda: self.redis.get(key), f"read the GLB of {task_id}")

    async def drop(self, task_id: str) -> None:
        """Forget a task now (its keys would expire anyway)."""
        keys = self._keys(task_id)
        await self._retry(lambda: self.redis.delete(*keys), f"drop {task_id}")

    async def close(self) -> None:
        """Stop the readers' loops and close the connections."""
        for tail in list(self._tails.values()):
            if tail.runner is not None:
                tail.runner.cancel()
        self._tails.clear()
        await self.redis.aclose()

    # -- the queue (servers enqueue, workers claim) -------------------------------------

    async def enqueue(self, spec: TaskSpec) -> None:
        """Put a recorded task on the queue for the workers; raises :class:`QueueFull`
        (and forgets the task) when ``max_queued_tasks`` are already waiting."""
        keys = [*self._keys(spec.task_id), self.queue_key]
        limit = self.settings.max_queued_tasks
        args = [json.dumps(spec.to_dict()), limit, GROUP, spec.task_id]
        result = await self._script("enqueue", keys, args, f"enqueue {spec.task_id}")
        if result == -1:
            raise UnknownTask(spec.task_id)
        if result == -2:
            raise QueueFull(
                f"{limit} tasks are already waiting for a worker (max_queued_tasks={limit}); "
                "try again when some finish, or start more `vibedraw worker` processes"
            )

    async def ensure_group(self) -> None:
        """Create the workers' consumer group (and the queue) if missing."""

        async def create() -> None:
            try:
                await self.redis.xgroup_create(self.queue_key, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

        await self._retry(create, "create the workers' consumer group")

    async def claim(self, owner: str, block: float, claim_after: float) -> Lease | None:
        """The next task for worker ``owner``: one left by a dead worker (idle longer than
        ``claim_after`` seconds) first, else a new one (waiting up to ``block`` seconds).

        Returns a started :class:`Lease`, or ``None`` when there was nothing to run.
        Raises transient connection errors (the worker loop backs off).
        """
        try:
            reply = await self.redis.xautoclaim(
                self.queue_key, GROUP, owner, int(claim_after * 1000), "0-0", count=1
            )
            entries = reply[1] if reply else []
            if not entries:
                response = await self.redis.xreadgroup(
                    GROUP, owner, {self.queue_key: ">"}, count=1, block=max(1, int(block * 1000))
                )
                entries = _entries(response)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()
            return None
        for msgid, fields in entries:
            if not fields:  # deleted meanwhile (Redis < 7 reports these as empty)
                continue
            task_id = _text(fields[b"task_id"] if b"task_id" in fields else fields["task_id"])
            mine = self._leases.get(task_id)
            if mine is not None and not mine.stale and mine.owner == owner:
                continue  # our own running task, idle because our loop was busy: keep it
            return await self._begin(owner, _text(msgid), task_id)
        return None

    async def _begin(self, owner: str, msgid: str, task_id: str) -> Lease | None:
        args = [
            owner,
            msgid,
            repr(time.time()),
            self.ttl,
            self.max_events,
            self.max_attempts,
            task_id,
            f"{owner}:{msgid}:{uuid.uuid4().hex}",
        ]
        reply = await self._script("begin", self._keys(task_id), args, f"start {task_id}")
        if int(reply[0]) < 0:  # gone, already ended, cancelled or out of attempts: done
            await self.ack(Lease(task_id, msgid, 0, owner, TaskSpec("3d")))
            return None
        spec = TaskSpec.from_dict(json.loads(reply[1]))
        lease = Lease(task_id, msgid, int(reply[0]), owner, spec)
        self._leases[task_id] = lease
        return lease

    async def heartbeat(self, lease: Lease) -> str:
        """Keep a running task's queue entry fresh. Returns ``"ok"``, ``"cancel"`` (someone
        asked to cancel it), ``"ended"`` or ``"lost"`` (another worker took it over)."""
        keys = [self._keys(lease.task_id)[0], self.queue_key]
        args = [lease.owner, lease.attempt, lease.msgid, GROUP]
        result = int(await self._scripts["heartbeat"](keys=keys, args=args))
        if result == -1:
            lease.stale = True
        return {-1: "lost", 0: "ok", 1: "cancel", 2: "ended"}[result]

    async def ack(self, lease: Lease) -> None:
        """The task ended (or was never runnable): take it off the queue."""
        keys = [self._keys(lease.task_id)[0], self.queue_key]
        args = [lease.owner, lease.attempt, lease.msgid, GROUP]
        await self._script("ack", keys, args, f"acknowledge {lease.task_id}")
        self.forget(lease)

    async def release(self, lease: Lease) -> None:
        """Give a task back unfinished (a worker shutting down): it goes back on the queue
        and this process's later appends for it are refused."""
        lease.stale = True
        keys = [self._keys(lease.task_id)[0], self.queue_key]
        args = [lease.owner, lease.attempt, lease.msgid, GROUP, lease.task_id]
        await self._script("release", keys, args, f"release {lease.task_id}")

    def forget(self, lease: Lease) -> None:
        """The run under ``lease`` is over here (until then a stale lease still fences it)."""
        if self._leases.get(lease.task_id) is lease:
            del self._leases[lease.task_id]

    # -- cancel across processes --------------------------------------------------------

    async def request_cancel(self, task_id: str, wait: float = 10.0) -> None:
        """Cancel a task wherever it runs, and wait (up to ``wait`` s) for its log to end.

        A task no worker has started is cancelled here; a running one is flagged and its
        worker told over ``Pcancel`` (the flag also reaches it through its heartbeat, and
        a worker that takes over a flagged task cancels it instead of running it).
        """
        args = [repr(time.time()), self.ttl, self.max_events, self.cancel_channel, task_id]
        result = await self._script("cancel", self._keys(task_id), args, f"cancel {task_id}")
        if result == -1:
            raise UnknownTask(task_id)
        if result == 2 and wait > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._until_ended(task_id), wait)

    async def _until_ended(self, task_id: str) -> None:
        async for _ in self.follow(task_id):
            pass

    async def cancel_requests(self) -> AsyncIterator[str]:
        """Task ids whose cancel was requested, as they come (for workers). Reconnects by
        itself; yields ``""`` after each (re)subscription, when missed requests must be
        looked up (the worker then checks its tasks' flags through a heartbeat)."""
        backoff = Backoff()
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.cancel_channel)
                backoff.reset()
                yield ""
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message and message.get("type") == "message":
                        yield _text(message["data"])
            except TRANSIENT as exc:
                log.warning("cancel channel: Redis unreachable (%s); resubscribing", exc)
                await backoff.wait()
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
