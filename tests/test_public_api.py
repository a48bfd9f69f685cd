"""The package's public names are what README says they are, however it was imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (this checkout first on the path)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


CHECK_NAMES = """
import inspect
import vibedraw_widget
for name in vibedraw_widget.__all__:
    value = getattr(vibedraw_widget, name)
    assert not inspect.ismodule(value), f"vibedraw_widget.{name} is a module"
from vibedraw_widget import recognize
sketch = {"strokes": [{"points": [[100, 100], [200, 100], [200, 200], [100, 200], [100, 101]]}]}
print(recognize(sketch)[0].kind)
"""


def test_recognize_is_the_function_in_a_fresh_interpreter():
    assert run_python(CHECK_NAMES).strip() == "rectangle"


def test_public_names_stay_functions_after_every_submodule_is_imported():
    import_all = """
    import importlib, pkgutil, vibedraw_widget
    for info in pkgutil.walk_packages(vibedraw_widget.__path__, "vibedraw_widget."):
        importlib.import_module(info.name)
    """
    assert run_python(textwrap.dedent(import_all) + CHECK_NAMES).strip() == "rectangle"
