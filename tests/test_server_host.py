"""The `Host` a request names (udfs/server_guard.py): with --url-publique, the add-in's addresses are the
public ones, whatever name the request carried, and a request naming another server is refused.

The application runs in a subprocess under FastAPI's TestClient: the server mode needs XLWINGS_ON_SERVER
before xlwings is first imported, which another test of this run may have done. The TestClient's `client`
is set to a network address, as uvicorn gives it, for the requests that come from the network."""

from __future__ import annotations

from _server_program import run_program

TOKEN = "jeton-de-test-" + "x" * 24
PUBLIC = "https://acv.departement.gouv.fr:8443"

_APP = r"""
import json, os, re, sys
os.environ["XLWINGS_ON_SERVER"] = "true"
from udfs.server import configure_environment
configure_environment()
from fastapi.testclient import TestClient
from udfs import server_app

# as uvicorn gives it: the peer of a network connection (nginx's, on the loopback, or a client's)
remote = TestClient(server_app.app, client=("203.0.113.7", 40000), follow_redirects=False)
relayed = TestClient(server_app.app, client=("127.0.0.1", 40000), follow_redirects=False)
local = TestClient(server_app.app, follow_redirects=False)  # in process: TestClient's own « testserver »
auth = {"Authorization": "Bearer " + os.environ["ACV_XL_JETON"]}

OTHERS = re.compile(r"https?://([\w.-]+\.)?(microsoft\.com|w3\.org|office\.com|xlwings\.org|jsdelivr\.net)[/:]?")

def urls(text):  # the absolute addresses of a page, the schemas', Microsoft's and xlwings' aside
    return sorted({u for u in re.findall(r"https?://[^\s\"'<>]+", text) if not OTHERS.match(u)})

def seen(r):
    return [r.status_code, r.text if r.status_code >= 400 else "", r.headers.get("location", ""),
            urls(r.text) if r.status_code == 200 else []]

out = {}
for name, client, host in (("evil", remote, "evil.example"), ("evil_relayed", relayed, "evil.example"),
                           ("evil_port", relayed, "evil.example:8443"), ("public", relayed, "acv.departement.gouv.fr"),
                           ("public_port", remote, "ACV.departement.gouv.fr.:8443"), ("loopback", relayed, "127.0.0.1:8000"),
                           ("loopback6", relayed, "[::1]:8000"), ("localhost", relayed, "localhost")):
    out[name] = {path: seen(client.get(path, headers={"Host": host}))
                 for path in ("/manifest", "/manifest/download", "/manifest/", "/static", "/taskpane.html")}
out["absolute"] = seen(remote.get("http://evil.example/manifest"))
out["testclient"] = seen(local.get("/manifest"))
r = relayed.post("/xlwings/custom-functions-call", json={}, headers={"Host": "evil.example", **auth})
out["call"] = [r.status_code, r.text]
print(json.dumps(out))
"""


def _public(urls: list[str]) -> bool:
    return bool(urls) and all(u == PUBLIC or u.startswith(PUBLIC + "/") for u in urls)


def _run_app(**env: str) -> tuple[dict, str]:
    return run_program(_APP, **{"ACV_XL_JETON": TOKEN, **env})


def test_with_a_public_address_no_request_makes_the_add_in_point_elsewhere():
    """« Host: evil.example » (relayed by nginx, which passes any name) got 200, and with --url-publique the
    redirects (`/manifest/` → 307, `/static` → 307) were built from that name, and so was the manifest
    through the front end without it:
    a cache in front, or an agent following a crafted link, pointed Excel at another server. Such a request
    is now refused (400, in French), and the public name, with or without its port, or the loopback
    (supervision on the machine), gets the public address everywhere."""
    # what `acv-xl serveur --url-publique` sets for its processes
    out, log = _run_app(ACV_XL_URL_PUBLIQUE=PUBLIC, XLWINGS_HOSTNAME="acv.departement.gouv.fr:8443")
    refusal = f"Adresse de serveur refusée : ce serveur ne répond qu'à l'adresse {PUBLIC} (en-tête Host).\n"
    for name in ("evil", "evil_relayed", "evil_port"):
        assert all(got == [400, refusal, "", []] for got in out[name].values()), (name, out[name])
    assert out["absolute"] == [400, refusal, "", []]
    assert out["call"] == [400, refusal]
    assert "issue=hote_refuse hote=evil.example statut=400" in log
    for name in ("public", "public_port", "loopback", "loopback6", "localhost"):
        got = out[name]
        for path in ("/manifest", "/manifest/download"):
            assert got[path][0] == 200 and _public(got[path][3]), (name, path, got[path])
        assert got["/taskpane.html"] == [200, "", "", []], name  # its own addresses relative
        assert got["/manifest/"][:3] == [307, "", f"{PUBLIC}/manifest"], (name, got["/manifest/"])
        assert got["/static"][:3] == [307, "", f"{PUBLIC}/static/"], (name, got["/static"])
    # in process (tests): TestClient's own name, no network peer, served the public manifest
    assert out["testclient"][0] == 200 and _public(out["testclient"][3])


def test_without_a_public_address_only_the_machine_s_own_names_are_answered():
    """Without --url-publique (one PC, or a front end the server was not told of), the manifest and the
    redirects were built from the request's name: relayed by nginx, « Host: evil.example » got a manifest
    naming https://evil.example. A request from the network naming another server than the loopback is
    now refused; the loopback's names, and TestClient's in-process calls, are served as before."""
    out, log = _run_app()
    refusal = ("Adresse de serveur refusée : sans adresse publique (--url-publique), ce serveur ne répond qu'à "
               "l'adresse de la machine elle-même (localhost, 127.0.0.1). Derrière un frontal, démarrez-le avec "
               "--url-publique (voir docs/serveur.md).\n")
    for name in ("evil", "evil_relayed", "evil_port", "public", "public_port"):
        assert all(got == [400, refusal, "", []] for got in out[name].values()), (name, out[name])
    assert out["absolute"] == [400, refusal, "", []] and out["call"] == [400, refusal]
    assert "issue=hote_refuse hote=evil.example statut=400" in log
    for name, base in (("loopback", "http://127.0.0.1:8000"), ("loopback6", "http://[::1]:8000"),
                       ("localhost", "http://localhost")):
        got = out[name]
        assert got["/manifest"][0] == 200 and got["/manifest"][3], (name, got["/manifest"])
        assert all(u.startswith(base) for u in got["/manifest"][3]), (name, got["/manifest"][3])
        assert got["/manifest/"][:3] == [307, "", f"{base}/manifest"], (name, got["/manifest/"])
    assert out["testclient"][0] == 200
