"""Guards for things the package once said twice: each now lives in one place."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "vibedraw_widget"


def sources() -> dict[str, str]:
    return {
        str(p.relative_to(PACKAGE)): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")
    }


def where(pattern: str) -> list[str]:
    return sorted(name for name, text in sources().items() if re.search(pattern, text))


def test_only_providers_base_traces_or_renders_the_sketch_for_a_provider():
    assert where(r"run_cpu\((render_png|render_sketch|trace_sketch|Sketch\.from_png)") == [
        "providers/base.py"
    ]
    for name in ("local_code", "local_model", "anthropic", "trellis"):
        text = (PACKAGE / "providers" / f"{name}.py").read_text(encoding="utf-8")
        assert "sketch_input(" in text or "image_input(" in text, name


def test_one_loop_thread_class():
    assert where(r"run_forever") == ["engine/background.py"]


def test_one_reconnect_loop_in_the_client():
    client = (PACKAGE / "client.py").read_text(encoding="utf-8")
    assert client.count("failures += 1") == 1


def test_one_kind_table():
    assert where(r"""["']code["']:\s*["']3d["']""") == ["kinds.py"]
