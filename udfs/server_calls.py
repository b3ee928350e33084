"""The two calls that carry a workbook — a custom function, a script — run off the event loop.

xlwings Server runs them inside its async handlers: parsing the JSON, building the book, the ACV
code itself — all on the event loop, so one big request stalled every other one, the add-in's
metadata included. Here the same xlwings calls (`xlwings.server.custom_functions_call` /
`custom_scripts_call`, same conversion, same Entra ID roles) run in a thread pool, each under a
time limit, after a cap on the number of cells. A refusal a user must read arrives as Excel shows
it: `#ACV: …` in the cell for a function, a French message box for a script.

The pool's threads share one interpreter (the GIL): requests do not compute faster in parallel,
but the event loop keeps answering while one computes. For several cores, run several processes
(`acv-xl serveur --processus N`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import math
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from acv_xl.contract.values import fmt_number

from .cells import count_cells, officejs_cell
from .server_alert import for_the_box, seal_actions
from .server_config import ServerConfig
from .server_payload import check_book
from .server_guard import BUSY, INTERNAL, send_text
from .tables import PREFIX

log = logging.getLogger("acv_xl.serveur")

TITLE = "Action Cœur de Ville"
# any name, ours or not: a name no Python identifier (« a-b », « été ») went on to xlwings Server, whose
# English 400 (« The interactive mode of xlwings is only supported on Windows… ») was sealed for the box
_SCRIPT_PATH = re.compile(r"/xlwings/custom-scripts-call/([^/]+)$")
_FUNCTION_PATH = "/xlwings/custom-functions-call"


class Refused(Exception):
    """A request answered with an HTTP error: `status`, the French text, and the `issue` the log line
    gives as its reason (`Calls.__call__`: one place; a refusal without one left « issue=refus », which
    said nothing of why)."""

    def __init__(self, status: int, message: str, issue: str):
        super().__init__(message)
        self.status = status
        self.issue = issue


def alert_actions(message: str) -> dict[str, Any]:
    """A script's answer that only shows a message box (what `book.app.alert` would send)."""
    return {"actions": [{"func": "alert", "args": [message, TITLE, "ok", "", ""], "values": None,
                         "sheet_position": None, "start_row": None, "start_column": None,
                         "row_count": None, "column_count": None}]}


class _NotJson(ValueError):
    pass


def _no_constant(name: str):
    """« NaN », « Infinity », « -Infinity »: Python's json takes them, JSON has none and Excel never
    sends one (a cell's error is its text); a forged amount of NaN made the functions drop its line
    silently (ACV_TOTAL_FINANCEUR 0 instead of the others' sum)."""
    raise _NotJson(name)


class _TooLarge(ValueError):
    pass


def _finite(text: str) -> float:
    """A JSON number past any double (« 1e309 », 400 digits and a decimal point) is read as infinity,
    dropped as silently as NaN: refused. Only for a function's arguments, a few ranges (a button's
    workbook is checked cell by cell by `check_book`, at no extra cost)."""
    value = float(text)
    if value - value != 0:  # inf - inf is nan
        raise _TooLarge(_quoted(text))
    return value


def _finite_int(text: str) -> int:
    """The same for a number with neither point nor exponent, an int to json (« 1 » and 400 zeros): it reached
    the functions, where a year's comparison with a float said « erreur inattendue (OverflowError) »."""
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise _TooLarge(_quoted(text)) from None
    return value


def _quoted(text: str) -> str:
    return text if len(text) <= 20 else text[:19] + "…"


# each byte of a body as the shape of a number: a digit « 0 », an exponent's letter « e », its « + »,
# anything else a space (`_may_overflow`)
_SHAPE = bytes(48 if 48 <= b <= 57 else 101 if b in b"eE" else 43 if b == 43 else 32 for b in range(256))


def _may_overflow(body: bytes) -> bool:
    """Whether a JSON number of `body` may be past any double: a run of 22 digits or an exponent of 3 digits.
    A number past 1.8e308 has one or the other (with an exponent of at most 2 digits, 99, it has 210 digits
    before its point); a plan's amounts have neither (JavaScript writes at most 21 digits before « 1e+21 »,
    and 3 exponent digits only past 1e100). Checking every float through `_finite` (a Python call each:
    ≈ 1 ms for a 5 000-line plan, a third of the call) only when this is true costs a pass in C over the
    bytes; a text of the body (an IBAN) may make it true, which only costs that check. The zero bytes are left
    out: json also reads a body in UTF-16 or UTF-32, where each of a number's characters has zero bytes beside
    it (« 1e400 » slipped through as infinity, its line dropped from the total)."""
    shape = body.translate(_SHAPE, b"\0")
    return b"0" * 22 in shape or b"e000" in shape or b"e+000" in shape


def _loads(body: bytes, finite: bool = False) -> dict[str, Any]:
    checked = finite and _may_overflow(body)
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite if checked else None,
                          parse_int=_finite_int if checked else None)
    except _NotJson as exc:
        raise Refused(400, f"Requête illisible : JSON invalide (« {exc} » n'est pas un nombre JSON).",
                      "json_invalide") from None
    except _TooLarge as exc:
        raise Refused(400, f"Requête illisible : nombre hors des limites d'Excel (« {exc} »).",
                      "nombre_hors_limites") from None
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "Requête illisible : JSON invalide.", "json_invalide") from None
    except RecursionError:  # thousands of nested lists: no workbook sends that
        raise Refused(400, "Requête illisible : JSON trop imbriqué.", "json_trop_imbrique") from None
    if not isinstance(data, dict):
        raise Refused(400, "Requête illisible : un objet JSON est attendu.", "json_invalide")
    return data


_local = threading.local()


def _run(coro):
    """Run an xlwings coroutine to its end on this worker thread's own event loop."""
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coro)


def _modules():
    from xlwings_server.routers.xlwings import custom_functions, custom_scripts  # the server's own

    return custom_functions, custom_scripts


def call_function(body: bytes, user, config: ServerConfig, state: dict) -> dict[str, Any]:
    import xlwings.server
    from xlwings_server.models import CurrentUser

    data = _loads(body, finite=True)
    name = data.get("func_name")
    functions, _ = _modules()
    if not isinstance(name, str) or not hasattr(getattr(functions, name, None), "__xlfunc__"):
        raise Refused(404, "Fonction inconnue de ce serveur.", "fonction_inconnue")
    state["cible"] = name
    args = data.get("args")
    if not isinstance(args, list):
        raise Refused(400, "Requête illisible : « args » doit être une liste.", "arguments")
    _check_arity(name, getattr(functions, name), args)
    _check_ranges(args)
    _check_runtime(data)
    if body.find(b"{", body.find(b"{") + 1) != -1:  # an object besides the request's own: a data type's cell
        _check_cells(args)
    cells = count_cells(args)
    if cells > config.max_cells:
        state["issue"] = "trop_de_cellules"
        return {"result": [[f"{PREFIX}plages trop grandes : {fmt_number(cells)} cellules reçues, au plus "
                            f"{fmt_number(config.max_cells)} par appel."]]}
    try:
        rv = _run(xlwings.server.custom_functions_call(data, functions, user,
                                                       typehint_to_value={CurrentUser: user}))
    except KeyError:  # a key the add-in always sends (version, client, runtime…), missing: our
        # functions never raise (`functions._safe`), so the request is at fault, not the server
        raise Refused(400, "Requête illisible : appel de fonction incomplet.", "appel_incomplet") from None
    return {"result": rv}


@functools.lru_cache(maxsize=None)
def _arity(function) -> tuple[int, int]:
    """(arguments required, arguments taken) — once per function: inspect.signature is slow."""
    params = inspect.signature(function).parameters.values()
    return sum(1 for p in params if p.default is inspect.Parameter.empty), len(params)


def _check_arity(name: str, function, args: list) -> None:
    """An add-in whose description of the functions predates the server's (an update) sends another
    number of arguments: the function's TypeError was « Erreur interne du serveur ACV »."""
    least, most = _arity(function)
    if least <= len(args) <= most:
        return
    expected = f"{most}" if least == most else f"de {least} à {most}"
    raise Refused(400, f"Requête refusée : {name} prend {expected} arguments sur ce serveur, {len(args)} "
                       f"reçu{'s' if len(args) > 1 else ''} (rechargez le complément).", "arguments")


def _check_ranges(args: list) -> None:
    """Excel sends a range as rows of cells, never an empty one: `[]` or an empty row, which no
    add-in sends, failed inside xlwings' conversion (IndexError) as « Erreur interne du serveur ACV »,
    and so did a list as its first cell."""
    for i, arg in enumerate(args, 1):
        # (a list as a range's first cell: xlwings took the range for a list of ranges, its first row for
        # the rows, and a cell for a row — « 'bool' object is not iterable », an internal error)
        if arg.__class__ is list and (not arg or any(row.__class__ is list and not row for row in arg)
                                      or arg[0].__class__ is list and arg[0][0].__class__ is list):
            raise Refused(400, f"Requête illisible : argument {i} : plage vide ou mal formée (des lignes de "
                               "cellules sont attendues).", "arguments")


def _check_runtime(data: dict) -> None:
    """The add-in's `runtime` (« 1.4 », the version of Excel's custom functions), which xlwings reads as a
    number to write an error value: any other, which no add-in sends, was « Erreur interne du serveur ACV »
    (ValueError, TypeError) as soon as the answer held one. (Missing, it is « appel incomplet » below.)"""
    runtime = data.get("runtime", "1.4")
    try:
        if runtime.__class__ in (str, int, float) and math.isfinite(float(runtime)):
            return
    except ValueError:
        pass
    raise Refused(400, "Requête illisible : « runtime » doit être la version des fonctions d'Excel (« 1.4 »).",
                  "runtime")


_SCALARS = (str, int, float, bool, type(None))


def _cell_refusal(cell: Any) -> bool:
    """Whether `cell` is none of what Excel sends in a function's argument: a text, a number, a boolean,
    empty, or the value of an Office data type (`{"type": …, "basicValue": …}`; an entity's may come with
    its `text` alone, read as such by `cells.officejs_cell`)."""
    if isinstance(cell, _SCALARS):
        return False
    if cell.__class__ is not dict or not isinstance(cell.get("type"), str):
        return True
    return not isinstance(cell.get("basicValue"), _SCALARS)


def _check_cells(args: list) -> None:
    """A forged cell — `{}`, an object without a type, a data type whose value is a list — failed in xlwings'
    conversion or in the functions' (KeyError): « #ACV: erreur inattendue (KeyError) » in the cell, or a call
    said « incomplet ». Walked only when the body holds an object besides the request's own (`call_function`):
    a pass over the 30 000 cells of a 5 000-line plan would cost a third of a call. (A list in a cell, in a
    body with no object, is not looked for: it fails nowhere, and only its sender's answer is wrong.)
    A data type sent without its basic value is given the one `cells.officejs_cell` reads (its text): xlwings
    converts the arguments that are no table itself, and its KeyError on one (a financeur, an année) was
    « appel de fonction incomplet » where a table's cell was read by its text."""
    for i, arg in enumerate(args, 1):
        if arg.__class__ is not list:
            rows = [[arg]]
        else:  # a flat list is one row (xlwings' ensure_2d), and a list in it a cell
            rows = arg if all(row.__class__ is list for row in arg) else [arg]
        for r, row in enumerate(rows, 1):
            for c, cell in enumerate(row, 1):
                if _cell_refusal(cell):
                    where = f"argument {i}" if arg.__class__ is not list else f"argument {i}, ligne {r}, colonne {c}"
                    raise Refused(400, f"Requête illisible : {where} : une cellule doit être un texte, un nombre, "
                                       "un booléen, vide ou la valeur d'un type de données d'Excel.", "arguments")
                if cell.__class__ is dict and "basicValue" not in cell:
                    cell["basicValue"] = officejs_cell(cell)


def call_script(name: str, body: bytes, user, config: ServerConfig, state: dict) -> dict[str, Any]:
    import xlwings as xw
    import xlwings.server
    from xlwings_server.models import CurrentUser

    _, scripts = _modules()
    if not hasattr(getattr(scripts, name, None), "__xlscript__"):
        raise Refused(404, "Script inconnu de ce serveur.", "script_inconnu")
    data = _loads(body)
    args = data.pop("args", None) or []
    sheets = data.get("sheets")
    if not isinstance(args, list) or not isinstance(sheets, list):
        raise Refused(400, "Requête illisible : classeur attendu (« sheets »).", "classeur_mal_forme")
    malformed = check_book(data)  # before xlwings and the ACV code, which failed on it in English
    if malformed:
        raise Refused(400, f"Requête illisible : classeur incomplet ou mal formé ({malformed}).", "classeur_mal_forme")
    per_sheet = [(count_cells(s.get("values") or []), str(s.get("name", ""))) for s in sheets if isinstance(s, dict)]
    cells = sum(n for n, _ in per_sheet)
    if cells > config.max_cells:
        state["issue"] = "trop_de_cellules"
        # every sheet but the button's own annex travels (a renamed plan is read): a sheet the user pasted an export
        # into is the usual culprit, named so that it can be moved to another workbook
        most, name = max(per_sheet)
        return alert_actions(f"Classeur trop grand pour le serveur : {fmt_number(cells)} cellules envoyées, "
                             f"dont {fmt_number(most)} de la feuille « {name} », au plus "
                             f"{fmt_number(config.max_cells)}. Déplacez dans un autre classeur les feuilles "
                             "qui ne sont pas celles de la convention, utilisez « acv-xl valider » sur le "
                             "fichier, ou demandez à la préfecture de relever la limite.")
    try:
        book = xw.Book(json=data)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):  # what the add-in always sends, missing
        raise Refused(400, "Requête illisible : classeur incomplet ou mal formé.", "classeur_mal_forme") from None
    try:
        done = _run(xlwings.server.custom_scripts_call(scripts, name, user, args=args,
                                                       typehint_to_value={CurrentUser: user, xw.Book: book}))
        return done.json()
    finally:
        book.close()
        _forget_sheets()


def _forget_sheets() -> None:
    """Empty xlwings' memo of sheet values (`_xlremote.get_range_api`, an unbounded `lru_cache`
    keyed by a whole sheet's values, filled at each cell a script writes and emptied only by a
    lazy book's load): every « Valider » of another state of a workbook left its sheets there, a
    commune's data kept for the process's life and its memory growing with each click. Another
    request running meanwhile only computes its slices again."""
    from xlwings.pro import _xlremote

    clear = getattr(getattr(_xlremote, "get_range_api", None), "cache_clear", None)
    if clear is not None:
        clear()


class Calls:
    """ASGI middleware: POST …/custom-functions-call and …/custom-scripts-call/NAME, off the loop."""

    def __init__(self, app, config: ServerConfig, app_path: str = ""):
        self.app = app
        self.config = config
        self.app_path = app_path
        self.pool = ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="acv-calcul")
        self.running = 0  # submitted and not finished (a timed-out call still holds its thread)
        self._count = threading.Lock()
        # as many as the door lets in (server_guard): a recalculation's calls wait their turn rather
        # than get 503 (four per thread let a burst of a few dozen cells fail after Excel's 3 tries)
        self.queue_limit = config.max_requests
        self.room = config.max_body  # bytes of request bodies computed at once (`_admit`)
        self.weight = 0
        self._room = asyncio.Condition()

    def route(self, scope):
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path = scope.get("path", "")
        if not path.startswith(self.app_path):
            return None
        path = path[len(self.app_path):]
        if path == _FUNCTION_PATH:
            return ("function", None)
        m = _SCRIPT_PATH.match(path)
        return ("script", m.group(1)) if m else None

    async def __call__(self, scope, receive, send):
        route = self.route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("acv", {})
        kind, name = route
        if name:
            state["cible"] = name
        try:
            user = await self.user(scope)
            body = await _body(receive)
            answer = await self.submit(kind, name, body, user, state)
        except Refused as exc:
            state["issue"] = exc.issue
            await send_text(send, exc.status, str(exc))
            return
        if kind == "script" and for_the_box(scope):  # sealed: the box's page shows only those (server_alert)
            seal_actions(answer)
        payload = _json_bytes(answer)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def user(self, scope):
        """xlwings Server's own authentication (anonymous without XLWINGS_AUTH_PROVIDERS)."""
        from fastapi import HTTPException, Request
        from xlwings_server import dependencies as dep

        request = Request(scope)
        try:
            current = await dep.authenticate(token_string=request.headers.get("authorization", ""),
                                             auth_provider=request.headers.get("auth-provider"))
            return await dep.get_user(request, current)
        except HTTPException as exc:
            if exc.status_code == 401:
                raise Refused(401, "Authentification refusée : reconnectez-vous au complément.",
                              "authentification_refusee") from None
            if exc.status_code == 403:
                raise Refused(403, "Accès refusé : votre compte n'a pas le rôle requis.", "role_absent") from None
            raise Refused(exc.status_code, "Authentification impossible.", "authentification_impossible") from None

    async def submit(self, kind: str, name: str | None, body: bytes, user, state: dict):
        if self.running >= self.queue_limit:
            raise Refused(503, BUSY, "serveur_occupe")
        if kind == "function":
            job = (call_function, body, user, self.config, state)
        else:
            job = (call_script, name, body, user, self.config, state)
        with self._count:
            self.running += 1
        try:
            return await asyncio.wait_for(self._compute(job, len(body)), self.config.timeout)
        except asyncio.TimeoutError:
            state["issue"] = "delai_depasse"
            seconds = fmt_number(self.config.timeout, 1).removesuffix(",0")
            if kind == "function":
                return {"result": [[f"{PREFIX}calcul interrompu : délai de {seconds} s dépassé sur le serveur."]]}
            return alert_actions(f"Traitement interrompu : le serveur n'a pas répondu dans le délai de "
                                 f"{seconds} s. Réessayez ; si cela se reproduit, utilisez « acv-xl "
                                 "valider » sur le fichier.")
        except Refused:
            raise
        except Exception as exc:
            from xlwings import XlwingsError

            # the type only, in the log: an exception's text may quote cell values
            if isinstance(exc, XlwingsError):  # xlwings' checks of the call (version, arguments)
                raise Refused(400, "Requête refusée : arguments ou version du complément incompatibles "
                                   "avec le serveur (rechargez le complément).",
                              f"requete_invalide_{type(exc).__name__}") from None
            log.error("erreur interne (%s) sur %s", type(exc).__name__, state.get("cible", "?"))
            raise Refused(500, INTERNAL,
                          f"erreur_{type(exc).__name__}") from None

    def _finished(self, _future) -> None:
        with self._count:  # called from the worker thread
            self.running -= 1

    async def _compute(self, job: tuple, weight: int):
        """`job` in the pool once its body fits in the room left (`_admit`); its weight is given back
        when its thread is done — a call past its time limit holds its memory until then."""
        try:
            await self._admit(weight)
        except BaseException:  # the time limit, while waiting for room: never submitted
            self._finished(None)
            raise
        loop = asyncio.get_running_loop()

        def done(_future) -> None:  # on the worker thread
            self._finished(_future)
            try:
                loop.call_soon_threadsafe(self._release, weight)
            except RuntimeError:  # the loop closed meanwhile (the server stopping)
                pass

        try:
            future = self.pool.submit(*job)
        except BaseException:
            self._release(weight)
            self._finished(None)
            raise
        future.add_done_callback(done)
        return await asyncio.wrap_future(future)

    async def _admit(self, weight: int) -> None:
        """Wait until the bodies being computed, this one added, weigh at most `room` bytes (one
        body alone always fits). A request's memory is about 40 times its body (a 15 MB workbook:
        ≈ 0.6 GB): six threads each on a body near the limit took more than the service's 4 GB and
        the system stopped the server, every call in progress with it. The threads share one
        interpreter: computing big bodies one after the other costs no time."""
        async with self._room:
            await self._room.wait_for(lambda: self.weight == 0 or self.weight + weight <= self.room)
            self.weight += weight

    def _release(self, weight: int) -> None:  # on the event loop
        self.weight -= weight
        asyncio.ensure_future(self._wake())

    async def _wake(self) -> None:
        async with self._room:
            self._room.notify_all()


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "Requête interrompue.", "client_parti")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _json_bytes(answer: dict[str, Any]) -> bytes:
    text = json.dumps(answer, ensure_ascii=False, default=_default)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # half a character from a cell (Excel's =GAUCHE("😀";1) keeps one of the two UTF-16 units),
        # quoted back in a message or a total's label: no UTF-8 for it, the answer was lost in an
        # English « Internal Server Error »; escaped (\ud83d), as JSON allows and Excel reads it
        return json.dumps(answer, default=_default).encode("ascii")


def _default(value: Any) -> Any:
    """What FastAPI's encoder makes of the few non-JSON values in a script's actions (a date
    written to a cell → ISO text)."""
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)
