"""The add-in's message box (`/xlwings/alert`) shows only what this server said.

The add-in opens its box as a page of the server, the message in the page's address (xlwings'
`xlAlert`: prompt, title, buttons, mode, callback). Left as it was, anyone could build a link that
showed a French box of their choosing on the préfecture's own address (« Votre mot de passe a
expiré, saisissez-le ici… »). So the server seals each message it sends for a box:

- the `alert` actions of a script's answer (`server_calls`): over the five parameters;
- the text of a refusal of a button's call (401, 408, 413, 500…, written by `server_guard` or
  `server_calls`): the add-in shows it framed as a failure (« Error », OK, critical, no callback);

with an HMAC of the message, its framing and the time, under the deployment's key
(`ACV_XL_CLE_ALERTES`, drawn at start by `acv-xl serveur` and inherited by its processes). The seal
travels at the end of the message (`[acv-xl:…]`, a line the page removes). The page shows a sealed
message younger than `MAX_AGE`; the add-in's own two failure texts (no answer, unknown error) and a
front end's HTML page, which the page replaces by fixed French texts; the French refusals of
the front end we ship (`FRONT_END_TEXTS`), as they are; anything else, a fixed French text (an
error of Excel itself while the actions ran, or a forged link).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from urllib.parse import parse_qsl, urlencode

from .server_guard import holding

ENV_KEY = "ACV_XL_CLE_ALERTES"
MIN_KEY = 32  # characters
MAX_AGE = 300  # seconds from the answer to the box: the add-in may write a big workbook before it
FAILURE = ("Error", "ok", "critical", "")  # how the add-in frames a failed call's text (xlAlert)
# what the add-in itself writes, translated by the page (templates/xlwings_alert.html)
ADD_IN_TEXTS = frozenset({"No response received from server", "Unknown server error"})
UNSEALED = ("Le complément n'a pas pu terminer l'opération dans Excel. Réessayez ; si cela se "
            "reproduit, prévenez la préfecture.")
# the refusals of the préfecture's front end itself (deploy/nginx-acv-xl.conf: body too large, too many
# requests at once, server stopped, a request it cannot read, headers too large, an address too long, its
# own failure), which nginx cannot seal: fixed French texts, shown as they are — the box showed its fixed
# « n'a pas pu terminer l'opération » instead; a forged link can show nothing else (a figure at most)
FRONT_END_TEXTS = re.compile("|".join((
    r"Requête trop volumineuse : au plus \d{1,5}(,\d{1,2})? Mo par requête\. Réduisez le classeur ou demandez "
    r"à la préfecture de relever la limite\.",
    r"Serveur ACV momentanément indisponible \(arrêt ou mise à jour\) : réessayez dans une minute\. Si cela "
    r"dure, prévenez la préfecture\.",
    r"Trop de requêtes simultanées depuis votre adresse : réessayez dans un instant\. Si cela se reproduit, "
    r"prévenez la préfecture\.",
    r"Requête illisible pour le frontal de la préfecture : réessayez\. Si cela se reproduit, prévenez la "
    r"préfecture\.",
    r"En-têtes de requête trop volumineux pour le frontal de la préfecture \(souvent trop de cookies pour ce "
    r"site\) : prévenez la préfecture\.",
    r"Adresse trop longue pour le frontal de la préfecture : réessayez\. Si cela se reproduit, prévenez la "
    r"préfecture\.",
    r"Erreur interne du frontal de la préfecture : réessayez dans un instant\. Si cela se reproduit, prévenez "
    r"la préfecture\.",
)))
# the add-in's callback that stops « Valider » or « Générer l'annexe » on a protected sheet or workbook
# (static/js/acv-protection.js, called by `udfs.scripts.stop_if_protected` through a `runMacro` action): its messages,
# thrown as the call's failure, are sealed
PROTECTION_CHECK = "acvFeuillesProtegees"
PARAMS = ("prompt", "title", "buttons", "mode", "callback")
_SEAL = re.compile(r"\s*\[acv-xl:(\d{1,12})\.([A-Za-z0-9_-]{43})\]\s*$")


def for_the_box(scope) -> bool:
    """Whether this request's messages go to the add-in's box, and are sealed: not those of VBA's
    `RunRemotePython` (xlwings' Remote.bas, « VBA-Web » client), shown as they are in a MsgBox,
    where the seal was a line of garbage under each message."""
    agent = next((v for k, v in scope.get("headers") or () if k == b"user-agent"), b"")
    return not agent.startswith(b"VBA-Web")


def to_the_box(scope) -> bool:
    """Whether a refusal of this request is shown in the add-in's box: a button's call, not from VBA."""
    return "/xlwings/custom-scripts-call/" in scope.get("path", "") and for_the_box(scope)


def ensure_key() -> None:
    """A key for this deployment, drawn once and left in the environment for the processes that
    uvicorn starts (`--processus`: a box may be opened from another process than the answer's)."""
    if not os.environ.get(ENV_KEY, "").strip():  # one set too short: `acv-xl serveur` refuses it
        os.environ[ENV_KEY] = secrets.token_urlsafe(32)


def key_refusal() -> str | None:
    """Why the key given to the deployment is unusable, in French, or None."""
    size = len(os.environ.get(ENV_KEY, "").strip())
    if size < MIN_KEY:
        return (f"{ENV_KEY} : clé trop courte ({size} caractère{'s' if size > 1 else ''}, au moins {MIN_KEY}). "
                "Créez-en une : python -c \"import secrets; print(secrets.token_urlsafe(32))\", ou retirez la "
                "variable pour que le serveur en tire une à chaque démarrage (voir docs/serveur.md).")
    return None


def _key() -> bytes:
    ensure_key()
    return os.environ[ENV_KEY].strip().encode("utf-8")


def _mac(stamp: int, message: str, title: str, buttons: str, mode: str, callback: str) -> str:
    data = "\x1f".join((str(stamp), message, title, buttons, mode, callback)).encode("utf-8", "surrogatepass")
    digest = hmac.new(_key(), data, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def seal(message: str, title: str = FAILURE[0], buttons: str = FAILURE[1], mode: str = FAILURE[2],
         callback: str = FAILURE[3], now: float | None = None) -> str:
    """`message` followed by its seal for a box framed so."""
    text = message.strip()
    stamp = int(time.time() if now is None else now)
    return f"{text}\n[acv-xl:{stamp}.{_mac(stamp, text, title, buttons, mode, callback)}]"


def seal_actions(answer: dict) -> dict:
    """A script's answer with its `alert` actions sealed, and the messages of its `PROTECTION_CHECK`, which the
    add-in shows as a failure (in place; returned)."""
    for action in answer.get("actions") or ():
        func, args = (action.get("func"), action.get("args")) if isinstance(action, dict) else (None, None)
        if func == "alert" and isinstance(args, list) and len(args) == 5:
            args[0] = seal(*(str(a) for a in args))
        elif func == "runMacro" and isinstance(args, list) and len(args) in (2, 3) and args[0] == PROTECTION_CHECK \
                and isinstance(args[1], list):
            for entry in args[1]:  # [sheet, message, cells, colours]
                if isinstance(entry, list) and len(entry) in (3, 4):
                    entry[1] = seal(str(entry[1]))
            if len(args) == 3 and isinstance(args[2], str):  # the workbook's (its structure protected)
                args[2] = seal(args[2])
    return answer


# how the add-in frames an error thrown while it runs a script's actions (xlwings' `dispatchActions`, then `${error}`):
# « Error: Action 1 (runMacro) failed: <message>. Up to 1 action may already have been applied, including the
# failing action. » — a message of `PROTECTION_CHECK` reaches the box so, its seal no longer at the end (an add-in
# of no such framing: « Error: <message> »). Every part optional: it matches any text, group 3 the message within
_FRAMED = re.compile(r"(?:Error: )?(?:Action (\d{1,9}) \((\w{1,40})\) failed: )?(.*?)"
                     r"(?:\. Up to \d{1,9} actions? may already have been applied, including the failing action\.)?", re.S)
# the same check failed otherwise: its callback missing (a task pane loaded before the server was updated, until Excel
# reloads it; an Excel refusing to say is no failure: acv-protection.js then stops nothing); nothing was written, the
# action being the first
CHECK_FAILED = ("Le complément n'a pas pu vérifier les feuilles du classeur avant de les modifier ; rien n'a été "
                "modifié. Fermez puis rouvrez le classeur (le complément se recharge), puis cliquez de nouveau sur le "
                "bouton ; si cela se reproduit, prévenez la préfecture.")


def checked(params: dict[str, str], now: float | None = None) -> dict[str, str]:
    """What the box may show for these parameters (the page's query)."""
    prompt, title, buttons, mode, callback = (params.get(p, "") for p in PARAMS)
    framed = _FRAMED.fullmatch(prompt.strip())
    for said in (prompt, framed[3]):
        m = _SEAL.search(said)
        if m:
            text, stamp = said[:m.start()].strip(), int(m.group(1))
            age = (time.time() if now is None else now) - stamp
            if -60 <= age <= MAX_AGE and hmac.compare_digest(m.group(2), _mac(stamp, text, title, buttons, mode, callback)):
                return dict(zip(PARAMS, (text, title, buttons, mode, callback)))
    if (framed[1], framed[2]) == ("1", "runMacro") and (title, buttons, mode, callback) == FAILURE:
        return dict(zip(PARAMS, (CHECK_FAILED, *FAILURE)))
    shown = prompt.strip()
    if not (shown in ADD_IN_TEXTS or shown.startswith("<")  # the page replaces those by its own texts
            or FRONT_END_TEXTS.fullmatch(shown)):
        shown = UNSEALED
    return dict(zip(PARAMS, (shown, *FAILURE)))


def checked_query(query: bytes) -> bytes:
    params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                            errors="replace"))
    if not all(p in params for p in PARAMS):
        return query  # the page refuses it (422): nothing shown
    return urlencode(checked(params)).encode("ascii")


class SealedAlerts:
    """ASGI middleware, outermost: seals the refusals of a button's call, checks the box's page."""

    def __init__(self, app, app_path: str = ""):
        self.app = app
        self.alert_path = f"{app_path}/xlwings/alert"
        self.scripts = f"{app_path}/xlwings/custom-scripts-call/"

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope.get("path", "")
            if path == self.alert_path:
                scope = dict(scope, query_string=checked_query(scope.get("query_string") or b""))
            elif path.startswith(self.scripts) and for_the_box(scope):
                send = sealing(send)
        await self.app(scope, receive, send)


def sealing(send):
    """`send`, sealing a text answer of an error (what the add-in puts in its box)."""
    def refusal(start) -> bool:
        ctype = dict(start.get("headers") or ()).get(b"content-type", b"")
        return start["status"] >= 400 and ctype.startswith(b"text/plain")

    async def sealed(start, body: bytes) -> None:
        body = (seal(body.decode("utf-8", "replace")) + "\n").encode("utf-8")
        headers = [(k, v) for k, v in start.get("headers") or () if k.lower() != b"content-length"]
        await send(dict(start, headers=headers + [(b"content-length", str(len(body)).encode())]))
        await send({"type": "http.response.body", "body": body})

    return holding(send, refusal, sealed)
