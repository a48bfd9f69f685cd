"""Helpers for the real-browser test and the widget benchmark: a JupyterLab server on a
free port in a temp root, a kernel client over the REST/WebSocket API, headless Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nbformat
from websockets.sync.client import connect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab: its URL, token and root directory."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen

    def api(self, path: str) -> str:
        return f"{self.url}{path}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def get_json(self, path: str) -> Any:
        response = httpx.get(self.api(path), headers=self.headers(), timeout=30)
        response.raise_for_status()
        return response.json()

    def kernel_id(self, notebook: str) -> str:
        """The id of the kernel the notebook's session runs."""
        for session in self.get_json("api/sessions"):
            if session["path"].endswith(notebook):
                return session["kernel"]["id"]
        raise LookupError(f"no session for {notebook}")


def write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook with these code cells (Python 3 kernel)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.write_text(nbformat.writes(nb))


@contextlib.contextmanager
def run_lab(
    root: Path,
    log_path: Path,
    timeout: float = 90,
    config_dir: Path | None = None,
    extra_args: tuple[str, ...] = (),
    extension: bool = True,
    settings_dir: Path | None = None,
) -> Iterator[Lab]:
    """Start ``jupyter lab`` (root allowed, random token, the vibedraw extension on unless
    ``extension=False``); it serves Notebook 7 too (``/notebooks/…``). ``config_dir`` adds
    a Jupyter config directory (see :func:`write_server_config`); ``settings_dir`` is its
    own JupyterLab user-settings directory (by default a temporary one, gone with it)."""
    port = free_port()
    token = secrets.token_hex(16)
    repo = str(Path(__file__).resolve().parent.parent)
    # The lab's settings and workspaces live and die with it: a test that switches the
    # theme must not leave the user's (or the next test's) JupyterLab dark.
    state = Path(tempfile.mkdtemp(prefix="vibedraw-lab-state-"))
    env = {
        **os.environ,
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    if config_dir is not None:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            filter(None, [str(config_dir), os.environ.get("JUPYTER_CONFIG_PATH")])
        )
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--ServerApp.jpserver_extensions={{'vibedraw_widget': {extension}}}",
            "--LabApp.news_url=",
            *([f"--LabApp.user_settings_dir={settings_dir}"] if settings_dir else []),
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=root,
    )
    lab = Lab(f"http://127.0.0.1:{port}/", token, root, process)
    try:
        wait_until_up(
            process,
            lambda: httpx.get(lab.api("api/status"), headers=lab.headers(), timeout=2).is_success,
            "jupyter lab",
            timeout,
            log_path,
        )
        yield lab
    finally:
        stop(process)
        log.close()
        shutil.rmtree(state, ignore_errors=True)


@contextlib.contextmanager
def serve(
    args: list[str],
    url: str,
    log_path: Path,
    cwd: Path,
    timeout: float = 120,
    ready_url: str | None = None,
) -> Iterator[str]:
    """Run a web app's command (marimo, Voilà) with the repo importable; yield ``url`` once
    ``ready_url`` (default ``url``) answers, stop the process afterwards. Voilà runs the
    whole notebook for each page request: give it a static file as ``ready_url``."""
    repo = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    log = log_path.open("w")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        wait_until_up(
            process,
            lambda: httpx.get(ready_url or url, timeout=2).status_code < 500,
            f"{args[:4]} ({url})",
            timeout,
            log_path,
        )
        yield url
    finally:
        stop(process)
        log.close()


def wait_until_up(
    process: subprocess.Popen, answers: Any, what: str, timeout: float, log_path: Path
) -> None:
    """Poll ``answers()`` until it is true; raise if ``process`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: see {log_path}")
        try:
            if answers():
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not answer within {timeout}s: see {log_path}")
        time.sleep(0.2)  # polling the server's readiness, not synchronising with it


def stop(process: subprocess.Popen) -> None:
    """Terminate ``process``, killing it if it has not ended 20 s later."""
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def execute(lab: Lab, kernel_id: str, code: str, timeout: float = 60) -> str:
    """Run ``code`` in the kernel over its WebSocket; return the stdout it printed."""
    url = lab.api(f"api/kernels/{kernel_id}/channels").replace("http", "ws", 1)
    msg_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
        "channel": "shell",
        "buffers": [],
    }
    out: list[str] = []
    with connect(url, additional_headers=lab.headers(), open_timeout=timeout) as ws:
        ws.send(json.dumps(request))
        deadline = time.monotonic() + timeout
        while True:
            raw = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)


def launch_chromium(playwright: Any) -> Any:
    """Debian's headless Chromium (never a downloaded one)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    """Open the notebook in JupyterLab (the token in the URL sets the login cookie)."""
    page.goto(f"{lab.url}lab/tree/{name}?reset&token={lab.token}")  # reset: no tabs restored
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # Cells run only once the page's kernel connection is up: wait for the status bar.
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)


def run_cell(page: Any, index: int) -> None:
    """Run a notebook cell from the UI: click into it, Shift+Enter."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")


def poll(fn: Any, timeout: float = 30.0, every: float = 0.1) -> Any:
    """`fn()` once it is truthy, else its last value after `timeout` s. For what a page's
    `wait_for_function` cannot wait on: a page under a strict CSP, an async answer (a
    promise is truthy at once), state in a Worker."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)  # polling the page from outside, not synchronising with it


def background_pixels_differ(png: bytes, tolerance: int = 24) -> int:
    """How many pixels of a screenshot differ from its most common colour (the background)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(image.width * image.height)
    background = max(colours)[1]
    return sum(
        count
        for count, colour in colours
        if max(abs(a - b) for a, b in zip(colour, background, strict=True)) > tolerance
    )


SERVER_CONFIG = """
# Test-only providers in the Jupyter server process (written by tests/browser_support.py).
from vibedraw_widget.providers import registry
registry.BUILTIN[("code", "slow")] = "tests.browser_support:SlowCode"
registry.BUILTIN[("code", "broken")] = "tests.browser_support:BrokenCode"
registry.provider_classes.cache_clear()
"""


def write_server_config(config_dir: Path) -> None:
    """A ``jupyter_server_config.py`` that registers :class:`SlowCode` and :class:`BrokenCode`."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.py").write_text(SERVER_CONFIG)


def _slow_code_provider():
    import asyncio

    from vibedraw_widget.providers.base import CodeProvider

    class SlowCode(CodeProvider):
        """Streams 30 comment lines ~80 ms apart (long enough to reload the page mid-task),
        then code that builds a red box."""

        name = "slow"
        description = "test: a slow stream"

        async def stream_code(self, request, ctx):
            for i in range(30):
                yield f"// line {i}\n"
                await asyncio.sleep(0.08)  # pacing the stream, not synchronising anything
            yield (
                "const mesh = new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1),"
                " new THREE.MeshStandardMaterial({ color: 'red' }));\nreturn mesh;\n"
            )

    class BrokenCode(CodeProvider):
        """Code that fails when the preview runs it."""

        name = "broken"
        description = "test: code with a runtime error"

        async def stream_code(self, request, ctx):
            yield "return undefinedThing.position;\n"

    return SlowCode, BrokenCode


SlowCode, BrokenCode = _slow_code_provider()
