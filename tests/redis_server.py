"""Test helpers for the Redis store: a real ``redis-server`` on a free port, worker
subprocesses, and a code provider that other processes can hold at a gate.

The server keeps an append-only file with ``appendfsync always``, so a restart (even after
SIGKILL) loses nothing that was acknowledged — as a production Redis should be set up.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import redis
import redis.asyncio as aioredis

from vibedraw_widget.providers.base import CodeProvider, Request, TaskContext

REPO = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
GATE_ENV = "VIBEDRAW_TEST_GATE_URL"
PROVIDERS = {
    ("code", "gated"): "tests.redis_server:GatedCode",
    ("model", "scripted"): "tests.providers_for_tests:ScriptedModel",
}
"""Registry entries for the test providers that subprocesses need too."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``condition()`` (for external processes, which send no events) until true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class RedisServer:
    """A ``redis-server`` process with its data in ``directory``; restartable in place.

    ``persist=False``: no append-only file and no snapshots, so a restart forgets everything
    (a cache-style Redis)."""

    def __init__(self, directory: Path, port: int | None = None, *, persist: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server and return once it answers PING."""
        command = [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--appendonly", "yes" if self.persist else "no",
            "--appendfsync", "always",
            "--save", "",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)

        def ready() -> bool:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server exited: {log[-2000:]}")
            try:
                return bool(client.ping())
            except redis.exceptions.BusyLoadingError:
                return False
            except redis.exceptions.ConnectionError:
                return False

        try:
            wait_until(ready, what=f"redis-server on port {self.port}")
        finally:
            client.close()
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGKILL when ``kill``: no goodbye, as in a crash)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None

    def restart(self, kill: bool = True) -> None:
        """Crash (or stop) the server and start it again on the same port and data."""
        self.stop(kill=kill)
        self.start()


# -- worker subprocesses -----------------------------------------------------------------


def subprocess_env(gate_url: str) -> dict[str, str]:
    """Environment for a child that must import ``tests`` and reach the gate."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env[GATE_ENV] = gate_url
    return env


_BOOT = (
    "import sys; from vibedraw_widget.providers import registry; "
    "from tests.redis_server import PROVIDERS; registry.BUILTIN.update(PROVIDERS); "
)


def start_worker(
    store_url: str,
    name: str,
    *,
    log_path: Path,
    concurrency: int = 1,
    claim_after: float = 30.0,
    grace: float = 5.0,
) -> subprocess.Popen[bytes]:
    """A ``vibedraw worker`` subprocess that also knows the ``gated`` test provider."""
    code = _BOOT + "from vibedraw_widget.engine.worker import main; sys.exit(main(sys.argv[1:]))"
    args = [
        "--store", store_url,
        "--name", name,
        "--concurrency", str(concurrency),
        "--claim-after", str(claim_after),
        "--grace", str(grace),
        "--log-level", "INFO",
    ]  # fmt: skip
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code, *args],
            env=subprocess_env(store_url),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


def start_server(
    store_url: str, port: int, token: str, root: Path, *, log_path: Path
) -> subprocess.Popen[bytes]:
    """A ``jupyter server`` subprocess with the extension on ``store_url`` (no tasks run
    in it: workers run them) that also knows the test providers."""
    config = root / "jupyter-config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "jupyter_server_config.json").write_text(
        '{"ServerApp": {"jpserver_extensions": {"vibedraw_widget": true}}}'
    )
    env = subprocess_env(store_url)
    env.update(
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        JUPYTER_DATA_DIR=str(root / "data"),
    )
    code = _BOOT + "from jupyter_server.serverapp import main; sys.exit(main())"
    args = [
        "--allow-root",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_unauthenticated_access=False",
        f"--VibeDraw.store_url={store_url}",
        "--VibeDraw.cpu_pool=thread",
    ]
    with open(log_path, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
        )

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter server exited: {log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_until(ready, timeout=120, what=f"jupyter server on port {port}")
    return process


def stop_process(process: subprocess.Popen[bytes], kill: bool = False) -> None:
    """Stop a child (SIGTERM, or SIGKILL when ``kill``) and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- a provider held at a gate in Redis ----------------------------------------------------


def _option(prompt: str, name: str, default: str | None = None) -> str | None:
    match = re.search(rf"\b{name}=(\S+)", prompt)
    return match.group(1) if match else default


async def open_gate(url: str, key: str) -> None:
    """Let one :class:`GatedCode` run that waits at gate ``key`` go on."""
    client = aioredis.from_url(url)
    try:
        await client.rpush(f"gate:{key}", "go")
    finally:
        await client.aclose()


class GatedCode(CodeProvider):
    """Yields ``chunks=N`` chunks ``// part i``; with ``gate=KEY`` in the prompt it waits
    before chunk ``gate_at=I`` (default 1) until the test pushes to ``gate:KEY`` in the
    Redis named by ``$VIBEDRAW_TEST_GATE_URL`` — across processes, once per open."""

    name = "gated"
    supports = frozenset({"3d", "edit"})

    async def stream_code(self, request: Request, ctx: TaskContext) -> AsyncIterator[str]:
        prompt = request.prompt
        chunks = int(_option(prompt, "chunks", "3"))
        gate = _option(prompt, "gate")
        gate_at = int(_option(prompt, "gate_at", "1"))
        for i in range(chunks):
            if gate and i == gate_at:
                await self._wait(gate)
            yield f"// part {i}\n"

    @staticmethod
    async def _wait(key: str) -> None:
        while True:  # survive a Redis restart while parked
            client = aioredis.from_url(os.environ[GATE_ENV], socket_timeout=None)
            try:
                if await client.blpop([f"gate:{key}"], timeout=0):
                    return
            except (redis.exceptions.ConnectionError, OSError):
                await asyncio.sleep(0.05)
            finally:
                await client.aclose()
