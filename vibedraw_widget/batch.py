"""Generate from Python: :func:`generate` for one input, :func:`generate_many` for a batch.

Both run on the embedded engine by default (a :class:`~.engine.background.BackgroundEngine`
on its own loop thread, so they work in a script *and* inside a notebook cell, whose
loop is already running), or against a running server with ``client=``. CPU-heavy
provider steps (tracing, mesh inflation) run in the engine's process pool, never on the
caller's thread or the engine's loop.

``generate_many`` keeps results in input order, shows a ``tqdm.auto`` progress bar,
captures each failure in its own :class:`~.result.Result`, and on Ctrl+C (interrupting
the cell) cancels the outstanding tasks and returns what finished.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import queue
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .engine.background import BackgroundEngine, default_engine
from .engine.events import FINAL_STATUS, Event
from .engine.tasks import TaskSpec
from .kinds import KIND_ALIASES, KINDS, TASK_TYPE, canonical_kind
from .result import Result
from .sketch import Sketch, SketchError, decode_png, parse_json, validate_sketch

SKETCH_SUFFIXES = (".json", ".png")
"""File types accepted as sketches (a directory input expands to these files)."""


class ProgressBar(Protocol):
    """What ``progress=`` may be besides a bool: a tqdm-like object."""

    def update(self, n: int = 1) -> Any: ...
    def set_postfix_str(self, s: str = "", refresh: bool = True) -> Any: ...
    def close(self) -> Any: ...


# -- inputs -------------------------------------------------------------------------


@dataclass
class Prepared:
    """An input made ready to submit: sketch data or PNG bytes, and a label."""

    source: str
    sketch: dict[str, Any] | None = None
    image: bytes | None = None


def prepare(item: Any, index: int = 0) -> Prepared:
    """Turn one input into sketch data or PNG bytes; raises :class:`SketchError`.

    Accepts a sketch dict, a :class:`~.sketch.Sketch`, JSON text, PNG bytes, or a path
    to a ``.json`` or ``.png`` file. PNGs are not traced here: the provider traces them
    in the engine's CPU pool.
    """
    if isinstance(item, (Mapping, Sketch)):
        return Prepared(f"#{index}", sketch=validate_sketch(item))
    if isinstance(item, (bytes, bytearray)):
        return Prepared(f"#{index}", image=decode_png(bytes(item), "input"))
    if isinstance(item, (str, Path)):
        path = _as_path(item)
        if path is None:
            return Prepared(f"#{index}", sketch=validate_sketch(parse_json(str(item), "input")))
        if not path.is_file():
            raise SketchError("input", f"no such file: {path}")
        if path.suffix.lower() == ".png":
            return Prepared(path.name, image=decode_png(path.read_bytes(), path.name))
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise SketchError(path.name, f"not a UTF-8 JSON sketch ({exc.reason})") from None
        return Prepared(path.name, sketch=validate_sketch(parse_json(text, path.name)))
    raise SketchError(
        "input", f"expected a sketch dict, Sketch, JSON or PNG, got {type(item).__name__}"
    )


def expand_inputs(inputs: Any) -> list[Any]:
    """A list of inputs; a directory (or a path string naming one) becomes its sorted
    ``.json``/``.png`` files, so ``generate_many("sketches/")`` does what it says, and a
    glob pattern that names no file (``"sketches/*.json"``) its sorted matches."""
    if isinstance(inputs, (str, Path, Mapping, Sketch, bytes, bytearray)):
        inputs = [inputs]
    out: list[Any] = []
    for item in inputs:
        directory = _directory(item)
        if directory is not None:
            out.extend(
                sorted(p for p in directory.iterdir() if p.suffix.lower() in SKETCH_SUFFIXES)
            )
        elif _is_pattern(item):
            out.extend(sorted(Path(p) for p in glob.glob(str(item), recursive=True)) or [item])
        else:
            out.append(item)
    return out


def _as_path(item: Any) -> Path | None:
    """``item`` as a file path, if it is one: a Path, or a string that is not JSON text."""
    if not isinstance(item, (str, Path)) or str(item).lstrip().startswith("{"):
        return None
    return Path(item)


def _is_pattern(item: Any) -> bool:
    """A path with glob characters that is not itself a file (quoted globs reach us
    unexpanded from a shell, and from Python always)."""
    path = _as_path(item)
    return path is not None and any(c in str(path) for c in "*?[") and not path.exists()


def _directory(item: Any) -> Path | None:
    """``item`` as a path, if it names a directory (JSON text never does)."""
    path = _as_path(item)
    if path is None:
        return None
    try:
        return path if path.is_dir() else None
    except OSError:  # e.g. a name longer than the file system allows
        return None


def _spec(
    prepared: Prepared,
    kind: str,
    prompt: str,
    provider: str | None,
    code: str | None,
    options: dict[str, Any] | None,
) -> TaskSpec:
    return TaskSpec(
        type=TASK_TYPE[kind],
        provider=provider,
        sketch=prepared.sketch,
        image=prepared.image,
        prompt=prompt,
        threejs_code=code,
        options=dict(options or {}),
    )


def _check_kind(kind: str, code: str | None) -> str:
    """The kind to run (an alias such as ``"mesh"`` becomes ``"model"``), or raise."""
    kind = canonical_kind(kind)
    if kind not in KINDS:
        names = ", ".join([*KINDS, *KIND_ALIASES])
        raise ValueError(f"kind={kind!r}: expected one of {names}")
    if kind == "edit" and not code:
        raise ValueError("kind='edit' needs code= (the Three.js code to edit)")
    return kind


# -- running one task -----------------------------------------------------------------

Runner = Callable[[TaskSpec, Result], Awaitable[Result]]
"""Runs a spec to its end and fills the result (on the engine's loop)."""


def _fill(result: Result, terminal: Event) -> None:
    """Copy a terminal event's data into ``result``."""
    data = terminal.data
    result.status = FINAL_STATUS[terminal.type]
    if result.status == "completed":
        result.model = data.get("model")
        result.usage = dict(data.get("usage") or {})
        result.content = data.get("content")
        # ``code`` is sent only where the runnable code differs from the answer.
        result.code = data.get("code", result.content)
        if result.kind == "improve":
            result.code = None
            result.improved = data.get("sketch")
            image = data.get("image_base64")
            result.improved_png = decode_png(image) if image else None
    elif result.status == "failed":
        result.error = data.get("error") or "failed"
        result.error_type = data.get("error_type")


async def _follow(
    result: Result,
    events: AsyncIterator[Event],
    cancel: Callable[[], Awaitable[Any]],
    glb: Callable[[], Awaitable[bytes | None]],
) -> None:
    """Follow a submitted task to its end, wherever it runs: keep its events, fill
    ``result`` from the terminal one, fetch a model's GLB."""
    result.events = []
    try:
        async for event in events:
            result.events.append(event)
    except asyncio.CancelledError:
        # Interrupted: stop the task itself, not just our interest in it.
        await cancel()
        result.status = "cancelled"
        raise
    if not result.events or not result.events[-1].terminal:
        result.status, result.error = "failed", "the event stream ended without a result"
        return
    _fill(result, result.events[-1])
    if result.ok and result.kind == "model":
        result.glb = await glb()


def _timings(
    events: list[Event], submitted: float, end: float, started: float | None, created: float | None
) -> dict[str, float]:
    """``Result.timings`` from the task's clock readings (``None`` where unknown)."""
    timings = {"total": end - submitted}
    if started is not None:
        if created is not None:
            timings["queued"] = started - created
        timings["run"] = end - started
        first = next((e.time for e in events if e.type in ("delta", "progress")), None)
        if first is not None:
            timings["first_output"] = first - started
    return {k: round(max(v, 0.0), 4) for k, v in timings.items()}


def local_runner(bg: BackgroundEngine) -> Runner:
    """A runner on the embedded engine ``bg`` (its coroutine runs on ``bg.loop``)."""
    engine = bg.engine

    async def run(spec: TaskSpec, result: Result) -> Result:
        submitted = time.time()
        record = await engine.submit(spec)
        task_id = result.task_id = record.task_id
        result.provider = record.provider
        await _follow(
            result,
            engine.follow(task_id),
            lambda: engine.cancel(task_id),
            lambda: engine.glb(task_id),
        )
        record = await engine.get(task_id)
        end = record.finished or time.time()
        result.timings = _timings(result.events, submitted, end, record.started, record.created)
        return result

    return run


def client_runner(client: Any) -> Runner:
    """A runner against a running server through an
    :class:`~vibedraw_widget.client.AsyncClient` (the blocking ``Client`` gives its ``.aio``).

    Times are read here as events arrive: ``run`` and ``first_output`` count from the
    arrival of ``start``; ``queued`` is unknown.
    """
    aio = getattr(client, "aio", client)

    async def run(spec: TaskSpec, result: Result) -> Result:
        submitted = time.time()
        # The options go in the body, where the server reads max_tokens, detail, scene …;
        # a model task's Trellis knobs (seed, steps) are read from its `input`.
        fields: dict[str, Any] = dict(spec.options)
        if spec.type == "model":
            fields["input"] = dict(spec.options)
        if spec.threejs_code:
            fields["threejs_code"] = spec.threejs_code
        if spec.error:
            fields["error"] = spec.error
        task_id = await aio.submit(
            spec.type,
            spec.sketch,
            image=spec.image,
            prompt=spec.prompt,
            provider=spec.provider,
            **fields,
        )
        result.task_id = task_id
        await _follow(
            result, aio.events(task_id), lambda: aio.cancel(task_id), lambda: aio.glb(task_id)
        )
        start = next((e for e in result.events if e.type == "start"), None)
        if start is not None and result.provider is None:
            result.provider = start.data.get("provider")
        started = start.time if start is not None else None
        result.timings = _timings(result.events, submitted, time.time(), started, None)
        return result

    return run


async def _guarded(runner: Runner, spec: TaskSpec, result: Result) -> Result:
    """Run; any exception (unknown provider, queue full, network) becomes a failed result."""
    try:
        return await runner(spec, result)
    except asyncio.CancelledError:
        result.status = "cancelled"
        raise
    except Exception as exc:
        result.status = "failed"
        result.error = str(exc) or type(exc).__name__
        result.error_type = getattr(exc, "error_type", None) or type(exc).__name__
        return result


def _runner_for(
    client: Any, engine: BackgroundEngine | None
) -> tuple[asyncio.AbstractEventLoop, Runner]:
    """The loop to run on and the runner: a blocking ``Client`` runs on its own loop
    thread (its HTTP connections live there), everything else on the engine's."""
    if client is not None:
        loop = getattr(client, "_loop", None) or (engine or default_engine()).loop
        return loop, client_runner(client)
    bg = engine or default_engine()
    return bg.loop, local_runner(bg)


# -- public API -----------------------------------------------------------------------


def generate(
    input: Any,
    kind: str = "code",
    prompt: str = "",
    provider: str | None = None,
    client: Any = None,
    *,
    code: str | None = None,
    options: dict[str, Any] | None = None,
    engine: BackgroundEngine | None = None,
    timeout: float | None = None,
) -> Result:
    """Generate from one sketch and return its :class:`~.result.Result`.

    ``input``: a sketch dict, a :class:`~.sketch.Sketch`, JSON text, PNG bytes or a
    ``.json``/``.png`` path. ``kind``: ``"code"`` (Three.js code), ``"model"`` or ``"mesh"`` (a
    GLB mesh), ``"improve"`` (the drawing redrawn clean) or ``"edit"`` (with ``code=``, the
    code to change as ``prompt`` says). ``provider``: a provider name (default: the
    configured one, offline ``local`` unless a key is set). ``client``: a
    :class:`~vibedraw_widget.client.Client` to run on a server instead of in-process.
    ``options``: provider knobs (``{"detail": 2}`` for a finer local mesh,
    ``{"max_tokens": …}`` for Claude). ``engine``: the in-process engine to use (default:
    one shared per process). ``timeout``: seconds to wait, after which the task is
    cancelled and :class:`TimeoutError` raised.

    Invalid input or arguments raise (``SketchError``, ``ValueError``); a task that fails
    returns a result with ``status="failed"`` and ``error`` set. Interrupting (Ctrl+C)
    cancels the task.

    >>> result = generate("house.json", kind="model")          # doctest: +SKIP
    >>> result.save("house.glb")                                 # doctest: +SKIP
    """
    kind = _check_kind(kind, code)
    prepared = prepare(input)
    if _as_path(input) is None:
        prepared.source = ""
    spec = _spec(prepared, kind, prompt, provider, code, options)
    result = Result(kind=kind, status="pending", source=prepared.source, prompt=prompt)
    result.sketch, result.image = prepared.sketch, prepared.image
    loop, runner = _runner_for(client, engine)
    ended = threading.Event()

    async def run() -> Result:
        try:
            return await _guarded(runner, spec, result)
        finally:
            ended.set()

    future = asyncio.run_coroutine_threadsafe(run(), loop)
    try:
        return _wait(future.result, timeout)
    except BaseException:  # KeyboardInterrupt, timeout: stop the task, not just the wait
        future.cancel()
        ended.wait(_CANCEL_GRACE)
        raise


def generate_many(
    inputs: Iterable[Any] | str | Path,
    kind: str = "code",
    prompt: str = "",
    provider: str | None = None,
    client: Any = None,
    *,
    concurrency: int = 4,
    progress: bool | ProgressBar = True,
    code: str | None = None,
    options: dict[str, Any] | None = None,
    engine: BackgroundEngine | None = None,
) -> list[Result]:
    """Generate from many sketches, ``concurrency`` at a time; results in input order.

    ``inputs``: anything :func:`generate` accepts, or a directory (its ``.json`` and
    ``.png`` files, sorted). ``progress``: show a ``tqdm.auto`` bar (or pass your own
    tqdm-like object). Every input gets a result: a failure (bad file, provider error)
    is captured in its own result and never stops the batch. Interrupting (Ctrl+C,
    the notebook's stop button) cancels the outstanding tasks and returns at once: the
    finished results as they are, the others with ``status="cancelled"``.
    """
    kind = _check_kind(kind, code)
    if concurrency < 1:
        raise ValueError(f"concurrency={concurrency}: must be at least 1")
    items = expand_inputs(inputs)
    results: list[Result] = []
    specs: list[TaskSpec | None] = []
    for index, item in enumerate(items):
        path = _as_path(item)
        label = path.name if path is not None else f"#{index}"
        result = Result(kind=kind, status="pending", source=label, prompt=prompt)
        try:
            prepared = prepare(item, index)
        except (SketchError, OSError) as exc:
            result.status, result.error, result.error_type = "failed", str(exc), "SketchError"
            specs.append(None)
        else:
            result.source, result.sketch = prepared.source, prepared.sketch
            result.image = prepared.image
            specs.append(_spec(prepared, kind, prompt, provider, code, options))
        results.append(result)

    bar = _make_bar(progress, len(results), kind)
    done: queue.SimpleQueue[int] = queue.SimpleQueue()
    finished = threading.Event()
    loop, runner = _runner_for(client, engine)

    async def run_all() -> None:
        slots = asyncio.Semaphore(concurrency)

        async def one(index: int, spec: TaskSpec) -> None:
            async with slots:
                await _guarded(runner, spec, results[index])
            done.put(index)

        tasks = [asyncio.ensure_future(one(i, s)) for i, s in enumerate(specs) if s is not None]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # each cancels its task
            raise
        finally:
            finished.set()

    failed = 0
    for result in results:
        if result.status == "failed":  # bad inputs count as done at once
            failed += 1
            _advance(bar, failed)
    future = asyncio.run_coroutine_threadsafe(run_all(), loop)
    try:
        pending = sum(spec is not None for spec in specs)
        for _ in range(pending):
            index = _wait(done.get)
            failed += not results[index].ok
            _advance(bar, failed)
        future.result()
    except KeyboardInterrupt:
        future.cancel()
        finished.wait(_CANCEL_GRACE)  # the outstanding tasks are being cancelled
        for result in results:
            if result.status in ("pending", "running"):
                result.status = "cancelled"
        count = sum(r.ok for r in results)
        _write(bar, f"interrupted: {count} of {len(results)} finished, the rest cancelled")
    finally:
        if bar is not None:
            bar.close()
    return results


_WAKE_SECONDS = 0.2
_CANCEL_GRACE = 30.0


def _wait(get: Callable[..., Any], timeout: float | None = None) -> Any:
    """``get(timeout=…)`` in short slices, so that Ctrl+C is noticed promptly.

    A thread blocked on a lock only sees KeyboardInterrupt if the signal happens to
    interrupt that very wait; ipykernel's interrupt and ``_thread.interrupt_main`` only
    set a flag, checked when Python code runs again.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait = _WAKE_SECONDS
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError(f"no result within {timeout} s")
        try:
            return get(timeout=wait)
        except (queue.Empty, concurrent.futures.TimeoutError):
            continue


def _make_bar(progress: bool | ProgressBar, total: int, kind: str) -> ProgressBar | None:
    if progress is False or progress is None:
        return None
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=f"vibedraw {kind}", unit="sketch")
    return progress


def _advance(bar: ProgressBar | None, failed: int) -> None:
    if bar is not None:
        if failed:
            bar.set_postfix_str(f"{failed} failed", refresh=False)
        bar.update(1)


def _write(bar: ProgressBar | None, message: str) -> None:
    from tqdm import tqdm

    # stderr either way: stdout may carry a machine-read summary (`vibedraw … --json`).
    if isinstance(bar, tqdm):
        bar.write(message, file=sys.stderr)  # above the bar, not through it
    elif bar is not None and hasattr(bar, "write"):
        bar.write(message)
    else:
        print(message, file=sys.stderr)
