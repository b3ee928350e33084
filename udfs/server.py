"""`acv-xl serveur`: xlwings Server with the ACV functions and buttons (the Office.js add-in's backend).

xlwings-server loads `custom_functions` and `custom_scripts` from `XLWINGS_PROJECT_DIR`
(`udfs/server_project`, which re-exports `udfs.functions` and `udfs.scripts`) and renders the
manifest from its `templates/`. `XLWINGS_ON_SERVER` must be set before xlwings is first
imported, otherwise `@script` stays a no-op and the server cannot inject the workbook.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent / "server_project"
CERT = PROJECT_DIR / "certs" / "localhost+2.pem"  # the names mkcert gives (see certs/README.md)
KEY = PROJECT_DIR / "certs" / "localhost+2-key.pem"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def configure_environment() -> None:
    """What xlwings and xlwings-server read at import time (call before importing them)."""
    os.environ["XLWINGS_ON_SERVER"] = "true"
    os.environ["XLWINGS_PROJECT_DIR"] = str(PROJECT_DIR)
    # xlwings PRO parts (remote engine, server): PolyForm Noncommercial, free for government
    # institutions — see docs/excel.md before any other use.
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def run_server(host: str = "127.0.0.1", port: int = 8000) -> int:
    """Serve until interrupted; returns the exit status (2 when it cannot start)."""
    if "xlwings" in sys.modules and os.environ.get("XLWINGS_ON_SERVER") != "true":
        print("acv-xl : xlwings a déjà été chargé hors mode serveur ; lancez « acv-xl serveur » "
              "dans un processus à part.", file=sys.stderr)
        return 2
    configure_environment()
    try:
        import uvicorn
        import xlwings_server  # noqa: F401
    except ImportError as exc:
        print("acv-xl : xlwings Server n'est pas installé. Installez les dépendances Excel : "
              f"pip install 'acv-xl[excel]' ({exc}).", file=sys.stderr)
        return 2
    if not 0 < port < 65536:
        print(f"acv-xl : port invalide : {port} (attendu entre 1 et 65535).", file=sys.stderr)
        return 2
    if not _port_free(host, port):
        print(f"acv-xl : impossible d'écouter sur {host}:{port} (port déjà utilisé ou adresse "
              "indisponible). Choisissez un autre port avec --port.", file=sys.stderr)
        return 2

    https = CERT.is_file() and KEY.is_file()
    scheme = "https" if https else "http"
    shown = socket.getfqdn() if host in ("0.0.0.0", "::") else host  # all interfaces: a reachable name
    shown = f"[{shown}]" if ":" in shown else shown
    base = f"{scheme}://{shown}:{port}"
    print(f"Serveur xlwings ACV : {base}")
    print(f"Manifeste du complément à charger dans Excel : {base}/manifest")
    print(f"  (téléchargement : {base}/manifest/download)")
    if not https:
        print("Attention : HTTP sans chiffrement. Excel n'accepte un complément Office.js qu'en HTTPS ; "
              f"créez les certificats avec mkcert dans {CERT.parent} (voir docs/excel.md). "
              "HTTP suffit pour les tests et pour VBA (RunRemotePython).")
        if host not in LOOPBACK:
            print("Attention : serveur HTTP exposé hors de la machine ; réservez cet usage à un réseau de test.")
    print("Arrêt : Ctrl+C.")
    sys.stdout.flush()
    uvicorn.run(
        "xlwings_server.main:main_app",
        host=host,
        port=port,
        ssl_keyfile=str(KEY) if https else None,
        ssl_certfile=str(CERT) if https else None,
        log_level="warning",
    )
    return 0
