"""`acv-xl serveur`: xlwings Server with the ACV functions and buttons (the Office.js add-in's backend).

xlwings-server loads `custom_functions` and `custom_scripts` from `XLWINGS_PROJECT_DIR`
(`udfs/server_project`, which re-exports `udfs.functions` and `udfs.scripts`) and renders the
manifest from its `templates/`. `XLWINGS_ON_SERVER` must be set before xlwings is first
imported, otherwise `@script` stays a no-op and the server cannot inject the workbook.

This module checks the command line (a token and HTTPS off loopback, certificate files, the
public address), prints the address to use, and starts uvicorn on `udfs.server_app:app`: xlwings
Server behind the access checks and limits of `server_guard` and `server_calls` (docs/serveur.md).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from acv_xl.contract.system_errors import os_error_text

PROJECT_DIR = Path(__file__).resolve().parent / "server_project"
CERT = PROJECT_DIR / "certs" / "localhost+2.pem"  # the names mkcert gives (see certs/README.md)
KEY = PROJECT_DIR / "certs" / "localhost+2-key.pem"


def configure_environment() -> None:
    """What xlwings and xlwings-server read at import time (call before importing them)."""
    os.environ["XLWINGS_ON_SERVER"] = "true"
    os.environ["XLWINGS_PROJECT_DIR"] = str(PROJECT_DIR)
    # xlwings PRO parts (remote engine, server): PolyForm Noncommercial, free for government
    # institutions — see docs/excel.md before any other use.
    # (set but empty, as a unit file's `Environment=XLWINGS_LICENSE_KEY=` leaves it, is unset)
    if not os.environ.get("XLWINGS_LICENSE_KEY", "").strip():
        os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"
    # no ACV function streams: socket.io would only be a second, unchecked way in (and would
    # tie the server to one process)
    os.environ.setdefault("XLWINGS_ENABLE_SOCKETIO", "false")
    # xlwings logs each call with the user's name; our own line per request says enough
    os.environ.setdefault("XLWINGS_LOG_LEVEL", "WARNING")
    # the key that seals the add-in's messages (server_alert), one for all the processes
    from .server_alert import ensure_key

    ensure_key()


def _bind_refusal(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, in French (the system's reason), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except socket.gaierror:
            return f"impossible d'écouter sur {host}:{port} : nom d'hôte inconnu (--hote : une adresse de cette machine)."
        except PermissionError:
            # « port déjà utilisé » sent the IT person looking for another program on port 80 or 443
            return (f"impossible d'écouter sur {host}:{port} : permission refusée. Les ports inférieurs à 1024 "
                    "sont réservés à l'administrateur : écoutez sur un port libre à partir de 1024 (--port 8000) "
                    "derrière le frontal de la préfecture (voir docs/serveur.md), ou donnez au service le droit "
                    "CAP_NET_BIND_SERVICE.")
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"impossible d'écouter sur {host}:{port} : port déjà utilisé par un autre programme. "
                        "Choisissez un autre port avec --port.")
            if exc.errno == errno.EADDRNOTAVAIL:
                return (f"impossible d'écouter sur {host}:{port} : adresse absente de cette machine "
                        "(--hote : 127.0.0.1 derrière le frontal, 0.0.0.0 pour toutes ses adresses).")
            return f"impossible d'écouter sur {host}:{port} ({os_error_text(exc)}). Choisissez un autre port avec --port."
    return None


def _tls_refusal(cert: Path, key: Path) -> str | None:
    """Why the certificate and its key cannot serve HTTPS, in French, or None: uvicorn loaded them only
    once the start-up message was printed, and said « le système a refusé l'opération (erreur du
    système n° 524297) » of a file that is no certificate."""
    import ssl

    def no_password() -> bytes:  # OpenSSL would ask for it on the terminal (none under systemd)
        raise ValueError("clé chiffrée")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key), password=no_password)
    except ValueError:
        return (f"la clé {key} est protégée par un mot de passe, que le serveur ne peut pas demander au "
                f"démarrage : donnez-la sans mot de passe (openssl pkey -in {key} -out cle.pem), lisible du "
                "seul compte du service.")
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            return f"la clé {key} ne correspond pas au certificat {cert} : donnez la clé privée de ce certificat."
        return (f"certificat ou clé illisible : {cert}, {key} (fichiers PEM attendus : « -----BEGIN "
                "CERTIFICATE----- » pour --certificat, « -----BEGIN PRIVATE KEY----- » pour --cle).")
    except OSError as exc:
        return f"certificat ou clé illisible : {cert}, {key} ({os_error_text(exc)})."
    return None


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        # the address as the system reads it to listen there (no name looked up): « 127.1 », « 0x7f.1 » are
        # 127.0.0.1 to it, where ipaddress refused them and the server asked for a token and HTTPS « hors de
        # cette machine »
        found = {info[4][0] for info in socket.getaddrinfo(host.strip("[]"), None, flags=socket.AI_NUMERICHOST)}
    except (OSError, UnicodeError, ValueError):
        return False  # a name: it may resolve to any interface
    return bool(found) and all(ipaddress.ip_address(address.partition("%")[0]).is_loopback for address in found)


def _readable_by_all(path: Path | None) -> str | None:
    """The token file's mode (« 644 ») when every account may read it, else None (Windows: no such bit)."""
    if path is None or os.name != "posix":
        return None
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    return f"{mode:o}" if mode & 0o004 else None


_SETTING_KINDS = {  # what pydantic's error types ask for, in French
    "list_type": "une liste JSON attendue, par exemple [\"entraid\"]",
    "bool_parsing": "true ou false attendu",
    "bool_type": "true ou false attendu",
    "int_parsing": "nombre entier attendu",
    "float_parsing": "nombre attendu",
    "dict_type": "un objet JSON attendu",
}


def setting_source(name: str, settings_cls: type) -> tuple[str, str]:
    """A `XLWINGS_…` setting as xlwings Server read it, and where from (« de … », for « Retirez ce réglage »), in
    its own order: the environment (serveur.env, the unit's Environment=), its .env file, the project's
    pyproject.toml. Set in one of the project's own files, the refusal sent the administrator to serveur.env,
    where there was nothing to remove. `settings_cls`: xlwings Server's `Settings`, whose own .env source
    reads its file (the one of its model_config, DOTENV_PATH's or the project's)."""
    for key, value in os.environ.items():  # names in any case, as pydantic-settings reads them
        if key.upper() == name:
            return value, "de /etc/acv-xl/serveur.env ou de l'environnement du service"
    from pydantic_settings import DotEnvSettingsSource

    dotenv = DotEnvSettingsSource(settings_cls)
    for key, value in dotenv.env_vars.items():
        if key.upper() == name:
            return value or "", f"du fichier {dotenv.env_file}"
    import tomllib

    pyproject = PROJECT_DIR / "pyproject.toml"
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("xlwings_server", {})
    except (OSError, ValueError):
        table = {}
    short = name.removeprefix("XLWINGS_").lower()
    for key, value in table.items():
        if key.lower() in (short, name.lower()):
            return (str(value).lower() if isinstance(value, bool) else str(value)), f"du fichier {pyproject}"
    return "true", "de la configuration de xlwings Server"


# xlwings Server settings the ACV server refuses to start with, and why (said before « Retirez ce réglage »)
_REFUSED_SETTINGS = (
    # xlwings' Wasm mode runs the functions in the browser (Pyodide, without acv_xl: every button and
    # function of the add-in failed) and publishes the server's Python files, the add-in's and xlwings
    # Server's, without a token (/custom_functions/…, /custom_scripts/…, /wasm/…)
    ("enable_wasm", "le mode Wasm de xlwings (Python exécuté dans le navigateur) ne convient pas au complément ACV, "
                    "dont les contrôles s'exécutent sur ce serveur ; il publierait en outre, sans jeton, les fichiers "
                    "Python du serveur."),
    # left on by the administrator (configure_environment turns it off only when unset): its long polling
    # answers without a token and, with one, connects any « Authorization » xlwings accepts and runs
    # functions outside the ACV pool, its cell cap, its time limit and its log lines
    ("enable_socketio", "socket.io, le canal des fonctions « en flux » de xlwings, contournerait les contrôles du "
                        "serveur ACV (limites, délai, journal), et aucune fonction ACV n'en a besoin."),
)


def settings_refusal(exc: Exception) -> str | None:
    """Why xlwings Server refused its `XLWINGS_…` settings (/etc/acv-xl/serveur.env, the unit's
    Environment=), in French, or None for any other error: the start stopped with « erreur interne
    inattendue (ValidationError : 1 validation error for Settings…) », pydantic's English."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    def env(field) -> str:
        return f"XLWINGS_{str(field).upper()}"

    def in_environment(name: str) -> bool:  # names in any case, as pydantic-settings reads them
        return any(key.upper() == name for key in os.environ)

    names = []
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors():
            name = env(error["loc"][0]) if error.get("loc") else "XLWINGS_…"
            names.append(name)
            raw = os.environ.get(name, str(error.get("input", "")))
            if error.get("type") == "literal_error":
                allowed = re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))
                kind = f"valeurs permises : {', '.join(allowed)}"
            else:
                kind = _SETTING_KINDS.get(error.get("type", ""), "valeur refusée par xlwings Server")
            parts.append(f"{name} = « {raw} » ({kind})")
    elif isinstance(exc, SettingsError):
        field = re.search(r'field "(\w+)"', str(exc))
        name = env(field.group(1)) if field else "XLWINGS_…"
        names.append(name)
        parts = [f"{name} = « {os.environ.get(name, '')} » (valeur JSON attendue)"]
    else:
        return None
    if all(map(in_environment, names)):
        where = "dans /etc/acv-xl/serveur.env ou l'environnement du service"
    else:  # not in the environment: in one of the project's own files, which xlwings Server reads after it
        dotenv = os.environ.get("DOTENV_PATH", "").strip()
        where = ("là où il est réglé : hors de l'environnement du service, xlwings Server lit "
                 + (f"le fichier {dotenv} (DOTENV_PATH)" if dotenv else "le fichier .env du projet")
                 + f" puis la table [tool.xlwings_server] de {PROJECT_DIR / 'pyproject.toml'}")
    return f"réglage de xlwings Server invalide : {' ; '.join(parts)}. Corrigez-le {where} (voir docs/serveur.md)."


def _fail(message: str) -> int:
    print(f"acv-xl : {message}", file=sys.stderr)
    return 2


HOW_TO_TOKEN = (
    "Créez un jeton : python -c \"import secrets; print(secrets.token_urlsafe(32))\", puis "
    "démarrez avec la variable d'environnement ACV_XL_JETON=<jeton> (ou --jeton-fichier FICHIER, un "
    "jeton par ligne, précédé si besoin du nom de la commune) et donnez ce jeton aux communes "
    "(Volet ACV › Jeton d'accès). Voir docs/serveur.md."
)


def _set_env(options: dict[str, Any]) -> None:
    """The options, as the environment every server process reads (`udfs.server_config`)."""
    from . import server_config as sc

    pairs = {
        sc.ENV_TOKEN_FILE: options.get("jeton_fichier"),
        sc.ENV_MAX_BODY: options.get("max_corps"),
        sc.ENV_MAX_CELLS: options.get("max_cellules"),
        sc.ENV_TIMEOUT: options.get("delai"),
        sc.ENV_RECEIVE_TIMEOUT: options.get("delai_reception"),
        sc.ENV_THREADS: options.get("fils"),
        sc.ENV_ORIGINS: ",".join(options.get("origines") or []) or None,
        sc.ENV_PUBLIC_URL: options.get("url_publique"),
        sc.ENV_PER_ADDRESS: options.get("connexions_par_adresse"),
    }
    for name, value in pairs.items():
        if value is not None:
            os.environ[name] = str(Path(value).resolve()) if name == sc.ENV_TOKEN_FILE else str(value)


def run_server(host: str = "127.0.0.1", port: int = 8000, **options: Any) -> int:
    """Serve until interrupted; returns the exit status (2 when it cannot start).

    `options`: jeton_fichier, certificat, cle, url_publique, max_corps (Mo), max_cellules,
    delai (s), delai_reception (s), fils, processus, origines (list), connexions_par_adresse — the
    `acv-xl serveur` options.
    """
    if host.startswith("[") and host.endswith("]"):
        # an IPv6 address as an address bar writes it (« [::1] »): taken for the loopback (is_loopback), then
        # refused by the system, which wants it bare: « nom d'hôte inconnu », and the server did not start
        host = host[1:-1]
    if "xlwings" in sys.modules and os.environ.get("XLWINGS_ON_SERVER") != "true":
        return _fail("xlwings a déjà été chargé hors mode serveur ; lancez « acv-xl serveur » "
                     "dans un processus à part.")
    configure_environment()
    try:
        import uvicorn
        from xlwings_server.config import settings
    except ImportError as exc:
        return _fail("xlwings Server n'est pas installé. Installez les dépendances Excel : "
                     f"pip install 'acv-xl[excel]' ({exc}).")
    except Exception as exc:  # a XLWINGS_… setting pydantic refuses, said in English as an internal error
        refused = settings_refusal(exc)
        if refused is None:
            raise
        return _fail(refused)
    for attr, why in _REFUSED_SETTINGS:
        if getattr(settings, attr):
            name = f"XLWINGS_{attr.upper()}"
            value, place = setting_source(name, type(settings))
            return _fail(f"{name} = « {value} » : {why} Retirez ce réglage {place} (voir docs/serveur.md).")
    if not 0 < port < 65536:
        return _fail(f"port invalide : {port} (attendu entre 1 et 65535).")
    _set_env(options)
    from acv_xl.contract.values import fmt_number

    from .server_alert import key_refusal

    if key_refusal():
        return _fail(key_refusal())

    from .server_config import ENV_PUBLIC_URL, ConfigError, ServerConfig, connection_limit, web_origin
    from .server_guard import FRONT_END_PEERS
    from .server_machine import limits, processes_refusal

    try:
        config = ServerConfig.from_env()
    except ConfigError as exc:
        return _fail(str(exc))
    workers = int(options.get("processus") or 1)
    # each one a whole server: --processus 100000 forked without limit (server_machine)
    refused = processes_refusal(workers, config.threads, config.max_body, *limits())
    if refused:
        return _fail(refused)
    for line in config.tokens.ignored:
        print(f"acv-xl : attention : {line}", file=sys.stderr)
    shared = _readable_by_all(config.tokens.path)
    if shared:
        print(f"acv-xl : attention : le fichier de jetons {config.tokens.path} est lisible par tous les comptes "
              f"de la machine (droits {shared}) : n'importe quel utilisateur local peut y lire les jetons des "
              f"communes. Restreignez-le : chmod 640 {config.tokens.path} (voir docs/serveur.md).", file=sys.stderr)
    entraid = "entraid" in (settings.auth_providers or [])
    local = is_loopback(host)
    if config.tokens.enabled and entraid:
        return _fail("un jeton d'accès (ACV_XL_JETON, --jeton-fichier) et Entra ID "
                     "(XLWINGS_AUTH_PROVIDERS) sont réglés ensemble : ils passent tous deux par l'en-tête "
                     "Authorization. Gardez l'un des deux (voir docs/serveur.md).")
    if not local and not config.tokens.enabled and not entraid:
        return _fail(f"écouter sur {host}, hors de cette machine, demande un jeton d'accès : sans lui, "
                     f"n'importe qui sur le réseau pourrait faire calculer le serveur. {HOW_TO_TOKEN}")

    cert, key = options.get("certificat"), options.get("cle")
    if bool(cert) != bool(key):
        return _fail("--certificat et --cle vont ensemble (le certificat HTTPS et sa clé privée, "
                     "fichiers PEM).")
    if cert is None and CERT.is_file() and KEY.is_file():
        cert, key = CERT, KEY  # mkcert's files for a single PC (docs/excel.md)
    for what, path in (("certificat", cert), ("clé", key)):
        if path is not None and not Path(path).is_file():
            return _fail(f"{what} introuvable : {path}.")
    https = cert is not None
    if https and (refused := _tls_refusal(Path(cert), Path(key))):
        return _fail(refused)
    if not local and not https:
        return _fail(f"écouter sur {host}, hors de cette machine, demande HTTPS (le jeton et les "
                     "classeurs circuleraient en clair) : donnez --certificat et --cle, ou écoutez sur "
                     "127.0.0.1 derrière le frontal HTTPS de la préfecture (voir docs/serveur.md).")
    # (the option, or the environment a container is given: deploy/Dockerfile)
    public = (options.get("url_publique") or os.environ.get(ENV_PUBLIC_URL, "")).strip().rstrip("/")
    if not local and not public:
        # the server answers only the loopback's names and the public one (`server_guard`): reached beyond
        # this machine by a name it was not given, it built the manifest from whatever name a request sent
        return _fail(f"écouter sur {host}, hors de cette machine, demande l'adresse par laquelle les communes "
                     "joignent le serveur : donnez --url-publique https://… (celle du certificat ; le manifeste la "
                     "porte, et une requête adressée à un autre nom est refusée). Voir docs/serveur.md.")
    if public:
        parts = urlsplit(public)
        try:  # the origin's own check: a port past 65535, « moi@ », « ?x=1 » went into the manifest's address
            web_origin(public, ENV_PUBLIC_URL)
        except ConfigError:
            parts = None
        if parts is None or parts.scheme != "https":
            return _fail(f"--url-publique « {public} » : adresse HTTPS attendue, sans chemin "
                         "(ex. https://acv.departement.gouv.fr).")
        # the manifest then names the public address: the environment for the processes uvicorn
        # starts (--processus 2+), the settings already read for this one (else a manifest
        # downloaded on the machine named http://127.0.0.1:8000, and through the front end lost its port)
        os.environ["XLWINGS_HOSTNAME"] = parts.netloc
        settings.hostname = parts.netloc
    if refused := _bind_refusal(host, port):
        return _fail(refused)

    scheme = "https" if https else "http"
    shown = socket.getfqdn() if host in ("0.0.0.0", "::") else host  # all interfaces: a reachable name
    shown = f"[{shown}]" if ":" in shown else shown
    base = public or f"{scheme}://{shown}:{port}"
    print(f"Serveur xlwings ACV : {base}")
    if public:
        # served directly over HTTPS, there is no front end to be behind
        print(f"  (écoute sur {scheme}://{host}:{port}" + (")" if https else ", derrière le frontal)"))
    print(f"Manifeste du complément à charger dans Excel : {base}/manifest")
    print(f"  (téléchargement : {base}/manifest/download)")
    if config.tokens.enabled:
        print("Accès : jeton exigé pour chaque appel (en-tête Authorization: Bearer).")
    elif entraid:
        print("Accès : Entra ID (XLWINGS_AUTH_PROVIDERS).")
    else:
        print("Accès : sans jeton (écoute locale seulement).")
    print(f"Limites : {fmt_number(config.max_body / (1024 * 1024), 1).removesuffix(',0')} Mo par requête, "
          f"{fmt_number(config.max_cells)} cellules, {fmt_number(config.timeout, 1).removesuffix(',0')} s "
          f"par appel, {config.threads} fils de calcul, "
          f"{fmt_number(config.receive_timeout, 1).removesuffix(',0')} s pour recevoir une requête, "
          + (f"{fmt_number(config.per_address)} connexions ouvertes par adresse de client (hors boucle locale)."
             if config.per_address else "connexions par adresse de client sans limite."))
    if not https and not public:
        print("Attention : HTTP sans chiffrement. Excel n'accepte un complément Office.js qu'en HTTPS ; "
              f"créez les certificats avec mkcert dans {CERT.parent} (voir docs/excel.md). "
              "HTTP suffit pour les tests et pour VBA (RunRemotePython).")
    forwarded = os.environ.get("FORWARDED_ALLOW_IPS", "").strip()
    if forwarded and {a.strip() for a in forwarded.split(",")} - set(FRONT_END_PEERS):
        print(f"acv-xl : attention : FORWARDED_ALLOW_IPS = « {forwarded} » est ignoré : le serveur ne croit les "
              "en-têtes X-Forwarded-For et X-Forwarded-Proto que venus de la boucle locale, celle du frontal de la "
              "même machine (voir docs/serveur.md).", file=sys.stderr)
    print("Arrêt : Ctrl+C.")
    sys.stdout.flush()
    uvicorn.run(
        "udfs.server_app:app",
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        ssl_keyfile=str(key) if https else None,
        ssl_certfile=str(cert) if https else None,
        log_level="warning",
        # X-Forwarded-For and -Proto believed from the loopback only, whatever FORWARDED_ALLOW_IPS says
        forwarded_allow_ips=list(FRONT_END_PEERS),
        access_log=False,  # uvicorn's line has the query string; ours has no data (server_guard)
        server_header=False,  # « server: uvicorn » named the software to whoever asked, served in HTTPS directly
        # a backstop for connections (idle keep-alive ones count): the requests themselves are capped
        # before, in French, by server_guard (uvicorn's « Service Unavailable » reached the cells)
        limit_concurrency=connection_limit(config.max_requests),
        # a deadline and a size cap on each request's head (uvicorn has neither: slowloris)
        http="udfs.server_http:DeadlineProtocol",
        # and on the TLS handshake before it (asyncio's own: 60 s)
        loop="udfs.server_http:new_loop",
    )
    return 0
