"""Settings shared by the server extension, the in-process engine, workers and the CLI.

The server fills them from its traitlets (``c.VibeDraw.*``, DESIGN §8); scripts use the
defaults or pass their own. Secrets come from the environment, never from code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class Settings:
    """Configuration of the engine and the providers (see README's configuration table)."""

    code_provider: str = "auto"
    model_provider: str = "local"
    anthropic_model: str = "claude-sonnet-4-6"
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    anthropic_max_retries: int = 2
    max_tokens: int = 8192
    temperature: float = 0.2
    trellis_url: str = "https://api.piapi.ai/api/v1/task"
    trellis_api_key: str | None = field(default=None, repr=False)
    trellis_timeout: float = 600.0
    max_concurrent_tasks: int = 4
    max_queued_tasks: int = 64
    task_timeout: float = 300.0
    max_upload_bytes: int = 20 * 1024 * 1024
    retention_seconds: float = 3600.0
    max_finished_tasks: int = 500  # memory store: older finished tasks are dropped beyond it
    store_url: str = "memory://"
    claim_after_seconds: float = 30.0  # redis store: a dead worker's task is re-run after this
    cpu_workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    cpu_pool: str = "process"  # "process" or "thread"

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
