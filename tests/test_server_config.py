"""udfs/server_config.py and the decisions of udfs/server_guard.py, without a server: tokens
(environment, file re-read on change, labels, refusals), limits from the environment, origins."""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from udfs.server_config import ConfigError, ServerConfig, Tokens
from udfs.server_guard import Guard


ROOT = Path(__file__).resolve().parents[1]
GOOD = "a" * 30
OTHER = "b" * 43


@contextmanager
def _journal():
    """The messages the server's journal (« acv_xl.serveur ») gets meanwhile."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("acv_xl.serveur")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def _rewritten(path: Path, text: str) -> None:
    """`path` rewritten, dated a second later whatever the clock: the next check reads it again."""
    path.write_text(text)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))


def test_a_token_from_the_environment_needs_bearer():
    tokens = Tokens(GOOD)
    assert tokens.enabled
    assert tokens.check(f"Bearer {GOOD}") == "jeton"
    assert tokens.check(f"bearer   {GOOD} ") == "jeton"
    for bad in (None, "", GOOD, f"Basic {GOOD}", f"Bearer {GOOD}x", f"Bearer {OTHER}", "Bearer "):
        assert tokens.check(bad) is None, bad
    assert not Tokens().enabled


def test_a_short_token_is_refused_in_french():
    with pytest.raises(ConfigError, match="ACV_XL_JETON : jeton trop court \\(5 caractères, au moins 20\\)"):
        Tokens("court")


@pytest.mark.parametrize("value, kind", [
    (f"arras {GOOD}", "une espace"),  # a line of the token file copied whole
    (f"Bearer {GOOD}", "une espace"),
    (f"{GOOD[:12]} {GOOD[12:]}", "une espace"),
    (f"«{GOOD}»", "un signe interdit ou mal placé"),
])
def test_a_token_from_the_environment_is_written_as_one_of_the_file(value, kind):
    """`ACV_XL_JETON` was taken whole, whatever it held: « arras 3q7… », a line of the token file copied
    into `serveur.env`, was the token, and the commune sending « 3q7… » got 401 with nothing said. It is
    now refused at start as a file's line would be, without quoting it."""
    with pytest.raises(ConfigError) as refused:
        Tokens(value)
    said = str(refused.value)
    assert said.startswith(f"ACV_XL_JETON : jeton invalide (il contient {kind} : un jeton ne s'écrit qu'avec"), said
    assert GOOD[:12] not in said and "Créez-en un avec" in said


def test_a_token_file_has_labels_comments_and_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "jetons.txt"
    path.write_text(f"# jetons des communes\n\narras {GOOD}\nboulogne sur mer  {OTHER}\n")
    tokens = Tokens(path=path)
    assert tokens.check(f"Bearer {GOOD}") == "arras"
    assert tokens.check(f"Bearer {OTHER}") == "boulogne sur mer"
    third = "c" * 25
    path.write_text(f"calais {third}\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a later change, whatever the clock
    assert tokens.check(f"Bearer {third}") == "calais"
    assert tokens.check(f"Bearer {GOOD}") is None  # revoked without a restart
    path.write_text("calais court\n")  # a bad edit of a line: the token it replaced is no longer in the file
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert tokens.check(f"Bearer {third}") is None


def test_a_token_removed_in_an_edit_with_a_bad_line_is_revoked_and_the_bad_line_is_said(tmp_path):
    """A leaked token's line removed while, in the same save, another commune's new token was pasted short: the
    whole edit was ignored without a word, and the leaked token stayed valid — the docs' « retirez la ligne tout
    de suite » revoked nothing. Now the bad line alone is left out, said in the journal, and the removal applies.
    A bad line keeps no token, not even its label's previous one: a leaked token replaced by « arras REVOQUE »,
    or by the new token pasted short, stayed valid."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"arras-2026 {GOOD}\nboulogne {OTHER}\n")
    tokens = Tokens(path=path)
    with _journal() as lines:
        # arras-2026 leaked: removed; arras-2027 pasted cut; boulogne's token mistyped short
        _rewritten(path, f"arras-2027 {'n' * 12}\nboulogne {OTHER[:8]}\n")
        assert tokens.check(f"Bearer {GOOD}") is None  # revoked
        assert tokens.check(f"Bearer {OTHER}") is None  # no longer in the file: refused until corrected
        assert tokens.check(f"Bearer {'n' * 12}") is None
    assert lines == [
        f"{path}, ligne 1 : jeton trop court (12 caractères, au moins 20) : ligne ignorée : « arras-2027 » n'a plus "
        "de jeton valable tant qu'elle n'est pas corrigée ; les autres lignes du fichier sont appliquées.",
        f"{path}, ligne 2 : jeton trop court (8 caractères, au moins 20) : ligne ignorée : « boulogne » n'a plus de "
        "jeton valable tant qu'elle n'est pas corrigée ; les autres lignes du fichier sont appliquées."]
    assert not any(OTHER[:8] in line for line in lines)  # no token, even cut, in the journal


@pytest.mark.parametrize("line", ["arras REVOQUE", "arras {short}", "{short}"])
def test_a_leaked_token_replaced_by_a_bad_line_is_revoked(tmp_path, line):
    """« arras REVOQUE » typed over a leaked token, or the new token pasted short over it (with or without its
    label), kept the leaked one valid: a bad line kept its label's previous token."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"arras {GOOD}\nboulogne {OTHER}\n")
    tokens = Tokens(path=path)
    assert tokens.check(f"Bearer {GOOD}") == "arras"
    path.write_text(line.format(short="n" * 12) + f"\nboulogne {OTHER}\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert tokens.check(f"Bearer {GOOD}") is None
    assert tokens.check(f"Bearer {OTHER}") == "boulogne"


def test_a_file_with_a_revoked_line_starts_the_server_again(tmp_path):
    """« arras REVOQUE » over a leaked token, as the docs show: the running server left the line out, but
    at its next start (an update, a reboot) the same file stopped it — « ligne 2 : jeton trop court » —
    and the whole département lost the add-in. At start too the line is left out; `acv-xl serveur`
    says it; the other communes' tokens apply, the revoked one never."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"# communes\nboulogne {OTHER}\narras REVOQUE\n")
    tokens = Tokens(path=path)
    assert tokens.check(f"Bearer {OTHER}") == "boulogne"
    assert tokens.check("Bearer REVOQUE") is None
    assert tokens.ignored == [
        f"{path}, ligne 3 : jeton trop court (7 caractères, au moins 20) : ligne ignorée : « arras » n'a plus de "
        "jeton valable tant qu'elle n'est pas corrigée ; les autres lignes du fichier sont appliquées."]
    assert Tokens(path=tmp_path / "jetons.txt").ignored and not Tokens(GOOD).ignored


def test_a_token_written_before_its_label_is_never_said(tmp_path):
    """« 3q7… arras », the token before its label: the line is left out (« arras » is too short to be a
    token), and what is said of it named its « label » — the token itself, in clear, on the error output
    at start and in the journal on a reload. It is now said without it, with how to write the line."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"boulogne {GOOD}\n{OTHER} arras\n")
    tokens = Tokens(path=path)
    with _journal() as lines:
        _rewritten(path, f"{OTHER} arras\nboulogne {GOOD}\n")
        assert tokens.check(f"Bearer {OTHER}") is None and tokens.check(f"Bearer {GOOD}") == "boulogne"
    said = tokens.ignored + lines
    assert len(said) == 2 and not any(OTHER in line for line in said), said
    assert said[0] == (f"{path}, ligne 2 : jeton trop court (5 caractères, au moins 20) ; le jeton s'écrit en dernier "
                       "sur sa ligne, après son libellé : ligne ignorée tant qu'elle n'est pas corrigée ; les autres "
                       "lignes du fichier sont appliquées.")
    path.write_text(f"{OTHER} arras\n")
    with pytest.raises(ConfigError) as refused:
        Tokens(path=path)
    assert OTHER not in str(refused.value) and "en dernier sur sa ligne" in str(refused.value)


def test_a_token_file_written_on_windows_is_read(tmp_path):
    """Notepad's UTF-8 mark before a comment made the server refuse to start (« ligne 1 : jeton trop
    court »), a label in Windows-1252 stopped it with an internal error."""
    marked = tmp_path / "jetons-utf8.txt"
    marked.write_bytes("\ufeff# /etc/acv-xl/jetons.txt — droits 600\r\narras {}\r\n".format(GOOD).encode("utf-8"))
    assert Tokens(path=marked).check(f"Bearer {GOOD}") == "arras"
    ansi = tmp_path / "jetons-ansi.txt"
    ansi.write_bytes("# communes\r\nbéthune {}\r\n".format(OTHER).encode("cp1252"))
    assert Tokens(path=ansi).check(f"Bearer {OTHER}") == "béthune"


def test_a_bad_token_file_prevents_starting(tmp_path):
    empty = tmp_path / "jetons de la préfecture.txt"  # a path with spaces, quoted in the sentence
    empty.write_text("# rien\n")
    with pytest.raises(ConfigError) as nothing:
        Tokens(path=empty)
    assert str(nothing.value) == f"le fichier de jetons « {empty} » ne contient aucun jeton."
    with pytest.raises(ConfigError, match="fichier de jetons illisible"):
        Tokens(path=tmp_path / "absent.txt")
    short = tmp_path / "court.txt"
    short.write_text("arras abc\n")
    with pytest.raises(ConfigError, match="court.txt, ligne 1 : jeton trop court"):
        Tokens(path=short)
    # only lines that are no token: the first says why, then what to do — of a token, not of a comment
    # (« « // » ne commence pas un commentaire, seul « # » le fait. Créez-en un avec : … »)
    short.write_text(f"// arras {GOOD}\n")
    with pytest.raises(ConfigError) as refused:
        Tokens(path=short)
    assert str(refused.value) == (
        f"{short}, ligne 1 : « // » ne commence pas un commentaire, seul « # » le fait ; le fichier ne contient "
        "aucun jeton valable. Créez-en un avec : python -c \"import secrets; print(secrets.token_urlsafe(32))\"")


def test_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv("ACV_XL_MAX_CORPS_MO", "2,5")
    monkeypatch.setenv("ACV_XL_MAX_CELLULES", "1000")
    monkeypatch.setenv("ACV_XL_DELAI", "0.5")
    monkeypatch.setenv("ACV_XL_URL_PUBLIQUE", "https://acv.exemple.gouv.fr/")
    config = ServerConfig.from_env()
    assert config.max_body == int(2.5 * 1024 * 1024) and config.max_cells == 1000 and config.timeout == 0.5
    assert "https://acv.exemple.gouv.fr" in config.origins
    monkeypatch.setenv("ACV_XL_MAX_CELLULES", "beaucoup")
    with pytest.raises(ConfigError, match="ACV_XL_MAX_CELLULES = « beaucoup » : nombre attendu"):
        ServerConfig.from_env()
    monkeypatch.setenv("ACV_XL_MAX_CELLULES", "0")
    with pytest.raises(ConfigError, match="strictement positive"):
        ServerConfig.from_env()
    monkeypatch.setenv("ACV_XL_MAX_CELLULES", "1000")
    # float() takes these: « NaN s par appel » printed, or an internal error at start
    for name, raw in (("ACV_XL_DELAI", "nan"), ("ACV_XL_DELAI", "inf"), ("ACV_XL_MAX_CORPS_MO", "1e400"),
                      ("ACV_XL_MAX_CORPS_MO", "NaN")):
        monkeypatch.setenv(name, raw)
        with pytest.raises(ConfigError, match=f"{name} = « {raw} » : nombre fini attendu"):
            ServerConfig.from_env()
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("ACV_XL_FILS", "100000")
    with pytest.raises(ConfigError, match="ACV_XL_FILS = « 100000 » : au plus 128"):
        ServerConfig.from_env()
    monkeypatch.delenv("ACV_XL_FILS")
    assert ServerConfig.from_env().receive_timeout == 30  # headers, then body (docs/serveur.md)
    monkeypatch.setenv("ACV_XL_DELAI_RECEPTION", "2,5")
    assert ServerConfig.from_env().receive_timeout == 2.5
    monkeypatch.setenv("ACV_XL_DELAI_RECEPTION", "0")
    with pytest.raises(ConfigError, match="ACV_XL_DELAI_RECEPTION = « 0 » : valeur strictement positive"):
        ServerConfig.from_env()


def test_an_origin_is_checked_and_written_as_a_browser_sends_it(monkeypatch):
    """`--origine acv.departement.gouv.fr` (no scheme), an address with a path, « * », an upper-case
    name or the default port never equalled a browser's `Origin`: taken silently, that page got
    « Origine refusée » and the IT person had no clue why."""
    monkeypatch.setenv("ACV_XL_ORIGINES", "HTTPS://Outils.Exemple.gouv.fr:443/, http://[::1]:8080")
    assert ServerConfig.from_env().origins == {"https://outils.exemple.gouv.fr", "http://[::1]:8080"}
    for wrong in ("outils.exemple.gouv.fr", "https://outils.exemple.gouv.fr/acv", "*", "ftp://a.fr",
                  "https://a.fr:99999", "https://moi@a.fr", "https://a.fr?x=1"):
        monkeypatch.setenv("ACV_XL_ORIGINES", wrong)
        with pytest.raises(ConfigError, match=f"--origine \\(ACV_XL_ORIGINES\\) « {re.escape(wrong)} » : "
                                              "origine web attendue, sous la forme https://"):
            ServerConfig.from_env()


def test_connections_per_client_address(monkeypatch):
    """`--connexions-par-adresse`: 256 by default, never more than a quarter of what a process accepts
    (924 under systemd's 1 024 files: 231), 0 for none; the loopback is not counted (nginx on the
    machine relays every commune from it), an IPv6 client counts by its /64 (a subscriber's network)."""
    from udfs.server_config import per_address_limit
    from udfs.server_http import address_key

    monkeypatch.delenv("ACV_XL_CONNEXIONS_PAR_ADRESSE", raising=False)
    assert per_address_limit(4096) == 256 and per_address_limit(924) == 231 and per_address_limit(3) == 1
    assert ServerConfig.from_env().per_address in (256, *range(1, 256))
    monkeypatch.setenv("ACV_XL_CONNEXIONS_PAR_ADRESSE", "0")
    assert per_address_limit(4096) == 0 and ServerConfig.from_env().per_address == 0
    for wrong in ("-3", "²"):  # « ² »: a digit to str.isdigit, an internal error to int()
        monkeypatch.setenv("ACV_XL_CONNEXIONS_PAR_ADRESSE", wrong)
        with pytest.raises(ConfigError, match=f"ACV_XL_CONNEXIONS_PAR_ADRESSE = « {wrong} » : nombre entier attendu"):
            ServerConfig.from_env()
    assert address_key(("127.0.0.1", 5000)) is None and address_key(("::1", 5000, 0, 0)) is None
    assert address_key(("::ffff:127.0.0.1", 5000, 0, 0)) is None
    assert address_key(("::ffff:192.0.2.7", 5000, 0, 0)) == address_key(("192.0.2.7", 1)) == "192.0.2.7"
    assert address_key(("2001:db8:1:2::a", 1, 0, 0)) == address_key(("2001:db8:1:2:ffff::b%eth0", 2, 0, 0)) \
        == "2001:db8:1:2::/64"
    assert address_key(None) is None and address_key("/run/acv.sock") is None


def _scope(method="POST", **headers):
    return {"type": "http", "method": method, "path": "/xlwings/custom-functions-call",
            "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


@pytest.mark.parametrize("origin, allowed", [
    ("https://acv.exemple.gouv.fr", True),  # the server itself (Host)
    ("https://ACV.exemple.gouv.fr", True),
    ("https://acv.exemple.gouv.fr.pirate.example", False),
    ("https://pirate.example", False),
    ("null", False),  # a sandboxed frame or a file
    ("https://frontal.exemple.gouv.fr", True),  # configured (--origine, --url-publique)
])
def test_origins(origin, allowed):
    # beyond loopback the server always has tokens (it refuses to start without)
    guard = Guard(None, ServerConfig(tokens=Tokens(GOOD), origins=frozenset({"https://frontal.exemple.gouv.fr"})))
    assert guard.origin_allowed(_scope(host="acv.exemple.gouv.fr"), origin) is allowed


def test_a_local_server_without_token_refuses_a_rebound_name():
    """DNS rebinding: a page of pirate.example whose name now points at 127.0.0.1 sends Origin and
    Host both « pirate.example »; without a token only the loopback names pass."""
    guard = Guard(None, ServerConfig())
    assert guard.origin_allowed(_scope(host="pirate.example:8000"), "http://pirate.example:8000") is False
    assert guard.refusal(_scope(host="pirate.example:8000", origin="http://pirate.example:8000",
                                content_type="application/json"))[0] == 403
    for name in ("127.0.0.1", "localhost"):
        assert guard.origin_allowed(_scope(host=f"{name}:8000"), f"http://{name}:8000") is True


def test_refusals_in_order_origin_token_type_size():
    guard = Guard(None, ServerConfig(tokens=Tokens(GOOD), max_body=100))
    ok = dict(host="h", authorization=f"Bearer {GOOD}", content_type="application/json; charset=utf-8")
    assert guard.refusal(_scope(**ok)) is None
    assert guard.refusal(_scope(**{**ok, "origin": "https://x.example"}))[0] == 403
    assert guard.refusal(_scope(**{**ok, "authorization": "Bearer x"}))[0] == 401
    assert guard.refusal(_scope(**{**ok, "content_type": "text/plain"}))[0] == 415
    assert guard.refusal(_scope(**{**ok, "content_length": "101"}))[0] == 413
    assert guard.refusal(_scope(**{**ok, "content_length": "-1"}))[0] == 413
    assert guard.refusal(_scope("GET", host="h")) is None  # the add-in's files: public
    assert guard.refusal(_scope("GET", host="h", origin="https://x.example")) is None
    assert guard.refusal(_scope("OPTIONS", host="h", origin="https://x.example"))[0] == 403
    entraid = Guard(None, ServerConfig(tokens=Tokens(GOOD)), entraid=True)
    assert entraid.refusal(_scope(**{**ok, "authorization": "Bearer jwt-entra"})) is None  # xlwings checks it


def test_a_method_no_address_takes_is_not_allowed_whether_or_not_a_token_is_sent():
    """`OPTIONS *` and `TRACE /` got 401 « Jeton d'accès absent ou invalide », as if a token would make them
    work: no address of the server takes them (an OPTIONS without a preflight's headers is no preflight)."""
    guard = Guard(None, ServerConfig(tokens=Tokens(GOOD)))
    for method, path in (("OPTIONS", "*"), ("OPTIONS", "/manifest"), ("TRACE", "/"), ("CONNECT", "/"),
                         ("PROPFIND", "/")):
        for auth in ({}, {"authorization": f"Bearer {GOOD}"}):
            scope = dict(_scope(method, host="h", **auth), path=path)
            assert guard.refusal(scope) == (405, "Méthode non permise pour cette adresse.",
                                            [(b"allow", b"GET, HEAD, POST")], "methode_refusee"), (method, path, auth)
    # a preflight from an allowed origin still passes (answered by the CORS layer), a foreign one 403
    preflight = _scope("OPTIONS", host="h", origin="https://h", access_control_request_method="POST")
    assert guard.refusal(preflight) is None
    assert guard.refusal(dict(preflight, headers=[(k, b"https://x.example" if k == b"origin" else v)
                                                  for k, v in preflight["headers"]]))[0] == 403


def test_a_client_gone_before_its_body_leaves_one_token_in_the_log(caplog):
    """The log line is split on spaces by whoever reads it (`grep 'issue=…'`): the issue of a
    request abandoned mid-body was « client déconnecté », two tokens."""
    import asyncio
    import logging

    guard = Guard(None, ServerConfig(tokens=Tokens(GOOD)))
    scope = _scope(host="h", authorization=f"Bearer {GOOD}", content_type="application/json")

    async def gone():
        return {"type": "http.disconnect"}

    async def send(message):
        raise AssertionError(message)  # nothing is answered to a client that left

    with caplog.at_level(logging.INFO, logger="acv_xl.serveur"):
        asyncio.run(guard(scope, gone, send))
    [line] = [r.getMessage() for r in caplog.records]
    assert " issue=client_parti statut=- " in line and guard.active == 0


@pytest.mark.parametrize("path", ["/static/C:/Windows/win.ini", "/static/C:Windows/win.ini",
                                  "/static/js/auth.js::$DATA", "/static/..\\..\\server_config.py"])
def test_a_windows_path_out_of_the_add_in_s_files_is_refused(path):
    """Served on a Windows PC (docs/excel.md), xlwings Server's static files join the address to their
    folder with pathlib: a drive (« C:… ») replaces the folder, as « .. » climbed out of it on Linux
    (tests/test_server.py sends those on a socket). No address of the add-in has a colon."""
    guard = Guard(None, ServerConfig())
    scope = {"type": "http", "method": "GET", "path": path, "headers": [(b"host", b"127.0.0.1:8000")]}
    assert guard.refusal(scope) == (404, "Adresse inconnue de ce serveur.", [], "chemin_refuse")
    for served in ("/static/js/auth.js", "/manifest", "/xlwings/custom-scripts-call/valider"):
        assert guard.refusal(dict(scope, path=served)) is None


def test_a_refused_origin_is_named_in_the_log(caplog):
    """A front end on another port than 443 with --url-publique naming none: the browser's Origin
    carries the port, the front end's Host does not, and every call got 403 with nothing in the log
    but « statut=403 » — the préfecture's IT had no way to see which origin was refused."""
    import asyncio
    import logging

    guard = Guard(None, ServerConfig(tokens=Tokens(GOOD), origins=frozenset({"https://acv.exemple.gouv.fr"})))
    scope = _scope(host="acv.exemple.gouv.fr", origin="https://acv.exemple.gouv.fr:8443",
                   authorization=f"Bearer {GOOD}", content_type="application/json")
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    with caplog.at_level(logging.INFO, logger="acv_xl.serveur"):
        asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 403
    [line] = [r.getMessage() for r in caplog.records]
    assert " issue=origine_refusee origine=https://acv.exemple.gouv.fr:8443 statut=403 " in line


def _fake_calls(monkeypatch, seconds: float, **config):
    """`server_calls.Calls` whose functions only sleep, recording the bodies computed at once."""
    import threading

    from udfs import server_calls

    seen = {"now": 0, "peak": 0, "calls": 0}
    lock = threading.Lock()

    def fake(body, user, config, state):
        with lock:
            seen["now"] += len(body)
            seen["peak"] = max(seen["peak"], seen["now"])
            seen["calls"] += 1
        time.sleep(seconds)
        with lock:
            seen["now"] -= len(body)
        return {"result": [[len(body)]]}

    monkeypatch.setattr(server_calls, "call_function", fake)
    return server_calls.Calls(None, ServerConfig(**config)), seen


def test_big_bodies_are_computed_one_after_the_other(monkeypatch):
    """Memory follows the bodies being computed (≈ 40 times their size): six threads on bodies near
    the limit took more than the service's 4 GB. Bodies computed at once weigh at most --max-corps."""
    import asyncio

    calls, seen = _fake_calls(monkeypatch, 0.05, max_body=1000, threads=8)
    bodies = [b"x" * 600] * 4 + [b"y" * 100] * 4

    async def main():
        return await asyncio.gather(*[calls.submit("function", None, b, None, {}) for b in bodies])

    answers = asyncio.run(main())
    assert [a["result"][0][0] for a in answers] == [len(b) for b in bodies]
    assert seen["peak"] <= 1000 and seen["calls"] == 8
    assert calls.weight == 0 and calls.running == 0


def test_a_call_waiting_for_room_past_its_time_is_told_so_and_never_computed(monkeypatch):
    import asyncio

    calls, seen = _fake_calls(monkeypatch, 0.4, max_body=1000, threads=8, timeout=0.2)

    async def main():
        states = [{}, {}]
        answers = await asyncio.gather(*[calls.submit("function", None, b"x" * 600, None, st) for st in states])
        await asyncio.sleep(0.5)  # the first one's thread ends, past its time limit
        return answers, states

    answers, states = asyncio.run(main())
    assert [a["result"][0][0] for a in answers] == ["#ACV: calcul interrompu : délai de 0,2 s dépassé sur le serveur."] * 2
    assert [st["issue"] for st in states] == ["delai_depasse"] * 2
    assert seen["calls"] == 1 and calls.weight == 0 and calls.running == 0


def test_the_control_groups_limits_are_read_v2_and_v1_tightest_along_the_path(tmp_path):
    from udfs.server_machine import cgroup_limit

    proc = tmp_path / "cgroup"
    root = tmp_path / "sys"
    service = root / "system.slice" / "acv-xl-serveur.service"
    service.mkdir(parents=True)
    proc.write_text("0::/system.slice/acv-xl-serveur.service\n")
    (service / "memory.max").write_text("4294967296\n")
    (service / "pids.max").write_text("max\n")
    (root / "system.slice" / "memory.max").write_text("8589934592\n")
    assert cgroup_limit("memory.max", "memory", "memory.limit_in_bytes", proc, root) == 4 << 30
    assert cgroup_limit("pids.max", "pids", "pids.max", proc, root) is None  # « max »: no limit
    (root / "system.slice" / "pids.max").write_text("256\n")
    assert cgroup_limit("pids.max", "pids", "pids.max", proc, root) == 256  # set on a parent
    # cgroup v1 (a hybrid system): one hierarchy per controller, « no limit » as a huge number
    proc.write_text("4:memory:/docker/abc\n8:pids:/docker/abc\n0::/\n")
    (root / "memory" / "docker" / "abc").mkdir(parents=True)
    (root / "memory" / "docker" / "abc" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert cgroup_limit("memory.max", "memory", "memory.limit_in_bytes", proc, root) is None
    (root / "memory" / "docker" / "abc" / "memory.limit_in_bytes").write_text("2147483648\n")
    assert cgroup_limit("memory.max", "memory", "memory.limit_in_bytes", proc, root) == 2 << 30
    assert cgroup_limit("memory.max", "memory", "memory.limit_in_bytes", tmp_path / "absent", root) is None


def test_processes_must_fit_in_the_service_s_memory_and_threads(monkeypatch):
    """The shipped unit allows 4 Go and 256 threads to all the processes together: six processes
    computing big workbooks went past the memory (the system kills one in mid-call), and
    `--fils 128` on two processes past the threads (« Erreur interne » for want of one)."""
    from udfs import server_machine as m

    monkeypatch.setattr(m, "usable_cores", lambda: 8)
    body = 20 * 1024 * 1024
    unit = (4 << 30, 256)  # deploy/acv-xl-serveur.service: MemoryMax=4G, TasksMax=256
    assert m.processes_refusal(2, 12, body, *unit) is None  # the unit as shipped
    assert m.processes_refusal(4, 12, body, *unit) is None
    memory = m.processes_refusal(5, 12, body, *unit)
    assert memory.startswith("--processus 5 : jusqu'à 4,5 Go de mémoire en pleine charge (0,9 Go par processus")
    assert "au-delà des 4 Go permis à ce service" in memory and "--max-corps" in memory
    assert m.processes_refusal(8, 12, 5 * 1024 * 1024, *unit) is None  # smaller requests: more processes
    threads = m.processes_refusal(2, 128, body, *unit)
    assert threads.startswith("--processus 2 avec 128 fils de calcul chacun : environ 264 fils d'exécution, "
                              "au-delà des 256 permis")
    assert m.processes_refusal(1, 12, body, 512 << 20, 64) is None  # one process: always (as before)
    assert m.processes_refusal(2, 12, body, 512 << 20, None).startswith("--processus 2 : jusqu'à")
    assert m.processes_refusal(16, 12, body, None, None) is None  # no limits: two per core
    assert "au plus 16 sur cette machine (deux par cœur, 8 cœurs ici)" in m.processes_refusal(17, 12, body, None, None)


def test_connexions_par_adresse_refuses_a_digit_int_cannot_read_with_its_own_message(capsys):
    """`--connexions-par-adresse ²`: « ² » is a digit to str.isdigit, and int() then failed — argparse's
    generic « valeur invalide » instead of the option's own French message."""
    from acv_xl import cli

    for wrong in ("²", "-1", "trois"):
        with pytest.raises(SystemExit) as exit_:
            cli.build_parser().parse_args(["serveur", "--connexions-par-adresse", wrong])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert f"un nombre entier positif ou nul est attendu, pas « {wrong} »" in err, err
    assert cli.build_parser().parse_args(["serveur", "--connexions-par-adresse", " 12 "]).connexions_par_adresse == 12


def test_a_limit_that_is_no_finite_number_is_refused_with_the_option_typed(capsys):
    """`--delai nan`, `--max-corps 1e400`: float() reads « nan » and « inf », which passed the option's
    check (nan is not <= 0) and were refused at start under a variable the admin never set, with a
    value never typed (« ACV_XL_MAX_CORPS_MO = « inf » : nombre fini attendu »)."""
    from acv_xl import cli

    for option in ("--delai", "--max-corps", "--delai-reception"):
        for wrong in ("nan", "1e400", "inf", "NaN"):
            with pytest.raises(SystemExit) as exit_:
                cli.build_parser().parse_args(["serveur", option, wrong])
            assert exit_.value.code == 2
            err = capsys.readouterr().err
            assert f"argument {option} : un nombre strictement positif est attendu, pas « {wrong} »" in err, err
    assert cli.build_parser().parse_args(["serveur", "--delai", "0,5"]).delai == 0.5


def test_what_revokes_every_token_is_what_the_docs_say(tmp_path):
    """A token file removed or unreadable keeps the tokens known so far (an editor replaces it for an
    instant), so removing it revoked nothing — while the docs said only that a bad edit was ignored.
    Emptying it refuses every call, and the docs say so; their example file had another owner and
    mode than the recipe's."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"arras {GOOD}\n")
    tokens = Tokens(path=path)
    path.unlink()
    assert tokens.check(f"Bearer {GOOD}") == "arras"  # removed: still accepted
    path.write_text("# plus aucun jeton\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert tokens.check(f"Bearer {GOOD}") is None and tokens.enabled  # emptied: every call refused
    doc = " ".join((ROOT / "docs" / "serveur.md").read_text(encoding="utf-8").split())
    assert "supprimer le fichier ne révoque donc aucun jeton" in doc and "videz-le (chaque appel reçoit alors 401)" in doc
    assert "propriétaire root, groupe acv-xl, droits 640" in doc
    assert "sudo install -m 640 -o root -g acv-xl /dev/null /etc/acv-xl/jetons.txt" in doc


def test_a_function_calls_floats_are_parsed_by_json_itself_unless_one_may_be_past_any_double(monkeypatch):
    """Every float of a function's call went through a Python check of its own (`_finite`: ≈ 1 ms for a
    5 000-line plan, a third of the call's cost when the plan had not changed): now only when the body holds a
    number that may be past any double — and such a number is still refused."""
    import json

    from udfs import server_calls

    checked = []
    real = server_calls._finite
    monkeypatch.setattr(server_calls, "_finite", lambda text: checked.append(text) or real(text))
    # what Excel sends: amounts with cents, tiny and big doubles as JavaScript writes them, a SIRET as a text; and a
    # plan's 5 000 lines (past 1e99, an exponent of 3 digits, or a text of 22 digits, an IBAN, take the checked way)
    rows = [[f"1.{i % 50}", "ETAT", 2025, 1000 + i + 0.37, 1e-7 * i, 2.5e99, 1e21]
            for i in range(5000)] + [["12345678901234", "ACV"]]
    body = json.dumps({"func_name": "ACV_TOTAL_FINANCEUR", "args": [rows, [["ETAT"]]]}).encode()
    assert server_calls._loads(body, finite=True)["args"][0] == rows
    assert checked == []
    for big in ("1e309", "-1E+309", "1e0309", "1" + "0" * 290 + "e20", "0." + "0" * 30 + "1e340",
                "9" * 309 + ".5", "17976931348623159e292"):
        with pytest.raises(server_calls.Refused, match="nombre hors des limites d'Excel"):
            server_calls._loads(b'{"args": [[[1.5, ' + big.encode() + b"]]]}", finite=True)


def test_an_integer_past_any_double_is_refused_in_a_functions_call():
    """A number with neither point nor exponent is an int to json, never seen by `_finite`: « 1 » and 400 zeros
    reached the functions — as ACV_TOTAL_FINANCEUR's année, « #ACV: erreur inattendue (OverflowError) » —, where a
    button's workbook refuses it (`server_payload`) and Excel sends only doubles."""
    from udfs import server_calls

    for big in ("1" + "0" * 400, "-" + "9" * 309):
        with pytest.raises(server_calls.Refused, match="nombre hors des limites d'Excel \\(« -?[0-9]{18,19}… »\\)"):
            server_calls._loads(b'{"args": [[[1.5, ' + big.encode() + b"]], [[2025]]]}", finite=True)
    # up to the largest double, an integer is read as itself
    body = b'{"args": [[[' + str(10 ** 308).encode() + b", 12345678901234567890123]]]}"
    assert server_calls._loads(body, finite=True)["args"] == [[[10 ** 308, 12345678901234567890123]]]


def test_the_docs_say_which_forged_cells_are_refused():
    """docs/serveur.md said every cell that is neither a text, a number, a boolean, empty nor a data type's value
    is refused (400): a list in a cell is refused only in a body that also holds an object, the only one whose
    cells are walked (`call_function`: no pass over a plan's 30 000 cells for what Excel sends); elsewhere it
    was answered 200, its sender's total wrong."""
    from udfs import server_calls

    assert server_calls._cell_refusal(["ETAT"]) and server_calls._cell_refusal({})
    assert not server_calls._cell_refusal({"type": "Entity", "text": "ETAT"})
    docs = " ".join((ROOT / "docs" / "serveur.md").read_text(encoding="utf-8").split())
    assert ("une liste dans une cellule, qu'Excel n'envoie pas davantage, n'est refusée qu'en première cellule "
            "d'une plage (« plage vide ou mal formée ») ou dans une requête qui porte aussi un objet") in docs
    assert "ni la valeur d'un type de données d'Excel (`{}` forgé)" not in docs


# every encoding json.loads reads a body in (json.detect_encoding)
JSON_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


@given(st.from_regex(r"\A-?(0|[1-9][0-9]{0,320})(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,4})?\Z"),
       st.sampled_from(JSON_ENCODINGS))
def test_every_json_number_past_any_double_is_seen_by_the_shape_of_the_body(text, encoding):
    """`_may_overflow` may say true for nothing, never false for a number that json reads as infinity."""
    import math

    from udfs import server_calls

    if math.isinf(float(text)):
        assert server_calls._may_overflow(('{"a": [' + text + "]}").encode(encoding))


@pytest.mark.parametrize("encoding", JSON_ENCODINGS)
def test_a_number_past_any_double_is_refused_in_a_body_of_any_encoding_json_reads(encoding):
    """json reads a body in UTF-16 or UTF-32 too, where a zero byte stands beside each character of « 1e400 »: the
    shape of the body saw no 3-digit exponent, the number was read as infinity and its line left out of the total
    without a word (ACV_TOTAL_FINANCEUR 12,5 instead of a refusal)."""
    import json

    from udfs import server_calls

    body = json.dumps({"func_name": "ACV_TOTAL_FINANCEUR", "args": [[["Montant"], [1e300], [12.5]], [["ETAT"]]]})
    with pytest.raises(server_calls.Refused, match="nombre hors des limites d'Excel \\(« 1e400 »\\)"):
        server_calls._loads(body.replace("1e+300", "1e400").encode(encoding), finite=True)


def test_public_reads_held_by_one_client_leave_room_for_the_calls_bearing_a_token(caplog):
    """The add-in's public files need no token, and a client reading nothing of their answers keeps each
    request for `--delai-reception` (served directly: the kernel's buffers hold a fraction of office.js, 1.6 Mo):
    64 of them, from one address allowed 256 connections, took every place of a process — « Serveur occupé »
    for each commune's « Valider » and functions, renewed every 30 s. Public reads are now counted apart: past
    their own 64, a read is told « Serveur occupé », and the calls keep all of theirs."""
    import asyncio
    import logging

    from udfs.server_guard import BUSY

    config = ServerConfig(tokens=Tokens(GOOD))
    answered = []

    async def app(scope, receive, send):  # a public file's answer never read; a call answered at once
        if scope["method"] == "GET":
            await app.stalled.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    guard = Guard(app, config)

    def request(method: str):
        scope = dict(_scope(method, host="h", authorization=f"Bearer {GOOD}", content_type="application/json"),
                     path="/static/vendor/office-js/excel-web-16.00.js" if method == "GET" else
                     "/xlwings/custom-functions-call")
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message):
            sent.append(message)

        answered.append(sent)
        return guard(scope, receive, send)

    async def main():
        app.stalled = asyncio.Event()
        readers = [asyncio.ensure_future(request("GET")) for _ in range(config.max_requests + 3)]
        await asyncio.sleep(0)
        await request("POST")  # a commune's call, while the reads stall
        app.stalled.set()
        await asyncio.gather(*readers)

    with caplog.at_level(logging.INFO, logger="acv_xl.serveur"):
        asyncio.run(main())
    statuses = [sent[0]["status"] for sent in answered]
    assert statuses[-1] == 200  # the call: served
    assert statuses[:-1].count(503) == 3  # the reads past their own places
    assert all(sent[1]["body"].decode().strip() == BUSY for sent in answered[:-1] if sent[0]["status"] == 503)
    assert guard.active == 0


@pytest.mark.parametrize("line, why", [
    (f"// arras {GOOD}", "« // » ne commence pas un commentaire, seul « # » le fait"),
    (f";arras {GOOD}", "« ; » ne commence pas un commentaire, seul « # » le fait"),
    (f"-- arras {GOOD}", "« -- » ne commence pas un commentaire, seul « # » le fait"),
    (f"REM arras {GOOD}", "« REM » ne commence pas un commentaire, seul « # » le fait"),
    ("Jetons du serveur https://acv.pas-de-calais.gouv.fr",
     "jeton invalide (il contient un signe interdit ou mal placé : un jeton ne s'écrit qu'avec des lettres sans "
     "accent, des chiffres et les signes - . _ ~ + / =, ce dernier seulement à la fin)"),
    ("Jetons ACV : ne-pas-diffuser-à-l-extérieur",
     "jeton invalide (il contient une lettre accentuée ou d'un autre alphabet : "),
    (f"arras {GOOD[:10]}={GOOD[10:]}", "jeton invalide (il contient un signe interdit ou mal placé : "),
    (f"arras {GOOD}\u200b",
     "jeton invalide (il contient un caractère invisible, comme une espace insécable ou de largeur nulle : "),
])
def test_a_line_the_administrator_did_not_mean_as_a_token_grants_nothing(tmp_path, line, why):
    """Only « # » begins a comment, as the docs say: « // arras <jeton> », meant to set a leaked token
    aside, left it valid (under the label « // arras »), and a title typed without « # » whose last word
    was long enough (an address) was a token anyone reading the docs' example could guess. A token is
    now written as a Bearer token is (RFC 6750), the alphabet of every generator, and such lines are
    left out and said."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"boulogne {OTHER}\n{line}\n", encoding="utf-8")
    tokens = Tokens(path=path)
    last = line.split()[-1]
    assert tokens.check(f"Bearer {last}") is None
    assert tokens.check(f"Bearer {OTHER}") == "boulogne"
    assert len(tokens.ignored) == 1 and tokens.ignored[0].startswith(f"{path}, ligne 2 : {why}"), tokens.ignored


@pytest.mark.parametrize("bad, same", [("!", "$"), ('"', "="), ("é", "ж"), ("\u200b", "\u2060")])
def test_the_bad_character_of_a_refused_token_is_never_said(tmp_path, bad, same):
    """A token with one character out of a Bearer token's (a password manager's « ! », a letter typed with
    its accent) was refused, and the journal quoted that character — a character of a secret the
    administrator may still mean to use. It is said by its kind only."""
    def said(c):
        token = f"Xq9{c}zK2vB7nM4pL8wR3tY6uJ"
        path = tmp_path / "jetons.txt"
        path.write_text(f"calais {OTHER}\n")
        tokens = Tokens(path=path)
        with _journal() as lines:
            _rewritten(path, f"calais {OTHER}\narras {token}\n")
            assert tokens.check(f"Bearer {OTHER}") == "calais" and tokens.check(f"Bearer {token}") is None
        return lines + Tokens(path=path).ignored

    first = said(bad)
    assert len(first) == 2 and all("ligne 2 : jeton invalide (" in s for s in first), first
    assert said(same) == first  # nothing of which character it was, but its kind


@pytest.mark.parametrize("line", ["-" * 40, "/" * 30, "_" * 24, "~" * 20, "." * 60, "-._~+/" * 5])
def test_a_separator_line_grants_nothing(tmp_path, line):
    """A line of dashes under a title, typed without « # » (« Communes du Pas-de-Calais », then « ------… »),
    was a token of its 40 dashes — anyone could guess it: every character is one of a Bearer token's. No
    generator writes a token without a letter or a digit."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"Communes du Pas-de-Calais\n{line}\narras {GOOD}\n")
    tokens = Tokens(path=path)
    assert tokens.check(f"Bearer {line}") is None
    assert tokens.check(f"Bearer {GOOD}") == "arras"
    assert tokens.ignored[1] == (f"{path}, ligne 2 : jeton invalide (ni lettre ni chiffre : une ligne de séparation "
                                 "commence par « # ») : ligne ignorée tant qu'elle n'est pas corrigée ; les autres "
                                 "lignes du fichier sont appliquées.")


@pytest.mark.parametrize("token", [
    "3q7XZt0p-_aB9cD8eF7gH6iJ5kL4mN3oP2qR1sT0uVw",  # secrets.token_urlsafe(32)
    "--q7XZt0p-_aB9cD8eF7gH6iJ5kL4mN3oP2qR1sT0uVw",  # the same, beginning with « -- » alone on its line
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",  # openssl rand -hex 20
    "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",  # openssl rand -base64 32
    "//bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCg==",
    "1b4e28ba-2fa1-11d2-883f-0016d3cca427",  # uuidgen
])
def test_every_generator_s_token_is_still_a_token(tmp_path, token):
    path = tmp_path / "jetons.txt"
    path.write_text(f"{token}\narras x{token}\n")
    tokens = Tokens(path=path)
    assert not tokens.ignored
    assert tokens.check(f"Bearer {token}") == "jeton ligne 1" and tokens.check(f"Bearer x{token}") == "arras"


@pytest.mark.parametrize("line", [
    "arras 3q7XZt0p-_aB9cD8 eF7gH6iJ5kL4mN3oP2q R1sT0",  # token_urlsafe(32) broken by two spaces
    "boulogne sur mer 1b4e28ba-2fa1-11d2- 883f-0016d3cca427",  # uuidgen broken by one
])
def test_a_token_broken_by_spaces_is_not_said_in_part_as_its_label(tmp_path, line):
    """Everything before a line's last word was quoted as its label: a token broken by spaces, refused for
    its short last piece, had its other pieces printed in the journal (« arras 3q7XZt0p-_aB9cD8
    eF7gH6iJ5kL4mN3oP2q » n'a plus de jeton valable), most of the token the commune keeps using."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"calais {OTHER}\n{line}\n")
    tokens = Tokens(path=path)
    words = line.split()
    assert len(tokens.ignored) == 1
    said = tokens.ignored[0]
    assert not any(w in said for w in words[1:]), said
    assert said.endswith(f"un jeton ne contient pas d'espace : ligne ignorée : « {words[0]} … » n'a plus de jeton "
                         "valable tant qu'elle n'est pas corrigée ; les autres lignes du fichier sont appliquées.")


def _said_of_a_line(tmp_path, line: str) -> tuple[Path, list[str]]:
    """(the tokens file, what is said of `line` written after a valid one: in the journal at the next reading
    by a running server, and at start): the valid token is still taken."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"calais {OTHER}\narras {GOOD}\n")
    tokens = Tokens(path=path)
    with _journal() as lines:
        _rewritten(path, f"calais {OTHER}\n{line}\n")
        assert tokens.check(f"Bearer {OTHER}") == "calais"
    _rewritten(path, f"calais {OTHER}\n{line}\n")
    return path, lines + Tokens(path=path).ignored


@pytest.mark.parametrize("line", [
    "3q7XZt0p-_aB9cD8 eF7gH6iJ5kL4mN3oP2q",  # token_urlsafe(32) cut, no label, broken by one space
    "9f86d081884c 7d659a2feaa0 c55ad015a3bf",  # openssl rand -hex, broken by two
    "Zt0p eF7gH6iJ5kL4mN3oP2q",
])
def test_a_token_without_label_broken_by_spaces_is_not_said_in_part(tmp_path, line):
    """A line with no label, its token broken by a space and its last piece short: its first piece was
    quoted as its label (« 3q7XZt0p-_aB9cD8 » n'a plus de jeton valable), at start and in the journal. A
    first word is quoted only if written as a name is."""
    path, said = _said_of_a_line(tmp_path, line)
    assert len(said) == 2 and not any(w in s for w in line.split() for s in said), said
    assert all("ligne 2 : jeton trop court" in s and "ligne ignorée tant qu'elle" in s for s in said), said
    # a label written as a name is still quoted
    _rewritten(path, f"calais {OTHER}\nSaint-Omer boulogne-2027 {line.split()[-1]}\narras REVOQUE\n")
    assert [s.split(" : ligne ignorée : ")[1].split(" n'a")[0] for s in Tokens(path=path).ignored] == [
        "« Saint-Omer … »", "« arras »"]


@pytest.mark.parametrize("line", [
    "3q7XZt0pAb #cD8eF7gH6iJ5kL4mN3oP2qR1sT",  # token_urlsafe(32) broken before a « # » of its own
    "9f86d0 #81884c7d659a2feaa0c55ad015a3bf",  # openssl rand -hex
    "3q7XZt0p-_aB9c eF7g #H6iJ5kL4mN3oP2qR1sT0uVw",
])
def test_a_token_broken_before_a_comment_is_not_said_in_part(tmp_path, line):
    """A token written after « # » was said so, the line's first word quoted as its label: when that word was
    the token's first piece (« 3q7XZt0pAb #cD8e… », a token pasted with a « # » typed into it, or the start of
    one set aside), a piece of the secret was in the journal, at start and at each reading. It is quoted only
    if written as a name, as on any refused line; « calais # <jeton> » still names calais."""
    path, said = _said_of_a_line(tmp_path, line)
    pieces = [w.lstrip("#") for w in line.split() if w.lstrip("#")]
    assert len(said) == 2 and not any(w in s for w in pieces for s in said), said
    assert all("ligne 2 : jeton écrit après « # »" in s for s in said), said
    _rewritten(path, f"calais # {OTHER}\narras {GOOD}\n")
    assert [s.split(" : ligne ignorée : ")[1].split(" n'a")[0] for s in Tokens(path=path).ignored] == ["« calais »"]


def test_public_reads_whose_answers_are_never_read_hold_neither_the_task_pane_nor_the_connections():
    """A client reading nothing of the add-in's files keeps each read until its answer is sent, which it
    stalls for `--delai-reception` (served directly): 64 of them, from one address (allowed 256
    connections), held every place of the public reads — « Serveur occupé » for the task pane of every
    commune. A read then left its place as its answer started: nothing but the connections bounded the
    reads never read, a few addresses held every connection of a process (none closable to make room,
    each with the file it sent open besides) — « Serveur occupé » for every call, and past the process's
    files, no connection accepted. Reads keep their places until sent, one address a quarter of them."""
    import asyncio

    # (off loopback, the server has its public address: the only name it answers besides the loopback)
    config = ServerConfig(tokens=Tokens(GOOD), public_url="https://acv.exemple.gouv.fr")
    share = config.max_public_per_address
    assert share == config.max_requests // 4

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"<html>"})

    guard = Guard(app, config)
    statuses: dict[str, list[int]] = {}
    sending = {"now": 0, "most": 0}  # answers started and not sent: each holds its connection and its file
    sending_of: dict[str, list[int]] = {}  # the same, per address: [now, most]

    def read(address: str, stalled: asyncio.Event | None):
        scope = dict(_scope("GET", host="acv.exemple.gouv.fr"), path="/taskpane", client=(address, 50000))

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            mine = sending_of.setdefault(address, [0, 0])
            if message["type"] == "http.response.start":
                statuses.setdefault(address, []).append(message["status"])
                if message["status"] == 200:
                    sending["now"] += 1
                    sending["most"] = max(sending["most"], sending["now"])
                    mine[0] += 1
                    mine[1] = max(mine[1], mine[0])
            elif statuses[address][-1] == 200:
                if stalled is not None:  # the client reads nothing: its socket's buffers are full
                    await stalled.wait()
                sending["now"] -= 1
                mine[0] -= 1

        return guard(scope, receive, send)

    async def main():
        stalled = asyncio.Event()
        # one address, then five more together, reading nothing
        readers = [asyncio.ensure_future(read("203.0.113.1", stalled)) for _ in range(config.max_requests + 3)]
        await asyncio.sleep(0)
        await read("198.51.100.7", None)  # a commune's task pane, while one address's answers stall
        readers += [asyncio.ensure_future(read(f"203.0.113.{n}", stalled)) for n in range(2, 7)
                    for _ in range(config.max_requests)]
        await asyncio.sleep(0)
        stalled.set()
        await asyncio.gather(*readers)

    asyncio.run(main())
    assert statuses["198.51.100.7"] == [200]
    # past its quarter, one address's reads wait for a place of its own, as many as it holds (its stalled
    # answers read within the delay, they are served), never holding more than its quarter at once
    assert sorted(statuses["203.0.113.1"]) == [200] * (2 * share) + [503] * (config.max_requests + 3 - 2 * share)
    assert sending_of["203.0.113.1"][1] == share
    assert sending["most"] == config.max_requests  # never more than the reads' places, whatever the addresses
    assert guard.active == 0 and guard.public == 0 and not guard.public_of
    assert not guard.waiting_of
    # `--connexions-par-adresse 0`: a front end elsewhere relays every commune from its one address
    config.per_address, statuses, sending["most"] = 0, {}, 0
    asyncio.run(main())
    assert statuses["203.0.113.1"] == [200] * config.max_requests + [503] * 3


def test_a_comment_after_a_token_leaves_it_valid(tmp_path):
    """The docs say « # » begins a comment: « arras 3q7…  # mairie, service finances » refused the line
    (« jeton trop court (8 caractères) ; le jeton s'écrit en dernier sur sa ligne »), and the commune lost
    its access for a note. A « # » after a space begins a comment, as at the start of a line."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"arras {GOOD}   # mairie, service finances\nboulogne {OTHER}\t# jeton 2027\n"
                    f"calais # {'c' * 25}\n")
    tokens = Tokens(path=path)
    assert tokens.check(f"Bearer {GOOD}") == "arras" and tokens.check(f"Bearer {OTHER}") == "boulogne"
    assert tokens.check(f"Bearer {'c' * 25}") is None  # commented out after its label
    assert tokens.ignored == [f"{path}, ligne 3 : jeton écrit après « # », qui commence un commentaire en début de "
                              "ligne ou après une espace : ligne ignorée : « calais » n'a plus de jeton valable tant "
                              "qu'elle n'est pas corrigée ; les autres lignes du fichier sont appliquées."]


@pytest.mark.parametrize("line, label", [
    (f"lens #2 {GOOD}", "lens"),
    (f"saint-omer # 2 {GOOD}   # mairie", "saint-omer"),
    (f"boulogne sur mer #2027 {GOOD}", "boulogne …"),
])
def test_a_token_after_a_hash_in_its_label_is_said_to_be_in_a_comment(tmp_path, line, label):
    """A label written with « # » after a space (« lens #2 <jeton> », accepted before « # » began a comment
    there too) leaves its token in the comment: the line was refused as « jeton trop court (4 caractères, au
    moins 20) », its label taken for the token, and the administrator looked for a token cut short."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"calais {OTHER}\n{line}\n")
    tokens = Tokens(path=path)
    assert tokens.check(f"Bearer {GOOD}") is None  # the decision: what follows « # » is a comment
    assert tokens.ignored == [f"{path}, ligne 2 : jeton écrit après « # », qui commence un commentaire en début de "
                              f"ligne ou après une espace : ligne ignorée : « {label} » n'a plus de jeton valable "
                              "tant qu'elle n'est pas corrigée ; les autres lignes du fichier sont appliquées."]


@pytest.mark.parametrize("line, label", [
    ("arras 3q7XZt0p-_aB9cD8 eF7gH6iJ5kL4mN3oP2qR1sT0uVw", "arras …"),  # token_urlsafe(32) broken once
    ("3q7XZt0p-_aB9cD8 eF7gH6iJ5kL4mN3oP2qR1sT0uVw", None),  # no label
    ("boulogne sur mer 9f86d081884c 7d659a2feaa0c55ad015a3bf4f1b", "boulogne …"),  # openssl rand -hex 20
    ("arras Xq9zK2\u00a0vB7nM4pL8wR3tY6uJ0aS", "arras …"),  # a no-break space pasted within it
])
def test_a_token_broken_by_a_space_before_a_long_last_piece_grants_nothing(tmp_path, line, label):
    """A token broken by a space whose last piece had 20 characters or more was taken as that piece: the
    line said nothing, the commune's whole token was refused (401) with nothing in the journal to say why,
    and the label quoted in the journal held the token's first piece. The line is now refused and said, as
    when the last piece is short; a label written as labels are (« boulogne sur mer », « arras-2027 ») is
    still one."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"calais-2027 CA2BM {OTHER}\n{line}\nArras2027 Lens62 SaintOmer {GOOD}\n")
    tokens = Tokens(path=path)
    pieces = line.split()
    assert tokens.check(f"Bearer {pieces[-1]}") is None
    assert tokens.check(f"Bearer {OTHER}") == "calais-2027 CA2BM"
    assert tokens.check(f"Bearer {GOOD}") == "Arras2027 Lens62 SaintOmer"  # names, a year: a label
    assert len(tokens.ignored) == 1, tokens.ignored
    said = tokens.ignored[0]
    assert said.startswith(f"{path}, ligne 2 : jeton coupé par une espace (") and "pas d'espace" in said
    assert not any(p in said for p in pieces if len(p) >= 6 and p != "boulogne"), said
    assert (f"« {label} » n'a plus de jeton valable" in said) if label else "n'a plus" not in said


@pytest.mark.parametrize("label", [
    "cc7vallees", "CC7Vallees", "CA2BM-montreuil", "montreuil_CA2BM", "Lyon3e", "Paris15e", "ACV2arras", "2026v2",
    "arras 01janv2027", "arras 31/12/2026", "arras 2026/2027", "arras+lens", "BruayLaBuissiere", "VilleneuveDAscq",
    "LeTouquetPP", "ACVphase2", "DDFiP62", "EPFNPdC-arras", "CA2BM2027", "arras2027v2",
])
def test_a_label_written_as_a_prefecture_writes_one_is_not_a_token_s_piece(tmp_path, label):
    """A label's word of 6 characters or more that mixed letters and digits twice (« cc7vallees », « CA2BM »
    in a word, « Lyon3e »), joined words with capitals around a short one (« BruayLaBuissiere »), held an
    acronym such as « DDFiP », or a date (« 31/12/2026 »), was taken for a piece of a token broken by a space:
    the line, right, was refused, and its commune locked out (401) with « jeton coupé par une espace »."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"{label} {OTHER}\n")
    tokens = Tokens(path=path)
    assert tokens.ignored == [] and tokens.check(f"Bearer {OTHER}") == label


def test_a_label_refused_as_a_token_s_piece_is_told_how_to_be_written(tmp_path):
    """A label's word taken for a token's piece (« arras2027v2b », letters and digits meeting four times) was
    refused with « jeton coupé par une espace » and nothing else: the word not quoted (it may be a secret's),
    the administrator, whose token was whole, could not tell what to change. The message says how a label's
    word is written, and so written the line is taken."""
    path = tmp_path / "jetons.txt"
    path.write_text(f"calais {GOOD}\narras2027v2b {OTHER}\n")
    tokens = Tokens(path=path)
    assert tokens.check(f"Bearer {OTHER}") is None and len(tokens.ignored) == 1
    assert ("; un jeton ne contient pas d'espace, et un mot du libellé s'écrit en minuscules, ses lettres et ses "
            "chiffres séparés par « - » : ligne ignorée") in tokens.ignored[0], tokens.ignored
    path.write_text(f"calais {GOOD}\narras-2027-v2-b {OTHER}\n")
    assert Tokens(path=path).check(f"Bearer {OTHER}") == "arras-2027-v2-b"


async def _public_read(guard, path: str) -> list[dict]:
    """The messages `guard` sends for a GET of `path` from one network address (the public reads' quarter)."""
    scope = dict(_scope("GET", host="acv.exemple.gouv.fr"), path=path, client=("203.0.113.1", 50000))
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await guard(scope, receive, send)
    return sent


def test_a_place_freed_goes_to_the_read_waiting_longest_not_to_one_arriving_at_that_instant():
    """Past its address's quarter, a read waited for one of its address's reads to end; but the reads waiting
    were only woken, and a read arriving at that instant took the place first: the one waiting since longest
    waited again, and past `--delai-reception` it was told « Serveur occupé » while newer ones were served.
    The place is now handed to the read waiting longest, and a new one queues behind it. (No clock: the
    order of the event loop alone decides.)"""
    import asyncio

    config = ServerConfig(tokens=Tokens(GOOD), public_url="https://acv.exemple.gouv.fr")  # (its name: Host)
    share = config.max_public_per_address
    entered: list[str] = []
    release: dict[str, asyncio.Event] = {}

    async def app(scope, receive, send):
        entered.append(scope["path"])
        await release.setdefault(scope["path"], asyncio.Event()).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"<html>"})

    guard = Guard(app, config)

    async def read(path: str) -> int:
        return (await _public_read(guard, path))[0]["status"]

    async def main():
        held = [asyncio.ensure_future(read(f"/held{i}")) for i in range(share)]
        await asyncio.sleep(0)
        first = asyncio.ensure_future(read("/waiting-first"))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(read("/waiting-second"))
        await asyncio.sleep(0)
        assert len(entered) == share
        release["/held0"].set()  # a place frees, and at that instant a new read arrives
        newcomer = asyncio.ensure_future(read("/newcomer"))
        for _ in range(10):
            await asyncio.sleep(0)
        assert entered[share:] == ["/waiting-first"], entered
        release["/held1"].set()
        for _ in range(10):
            await asyncio.sleep(0)
        assert entered[share:] == ["/waiting-first", "/waiting-second"], entered
        for path in ["/waiting-first", "/waiting-second", "/newcomer"] + [f"/held{i}" for i in range(share)]:
            release.setdefault(path, asyncio.Event()).set()
        return await asyncio.gather(first, second, newcomer, *held)

    statuses = asyncio.run(asyncio.wait_for(main(), 60))
    assert statuses == [200] * (share + 3)
    assert entered[share:] == ["/waiting-first", "/waiting-second", "/newcomer"]
    assert guard.active == 0 and guard.public == 0 and not guard.public_of and not guard.waiting_of

    # a read handed a place but stopped as it got it (the server stopping): the place goes on to the next read waiting, not freed for a newcomer while that one waits
    entered.clear()
    release.clear()

    async def stopped_when_handed(waited, timeout=None, return_when=None):
        await next(f for f in waited if not isinstance(f, asyncio.Task))  # its place, not its client's leaving
        raise asyncio.CancelledError

    async def stopped():
        held = [asyncio.ensure_future(read(f"/held{i}")) for i in range(share)]
        await asyncio.sleep(0)
        waiting = [asyncio.ensure_future(read(f"/waiting{i}")) for i in range(2)]
        await asyncio.sleep(0)
        assert len(guard.waiting_of["203.0.113.1"]) == 2
        release["/held0"].set()
        for _ in range(10):
            await asyncio.sleep(0)
        assert all(w.cancelled() for w in waiting) and not guard.waiting_of
        assert guard.public_of["203.0.113.1"] == share - 1  # the place of /held0, passed on twice, then freed
        for i in range(share):
            release.setdefault(f"/held{i}", asyncio.Event()).set()
        await asyncio.gather(*held)

    real_wait = asyncio.wait
    asyncio.wait = stopped_when_handed  # (nothing else of this run awaits it: no clock either way)
    try:
        asyncio.run(stopped())
    finally:
        asyncio.wait = real_wait
    assert guard.active == 0 and guard.public == 0 and not guard.public_of and not guard.waiting_of


@pytest.mark.parametrize("pieces", [0, 2])
def test_a_read_whose_client_left_while_waiting_gives_up_its_turn(caplog, pieces):
    """A read waiting past its address's quarter whose client left (an agent closing Excel as the task pane
    loaded) kept its turn until `--delai-reception` ended: one of the quarter's turns of its address held for
    nobody, and the place handed to it as a read ended, sent to a closed connection. It now leaves the queue as
    its client leaves (« client_parti » in the journal), and the next read waiting gets the place — a read sent
    with a body in `pieces` pieces (none of them the last) too, whose first piece was the last message watched."""
    import asyncio
    import logging

    config = ServerConfig(tokens=Tokens(GOOD), public_url="https://acv.exemple.gouv.fr")  # (its name: Host)
    share = config.max_public_per_address
    entered: list[str] = []
    release: dict[str, asyncio.Event] = {}
    sent_to: dict[str, list] = {}

    async def app(scope, receive, send):
        entered.append(scope["path"])
        assert (await receive())["type"] == "http.request"  # (the request's own message, even after a wait)
        await release.setdefault(scope["path"], asyncio.Event()).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"<html>"})

    guard = Guard(app, config)

    async def read(path: str, leaves: asyncio.Event | None = None) -> None:
        scope = dict(_scope("GET", host="acv.exemple.gouv.fr"), path=path, client=("203.0.113.1", 50000))
        messages = iter([{"type": "http.request", "body": b"{", "more_body": True}] * pieces if leaves and pieces
                        else [{"type": "http.request", "body": b"", "more_body": False}])

        async def receive():  # as uvicorn's: the request, then nothing until its client leaves
            message = next(messages, None)
            if message is not None:
                return message
            await (leaves or asyncio.Event()).wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent_to.setdefault(path, []).append(message)

        await guard(scope, receive, send)

    async def main():
        held = [asyncio.ensure_future(read(f"/held{i}")) for i in range(share)]
        await asyncio.sleep(0)
        gone = asyncio.Event()
        leaving = asyncio.ensure_future(read("/leaving", gone))
        await asyncio.sleep(0)
        staying = asyncio.ensure_future(read("/staying"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(guard.waiting_of["203.0.113.1"]) == 2
        gone.set()  # its client leaves
        for _ in range(10):
            await asyncio.sleep(0)
        assert leaving.done() and len(guard.waiting_of["203.0.113.1"]) == 1
        release["/held0"].set()
        for _ in range(10):
            await asyncio.sleep(0)
        assert entered[share:] == ["/staying"], entered
        for path in ["/staying"] + [f"/held{i}" for i in range(share)]:
            release.setdefault(path, asyncio.Event()).set()
        await asyncio.gather(staying, *held)

    with caplog.at_level(logging.INFO, logger="acv_xl.serveur"):
        asyncio.run(asyncio.wait_for(main(), 60))
    assert "/leaving" not in sent_to  # nothing to send to a client gone
    [line] = [r.getMessage() for r in caplog.records if " /leaving " in r.getMessage()]
    assert " issue=client_parti statut=- " in line
    assert guard.active == 0 and guard.public == 0 and not guard.public_of and not guard.waiting_of


def test_a_read_past_its_address_s_quarter_waits_for_a_place_then_is_told_busy():
    """Agents behind one address (a mairie), their task panes loading office.js over a slow line, held 16
    reads at once, and the 17th was told « Serveur occupé » at once: a script refused, an add-in that did
    not load. Past its address's quarter, a read now waits for one of its address's reads to end — within
    `--delai-reception` (tiny here), after which it is told « Serveur occupé » as before."""
    import asyncio

    from udfs.server_guard import BUSY

    config = ServerConfig(tokens=Tokens(GOOD), public_url="https://acv.exemple.gouv.fr")  # (its name: Host)
    config.receive_timeout = 0.01
    share = config.max_public_per_address
    answered: list[tuple[str, int, bytes]] = []
    stalled = asyncio.Event()

    async def app(scope, receive, send):
        if scope["path"] == "/stalled":
            await stalled.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"<html>"})

    guard = Guard(app, config)

    async def read(path: str):
        sent = await _public_read(guard, path)
        answered.append((path, sent[0]["status"], sent[1]["body"]))

    async def main():
        held = [asyncio.ensure_future(read("/stalled")) for _ in range(share)]
        await asyncio.sleep(0)
        waiting = [asyncio.ensure_future(read("/taskpane")) for _ in range(share)]
        await asyncio.sleep(0)
        assert not any(w.done() for w in waiting)  # waiting for a place, not refused at once
        # as many wait as hold, no more: a waiting read's connection is never closed to make room
        await read("/taskpane-en-trop")
        await asyncio.gather(*waiting)  # the delay passes: refused, in French
        stalled.set()
        await asyncio.gather(*held)
        # a place freed while one waits: it is served
        stalled.clear()
        held = [asyncio.ensure_future(read("/stalled")) for _ in range(share)]
        await asyncio.sleep(0)
        config.receive_timeout = 30
        waiting = asyncio.ensure_future(read("/taskpane"))
        await asyncio.sleep(0)
        stalled.set()
        await asyncio.gather(waiting, *held)

    asyncio.run(main())
    refused = answered[:share + 1]
    assert refused[0][:2] == ("/taskpane-en-trop", 503)
    assert [a[:2] for a in refused[1:]] == [("/taskpane", 503)] * share
    assert all(body.decode().strip() == BUSY for _, _, body in refused)
    assert [a[:2] for a in answered[share + 1:]].count(("/taskpane", 200)) == 1
    assert all(status == 200 for _, status, _ in answered[share + 1:])
    assert guard.active == 0 and guard.public == 0 and not guard.public_of
    assert not guard.waiting_of
