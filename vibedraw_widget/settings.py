"""Settings shared by the server extension, the in-process engine, workers and the CLI.

Each option is declared once, here, as a field of :class:`Settings` with its help text.
The server's ``VibeDraw`` app makes one configurable trait per documented field
(``c.VibeDraw.<option>``, ``--VibeDraw.<option>=…``, listed by ``jupyter server
--help-all``); scripts use the defaults or pass their own; docs/configuration.md lists
them all (a test checks it). Secrets come from the environment, never from code: their
fields carry no help and are no traits.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    factory: Callable[[], Any] | None = None,
    type: type | None = None,
    choices: Sequence[str] | None = None,
) -> Any:
    """A documented, configurable setting: a dataclass field whose metadata carries what
    the server's trait needs (``help``; ``type`` when the default is ``None``; ``choices``
    for an enumeration)."""
    metadata = {"help": help, "type": type, "choices": tuple(choices) if choices else None}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _default_cpu_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class Settings:
    """Configuration of the engine and the providers (docs/configuration.md)."""

    code_provider: str = option(
        "auto",
        "Code provider: 'auto' (anthropic when ANTHROPIC_API_KEY is set, else local), "
        "'local', 'anthropic' or a plug-in's name.",
    )
    model_provider: str = option(
        "local", "Model (mesh) provider: 'local', 'trellis' or a plug-in's name."
    )
    anthropic_model: str = option(
        "claude-sonnet-4-6", "Claude model used by the anthropic code provider."
    )
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    anthropic_max_retries: int = option(2, "Retries the anthropic SDK makes itself.")
    max_tokens: int = option(8192, "Default max_tokens of an LLM answer.")
    temperature: float = option(0.2, "Default sampling temperature of an LLM answer.")
    trellis_url: str = option(
        "https://api.piapi.ai/api/v1/task", "Task endpoint of a Trellis/PiAPI-compatible service."
    )
    trellis_api_key: str | None = field(default=None, repr=False)
    trellis_timeout: float = option(600.0, "Seconds to follow a remote Trellis task.")
    max_concurrent_tasks: int = option(4, "Tasks run at the same time; others wait.")
    max_queued_tasks: int = option(64, "Tasks allowed to wait; beyond it POST answers 429.")
    task_timeout: float = option(300.0, "Seconds before a task ends with a TimeoutError.")
    max_upload_bytes: int = option(20 * 1024 * 1024, "Largest request body (413 beyond).")
    retention_seconds: float = option(3600.0, "How long finished tasks' logs are kept.")
    store_url: str = option(
        "memory://", "Where tasks live: memory:// (this process) or redis://host:port/db."
    )
    run_tasks: bool | None = option(
        None,
        "Run tasks in this server. Default: yes with memory://, no with redis:// "
        "(then `vibedraw worker` processes run them).",
        type=bool,
    )
    claim_after_seconds: float = 30.0  # redis store: a dead worker's task is re-run after this
    cpu_workers: int = option(
        help="Processes for CPU-bound provider work (meshing, tracing); default min(4, cores).",
        factory=_default_cpu_workers,
    )
    cpu_pool: str = option(
        "process", "Pool kind for CPU-bound work.", choices=("process", "thread")
    )
    sse_keepalive_seconds: float = option(15.0, "Seconds of silence before an SSE keepalive.")

    def __post_init__(self) -> None:
        if self.anthropic_api_key is None:
            self.anthropic_api_key = os.environ.get("ANTHROPIC_API_KEY") or None
        if self.anthropic_base_url is None:
            self.anthropic_base_url = os.environ.get("ANTHROPIC_BASE_URL") or None
        if self.trellis_api_key is None:
            self.trellis_api_key = os.environ.get("TRELLIS_API_KEY") or None

    def resolved_code_provider(self) -> str:
        """``auto`` means anthropic when a key is set, else the offline ``local``."""
        if self.code_provider != "auto":
            return self.code_provider
        return "anthropic" if self.anthropic_api_key else "local"


def options() -> list[dataclasses.Field[Any]]:
    """The configurable fields of :class:`Settings`, in declaration order (those with help)."""
    return [f for f in dataclasses.fields(Settings) if f.metadata.get("help")]


def option_default(f: dataclasses.Field[Any]) -> Any:
    """A field's default value (calling its factory)."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default
