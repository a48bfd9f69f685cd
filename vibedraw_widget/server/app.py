"""The jupyter-server extension: configuration (``c.VibeDraw.*``) and the engine's lifetime."""

from __future__ import annotations

import uuid

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, CFloat, CInt, Enum, Unicode, default

from ..engine import Engine
from ..engine.pool import CpuPool
from ..settings import Settings
from .handlers import handlers


class VibeDraw(ExtensionApp):
    """Serves vibedraw's task routes under ``{base_url}vibedraw/api/``.

    Configure it in ``jupyter_server_config.py`` as ``c.VibeDraw.<option> = …``;
    ``jupyter server --help-all`` lists every option.
    """

    name = "vibedraw_widget"
    load_other_extensions = True

    code_provider = Unicode(
        Settings.code_provider,
        help="Code provider: 'auto' (anthropic when ANTHROPIC_API_KEY is set, else local), "
        "'local', 'anthropic' or a plug-in's name.",
    ).tag(config=True)
    model_provider = Unicode(
        Settings.model_provider,
        help="Model (mesh) provider: 'local', 'trellis' or a plug-in's name.",
    ).tag(config=True)
    anthropic_model = Unicode(
        Settings.anthropic_model, help="Claude model used by the anthropic code provider."
    ).tag(config=True)
    anthropic_max_retries = CInt(
        Settings.anthropic_max_retries, help="Retries the anthropic SDK makes itself."
    ).tag(config=True)
    max_tokens = CInt(Settings.max_tokens, help="Default max_tokens of an LLM answer.").tag(
        config=True
    )
    temperature = CFloat(
        Settings.temperature, help="Default sampling temperature of an LLM answer."
    ).tag(config=True)
    trellis_url = Unicode(
        Settings.trellis_url, help="Task endpoint of a Trellis/PiAPI-compatible service."
    ).tag(config=True)
    trellis_timeout = CFloat(
        Settings.trellis_timeout, help="Seconds to follow a remote Trellis task."
    ).tag(config=True)
    max_concurrent_tasks = CInt(
        Settings.max_concurrent_tasks, help="Tasks run at the same time; others wait."
    ).tag(config=True)
    max_queued_tasks = CInt(
        Settings.max_queued_tasks, help="Tasks allowed to wait; beyond it POST answers 429."
    ).tag(config=True)
    task_timeout = CFloat(
        Settings.task_timeout, help="Seconds before a task ends with a TimeoutError."
    ).tag(config=True)
    max_upload_bytes = CInt(
        Settings.max_upload_bytes, help="Largest request body (413 beyond)."
    ).tag(config=True)
    retention_seconds = CFloat(
        Settings.retention_seconds, help="How long finished tasks' logs are kept."
    ).tag(config=True)
    max_finished_tasks = CInt(
        Settings.max_finished_tasks,
        help="Finished tasks kept in memory (memory:// store); beyond it the oldest are "
        "dropped before retention_seconds.",
    ).tag(config=True)
    store_url = Unicode(
        Settings.store_url,
        help="Where tasks live: memory:// (this process) or redis://host:port/db.",
    ).tag(config=True)
    run_tasks = Bool(
        None,
        allow_none=True,
        help="Run tasks in this server. Default: yes with memory://, no with redis:// "
        "(then `vibedraw worker` processes run them).",
    ).tag(config=True)
    cpu_workers = CInt(help="Processes for CPU-bound provider work (meshing, tracing).").tag(
        config=True
    )
    cpu_pool = Enum(
        ["process", "thread"], Settings.cpu_pool, help="Pool kind for CPU-bound work."
    ).tag(config=True)
    sse_keepalive_seconds = CFloat(15.0, help="Seconds of silence before an SSE keepalive.").tag(
        config=True
    )

    @default("cpu_workers")
    def _default_cpu_workers(self) -> int:
        return Settings().cpu_workers

    def settings_from_config(self) -> Settings:
        """The engine's :class:`Settings` from this app's traitlets."""
        names = [f for f in Settings.__dataclass_fields__ if self.has_trait(f)]
        return Settings(**{name: getattr(self, name) for name in names})

    instance_id = Unicode(help="This server process's random id (a fallback identity).")

    @default("instance_id")
    def _default_instance_id(self) -> str:
        return uuid.uuid4().hex

    def initialize_settings(self) -> None:
        self.engine = Engine(self.settings_from_config(), run_tasks=self.run_tasks)
        # Large request bodies are parsed in a process of their own (not behind meshing in
        # the engine's pool), at the lowest priority like it, so that the server answering
        # everyone else wins the CPU over one large upload.
        self.body_pool = CpuPool(1, self.cpu_pool)
        if self.engine.run_tasks:
            self.engine.cpu.warm()
        self.log.info("vibedraw: %r", self.engine)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())

    async def stop_extension(self) -> None:
        """Cancel running tasks so each log ends with ``cancelled``, then release pools."""
        await self.engine.close()
        self.body_pool.shutdown()
