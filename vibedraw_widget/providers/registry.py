"""Find providers by kind and name: the built-in ones, then the entry-point group
``vibedraw_widget.providers`` (each entry point names a :class:`Provider` subclass)."""

from __future__ import annotations

import functools
import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

from ..errors import VibeDrawError
from ..settings import Settings
from .base import Provider

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "vibedraw_widget.providers"

# (kind, name) -> "module:Class"; imported lazily so that `import vibedraw_widget` stays light.
BUILTIN: dict[tuple[str, str], str] = {
    ("code", "local"): "vibedraw_widget.providers.local_code:LocalCodeProvider",
    ("code", "anthropic"): "vibedraw_widget.providers.anthropic:AnthropicCodeProvider",
    ("model", "local"): "vibedraw_widget.providers.local_model:LocalModelProvider",
    ("model", "trellis"): "vibedraw_widget.providers.trellis:TrellisModelProvider",
}


class UnknownProvider(VibeDrawError, LookupError):
    """No provider of that kind and name is installed (a request naming it answers 400)."""

    status = 400


def _load(target: str) -> type[Provider]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@functools.lru_cache(maxsize=1)
def provider_classes() -> dict[tuple[str, str], type[Provider]]:
    """Every provider class, keyed by ``(kind, name)``; built-ins win over plug-ins.

    Read once per process (``provider_classes.cache_clear()`` re-reads)."""
    found: dict[tuple[str, str], type[Provider]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            found[(cls.kind, cls.name)] = cls
        except Exception:  # a broken plug-in must not take the built-ins down
            log.exception("could not load provider entry point %s", ep.name)
    for key, target in BUILTIN.items():
        try:
            found[key] = _load(target)
        except ImportError as exc:
            log.warning("built-in provider %s unavailable: %s", key, exc)
    return found


def default_name(kind: str, settings: Settings) -> str:
    """The provider used when a request names none."""
    return settings.resolved_code_provider() if kind == "code" else settings.model_provider


def get_provider(kind: str, name: str | None, settings: Settings) -> Provider:
    """An instance of provider ``name`` (or the configured default) of ``kind``."""
    name = name or default_name(kind, settings)
    classes = provider_classes()
    if (kind, name) not in classes:
        known = sorted(n for k, n in classes if k == kind)
        raise UnknownProvider(f"unknown {kind} provider {name!r}; known: {', '.join(known)}")
    return classes[(kind, name)](settings)


def describe_providers(settings: Settings) -> list[dict[str, Any]]:
    """What ``GET providers`` answers: every provider, its kind, whether it is the default
    and whether it is configured (and if not, what to set)."""
    out = []
    for (kind, name), cls in sorted(provider_classes().items()):
        provider = cls(settings)
        missing = provider.missing_config()
        out.append(
            {
                "name": name,
                "kind": kind,
                "description": cls.description,
                "supports": sorted(cls.supports),
                "default": name == default_name(kind, settings),
                "configured": missing is None,
                "message": missing or "",
            }
        )
    return out
