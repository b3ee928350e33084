"""The headers of every answer of `acv-xl serveur` (udfs/server_guard.py `secured`) and the reason of every
refusal in its journal.

The application runs in a subprocess under FastAPI's TestClient: the server mode needs XLWINGS_ON_SERVER
before xlwings is first imported, which another test of this run may have done."""

from __future__ import annotations

from _server_program import run_program

TOKEN = "jeton-de-test-" + "x" * 24

_APP = r"""
import json, os, sys
os.environ["XLWINGS_ON_SERVER"] = "true"
from udfs.server import configure_environment
configure_environment()
from fastapi.testclient import TestClient
from udfs import server_app

plain = TestClient(server_app.app, follow_redirects=False)
tls = TestClient(server_app.app, base_url="https://testserver", follow_redirects=False)
auth = {"Authorization": "Bearer " + os.environ["ACV_XL_JETON"]}
call = {"func_name": "ACV_TOTAL_FINANCEUR", "args": [[["Financeur", "Montant"], ["État", 10]], "État"],
        "caller_address": "Synthèse!B2", "client": "Office.js", "version": "0.0.0", "runtime": "1.4"}
F = "/xlwings/custom-functions-call"
requests = {
    "call": lambda c: c.post(F, json=call, headers=auth),
    "call_refused": lambda c: c.post(F, json=dict(call, runtime=[1]), headers=auth),
    "no_token": lambda c: c.post(F, json=call),
    "icon": lambda c: c.get("/static/images/icons/xlwings-16.png"),
    "taskpane": lambda c: c.get("/taskpane.html"),
    "unknown": lambda c: c.get("/inconnue"),
}
out = {}
for scheme, client in (("http", plain), ("https", tls)):
    for name, request in requests.items():
        r = request(client)
        out[f"{scheme} {name}"] = [r.status_code, {k: v for k, v in r.headers.items()}]
print(json.dumps(out))
"""


def _run(program: str, **env: str) -> tuple[dict, str]:
    return run_program(program, **{"ACV_XL_JETON": TOKEN, **env})


def test_every_answer_says_nosniff_and_no_referrer_and_a_call_s_answer_is_never_stored():
    """The answers the server writes itself — a function's or a button's JSON, every French refusal — had
    none of the headers xlwings Server puts on its own pages: a token-bearing call's answer (a plan's totals)
    could be kept by a cache of the agent's machine or a proxy, and a text could be sniffed as another type.
    Every answer now says `nosniff` and `no-referrer`, a call's answer and every refusal `no-store`, and HSTS
    when the server speaks HTTPS itself; a public file keeps xlwings Server's choice (no `cache-control` on the
    ribbon's icons, which Excel on Windows would not show)."""
    out, _ = _run(_APP)
    for scheme in ("http", "https"):
        for name in ("call", "call_refused", "no_token", "icon", "taskpane", "unknown"):
            status, headers = out[f"{scheme} {name}"]
            assert headers.get("x-content-type-options") == "nosniff", (scheme, name, headers)
            assert headers.get("referrer-policy") == "no-referrer", (scheme, name, headers)
            if name != "icon":
                assert headers.get("cache-control") == "no-store, max-age=0", (scheme, name, headers)
            if scheme == "https":
                assert headers.get("strict-transport-security") == "max-age=31536000; includeSubDomains", (name, headers)
    assert [out[f"http {n}"][0] for n in ("call", "call_refused", "no_token", "icon", "unknown")] == \
        [200, 400, 401, 200, 404]
    assert "cache-control" not in out["http icon"][1]
    # HSTS over plain HTTP means nothing to a browser; ours is never added there
    assert "strict-transport-security" not in out["http call"][1]


_REFUSALS = r"""
import json, os, sys
os.environ["XLWINGS_ON_SERVER"] = "true"
from udfs.server import configure_environment
configure_environment()
from fastapi.testclient import TestClient
from udfs import server_app

c = TestClient(server_app.app, follow_redirects=False)
auth = {"Authorization": "Bearer " + os.environ["ACV_XL_JETON"]}
call = {"func_name": "ACV_TOTAL_FINANCEUR", "args": [[["Financeur", "Montant"], ["État", 10]], "État"],
        "caller_address": "Synthèse!B2", "client": "Office.js", "version": "0.0.0", "runtime": "1.4"}
F, S = "/xlwings/custom-functions-call", "/xlwings/custom-scripts-call/valider"
raw = {**auth, "content-type": "application/json"}
sent = {
    "runtime": c.post(F, json=dict(call, runtime=[1]), headers=auth),
    "appel_incomplet": c.post(F, json={k: v for k, v in call.items() if k != "client"}, headers=auth),
    "arguments": c.post(F, json=dict(call, args=3), headers=auth),
    "json_invalide": c.post(F, content=b"{", headers=raw),
    "json_trop_imbrique": c.post(F, content=b"[" * 100000, headers=raw),
    "nombre_hors_limites": c.post(F, content=b'{"func_name": "ACV_TOTAL_FINANCEUR", "args": [1e400]}', headers=raw),
    "fonction_inconnue": c.post(F, json=dict(call, func_name="os.system"), headers=auth),
    "script_inconnu": c.post("/xlwings/custom-scripts-call/inconnu", json={}, headers=auth),
    "classeur_mal_forme": c.post(S, json={"args": []}, headers=auth),
    "jeton_refuse": c.post(F, json=call),
    "type_refuse": c.post(F, content=b"x", headers={**auth, "content-type": "text/plain"}),
    "trop_volumineux": c.post(F, content=b"x", headers={**raw, "content-length": str(10 ** 12)}),
    "methode_refusee": c.request("TRACE", "/"),
    "adresse_inconnue": c.get("/inconnue"),
    "requete_incomplete": c.get("/xlwings/alert"),
}
print(json.dumps({k: r.status_code for k, r in sent.items()}))
"""


def test_the_journal_says_why_every_refused_request_was_refused():
    """A function's call with a `runtime` no add-in sends, or missing a key the add-in always sends (« appel
    incomplet »), an unreadable JSON, an unknown function were journaled « issue=refus », and a missing token
    (401), a refused type (415), a body too large (413), a method or an address unknown (405, 404) with no
    `issue=` at all: a burst of refusals in the journal said nothing of their cause. Each says it now."""
    out, log = _run(_REFUSALS)
    assert all(400 <= status < 500 for status in out.values()), out
    lines = [line for line in log.splitlines() if " statut=" in line]
    assert len(lines) == len(out), lines
    for (issue, status), line in zip(out.items(), lines):
        assert f" issue={issue} statut={status} " in line, (issue, line)


_FAILING_PAGE = r"""
import json, os, sys
os.environ["XLWINGS_ON_SERVER"] = "true"
from udfs.server import configure_environment
configure_environment()
from fastapi.testclient import TestClient
from udfs import server_app
import xlwings.server

def failing(*args, **kwargs):
    raise RuntimeError("panne")

xlwings.server.custom_functions_meta = failing  # what the functions' metadata page calls
# (an exception raised to the test client is one raised to uvicorn, which prints its traceback)
r = TestClient(server_app.app).get("/xlwings/custom-functions-meta")
print(json.dumps([r.status_code, r.text]))
"""


def test_an_error_of_xlwings_server_on_a_page_of_the_add_in_is_said_in_french_and_named_in_the_journal():
    """An exception in a page or a file of the add-in (its functions' metadata, the manifest) was answered by
    xlwings Server's own handler, « An error occurred. » in English, and journaled « statut=500 » with no
    reason; and the exception, raised again after the answer, reached uvicorn, which printed its traceback in the
    journal. It is now the server's own French text, « issue=erreur_interne », and the exception's type only."""
    out, log = _run(_FAILING_PAGE)
    assert out == [500, "Erreur interne du serveur ACV : prévenez la préfecture.\n"]
    assert " GET /xlwings/custom-functions-meta issue=erreur_interne statut=500 " in log, log
    assert "erreur interne (RuntimeError) sur /xlwings/custom-functions-meta" in log and "Traceback" not in log, log
    # nor its text, which xlwings Server's handler logged itself (« ERROR:xlwings_server.main:panne »)
    assert "panne" not in log, log


_CUT_FILE = r"""
import json, os, socket, threading, time
from contextlib import asynccontextmanager
os.environ["XLWINGS_ON_SERVER"] = "true"
from udfs.server import configure_environment
configure_environment()
import httpx, uvicorn
from starlette.responses import FileResponse
from udfs import server_app

@asynccontextmanager
async def removed(self):  # the file gone between its size, sent, and its reading (a `pip install` replacing it)
    raise FileNotFoundError(2, "No such file or directory")
    yield

FileResponse._open_file = removed
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = uvicorn.Server(uvicorn.Config(server_app.app, host="127.0.0.1", port=port, log_level="warning",
                                       access_log=False, http="udfs.server_http:DeadlineProtocol"))
thread = threading.Thread(target=server.run)
thread.start()
while not server.started:
    time.sleep(0.05)
try:
    httpx.get(f"http://127.0.0.1:{port}/static/js/auth.js", timeout=60)
    out = "entière"
except httpx.RemoteProtocolError:
    out = "interrompue"
server.should_exit = True
thread.join()
print(json.dumps(out))
"""


def test_an_answer_cut_by_an_error_is_said_once_in_french_in_the_journal():
    """An error once a file of the add-in had begun to be sent (the file removed between its size and its
    reading, as a `pip install` replacing the package does): the guard's French line, then uvicorn's English
    « ERROR: ASGI callable returned without completing response. ». One line now, saying the answer was cut."""
    out, log = _run(_CUT_FILE)
    assert out == "interrompue"
    assert "sur /static/js/auth.js : réponse interrompue, connexion fermée" in log, log
    assert " GET /static/js/auth.js issue=erreur_interne statut=200 " in log, log
    assert "ASGI callable" not in log and "Traceback" not in log, log
