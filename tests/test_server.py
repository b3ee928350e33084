"""xlwings Server for real: `acv-xl serveur` in a subprocess on a free loopback port, spoken to
over HTTP like the Office.js add-in does (the server mode needs XLWINGS_ON_SERVER before xlwings
is imported, which a separate process guarantees inside one pytest run)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("serveur") / "serveur.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XLWINGS_")}
    env["XLWINGS_LICENSE_KEY"] = "noncommercial"
    out = open(log, "w")  # a file, not a pipe: nobody reads a pipe while the server logs
    proc = subprocess.Popen([sys.executable, "-m", "acv_xl", "serveur", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=60)
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
            time.sleep(0.5)
        yield client, log
    finally:
        client.close()
        out.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_startup_message_names_the_manifest_url(server):
    _, log = server
    out = log.read_text()
    assert "Manifeste du complément à charger dans Excel : http://127.0.0.1:" in out
    assert "/manifest" in out and "HTTPS" in out  # the mkcert hint, as the test runs without certificates


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
        assert s["include"].split(",") == scripts.INCLUDE


def _faulty_example() -> Path:
    from acv_xl.outputs.examples import FAUTES_ATTENDUES

    return ROOT / "workbooks" / "exemples" / sorted(FAUTES_ATTENDUES)[0]


def test_valider_over_http_answers_the_same_actions_as_in_process(server):
    client, _ = server
    path = _faulty_example()
    payload = payload_from_xlsx(path, include=scripts.INCLUDE)
    r = client.post("/xlwings/custom-scripts-call/valider", json=payload)
    assert r.status_code == 200, r.text
    over_http = r.json()["actions"]
    book = remote_book(payload_from_xlsx(path, include=scripts.INCLUDE))
    scripts.run_valider(book, today=date.today())
    assert over_http == book.json()["actions"]
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
    js = client.get("/static/js/acv-demarrage.js")
    assert js.status_code == 200
    named = [n for n in layout.NAMED_BY_NAME if f'"{n}"' in js.text]
    assert named == ["acv_version_modele"] and "StartupBehavior.load" in js.text


def test_a_busy_port_gives_a_french_message_and_status_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("XLWINGS_")}
        done = subprocess.run([sys.executable, "-m", "acv_xl", "serveur", "--port", str(port)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"impossible d'écouter sur 127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
