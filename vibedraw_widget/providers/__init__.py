"""Providers: one module each, found through :mod:`.registry`."""

from .base import CodeProvider, ModelProvider, NotConfigured, Provider, ProviderError, Request
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
]
