"""The ASGI application `acv-xl serveur` runs: xlwings Server behind the ACV door and call pool.

    request → SealedAlerts (server_alert) → Guard (origin, token, content type, body size, log line)
            → Calls (functions and scripts in the thread pool, cell cap, time limit)
            → xlwings Server (manifest, task pane, static files, metadata)

Imported by uvicorn as `udfs.server_app:app` in every server process: the settings come from the
environment (`udfs.server_config`), set by `acv-xl serveur` or by the service unit.
"""

from __future__ import annotations

import logging
import sys

from .server import configure_environment

configure_environment()  # before xlwings is imported (server mode)

from xlwings_server.config import settings  # noqa: E402
from xlwings_server.main import main_app  # noqa: E402

from .server_alert import SealedAlerts  # noqa: E402
from .server_calls import Calls  # noqa: E402
from .server_config import ServerConfig  # noqa: E402
from .server_guard import CORS_OPTIONS, Guard  # noqa: E402


def _access_log() -> None:
    log = logging.getLogger("acv_xl.serveur")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def build_app(config: ServerConfig | None = None):
    config = config or ServerConfig.from_env()
    entraid = "entraid" in (settings.auth_providers or [])
    app = Calls(main_app, config, app_path=settings.app_path)
    if config.origins:
        # the origins of --origine (and --url-publique): the browser's preflight answered, and the
        # answers readable by that page — xlwings Server's own CORS knows only XLWINGS_CORS_ALLOW_ORIGINS,
        # so a page of an allowed origin got « Disallowed CORS origin » (or 401) and could call nothing
        from fastapi.middleware.cors import CORSMiddleware

        app = CORSMiddleware(app=app, allow_origins=sorted(config.origins), **CORS_OPTIONS)
    # outermost: the refusals of a button's call, Guard's included, sealed for the add-in's box
    return SealedAlerts(Guard(app, config, entraid=entraid), app_path=settings.app_path)


def _warm_up() -> None:
    """Do now what the first « Valider » and `ACV_CONTROLE` would do on demand (imports: about half
    a second; the national list, the schemas, a first run of the rules: ≈ 40 ms more), so that the
    first commune to click does not pay for it (`udfs.warm`)."""
    from .warm import warm_up

    warm_up()


_access_log()
_warm_up()
app = build_app()
