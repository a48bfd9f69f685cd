"""Providers: one module each, found through :mod:`.registry`."""

from .base import (
    CodeProvider,
    ModelProvider,
    NotConfigured,
    Provider,
    ProviderError,
    Request,
    image_input,
    sketch_input,
)
from .registry import describe_providers, get_provider

__all__ = [
    "CodeProvider",
    "ModelProvider",
    "NotConfigured",
    "Provider",
    "ProviderError",
    "Request",
    "describe_providers",
    "get_provider",
    "image_input",
    "sketch_input",
]
