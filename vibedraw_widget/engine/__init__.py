"""The task engine: tasks, their event logs, a runner with bounded concurrency (no Jupyter)."""

from .events import TERMINAL, Event, EventLog
from .runner import Engine
from .stores import MemoryStore, TaskStore, open_store
from .tasks import QueueFull, TaskRecord, TaskSpec, UnknownTask, new_task_id, valid_task_id

__all__ = [
    "TERMINAL",
    "Engine",
    "Event",
    "EventLog",
    "MemoryStore",
    "QueueFull",
    "TaskRecord",
    "TaskSpec",
    "TaskStore",
    "UnknownTask",
    "new_task_id",
    "open_store",
    "valid_task_id",
]
