"""One exception tree: every error vibedraw raises is a VibeDrawError carrying its status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import vibedraw_widget
from vibedraw_widget.errors import VibeDrawError

PRIVATE_WRAPPERS = {"_Transient"}  # trellis: a retry signal that never leaves its module


def package_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(vibedraw_widget.__path__, "vibedraw_widget."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and name not in PRIVATE_WRAPPERS
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_exception_of_the_package_derives_from_the_root():
    found = package_exceptions()
    assert len(found) >= 17, sorted(found)
    strays = [name for name, cls in found.items() if not issubclass(cls, VibeDrawError)]
    assert strays == []


@pytest.mark.parametrize(
    ("path", "builtin", "status"),
    [
        ("sketch.SketchError", ValueError, 400),
        ("server.parsing.BadRequest", ValueError, 400),
        ("local.scene_schema.SceneError", ValueError, 400),
        ("local.edit.EditNotUnderstood", ValueError, 400),
        ("providers.registry.UnknownProvider", LookupError, 400),
        ("providers.base.ProviderError", Exception, 400),
        ("providers.base.NotConfigured", Exception, 503),
        ("engine.tasks.UnknownTask", LookupError, 404),
        ("engine.tasks.QueueFull", RuntimeError, 429),
        ("engine.events.LogClosed", RuntimeError, 500),
        ("result.GenerationError", RuntimeError, 500),
        ("world.MissingExport", RuntimeError, 500),
        ("viewer.RuntimeMissing", FileNotFoundError, 500),
    ],
)
def test_each_error_keeps_its_builtin_base_and_says_its_status(path, builtin, status):
    module, _, name = f"vibedraw_widget.{path}".rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, VibeDrawError) and issubclass(cls, builtin)
    assert cls.status == status


def test_message_is_the_reason_the_json_body_carries():
    from vibedraw_widget.providers.registry import UnknownProvider

    error = UnknownProvider("provider: no code provider 'x'")
    assert error.message == str(error) == "provider: no code provider 'x'"


def test_the_clients_public_error_name_still_catches_what_it_raises():
    from vibedraw_widget import VibeDrawError as public
    from vibedraw_widget.client import RequestRefused
    from vibedraw_widget.client import VibeDrawError as from_client

    assert public is from_client is VibeDrawError
    refused = RequestRefused(429, "queue full")
    assert isinstance(refused, VibeDrawError) and isinstance(refused, RuntimeError)
    assert (refused.status, refused.message, str(refused)) == (
        429,
        "queue full",
        "HTTP 429: queue full",
    )
