"""Each option is declared once (settings.py) and reaches every place that shows or sets it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from traitlets.config import Config

from vibedraw_widget.server.app import VibeDraw
from vibedraw_widget.settings import Settings, option_default, options

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = [f.name for f in options()]


def a_different_value(f):
    default = option_default(f)
    if f.metadata["choices"]:
        return next(c for c in f.metadata["choices"] if c != default)
    if f.metadata["type"] is bool or isinstance(default, bool):
        return True
    if isinstance(default, str):
        return default + "-changed"
    return type(default)(default + 3)


def test_every_documented_setting_is_a_configurable_trait_of_the_server():
    assert len(OPTIONS) >= 18 and "sse_keepalive_seconds" in OPTIONS and "run_tasks" in OPTIONS
    traits = VibeDraw.class_traits(config=True)
    for f in options():
        trait = traits[f.name]
        assert trait.help == f.metadata["help"]
        assert VibeDraw().trait_defaults(f.name) == option_default(f)
    # Secrets are no traits: they come from the environment only.
    assert not {"anthropic_api_key", "trellis_api_key"} & set(traits)


def test_c_vibedraw_option_reaches_the_engines_settings():
    changed = {f.name: a_different_value(f) for f in options()}
    config = Config()
    for name, value in changed.items():
        setattr(config.VibeDraw, name, value)
    settings = VibeDraw(config=config).settings_from_config()
    assert {name: getattr(settings, name) for name in changed} == changed
    assert Settings().max_tokens != settings.max_tokens  # the defaults stay the dataclass's


def test_help_all_documents_every_option_with_its_help():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "vibedraw_widget.server", "--help-all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    for f in options():
        entry = re.search(rf"--VibeDraw\.{f.name}=<\w+>\n((?:    .*\n)+)", out)
        assert entry, f"{f.name} missing from --help-all"
        help_text = " ".join(entry.group(1).split())
        assert " ".join(f.metadata["help"].split()) in help_text
