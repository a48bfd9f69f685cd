"""What a provider is: the request it gets, the context it reports through, its base classes.

Two kinds (docs/providers.md):

* a **code provider** turns a request into Three.js code (docs/protocol.md, Generated
  code) and *yields text chunks*; each chunk becomes one ``delta`` event as it is
  yielded. Task types ``3d`` and ``edit``; a code provider may also implement ``improve``.
* a **model provider** turns a request into a mesh: it reports progress through
  ``ctx.progress(...)`` and *returns GLB bytes*. Task type ``model``.

Providers never import the server or the engine; the engine hands them a
:class:`TaskContext`. CPU-heavy work goes through ``await ctx.run_cpu(fn, *args)``,
which runs ``fn`` in a worker process so the server's event loop stays responsive
(``fn`` and its arguments must be picklable: a module-level function and plain data).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

from ..errors import VibeDrawError

T = TypeVar("T")

TASK_TYPES = ("3d", "edit", "improve", "model")
"""Task types: ``3d`` and ``edit`` make code, ``improve`` redraws the sketch, ``model`` a mesh."""


class ProviderError(VibeDrawError):
    """A provider failure with a readable message; ``error_type`` goes into the error event.

    At submit time (a provider refusing the request) it answers 400.
    """

    status = 400

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type or type(self).__name__

    def __reduce__(self) -> tuple[type[ProviderError], tuple[str, str]]:
        # Keep error_type when raised in a CPU-pool worker and pickled back.
        return (type(self), (str(self), self.error_type))


class NotConfigured(ProviderError):
    """The provider lacks configuration (an API key, a URL); the message says what to set."""

    status = 503


@dataclass
class Request:
    """Everything a provider may use. Sketch data is validated before it gets here.

    ``sketch`` is sketch data (docs/protocol.md, The sketch), or ``None`` when only an
    image was sent; ``image`` is PNG bytes (or ``None``). Use :meth:`ensure_sketch` /
    :meth:`ensure_image` to get whichever you need: they render or trace the other, in
    this thread; a provider calls :func:`sketch_input` / :func:`image_input`, which do it
    in the CPU pool.
    """

    type: str
    sketch: dict[str, Any] | None = None
    image: bytes | None = None
    prompt: str = ""
    threejs_code: str | None = None
    error: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def full_prompt(self) -> str:
        """The prompt with the sketch's text labels appended (the labels steer generation);
        a label the prompt already says is not repeated."""
        prompt = self.prompt.strip()
        parts = [prompt] if prompt else []
        for text in (t["text"].strip() for t in (self.sketch or {}).get("texts", [])):
            if text and text.lower() not in " ".join(parts).lower():
                parts.append(text)
        return " ".join(parts)

    def ensure_sketch(self) -> dict[str, Any]:
        """The sketch, tracing ``image`` when only an image was sent (CPU work: call it
        through ``ctx.run_cpu`` in a server context)."""
        if self.sketch is None:
            if self.image is None:
                raise ProviderError("the request has neither a sketch nor an image", "ValueError")
            from ..sketch import Sketch

            self.sketch = Sketch.from_png(self.image).to_dict()
        return self.sketch

    def ensure_image(self) -> bytes:
        """The PNG, rendering ``sketch`` when only strokes were sent."""
        if self.image is None:
            from ..sketch import render_png

            self.image = render_png(self.ensure_sketch())
        return self.image


class TaskContext(Protocol):
    """What the engine gives a running provider."""

    task_id: str
    result: dict[str, Any]
    """Extra fields for the ``complete`` event (``model``, ``usage``, ``stop_reason``,
    ``code``, ``sketch``, ``image_base64`` …); the engine adds ``content`` (the streamed
    text) and drops ``code`` when it equals it (docs/protocol.md, Events)."""

    def progress(self, stage: str, progress: float, message: str = "") -> None:
        """Append a ``progress`` event (``progress`` in 0..1). Safe from any thread."""

    async def run_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the CPU pool (a worker process) and await its result.
        ``fn`` must be a module-level function of an importable module (workers do not
        import the script's ``__main__``)."""
        ...


ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Headers :func:`origin_bound_client` never sends to another origin, whatever is marked."""


def origin_bound_client(
    origin: str, secret_headers: Iterable[str] = (), **kwargs: Any
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that sends secret headers to ``origin`` only.

    Every request it makes, redirects included, is checked just before it is sent: one
    to another origin (scheme, host and port) goes without ``secret_headers`` and
    :data:`ALWAYS_SECRET`. httpx itself strips only ``Authorization`` on a redirect to
    another host, so an ``x-api-key`` would otherwise follow a redirect anywhere.
    Redirects are still followed (``follow_redirects=True`` unless given): a service
    may move its files to a CDN, which needs no key. ``kwargs`` go to the client.
    """
    import httpx

    secret = ALWAYS_SECRET | {h.lower() for h in secret_headers}
    home = _origin(origin)

    async def strip_secrets(request: httpx.Request) -> None:
        if _origin(str(request.url)) != home:
            for name in secret:
                request.headers.pop(name, None)

    hooks = kwargs.pop("event_hooks", {})
    hooks = {**hooks, "request": [*hooks.get("request", []), strip_secrets]}
    kwargs.setdefault("follow_redirects", True)
    return httpx.AsyncClient(event_hooks=hooks, **kwargs)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port or default)


class Provider:
    """Base of every provider. Subclasses set ``name`` and ``kind`` and override one side."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""  # "code" or "model"
    description: ClassVar[str] = ""
    supports: ClassVar[frozenset[str]] = frozenset()
    """Task types this provider handles (subset of :data:`TASK_TYPES`)."""
    secret_headers: ClassVar[frozenset[str]] = frozenset()
    """Request headers that carry a secret (an API key). Make HTTP calls through
    :meth:`http_client` and these go only to the origin it is given, never along a
    redirect to another host."""

    def http_client(self, origin: str, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client whose :attr:`secret_headers` reach ``origin`` only (see
        :func:`origin_bound_client`)."""
        return origin_bound_client(origin, self.secret_headers, **kwargs)

    def __init__(self, settings: Any = None) -> None:
        from ..settings import Settings

        self.settings: Settings = settings if settings is not None else Settings()

    def missing_config(self) -> str | None:
        """``None`` when usable, else a message saying what to set (HTTP 503 at submit)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}:{self.name}>"


class CodeProvider(Provider):
    """Yields Three.js code (docs/protocol.md, Generated code) as text chunks; see the
    module docstring."""

    kind: ClassVar[str] = "code"
    supports: ClassVar[frozenset[str]] = frozenset({"3d", "edit"})

    def stream_code(self, request: Request, ctx: TaskContext) -> AsyncIterator[str]:
        """Yield the answer in chunks; set ``ctx.result["code"]`` when the runnable code
        differs from the joined chunks (e.g. a fenced block inside prose)."""
        raise NotImplementedError

    async def improve(self, request: Request, ctx: TaskContext) -> dict[str, Any]:
        """Return ``{"sketch": …, "image_base64": …}``: the sketch redrawn clean."""
        raise ProviderError(f"provider {self.name!r} cannot improve drawings", "ValueError")


# -- the sketch-to-input step every provider shares ----------------------------------------


def trace_sketch(png: bytes) -> dict[str, Any]:
    """A sketch traced from PNG bytes (module level, so ``ctx.run_cpu`` can pickle it)."""
    from ..sketch import Sketch

    return Sketch.from_png(png).to_dict()


def render_sketch(sketch: dict[str, Any]) -> bytes:
    """The PNG of ``sketch`` (module level, so ``ctx.run_cpu`` can pickle it)."""
    from ..sketch import render_png

    return render_png(sketch)


async def sketch_input(
    request: Request, ctx: TaskContext, progress: float | None = None
) -> dict[str, Any]:
    """The request's sketch; when only an image was sent, traced in the CPU pool (and kept
    on the request). ``progress``: report a ``tracing`` stage at this fraction first."""
    if request.sketch is None and request.image is not None:
        if progress is not None:
            ctx.progress("tracing", progress, "tracing the image into strokes")
        request.sketch = await ctx.run_cpu(trace_sketch, request.image)
    return request.ensure_sketch()


async def image_input(request: Request, ctx: TaskContext, *, labels: bool = True) -> bytes:
    """The request's PNG; when only strokes were sent, rendered in the CPU pool (and kept
    on the request). ``labels=False`` leaves the sketch's text labels out of it."""
    if request.image is None:
        sketch = request.ensure_sketch()
        if not labels:
            sketch = {**sketch, "texts": []}
        request.image = await ctx.run_cpu(render_sketch, sketch)
    return request.image


class ModelProvider(Provider):
    """Reports progress and returns GLB bytes; see the module docstring."""

    kind: ClassVar[str] = "model"
    supports: ClassVar[frozenset[str]] = frozenset({"model"})

    async def make_model(self, request: Request, ctx: TaskContext) -> bytes:
        """Return the mesh as GLB bytes, calling ``ctx.progress`` as stages pass."""
        raise NotImplementedError
