"""Shared fixtures: a real jupyter-server with the extension enabled, and test providers.

Async tests run on pytest-jupyter's loop (its ``pytest_pyfunc_call``), the same loop the
server runs on, so a test can reach into ``jp_serverapp`` and the engine directly.
pytest-asyncio is disabled (``-p no:asyncio`` in pyproject): two plugins driving
coroutine tests would fight over the loop.
"""

from __future__ import annotations

import pytest
from traitlets.config import Config

from vibedraw_widget.providers import registry

pytest_plugins = ("pytest_jupyter.jupyter_server",)

TEST_PROVIDERS = {
    ("code", "scripted"): "tests.providers_for_tests:ScriptedCode",
    ("code", "failing"): "tests.providers_for_tests:FailingCode",
    ("code", "hanging"): "tests.providers_for_tests:HangingCode",
    ("code", "needs-key"): "tests.providers_for_tests:NeedsKeyCode",
    ("model", "scripted"): "tests.providers_for_tests:ScriptedModel",
}


@pytest.fixture(autouse=True)
def test_providers(monkeypatch):
    """Register the test-only providers beside the built-in ones."""
    monkeypatch.setattr(registry, "BUILTIN", {**registry.BUILTIN, **TEST_PROVIDERS})
    registry.provider_classes.cache_clear()
    yield
    registry.provider_classes.cache_clear()


@pytest.fixture
def vibedraw_config():
    """``c.VibeDraw`` options for the test server; override or mutate in a test module."""
    return {"cpu_pool": "thread", "cpu_workers": 2, "sse_keepalive_seconds": 15.0}


@pytest.fixture
def jp_server_config(vibedraw_config):
    """A server with the extension enabled and unauthenticated access refused."""
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"vibedraw_widget": True},
                "allow_unauthenticated_access": False,
            },
            "VibeDraw": vibedraw_config,
        }
    )


@pytest.fixture
def api_url(jp_fetch, jp_http_port, jp_base_url):
    """The absolute URL of the API root. (``jp_fetch`` is what starts the HTTP server.)"""
    return f"http://localhost:{jp_http_port}{jp_base_url}vibedraw/api/"


@pytest.fixture
def token(jp_serverapp):
    """The server's token."""
    return jp_serverapp.identity_provider.token


@pytest.fixture
def auth(token):
    """Token auth headers (exempt from XSRF, as in jupyter-server)."""
    return {"Authorization": f"token {token}"}


@pytest.fixture
def engine(jp_serverapp):
    """The running server's engine."""
    return jp_serverapp.extension_manager.extension_apps["vibedraw_widget"].pop().engine
