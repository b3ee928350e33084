"""pydantic without its plugin search, for the program `acv-xl` (`cli.main` calls `disable`).

pydantic looks for plugins (observability hooks declared as package entry points) each time it
builds a validator: `pydantic.plugin._loader.get_plugins`. Told there are none
(`PYDANTIC_DISABLE_PLUGINS=__all__`) it returns at once — but its module imports
`importlib.metadata` first, and with it `email`, `socket`, `csv`…: ≈ 6–10 ms of every command that
builds a validator (the constats of `valider`, the batch before its workers start), for nothing a
command line uses. `disable` sets the variable (a user's own setting wins) and, when it disables
every plugin, puts in that module's place one whose `get_plugins` reads the variable as pydantic's
does and, should it ever stop disabling them, hands over to pydantic's own module. pydantic takes
nothing else from that module (`tests/test_demarrage.py` reads pydantic's source to make sure).
"""

from __future__ import annotations

import importlib
import os
import sys
import types

ENV_VAR = "PYDANTIC_DISABLE_PLUGINS"
LOADER = "pydantic.plugin._loader"
_ALL = ("__all__", "1", "true")  # pydantic's own words for « no plugin at all »


def _get_plugins():
    if os.environ.get(ENV_VAR) in _ALL:
        return ()
    # plugins wanted after all (the variable changed since): pydantic's own loader, from now on
    if sys.modules.get(LOADER) is _STAND_IN:
        del sys.modules[LOADER]
    return importlib.import_module(LOADER).get_plugins()


_STAND_IN = types.ModuleType(LOADER, "acv-xl: pydantic's plugin loader while plugins are disabled")
_STAND_IN.get_plugins = _get_plugins  # type: ignore[attr-defined]


def disable() -> None:
    """No pydantic plugin in this process (unless the user's environment asks for some), and no
    import of `importlib.metadata` to look for them."""
    os.environ.setdefault(ENV_VAR, "__all__")
    if os.environ[ENV_VAR] in _ALL and LOADER not in sys.modules:
        sys.modules[LOADER] = _STAND_IN
