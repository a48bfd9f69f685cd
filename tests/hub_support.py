"""A real JupyterHub for tests and benchmarks: ``examples/jupyterhub/jupyterhub_config.py``
with configurable-http-proxy, two (or more) students, one Redis and ``vibedraw worker``
subprocesses. Everything is reached through the hub's public URL with each student's own
token, as a browser or a script of that student would.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.redis_server import (
    REPO,
    RedisServer,
    free_port,
    start_worker,
    stop_process,
    subprocess_env,
    wait_until,
)
from vibedraw_widget.client import AsyncClient

CONFIG = REPO / "examples" / "jupyterhub" / "jupyterhub_config.py"
SPAWN_BATCH = 4
PLUGIN_ENTRY_POINTS = """[vibedraw_widget.providers]
gated = tests.redis_server:GatedCode
scripted-model = tests.providers_for_tests:ScriptedModel
"""


def hub_available() -> str | None:
    """Why a hub cannot run here (``None`` when it can)."""
    for command in ("jupyterhub", "configurable-http-proxy"):
        if shutil.which(command) is None:
            return f"`{command}` is not installed (see .ci/run)"
    return None


@dataclass
class Hub:
    """A running hub; ``client(user)`` talks to that student's server through the proxy."""

    root: Path
    url: str
    api_token: str
    redis: RedisServer
    users: list[str]
    tokens: dict[str, str] = field(default_factory=dict)
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def client(self, user: str, **options) -> AsyncClient:
        return AsyncClient(f"{self.url}user/{user}/", self.tokens[user], **options)

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"token {self.api_token}"}
        return httpx.request(
            method, f"{self.url}hub/api/{path}", headers=headers, timeout=60, **kwargs
        )

    def start_worker(self, name: str, **options) -> subprocess.Popen[bytes]:
        options.setdefault("claim_after", 2.0)
        self.workers[name] = start_worker(
            self.redis.url, name, log_path=self.root / f"{name}.log", **options
        )
        return self.workers[name]

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)  # the hub stops the students' servers on its way out
        for worker in self.workers.values():
            stop_process(worker)
        self.redis.stop()


def start_hub(root: Path, users: list[str], workers: int = 2, concurrency: int = 1) -> Hub:
    """Redis, ``workers`` worker processes, the hub, and a started server and a token per
    user. Raises with the hub's log when something does not come up."""
    root.mkdir(parents=True, exist_ok=True)
    redis_server = RedisServer(root / "redis").start()
    port = free_port()
    hub = Hub(root, f"http://127.0.0.1:{port}/", secrets.token_hex(16), redis_server, users)
    try:
        for i in range(workers):
            hub.start_worker(f"w{i + 1}", concurrency=concurrency)
        # The test providers as an installed plug-in, so the students' servers know them.
        plugins = root / "plugins"
        info = plugins / "vibedraw_test_providers-1.0.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: vibedraw-test-providers\nVersion: 1.0\n"
        )
        (info / "entry_points.txt").write_text(PLUGIN_ENTRY_POINTS)
        env = subprocess_env(redis_server.url)
        env["PYTHONPATH"] = os.pathsep.join([str(plugins), env["PYTHONPATH"]])
        env.update(
            VIBEDRAW_STORE_URL=redis_server.url,
            VIBEDRAW_HUB_USERS=",".join(users),
            VIBEDRAW_HUB_PORT=str(port),
            VIBEDRAW_HUB_API_PORT=str(free_port()),
            VIBEDRAW_PROXY_API_PORT=str(free_port()),
            VIBEDRAW_HUB_HOMES=str(root / "home" / "{username}"),
            VIBEDRAW_HUB_API_TOKEN=hub.api_token,
        )
        for user in users:
            (root / "home" / user).mkdir(parents=True, exist_ok=True)
        log_path = root / "hub.log"
        with open(log_path, "ab") as out:
            hub.process = subprocess.Popen(
                ["jupyterhub", "-f", str(CONFIG)], cwd=root, env=env, stdout=out, stderr=out
            )

        def up() -> bool:
            if hub.process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited: {log_path.read_text()[-4000:]}")
            try:
                return hub.api("GET", "").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=90, what="the hub")
        # A few servers at a time: dozens of jupyter-servers starting at once on a small
        # machine would run into the hub's spawn timeouts.
        for batch in range(0, len(users), SPAWN_BATCH):
            group = users[batch : batch + SPAWN_BATCH]
            for user in group:
                started = hub.api("POST", f"users/{user}/server")
                assert started.status_code in (201, 202), started.text
                scopes = [f"access:servers!user={user}", f"read:users!user={user}"]
                made = hub.api("POST", f"users/{user}/tokens", json={"scopes": scopes})
                assert made.status_code == 201, made.text
                hub.tokens[user] = made.json()["token"]
            for user in group:
                wait_until(
                    lambda user=user: _ready(hub, user), timeout=180, what=f"{user}'s server"
                )
        return hub
    except BaseException:
        hub.stop()
        raise


def _ready(hub: Hub, user: str) -> bool:
    model = hub.api("GET", f"users/{user}").json()
    server = model.get("servers", {}).get("")
    if not server or not server.get("ready"):
        return False
    # ready for the hub; make sure the proxy routes to it too
    answer = httpx.get(
        f"{hub.url}user/{user}/vibedraw/api/providers",
        headers={"Authorization": f"token {hub.tokens[user]}"},
        timeout=30,
    )
    return answer.status_code == 200
