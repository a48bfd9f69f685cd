"""Check a running `jupyter lab notebooks/01_quickstart.ipynb` as a newcomer would meet it.

Usage: python check_lab.py BASE_URL TOKEN VENV NOTEBOOK (run with the fresh venv's python:
it needs httpx and websockets, both dependencies of vibedraw_widget). NOTEBOOK is the path
given to `jupyter lab`, which serves that file's folder; JUPYTER_RUNTIME_DIR holds the
server's jpserver-*.json, which says so.

Checks: the lab page for the quickstart is served; the contents API returns the notebook;
a kernel started for it (as the lab does on open) runs in VENV and imports
vibedraw_widget; the vibedraw server extension, enabled by the install, answers.
Exits non-zero, naming what failed.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
from jupyter_core.paths import jupyter_runtime_dir
from websockets.sync.client import connect


def execute(base: str, token: str, kernel_id: str, code: str, timeout: float = 120) -> str:
    """Run ``code`` in the kernel over its WebSocket; return what it printed."""
    url = f"{base}api/kernels/{kernel_id}/channels".replace("http", "ws", 1)
    msg_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "username": "ci",
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
    headers = {"Authorization": f"token {token}"}
    with connect(url, additional_headers=headers, open_timeout=timeout) as ws:
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


def served_path(notebook: str) -> str:
    """``notebook`` (a path given to ``jupyter lab``) as the server's API names it."""
    (info,) = Path(jupyter_runtime_dir()).glob("jpserver-*.json")
    root = Path(json.loads(info.read_text())["root_dir"]).resolve()
    return Path(notebook).resolve().relative_to(root).as_posix()


def main(base: str, token: str, venv: str, notebook: str) -> None:
    path = served_path(notebook)
    client = httpx.Client(base_url=base, headers={"Authorization": f"token {token}"}, timeout=60)

    page = client.get(f"lab/tree/{path}")
    assert page.status_code == 200, f"GET lab/tree/{path}: {page.status_code}"
    assert "jupyter-config-data" in page.text, "the lab page has no jupyter-config-data"

    contents = client.get(f"api/contents/{path}")
    assert contents.status_code == 200, f"GET api/contents/{path}: {contents.status_code}"
    notebook = contents.json()
    assert notebook["type"] == "notebook" and notebook["content"]["cells"], notebook["name"]

    specs = client.get("api/kernelspecs").json()
    assert "python3" in specs["kernelspecs"], f"no python3 kernel: {list(specs['kernelspecs'])}"

    session = client.post(
        "api/sessions",
        json={"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}},
    )
    assert session.status_code == 201, f"POST api/sessions: {session.status_code} {session.text}"
    kernel_id = session.json()["kernel"]["id"]
    try:
        printed = execute(
            base,
            token,
            kernel_id,
            "import os, sys, vibedraw_widget, matplotlib, ipywidgets\n"
            "print(os.path.realpath(sys.prefix))",
        )
        venv = os.path.realpath(venv)
        assert printed.strip() == venv, f"the kernel runs in {printed.strip()!r}, not {venv!r}"
    finally:
        client.delete(f"api/sessions/{session.json()['id']}")

    providers = client.get("vibedraw/api/providers")
    assert providers.status_code == 200, f"GET vibedraw/api/providers: {providers.status_code}"
    print(f"check_lab: {base}lab/tree/{path} served; kernel in {venv}; extension on")


if __name__ == "__main__":
    try:
        main(*sys.argv[1:5])
    except (AssertionError, RuntimeError, ValueError, httpx.HTTPError, OSError) as exc:
        print(f"check_lab: FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
