"""The jupyter-server extension: configuration (``c.VibeDraw.*``) and the engine's lifetime."""

from __future__ import annotations

import dataclasses
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, CFloat, CInt, Enum, TraitType, Unicode

from ..engine import Engine
from ..settings import Settings, option_default, options
from .handlers import handlers

TRAIT_TYPES: dict[type, type[TraitType]] = {str: Unicode, int: CInt, float: CFloat, bool: Bool}


def option_trait(f: dataclasses.Field[Any]) -> TraitType:
    """The configurable trait of one :class:`Settings` option: its type, default and help
    come from the field, so the option is declared once (in settings.py)."""
    meta = f.metadata
    default = option_default(f)
    if meta["choices"]:
        trait: TraitType = Enum(meta["choices"], default, help=meta["help"])
    else:
        kind = TRAIT_TYPES[meta["type"] or type(default)]
        trait = kind(default, allow_none=default is None, help=meta["help"])
    return trait.tag(config=True)


class VibeDraw(ExtensionApp):
    """Serves vibedraw's task routes under ``{base_url}vibedraw/api/``.

    Configure it in ``jupyter_server_config.py`` as ``c.VibeDraw.<option> = …``;
    ``python -m vibedraw_widget.server --help-all`` lists every option.
    """

    name = "vibedraw_widget"
    load_other_extensions = True

    # One trait per documented Settings field: c.VibeDraw.<option>, --help-all.
    vars().update({f.name: option_trait(f) for f in options()})

    def settings_from_config(self) -> Settings:
        """The engine's :class:`Settings` from this app's traitlets."""
        return Settings(**{f.name: getattr(self, f.name) for f in options()})

    def initialize_settings(self) -> None:
        self.engine = Engine(self.settings_from_config(), run_tasks=self.run_tasks)
        if self.engine.run_tasks:
            self.engine.cpu.warm()
        self.log.info("vibedraw: %r", self.engine)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())

    async def stop_extension(self) -> None:
        """Cancel running tasks so each log ends with ``cancelled``, then release pools."""
        await self.engine.close()
