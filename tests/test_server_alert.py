"""The add-in's message box (`/xlwings/alert`, udfs/server_alert.py) shows only the server's messages.

The application itself runs in a subprocess under FastAPI's TestClient: the server mode needs
XLWINGS_ON_SERVER before xlwings is first imported, which another test of this run may have done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from udfs import server_alert as A

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "jeton-de-test-" + "x" * 24


def test_a_seal_covers_the_message_its_framing_and_its_age(monkeypatch):
    monkeypatch.setenv(A.ENV_KEY, "k" * 43)
    now = time.time()
    sealed = A.seal("Validation terminée.", "Action Cœur de Ville", "ok", "info", "", now=now)
    params = dict(zip(A.PARAMS, (sealed, "Action Cœur de Ville", "ok", "info", "")))
    assert A.checked(params, now=now + 10) == dict(params, prompt="Validation terminée.")
    for forged in (dict(params, prompt=sealed.replace("terminée", "annulée")),
                   dict(params, title="Votre mot de passe a expiré"),
                   dict(params, buttons="yes_no"), dict(params, callback="x")):
        assert A.checked(forged, now=now)["prompt"] == A.UNSEALED
    assert A.checked(params, now=now + A.MAX_AGE + 1)["prompt"] == A.UNSEALED  # too old
    monkeypatch.setenv(A.ENV_KEY, "m" * 43)  # another deployment's key
    assert A.checked(params, now=now)["prompt"] == A.UNSEALED
    # the add-in's own texts, translated by the page, pass framed as a failure only
    forged = dict(zip(A.PARAMS, ("No response received from server", "Mot de passe", "yes", "x", "cb")))
    assert A.checked(forged) == dict(zip(A.PARAMS, ("No response received from server", *A.FAILURE)))


_APP = r"""
import json, os, re, sys
os.environ["XLWINGS_ON_SERVER"] = "true"
from udfs.server import configure_environment
configure_environment()
import xlwings_payload
from fastapi.testclient import TestClient
from udfs import scripts, server_app

client = TestClient(server_app.app)
auth = {"Authorization": "Bearer " + os.environ["ACV_XL_JETON"]}

def box(prompt, title="Error", buttons="ok", mode="critical", callback=""):
    page = client.get("/xlwings/alert", params={"prompt": prompt, "title": title, "buttons": buttons,
                                                "mode": mode, "callback": callback})
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", page.text, re.S).group(1).strip()
    p = re.search(r"<p>(.*?)</p>", page.text, re.S).group(1).strip()
    return [page.status_code, h1, p, ">Oui<" in page.text]

out = {}
phishing = "Votre mot de passe a expiré : saisissez-le sur https://acv-prefecture.example"
out["forged"] = box(phishing, "Action Cœur de Ville", "yes_no")
out["forged_html"] = box("<b>" + phishing + "</b>")
out["no_answer"] = box("No response received from server")
# a refusal by the door (no token) and one by the call (bad JSON), as the add-in shows them
r = client.post("/xlwings/custom-scripts-call/valider", content=b"{}", headers={"Content-Type": "application/json"})
out["token"] = [r.status_code, box(r.text)]
r = client.post("/xlwings/custom-scripts-call/valider", content=b"{pas du json",
                headers={"Content-Type": "application/json", **auth})
out["json"] = [r.status_code, box(r.text)]
out["json_retitled"] = box(r.text, "Action Cœur de Ville")
out["json_edited"] = box(r.text.replace("JSON invalide", "mot de passe expiré"))
# a script's own message box: too many cells for this server
payload = xlwings_payload.payload_from_xlsx(sys.argv[1], include=scripts.INCLUDE)
r = client.post("/xlwings/custom-scripts-call/valider", json=payload, headers=auth)
[alert] = [a["args"] for a in r.json()["actions"] if a["func"] == "alert"]
out["action"] = [r.status_code, alert[1:], box(*alert)]
# a function's refusal is not for the box: never sealed
r = client.post("/xlwings/custom-functions-call", content=b"{pas du json",
                headers={"Content-Type": "application/json", **auth})
out["function"] = [r.status_code, r.text]
r = client.post("/xlwings/custom-scripts-call/valider", content=b"{}",
                headers={"Content-Type": "votre mot de passe a expire, saisissez-le ici", **auth})
out["ctype"] = [r.status_code, r.text]
# VBA's RunRemotePython shows the answer itself in a MsgBox: nothing sealed for it
vba = {"User-Agent": "VBA-Web v4.1.6 (https://github.com/VBA-tools/VBA-Web)"}
r = client.post("/xlwings/custom-scripts-call/valider", content=b"{}", headers={"Content-Type": "application/json", **vba})
out["vba_token"] = [r.status_code, r.text]
r = client.post("/xlwings/custom-scripts-call/valider", json=payload, headers={**auth, **vba})
out["vba_action"] = [a["args"][0] for a in r.json()["actions"] if a["func"] == "alert"]
print(json.dumps(out))
"""


def _run_app(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("XLWINGS_", "ACV_XL_"))}
    base.update(XLWINGS_LICENSE_KEY="noncommercial", ACV_XL_JETON=TOKEN,
                PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]), **env)
    example = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx"))[0]
    done = subprocess.run([sys.executable, "-c", _APP, str(example)], env=base, capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_box_shows_the_server_s_messages_and_nothing_a_link_makes_up():
    """Anyone could send a commune a link to the préfecture's own server showing « Votre mot de
    passe a expiré… » in the add-in's box; now only messages the server sealed are shown."""
    out = _run_app(ACV_XL_MAX_CELLULES="100")
    unsealed = A.UNSEALED.replace("'", "&#39;")
    assert out["forged"] == [200, "Erreur", unsealed, False]
    assert out["forged_html"][2].startswith("Le serveur ACV n&#39;a pas pu traiter") \
        and "mot de passe" not in out["forged_html"][2]
    assert out["no_answer"][1:3] == ["Erreur", out["no_answer"][2]] and out["no_answer"][2].startswith(
        "Pas de réponse du serveur ACV")
    status, (code, title, text, _) = out["token"]
    assert status == 401 and (code, title) == (200, "Erreur") and text.startswith("Jeton d&#39;accès absent")
    assert "acv-xl:" not in text
    assert out["json"] == [400, [200, "Erreur", "Requête illisible : JSON invalide.", False]]
    assert out["json_retitled"][2] == unsealed and out["json_edited"][2] == unsealed
    status, framing, (code, title, text, _) = out["action"]
    assert status == 200 and framing[0] == "Action Cœur de Ville"
    assert title == "Action Cœur de Ville" and text.startswith("Classeur trop grand pour le serveur")
    assert out["function"] == [400, "Requête illisible : JSON invalide.\n"]
    assert out["ctype"][0] == 415 and "mot de passe" not in out["ctype"][1] and "« illisible »" in out["ctype"][1]
    # VBA's RunRemotePython: its MsgBox shows the messages as they are, without a seal line
    assert out["vba_token"][0] == 401 and out["vba_token"][1].startswith("Jeton d'accès absent") \
        and "acv-xl:" not in out["vba_token"][1]
    [vba_alert] = out["vba_action"]
    assert vba_alert.startswith("Classeur trop grand pour le serveur") and "acv-xl:" not in vba_alert


def test_the_task_pane_banner_shows_a_refusal_without_its_seal():
    """The task pane's buttons show a refused call's text in the pane's red banner (xlwings'
    `errorDisplayMode: "taskpane"`), not in the box: the seal made for the box is removed there."""
    import shutil

    node = shutil.which("node")
    assert node, "node est nécessaire à ce test (le script de la page du complément)"
    script = Path(A.__file__).parent / "server_project" / "static" / "js" / "acv-textes.js"
    message = "Jeton d'accès absent ou invalide : saisissez le jeton fourni par la préfecture."
    harness = """
const span = { textContent: "" };
let onLoad, observer;
globalThis.document = {
  documentElement: {},
  addEventListener: (_, f) => { onLoad = f; },
  querySelector: (s) => (s === "#global-error-alert span" ? span : null),
  querySelectorAll: () => [],
};
globalThis.MutationObserver = class { constructor(f) { observer = f; } observe() {} };
require(process.argv[1]);
onLoad();
span.textContent = process.argv[2];
observer();
process.stdout.write(span.textContent);
"""
    out = subprocess.run([node, "-e", harness, str(script), A.seal(message)], capture_output=True, text=True,
                         check=True).stdout
    assert out == message
