"""The connections of `acv-xl serveur`: how long and how much a client may take to send a request's head.

uvicorn bounds neither: a connection that sends nothing, or its headers one byte every few seconds
(slowloris), stayed open for ever — each one counting toward uvicorn's connection cap, past which
every commune got « Service Unavailable » — and httptools kept a header of any size in memory
(200 MB sent: 340 MB held). Served without nginx (docs/serveur.md, HTTPS direct), this is the
server's own front door. Here, on each connection:

- the request line and headers must arrive within `--delai-reception` seconds, counted from the
  connection's opening or from the end of the previous answer: past it, a French 408 if something
  arrived, else the connection is closed (an idle connection a browser opened in advance);
- they weigh at most `MAX_HEAD` bytes: past it, a French 431, and the connection is closed; so does the
  trailer a body sent in chunks may end with, never read (dropped);
- a client that reads nothing of an answer for `--delai-reception` seconds is cut off;
- past uvicorn's cap on connections, the answer is the French « Serveur occupé »;
- one client address (an IPv6 /64) holds at most `--connexions-par-adresse` of them, loopback
  excepted (the front end on this machine): past it, a new connection is closed at once;
- past the connections a process takes (uvicorn's cap), a new connection closes one that is idle —
  waiting for its TLS handshake or its request's head: the oldest of the address with the most
  waiting — rather than let a few addresses together take every file the process may open (`_make_room`).

The body's own deadline is the application's (`server_guard.read_body`), which reads it.
uvicorn runs this class by its import path (`uvicorn.run(http=…)`), in every process.

With HTTPS served directly (`--certificat`), the TLS handshake comes before all this (this class
only meets a connection once it is done). `new_loop`, uvicorn's loop (`uvicorn.run(loop=…)`), takes
each connection as it is accepted (`_TlsAccept`): counted there under `--connexions-par-adresse`,
then given `--delai-reception` for its handshake (asyncio and uvloop give it 60 s).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import sys
from typing import Callable

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .server_alert import seal, sealing, to_the_box
from .server_config import per_address_limit, receive_timeout
from .server_guard import (BUSY, FRONT_END_PEERS, HSTS, NO_STORE, SECURITY_HEADERS, Guard, address_key, secured,
                           send_text, too_slow)

try:  # as uvicorn's « auto »: httptools when installed, else h11 (which caps a head at 16 KiB itself,
    # and calls none of the parser callbacks below)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover — httptools comes with uvicorn[standard]
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base

MAX_HEAD = 32 * 1024  # bytes of request line and headers (nginx's default buffers: 4 × 8 KiB)

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


HEAD_TOO_LARGE = f"En-têtes de requête trop volumineux : au plus {MAX_HEAD // 1024} Kio."
INVALID = "Requête HTTP invalide."


class _Refused(logging.Filter):
    """uvicorn's English « Invalid HTTP request received. »: our own log line says it (`_answer`); and its
    « Unsupported upgrade request. », written for any request asking for HTTP/2 in clear (`Upgrade:
    h2c`, what curl --http2 sends), which is served in HTTP/1.1 and has its own line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in ("Invalid HTTP request received.", "Unsupported upgrade request.")


logging.getLogger("uvicorn.error").addFilter(_Refused())


async def _busy(scope, receive, send) -> None:
    if to_the_box(scope):  # shown in the add-in's box
        send = sealing(send)
    await send_text(secured(send, scope), 503, BUSY, [(b"retry-after", b"1"), (b"connection", b"close")])
    Guard.log_line(scope, {"issue": "connexions_epuisees"}, 503, 0)


# answered in place of the application, and of uvicorn's reading of the front end's headers around it: relayed in
# HTTPS by the front end of this machine, « Serveur occupé » alone came without HSTS (`secured` saw « http »)
_BUSY_APP = ProxyHeadersMiddleware(_busy, trusted_hosts=list(FRONT_END_PEERS))


_OPEN: dict[str, int] = {}  # connections open per client address, in this process (one loop: no lock)
_TOLD: set[str] = set()  # addresses whose refusal is in the log since they last had none open


def _admit(key: str, limit: int) -> bool:
    """Count one more connection of `key`, or False past `limit` (the refusal logged once while the
    address keeps connections open): one client opening connection after connection took every one
    the process accepts (each held until `--delai-reception`), and « Serveur occupé » for every commune."""
    if _OPEN.get(key, 0) >= limit:
        if key not in _TOLD:
            _TOLD.add(key)
            Guard.log_line({"method": "-", "path": "-"}, {"issue": "connexions_par_adresse"}, 0, 0)
        return False
    _OPEN[key] = _OPEN.get(key, 0) + 1
    return True


class _Idle:
    """The connections waiting for a TLS handshake or a request's head, per client address (its key
    under `--connexions-par-adresse`, None when not counted), oldest first."""

    def __init__(self):
        self.by_address: dict[str | None, dict[object, Callable[[], None]]] = {}
        self.address_of: dict[object, str | None] = {}

    def __len__(self) -> int:
        return len(self.address_of)

    def add(self, who, address: str | None, close: Callable[[], None]) -> None:
        """`who` waiting from now (the youngest of its address); `close()` closes it to make room."""
        self.remove(who)
        self.by_address.setdefault(address, {})[who] = close
        self.address_of[who] = address

    def remove(self, who) -> None:
        if who not in self.address_of:
            return
        address = self.address_of.pop(who)
        waiting = self.by_address[address]
        del waiting[who]
        if not waiting:
            del self.by_address[address]

    def close_one(self) -> None:
        """Close the oldest connection of the address with the most waiting: one attacker's, not the
        handshake of a commune that has one or two on their way."""
        address = max(self.by_address, key=lambda a: len(self.by_address[a]))
        who = next(iter(self.by_address[address]))
        close = self.by_address[address][who]
        self.remove(who)
        close()


_IDLE = _Idle()
_COUNT = {"open": 0}  # connections of this process, counted from their accept (TLS) or their making


def _make_room(limit: int) -> None:
    """Count one more connection; past `limit` open ones, first close one of those waiting (`_Idle`).
    Each address holding less than `--connexions-par-adresse`, five addresses together (under
    systemd's 1,024 files) opened connections and sent nothing until the process had no file left:
    nobody was accepted until theirs reached `--delai-reception`, and again as soon as they came
    back. An idle connection costs its client nothing to reopen, and a commune's own is reopened by
    its browser; one being answered or computed is never closed here. The oldest of all was closed
    at first: a few addresses opening connection after connection then closed every commune's
    handshake on its way; the address with the most waiting loses one of its own."""
    if _COUNT["open"] >= limit - 1 and _IDLE:  # (uvicorn's cap counts the connection itself)
        _IDLE.close_one()
    _COUNT["open"] += 1


def _uncount(protocol) -> None:
    if protocol._counted:
        protocol._counted = False
        _COUNT["open"] -= 1


def _release(key: str | None) -> None:
    if key is None:
        return
    left = _OPEN.pop(key) - 1
    if left:
        _OPEN[key] = left
    else:
        _TOLD.discard(key)


class _HeadTooLarge(Exception):
    pass


class DeadlineProtocol(_Base):
    """uvicorn's HTTP/1.1 protocol with a deadline and a size cap on each request's head."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.head_timeout = receive_timeout()
        self._head_timer = None
        self._answering = None  # the request whose answer is being sent (httptools)
        self._stall_timer = None  # armed while the client reads none of what is sent (`pause_writing`)
        self._head_started = False  # a byte of the awaited head arrived
        self._draining = False  # the answered request's body still coming (`on_response_complete`)
        self._in_head = False  # between the start of a request and the end of its headers (httptools)
        self._head_size = 0  # bytes received meanwhile
        self._head_since = 0.0  # when the wait for the head began (the log line's duration)
        self._chunk_head = False  # between a chunk's size and its data, or the last chunk's trailer (httptools)
        self._chunk_moved = False  # a chunk's size, data or end met during the read being parsed
        self._trailer_size = 0  # bytes of the reads that met none of them meanwhile
        self._cap = None  # uvicorn's connection cap (`limit_concurrency`), answered here in French
        if hasattr(_Base, "on_headers_complete"):  # httptools (h11 keeps uvicorn's own answer)
            self._cap, self.limit_concurrency = self.limit_concurrency, None
        self._limit = self._cap or self.limit_concurrency or 4096
        self._per_address = per_address_limit(self._limit)
        self._address = None  # counted in `_OPEN` under this key
        self._counted = False  # in `_COUNT` (`_make_room`)

    # ---------------------------------------------------------------- the wait for a head
    def _waiting(self) -> bool:
        """No request in progress: what arrives is the next request's head."""
        return self.cycle is None or self.cycle.response_complete

    def _wait_for_head(self) -> None:
        if self._cap is not None:  # httptools: `on_headers_complete` takes it out again (h11 would not)
            _IDLE.add(self, self._address, self._evicted)  # the youngest idle connection of its address
        self._stop_timer()
        self._head_started = False
        self._head_since = self.loop.time()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_expired)

    def _evicted(self) -> None:
        """Closed to make room (`_make_room`): no request under way, nothing to answer."""
        _uncount(self)  # now: its `connection_lost` comes later
        self.transport.abort()

    def _stop_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._draining:  # the rest of an answered request's body never came: nothing left to answer
            self.transport.close()
            return
        if self.transport.is_closing() or not self._waiting():
            return  # a request under way: its body and its computation have their own limits
        if self._head_started:
            self._answer(408, too_slow("ses en-têtes ne sont pas arrivés", self.head_timeout), "entetes_trop_lents")
        else:
            self.transport.close()

    def _head_scope(self) -> dict:
        """What came of the refused request's head — its method, path and headers so far (httptools) —
        for the seal and the log line; nothing when no head was under way."""
        scope = {"method": "-", "path": "-", "headers": []}
        if self._in_head and getattr(self, "url", None):  # httptools: its method is known once its url is
            try:
                scope["method"] = self.parser.get_method().decode("ascii")
            except Exception:  # the request line itself did not arrive (or is not one)
                pass
            scope["path"] = self.url.split(b"?", 1)[0].decode("latin-1")  # never the query (log line)
            scope["headers"] = list(getattr(self, "headers", None) or ())
        return scope

    def _answer(self, status: int, message: str, issue: str) -> None:
        """A French text answer, and the connection closed (what came of the request is unusable):
        sealed as the application's refusals when it answers a button's call (the add-in's box shows
        only sealed texts: it showed its fixed « n'a pas pu terminer l'opération » instead), and one
        log line as for every request (none was written)."""
        if self.transport.is_closing():
            return
        if self._draining:
            # the request was answered, the rest of its body still coming (a refused call): a second answer on the
            # same connection (a 400 after the 401), with a line « - - » for a request nobody sent — closed as when
            # that rest never comes (`_head_expired`)
            self.transport.close()
            return
        if any(c is not None and c.response_started and not c.response_complete for c in (self._answering, self.cycle)):
            # an answer under way (a public file to a client that reads slowly, its body still coming in chunks): the
            # second status line went into the middle of its body, read as part of the file. Cut (close() would
            # still send that answer to a client that may never read it), the reason in a log line: the request's
            # own, the application's, when its body was refused; the next one's, when its head was
            if not self._waiting() and not self._in_head:
                self.cycle.scope.setdefault("acv", {})["issue"] = issue
            else:
                Guard.log_line(self._head_scope(), {"issue": issue}, 0, self.loop.time() - self._head_since)
            self._disconnect_answers()
            self.transport.abort()
            return
        scope, state = self._head_scope(), {}
        if not self._waiting() and not self._in_head and self.cycle.more_body:
            # a body under way (a bad chunk size): the request's own line, with its method, path and
            # client, the application's unwritten — it wrote a second one, « client_parti statut=- »
            scope = self.cycle.scope
            state = scope.setdefault("acv", {})
            state["logged"] = True
        if to_the_box(scope):
            message = seal(message)
        Guard.log_line(scope, dict(state, issue=issue), status, self.loop.time() - self._head_since)
        body = (message + "\n").encode("utf-8")
        fixed = b"".join(b"%s: %s\r\n" % h for h in (*SECURITY_HEADERS, NO_STORE)
                         + ((HSTS,) if self._came_in_https(scope["headers"]) else ()))
        head = (b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                b"%sconnection: close\r\n\r\n" % (status, _REASONS[status], len(body), fixed))
        self.transport.write(head + body)
        self.transport.close()

    def _came_in_https(self, headers) -> bool:
        """Whether a request refused here came in HTTPS, as uvicorn would have told the application, whose answers
        then carry HSTS (`secured`): its connection is TLS (served directly), or the front end of this machine says
        so (its last X-Forwarded-Proto, believed from `FRONT_END_PEERS` only). These answers alone had none of the
        answers sent in HTTPS (408, 431, 400: what a security scan of the server tries first)."""
        if self.scheme == "https":
            return True
        if not self.client or self.client[0] not in FRONT_END_PEERS:
            return False
        said = [v for k, v in headers if k == b"x-forwarded-proto"]
        return bool(said) and said[-1].strip() == b"https"

    # ---------------------------------------------------------------- a client that reads nothing
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall_timer is None:
            self._stall_timer = self.loop.call_later(self.head_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _stalled(self) -> None:
        """Nothing of the answer read for `--delai-reception` seconds: the request held its place
        among those a process serves (`server_guard`) and its answer in memory for ever — 64 such
        readers of the add-in's public files, and every commune got « Serveur occupé ». Cut (close()
        would wait for the client to read); uvicorn then tells the application the client left."""
        self._stall_timer = None
        # at once: aborting empties the write buffer and lets the answer's next write through before
        # uvicorn hears that the connection is lost (uvloop: « handler is closed »)
        self._disconnect_answers()
        self.transport.abort()

    def _disconnect_answers(self) -> None:
        """Tell the answers under way that the client left. uvicorn tells only `self.cycle`, the
        request read last: with pipelined requests, the one being answered wrote on the closed
        connection and left a traceback in the log."""
        for cycle in (self._answering, self.cycle):
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()

    # ---------------------------------------------------------------- uvicorn's hooks
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if self._address is None:  # (a TLS connection was counted at its accept: `_TlsAccept`)
            key = address_key(transport.get_extra_info("peername")) if self._per_address else None
            if key is not None and not _admit(key, self._per_address):
                transport.abort()
                return
            self._address = key
        if not self._counted:  # (a TLS connection was counted at its accept: `_TlsAccept`)
            _make_room(self._limit)
            self._counted = True
        self._wait_for_head()

    def connection_lost(self, exc) -> None:
        self._forget()
        self._stop_timer()
        self._disconnect_answers()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        super().connection_lost(exc)

    def _forget(self) -> None:
        """The connection's end: no longer counted for its address, among the process's, nor idle."""
        _IDLE.remove(self)
        _release(self._address)
        self._address = None
        _uncount(self)

    def handle_websocket_upgrade(self, *args) -> None:
        """The connection handed to uvicorn's WebSocket layer (which refuses it: `server_guard`), and
        with it the news of its end: this `connection_lost` never came, and each attempt stayed
        counted — after as many as a process takes, « Serveur occupé » for every commune until the
        service was restarted. Counted until its end, as any other."""
        super().handle_websocket_upgrade(*args)
        websocket = self.transport.get_protocol()
        lost = websocket.connection_lost

        def connection_lost(exc) -> None:
            self._forget()
            lost(exc)

        websocket.connection_lost = connection_lost

    def on_response_complete(self) -> None:
        # the next pipelined request is answered now (httptools; followed here, not through uvicorn's
        # `_start_asgi_task`, which uvicorn 0.36 has not)
        queued = getattr(self, "pipeline", None)
        if queued and not self.transport.is_closing():
            self._answering = queued[-1][0]
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_complete and self.cycle.more_body:
            # answered before its body was all in (a GET announcing one, a call refused unread): what comes
            # next is that body, not a head — it was waited for as one, and a 408 « en-têtes » followed the
            # answer on the same connection. Closing at once lost the next request of a client that had sent
            # its body whole (a reset on its kept-alive connection, even on the answer itself): the rest is
            # let in within the same deadline, then the next head awaited; past it, closed without a word.
            self._draining = True
            self._wait_for_head()
            return
        if self._waiting():
            self._wait_for_head()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._draining and not self.transport.is_closing():  # the answered request's body is all in
            self._draining = False
            self._wait_for_head()

    def data_received(self, data: bytes) -> None:
        if self._waiting() and data and not self._draining:
            self._head_started = True
        self._chunk_moved = False
        super().data_received(data)
        if self._in_head:  # httptools keeps an unfinished header in memory, whatever its size
            self._head_size += len(data)
            if self._head_size > MAX_HEAD:
                self._answer(431, HEAD_TOO_LARGE, "entetes_trop_volumineux")
        elif self._chunk_head and not self._chunk_moved:  # a read all in a trailer (the one that began it: at most a read)
            self._trailer_size += len(data)
            if self._trailer_size > MAX_HEAD:
                self._answer(431, HEAD_TOO_LARGE, "entetes_trop_volumineux")

    # ---------------------------------------------------------------- the trailer of a body sent in chunks
    # After its last chunk, a body sent in chunks may end with header fields (a trailer), which httptools parses as
    # headers and uvicorn appended to the request's own, read and checked long before: without limit, the whole
    # trailer in memory — 430 Mo held after 3 s of a client on the loopback, without a token (a refused call's body
    # is still let in), and the deadline of the body, 30 s, gave time for several Go. No page reads one: dropped,
    # and capped as a head is (a single endless field is kept by httptools until it ends).
    def on_chunk_header(self) -> None:
        self._chunk_head, self._chunk_moved, self._trailer_size = True, True, 0

    def on_chunk_complete(self) -> None:
        self._chunk_head, self._chunk_moved = False, True

    def on_body(self, body: bytes) -> None:
        self._chunk_head, self._chunk_moved = False, True
        super().on_body(body)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._chunk_head:  # (a field of a trailer comes only after a chunk's size)
            super().on_header(name, value)

    def on_message_begin(self) -> None:
        self._in_head, self._head_size = True, 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) > MAX_HEAD:
            # a head come whole in one read (up to 256 Kio with uvloop) was never counted by `data_received`,
            # which counts only the reads ending within a head: 100 Kio of headers were served (200)
            self._answer(431, HEAD_TOO_LARGE, "entetes_trop_volumineux")
            raise _HeadTooLarge  # the parser stops (uvicorn's 400 then finds the connection closing)
        _IDLE.remove(self)  # a request to answer: never closed to make room
        if not self._waiting() and (self._answering is None or self._answering.response_complete):
            self._answering = self.cycle  # being answered: this request queues behind it (pipelined)
        self._in_head = False
        self._stop_timer()  # the head is in; the body's deadline is the application's
        # (connections counted here rather than uvicorn's `connections`: those closed to make room leave
        # it only at their `connection_lost`, after this request's head when both came at once)
        if self._cap is not None and (_COUNT["open"] >= self._cap or len(self.tasks) >= self._cap):
            # uvicorn's own answer there is « Service Unavailable », in English, into the cell
            app, self.app = self.app, _BUSY_APP
            try:
                super().on_headers_complete()
            finally:
                self.app = app
            return
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:  # uvicorn's own is English (and ASCII only)
        self._answer(400, INVALID, "requete_http_invalide")


def _loop_class() -> type:
    """The loop uvicorn's « auto » would run (`uvicorn.loops`): uvloop when installed; else, under
    Windows, its default loop (Proactor) in a lone process and SelectorEventLoop in each process of
    `--processus` (Proactor fails there: « [WinError 87] », uvicorn's issue 1317); else Selector."""
    try:
        from uvloop import Loop
    except ImportError:  # uvloop comes with uvicorn[standard], not on Windows
        if sys.platform == "win32" and multiprocessing.parent_process() is None:
            return asyncio.ProactorEventLoop
        return asyncio.SelectorEventLoop
    return Loop


class _TlsAccept(asyncio.Protocol):
    """A direct HTTPS connection at its accept, before its TLS handshake. With `create_server(ssl=…)`
    the HTTP protocol met a connection only once its handshake was done, and counted it under
    `--connexions-par-adresse` only then: a client opening TCP connections without ever finishing a
    handshake held as many as it liked, each until the handshake's deadline, up to the process's
    files — and then the server accepted nobody. Counted here, then handed at once (before anything
    is read) to the loop's own TLS layer, as `create_server(ssl=…)` does."""

    def __init__(self, loop, factory, context, timeout: float):
        self.loop, self.factory, self.context, self.timeout = loop, factory, context, timeout

    def connection_made(self, transport) -> None:
        protocol = self.factory()
        limit = protocol._per_address
        key = address_key(transport.get_extra_info("peername")) if limit else None
        if key is not None and not _admit(key, limit):
            transport.abort()
            return
        protocol._address = key  # released by its connection_lost once the handshake is done
        _make_room(protocol._limit)  # (and uncounted there, or by `_handshake_done`)
        protocol._counted = True
        _IDLE.add(transport, key, functools.partial(_drop_handshake, protocol, transport))  # until its handshake
        handshake = self.loop.create_future()
        handshake.add_done_callback(functools.partial(_handshake_done, protocol, transport))
        tls = self.loop.tls_protocol(self.loop, protocol, self.context, handshake, server_side=True,
                                     ssl_handshake_timeout=self.timeout)
        transport.set_protocol(tls)
        tls.connection_made(transport)


def _drop_handshake(protocol, transport) -> None:
    """Closed to make room (`_make_room`) before its handshake was done: uncounted here, its address
    too — the loop ends the handshake of a connection it aborts with no error (`_handshake_done` saw a
    success), and each one closed stayed counted for its address until the service was restarted."""
    _uncount(protocol)
    _release(protocol._address)
    protocol._address = None
    transport.abort()


def _handshake_done(protocol, transport, handshake) -> None:
    """A handshake failed, too slow or cut: the connection closed (as the loop does), uncounted."""
    _IDLE.remove(transport)  # done: idle now, if at all, as an HTTP connection waiting for its head
    failed = handshake.cancelled() or handshake.exception() is not None
    if failed:
        transport.abort()
        _release(protocol._address)
        protocol._address = None
        _uncount(protocol)


class _HandshakeDeadline:
    """A listening socket with TLS: each connection taken at its accept (`_TlsAccept`); `tls_protocol`,
    the loop's own TLS layer (uvloop's or asyncio's), set by `new_loop`."""

    async def create_server(self, protocol_factory, *args, **kwargs):
        context = kwargs.pop("ssl", None)
        if context is None:
            return await super().create_server(protocol_factory, *args, **kwargs)
        timeout = receive_timeout()
        return await super().create_server(lambda: _TlsAccept(self, protocol_factory, context, timeout),
                                           *args, **kwargs)


def new_loop():
    """The event loop of each server process: a TLS connection counted per address from its accept, and
    given `--delai-reception` seconds for its handshake."""
    base = _loop_class()
    if base.__module__.startswith("uvloop"):
        from uvloop.loop import SSLProtocol
    else:
        from asyncio.sslproto import SSLProtocol
    return type("DeadlineLoop", (_HandshakeDeadline, base), {"tls_protocol": SSLProtocol})()
