"""The add-in's message box (`/xlwings/alert`, udfs/server_alert.py) shows only the server's messages.

The application itself runs in a subprocess under FastAPI's TestClient: the server mode needs
XLWINGS_ON_SERVER before xlwings is first imported, which another test of this run may have done."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from _server_program import run_program
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
    example = sorted((ROOT / "workbooks" / "exemples").glob("*.xlsx"))[0]
    return run_program(_APP, str(example), **{"ACV_XL_JETON": TOKEN, **env})[0]


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


_DISPATCH = r"""
// xlwings' own dispatcher (the file it serves), its runMacro as xlwings Server's, the callback of
// acv-protection.js registered as the task pane registers it, over a fake Excel whose sheets `protegees` says, and
// whose workbook's structure `classeur` says protected (« 1 »)
const [dispatchJs, protectionJs, textesJs, answer, protegees, panne, classeur] = process.argv.slice(1);
const { dispatchActions } = await import(dispatchJs);
globalThis.Office = { context: { requirements: { isSetSupported: () => true } } };
const onLoad = [];
globalThis.document = { addEventListener: (_, f) => onLoad.push(f), querySelector: () => null, querySelectorAll: () => [],
                        documentElement: {} };
globalThis.callbacks = {};
globalThis.xlwings = { registerCallback: (f) => { globalThis.callbacks[f.name] = f; } };
const require = (await import("node:module")).createRequire(import.meta.url);
require(protectionJs);
onLoad.forEach((f) => f());
const written = [];
const states = JSON.parse(protegees);  // sheet → [protected, its cells left unlocked, formatting of cells allowed]
const loaded = [];
const context = {
  workbook: { protection: { load() { loaded.push(() => { this.protected = classeur === "1"; }); return this; } },
              worksheets: { getItemOrNullObject: (nom) => {
    const ws = { isNullObject: !(nom in states), protection: {},
                 load: (lu) => {
                   const lu_ = () => {
                     ws.protection.protected = states[nom][0];
                     // (null: an Excel that loads the options but says nothing of that one)
                     const options = states[nom][2] === null ? {} : { allowFormatCells: !!states[nom][2] };
                     if (lu.includes("protection/options")) ws.protection.options = options;
                   };
                   lu_.options = lu.includes("protection/options");
                   loaded.push(lu_);
                   return ws;
                 },
                 getRange: (cell) => ({ format: { protection: { load() {
                   loaded.push(() => { this.locked = !states[nom][1].includes(cell); });
                   return this;
                 } } } }) };
    return ws;
  } } },
  sync: async () => {
    const lus = loaded.splice(0);
    // Excel refusing the check's reads (its queue dropped); « options »: those of what a protection allows only
    if (panne && lus.length && (panne !== "options" || lus.some((f) => f.options))) throw new Error(panne);
    lus.forEach((f) => f());
  },
};
globalThis.console.warn = () => {};
const funcs = {};  // every other action: done, in order
for (const { func } of JSON.parse(answer).actions) funcs[func] = async () => written.push(func);
funcs.runMacro = async (ctx, action) => globalThis.callbacks[action.args[0]](ctx, ...action.args.slice(1));
let shown = null;
try {
  await dispatchActions(JSON.parse(answer).actions, context, { ...funcs, ...globalThis.callbacks });
} catch (error) {
  shown = `${error}`;  // what runPython gives the box (xlAlert) and the task pane's banner
}
// the banner, its text set by runPython as acv-textes.js finds it
const span = { textContent: "" };
let observer;
globalThis.document = { documentElement: {}, addEventListener: (_, f) => f(), querySelectorAll: () => [],
                        querySelector: (s) => (s === "#global-error-alert span" ? span : null) };
globalThis.MutationObserver = class { constructor(f) { observer = f; } observe() {} };
require(textesJs);
span.textContent = shown ?? "";
observer();
process.stdout.write(JSON.stringify({ shown, banner: span.textContent, written }));
"""


def _dispatched(tmp_path: Path, answer: dict, protected: dict[str, list], panne: str = "",
                classeur: bool = False) -> dict:
    """The actions of `answer` run by xlwings' own dispatcher over a fake Excel (`_DISPATCH`): sheet → [protected, its
    cells left unlocked, formatting of cells allowed]; `classeur`: the workbook's structure protected."""
    import shutil

    import xlwings_server

    node = shutil.which("node")
    assert node, "node est nécessaire à ce test (les scripts du complément)"
    static = Path(A.__file__).parent / "server_project" / "static" / "js"
    dispatch = tmp_path / "action-dispatch.mjs"  # (an ES module: node reads a .js as CommonJS)
    dispatch.write_text((Path(xlwings_server.__file__).parent / "static" / "js" / "custom-scripts" /
                         "action-dispatch.js").read_text(encoding="utf-8"), encoding="utf-8")
    out = subprocess.run([node, "--input-type=module", "-e", _DISPATCH, str(dispatch),
                          str(static / "acv-protection.js"), str(static / "acv-textes.js"), json.dumps(answer),
                          json.dumps(protected), panne, "1" if classeur else ""], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def _box(shown: str) -> str:
    """What the add-in's box shows of a failure `shown` (the task pane's text of the error)."""
    return A.checked(dict(zip(A.PARAMS, (shown, *A.FAILURE))))["prompt"]


def test_a_protected_sheet_stops_valider_before_any_write_with_a_french_message(tmp_path, monkeypatch):
    """Contrôles protected (Révision > Protéger la feuille): « Valider » on the web stopped on Excel's own English
    text (« The cell or chart you're trying to change is protected… ») in the task pane, and in the box on « Le
    complément n'a pas pu terminer l'opération dans Excel. Réessayez… », which no retry mends — the writes before
    the refused one done. The add-in sends no sheet's protection: the button's first action has Excel look at the
    sheets it writes into, and the first one protected stops it before any write, with the server's French
    message (sealed for the box), in the box and in the banner alike. Untested here: Excel itself (the fake
    context stands for its `protection.protected`), and the task pane's loading of acv-protection.js."""
    from xlwings_payload import payload_from_xlsx, remote_book  # (first: the licence key xlwings reads)

    from udfs import scripts
    from acv_xl.contract import layout

    monkeypatch.setenv(A.ENV_KEY, "k" * 43)
    path = ROOT / "workbooks" / "exemples" / "bethune-bruay.xlsx"
    payload = payload_from_xlsx(path, exclude=scripts.EXCLUDE)
    book = remote_book(payload)
    scripts.run_valider(book)
    answer = A.seal_actions(book.json())
    first = answer["actions"][0]
    assert first["func"] == "runMacro" and first["args"][0] == A.PROTECTION_CHECK
    status = [layout.NAMED_BY_NAME[n].cell for n in ("acv_statut", "acv_date_validation", "acv_empreinte")]
    assert [(name, cells, colours) for name, _message, cells, colours in first["args"][1]] \
        == [(layout.Sheet.CONTROLES, [], False), (layout.Sheet.ACCUEIL, status, False)]
    run = lambda protected, panne="": _dispatched(tmp_path, answer, protected, panne)  # noqa: E731
    box = _box
    for sheet, said in ((layout.Sheet.CONTROLES, "les constats de la validation s'y écrivent"),
                        (layout.Sheet.ACCUEIL, "la validation y écrit son statut")):
        got = run({layout.Sheet.CONTROLES: [sheet == layout.Sheet.CONTROLES, []], layout.Sheet.ACCUEIL: [True, []]})
        expected = (f"Validation impossible : la feuille « {sheet} » est protégée, et {said}. Déprotégez-la (onglet "
                    "Révision > Ôter la protection de la feuille), puis cliquez de nouveau sur « Valider ». Rien n'a "
                    "été modifié dans le classeur.")
        assert got["written"] == [] and got["shown"].startswith("Error: Action 1 (runMacro) failed: ")
        assert box(got["shown"]) == expected and got["banner"] == expected
    # no sheet protected, or the Accueil only, its status cells left unlocked: every action runs, nothing shown
    for accueil in ([False, []], [True, status]):
        got = run({layout.Sheet.CONTROLES: [False, []], layout.Sheet.ACCUEIL: accueil})
        assert got["shown"] is None and got["written"] == [a["func"] for a in answer["actions"][1:]]
    # one of them locked: stopped
    got = run({layout.Sheet.CONTROLES: [False, []], layout.Sheet.ACCUEIL: [True, status[:2]]})
    assert got["written"] == [] and box(got["shown"]).startswith("Validation impossible : la feuille « Accueil »")
    # Excel refusing the check's reads (an API of the check it has not): every action runs, as before the check —
    # the writes tell, as on the desktop; the check stopped every click for ever on « n'a pas pu vérifier »
    got = run({layout.Sheet.CONTROLES: [True, []], layout.Sheet.ACCUEIL: [True, []]}, panne="GeneralException")
    assert got["shown"] is None and got["written"] == [a["func"] for a in answer["actions"][1:]]
    # the check itself failed (a task pane loaded before the server's update has no such callback): said so, in French
    assert box("Error: Action 1 (runMacro) failed: globalThis.callbacks[action.args[0].toString(...)] is not a "
               "function. Up to 1 action may already have been applied, including the failing action.") == A.CHECK_FAILED
    # a message framed so without its seal, or sealed for another framing, is not shown
    forged = "Error: Action 1 (runMacro) failed: Votre mot de passe a expiré. Up to 1 action may already have been " \
             "applied, including the failing action."
    assert box(forged) == A.CHECK_FAILED and box(forged.replace("Action 1", "Action 2")) == A.UNSEALED
    # VBA's client (RunRemotePython) and xlwings Lite have no such callback: not asked
    import xlwings as xw

    payload["client"] = "VBA"
    vba = xw.Book(json=payload)
    scripts.run_valider(vba)
    assert all(a["func"] != "runMacro" for a in vba.json()["actions"])


def test_a_protected_data_sheet_or_workbook_stops_valider_before_any_write(tmp_path, monkeypatch):
    """« Plan de financement » protected, cells to colour there: the colours, set last, were refused by Excel on the
    web after Contrôles, the status and the validated data were written — the add-in's generic « n'a pas pu terminer
    l'opération » shown, the previous run's colours left on cells since corrected. The workbook's structure protected
    (Révision > Protéger le classeur): the first validation without errors, which adds the hidden sheet of the
    validated data, failed so after writing Contrôles. Both are now looked at first, and stop « Valider » with what
    to unprotect; a protection that allows the formatting of cells takes the colours."""
    from xlwings_payload import payload_from_xlsx, remote_book  # (first: the licence key xlwings reads)

    from acv_xl.contract import layout
    from udfs import scripts

    monkeypatch.setenv(A.ENV_KEY, "k" * 43)
    plan = layout.Sheet.FINANCEMENT
    again = "puis cliquez de nouveau sur « Valider ». Rien n'a été modifié dans le classeur."
    book = remote_book(payload_from_xlsx(ROOT / "workbooks" / "exemples" / "boulogne-sur-mer.xlsx",
                                         exclude=scripts.EXCLUDE))
    assert not scripts.run_valider(book).valide
    answer = A.seal_actions(book.json())
    first = answer["actions"][0]
    assert [(name, colours) for name, _message, _cells, colours in first["args"][1]][-1] == (plan, True)
    assert first["args"][2] is None  # no sheet added, hidden nor shown: the workbook's protection not looked at
    got = _dispatched(tmp_path, answer, {plan: [True, [], False]}, classeur=True)
    assert got["written"] == [] and _box(got["shown"]) == got["banner"] == (
        f"Validation impossible : la feuille « {plan} » est protégée, et la validation y colore les cellules à "
        "corriger (et retire la couleur de celles qui ne le sont plus). Déprotégez-la (onglet Révision > Ôter la "
        "protection de la feuille), ou protégez-la de nouveau en autorisant la mise en forme des cellules (case "
        f"« Format de cellule »), {again}")
    # the formatting of cells allowed, not protected, or an Excel that does not say whether the protection allows it:
    # that one stopped the button for ever, even once the sheet was protected again as the message advises
    for allowed in ([True, [], True], [False, [], False], [True, [], None]):
        got = _dispatched(tmp_path, answer, {plan: allowed}, classeur=True)
        assert got["shown"] is None and got["written"] == [a["func"] for a in answer["actions"][1:]]
    # an Excel that cannot say what a protection allows: that sheet stops nothing, Contrôles protected still does
    got = _dispatched(tmp_path, answer, {plan: [True, [], False]}, panne="options")
    assert got["shown"] is None and got["written"] == [a["func"] for a in answer["actions"][1:]]
    got = _dispatched(tmp_path, answer, {plan: [True, [], False], layout.Sheet.CONTROLES: [True, []]}, panne="options")
    assert got["written"] == [] and _box(got["shown"]).startswith(
        f"Validation impossible : la feuille « {layout.Sheet.CONTROLES} » est protégée")

    book = remote_book(payload_from_xlsx(ROOT / "workbooks" / "exemples" / "bethune-bruay.xlsx",
                                         exclude=scripts.EXCLUDE))
    assert scripts.run_valider(book).valide
    answer = A.seal_actions(book.json())
    assert "addSheet" in [a["func"] for a in answer["actions"]]
    got = _dispatched(tmp_path, answer, {}, classeur=True)
    assert got["written"] == [] and _box(got["shown"]) == got["banner"] == (
        "Validation impossible : le classeur est protégé (structure des feuilles), et la validation doit y ajouter "
        f"la feuille masquée « {layout.SNAPSHOT_SHEET} », où elle garde les données validées. Ôtez cette protection "
        f"(onglet Révision > Protéger le classeur, avec son mot de passe s'il en a un), {again}")
    got = _dispatched(tmp_path, answer, {})
    assert got["shown"] is None and got["written"] == [a["func"] for a in answer["actions"][1:]]


def test_a_protected_workbook_or_annex_sheet_stops_generer_annexe_before_any_write(tmp_path, monkeypatch):
    """« Générer l'annexe » on the web adds its sheet, or clears and rewrites it: the workbook's structure protected
    (Révision > Protéger le classeur), or that sheet protected, Excel refused the first action and the box said « Le
    complément n'a pas pu terminer l'opération dans Excel. Réessayez… », which no retry mends. Looked at first, as
    for « Valider »: what to unprotect said, nothing written."""
    from xlwings_payload import payload_from_xlsx, remote_book  # (first: the licence key xlwings reads)

    from udfs import scripts

    monkeypatch.setenv(A.ENV_KEY, "k" * 43)
    payload = payload_from_xlsx(ROOT / "workbooks" / "exemples" / "bethune-bruay.xlsx", exclude=scripts.EXCLUDE)
    again = "puis cliquez de nouveau sur « Générer l'annexe ». Rien n'a été modifié dans le classeur."
    book = remote_book(json.loads(json.dumps(payload)))
    assert scripts.run_generer_annexe(book) == scripts.ANNEXE_WEB
    answer = A.seal_actions(book.json())
    assert answer["actions"][0]["args"][1] == [] and "addSheet" in [a["func"] for a in answer["actions"]]
    got = _dispatched(tmp_path, answer, {}, classeur=True)
    assert got["written"] == [] and _box(got["shown"]) == got["banner"] == (
        "Génération de l'annexe impossible : le classeur est protégé (structure des feuilles), et la génération de "
        f"l'annexe doit y ajouter la feuille « {scripts.ANNEXE_WEB} », où elle écrit l'annexe. Ôtez cette protection "
        f"(onglet Révision > Protéger le classeur, avec son mot de passe s'il en a un), {again}")
    got = _dispatched(tmp_path, answer, {})
    assert got["shown"] is None and got["written"] == [a["func"] for a in answer["actions"][1:]]

    # the annex of a previous click there, protected since: cleared and rewritten, no sheet added
    payload["sheets"].append(dict(payload["sheets"][-1], name=scripts.ANNEXE_WEB, tables=[], values=[[""]],
                                  used_range_address=None, visibility="Visible"))
    book = remote_book(payload)
    scripts.run_generer_annexe(book)
    answer = A.seal_actions(book.json())
    assert answer["actions"][0]["args"][2] is None and "addSheet" not in [a["func"] for a in answer["actions"]]
    got = _dispatched(tmp_path, answer, {scripts.ANNEXE_WEB: [True, []]}, classeur=True)
    assert got["written"] == [] and _box(got["shown"]) == got["banner"] == (
        f"Génération de l'annexe impossible : la feuille « {scripts.ANNEXE_WEB} » est protégée, et l'annexe s'y "
        f"écrit. Déprotégez-la (onglet Révision > Ôter la protection de la feuille), {again}")
    got = _dispatched(tmp_path, answer, {scripts.ANNEXE_WEB: [False, []]}, classeur=True)
    assert got["shown"] is None and got["written"] == [a["func"] for a in answer["actions"][1:]]
