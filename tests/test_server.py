"""xlwings Server for real: `acv-xl serveur` in a subprocess on a free loopback port, spoken to
over HTTP like the Office.js add-in does (the server mode needs XLWINGS_ON_SERVER before xlwings
is imported, which a separate process guarantees inside one pytest run)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

import xlwings_payload  # noqa: F401 — first: sets XLWINGS_LICENSE_KEY before xlwings is imported
from acv_xl.contract import layout
from acv_xl.checks.validate import validate_file
from udfs import functions, scripts
from xlwings_payload import payload_from_xlsx, remote_book, table_values

ROOT = Path(__file__).resolve().parents[1]
EXEMPLES = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx"))
MANIFEST_ID_PROD = "832a7757-2921-4f79-acef-31a695c70672"  # udfs/server_project/pyproject.toml


TOKEN = "jeton-de-test-" + "x" * 24  # long enough (server_config.MIN_TOKEN)
ALERT_KEY = "cle-des-alertes-" + "y" * 32  # the key sealing the add-in's messages (server_alert)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLWINGS_", "ACV_XL_"))}
    env["XLWINGS_LICENSE_KEY"] = "noncommercial"
    env.update(extra)
    return env


@contextmanager
def running_server(log: Path, *options: str, env: dict[str, str] | None = None, https: bool = False,
                   files: int | None = None):
    """`acv-xl serveur` in a subprocess on a free loopback port; yields (client, log, port).
    `files`: the process's limit on open files (systemd gives a service 1,024)."""
    port = _free_port()
    out = open(log, "w")  # a file, not a pipe: nobody reads a pipe while the server logs

    def limit_files() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (files, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    proc = subprocess.Popen([sys.executable, "-m", "acv_xl", "serveur", "--port", str(port), *options],
                            cwd=ROOT, env=env or _env(), stdout=out, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=limit_files if files else None)
    base = f"{'https' if https else 'http'}://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=60, verify=False)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"le serveur s'est arrêté : {log.read_text()}")
            try:
                if client.get("/manifest").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("le serveur n'a pas répondu en 120 s")
            time.sleep(0.3)
        yield client, log, port
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The server as a préfecture runs it: with an access token, an 8 MB body limit."""
    log = tmp_path_factory.mktemp("serveur") / "serveur.log"
    with running_server(log, "--max-corps", "8", "--max-cellules", "400000",
                        env=_env(ACV_XL_JETON=TOKEN, ACV_XL_CLE_ALERTES=ALERT_KEY)) as (client, log, port):
        client.headers.update(AUTH)
        yield client, log


def test_startup_message_names_the_manifest_url(server):
    _, log = server
    out = log.read_text()
    assert "Manifeste du complément à charger dans Excel : http://127.0.0.1:" in out
    assert "/manifest" in out and "HTTPS" in out  # the mkcert hint, as the test runs without certificates
    assert "Accès : jeton exigé" in out and "Limites : 8 Mo par requête, 400 000 cellules, 60 s" in out


def test_the_supervision_answer_is_the_one_the_docs_give(server):
    """docs/serveur.md gave `{"status": "ok"}`, the server answers `{"status":"ok"}`: a probe written
    from the docs (grep, the monitoring's expected text) never matched."""
    client, _ = server
    client.headers.pop("Authorization", None)  # without the token, as the docs say
    try:
        r = client.get("/")
    finally:
        client.headers.update(AUTH)
    assert r.status_code == 200
    assert "server" not in r.headers  # (« uvicorn » named the software to whoever asked)
    doc = (ROOT / "docs" / "serveur.md").read_text(encoding="utf-8")
    assert f"`GET https://acv.departement.gouv.fr/` répond `{r.text}` (sans jeton)" in doc


def test_manifest_is_valid_xml_for_our_add_in(server):
    client, _ = server
    r = client.get("/manifest")
    root = ET.fromstring(r.text.encode())
    ns = {"o": "http://schemas.microsoft.com/office/appforoffice/1.1",
          "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0"}
    assert root.find("o:Id", ns).text == MANIFEST_ID_PROD
    assert root.find("o:DefaultLocale", ns).text == "fr-FR"
    assert "Cœur de Ville" in root.find("o:DisplayName", ns).get("DefaultValue")
    description = root.find("o:Description", ns).get("DefaultValue")
    for name in functions.__all__ + [b.caption for b in layout.BUTTONS]:
        assert name in description
    strings = {e.get("id"): e.get("DefaultValue") for e in root.iter(f"{{{ns['bt']}}}String")}
    assert strings["Functions.Namespace"] == "ACV"
    assert "hello-ribbon" not in r.text  # the sample button bound to a script we do not ship


def test_meta_endpoints_name_our_functions_and_buttons(server):
    client, _ = server
    meta = client.get("/xlwings/custom-functions-meta").json()
    assert {f["name"] for f in meta["functions"]} == set(functions.__all__)
    synthese = next(f for f in meta["functions"] if f["name"] == "ACV_SYNTHESE")
    assert [p.get("optional", False) for p in synthese["parameters"]] == [False, True, True]
    found = {s["function_name"]: s for s in client.get("/xlwings/custom-scripts-meta").json()}
    assert set(found) == {"valider", "generer_annexe"}
    for name, s in found.items():
        assert s["button"] == layout.BUTTONS_BY_SCRIPT[name].binding
        assert s["show_taskpane"] is False
        assert s["exclude"].split(",") == scripts.EXCLUDE and not s["include"]


def _faulty_example() -> Path:
    from acv_xl.outputs.examples import FAUTES_ATTENDUES

    return ROOT / "workbooks" / "exemples" / sorted(FAUTES_ATTENDUES)[0]


def _unsealed(actions: list[dict]) -> list[dict]:
    """`actions` as the script wrote them, before the server sealed the messages of its protection check for the
    add-in's box (`server_alert.seal_actions`: a seal of the time, under the server's key); each one sealed."""
    from udfs.server_alert import PROTECTION_CHECK

    out = json.loads(json.dumps(actions))
    for a in out:
        if a["func"] == "runMacro" and a["args"][0] == PROTECTION_CHECK:
            for entry in a["args"][1]:
                entry[1], n = re.subn(r"\n\[acv-xl:\d+\.[A-Za-z0-9_-]{43}\]$", "", entry[1])
                assert n == 1, entry
    return out


def test_valider_over_http_answers_the_same_actions_as_in_process(server):
    client, _ = server
    path = _faulty_example()
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    r = client.post("/xlwings/custom-scripts-call/valider", json=payload)
    assert r.status_code == 200, r.text
    over_http = r.json()["actions"]
    book = remote_book(payload_from_xlsx(path, include=scripts.INCLUDE))
    scripts.run_valider(book, today=date.today())
    assert _unsealed(over_http) == book.json()["actions"]
    cli = validate_file(path)
    from acv_xl.checks.findings import Gravite

    fills = {(a["sheet_position"], a["start_row"], a["start_column"]) for a in over_http
             if a["func"] == "setRangeColor" and a["args"][0] == scripts.FILLS[Gravite.ERREUR]}
    names = [s["name"] for s in payload["sheets"]]
    from acv_xl.reading.source import parse_range

    for f in cli.findings:
        if f.gravite is Gravite.ERREUR and f.cellule:
            r1, c1, _, _ = parse_range(f.cellule)
            assert (names.index(f.feuille), r1 - 1, c1 - 1) in fills


def _call(client, name: str, *args):
    body = {"func_name": name, "args": list(args), "version": "0.0.0", "client": "Office.js",
            "runtime": "1.4", "caller_address": "Synthèse!B2"}
    r = client.post("/xlwings/custom-functions-call", json=body)
    assert r.status_code == 200, r.text
    return r.json()["result"]


def test_functions_over_http_equal_the_cli_totals(server):
    client, _ = server
    assert EXEMPLES, "workbooks/exemples/ doit contenir les classeurs d'exemple"
    from acv_xl.outputs.report import to_json

    path = EXEMPLES[0]
    cli = to_json(validate_file(path))["totaux"]
    plan = table_values(path, layout.T_FINANCEMENTS.name)
    for code, amount in cli["par_financeur"].items():
        assert _call(client, "ACV_TOTAL_FINANCEUR", plan, [[code]]) == [[pytest.approx(amount, abs=0.001)]]
    spilled = _call(client, "ACV_SYNTHESE", plan, [["statut"]])
    assert spilled[0] == [layout.T_FINANCEMENTS.header("statut"), layout.T_FINANCEMENTS.header("montant")]
    assert {k: v for k, v in spilled[1:]} == pytest.approx(cli["par_statut"])
    bad = _call(client, "ACV_TOTAL_FINANCEUR", [row[:2] for row in plan], [["ETAT"]])
    assert bad[0][0].startswith(f"#ACV: colonne « {layout.T_FINANCEMENTS.header('montant')} » introuvable")


def test_generer_annexe_over_http_adds_the_annex_sheet(server):
    from acv_xl.outputs.examples import FAUTES_ATTENDUES

    client, _ = server
    path = next(p for p in EXEMPLES if p.name not in FAUTES_ATTENDUES)
    r = client.post("/xlwings/custom-scripts-call/generer_annexe",
                    json=payload_from_xlsx(path, include=scripts.INCLUDE))
    assert r.status_code == 200, r.text
    actions = r.json()["actions"]
    assert [a["args"][1] for a in actions if a["func"] == "addSheet"] == [scripts.ANNEXE_WEB]
    assert not [a for a in actions if a["func"] == "alert"]


def test_task_pane_is_french_and_makes_acv_workbooks_load_the_add_in(server):
    client, _ = server
    pane = client.get("/taskpane.html")
    assert pane.status_code == 200
    assert 'xw-click="valider"' in pane.text and 'xw-click="generer_annexe"' in pane.text
    assert "Générer l'annexe" in pane.text and "acv-demarrage.js" in pane.text
    # xlwings' page was titled « Task pane »; the rest of its head kept (its scripts, ours after them)
    assert re.findall(r"<title>(.*?)</title>", pane.text) == ["Action Cœur de Ville"]
    assert pane.text.index("/static/js/config.js") < pane.text.index("acv-demarrage.js")
    js = client.get("/static/js/acv-demarrage.js")
    assert js.status_code == 200
    named = [n for n in layout.NAMED_BY_NAME if f'"{n}"' in js.text]
    assert named == ["acv_version_modele"] and "StartupBehavior.load" in js.text
    # the callback « Valider » has Excel run first (the protection of the sheets it writes into), served and loaded
    from udfs.server_alert import PROTECTION_CHECK

    assert "acv-protection.js" in pane.text
    js = client.get("/static/js/acv-protection.js")
    assert js.status_code == 200 and f"async function {PROTECTION_CHECK}(" in js.text


def test_the_message_box_is_french_even_for_the_add_ins_own_failures(server, monkeypatch):
    """xlwings' box (a button's call that failed: 401, 413, no answer…) said « Error » above the
    text, « Cancel », and xlwings' or nginx's English as the message."""
    from udfs.server_alert import ENV_KEY, seal

    client, _ = server
    monkeypatch.setenv(ENV_KEY, ALERT_KEY)  # the server's own messages are sealed (test_server_alert)

    def box(prompt: str, title: str, buttons: str = "ok") -> tuple[str, str, str]:
        if prompt != "No response received from server" and not prompt.startswith("<"):
            prompt = seal(prompt, title, buttons, "critical", "")
        page = client.get("/xlwings/alert", params={"prompt": prompt, "title": title, "buttons": buttons,
                                                    "mode": "critical", "callback": ""})
        assert page.status_code == 200
        h1 = re.search(r"<h1[^>]*>(.*?)</h1>", page.text, re.S).group(1).strip()
        p = re.search(r"<p>(.*?)</p>", page.text, re.S).group(1).strip()
        return h1, p, page.text

    ours = "Jeton d'accès absent ou invalide : saisissez le jeton."
    assert box(ours, "Error")[:2] == ("Erreur", ours.replace("'", "&#39;"))
    assert box("Validation terminée.", scripts.TITRE_ALERTE)[:2] == (scripts.TITRE_ALERTE, "Validation terminée.")
    title, text, _ = box("No response received from server", "Error")
    assert title == "Erreur" and text.startswith("Pas de réponse du serveur ACV")
    nginx = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body></html>"
    title, text, page = box(nginx, "Error")
    assert text.startswith("Le serveur ACV n&#39;a pas pu traiter la demande") and "Bad Gateway" not in page
    _, _, page = box("Continuer ?", scripts.TITRE_ALERTE, "yes_no_cancel")
    assert 'id="yes" type="button" class="btn btn-primary btn-xl-alert">Oui<' in page
    assert ">Non<" in page and ">Annuler<" in page and ">Yes<" not in page and ">No<" not in page
    # xlwings' page under ours (« The add-in didn't load properly », Reload, Cancel), made French
    # in the box and the task pane by acv-textes.js
    assert "dialog.js" in page and "acv-textes.js" in page and "acv-textes.js" in client.get("/taskpane.html").text
    # Excel for Windows titles the box « Action Cœur de Ville - <the page's title> »: it said « - Task pane »
    assert re.findall(r"<title>(.*?)</title>", page) == ["Message"]
    js = client.get("/static/js/acv-textes.js").text
    assert "xlwings-office-ready-error" in js and "Le complément ne s'est pas chargé correctement." in js


def test_a_busy_port_gives_a_french_message_and_status_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--port", str(port)],
                              cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"impossible d'écouter sur 127.0.0.1:{port} : port déjà utilisé" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_an_ipv6_address_in_brackets_is_the_address_itself():
    """`--hote [::1]`, as an address bar writes IPv6, was refused at start: « impossible d'écouter sur [::1] : nom
    d'hôte inconnu », the system wanting the address without its brackets."""
    with socket.socket(socket.AF_INET6) as busy:
        busy.bind(("::1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--hote", "[::1]", "--port", str(port)],
                              cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"impossible d'écouter sur ::1:{port} : port déjà utilisé" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("host, local", [("127.1", True), ("0x7f.1", True), ("127.0.0.1", True), ("localhost", True),
                                         ("::1", True), ("[::1]", True), ("10.1", False), ("0.0.0.0", False),
                                         ("127.0.0.1 x", False), ("acv.departement.gouv.fr", False), ("", False)])
def test_the_loopback_is_the_address_the_system_listens_on(host, local):
    """`--hote 127.1`, the loopback to the system that listens there, was taken for an address « hors de cette
    machine » (ipaddress does not read it): the server asked for a token and HTTPS."""
    from udfs.server import is_loopback

    assert is_loopback(host) is local


def _start_refused(*options: str, wrap: tuple[str, ...] = ()) -> str:
    """`acv-xl serveur` refusing to start: status 2, no traceback, its French reason (stderr)."""
    done = subprocess.run([*wrap, sys.executable, "-m", "acv_xl", "serveur", *options], cwd=ROOT,
                          env=_env(ACV_XL_JETON=TOKEN), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "Serveur xlwings ACV" not in done.stdout
    return done.stderr


def test_a_privileged_port_without_the_right_says_so():
    """`--port 443` by an account that may not listen there was « port déjà utilisé ou adresse
    indisponible »: the IT person looked for another program on the port. Run here without the
    capability to bind below 1024 (root keeps it otherwise: `setpriv` drops it)."""
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    if start == 0:
        pytest.skip("this system lets every account listen on any port")
    wrap = ("setpriv", "--bounding-set", "-net_bind_service", "--inh-caps", "-net_bind_service") \
        if os.geteuid() == 0 else ()
    err = _start_refused("--port", str(start - 1), wrap=wrap)
    assert f"impossible d'écouter sur 127.0.0.1:{start - 1} : permission refusée" in err
    assert "à partir de 1024 (--port 8000)" in err and "déjà utilisé" not in err


def test_an_unusable_certificate_or_key_is_refused_in_french_before_the_start_up_message(tmp_path):
    """A file that is no certificate gave, after the whole start-up message (« Serveur xlwings ACV :
    https://… »), « le système a refusé l'opération (erreur du système n° 524297) »; a key with a
    password made OpenSSL ask for it on a terminal the service has not."""
    cert, key = _self_signed(tmp_path)
    (tmp_path / "autre").mkdir()
    _, other_key = _self_signed(tmp_path / "autre")
    text = tmp_path / "pas-un-certificat.pem"
    text.write_text("pas un certificat\n", encoding="utf-8")
    locked = tmp_path / "cle-chiffree.pem"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-aes256", "-passout", "pass:secret", "-out", str(locked)],
                   check=True, capture_output=True, timeout=60)
    port = str(_free_port())
    for given, expected in (((text, key), "certificat ou clé illisible"), ((key, cert), "certificat ou clé illisible"),
                            ((cert, other_key), f"la clé {other_key} ne correspond pas au certificat {cert}"),
                            ((cert, locked), f"la clé {locked} est protégée par un mot de passe")):
        err = _start_refused("--port", port, "--certificat", str(given[0]), "--cle", str(given[1]))
        assert expected in err, err
    err = _start_refused("--port", port, "--hote", "192.0.2.1", "--certificat", str(cert), "--cle", str(key),
                         "--url-publique", "https://acv.example.fr")
    assert "impossible d'écouter sur 192.0.2.1:" in err and "adresse absente de cette machine" in err


def test_listening_beyond_the_machine_needs_the_public_address(tmp_path):
    """On 0.0.0.0 with a token and a certificate, the server started without --url-publique and built the
    manifest from whatever name a request sent (« Host: evil.example » → an add-in loaded from evil.example).
    It answers only the loopback and the public name now, so it refuses to start without the latter."""
    cert, key = _self_signed(tmp_path)
    err = _start_refused("--port", str(_free_port()), "--hote", "0.0.0.0", "--certificat", str(cert), "--cle", str(key))
    assert ("écouter sur 0.0.0.0, hors de cette machine, demande l'adresse par laquelle les communes joignent le "
            "serveur : donnez --url-publique https://…") in err, err


def test_an_absurd_number_of_processes_is_refused_in_french_before_anything_starts():
    """`--processus 100000` forked server after server without limit. At most two per core; the
    port is busy, so that a check missing would end on the port's message, never on 100 000 forks."""
    from udfs.server_config import DEFAULT_MAX_BODY_MB, default_threads
    from udfs.server_machine import limits, max_processes, processes_refusal, usable_cores

    assert max_processes() == 2 * usable_cores() >= 2  # the service file's `--processus 2` starts anywhere
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        def serve(n: int) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--port", str(port),
                                   "--processus", str(n)], cwd=ROOT, env=_env(), capture_output=True,
                                  text=True, timeout=120)

        refused = serve(100000)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr + refused.stdout
        assert f"--processus 100000 : au plus {max_processes()} sur cette machine (deux par cœur" in refused.stderr
        within = serve(max_processes())  # accepted (unless this machine's limits say otherwise)
        fits = processes_refusal(max_processes(), default_threads(), DEFAULT_MAX_BODY_MB << 20, *limits()) is None
        assert within.returncode == 2 and ("impossible d'écouter" if fits else "permis à ce service") in within.stderr
    helped = subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--help"], cwd=ROOT, env=_env(),
                            capture_output=True, text=True, timeout=120)
    assert "au plus deux par cœur" in " ".join(helped.stdout.split())


def test_a_token_file_every_account_may_read_is_pointed_out(tmp_path):
    """The tokens of all the communes, readable by any local account (a file created with the
    usual 644): the server now says so at start, and how to fix it."""
    tokens = tmp_path / "jetons.txt"
    tokens.write_text(f"arras {TOKEN}\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for mode, warned in ((0o644, True), (0o640, False)):
            tokens.chmod(mode)
            done = subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--port", str(port), "--jeton-fichier",
                                   str(tokens)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
            assert done.returncode == 2 and "impossible d'écouter" in done.stderr  # (the port: nothing started)
            assert ("est lisible par tous les comptes de la machine (droits 644)" in done.stderr) is warned
            assert ("chmod 640" in done.stderr) is warned


def test_a_revoked_line_of_the_token_file_is_said_at_start_and_does_not_stop_it(tmp_path):
    """« arras REVOQUE » over a leaked token (docs/serveur.md): the server refused to start on it after an
    update or a reboot. Now the start goes on (here to the busy port) and says the line it leaves out."""
    tokens = tmp_path / "jetons.txt"
    tokens.write_text(f"boulogne {TOKEN}\narras REVOQUE\n")
    tokens.chmod(0o640)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        done = subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--port", str(busy.getsockname()[1]),
                               "--jeton-fichier", str(tokens)], cwd=ROOT, env=_env(), capture_output=True, text=True,
                              timeout=120)
    assert done.returncode == 2 and "impossible d'écouter" in done.stderr, done.stderr  # past the tokens
    assert (f"acv-xl : attention : {tokens}, ligne 2 : jeton trop court (7 caractères, au moins 20) : ligne "
            "ignorée : « arras » n'a plus de jeton valable") in done.stderr, done.stderr


# --------------------------------------------------------------------------- issue 16: in service
def _function_body(name: str, *args) -> dict:
    return {"func_name": name, "args": list(args), "version": "0.0.0", "client": "Office.js",
            "runtime": "1.4", "caller_address": "Synthèse!B2"}


def _big_plan(n_rows: int, seed: int = 0) -> list[list]:
    header = [layout.T_FINANCEMENTS.header(a) for a in ("numero", "financeur", "nature", "annee", "montant", "statut")]
    return [header] + [[f"1.{i % 50}", ("ETAT", "REGION", "CDC")[i % 3], "Subvention", 2025,
                        1000 + i + seed / 100, "Acquis"] for i in range(n_rows)]


def test_task_pane_sends_the_token_through_xlwings_getauth(server):
    client, _ = server
    js = client.get("/static/js/auth.js").text  # the project's file wins over xlwings' own
    assert "globalThis.getAuth" in js and '"Bearer " + jeton' in js and "OfficeRuntime.storage" in js
    assert 'includes("entraid")' in js  # Entra ID keeps xlwings' single sign-on token
    pane = client.get("/taskpane.html").text
    assert 'id="acv-jeton"' in pane and "acv-jeton.js" in pane and "Jeton d'accès" in pane
    assert client.get("/static/js/acv-jeton.js").status_code == 200


def test_without_the_token_401_with_it_200(server):
    client, log = server
    body = _function_body("ACV_TOTAL_FINANCEUR", _big_plan(3), [["ETAT"]])
    bare = httpx.post(f"{client.base_url}/xlwings/custom-functions-call", json=body, timeout=30)
    assert bare.status_code == 401 and "Jeton d'accès absent ou invalide" in bare.text
    wrong = httpx.post(f"{client.base_url}/xlwings/custom-functions-call", json=body, timeout=30,
                       headers={"Authorization": "Bearer " + "y" * 40})
    assert wrong.status_code == 401
    scheme_only = httpx.post(f"{client.base_url}/xlwings/custom-functions-call", json=body, timeout=30,
                             headers={"Authorization": TOKEN})  # the token without « Bearer »
    assert scheme_only.status_code == 401
    script = httpx.post(f"{client.base_url}/xlwings/custom-scripts-call/valider", json={}, timeout=30)
    assert script.status_code == 401
    ok = client.post("/xlwings/custom-functions-call", json=body)
    assert ok.status_code == 200 and ok.json()["result"] == [[pytest.approx(1000.0)]]
    # the add-in's files stay public: Office loads them without headers
    assert httpx.get(f"{client.base_url}/xlwings/custom-functions-meta", timeout=30).status_code == 200


def test_foreign_origin_and_text_plain_are_refused(server):
    client, _ = server
    url = "/xlwings/custom-scripts-call/valider"
    payload = json.dumps(payload_from_xlsx(_faulty_example(), include=scripts.INCLUDE))
    # what any web page can make a browser send without a preflight: never executed
    plain = client.post(url, content=payload, headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and "application/json" in plain.text
    form = client.post(url, content="bookData=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    foreign = client.post(url, content=payload, headers={"Content-Type": "application/json",
                                                         "Origin": "https://site-tiers.example"})
    assert foreign.status_code == 403 and "Origine refusée" in foreign.text
    preflight = client.options(url, headers={"Origin": "https://site-tiers.example",
                                             "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    # reading the add-in's public files is allowed, but the answer is not shared with that site
    meta = client.get("/xlwings/custom-scripts-meta", headers={"Origin": "https://site-tiers.example"})
    assert meta.status_code == 200 and "access-control-allow-origin" not in meta.headers
    same = client.post(url, content=payload, headers={"Content-Type": "application/json",
                                                      "Origin": str(client.base_url).rstrip("/")})
    assert same.status_code == 200 and same.json()["actions"]


def test_a_preflight_from_the_server_s_own_origin_is_answered_in_french_terms(server):
    """Without --url-publique nor --origine, the server's own origin passes the origin check, but its
    preflight reached xlwings Server's CORS layer, which knows no origin: 400 « Disallowed CORS
    origin », in English, for an origin the server accepts. Now answered as an origin of --origine;
    a method the server never takes is refused in French."""
    client, _ = server
    own = str(client.base_url).rstrip("/")
    ask = {"Origin": own, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}
    preflight = client.options("/xlwings/custom-functions-call", headers=ask)
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == own
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    put = client.options("/xlwings/custom-functions-call", headers=ask | {"Access-Control-Request-Method": "PUT"})
    assert (put.status_code, put.text) == (400, "Requête de contrôle préalable (CORS) refusée : ce serveur "
                                                "n'accepte que des appels POST.\n")
    assert "access-control-allow-origin" not in put.headers


def test_an_origin_allowed_by_origine_can_call_from_a_browser(tmp_path):
    """`--origine URL` promised another allowed web origin, but the browser's preflight got 401 (it
    never carries the token) or « Disallowed CORS origin », and the answers no CORS header: a page
    of that origin could call nothing. Other origins stay refused."""
    other = "https://tableau.exemple.gouv.fr"
    with running_server(tmp_path / "serveur.log", "--origine", other, env=_env(ACV_XL_JETON=TOKEN)) as (client, _, _):
        ask = {"Origin": other, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization,content-type"}
        preflight = client.options("/xlwings/custom-functions-call", headers=ask)
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == other
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        call = client.post("/xlwings/custom-functions-call", headers=AUTH | {"Origin": other},
                           json=_function_body("ACV_TOTAL_FINANCEUR", _big_plan(4), [["ETAT"]]))
        assert call.status_code == 200 and call.headers["access-control-allow-origin"] == other
        assert client.post("/xlwings/custom-functions-call", headers={"Origin": other},
                           json=_function_body("ACV_SYNTHESE", _big_plan(2))).status_code == 401  # still the token
        foreign = client.options("/xlwings/custom-functions-call", headers=ask | {"Origin": "https://pirate.example"})
        assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers


def test_an_oversized_body_gets_413_at_once(server):
    client, _ = server
    big = b'{"func_name": "ACV_SYNTHESE", "args": [["' + b"x" * (9 * 1024 * 1024) + b'"]]}'
    t = time.monotonic()
    r = client.post("/xlwings/custom-functions-call", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "au plus 8 Mo" in r.text
    assert time.monotonic() - t < 30  # at once: not after the server's 60 s wait for the body (30: a loaded machine)

    def chunks():  # no Content-Length: the body is counted as it arrives
        for _ in range(160):
            yield b" " * (64 * 1024)

    t = time.monotonic()
    r = client.post("/xlwings/custom-functions-call", content=chunks(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert time.monotonic() - t < 10


def _exchange(port: int, data: bytes, trickle: bytes = b"", wait: float = 10.0) -> tuple[bytes, float]:
    """Send `data` on a fresh connection, then `trickle` one byte every 0.2 s; return what the
    server answered before closing, and after how many seconds it closed."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        t = time.monotonic()
        s.sendall(data)
        got, pending = b"", list(trickle)
        while time.monotonic() - t < wait:
            s.settimeout(0.2)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                if pending:
                    try:
                        s.sendall(bytes([pending.pop(0)]))
                    except OSError:
                        break
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        return got, time.monotonic() - t


def test_a_slow_silent_or_oversized_request_is_cut_off_in_french(tmp_path):
    import xlwings_server

    """Served directly (no nginx in front), a client that opened a connection and sent nothing, or
    its headers one byte at a time (slowloris), or a body announced and never sent, held its
    connection for ever, and a header of 200 MB stayed in memory: each now has `--delai-reception`
    seconds, and a head at most 32 Kio, answered in French."""
    from udfs.server_http import HEAD_TOO_LARGE

    head = (b"POST /xlwings/custom-functions-call HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n")
    with running_server(tmp_path / "serveur.log", "--delai-reception", "1",
                        env=_env(ACV_XL_JETON=TOKEN, ACV_XL_CLE_ALERTES=ALERT_KEY)) as (client, log, port):
        got, seconds = _exchange(port, b"")
        assert got == b"" and seconds < 3  # an idle connection: closed, nothing to answer
        got, seconds = _exchange(port, head[:30], trickle=head[30:] * 10)
        assert got.startswith(b"HTTP/1.1 408") and seconds < 3
        assert "ses en-têtes ne sont pas arrivés dans le délai de 1 s" in got.decode()
        got, seconds = _exchange(port, head + b"Content-Length: 100\r\n\r\n{", trickle=b" " * 50)
        assert got.startswith(b"HTTP/1.1 408") and seconds < 3
        assert "son contenu n'est pas arrivé en entier dans le délai de 1 s" in got.decode()
        got, _ = _exchange(port, head + b"X-Long: " + b"a" * (40 * 1024))
        assert got.startswith(b"HTTP/1.1 431") and HEAD_TOO_LARGE in got.decode()
        # a client that reads nothing of its answers (ten of the add-in's largest public files asked
        # at once): it held its requests' places for ever (64 such, and « Serveur occupé » for all)
        big = sorted((Path(xlwings_server.__file__).parent / "static").rglob("*.js"), key=lambda p: p.stat().st_size)[-1]
        url = "/static/" + big.relative_to(Path(xlwings_server.__file__).parent / "static").as_posix()
        with socket.socket() as reader:
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            reader.connect(("127.0.0.1", port))
            reader.sendall(f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() * 10)
            time.sleep(4)
            reader.settimeout(10)
            received = 0
            try:
                while chunk := reader.recv(1 << 20):
                    received += len(chunk)
            except ConnectionResetError:
                pass
            assert received < 3 * big.stat().st_size  # cut off: the answers stopped there
        # a request as Excel sends it, and two on one kept-alive connection, still go through
        assert client.post("/xlwings/custom-functions-call", headers=AUTH,
                           json=_function_body("ACV_TOTAL_FINANCEUR", _big_plan(5), [["ETAT"]])).status_code == 200
        assert client.get("/manifest").status_code == 200
        time.sleep(0.1)
        assert "issue=reception_trop_lente statut=408" in log.read_text()
        assert "Traceback" not in log.read_text()


def test_an_answer_sent_before_its_request_s_body_closes_the_connection(tmp_path):
    """A request answered before its announced body was all in — a GET of a public file announcing a
    body, a call refused for its token — kept its connection: the rest of the body, sent slowly, was
    waited for as the next request's head, and a second answer, 408 « ses en-têtes ne sont pas arrivés »,
    followed the first on the same connection, with a log line for a request nobody sent."""
    with running_server(tmp_path / "serveur.log", "--delai-reception", "1",
                        env=_env(ACV_XL_JETON=TOKEN, ACV_XL_CLE_ALERTES=ALERT_KEY)) as (_, log, port):
        for head, status in ((b"GET /manifest HTTP/1.1\r\n", b"200"),
                             (b"POST /xlwings/custom-functions-call HTTP/1.1\r\nContent-Type: application/json\r\n",
                              b"401")):
            got, _ = _exchange(port, head + b"Host: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{", trickle=b" " * 50)
            assert got.startswith(b"HTTP/1.1 " + status) and got.count(b"HTTP/1.1 ") == 1, got[-300:]
        # a body sent whole with its request, left unread, keeps the connection (kept alive as before)
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /manifest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}" * 2)
            s.settimeout(30)
            got = b""
            while got.count(b"HTTP/1.1 200") < 2:
                got += s.recv(65536)
        time.sleep(0.2)
        assert "entetes_trop_lents" not in log.read_text()


def test_a_request_refused_before_its_body_was_read_keeps_its_connection_for_the_next(server):
    """A call refused before its body was read (no token: 401; text/plain: 415), its body sent whole:
    the connection was closed after the answer, with the body still unread. The next request a client
    sent on that kept-alive connection got « Connection reset by peer » (httpx's pool, run in the full
    suite), and the answer itself could be lost to the reset. The body is let in, and the next request
    answered on the same connection."""
    client, _ = server
    port = client.base_url.port
    body = b"[" + b" " * 400_000 + b"]"  # more than one read of the server: still coming when it answers
    calls = (b"POST /xlwings/custom-functions-call HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
             b"POST /xlwings/custom-scripts-call/valider HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
             + TOKEN.encode() + b"\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    for call, status in zip(calls, (b"401", b"415")):
        got = b""
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.settimeout(30)
            try:
                s.sendall(call + b"GET /manifest HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                while got.count(b"HTTP/1.1 ") < 2 or not got.rstrip().endswith(b">"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except OSError:  # reset: what came before it is the answer
                pass
        assert got.startswith(b"HTTP/1.1 " + status), got[:200]
        assert got.count(b"HTTP/1.1 200") == 1, got[:300]


def test_a_bad_chunk_leaves_one_log_line_naming_its_request(server):
    """A body sent in chunks with a bad chunk size (« zz ») got its 400, and two log lines: « - - issue=
    requete_http_invalide statut=400 », naming no request, and the application's « POST … client=jeton
    issue=client_parti statut=- », for a client that had not left. One line now, the request's own."""
    client, log = server
    port = client.base_url.port
    before = log.read_text()
    got, _ = _exchange(port, b"POST /xlwings/custom-functions-call HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\nzz\r\n")
    assert got.startswith(b"HTTP/1.1 400") and "Requête HTTP invalide." in got.decode()
    # the HTTP layer's own answers carry the headers of every other (`server_guard.secured`)
    head = got.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\r\nx-content-type-options: nosniff\r\n" in head and b"\r\ncache-control: no-store" in head, head
    assert client.get("/manifest").status_code == 200  # its line written once the one before is
    deadline = time.monotonic() + 30
    while log.read_text().count("GET /manifest ") <= before.count("GET /manifest "):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    new = log.read_text()[len(before):].splitlines()
    # (its client named if its token was checked before the bad chunk came: one packet here, or two)
    assert [line.split(" ", 1)[1].rsplit(" duree_ms", 1)[0].replace(" client=jeton", "") for line in new
            if "GET /manifest" not in line] == [
        "POST /xlwings/custom-functions-call issue=requete_http_invalide statut=400"], new


def test_a_head_too_large_is_refused_even_when_it_comes_whole(server):
    """The 32 Kio cap on a request's head was counted only on the reads ending within it: a head of 100 Kio
    sent whole, arriving in one read, was served (200), and so was a request line of 60 Kio."""
    from udfs.server_http import HEAD_TOO_LARGE

    client, log = server
    port = client.base_url.port
    for head in (b"GET /manifest HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * (100 * 1024) + b"\r\n\r\n",
                 b"GET /manifest?" + b"a" * (60 * 1024) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                 b"GET /manifest HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n"):
        got, _ = _exchange(port, head)
        assert got.startswith(b"HTTP/1.1 431") and got.count(b"HTTP/1.1 ") == 1, got[:200]
        assert HEAD_TOO_LARGE in got.decode()
    # just under the cap, still served
    got, _ = _exchange(port, b"GET /manifest HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Long: "
                       + b"a" * (30 * 1024) + b"\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200")
    assert "GET /manifest issue=entetes_trop_volumineux statut=431" in log.read_text()


def test_the_trailer_of_a_body_sent_in_chunks_is_capped_as_a_head(server):
    """After the last chunk of a body, a client may send header fields (a trailer): uvicorn appended them to the
    request's headers without limit — 430 Mo held by the server after 3 s of a client on the loopback, without a
    token (the body of a refused call is still let in), and several Go within the body's deadline. Past 32 Kio, a
    trailer is now refused as a head is; a call with a small trailer, or whose reads end on a chunk's size, is
    answered as before."""
    client, log = server
    port = client.base_url.port
    call = (b"POST /xlwings/custom-functions-call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n")
    block = (b"X-Fin: " + b"a" * 1000 + b"\r\n") * 64
    for auth in (b"Authorization: Bearer " + TOKEN.encode() + b"\r\n", b""):
        sent, got = 0, b""
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.settimeout(30)
            try:
                s.sendall(call + auth + b"\r\n2\r\n{}\r\n0\r\n")
                while sent < 64 * 2**20:  # (64 Mo: what the server held before, all of it)
                    s.sendall(block)
                    sent += len(block)
                s.sendall(b"\r\n")
            except OSError:  # closed by the server: what it answered is still to read
                pass
            try:
                while chunk := s.recv(65536):
                    got += chunk
            except OSError:
                pass
        assert sent < 16 * 2**20, (sent, got[-300:])
        # (refused for its token, the call was answered before its body came: closed, without a second answer)
        assert got.count(b"HTTP/1.1 ") == 1 and (b"HTTP/1.1 431 " in got) == bool(auth), got[-300:]
    body = json.dumps(_function_body("ACV_TOTAL_FINANCEUR", _big_plan(2000), [["ETAT"]])).encode()
    pieces = [body[i:i + 40 * 1024] for i in range(0, len(body), 40 * 1024)]
    assert len(pieces) > 2
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(30)
        s.sendall(call + b"Authorization: Bearer " + TOKEN.encode() + b"\r\nConnection: close\r\n\r\n"
                  + b"%x\r\n" % len(pieces[0]))
        for piece, after in zip(pieces, pieces[1:] + [None]):
            # a chunk's data, more than 32 Kio, then the next one's size: reads ending on a size (the pause
            # lets each arrive alone), where the data before it is no trailer
            time.sleep(0.05)
            s.sendall(piece + b"\r\n" + (b"%x\r\n" % len(after) if after else b"0\r\nX-Fin: " + b"a" * 1000
                                          + b"\r\n\r\n"))
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert got.startswith(b"HTTP/1.1 200 "), got[:300]
    assert "client=jeton issue=entetes_trop_volumineux statut=431" in log.read_text()


def test_a_request_answered_before_its_body_is_never_answered_twice(server):
    """A call refused for its token is answered before its body came, the rest let in (`server_http`): a bad chunk
    size in that rest got a second answer on the same connection, « 400 Requête HTTP invalide » after the 401,
    and a log line « - - issue=requete_http_invalide » for a request nobody sent. The connection is closed, as
    when that rest never comes."""
    client, log = server
    port = client.base_url.port
    before = log.read_text()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(30)
        s.sendall(b"POST /xlwings/custom-functions-call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                  b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n")
        got = b""
        while b"\r\n\r\n" not in got or not got.endswith(b"\n"):  # the 401, answered at once
            chunk = s.recv(65536)
            assert chunk, got  # (closed before its whole answer: never to come, not waited for ever)
            got += chunk
        s.sendall(b"zz\r\n")
        try:
            while chunk := s.recv(65536):
                got += chunk
        except OSError:
            pass
    assert got.startswith(b"HTTP/1.1 401 ") and got.count(b"HTTP/1.1 ") == 1, got
    assert client.get("/manifest").status_code == 200  # its line written once the ones before are
    deadline = time.monotonic() + 30
    while log.read_text().count("GET /manifest ") <= before.count("GET /manifest "):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    new = log.read_text()[len(before):]
    assert "issue=jeton_refuse statut=401" in new and "- - issue=" not in new, new


_LONG = (b"X-Fin: " + b"a" * 1000 + b"\r\n") * 64


@pytest.mark.parametrize("rest, issue", [([b"zz\r\n"], "requete_http_invalide"),
                                         ([b"0\r\n"] + [_LONG] * 256, "entetes_trop_volumineux"),
                                         ([b"0\r\n\r\nGET /manifest HTTP/1.1\r\n"] + [_LONG] * 256, None)])
def test_a_body_refused_while_its_answer_is_being_sent_cuts_that_answer_without_a_second_one(rest, issue, caplog):
    """A public file is sent without waiting for the body of its request: a bad chunk size, or a trailer past 32 Kio,
    arriving while that answer was still on its way (a large file, a client that reads slowly) got its « HTTP/1.1
    400 » (431) written into the middle of the 200's body; so did the next request's head past 32 Kio. The
    connection is cut, and the reason goes into the request's own log line (the next one's: a line of its own). The
    answer here is held unfinished until the client is gone — never complete when the rest comes, whatever the
    buffers of the machine."""
    import logging
    import asyncio

    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from udfs import server_http

    seen = {}

    async def app(scope, receive, send):  # a file of 1 Mio, its first 1 000 bytes sent, the rest after the client
        seen["scope"] = scope
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(2**20).encode())]})
        await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
        await send({"type": "http.response.body", "body": b"x" * (2**20 - 1000)})

    config = Config(app, lifespan="off", log_config=None)
    state = ServerState()

    async def scenario():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: server_http.DeadlineProtocol(config=config, server_state=state,
                                                                                      app_state={}),
                                          "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /static/js/fichier.js HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"2\r\n{}\r\n")
        got = b""
        while len(got.split(b"\r\n\r\n", 1)[-1]) < 1000 or b"\r\n\r\n" not in got:  # the head, the first bytes
            chunk = await asyncio.wait_for(reader.read(65536), 30)
            assert chunk, got
            got += chunk

        async def read_all() -> bytes:
            read = b""
            try:
                while chunk := await asyncio.wait_for(reader.read(65536), 30):
                    read += chunk
            except ConnectionResetError:
                pass
            return read

        reading = asyncio.create_task(read_all())
        for piece in rest:  # (a trailer: until the server refuses it — 16 Mio at most, what it took before)
            if reading.done():
                break
            try:
                writer.write(piece)
                await writer.drain()
            except ConnectionError:
                break
        got += await reading
        writer.close()
        server.close()
        for _ in range(100):  # the application's end, once told the client left
            if not state.tasks:
                break
            await asyncio.sleep(0.01)
        return got

    caplog.set_level(logging.INFO, logger="acv_xl.serveur")
    loop = server_http.new_loop()
    try:
        got = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert got.startswith(b"HTTP/1.1 200 ") and got.count(b"HTTP/1.1 ") == 1, got[-300:]
    assert len(got) < 2**20 and seen["scope"].get("acv", {}).get("issue") == issue
    if issue is None:  # the next request's head: its own line
        lines = [r.getMessage() for r in caplog.records if r.name == "acv_xl.serveur"]
        assert [line.split(" ", 1)[1].rsplit(" duree_ms=", 1)[0] for line in lines] \
            == ["GET /manifest issue=entetes_trop_volumineux statut=-"], lines


def test_the_http_layers_own_refusals_in_https_carry_hsts(server, tmp_path):
    """The refusals the HTTP layer writes itself (431, 400, 408) had every security header of the application's
    answers but HSTS, in HTTPS too — served directly, or relayed by the front end of this machine, which says so
    (X-Forwarded-Proto, believed from the loopback only)."""
    import ssl

    large = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * (40 * 1024) + b"\r\n\r\n"
    invalid = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n"

    def head(answer: bytes) -> bytes:
        return answer.split(b"\r\n\r\n", 1)[0].lower()

    hsts = b"\r\nstrict-transport-security: max-age=31536000; includesubdomains"
    client, _ = server
    port = client.base_url.port
    for request, status in ((large, b"431"), (invalid, b"400")):
        relayed = request.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n")
        got, _ = _exchange(port, relayed)
        assert got.startswith(b"HTTP/1.1 " + status) and hsts in head(got), got[:400]
        got, _ = _exchange(port, request)  # in HTTP: a browser ignores it, and none is sent
        assert got.startswith(b"HTTP/1.1 " + status) and b"strict-transport-security" not in head(got)
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with running_server(tmp_path / "serveur.log", "--certificat", str(cert), "--cle", str(key),
                        "--delai-reception", "1", https=True) as (_, _, tls_port):
        for request, status in ((large, b"431"), (invalid, b"400"), (b"GET / HTTP/1.1\r\nHost: 1", b"408")):
            with context.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=30)) as s:
                s.sendall(request)
                got = b""
                try:
                    while chunk := s.recv(65536):
                        got += chunk
                except (ssl.SSLError, OSError):  # closed after the answer
                    pass
            assert got.startswith(b"HTTP/1.1 " + status) and hsts in head(got), got[:400]


def test_the_http_layers_own_refusals_of_a_button_are_shown_by_the_box_and_logged(tmp_path, monkeypatch):
    """The refusals written by the HTTP layer itself (`server_http`: head too slow 408, too large 431,
    malformed 400) were not sealed: on a button's call the add-in's box showed its fixed « n'a pas pu
    terminer l'opération » instead of the reason, unlike the application's own 408 or 413; and they
    left no log line (a garbled request left uvicorn's English « Invalid HTTP request received. »)."""
    from udfs import server_alert

    monkeypatch.setenv(server_alert.ENV_KEY, ALERT_KEY)
    button = (b"POST /xlwings/custom-scripts-call/valider HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"User-Agent: Mozilla/5.0 (Windows NT 10.0) Excel\r\n")

    def shown(answer: bytes) -> str:
        text = answer.partition(b"\r\n\r\n")[2].decode("utf-8")
        return server_alert.checked(dict(zip(server_alert.PARAMS, (text, *server_alert.FAILURE))))["prompt"]

    with running_server(tmp_path / "serveur.log", "--delai-reception", "1",
                        env=_env(ACV_XL_JETON=TOKEN, ACV_XL_CLE_ALERTES=ALERT_KEY)) as (_, log, port):
        got, _ = _exchange(port, button + b"X-Long: " + b"a" * (40 * 1024))
        assert got.startswith(b"HTTP/1.1 431") and shown(got) == "En-têtes de requête trop volumineux : au plus 32 Kio."
        got, _ = _exchange(port, button, wait=4)
        assert got.startswith(b"HTTP/1.1 408") and shown(got).startswith("Requête reçue trop lentement : ses en-têtes")
        got, _ = _exchange(port, button + b"Content-Length: abc\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 400") and shown(got) == "Requête HTTP invalide."
        # VBA's MsgBox shows the text as it is: no seal there, as for the application's refusals
        got, _ = _exchange(port, button.replace(b"Mozilla/5.0 (Windows NT 10.0) Excel", b"VBA-Web v4.1.6")
                           + b"X-Long: " + b"a" * (40 * 1024))
        assert got.startswith(b"HTTP/1.1 431") and b"[acv-xl:" not in got
        got, _ = _exchange(port, b"GARBAGE \x00\x01\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 400") and b"[acv-xl:" not in got
        time.sleep(0.2)
        text = log.read_text()
    for line in ("POST /xlwings/custom-scripts-call/valider issue=entetes_trop_volumineux statut=431",
                 "POST /xlwings/custom-scripts-call/valider issue=entetes_trop_lents statut=408",
                 "POST /xlwings/custom-scripts-call/valider issue=requete_http_invalide statut=400",
                 "- - issue=requete_http_invalide statut=400"):
        assert line in text, text
    assert "Invalid HTTP request" not in text and "X-Long" not in text and "aaaa" not in text


def test_a_request_asking_for_http2_in_clear_leaves_only_its_log_line(server):
    """`Upgrade: h2c` (curl --http2 on http://) is served in HTTP/1.1, and uvicorn wrote its English
    « WARNING:  Unsupported upgrade request. » in the journal besides the request's own line."""
    client, log = server
    r = client.get("/", headers={"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c",
                                 "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA", "X-Marque": "h2c"})
    assert r.status_code == 200
    time.sleep(0.2)
    text = log.read_text()
    assert " GET / statut=200 " in text and "Unsupported upgrade" not in text, text


def test_a_websocket_attempt_is_refused_and_logged(server):
    """socket.io is off and a WebSocket handshake is refused (403), but it left no line in the log, which
    the docs describe as one line per request: a probe of the socket went unseen."""
    client, log = server
    port = int(str(client.base_url).rsplit(":", 1)[1])
    got, _ = _exchange(port, b"GET /xlwings/socket.io/?EIO=4&transport=websocket&secret=1 HTTP/1.1\r\n"
                             b"Host: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                             b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 403")
    time.sleep(0.2)
    text = log.read_text()
    assert re.search(r" GET /xlwings/socket\.io/ issue=websocket_refuse statut=403 duree_ms=0$", text, re.M), text
    assert "secret" not in text and "Traceback" not in text


def test_websocket_attempts_leave_no_connection_counted(tmp_path):
    """A WebSocket handshake hands its connection to uvicorn's WebSocket layer, which refuses it (403)
    and closes it there: the HTTP layer's own count of open connections never heard of its end. Each
    attempt counted one connection for ever: after as many as a process takes (200 here, 924 under
    systemd), every request got « Serveur occupé » and every new connection closed an idle one, until
    the service was restarted. 300 files: a cap of 200."""
    upgrade = (b"GET /xlwings/socket.io/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
               b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    with running_server(tmp_path / "serveur.log", env=_env(ACV_XL_JETON=TOKEN), files=300) as (client, log, port):
        for _ in range(210):
            got, _ = _exchange(port, upgrade, wait=5)
            assert got.startswith(b"HTTP/1.1 403"), got[:100]
        got, _ = _exchange(port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", wait=5)
        assert got.startswith(b"HTTP/1.1 200"), got[:200]
        assert "Traceback" not in log.read_text()


def test_too_many_cells_give_an_acv_message(server):
    client, _ = server
    plan = [["N° action"] * 6] + [[0] * 6 for _ in range(70_000)]  # 420 006 cells > 400 000
    r = client.post("/xlwings/custom-functions-call", json=_function_body("ACV_SYNTHESE", plan))
    assert r.status_code == 200
    text = r.json()["result"][0][0]
    assert text.startswith("#ACV: plages trop grandes : 420 006 cellules reçues, au plus 400 000"), text
    book = payload_from_xlsx(_faulty_example(), include=scripts.INCLUDE)
    book["sheets"][0]["values"] = [[""] * 100 for _ in range(4001)]
    r = client.post("/xlwings/custom-scripts-call/valider", json=book)
    assert r.status_code == 200
    [alert] = r.json()["actions"]
    assert alert["func"] == "alert" and alert["args"][0].startswith("Classeur trop grand pour le serveur")
    # the sheet that weighs most is named: an export pasted beside the convention, to move elsewhere
    name = book["sheets"][0]["name"]
    assert f"dont 400 100 de la feuille « {name} »" in alert["args"][0], alert["args"][0]


def test_metadata_answers_within_a_second_while_a_heavy_function_runs(server):
    client, _ = server
    heavy = _function_body("ACV_SYNTHESE", _big_plan(60_000, seed=7), [["statut"]])
    result = {}

    def run_heavy():
        result["response"] = client.post("/xlwings/custom-functions-call", json=heavy)
        result["done"] = time.monotonic()

    worker = threading.Thread(target=run_heavy)
    started = time.monotonic()
    worker.start()
    answers = []  # (seconds taken, time answered) of the metadata GETs sent meanwhile
    while worker.is_alive() and time.monotonic() - started < 120:
        t = time.monotonic()
        meta = client.get("/xlwings/custom-functions-meta")
        assert meta.status_code == 200 and meta.json()["functions"]
        answers.append((time.monotonic() - t, time.monotonic()))
        time.sleep(0.05)
    worker.join(timeout=120)
    assert result["response"].status_code == 200
    assert result["response"].json()["result"][1][0] == "Acquis"
    during = [took for took, at in answers if at < result["done"]]
    # several answers while the heavy call ran (sending 3 MB and summing 60 000 lines), none slow
    heavy_seconds = result["done"] - started
    assert len(during) >= 3, (len(during), heavy_seconds)
    # on the event loop, a GET would wait for most of the computation
    assert max(during) < min(1.0, heavy_seconds / 2), (max(during), heavy_seconds)


def test_fifty_concurrent_mixed_requests_are_all_correct(server):
    from acv_xl.outputs.report import to_json
    from concurrent.futures import ThreadPoolExecutor

    client, _ = server
    path = EXEMPLES[0]
    expected = to_json(validate_file(path))["totaux"]["par_financeur"]
    plan = table_values(path, layout.T_FINANCEMENTS.name)
    faulty = _faulty_example()
    book = remote_book(payload_from_xlsx(faulty, include=scripts.INCLUDE))
    scripts.run_valider(book, today=date.today())
    valider_actions = json.loads(json.dumps(book.json()["actions"], default=str))
    meta = client.get("/xlwings/custom-scripts-meta").json()
    codes = sorted(expected)

    def one(i: int):
        kind = i % 5
        if kind in (0, 1, 2):
            code = codes[i % len(codes)]
            r = client.post("/xlwings/custom-functions-call",
                            json=_function_body("ACV_TOTAL_FINANCEUR", plan, [[code]]))
            return r.status_code == 200 and r.json()["result"] == [[pytest.approx(expected[code], abs=0.001)]]
        if kind == 3:
            r = client.post("/xlwings/custom-scripts-call/valider",
                            json=payload_from_xlsx(faulty, include=scripts.INCLUDE))
            return r.status_code == 200 and _unsealed(r.json()["actions"]) == valider_actions
        r = client.get("/xlwings/custom-scripts-meta")
        return r.status_code == 200 and r.json() == meta

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50), timeout=300))
    assert results == [True] * 50


def test_one_log_line_per_request_without_data(server):
    client, log = server
    secret = "Commune-Secrète-123"
    r = client.post("/xlwings/custom-functions-call",
                    json=_function_body("ACV_TOTAL_FINANCEUR", _big_plan(2), [[secret]]))
    assert r.status_code == 200
    book = payload_from_xlsx(_faulty_example(), include=scripts.INCLUDE)
    assert client.post("/xlwings/custom-scripts-call/valider", json=book).status_code == 200
    time.sleep(0.2)
    lines = [line for line in log.read_text().splitlines() if "POST /xlwings/custom-functions-call" in line]
    last = lines[-1]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z POST /xlwings/custom-functions-call "
                    r"cible=ACV_TOTAL_FINANCEUR client=jeton statut=200 duree_ms=\d+$", last), last
    text = log.read_text()
    assert secret not in text and TOKEN not in text
    assert any(" POST /xlwings/custom-scripts-call/valider cible=valider client=jeton statut=200 " in line
               for line in text.splitlines())
    names = {c for row in book["sheets"][0]["values"] for c in row if isinstance(c, str) and len(c) > 3}
    assert names and not any(n in text for n in names)  # no cell of the workbook


@pytest.mark.parametrize("options, env, expected", [
    (["--hote", "0.0.0.0"], {}, "demande un jeton d'accès"),
    (["--hote", "0.0.0.0"], {"ACV_XL_JETON": "court"}, "jeton trop court"),
    (["--hote", "0.0.0.0"], {"ACV_XL_JETON": TOKEN}, "demande HTTPS"),
    (["--certificat", "absent.pem"], {}, "--certificat et --cle vont ensemble"),
    ([], {"ACV_XL_CLE_ALERTES": "courte"}, "ACV_XL_CLE_ALERTES : clé trop courte (6 caractères, au moins 32)"),
    (["--url-publique", "http://acv.example.fr"], {}, "adresse HTTPS attendue"),
    # each went into the manifest's address (« https://acv.example.fr?x=1/manifest »)
    (["--url-publique", "https://acv.example.fr:99999"], {}, "adresse HTTPS attendue"),
    (["--url-publique", "https://moi@acv.example.fr"], {}, "adresse HTTPS attendue"),
    (["--url-publique", "https://acv.example.fr?x=1"], {}, "adresse HTTPS attendue"),
    (["--max-cellules", "0"], {}, "strictement positif"),
    # xlwings Server's own settings (serveur.env): « erreur interne inattendue (ValidationError : 1 validation
    # error for Settings…) », in English
    ([], {"XLWINGS_ENVIRONMENT": "production"},
     "réglage de xlwings Server invalide : XLWINGS_ENVIRONMENT = « production » (valeurs permises : dev, qa, uat, "
     "staging, prod)"),
    ([], {"XLWINGS_AUTH_PROVIDERS": "entraid"},
     'XLWINGS_AUTH_PROVIDERS = « entraid » (une liste JSON attendue, par exemple ["entraid"])'),
    ([], {"XLWINGS_CUSTOM_HEADERS": "x"}, "XLWINGS_CUSTOM_HEADERS = « x » (valeur JSON attendue)"),
    # Wasm: every button and function run in the browser without acv_xl, and GET /custom_scripts/__init__.py,
    # /wasm/wasm_runtime.py… served the server's Python files without a token
    ([], {"XLWINGS_ENABLE_WASM": "1"}, "XLWINGS_ENABLE_WASM = « 1 » : le mode Wasm de xlwings"),
    # socket.io turned back on: GET /socket.io/?EIO=4&transport=polling opened a session without a token, and
    # with one a client connected and could call functions outside the pool, its limits and the log
    ([], {"XLWINGS_ENABLE_SOCKETIO": "true"}, "XLWINGS_ENABLE_SOCKETIO = « true » : socket.io"),
])
def test_refusals_to_start_are_french_and_status_2(options, env, expected):
    done = subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--port", str(_free_port()), *options],
                          cwd=ROOT, env=_env(**env), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr + done.stdout
    if expected == "demande un jeton d'accès":  # and how to set one
        assert "ACV_XL_JETON" in done.stderr and "--jeton-fichier" in done.stderr


@pytest.mark.parametrize("line", ["XLWINGS_ENABLE_WASM=true", "xlwings_enable_wasm=1"])
def test_wasm_set_in_the_projects_dotenv_is_said_there(tmp_path, line):
    """xlwings Server also reads a .env file of the project (or DOTENV_PATH): the refusal said « Retirez ce
    réglage de /etc/acv-xl/serveur.env », where it was not."""
    dotenv = tmp_path / ".env"
    dotenv.write_text(line + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--port", str(_free_port())],
                          cwd=ROOT, env=_env(DOTENV_PATH=str(dotenv)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    value = line.split("=")[1]
    assert f"XLWINGS_ENABLE_WASM = « {value} » : le mode Wasm" in done.stderr
    assert f"Retirez ce réglage du fichier {dotenv} (voir docs/serveur.md)" in done.stderr
    assert "serveur.env" not in done.stderr


def test_a_bad_setting_in_the_projects_dotenv_is_said_there(tmp_path):
    """A value xlwings Server refuses, set in the project's .env (DOTENV_PATH): the refusal sent the
    administrator to /etc/acv-xl/serveur.env, where it was not."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("XLWINGS_ENVIRONMENT=production\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--port", str(_free_port())],
                          cwd=ROOT, env=_env(DOTENV_PATH=str(dotenv)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "XLWINGS_ENVIRONMENT = « production » (valeurs permises" in done.stderr
    assert f"xlwings Server lit le fichier {dotenv} (DOTENV_PATH)" in done.stderr
    assert "serveur.env" not in done.stderr and "Traceback" not in done.stderr


def _settings_like_xlwings_servers(dotenv: Path) -> type:
    """A settings class read as xlwings Server's (its prefix, its .env file), without importing xlwings_server
    in the tests' process (it sets XLWINGS_ON_SERVER)."""
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="XLWINGS_", env_file=dotenv, extra="ignore")
        enable_wasm: bool = False

    return Settings


def test_a_setting_of_the_projects_pyproject_is_said_there(tmp_path, monkeypatch):
    from udfs import server

    (tmp_path / "pyproject.toml").write_text("[tool.xlwings_server]\nENABLE_WASM = true\n", encoding="utf-8")
    monkeypatch.setattr(server, "PROJECT_DIR", tmp_path)
    monkeypatch.delenv("XLWINGS_ENABLE_WASM", raising=False)
    settings = _settings_like_xlwings_servers(tmp_path / ".env")
    assert server.setting_source("XLWINGS_ENABLE_WASM", settings) == (
        "true", f"du fichier {tmp_path / 'pyproject.toml'}")
    monkeypatch.setenv("XLWINGS_ENABLE_WASM", "yes")  # the environment comes first, as for xlwings Server
    assert server.setting_source("XLWINGS_ENABLE_WASM", settings) == (
        "yes", "de /etc/acv-xl/serveur.env ou de l'environnement du service")


def test_a_setting_of_the_projects_dotenv_is_read_by_the_settings_own_source(tmp_path, monkeypatch):
    """The .env file was read with pydantic-settings' read_env_file, which warns « will be removed in the next
    version » (2.16), where `pydantic-settings>=2` has no upper bound: with that version the refusal would be an
    « erreur interne inattendue ». The settings class's own .env source reads it, and the file its model names."""
    import warnings

    from udfs import server

    dotenv = tmp_path / "serveur.env.local"
    dotenv.write_text("xlwings_enable_wasm=1\n", encoding="utf-8")
    monkeypatch.delenv("XLWINGS_ENABLE_WASM", raising=False)
    monkeypatch.delenv("DOTENV_PATH", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert server.setting_source("XLWINGS_ENABLE_WASM", _settings_like_xlwings_servers(dotenv)) == (
            "1", f"du fichier {dotenv}")


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "cle.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _tls_contexts(tmp: Path):
    """A server's TLS context on a self-signed certificate, and a client's that takes it."""
    import ssl

    cert, key = _self_signed(tmp)
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(str(cert), str(key))
    client = ssl.create_default_context()
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    return served, client


def _run_on(loop_of: str, scenario) -> None:
    """The coroutine `scenario()` run on the server's own loop, which must be `loop_of`'s (uvloop, or
    asyncio's when uvloop is made unimportable, as on Windows)."""
    from udfs import server_http

    loop = server_http.new_loop()
    try:
        assert loop_of in type(loop).__mro__[2].__module__
        loop.run_until_complete(scenario())
    finally:
        loop.close()


def _stand_in(per_address: int, limit: int, release: bool = False):
    """What the TLS layer hands a connection to (`server_http.DeadlineProtocol`'s counting attributes),
    answering « ok » to anything; `release`: its address given back when the connection ends."""
    import asyncio

    from udfs import server_http

    class Http(asyncio.Protocol):
        _per_address, _address, _limit, _counted = per_address, None, limit, False

        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(b"ok")

        if release:
            def connection_lost(self, exc):
                server_http._release(self._address)

    return Http


def test_https_a_connection_that_never_finishes_its_handshake_is_closed_within_the_receive_delay(tmp_path):
    """Served in HTTPS directly, a client that opened a connection and sent nothing, or half a
    TLS greeting, held it 60 s (asyncio's and uvloop's own handshake limit), not --delai-reception:
    a few hundred such clients and uvicorn's cap on connections answered nobody else."""
    cert, key = _self_signed(tmp_path)
    with running_server(tmp_path / "serveur.log", "--certificat", str(cert), "--cle", str(key),
                        "--delai-reception", "1", https=True) as (client, log, port):
        for greeting in (b"", b"\x16\x03\x01\x00\xc8\x01"):  # nothing; the start of a ClientHello
            with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
                s.sendall(greeting)
                started = time.monotonic()
                try:
                    closed = s.recv(1024) == b""
                except ConnectionResetError:
                    closed = True
                assert closed and time.monotonic() - started < 5, time.monotonic() - started
        assert client.get("/manifest").status_code == 200  # the others still served
        assert "Traceback" not in log.read_text()


def _own_address() -> str | None:
    """An address of this machine other than the loopback (the one its default route leaves from)."""
    import ipaddress

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # nothing is sent: only the route is chosen
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def _https_from_an_address(tmp_path):
    """(this machine's address other than the loopback, a self-signed certificate and its key, a client
    TLS context that trusts it) for the tests of connections counted per client address."""
    import ssl

    address = _own_address()
    if address is None:
        pytest.skip("no network interface but the loopback: no other client address to connect from")
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return address, cert, key, context


def test_one_client_address_cannot_take_every_connection(tmp_path):
    """Served directly, one client could open connection after connection (each held until
    `--delai-reception`) up to the process's cap, and every commune got « Serveur occupé »: an
    address now holds at most `--connexions-par-adresse`, the next one closed at once (logged once);
    connections from the loopback (the front end on this machine) are not counted."""
    address, cert, key, context = _https_from_an_address(tmp_path)

    def opened(host: str, port: int):
        raw = socket.create_connection((host, port), timeout=10)
        return context.wrap_socket(raw)  # the HTTP layer meets a connection once its handshake is done

    def answered(conn) -> bool:
        try:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: acv\r\n\r\n")
            return conn.recv(100).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    with running_server(tmp_path / "serveur.log", "--hote", "0.0.0.0", "--certificat", str(cert), "--cle", str(key),
                        "--connexions-par-adresse", "3", "--url-publique", "https://acv",
                        env=_env(ACV_XL_JETON=TOKEN), https=True) as (_, log, port):
        assert "3 connexions ouvertes par adresse de client (hors boucle locale)" in log.read_text()
        held = [opened(address, port) for _ in range(3)]
        try:
            for _ in range(2):  # closed at its accept: its handshake, or its request, fails
                try:
                    refused = opened(address, port)
                except OSError:
                    continue
                assert not answered(refused)
                refused.close()
            local = [opened("127.0.0.1", port) for _ in range(5)]
            assert all(answered(c) for c in local)
            assert all(answered(c) for c in held)
            for c in local + [held.pop()]:
                c.close()
            time.sleep(0.3)
            again = opened(address, port)
            assert answered(again)
            again.close()
        finally:
            for c in held:
                c.close()
        time.sleep(0.2)
        text = log.read_text()
    assert text.count("issue=connexions_par_adresse") == 1, text
    assert address not in text  # no client data in the log


def test_forwarded_headers_are_believed_from_the_loopback_only(tmp_path):
    """uvicorn believed X-Forwarded-For and -Proto from the peers FORWARDED_ALLOW_IPS named (« * », a container's
    recipe): a client served directly named itself any address — « X-Forwarded-For: x », no IP, passed the check of
    `Host` (200 for « Host: evil.example ») and escaped its address's quarter of the reads — and said its HTTPS was
    HTTP, its answers then without HSTS. Only the front end of this machine, on the loopback, is believed."""
    address, cert, key, context = _https_from_an_address(tmp_path)
    with running_server(tmp_path / "serveur.log", "--hote", "0.0.0.0", "--certificat", str(cert), "--cle", str(key),
                        "--url-publique", "https://acv", env=_env(ACV_XL_JETON=TOKEN, FORWARDED_ALLOW_IPS="*"),
                        https=True) as (_, log, port):
        with httpx.Client(base_url=f"https://{address}:{port}", verify=context, timeout=30) as remote:
            forged = remote.get("/manifest", headers={"Host": "evil.example", "X-Forwarded-For": "x"})
            assert forged.status_code == 400 and "Adresse de serveur refusée" in forged.text
            http = remote.get("/inconnue", headers={"Host": "acv", "X-Forwarded-Proto": "http"})
            assert http.status_code == 404 and "strict-transport-security" in http.headers
        # the front end of this machine, relaying a commune from the loopback, is believed
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context, timeout=30) as local:
            relayed = local.get("/inconnue", headers={"Host": "acv", "X-Forwarded-Proto": "http",
                                                      "X-Forwarded-For": "203.0.113.7"})
            assert relayed.status_code == 404 and "strict-transport-security" not in relayed.headers
        assert "FORWARDED_ALLOW_IPS = « * » est ignoré" in log.read_text()


def test_https_connections_are_counted_per_address_before_their_handshake(tmp_path):
    """In HTTPS served directly, a connection was counted under `--connexions-par-adresse` only once
    its TLS handshake was done: one client opening TCP connections and never starting a handshake
    held as many as it liked (each until `--delai-reception`), up to the process's files — and then
    nobody was accepted. They are now counted as they are accepted."""
    address, cert, key, context = _https_from_an_address(tmp_path)

    def closed_at_once(conn) -> bool:
        conn.settimeout(3)
        try:
            return conn.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    # (the public address from the environment, as a container is given it: deploy/Dockerfile)
    with running_server(tmp_path / "serveur.log", "--hote", "0.0.0.0", "--certificat", str(cert), "--cle", str(key),
                        "--connexions-par-adresse", "3", env=_env(ACV_XL_JETON=TOKEN, ACV_XL_URL_PUBLIQUE="https://acv"),
                        https=True) as (_, log, port):
        silent = [socket.create_connection((address, port), timeout=10) for _ in range(3)]  # no handshake
        try:
            more = [socket.create_connection((address, port), timeout=10) for _ in range(3)]
            assert all(closed_at_once(c) for c in more)
            for c in more:
                c.close()
            local = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
            local.sendall(b"GET / HTTP/1.1\r\nHost: acv\r\n\r\n")
            assert local.recv(100).startswith(b"HTTP/1.1 200")  # the loopback is not counted
            local.close()
            silent.pop().close()
            time.sleep(0.3)
            again = context.wrap_socket(socket.create_connection((address, port), timeout=10))
            again.sendall(b"GET / HTTP/1.1\r\nHost: acv\r\n\r\n")
            assert again.recv(100).startswith(b"HTTP/1.1 200")  # a place freed is taken again
            again.close()
        finally:
            for c in silent:
                c.close()
        time.sleep(0.2)
        text = log.read_text()
    assert text.count("issue=connexions_par_adresse") == 1, text
    assert "Traceback" not in text and address not in text
    # served directly over HTTPS: no front end to be behind (the start-up line said « derrière le frontal »)
    assert f"(écoute sur https://0.0.0.0:{port})" in text, text


@pytest.mark.parametrize("https", [True, False], ids=["https", "http"])
def test_idle_connections_from_many_addresses_cannot_take_every_file(https, tmp_path):
    """`--connexions-par-adresse` caps one address; a few addresses together (five at the default,
    under systemd's 1,024 files) opened connections and sent nothing — in HTTPS direct, not even a
    TLS greeting — until the process had no file left: nobody else was accepted until theirs were
    closed at `--delai-reception`, and again as soon as they came back. Past the connections a
    process takes, a new one now closes the one idle longest (its handshake or its request's head
    not arrived). Here from the loopback, which no address count limits, as many addresses would."""
    cert, key = _self_signed(tmp_path) if https else (None, None)
    options = ["--delai-reception", "30"] + (["--certificat", str(cert), "--cle", str(key)] if https else [])
    context = None
    if https:
        import ssl

        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    # 300 files: uvicorn's cap on connections is then 200 (server_config.connection_limit)
    with running_server(tmp_path / "serveur.log", *options, env=_env(ACV_XL_JETON=TOKEN), https=https,
                        files=300) as (_, log, port):
        idle = []
        try:
            for _ in range(400):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            time.sleep(0.5)
            t = time.monotonic()
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            if context is not None:
                conn = context.wrap_socket(conn)
            with conn:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                assert conn.recv(100).startswith(b"HTTP/1.1 200")
            assert time.monotonic() - t < 5
            # the oldest were closed to make room, the newest kept (each until its own deadline)

            def closed(c) -> bool:
                c.settimeout(0.01)
                try:
                    return c.recv(1) == b""
                except ConnectionResetError:
                    return True
                except TimeoutError:
                    return False

            gone = [closed(c) for c in idle]
            assert all(gone[:150]) and not any(gone[-150:]), gone.count(True)
        finally:
            for c in idle:
                c.close()
        assert "Traceback" not in log.read_text()


def test_https_with_a_token_file_a_time_limit_and_the_url_to_use(tmp_path):
    cert, key = _self_signed(tmp_path)
    tokens = tmp_path / "jetons.txt"
    tokens.write_text(f"# communes du département\narras {TOKEN}\n")
    with running_server(tmp_path / "serveur.log", "--certificat", str(cert), "--cle", str(key),
                        "--jeton-fichier", str(tokens), "--delai", "0,5", https=True) as (client, log, port):
        out = log.read_text()
        assert f"Manifeste du complément à charger dans Excel : https://127.0.0.1:{port}/manifest" in out
        assert "HTTP sans chiffrement" not in out
        heavy = _function_body("ACV_SYNTHESE", _big_plan(150_000, seed=3))  # ≈ 8 Mo, 900 006 cellules
        r = client.post("/xlwings/custom-functions-call", json=heavy, headers=AUTH)
        assert r.status_code == 200
        assert r.json()["result"] == [["#ACV: calcul interrompu : délai de 0,5 s dépassé sur le serveur."]]
        # a token added to the file is accepted without a restart, a removed one refused
        other = "autre-jeton-" + "z" * 30
        time.sleep(0.05)
        tokens.write_text(f"calais {other}\n")
        small = _function_body("ACV_TOTAL_FINANCEUR", _big_plan(2), [["ETAT"]])
        assert client.post("/xlwings/custom-functions-call", json=small,
                           headers={"Authorization": f"Bearer {other}"}).status_code == 200
        assert client.post("/xlwings/custom-functions-call", json=small, headers=AUTH).status_code == 401
        time.sleep(0.2)
        assert "client=calais statut=200" in log.read_text()
        assert "issue=delai_depasse" in log.read_text()


def test_the_manifest_names_the_public_address_wherever_it_is_downloaded(tmp_path):
    """--url-publique, one process (the default): the manifest was built from the request's Host —
    downloaded on the machine itself it named http://127.0.0.1:<port>, through a front end on
    another port than 443 it lost the port; the communes would have loaded an add-in that
    cannot reach the server."""
    public = "https://acv.departement.gouv.fr:8443"
    with running_server(tmp_path / "serveur.log", "--url-publique", public,
                        env=_env(ACV_XL_JETON=TOKEN)) as (client, log, port):
        for headers in ({}, {"Host": "acv.departement.gouv.fr"}):
            manifest = client.get("/manifest/download", headers=headers)
            assert manifest.status_code == 200
            # the add-in's own addresses (the schemas' and xlwings' pages aside)
            urls = set(re.findall(r"https?://(?:127\.0\.0\.1|acv\.departement\.gouv\.fr)[^\s\"<]*", manifest.text))
            assert urls and all(u.startswith(public) for u in urls), sorted(urls)[:3]


_KEPT_SHEETS = """
import copy, json, os, sys
os.environ["XLWINGS_ON_SERVER"] = "true"
from udfs.server import configure_environment
configure_environment()
import xlwings_payload
from udfs import scripts, server_calls
from udfs.server_config import ServerConfig
from xlwings.pro import _xlremote
payload = xlwings_payload.payload_from_xlsx(sys.argv[1], include=scripts.INCLUDE)
answers = []
for i in range(5):  # five communes, or five states of one workbook
    body = copy.deepcopy(payload)
    for sheet in body["sheets"]:
        if sheet["values"] and sheet["values"][0]:
            sheet["values"][0][0] = f"Commune n° {i}"
    answers.append(server_calls.call_script("valider", json.dumps(body).encode(), None, ServerConfig(), {}))
print(json.dumps({"kept": _xlremote.get_range_api.cache_info().currsize,
                  "written": all(a["actions"] for a in answers)}))
"""


def test_valider_keeps_no_sheet_of_a_workbook_once_answered():
    """xlwings' remote engine memoises whole sheets' values (`get_range_api`, an unbounded
    lru_cache filled at each cell a script writes): each « Valider » of another workbook left its
    sheets in the server's memory for good — a commune's data kept, and memory growing with every
    click (the docs promise nothing is kept)."""
    env = {**_env(), "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    out = subprocess.run([sys.executable, "-c", _KEPT_SHEETS, str(EXEMPLES[0])], env=env, check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    assert json.loads(out) == {"kept": 0, "written": True}


def test_cells_of_excels_data_types_pass_the_check_of_cells(server):
    """The values of Office data types (a number formatted by xlwings, a text, an error, an entity), which Excel
    sends as objects: the check that refuses a forged object in a cell lets them through, read as xlwings reads
    them — an entity without a basic value by its text, where xlwings' KeyError was « erreur inattendue »."""
    client, _ = server
    plan = _big_plan(3)
    plan[1][4] = {"type": "FormattedNumber", "basicValue": 1000, "numberFormat": "# ##0"}
    plan[2][1] = {"type": "String", "basicValue": "ETAT"}
    plan[3][3] = {"type": "Error", "basicValue": "#DIV/0!", "errorType": "Div0"}
    # an entity (a commune turned into a Geography data type) may come with its text alone: read as shown
    plan[3][1] = {"type": "Entity", "text": "ETAT", "properties": {"Population": {"type": "Double", "basicValue": 1}}}
    r = client.post("/xlwings/custom-functions-call",
                    json=_function_body("ACV_TOTAL_FINANCEUR", plan, [[{"type": "String", "basicValue": "ETAT"}]]))
    assert r.status_code == 200 and r.json() == {"result": [[3003.0]]}, r.text


def test_a_data_type_without_its_basic_value_is_read_by_its_text_in_every_argument(server):
    """Read by its text in a table (the test above), such a cell was « Requête illisible : appel de fonction
    incomplet » (400) as a function's other argument — financeur, statuts, année, `par` —, which xlwings converts
    itself and whose `basicValue` it looked up (KeyError)."""
    client, _ = server

    def entity(text: str) -> dict:
        return {"type": "Entity", "text": text, "properties": {}}

    for args, expected in (
            ((_big_plan(3), [[entity("ETAT")]], [[entity("Acquis")]], [[{"type": "Double"}]]), [[1000.0]]),
            ((_big_plan(3), entity("ETAT")), [[1000.0]])):
        r = client.post("/xlwings/custom-functions-call", json=_function_body("ACV_TOTAL_FINANCEUR", *args))
        assert r.status_code == 200 and r.json() == {"result": expected}, r.text
    r = client.post("/xlwings/custom-functions-call",
                    json=_function_body("ACV_SYNTHESE", _big_plan(3), [[entity("statut")]]))
    assert r.status_code == 200 and r.json()["result"][0][0] == "Statut", r.text


def test_malformed_calls_get_a_french_status_never_a_traceback(server):
    client, log = server
    cases = [
        ("/xlwings/custom-functions-call", b"{pas du json", 400, "JSON invalide"),
        ("/xlwings/custom-functions-call", b"[1, 2]", 400, "objet JSON est attendu"),
        # NaN and infinities, which JSON lacks and Excel never sends: the amount's line was dropped silently
        *[("/xlwings/custom-functions-call",
           json.dumps(_function_body("ACV_TOTAL_FINANCEUR", _big_plan(3), [["ETAT"]])).replace("1000.0,", f"{v},", 1)
           .encode(), 400, f"Requête illisible : JSON invalide (« {v} » n'est pas un nombre JSON).")
          for v in ("NaN", "Infinity", "-Infinity")],
        # a number past any double, which json reads as infinity: the same line dropped
        *[("/xlwings/custom-functions-call",
           json.dumps(_function_body("ACV_TOTAL_FINANCEUR", _big_plan(3), [["ETAT"]])).replace("1000.0,", f"{v},", 1)
           .encode(), 400, f"Requête illisible : nombre hors des limites d'Excel (« {shown} »).")
          for v, shown in (("1e309", "1e309"), ("-1e309", "-1e309"), ("1" + "0" * 400 + ".0", "1" + "0" * 18 + "…"))],
        ("/xlwings/custom-scripts-call/valider", b'{"sheets": [{"name": "x", "values": [[NaN]]}]}', 400,
         "« NaN » n'est pas un nombre JSON"),
        ("/xlwings/custom-functions-call", b'{"args": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400,
         "JSON trop imbriqué"),
        ("/xlwings/custom-functions-call", json.dumps({"func_name": "os.system", "args": []}).encode(), 404,
         "Fonction inconnue"),
        ("/xlwings/custom-functions-call", json.dumps(_function_body("ACV_SYNTHESE", [[1]]) | {"args": "x"}).encode(),
         400, "« args » doit être une liste"),
        # xlwings' own check: a VBA client of another version
        ("/xlwings/custom-functions-call",
         json.dumps(_function_body("ACV_SYNTHESE", _big_plan(2)) | {"client": "VBA", "version": "0.0.1"}).encode(),
         400, "Requête refusée : arguments ou version du complément"),
        # an add-in describing the functions of another version: no « Erreur interne »
        ("/xlwings/custom-functions-call", json.dumps(_function_body("ACV_SYNTHESE", *[[[1]]] * 5)).encode(), 400,
         "ACV_SYNTHESE prend de 1 à 3 arguments sur ce serveur, 5 reçus (rechargez le complément)"),
        ("/xlwings/custom-functions-call", json.dumps(_function_body("ACV_ECART", [[1]])).encode(), 400,
         "ACV_ECART prend 3 arguments sur ce serveur, 1 reçu"),
        # an empty range, which Excel never sends: xlwings' IndexError was « Erreur interne »
        *[("/xlwings/custom-functions-call", json.dumps(_function_body("ACV_TOTAL_FINANCEUR", _big_plan(2), empty)).encode(),
           400, "Requête illisible : argument 2 : plage vide ou mal formée")
          for empty in ([], [[]], [["ETAT"], []], [[[1], True]], [[["ETAT"]]])],
        # a cell no Excel sends (an object that is no data type's value): « #ACV: erreur inattendue (KeyError) »
        # in the cell, or, outside a table, « appel de fonction incomplet »
        *[("/xlwings/custom-functions-call", json.dumps(_function_body("ACV_TOTAL_FINANCEUR", *args)).encode(), 400,
           f"Requête illisible : {where} : une cellule doit être un texte, un nombre, un booléen, vide ou la valeur "
           "d'un type de données d'Excel.")
          for args, where in (
              (([row if i != 2 else row[:1] + [{}] + row[2:] for i, row in enumerate(_big_plan(3))], [["ETAT"]]),
               "argument 1, ligne 3, colonne 2"),
              ((_big_plan(2), [[{"type": 1, "basicValue": "ETAT"}]]), "argument 2, ligne 1, colonne 1"),
              ((_big_plan(2), [[{"type": "String", "basicValue": ["ETAT"]}]]), "argument 2, ligne 1, colonne 1"),
              ((_big_plan(2), {}), "argument 2"))],
        # a name no Python identifier: xlwings Server's English 400 (« The interactive mode of xlwings… »)
        *[(f"/xlwings/custom-scripts-call/{name}", b"{}", 404, "Script inconnu")
          for name in ("a-b", "%C3%A9t%C3%A9", "%3Cscript%3E", "a%0D%0AX", "__class__")],
        # a colon, a drive to Windows' paths: refused before any route (server_guard._climbs)
        ("/xlwings/custom-scripts-call/a%0D%0AX:y", b"{}", 404, "Adresse inconnue"),
        ("/xlwings/custom-scripts-call/..%2F..%2Fetc%2Fpasswd", b"{}", 404, "Adresse inconnue"),
        ("/xlwings/custom-scripts-call/valider", b'{"book": {}}', 400, "classeur attendu"),
        # what the add-in always sends, missing: the request's fault, not « Erreur interne »
        ("/xlwings/custom-functions-call",
         json.dumps({k: v for k, v in _function_body("ACV_SYNTHESE", _big_plan(2)).items() if k != "runtime"}).encode(),
         400, "appel de fonction incomplet"),
        # a `runtime` no add-in sends: xlwings' ValueError or TypeError as soon as the answer holds an error
        *[("/xlwings/custom-functions-call", json.dumps(_function_body("ACV_ECART", [[1]], [[1]], [[1]])
                                                        | {"runtime": runtime}).encode(),
           400, "Requête illisible : « runtime » doit être la version des fonctions d'Excel (« 1.4 »).")
          for runtime in ("x", [], {}, None, True, "nan")],
        ("/xlwings/custom-scripts-call/valider", b'{"sheets": [1, 2]}', 400, "classeur incomplet ou mal formé"),
        ("/xlwings/custom-scripts-call/valider", b'{"sheets": [{"name": "x"}], "book": {"name": "a.xlsx"}}', 400,
         "classeur incomplet ou mal formé"),
    ]
    for path, body, status, text in cases:
        r = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == status and text in r.text, (path, r.status_code, r.text)
        assert "Traceback" not in r.text
    assert "Traceback" not in log.read_text() and "erreur_" not in log.read_text()
    assert "interactive mode" not in log.read_text()


def test_past_the_cap_on_connections_the_answer_is_french(tmp_path):
    """uvicorn's own cap (open connections: within the process's file descriptors) answered « Service
    Unavailable » in English, into the cell. 200 descriptors: a cap of 100. Idle connections are
    closed to make room (the test below): here, requests whose content is still awaited (13 threads:
    the requests a process holds, 13 × 8, and the cap, both 104)."""
    import resource

    from udfs.server_guard import BUSY

    def few_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    port = _free_port()
    with open(tmp_path / "serveur.log", "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "acv_xl", "serveur", "--port", str(port), "--fils", "13"],
                                cwd=ROOT, env=_env(), stdout=out, stderr=subprocess.STDOUT, preexec_fn=few_files)
    idle: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        for _ in range(103):
            idle.append(socket.create_connection(("127.0.0.1", port)))
            idle[-1].sendall(b"POST /xlwings/custom-functions-call HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        time.sleep(0.5)
        # (relayed in HTTPS by the front end of this machine: HSTS, as on every other answer — it had none)
        r = httpx.post(f"http://127.0.0.1:{port}/xlwings/custom-functions-call", headers={"X-Forwarded-Proto": "https"},
                       json=_function_body("ACV_SYNTHESE", _big_plan(2)), timeout=30)
        assert (r.status_code, r.text) == (503, BUSY + "\n")
        assert r.headers.get("strict-transport-security") == "max-age=31536000; includeSubDomains", r.headers
    finally:
        for s in idle:
            s.close()
        proc.terminate()
        proc.wait(timeout=20)
    log = (tmp_path / "serveur.log").read_text()
    assert "issue=connexions_epuisees statut=503" in log and "Traceback" not in log


def test_half_a_character_from_a_cell_comes_back_escaped_not_as_an_english_500(server):
    """Excel's =GAUCHE("😀";1) leaves one UTF-16 unit in a cell, which Office.js sends as « \\ud83d ».
    Quoted back in a total's label, it has no UTF-8: the answer was lost in uvicorn's English
    « Internal Server Error » and a traceback in the log."""
    client, log = server
    plan = _big_plan(3)
    plan[1][1] = "ETAT\ud83d"
    body = json.dumps(_function_body("ACV_SYNTHESE", plan))  # ASCII with its \\ud83d escape, as JSON.stringify
    r = client.post("/xlwings/custom-functions-call", content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    labels = [row[0] for row in r.json()["result"]]
    assert "ETAT\ud83d" in labels and "REGION" in labels
    assert "Traceback" not in log.read_text()


def test_the_frameworks_own_refusals_are_french(server):
    """An unknown address, a method an address does not take, missing parameters: FastAPI answered
    {"detail": "Not Found"}… in English (what a préfecture's IT or a scanner trying the server sees)."""
    client, _ = server
    for method, path, status, text in (
            ("GET", "/inconnue", 404, "Adresse inconnue de ce serveur."),
            ("GET", "/static/../../pyproject.toml", 404, "Adresse inconnue de ce serveur."),
            ("GET", "/static/js/inconnu.js", 404, "Adresse inconnue de ce serveur."),
            ("PUT", "/manifest", 405, "Méthode non permise pour cette adresse."),
            ("GET", "/xlwings/alert", 422, "Requête incomplète ou mal formée pour cette adresse.")):
        r = client.request(method, path, json={} if method == "PUT" else None)
        assert (r.status_code, r.text) == (status, text + "\n"), (method, path, r.text)
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert client.put("/manifest", json={}).headers["allow"] == "GET"
    # the server's own refusals pass unchanged
    # (sealed for the add-in's message box: server_alert)
    assert client.post("/xlwings/custom-scripts-call/inconnu", json={}).text.startswith(
        "Script inconnu de ce serveur.\n[acv-xl:")


def test_no_address_climbs_out_of_the_add_in_s_files(server, tmp_path):
    """xlwings Server's static files look in the project's folder without checking that the file
    stays inside it: GET /static/%2e%2e/%2e%2e/… (or « ..%2f », which uvicorn decodes too) served,
    without a token, any file the service may read — the token file, the TLS key. Sent on a socket:
    an HTTP client removes the « .. » itself before sending (as httpx did in the test above)."""
    client, log = server
    secret = tmp_path / "jetons.txt"
    secret.write_text("arras secret-du-fichier-de-jetons-0123456789\n", encoding="utf-8")
    static = ROOT / "udfs" / "server_project" / "static"
    up = len(static.parts) - 1  # from the static folder to the root of the disk
    target = str(secret).lstrip("/")
    port = client.base_url.port
    for path in ("/static/" + "%2e%2e/" * up + target,
                 "/static/" + "..%2f" * up + target.replace("/", "%2f"),
                 "/static/" + "../" * up + target,
                 "/static/%2e%2e/%2e%2e/server_config.py",
                 "/static/..%5c..%5cserver_config.py",
                 "/static/./js/../../../server_config.py"):
        got, _ = _exchange(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode(),
                           wait=5)
        assert got.startswith(b"HTTP/1.1 404 "), (path, got[:200])
        assert b"secret-du-fichier" not in got and b"ServerConfig" not in got
        assert got.endswith("Adresse inconnue de ce serveur.\n".encode()), got[-200:]
    assert log.read_text().count("issue=chemin_refuse statut=404") >= 6
    assert client.get("/static/js/auth.js").status_code == 200  # the add-in's own files still served


def test_no_address_windows_would_rewrite_reaches_the_add_in_s_files():
    """Windows trims a segment's trailing dots and spaces and opens a device for « NUL », « com1.js »
    in any folder: « /static/..%20/… » or « /static/... » passed the guard (only « . » and « .. »
    exactly were refused), and the project's static folder is read without Starlette's check that the
    file stays inside it. Every file the add-in is served still passes."""
    from udfs.server_guard import _climbs
    import xlwings_server

    for path in ("/static/.. /.. /server_config.py", "/static/.../x", "/static/js/auth.js.", "/static/js/auth.js ",
                 "/static/NUL", "/static/js/com1.js", "/static/CON .txt", "/static/conout$", "/static/LPT¹"):
        assert _climbs(path), path
    for folder in (ROOT / "udfs" / "server_project" / "static", Path(xlwings_server.__file__).parent / "static"):
        for f in folder.rglob("*"):
            assert not _climbs("/static/" + f.relative_to(folder).as_posix()), f
    for path in ("/manifest", "/xlwings/custom-scripts-call/valider", "/static/console.js", "/"):
        assert not _climbs(path), path


def test_head_reads_the_add_in_s_files_as_get_does(server):
    """`curl -I https://…/manifest`, a supervision's probe or a link checker, got 405 « Méthode non
    permise » (FastAPI's routes take only GET), though the docs call GET and HEAD the public methods:
    the manifest looked broken. HEAD now has GET's status and headers, without the body."""
    client, log = server
    client.headers.pop("Authorization", None)  # public, as GET
    try:
        for path in ("/manifest", "/manifest/download", "/taskpane", "/xlwings/custom-functions-meta", "/"):
            got, head = client.get(path), client.head(path)
            assert head.status_code == got.status_code == 200, (path, head.status_code)
            assert head.content == b"" and head.headers["content-length"] == str(len(got.content)), path
            assert head.headers["content-type"] == got.headers["content-type"], path
        assert client.head("/inconnue").status_code == 404
    finally:
        client.headers.update(AUTH)
    assert re.search(r" HEAD /manifest statut=200 ", log.read_text())


def test_a_burst_of_calls_waits_its_turn_and_any_refusal_is_french(tmp_path):
    """One thread (`--fils 1`): a recalculation's calls wait for it rather than being refused (a
    pool of 1 let 4 wait, the rest got 503), and a burst past what a process holds gets our French
    « Serveur occupé », never uvicorn's own « Service Unavailable » (which reached the cells)."""
    import asyncio

    from udfs.server_guard import BUSY

    plan = _big_plan(40)
    expected = sum(r[4] for r in plan[1:] if r[1] == "ETAT")

    async def burst(port: int, n: int) -> list[tuple[int, str]]:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AUTH, limits=limits,
                                     timeout=120) as c:
            async def one():
                r = await c.post("/xlwings/custom-functions-call",
                                 json=_function_body("ACV_TOTAL_FINANCEUR", plan, [["ETAT"]]))
                return r.status_code, r.text
            return await asyncio.gather(*[one() for _ in range(n)])

    with running_server(tmp_path / "serveur.log", "--fils", "1",
                        env=_env(ACV_XL_JETON=TOKEN)) as (client, log, port):
        waited = asyncio.run(burst(port, 60))
        assert [s for s, _ in waited] == [200] * 60
        assert [json.loads(t)["result"][0][0] for _, t in waited] == [pytest.approx(expected)] * 60
        answers = asyncio.run(burst(port, 300))
        refused = [t for s, t in answers if s != 200]
        assert all(t == BUSY + "\n" for t in refused), {t for t in refused}
        assert len(refused) < 300
        time.sleep(0.2)
        assert "Exceeded concurrency limit" not in log.read_text()
        if refused:
            assert "issue=serveur_occupe statut=503" in log.read_text()


def test_the_loop_is_the_one_uvicorn_would_run_under_windows(monkeypatch):
    """Without uvloop (Windows), each process of --processus runs SelectorEventLoop as uvicorn does:
    the Proactor loop that a lone process keeps fails there (« [WinError 87] », uvicorn's issue 1317)."""
    import asyncio
    import multiprocessing

    from udfs import server_http

    proactor = type("ProactorEventLoop", (asyncio.SelectorEventLoop,), {})
    monkeypatch.setitem(sys.modules, "uvloop", None)  # not installed
    monkeypatch.setattr(asyncio, "ProactorEventLoop", proactor, raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: None)
    assert server_http._loop_class() is proactor
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())  # a process of --processus
    assert server_http._loop_class() is asyncio.SelectorEventLoop
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: None)
    assert server_http._loop_class() is asyncio.SelectorEventLoop
    loop = server_http.new_loop()  # the handshake's deadline on whichever loop
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop) and isinstance(loop, server_http._HandshakeDeadline)
    finally:
        loop.close()


@pytest.mark.parametrize("loop_of", ["uvloop", "asyncio"])
def test_a_tls_connection_is_counted_at_its_accept_on_either_loop(loop_of, monkeypatch, tmp_path):
    """`--connexions-par-adresse` in HTTPS direct counts a connection as soon as it is accepted, on
    uvloop and on asyncio's own loop (Windows): one that never starts its handshake takes its place,
    the next is closed at once, and a place is given back when a handshake fails or the client leaves."""
    import asyncio

    from udfs import server_http

    if loop_of == "asyncio":
        monkeypatch.setitem(sys.modules, "uvloop", None)
    monkeypatch.setattr(server_http, "_OPEN", {})
    monkeypatch.setattr(server_http, "_TOLD", set())
    monkeypatch.setattr(server_http, "_IDLE", server_http._Idle())
    monkeypatch.setattr(server_http, "_COUNT", {"open": 0})
    monkeypatch.setattr(server_http, "address_key", lambda peer: "un client")  # the loopback counted
    served, client = _tls_contexts(tmp_path)

    Http = _stand_in(per_address=1, limit=4096, release=True)

    async def closed_at_once(port) -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(reader.read(1), 3) == b""
        except ConnectionResetError:
            return True
        finally:
            writer.close()

    async def scenario():
        server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0, ssl=served)
        port = server.sockets[0].getsockname()[1]
        _, silent = await asyncio.open_connection("127.0.0.1", port)  # no handshake
        await asyncio.sleep(0.1)
        assert server_http._OPEN == {"un client": 1}
        assert await closed_at_once(port)
        silent.close()
        await asyncio.sleep(0.2)
        assert server_http._OPEN == {}  # given back: the handshake never done
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
        writer.write(b"?")
        assert await asyncio.wait_for(reader.read(2), 3) == b"ok"
        assert server_http._OPEN == {"un client": 1}
        writer.close()
        await asyncio.sleep(0.2)
        assert server_http._OPEN == {}
        server.close()

    _run_on(loop_of, scenario)


@pytest.mark.parametrize("loop_of", ["uvloop", "asyncio"])
def test_a_connection_waiting_for_its_handshake_makes_room_on_either_loop(loop_of, monkeypatch, tmp_path):
    """Past the connections a process takes, the one waiting longest for its TLS handshake is closed
    to make room (`server_http._make_room`), on uvloop and on asyncio's own loop (Windows), and
    uncounted at once; a handshake done is no longer waiting."""
    import asyncio

    from udfs import server_http

    if loop_of == "asyncio":
        monkeypatch.setitem(sys.modules, "uvloop", None)
    monkeypatch.setattr(server_http, "_IDLE", server_http._Idle())
    monkeypatch.setattr(server_http, "_COUNT", {"open": 0})
    served, client = _tls_contexts(tmp_path)

    Http = _stand_in(per_address=0, limit=3)

    async def closed(reader) -> bool:
        try:
            return await asyncio.wait_for(reader.read(1), 3) == b""
        except ConnectionResetError:
            return True

    async def scenario():
        server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0, ssl=served)
        port = server.sockets[0].getsockname()[1]
        first, first_writer = await asyncio.open_connection("127.0.0.1", port)  # no handshake
        second, second_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.1)
        assert server_http._COUNT == {"open": 2} and len(server_http._IDLE) == 2
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)  # the third: room made
        assert await closed(first)
        writer.write(b"?")
        assert await asyncio.wait_for(reader.read(2), 3) == b"ok"
        assert server_http._COUNT == {"open": 2} and len(server_http._IDLE) == 1  # the second still waits
        assert not second.at_eof()
        for w in (writer, first_writer, second_writer):
            w.close()
        server.close()

    _run_on(loop_of, scenario)


@pytest.mark.parametrize("loop_of", ["uvloop", "asyncio"])
def test_room_is_made_at_the_expense_of_the_address_waiting_most(loop_of, monkeypatch, tmp_path):
    """Past the connections a process takes, the connection waiting longest was closed whatever its
    address: a few addresses opening connection after connection (each closed at once, their count
    under `--connexions-par-adresse` freed) closed every commune's handshake or request still on its
    way. The one closed is now the oldest of the address with the most connections waiting."""
    import asyncio

    from udfs import server_http

    if loop_of == "asyncio":
        monkeypatch.setitem(sys.modules, "uvloop", None)
    monkeypatch.setattr(server_http, "_IDLE", type(server_http._IDLE)())
    monkeypatch.setattr(server_http, "_COUNT", {"open": 0})
    monkeypatch.setattr(server_http, "_OPEN", {})
    monkeypatch.setattr(server_http, "_TOLD", set())
    monkeypatch.setattr(server_http, "address_key", lambda peer: peer[0])  # 127.0.0.x: one address each
    served, _client = _tls_contexts(tmp_path)
    Http = _stand_in(per_address=100, limit=5)

    async def closed(reader) -> bool:
        try:
            return await asyncio.wait_for(reader.read(1), 1) == b""
        except ConnectionResetError:
            return True
        except asyncio.TimeoutError:
            return False

    async def scenario():
        server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0, ssl=served)
        port = server.sockets[0].getsockname()[1]
        opened = []
        for source in ["127.0.0.3"] + ["127.0.0.2"] * 4:  # a commune's handshake on its way, then four others
            opened.append(await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)))
            await asyncio.sleep(0.05)
        commune, first, *others = [reader for reader, _ in opened]
        assert server_http._COUNT == {"open": 4}
        assert await closed(first) and not await closed(commune)
        await asyncio.sleep(0.1)
        # the one closed no longer counted for its address (it stayed counted until a restart)
        assert server_http._OPEN == {"127.0.0.2": 3, "127.0.0.3": 1}
        assert not any([await closed(reader) for reader in others])
        for _, writer in opened:
            writer.close()
        server.close()

    _run_on(loop_of, scenario)
