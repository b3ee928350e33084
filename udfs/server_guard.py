"""The door of `acv-xl serveur`: who may call, from where, with what — decided before any parsing.

An ASGI middleware in front of xlwings Server, in this order:
1. a browser request from another site (`Origin` neither the server's own nor an allowed one)
   → 403, preflights included, for anything but reading the add-in's files (GET/HEAD): no other
   web page can make a commune's browser call the server;
2. with access tokens, any request but the add-in's files (GET/HEAD: Office loads the manifest,
   the task pane and the functions' metadata without headers) needs `Authorization: Bearer …`
   → 401;
3. a POST, PUT, PATCH or DELETE must be `application/json` → 415 (a `text/plain` form post is
   what a foreign page can send without a preflight);
4. its body is capped: `Content-Length` above the limit → 413 at once, and a body sent in chunks
   is counted as it arrives → 413 as soon as it passes the limit; it must arrive whole within
   `--delai-reception` seconds → 408 (a body announced and never sent held its request for ever;
   the request's head has the same deadline, in `server_http`). Only then is it handed on.
Each request leaves one log line: time, method, path (never the query), target (script or
function), client label, status, duration — never a cell value.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import ipaddress
import logging
import re
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from acv_xl.contract.values import fmt_number

from .server_config import ServerConfig

log = logging.getLogger("acv_xl.serveur")


class _ErrorText(logging.Filter):
    """xlwings Server's handler of an exception on its pages logs the exception itself (`logger.error(exception)`),
    its text in the journal — « ERROR:xlwings_server.main:<message> », which may quote what the page was given —
    where an internal error is named by its type only: the guard's line says it (`Guard.__call__`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.funcName == "exception_handler" and isinstance(record.msg, BaseException))


logging.getLogger("xlwings_server.main").addFilter(_ErrorText())

# set in the task of a request whose answer an exception cut once started (`Guard.__call__`, which says it)
_CUT = contextvars.ContextVar("acv_answer_cut", default=False)


class _CutAnswer(logging.Filter):
    """uvicorn's English « ASGI callable returned without completing response. », written after the guard's own
    line for an answer an exception cut (a file of the add-in removed between its size and its reading, as a
    `pip install` does): said once, in French. An answer left incomplete otherwise keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_CUT.get() and record.getMessage() == "ASGI callable returned without completing response.")


logging.getLogger("uvicorn.error").addFilter(_CutAnswer())

STATE_KEYS = ("cible", "client", "issue", "origine", "hote")  # what the handlers may add to the log line
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_METHODS = frozenset({"GET", "HEAD"})


_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,40}/[a-z0-9!#$&^_.+-]{1,60}")
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
BUSY = "Serveur occupé : réessayez dans un instant."
INTERNAL = "Erreur interne du serveur ACV : prévenez la préfecture."


# FastAPI's own refusals, {"detail": "Not Found"}… in English, for an address or a method that the
# add-in never uses (someone trying the server by hand, a scanner): said in French
FRAMEWORK_ERRORS = {
    400: "Requête de contrôle préalable (CORS) refusée : ce serveur n'accepte que des appels POST.",
    404: "Adresse inconnue de ce serveur.",
    405: "Méthode non permise pour cette adresse.",
    422: "Requête incomplète ou mal formée pour cette adresse.",
    # xlwings Server's « An error occurred. » (its handler of any exception, on a page or a file of the add-in;
    # the calls' own are `server_calls`'): English, and nothing in the journal's line said what had happened
    500: INTERNAL,
}


# their reason in the log line (`issue=`), as for every other refusal
FRAMEWORK_ISSUES = {400: "controle_prealable_refuse", 404: "adresse_inconnue", 405: "methode_refusee",
                    422: "requete_incomplete", 500: "erreur_interne"}


_FRAMEWORK_BODIES = frozenset({b"Not Found", b"Method Not Allowed", b'{"detail":"Not Found"}',
                               b'{"detail":"Method Not Allowed"}', b"An error occurred.", b"Internal Server Error"})


def _framework_error(body: bytes) -> bool:
    """FastAPI's or Starlette's own words (ours, « Fonction inconnue… », pass unchanged)."""
    return body.strip() in _FRAMEWORK_BODIES or body.startswith((b'{"detail":[{"type":', b"Disallowed CORS "))


# what a browser is told of the calls it may make from an allowed origin (`server_app`, `Guard.preflight`)
CORS_OPTIONS = {"allow_methods": ["POST"], "allow_headers": ["*"], "allow_credentials": False}


# names Windows gives a device in every folder (« NUL », « com1.js », « CON .txt »): never a file of the add-in
_DEVICES = frozenset({"con", "prn", "aux", "nul", "conin$", "conout$", "clock$"}
                     | {f"{kind}{n}" for kind in ("com", "lpt") for n in "0123456789¹²³"})


def _climbs(path: str) -> bool:
    """A path (already percent-decoded by uvicorn, « %2e%2e » and « %2f » included) with a « . » or
    « .. » segment, a backslash (a separator to Windows), a colon (a drive to Windows: the static
    files' `user_dir / "C:…"` leaves their folder, as `..` did) or a NUL: never an address of the add-in.
    Nor a segment Windows rewrites before opening it: one ending in dots or spaces, which it trims
    (« .. » written « .. » plus a space or « ... »), or a device's name — the project's static
    folder is read without Starlette's check that the file stays inside it."""
    if any(c in path for c in "\\:\x00"):
        return True
    for part in path.split("/"):
        if part and (part[-1] in ". " or part.split(".", 1)[0].rstrip(" ").lower() in _DEVICES):
            return True
    return False


def _host_name(value: str) -> str | None:
    """The name a `Host` header gives (lower case, without its port nor a final dot), None if unreadable."""
    try:
        parts = urlsplit("//" + value.strip())
        parts.port  # noqa: B018 (a port that is no number raises here)
    except ValueError:
        return None
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc or not parts.hostname:
        return None
    return parts.hostname.rstrip(".")


def _is_loopback_name(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _from_network(scope) -> bool:
    """Whether the request came over a network connection (its peer has an IP address): an in-process
    call (FastAPI's TestClient) sends no Host anyone chose."""
    peer = scope.get("client")
    try:
        ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except (TypeError, IndexError, ValueError):
        return False
    return True


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers") or ():
        if k == name:
            return v.decode("latin-1")
    return None


# the headers every answer carries, xlwings Server's own choices (its `security_headers`, OWASP's) for the
# answers it does not write itself: ours (a call's JSON, every French refusal) had none of them — a token-bearing
# call's answer could be kept by a cache on an agent's machine or a proxy, and a text sniffed as something else
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
NO_STORE = (b"cache-control", b"no-store, max-age=0")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def secured(send, scope):
    """`send`, adding to an answer's start those of `SECURITY_HEADERS` it lacks; `NO_STORE` to the answer of a
    call (no GET nor HEAD: a token, a workbook's values) and to every refusal — a public file read keeps xlwings
    Server's choice (none on the ribbon's icons, which Excel on Windows would not show); and HSTS to a request come
    in HTTPS — served directly, or by the front end of this machine (uvicorn takes its X-Forwarded-Proto from the
    loopback only): over HTTP, a browser ignores it."""
    extra = list(SECURITY_HEADERS)
    if scope.get("scheme") == "https":
        extra.append(HSTS)

    async def wrapped(message):
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or ())
            have = {k.lower() for k, _ in headers}
            wanted = extra + ([NO_STORE] if scope.get("method") not in PUBLIC_METHODS or message["status"] >= 400
                              else [])
            added = [(k, v) for k, v in wanted if k not in have]
            if added:
                message = dict(message, headers=headers + added)
        await send(message)

    return wrapped


async def send_text(send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (message + "\n").encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())] + (headers or [])})
    await send({"type": "http.response.body", "body": body})


def too_slow(what: str, seconds: float) -> str:
    """408's text: `what` did not arrive in time (« ses en-têtes ne sont pas arrivés »)."""
    delay = fmt_number(seconds, 1).removesuffix(",0")
    return (f"Requête reçue trop lentement : {what} dans le délai de {delay} s. Réessayez ; si cela se reproduit, "
            "prévenez la préfecture (délai de réception, --delai-reception).")


class BodyTooLarge(Exception):
    pass


async def read_body(receive, limit: int) -> bytes:
    """The whole body, or `BodyTooLarge` as soon as more than `limit` bytes came (chunked too)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client parti")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_first(message: dict, receive):
    """`receive`, giving `message` (already received) first."""
    given = False

    async def wrapped():
        nonlocal given
        if not given:
            given = True
            return message
        return await receive()

    return wrapped


def replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def holding(send, hold, finish):
    """`send`, keeping a response whose start `hold(start)` accepts until its body is complete, then
    `await finish(start, body)` (its start message, its body's bytes) instead of sending it: an
    answer rewritten once known (FastAPI's English refusals, the box's sealed messages)."""
    held: list[dict] = []

    async def wrapped(message):
        if message["type"] == "http.response.start":
            if hold(message):
                held.append(message)
                return
        elif held:
            held.append(message)
            if message.get("more_body", False):
                return
            start, *parts = held
            held.clear()
            await finish(start, b"".join(p.get("body", b"") for p in parts))
            return
        await send(message)

    return wrapped


# the only peers whose X-Forwarded-For and X-Forwarded-Proto uvicorn believes (`uvicorn.run(forwarded_allow_ips=…)`):
# the front end of this machine, which relays every commune from the loopback and names its address (`address_key`
# then counts that address, not the loopback's). uvicorn took them from FORWARDED_ALLOW_IPS when set: « * » (a
# container's recipe) let any client served directly name itself an address — « X-Forwarded-For: x », no IP, passed
# the check of `Host` and escaped its address's quarter of the reads — and say its HTTPS was HTTP (no HSTS)
FRONT_END_PEERS = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def address_key(peer) -> str | None:
    """Who a connection counts for under `--connexions-par-adresse` (`server_http`), and a public read
    among its address's (`Guard.busy`): its IPv4 address, or its IPv6 /64 (one subscriber's whole
    network); None for the loopback — the front end on this machine (nginx relays every commune from
    127.0.0.1) — and for what has no IP address."""
    host = peer[0] if isinstance(peer, (tuple, list)) and peer else None
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)


class Guard:
    def __init__(self, app, config: ServerConfig, entraid: bool = False):
        self.app = app
        self.config = config
        self.entraid = entraid  # xlwings Server checks the Entra ID token itself (server_calls)
        self.active = 0  # requests being handled (one event loop per process: no lock)
        self.public = 0  # of which reads of the add-in's public files, counted apart (`busy`)
        self.public_of: dict[str, int] = {}  # those reads per client address (`address_key`)
        # the reads waiting for a place, per address, first come first (`_share`, `_hand_over`)
        self.waiting_of: dict[str, collections.deque[asyncio.Future]] = {}

    def busy(self, public: bool, address: str | None = None) -> bool:
        """Whether a process holds as many requests of this kind as it takes (`max_requests`): reads of the
        public files (GET, HEAD: no token) and the other requests, each their own count. A client reading
        nothing of its answers holds each read for `--delai-reception` (served directly, the kernel's buffers
        take a fraction of office.js, 1.6 Mo); counted with the calls, 64 such reads from one address took
        every place — « Serveur occupé » for every call bearing a token. Apart, they can only hold up the
        reads, and the calls keep their places (their bodies, in memory, are what the count bounds). One
        client address holds at most a quarter of the reads' places (`max_public_per_address`), so that
        it alone cannot keep the task pane from loading. A read keeps its place until its answer is sent:
        left as the answer started, reads never read were bounded by nothing but the connections — a few
        addresses held every connection of a process, none closable to make room (`server_http`), and
        each held the file it sent open besides its connection: « Serveur occupé » for every call, and
        past the process's files, no connection accepted."""
        if public and self.public_of.get(address, 0) >= self.config.max_public_per_address:
            return True
        held = self.public if public else self.active - self.public
        return held >= self.config.max_requests

    async def _share(self, address: str, receive, state: dict):
        """The `receive` a read of `address`, past its quarter of the reads' places, goes on with once it got one
        within `--delai-reception` (one of its own reads ended, and the reads' places are not all taken). It was
        told « Serveur occupé » at once: agents behind one address (a mairie), their task panes loading
        office.js's 1,6 Mo over a slow line, hold 16 reads for seconds, and a 17th script refused is an
        add-in that does not load (a browser retries no script). Waiting holds no place: a client reading
        nothing of its answers still holds at most a quarter of them. A waiting read's connection, its
        request under way, is never closed to make room (`server_http`): as many wait as hold, a quarter
        per address and the reads' places in all, else a few addresses, each with its connections
        waiting, would hold every connection of the process.
        The place is the one of a read of this address as it ends, handed to the read waiting longest
        (`_hand_over`) and counted as held already: woken together, the waiting reads raced for it, and a read
        arriving at that instant took it first, the one waiting since longest left to wait again; nor does a
        new read take a place freed while others wait (their address's quarter stays full meanwhile).
        None when it got none, or when its client left meanwhile (« client_parti »): a read whose client had
        gone kept its turn until the delay ended, and the place handed to it was held for nobody."""
        share, places = self.config.max_public_per_address, self.config.max_requests
        queue = self.waiting_of.get(address, ())
        if len(queue) >= share or sum(map(len, self.waiting_of.values())) >= places:
            return None
        granted = asyncio.get_running_loop().create_future()
        self.waiting_of.setdefault(address, collections.deque()).append(granted)
        first: list[dict] = []

        async def gone() -> bool:  # after a read's request, the next message is its client leaving
            message = await receive()
            if message.get("more_body"):
                # a body sent with the read, in several pieces: its first was the last message looked at, and its
                # client leaving went unseen until `--delai-reception`. Dropped as it comes (no page of the add-in
                # reads one, and a waiting read holds no memory): the read is given an empty one
                first.append(dict(message, body=b"", more_body=False))
                while (message := await receive())["type"] == "http.request" and message.get("more_body"):
                    pass
            else:
                first.append(message)
            return message["type"] == "http.disconnect" or (await receive())["type"] == "http.disconnect"

        loop = asyncio.get_running_loop()
        deadline, watch = loop.time() + self.config.receive_timeout, asyncio.ensure_future(gone())
        left = False
        try:
            pending = {granted, watch}
            while not granted.done() and not left and loop.time() < deadline:
                await asyncio.wait(pending, timeout=deadline - loop.time(), return_when=asyncio.FIRST_COMPLETED)
                if watch.done():  # (a receive that failed: its client is gone too)
                    left = watch.cancelled() or watch.exception() is not None or watch.result()
                    pending = {granted}
        except BaseException:  # the server stopping: a place handed meanwhile is passed on, or given back
            if granted.done() and not granted.cancelled():
                self._end(address, True)
            raise
        finally:
            watch.cancel()
            if not granted.done():  # never handed: out of the queue
                granted.cancel()
                queue = self.waiting_of[address]
                queue.remove(granted)
                if not queue:
                    del self.waiting_of[address]
        if left:
            state["issue"] = "client_parti"
            if not granted.cancelled():
                self._end(address, True)  # handed as its client left: to the next read waiting
            return None
        if granted.cancelled():
            return None
        return replay_first(first[0], receive) if first else receive

    def _hand_over(self, address: str) -> bool:
        """Whether the place of a read of `address` that ends went to the read of that address waiting longest."""
        queue = self.waiting_of.get(address)
        if not queue:
            return False
        queue.popleft().set_result(True)  # (a read that stopped waiting has left the queue)
        if not queue:
            del self.waiting_of[address]
        return True

    def _end(self, address: str | None, public: bool) -> None:
        """A request's place, at its end: handed to a read of its address that waits (`_hand_over`), else freed."""
        if address is not None and self._hand_over(address):
            return
        self.active -= 1
        self.public -= public
        if address is not None:
            if self.public_of[address] == 1:
                del self.public_of[address]
            else:
                self.public_of[address] -= 1

    # ------------------------------------------------------------------ decisions
    def origin_allowed(self, scope, origin: str) -> bool:
        if origin.rstrip("/") in self.config.origins:
            return True
        parts = urlsplit(origin)
        host = _header(scope, b"host")
        # the add-in's pages and functions are served by this server: same host, same site
        same = bool(parts.scheme in ("http", "https") and parts.netloc and host
                    and parts.netloc.lower() == host.lower())
        if same and not self.config.tokens.enabled:
            # no token (a local server): a page of another site whose name was re-pointed at this
            # machine (DNS rebinding) has the same host as its origin; only loopback names pass
            return (parts.hostname or "").lower() in LOOPBACK_NAMES
        return same

    def host_refused(self, scope) -> bool:
        """A request whose `Host` names neither the public address (--url-publique) nor the loopback
        (supervision on the machine itself): xlwings Server built the manifest's addresses and its
        redirects from `Host`, so « Host: evil.example » (through the front end, which relays any
        name) made them point Excel at another server — a poisoned cache, or a manifest installed from a
        crafted link. The port is not compared: nginx's `$host` has none, and the app sees the public
        address whatever the request said (`as_public`)."""
        if not _from_network(scope):
            return False
        host = _header(scope, b"host")
        if host is None:  # HTTP/1.0: nothing chosen by the client
            return False
        name = _host_name(host)
        public = urlsplit(self.config.public_url).hostname if self.config.public_url else None
        # without --url-publique (one PC, or a front end whose address the server was not given: the manifest
        # then took the name the request sent), only the loopback: `acv-xl serveur` refuses to listen
        # beyond it without --url-publique
        return name is None or not (name == public or _is_loopback_name(name))

    def host_refusal(self) -> str:
        if self.config.public_url:
            return (f"Adresse de serveur refusée : ce serveur ne répond qu'à l'adresse {self.config.public_url} "
                    "(en-tête Host).")
        return ("Adresse de serveur refusée : sans adresse publique (--url-publique), ce serveur ne répond qu'à "
                "l'adresse de la machine elle-même (localhost, 127.0.0.1). Derrière un frontal, démarrez-le avec "
                "--url-publique (voir docs/serveur.md).")

    def as_public(self, scope):
        """The request as xlwings Server sees it: addressed to --url-publique (HTTPS, its name and port),
        so that every address it writes (manifest, task pane, redirects) is the public one."""
        if self.config.public_url is None:
            return scope
        netloc = urlsplit(self.config.public_url).netloc.encode("latin-1")
        headers = [(k, v) for k, v in scope.get("headers") or () if k != b"host"] + [(b"host", netloc)]
        return dict(scope, headers=headers, scheme="https")

    def refusal(self, scope) -> tuple[int, str, list, str] | None:
        """(status, French text, headers, the reason the log line gives) of a request refused at the door."""
        method = scope["method"]
        if self.host_refused(scope):
            # the name said in the log (`_safe`), never in the answer: a button's refusal is sealed for the
            # add-in's box (server_alert), and « Host » is any text the client chose
            scope.setdefault("acv", {})["hote"] = _header(scope, b"host")
            return 400, self.host_refusal(), [], "hote_refuse"
        if _climbs(scope.get("path", "")):
            # xlwings Server's static files (`OverridableStaticFiles`) look in the project's folder
            # first without Starlette's check that the file stays inside it: GET
            # /static/%2e%2e/%2e%2e/… served, without a token, any file the service may read — the
            # token file, the TLS key, serveur.env. No file of the add-in has such a segment.
            return 404, FRAMEWORK_ERRORS[404], [], "chemin_refuse"
        origin = _header(scope, b"origin")
        # GET/HEAD only read the add-in's public files (Office may fetch them from its own
        # origin); what they return stays unreadable to a foreign page (no CORS header for it)
        if origin is not None and method not in PUBLIC_METHODS and not self.origin_allowed(scope, origin):
            # the origin in the log: a front end on another port than 443 (https://acv…:8443) while
            # --url-publique has none refused every call with only « statut=403 » to go on
            scope.setdefault("acv", {})["origine"] = origin
            return 403, ("Origine refusée : ce serveur ne répond qu'au complément Excel « Action Cœur de "
                         "Ville » qu'il distribue."), [], "origine_refusee"
        # a browser's preflight (CORS) never carries the token: from an allowed origin (checked
        # above), it asks whether the call may be made, and the call itself needs the token
        preflight = method == "OPTIONS" and origin is not None and \
            _header(scope, b"access-control-request-method") is not None
        if method not in PUBLIC_METHODS | WRITE_METHODS and not preflight:
            # OPTIONS without a preflight's headers (« OPTIONS * »), TRACE, CONNECT, any other method: none
            # is served at any address, and the token check answered them « Jeton d'accès absent ou
            # invalide » (401), as if a token would have made them work
            return 405, FRAMEWORK_ERRORS[405], [(b"allow", b"GET, HEAD, POST")], "methode_refusee"
        if self.config.tokens.enabled and not self.entraid and method not in PUBLIC_METHODS and not preflight:
            label = self.config.tokens.check(_header(scope, b"authorization"))
            if label is None:
                return 401, ("Jeton d'accès absent ou invalide : saisissez le jeton fourni par la "
                             "préfecture dans le volet du complément (Volet ACV › Jeton d'accès)."), \
                    [(b"www-authenticate", b'Bearer realm="acv-xl"')], "jeton_refuse"
            scope.setdefault("acv", {})["client"] = label
        if method in WRITE_METHODS:
            ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                # the type quoted only if it is one: a sentence there would be sealed for the add-in's
                # box (server_alert) — a phishing text in the préfecture's own words
                shown = ctype if _MEDIA_TYPE.fullmatch(ctype) else ("aucun" if not ctype else "illisible")
                return 415, (f"Type de contenu refusé (« {shown} ») : le serveur n'accepte "
                             "que application/json."), [], "type_refuse"
            length = _header(scope, b"content-length")
            # « ² » is a digit to str.isdigit, and int() would raise: the HTTP parser refuses it first
            digits = length is not None and length.strip().isascii() and length.strip().isdigit()
            if length is not None and (not digits or int(length) > self.config.max_body):
                return 413, self.too_large(), [], "trop_volumineux"
        return None

    def own_preflight(self, scope) -> bool:
        """A browser's preflight from the server's own origin, let through by `refusal`: the CORS
        middleware of `server_app` knows only --origine and --url-publique, and without them
        xlwings Server's own answered « Disallowed CORS origin », in English."""
        origin = _header(scope, b"origin")
        return (scope["method"] == "OPTIONS" and origin is not None
                and _header(scope, b"access-control-request-method") is not None
                and origin.rstrip("/") not in self.config.origins)

    @staticmethod
    async def preflight(scope, send) -> None:
        """Answered as an origin of --origine is (Starlette's CORS middleware, for this origin alone)."""
        from fastapi import Request
        from fastapi.middleware.cors import CORSMiddleware

        cors = CORSMiddleware(None, allow_origins=[_header(scope, b"origin")], **CORS_OPTIONS)
        await cors.preflight_response(request_headers=Request(scope).headers)(scope, replay(b""), send)

    def too_large(self) -> str:
        mo = fmt_number(self.config.max_body / (1024 * 1024), 1).removesuffix(",0")
        return (f"Requête trop volumineuse : au plus {mo} Mo par requête. Réduisez le classeur ou "
                "demandez à la préfecture de relever la limite (--max-corps).")

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":  # socket.io is off: no channel around the checks above
            await send({"type": "websocket.close", "code": 1008})  # uvicorn answers 403
            # one line as for every request (none was written: a probe of the socket left no trace)
            self.log_line(dict(scope, method="GET"), {"issue": "websocket_refuse"}, 403, 0)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        send = secured(send, scope)
        status = {"code": 0}
        state = scope.setdefault("acv", {})  # filled by the checks and handlers, read by the log

        def framework_error(start) -> bool:  # an error response kept until its body is known
            status["code"] = start["status"]
            return start["status"] in FRAMEWORK_ERRORS

        async def in_french(start, body: bytes) -> None:
            if _framework_error(body):
                state.setdefault("issue", FRAMEWORK_ISSUES[start["status"]])
                keep = [(k, v) for k, v in start.get("headers", ()) if k.lower() == b"allow"]
                await send_text(send, start["status"], FRAMEWORK_ERRORS[start["status"]], keep)
                return
            await send(start)
            await send({"type": "http.response.body", "body": body})

        watched_send = holding(send, framework_error, in_french)

        public = scope["method"] in PUBLIC_METHODS
        # (`--connexions-par-adresse 0`: every commune arrives from a front end's one address)
        address = address_key(scope.get("client")) if public and self.config.per_address else None
        if self.busy(public, address):
            # a place handed by a read of this address as it ended (`_share`): counted already
            handed = None
            if address is not None and self.public < self.config.max_requests:
                handed = await self._share(address, receive, state)
            if handed is None:
                try:
                    if state.get("issue") != "client_parti":
                        # before uvicorn's own limit, whose 503 says « Service Unavailable » in the cell
                        state["issue"] = "serveur_occupe"
                        await send_text(watched_send, 503, BUSY, [(b"retry-after", b"1")])
                finally:
                    self.log_line(scope, state, status["code"], time.perf_counter() - started)
                return
            receive = handed
        else:
            self.active += 1
            self.public += public
            if address is not None:
                self.public_of[address] = self.public_of.get(address, 0) + 1
        try:
            refused = self.refusal(scope)
            if refused is not None:
                code, message, headers, state["issue"] = refused
                await send_text(watched_send, code, message, headers)
                return
            if self.own_preflight(scope):
                await self.preflight(scope, watched_send)
                return
            if scope["method"] in WRITE_METHODS:
                try:
                    body = await asyncio.wait_for(read_body(receive, self.config.max_body),
                                                  self.config.receive_timeout)
                except asyncio.TimeoutError:
                    state["issue"] = "reception_trop_lente"
                    await send_text(watched_send, 408, too_slow("son contenu n'est pas arrivé en entier",
                                                                self.config.receive_timeout),
                                    [(b"connection", b"close")])
                    return
                except BodyTooLarge:
                    state["issue"] = "trop_volumineux"
                    await send_text(watched_send, 413, self.too_large(), [(b"connection", b"close")])
                    return
                except ConnectionError:
                    state["issue"] = "client_parti"  # one token of the log line, as the others
                    return
                receive = replay(body)
            inner = self.as_public(scope)
            if scope["method"] == "HEAD":
                # FastAPI's routes take only GET: `curl -I …/manifest` (a supervision's probe) got 405
                # « Méthode non permise ». Answered as GET, whose body uvicorn leaves out (it knows
                # the request was HEAD); the log line keeps HEAD.
                inner = dict(inner, method="GET")
            await self.app(inner, receive, watched_send)
        except Exception as exc:
            # xlwings Server answers an exception of its pages (« An error occurred. », in French above), then
            # raises it again: uvicorn printed its whole traceback in the journal. Its type only, as for a call's
            # (`server_calls`); answered here if it was not.
            state.setdefault("issue", "erreur_interne")
            begun = bool(status["code"])
            log.error("erreur interne (%s) sur %s%s", type(exc).__name__, _safe(scope.get("path", "")),
                      " : réponse interrompue, connexion fermée" if begun else "")
            if begun:  # uvicorn closes the connection, and says it in English (`_CutAnswer`)
                _CUT.set(True)
            else:
                await send_text(watched_send, 500, INTERNAL)
        finally:
            self._end(address, public)
            if not state.get("logged"):  # (by the HTTP layer, which answered it: `server_http._answer`)
                self.log_line(scope, state, status["code"], time.perf_counter() - started)

    @staticmethod
    def log_line(scope, state: dict[str, Any], code: int, seconds: float) -> None:
        when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
        parts = [when, scope["method"], _safe(scope.get("path", ""))]
        for key in STATE_KEYS:
            if state.get(key):
                parts.append(f"{key}={_safe(state[key])}")
        parts += [f"statut={code or '-'}", f"duree_ms={seconds * 1000:.0f}"]
        log.info(" ".join(parts))


def _safe(value: Any) -> str:
    """One token of the log line: no spaces nor line breaks from a client (log injection)."""
    text = str(value)[:120]
    return "".join(c if c.isprintable() and not c.isspace() else "_" for c in text)
