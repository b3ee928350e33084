"""`acv-xl annexe APRES.xlsx --depuis AVANT.xlsx`: after the cover, « Modifications apportées par
l'avenant » (per financeur avant / après / écart; actions added, removed or whose cost changed;
each changed financing line), in the workbook and in its PDF (LibreOffice, text read back)."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from acv_xl.cli import main
from acv_xl.contract import layout
from acv_xl.contract.values import fmt_euros
from acv_xl.outputs import annex, libreoffice, page_layout
from acv_xl.outputs.annex import MODIFICATIONS_TITLE, AnnexSheet
from acv_xl.outputs.examples import example_conventions
from acv_xl.outputs.template import build_workbook

from test_comparer import _edited


@pytest.fixture()
def pair(tmp_path) -> tuple[Path, Path]:
    base = example_conventions()["arras.xlsx"]
    after, _removed = _edited(base)
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, base)
    build_workbook(b, after)
    return a, b


def _removed_line():
    return _edited(example_conventions()["arras.xlsx"])[1]


def _texts(ws) -> list[str]:
    return [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]


def test_annex_opens_with_the_avenant_changes(pair, tmp_path, capsys):
    a, b = pair
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:2] == [AnnexSheet.COVER, AnnexSheet.MODIFICATIONS]
    # the avenant's annex: so titled on its cover, on every page and in its properties
    assert annex.TITRE_AVENANT in _texts(wb[AnnexSheet.COVER]) and annex.TITRE not in _texts(wb[AnnexSheet.COVER])
    assert all(annex.TITRE_AVENANT in ws.oddHeader.left.text for ws in wb.worksheets)
    assert wb.properties.title.startswith(annex.TITRE_AVENANT)
    ws = wb[AnnexSheet.MODIFICATIONS]
    texts = _texts(ws)
    assert MODIFICATIONS_TITLE in texts
    rows = list(ws.iter_rows(values_only=True))
    etat = next(r for r in rows if r[0] == "ETAT")
    assert etat[6] == etat[5] - etat[4] == 64_000  # the new DSIL line of action 5.99
    added = next(r for r in rows if r[0] == "5.99" and r[3] == "Ajoutée")
    assert added[1] == "Étude de programmation de la halle" and added[5] == added[6] == 80_000
    # a line added or removed says its statut, as comparer does: « Sollicité » is no commitment obtained
    removed = _removed_line()
    # a statut changed says the line's amount (what it moves when it passes to or from « Refusé »)
    statut = f"{layout.T_FINANCEMENTS.header('statut')}\n(ligne de\n{fmt_euros(_edited(example_conventions()['arras.xlsx'])[0].financements[1].montant)})"
    changed = [r for r in rows if r[5] in (layout.T_FINANCEMENTS.header("montant"), statut,
                                           "Ligne ajoutée (Sollicité)", f"Ligne supprimée ({removed.statut})")]
    assert sorted(r[5] for r in changed) == sorted([layout.T_FINANCEMENTS.header("montant"), statut,
                                                    "Ligne ajoutée (Sollicité)", f"Ligne supprimée ({removed.statut})"])
    montant = next(r for r in changed if r[5] == layout.T_FINANCEMENTS.header("montant"))
    assert montant[7] - montant[6] == 50_000


def test_annex_depuis_another_convention_is_refused(pair, tmp_path, capsys):
    _a, b = pair
    other = tmp_path / "bethune-bruay.xlsx"
    build_workbook(other, example_conventions()["bethune-bruay.xlsx"])
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(other), "-o", str(out), "--brouillon"]) == 2
    assert "porte sur une autre convention" in capsys.readouterr().err and not out.exists()


def test_annex_depuis_the_workbook_itself_is_refused(pair, tmp_path, capsys):
    """`annexe avenant.xlsx --depuis avenant.xlsx` (the same name typed twice, or a link to it) wrote
    an avenant's annex with status 0 whose every list read « aucune modification ». Now status 2, said,
    nothing written; a copy of it (another file) is still compared."""
    _a, b = pair
    link = tmp_path / "lien.xlsx"
    link.symlink_to(b)
    out = tmp_path / "annexe.xlsx"
    for depuis in (b, tmp_path / "." / b.name, link):
        assert main(["annexe", str(b), "--depuis", str(depuis), "-o", str(out), "--brouillon"]) == 2
        err = capsys.readouterr().err
        assert "--depuis désigne le classeur lui-même" in err and not out.exists(), err
    copy = tmp_path / "copie.xlsx"
    copy.write_bytes(b.read_bytes())
    assert main(["annexe", str(b), "--depuis", str(copy), "-o", str(out), "--brouillon"]) == 0 and out.exists()


def test_annex_depuis_a_copy_with_the_same_data_warns_the_user(pair, tmp_path, capsys):
    """`annexe avenant.xlsx --depuis copie.xlsx`, the copy holding the same data (the user picked
    today's copy, not the one signed): an annex whose every list reads « aucune », status 0, not a
    word. An avenant may change the convention's text alone, so the annex is written (status 0), but
    the user is told, on the error output, that it shows no change and what --depuis must name; a
    real avenant is written without that warning."""
    a, b = pair
    copy = tmp_path / "copie avenant.xlsx"
    copy.write_bytes(b.read_bytes())
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(copy), "-o", str(out), "--brouillon"]) == 0 and out.exists()
    captured = capsys.readouterr()
    assert "« copie avenant.xlsx » et « avenant.xlsx » ont les mêmes données" in captured.err, captured
    assert "aucune modification du classeur" in captured.err and "d'avant l'avenant" in captured.err
    assert "Annexe écrite" in captured.out and "mêmes données" not in captured.out
    out.unlink()
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    assert "mêmes données" not in capsys.readouterr().err


def test_a_copy_with_the_same_data_and_name_is_told_apart_in_the_warning(pair, tmp_path, capsys):
    """The copy signed kept under the same name in another folder (`annexe avenant.xlsx --depuis
    signee/avenant.xlsx`), holding the same data: the warning read « « avenant.xlsx » et
    « avenant.xlsx » ont les mêmes données », two names for one. Named as given, they are two."""
    _, b = pair
    (tmp_path / "signee").mkdir()
    copy = tmp_path / "signee" / b.name
    copy.write_bytes(b.read_bytes())
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(copy), "-o", str(out), "--brouillon"]) == 0
    assert f"« {copy} » et « {b} » ont les mêmes données" in capsys.readouterr().err


def test_an_unusable_depuis_is_said_before_the_avenant_s_errors(tmp_path, capsys):
    """`annexe AVENANT.xlsx --depuis AVANT.xlsx` with an avenant that still has errors and a --depuis
    mistyped (or of another convention): the errors were listed, status 1, and only once all were
    corrected did the command say that the --depuis file does not exist (status 2). The unusable input
    is said first, status 2."""
    calais = tmp_path / "calais.xlsx"
    build_workbook(calais, example_conventions()["calais.xlsx"])  # FIN-05 and FIN-06: two errors
    other = tmp_path / "arras.xlsx"
    build_workbook(other, example_conventions()["arras.xlsx"])
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(calais), "-o", str(out)]) == 1  # its errors, without --depuis
    capsys.readouterr()
    for depuis, said in ((tmp_path / "convention-initiale.xlsx", "introuvable"),
                         (other, "porte sur une autre convention")):
        assert main(["annexe", str(calais), "--depuis", str(depuis), "-o", str(out)]) == 2
        captured = capsys.readouterr()
        assert said in captured.err and "Annexe non générée" not in captured.out + captured.err, captured
        assert not out.exists()


def test_the_template_version_is_no_modification_of_the_avenant(tmp_path):
    """A convention drawn up in the template 2026.1, its avenant in 2026.2 (`acv-xl migrer`, as every
    commune will): the annex to be signed listed « Accueil — Version du modèle — 2026.1 → 2026.2 » among
    the « Modifications apportées par l'avenant ». The workbook's version is no part of the convention."""
    base = example_conventions()["arras.xlsx"]
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, base)
    build_workbook(b, base)
    wb = openpyxl.load_workbook(a)
    version = next(n for n in layout.NAMED_CELLS if n.name == "acv_version_modele")
    old = layout.TEMPLATE_VERSIONS[0][0]
    wb[version.sheet][version.cell] = old
    wb.save(a)
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    texts = _texts(openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS])
    assert version.label not in texts and old not in texts
    assert "Aucune autre modification de la convention." in texts


def _avenant_pdf_text(tmp_path: Path, before: Path, after: Path) -> str:
    """The text of the avenant's annex of `after` since `before`, as printed by LibreOffice (a draft)."""
    if libreoffice.soffice() is None:
        pytest.fail(libreoffice.INSTALL_HINT)
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(after), "--depuis", str(before), "-o", str(out), "--brouillon", "--pdf"]) == 0
    return subprocess.run(["pdftotext", "-layout", str(out.with_suffix(".pdf")), "-"], capture_output=True,
                          check=True).stdout.decode()


@pytest.mark.libreoffice
def test_annex_depuis_in_the_pdf(pair, tmp_path, capsys):
    a, b = pair
    text = _avenant_pdf_text(tmp_path, a, b)
    pages = text.split("\f")
    i = next(k for k, p in enumerate(pages) if MODIFICATIONS_TITLE in p)
    assert i == 1  # right after the cover
    # the changes up to the next sheet's pages (« Périmètres »): the last list may run onto a page of its own
    end = next(k for k, p in enumerate(pages) if k > i and "Périmètres" in p)
    page = "".join(pages[i:end])
    assert end - i <= 2
    # with the state before, it is the avenant's annex: its title on the cover and every page
    assert annex.TITRE_AVENANT in pages[0] and all(annex.TITRE_AVENANT in p for p in pages if p.strip())
    for words in ("Financements par financeur", "Actions ajoutées, supprimées, abandonnées ou dont le coût a changé",
                  "Lignes de financement modifiées", "Étude de programmation de la halle", "+64 000,00 €",
                  "50 000,00 €", "Ligne supprimée", "Ligne ajoutée"):
        assert words in page, words


def test_changed_financing_lines_get_the_height_of_their_wrapped_text(tmp_path, capsys):
    """A changed line whose dispositif or commentaire wraps in its narrow column gets the rows it
    needs: at the default height, its second line printed over the next changed line."""
    from acv_xl.contract.model import LigneFinancement, build_row

    base = example_conventions()["arras.xlsx"]
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in base.financements]
    long_dispositif = "Aide aux projets des territoires ruraux et des petites villes de demain"
    long_comment = "Montant révisé après l'arrêté de subvention du 14/03/2026 ; reliquat reporté sur 2027"
    lines.append(build_row(LigneFinancement, {**base.financements[0].raw, "dispositif": long_dispositif,
                                              "annee": 2026, "montant": 10_000.0, "statut": "Sollicité"}))
    lines[0] = build_row(LigneFinancement, {**lines[0].raw, "commentaire": long_comment})
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, base)
    build_workbook(b, base.model_copy(update={"financements": lines}))
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    ws = openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS]
    rows = {r[0].row: [c.value for c in r] for r in ws.iter_rows()}
    added = next(n for n, r in rows.items() if r[2] == long_dispositif)
    comment = next(n for n, r in rows.items() if r[7] == long_comment)
    for n in (added, comment):
        assert (ws.row_dimensions[n].height or 0) >= 3 * 13, rows[n]


def _every_list_long(tmp_path) -> tuple[Path, Path]:
    """Every amount of the plan changed and 30 lines added, 45 actions added, every action
    rescheduled, 45 indicateurs added: each list of the changes runs over a page break."""
    import datetime

    from acv_xl.contract.model import FicheAction, Indicateur, LigneFinancement, build_row

    base = example_conventions()["arras.xlsx"]
    lines = [build_row(LigneFinancement, {**lf.raw, "montant": float(lf.montant) + 1_000}) for lf in base.financements]
    lines += [build_row(LigneFinancement, {**base.financements[0].raw, "annee": 2030 + k, "montant": 1_000.0,
                                           "statut": "Sollicité"}) for k in range(30)]
    a0 = base.actions[0]
    acts = [build_row(FicheAction, {**a.raw, "date_fin": datetime.date(2026, 12, 31)}) for a in base.actions]
    acts += [build_row(FicheAction, {**a0.raw, "numero": f"5.{50 + k}", "intitule": f"Action nouvelle n° {k + 1}",
                                     "cout_total": 10_000.0 + k}) for k in range(45)]
    i0 = base.indicateurs[0]
    inds = [build_row(Indicateur, dict(i.raw)) for i in base.indicateurs] + [
        build_row(Indicateur, {**i0.raw, "indicateur": f"Indicateur ajouté n° {k + 1}"}) for k in range(45)]
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, base)
    build_workbook(b, base.model_copy(update={"financements": lines, "actions": acts, "indicateurs": inds}))
    return a, b


# each list's header (its first two cells)
_LIST_HEADS = {(layout.T_FINANCEMENTS.header("numero"), layout.T_FINANCEMENTS.header("financeur")), ("Code", "Financeur"),
               (layout.T_ACTIONS.header("numero"), layout.T_ACTIONS.header("intitule")), ("Feuille", "Élément")}


def test_each_list_s_header_opens_each_page_it_runs_onto(tmp_path, capsys):
    """A spreadsheet repeats one range of rows per sheet: only the financing lines' header came back
    on the pages after it, the actions' and the other changes' pages printed without their columns'
    names. Each page break is now before a list's header written again, or before a list's title
    (followed by its header)."""
    a, b = _every_list_long(tmp_path)
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    ws = openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS]
    assert ws.print_title_rows == "$1:$1"  # the draft banner only
    starts = [brk.id + 1 for brk in ws.row_breaks.brk]  # the first row of each new page
    assert len(starts) >= 4
    written_again = set()
    for r in starts:
        first, below = (ws.cell(r, 1).value, ws.cell(r, 2).value), (ws.cell(r + 1, 1).value, ws.cell(r + 1, 2).value)
        assert first in _LIST_HEADS or below in _LIST_HEADS, (r, first, below)
        if first in _LIST_HEADS:
            written_again.add(first)
    # within the actions' list, the other changes' and the financing lines', the header comes again
    assert {(layout.T_ACTIONS.header("numero"), layout.T_ACTIONS.header("intitule")), ("Feuille", "Élément"),
            (layout.T_FINANCEMENTS.header("numero"), layout.T_FINANCEMENTS.header("financeur"))} <= written_again


@pytest.mark.libreoffice
def test_a_long_avenant_prints_each_list_s_header_on_each_page(tmp_path, capsys):
    a, b = _every_list_long(tmp_path)
    text = _avenant_pdf_text(tmp_path, a, b)
    pages = text.split("\f")
    first = next(i for i, p in enumerate(pages) if MODIFICATIONS_TITLE in p)
    following = []
    for p in pages[first + 1:]:
        if "Ligne ajoutée" not in p and "Action nouvelle" not in p and "Indicateur ajouté" not in p \
                and "31/12/2026" not in p and "Financements par financeur" not in p:
            break  # the sheets after the changes
        following.append(p)
    assert len(following) >= 4  # every list runs over a page
    heads = []
    for p in following:  # each page opens on a list's header, or on a list's title then its header
        rows = [line.split() for line in p.splitlines() if line.strip()]
        head = next(r for r in rows if r and r[0] not in ("Annexe", "PROJET"))
        assert head[:2] in (["N°", "action"], ["Feuille", "Élément"], ["Code", "Financeur"]) \
            or head[0] in ("Actions", "Autres", "Lignes", "Financements"), head
        heads.append(" ".join(head[:3]))
    assert {"N° action Financeur", "N° action Intitulé", "Feuille Élément Donnée"} <= set(heads), heads


def test_an_abandoned_action_is_listed_and_the_actions_ecarts_add_up(tmp_path, capsys):
    """An avenant abandoning an action lowers « Coût total des actions » (abandoned actions are left
    out of it): the action was in no row (« Aucune action ajoutée ni supprimée ; aucun coût
    modifié »). It is listed « Abandonnée », and the actions' écarts add up to the cost's."""
    from acv_xl.contract.model import FicheAction, build_row

    base = example_conventions()["arras.xlsx"]
    acts = [build_row(FicheAction, dict(a.raw)) for a in base.actions]
    gone, dearer = acts[2], acts[3]
    acts[2] = build_row(FicheAction, {**gone.raw, "maturite": layout.MATURITE_ABANDONNEE})
    acts[3] = build_row(FicheAction, {**dearer.raw, "cout_total": float(dearer.cout_total) + 5_000})
    rows = list(_modifications_of(tmp_path, base, base.model_copy(update={"actions": acts})).iter_rows(values_only=True))
    cost = next(r for r in rows if r[0] == "Coût total des actions")
    listed = [r for r in rows if r[3] in ("Abandonnée", "Coût modifié", "Ajoutée", "Supprimée")]
    assert [(r[0], r[3], r[6]) for r in listed] == [(gone.numero, "Abandonnée", -float(gone.cout_total)),
                                                   (dearer.numero, "Coût modifié", 5_000)]
    assert sum(r[6] for r in listed) == cost[6] == 5_000 - float(gone.cout_total)


def _rescheduled(tmp_path) -> tuple[Path, Path, list]:
    """An avenant that moves no amount: one action rescheduled (its end pushed to 31/12/2026, its
    start erased), one given to another maître d'ouvrage, one renamed, one further along."""
    import datetime

    from acv_xl.contract.model import FicheAction, build_row

    base = example_conventions()["arras.xlsx"]
    acts = [build_row(FicheAction, dict(a.raw)) for a in base.actions]
    acts[0] = build_row(FicheAction, {**acts[0].raw, "date_fin": datetime.date(2026, 12, 31), "date_debut": None})
    acts[1] = build_row(FicheAction, {**acts[1].raw, "maitre_ouvrage": "Ville d'Arras"})
    acts[2] = build_row(FicheAction, {**acts[2].raw, "intitule": "Requalification de la rue Ronville et de ses abords"})
    acts[3] = build_row(FicheAction, {**acts[3].raw, "maturite": "En cours"})
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, base)
    build_workbook(b, base.model_copy(update={"actions": acts}))
    return a, b, base.actions


def test_an_action_rescheduled_or_given_to_another_maitre_d_ouvrage_is_in_the_annex(tmp_path, capsys):
    """The annex listed actions added, removed or whose cost changed, not an action whose dates,
    maître d'ouvrage or intitulé changed: an avenant that only rescheduled an action read « aucun
    coût modifié » and « Aucune ligne de financement modifiée », nothing else. Each such change is
    now a row: action, intitulé, the data changed, before and after (dates as dates)."""
    import datetime

    a, b, before = _rescheduled(tmp_path)
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    ws = openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS]
    A = layout.T_ACTIONS
    got = [(r[0].value, r[2].value, r[4].value, r[6].value, r[4].number_format, r[6].number_format)
           for r in ws.iter_rows() if r[0].value in {x.numero for x in before} and r[2].value in
           {col.header for col in A.columns}]
    d = lambda x: datetime.datetime.combine(x, datetime.time())  # noqa: E731 — a date cell reads back as a datetime
    assert [g[:4] for g in got] == [
        (before[0].numero, A.header("date_debut"), d(before[0].date_debut), "(vide)"),
        (before[0].numero, A.header("date_fin"), d(before[0].date_fin), d(datetime.date(2026, 12, 31))),
        (before[1].numero, A.header("maitre_ouvrage"), before[1].maitre_ouvrage, "Ville d'Arras"),
        (before[2].numero, A.header("intitule"), before[2].intitule, "Requalification de la rue Ronville et de ses abords"),
        (before[3].numero, A.header("maturite"), before[3].maturite, "En cours"),
    ]
    assert got[1][4] == got[1][5] == "dd/mm/yyyy"
    # the intitulé shown is the action's own, after the avenant
    renamed = next(r for r in ws.iter_rows(values_only=True) if r[2] == A.header("intitule"))
    assert renamed[1] == "Requalification de la rue Ronville et de ses abords"


@pytest.mark.libreoffice
def test_an_action_rescheduled_is_in_the_pdf_with_french_dates(tmp_path, capsys):
    a, b, before = _rescheduled(tmp_path)
    text = _avenant_pdf_text(tmp_path, a, b)
    page = next(p for p in text.split("\f") if MODIFICATIONS_TITLE in p)
    for words in ("Autres modifications des actions", "Date de fin", "31/12/2026",
                  before[0].date_fin.strftime("%d/%m/%Y"), "Maître d'ouvrage", before[1].maitre_ouvrage, "(vide)"):
        assert words in page, words


def test_an_action_split_by_copying_its_row_shows_the_copy_s_own_intitule(tmp_path, capsys):
    """A commune splits an action by copying its row and has not yet renumbered the copy (ACT-01):
    the added action was listed under the first one's intitulé, two rows of one name for a comité."""
    from acv_xl.contract.model import FicheAction, build_row

    base = example_conventions()["arras.xlsx"]
    acts = [build_row(FicheAction, dict(a.raw)) for a in base.actions]
    first = acts[3]
    acts[3] = build_row(FicheAction, {**first.raw, "cout_total": float(first.cout_total) - 400_000})
    acts.insert(4, build_row(FicheAction, {**first.raw, "intitule": "Portage des cellules commerciales",
                                           "cout_total": 400_000.0}))
    rows = list(_modifications_of(tmp_path, base, base.model_copy(update={"actions": acts})).iter_rows(values_only=True))
    listed = [(r[0], r[1], r[3], r[6]) for r in rows if r[3] in ("Ajoutée", "Coût modifié")]
    assert listed == [(first.numero, first.intitule, "Coût modifié", -400_000),
                      (first.numero, "Portage des cellules commerciales", "Ajoutée", 400_000)]


def _extended(tmp_path) -> tuple[Path, Path]:
    """An avenant that extends the deployment phase to 31/12/2028, adds a périmètre and raises an
    indicateur's target: no action, no financing line changed."""
    import datetime

    from acv_xl.contract.model import Indicateur, Perimetre, build_row

    base = example_conventions()["arras.xlsx"]
    after = base.model_copy(deep=True)
    after.set_value("acv_date_fin_deploiement", datetime.date(2028, 12, 31))
    p0 = base.perimetres[0]
    after.perimetres = [build_row(Perimetre, dict(p.raw)) for p in base.perimetres] + [
        build_row(Perimetre, {**p0.raw, "code": "SP9", "nom": "Secteur de la gare"})]
    i0 = base.indicateurs[0]
    after.indicateurs = [build_row(Indicateur, {**i0.raw, "valeur_cible": 180})] + [
        build_row(Indicateur, dict(i.raw)) for i in base.indicateurs[1:]]
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, base)
    build_workbook(b, after)
    return a, b


def test_the_convention_s_other_changes_are_in_the_annex(tmp_path, capsys):
    """An avenant extending the deployment phase, adding a périmètre and raising an indicateur's
    target read « aucun coût modifié », « Aucune ligne de financement modifiée » and nothing else:
    the annex showed only the actions and the financing. Each change is now a row."""
    import datetime

    a, b = _extended(tmp_path)
    base = example_conventions()["arras.xlsx"]
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    ws = openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS]
    rows = [r for r in ws.iter_rows() if r[0].value in set(layout.SHEETS)]
    got = {(r[0].value, r[1].value, r[2].value): (r[4].value, r[6].value) for r in rows}
    nc = layout.NAMED_BY_NAME["acv_date_fin_deploiement"]
    dfin = base.names["acv_date_fin_deploiement"].value
    assert got[(nc.sheet, None, nc.label)] == (datetime.datetime.combine(dfin, datetime.time()),
                                                datetime.datetime(2028, 12, 31))
    i0 = base.indicateurs[0]
    ind = layout.T_INDICATEURS
    assert got[(ind.sheet, f"N° action {i0.numero} · {i0.indicateur}", ind.header("valeur_cible"))] == (
        int(i0.valeur_cible), 180)
    added = got[(layout.T_PERIMETRES.sheet, "SP9", "Ligne ajoutée")]
    assert added[0] is None and "Secteur de la gare" in added[1]
    assert len(rows) == 3


@pytest.mark.libreoffice
def test_the_convention_s_other_changes_are_in_the_pdf(tmp_path, capsys):
    a, b = _extended(tmp_path)
    text = _avenant_pdf_text(tmp_path, a, b)
    page = next(p for p in text.split("\f") if MODIFICATIONS_TITLE in p)
    for words in ("Autres modifications de la convention", "Fin de la phase de déploiement", "31/12/2028",
                  "31/12/2022", "Secteur de la gare", "Ligne ajoutée"):
        assert words in page, words


def test_a_description_pasted_at_full_length_gets_a_row_a_spreadsheet_keeps(tmp_path, capsys):
    """A description of 32 000 characters changed by the avenant: its row was given 9 828 points,
    past the 409 a spreadsheet's row may have (Excel repairs such a file); now at most 409."""
    from acv_xl.contract.model import FicheAction, build_row

    base = example_conventions()["arras.xlsx"]
    acts = [build_row(FicheAction, dict(a.raw)) for a in base.actions]
    acts[0] = build_row(FicheAction, {**acts[0].raw, "description": "Très longue description. " * 1300})
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, base)
    build_workbook(b, base.model_copy(update={"actions": acts}))
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    wb = openpyxl.load_workbook(out)
    ws = wb[AnnexSheet.MODIFICATIONS]
    row = next(r[0].row for r in ws.iter_rows() if r[2].value == layout.T_ACTIONS.header("description"))
    assert 13 * 3 < ws.row_dimensions[row].height <= page_layout.MAX_ROW_PT
    assert all((d.height or 0) <= page_layout.MAX_ROW_PT for s in wb.worksheets for d in s.row_dimensions.values())


def test_a_modified_action_sharing_its_number_shows_its_own_intitule_and_cost(tmp_path, capsys):
    """Two actions share a number (ACT-01: a row copied to split an action, not yet renumbered) and the
    avenant changes the copy: its rows read the first action's intitulé — and « Coût après » the
    first one's cost, a wrong amount for the comité."""
    import datetime

    from acv_xl.contract.model import FicheAction, build_row

    base = example_conventions()["arras.xlsx"]
    acts = [build_row(FicheAction, dict(a.raw)) for a in base.actions]
    first = acts[3]
    copy = {**first.raw, "intitule": "Portage des cellules commerciales", "cout_total": 400_000.0}
    before = acts[:4] + [build_row(FicheAction, copy)] + acts[4:]
    after = acts[:4] + [build_row(FicheAction, {**copy, "cout_total": 450_000.0,
                                                "date_fin": datetime.date(2027, 6, 30)})] + acts[4:]
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, base.model_copy(update={"actions": before}))
    build_workbook(b, base.model_copy(update={"actions": after}))
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    rows = list(openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS].iter_rows(values_only=True))
    assert [(r[0], r[1], r[3], r[4], r[5], r[6]) for r in rows if r[3] == "Coût modifié"] == [
        (first.numero, "Portage des cellules commerciales", "Coût modifié", 400_000, 450_000, 50_000)]
    assert [(r[0], r[1]) for r in rows if r[2] == layout.T_ACTIONS.header("date_fin")] == [
        (first.numero, "Portage des cellules commerciales")]


def _modifications_of(tmp_path: Path, before, after):
    """The « Modifications » sheet of the draft avenant's annex of convention `after` since `before`."""
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, before)
    build_workbook(b, after)
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    return openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS]


def test_a_long_description_changed_by_the_avenant_goes_on_in_the_rows_below(tmp_path, capsys):
    """A row holds 409 pt at most: a description of 3 000 characters changed by the avenant had its
    « Avant » and « Après » in one row capped at 409 pt, printed cut without a sign (the old text is
    nowhere else in the annex). They go on in the rows below, « Description (suite) », every word kept."""
    from acv_xl.contract.model import FicheAction, build_row

    base = example_conventions()["arras.xlsx"]
    before = " ".join(f"Ancienne phase {n} de travaux de requalification des espaces publics." for n in range(1, 46))
    after = " ".join(f"Nouvelle phase {n} de travaux de requalification des espaces publics." for n in range(1, 46))
    acts = [build_row(FicheAction, dict(a.raw)) for a in base.actions]
    old = [build_row(FicheAction, {**acts[0].raw, "description": before})] + acts[1:]
    acts[0] = build_row(FicheAction, {**acts[0].raw, "description": after})
    ws = _modifications_of(tmp_path, base.model_copy(update={"actions": old}), base.model_copy(update={"actions": acts}))
    label = layout.T_ACTIONS.header("description")
    rows = [r[0].row for r in ws.iter_rows() if r[2].value in (label, f"{label} (suite)")]
    assert len(rows) >= 2
    for r in range(rows[0], rows[-1]):  # between them, the list's header when a page breaks
        assert r in rows or ws.cell(r, 1).value == layout.T_ACTIONS.header("numero")
    assert [ws.cell(r, 1).value for r in rows] == [acts[0].numero] * len(rows)  # each row says its action
    for col, text in ((5, before), (7, after)):
        assert " ".join(ws.cell(r, col).value or "" for r in rows).split() == text.split()
    assert all(annex._lines_needed(ws.cell(r, c).value or "", 36) <= annex.MAX_LINES for r in rows for c in (5, 7))
    assert all(0 < (ws.row_dimensions[r].height or 0) <= page_layout.MAX_ROW_PT for r in rows)


def test_a_long_commentaire_changed_by_the_avenant_goes_on_in_the_rows_below(tmp_path, capsys):
    """The financing lines' « Avant » and « Après » are narrow: a commentaire of 1 500 characters was
    capped at 409 pt and printed cut. It goes on in the rows below, « Commentaire (suite) »."""
    from acv_xl.contract.model import LigneFinancement, build_row

    base = example_conventions()["arras.xlsx"]
    after = " ".join(f"Tranche {n} versée après service fait." for n in range(1, 41))
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in base.financements]
    lines[0] = build_row(LigneFinancement, {**lines[0].raw, "commentaire": after})
    ws = _modifications_of(tmp_path, base, base.model_copy(update={"financements": lines}))
    label = layout.T_FINANCEMENTS.header("commentaire")
    rows = [r[0].row for r in ws.iter_rows() if r[5].value in (label, f"{label} (suite)")]
    assert len(rows) >= 2
    assert " ".join(ws.cell(r, 8).value or "" for r in rows).split() == after.split()
    assert all(0 < (ws.row_dimensions[r].height or 0) <= page_layout.MAX_ROW_PT for r in rows)


def _dsil_refused(tmp_path: Path) -> tuple[Path, Path]:
    """(the convention, its avenant): a DSIL of 500 000 € asked for, refused by the avenant; a refused
    Région line of 80 000 € revised to 90 000 €."""
    from acv_xl.contract.model import LigneFinancement, build_row

    base = example_conventions()["arras.xlsx"]
    extra = [build_row(LigneFinancement, {**base.financements[0].raw, "numero": "2.1", "financeur": "ETAT",
                                          "dispositif": "DSIL", "nature": "Subvention", "annee": 2026,
                                          "montant": 500_000.0, "statut": "Sollicité"}),
             build_row(LigneFinancement, {**base.financements[0].raw, "numero": "2.1", "financeur": "REGION",
                                          "dispositif": "Redynamisation des centres-villes", "nature": "Subvention",
                                          "annee": 2026, "montant": 80_000.0, "statut": "Refusé"})]
    before = base.model_copy(update={"financements": list(base.financements) + extra})
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in before.financements]
    lines[-2] = build_row(LigneFinancement, {**lines[-2].raw, "statut": "Refusé"})
    lines[-1] = build_row(LigneFinancement, {**lines[-1].raw, "montant": 90_000.0})
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, before)
    build_workbook(b, before.model_copy(update={"financements": lines}))
    return a, b


@pytest.mark.libreoffice
def test_the_amount_a_statut_change_moves_prints_whole(tmp_path, capsys):
    """« Statut » then « (ligne de 500 000,00 €) » in the annex's column of amounts, wrapped where it
    would: the PDF printed « (ligne de 500 000,00 » and, below, « €) ». The amount has its own line."""
    pdf = _avenant_pdf_text(tmp_path, *_dsil_refused(tmp_path))
    assert any("500 000,00 €)" in line and "Sollicité" not in line for line in pdf.splitlines()), pdf


def test_a_line_refused_by_the_avenant_says_the_amount_it_takes_out(tmp_path, capsys):
    """An avenant where the DSIL asked for is refused and a DETR obtained instead: the financeur's
    row reads -200 000,00 €, but the line passed to « Refusé » read « Statut | Sollicité | Refusé »
    with no amount, and the comité could not find the 500 000,00 € it takes out of the totals; a
    refused line whose amount was revised read « Montant (€) » as if it moved the totals. Now the
    statut row says the line's amount, and the refused line's amount row says it counts in no total."""
    a, b = _dsil_refused(tmp_path)
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    rows = list(openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS].iter_rows(values_only=True))
    etat = next(r for r in rows if r[0] == "ETAT")
    assert etat[6] == -500_000  # the refused DSIL, out of the totals
    dsil = next(r for r in rows if r[1] == "ETAT" and r[2] == "DSIL" and r[4] == 2026)
    assert dsil[5:] == ("Statut\n(ligne de\n500 000,00 €)", "Sollicité", "Refusé")
    region = next(r for r in rows if r[1] == "REGION" and r[4] == 2026)
    assert region[5:] == ("Montant (€)\n(ligne refusée, hors totaux)", 80_000, 90_000)
    assert next(r for r in rows if r[0] == "REGION")[6] == 0  # nothing moved for it


def test_an_avenant_s_annex_from_two_files_in_the_wrong_order_warns(tmp_path, capsys):
    """`annexe signee.xlsx --depuis avenant.xlsx`: the annex presented to the comité read every change
    backwards (the amount raised « lowered », the line added « supprimée »), status 0, not a word. The
    annex is written (the user decides), and the error output says why the order looks reversed."""
    from test_comparer import _avenant_of
    from test_since_validation import _validated

    signed = _validated(tmp_path)
    working = _avenant_of(signed, tmp_path / "avenant.xlsx")
    out = tmp_path / "annexe.xlsx"
    capsys.readouterr()
    assert main(["annexe", str(signed), "--depuis", str(working), "-o", str(out)]) == 0 and out.exists()
    err = capsys.readouterr().err
    assert (f"« {working.name} », donné pour l'état d'avant, est plus récent que « {signed.name} » (les données "
            f"de « {signed.name} » sont celles que « {working.name} » avait à sa validation du "
            f"{date.today():%d/%m/%Y}, et « {working.name} » a été modifié depuis)") in " ".join(err.split()), err
    assert main(["annexe", str(working), "--depuis", str(signed), "-o", str(out)]) == 0
    assert "Attention" not in capsys.readouterr().err


def test_a_line_refused_and_lowered_by_the_avenant_says_the_amount_it_counted_for(tmp_path, capsys):
    """An avenant where the Département's 500 000 € asked for is refused, the line kept at the 400 000 €
    it was revised to: the Département's row reads -500 000,00 €, but the statut row said
    « (400 000,00 €) », the amount after, which no total ever counted. Now it says the 500 000,00 € the
    line took out of the totals (the amount after when a line comes back from « Refusé »)."""
    from acv_xl.contract.model import LigneFinancement, build_row

    base = example_conventions()["arras.xlsx"]
    line = {**base.financements[0].raw, "numero": "2.1", "financeur": "ETAT", "dispositif": "DSIL",
            "nature": "Subvention", "annee": 2026}
    extra = [build_row(LigneFinancement, {**line, "montant": 500_000.0, "statut": "Sollicité"}),
             build_row(LigneFinancement, {**line, "dispositif": "DETR", "montant": 300_000.0, "statut": "Refusé"})]
    before = base.model_copy(update={"financements": list(base.financements) + extra})
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in before.financements]
    lines[-2] = build_row(LigneFinancement, {**lines[-2].raw, "montant": 400_000.0, "statut": "Refusé"})
    lines[-1] = build_row(LigneFinancement, {**lines[-1].raw, "montant": 350_000.0, "statut": "Acquis"})
    a, b = tmp_path / "convention.xlsx", tmp_path / "avenant.xlsx"
    build_workbook(a, before)
    build_workbook(b, before.model_copy(update={"financements": lines}))
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(b), "--depuis", str(a), "-o", str(out), "--brouillon"]) == 0
    rows = list(openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS].iter_rows(values_only=True))
    assert next(r for r in rows if r[0] == "ETAT")[6] == -500_000 + 350_000
    statut = layout.T_FINANCEMENTS.header("statut")
    dsil = next(r for r in rows if r[2] == "DSIL" and r[4] == 2026 and r[5].startswith(statut))
    assert dsil[5:] == (f"{statut}\n(ligne de\n500 000,00 €)", "Sollicité", "Refusé")
    detr = next(r for r in rows if r[2] == "DETR" and r[4] == 2026 and r[5].startswith(statut))
    assert detr[5:] == (f"{statut}\n(ligne de\n350 000,00 €)", "Refusé", "Acquis")


def test_each_changed_line_is_found_without_a_pass_over_every_line(tmp_path):
    """`annexe --depuis` found each changed financing line by a scan of every line: an avenant changing
    3 000 lines made 9 million comparisons. The lines are now indexed once by (row, action)."""
    from types import SimpleNamespace

    from acv_xl.checks.validate import validate_file

    class Passes(list):
        count = 0

        def __iter__(self):
            Passes.count += 1
            return super().__iter__()

    path = tmp_path / "convention.xlsx"
    build_workbook(path, example_conventions()["arras.xlsx"])
    d = annex.annex_data(validate_file(path))
    d.lines = Passes(d.lines)
    changes = [SimpleNamespace(cellule_apres=f"H{lf.row}", action=lf.numero) for lf in list.__iter__(d.lines)] * 5
    assert len(changes) > 50
    found = [d.changed_line(c) for c in changes]
    assert [(lf.row, lf.numero) for lf in found] == [(int(c.cellule_apres[1:]), c.action) for c in changes]
    assert d.changed_line(SimpleNamespace(cellule_apres="H9999", action="1.1")) is None
    assert Passes.count == 1


# ------------------------------------------------------------------------------ --depuis-validation
def _validated_in_place(tmp_path: Path) -> tuple[Path, Path]:
    """(the convention validated — the copy the officer does not keep —, the same workbook edited in place
    for the avenant: a line « Sollicité » passed to « Acquis », another's decision referenced)."""
    src = tmp_path / "source.xlsx"
    build_workbook(src, example_conventions()["bethune-bruay.xlsx"])
    signed = tmp_path / "signee.xlsx"
    assert main(["valider", str(src), "--annoter", str(signed)]) == 0
    wb = openpyxl.load_workbook(signed)
    ws = wb[layout.Sheet.FINANCEMENT]
    headers = [c.value for c in ws[3]]
    statut, decision = (headers.index(layout.T_FINANCEMENTS.header(k)) for k in ("statut", "reference_decision"))
    rows = list(ws.iter_rows(min_row=4, max_row=ws.max_row))
    next(r for r in rows if r[statut].value == "Sollicité")[statut].value = "Acquis"
    rows[0][decision].value = "Arrêté préfectoral n° 2026-117"
    working = tmp_path / "bethune.xlsx"
    wb.save(working)
    return signed, working


def _changes(path: Path) -> list[tuple]:
    rows = list(openpyxl.load_workbook(path)[AnnexSheet.MODIFICATIONS].iter_rows(values_only=True))
    return rows[3:]  # under the title and the line saying what the changes are compared with


@pytest.mark.libreoffice
def test_depuis_validation_annexes_the_avenant_from_the_data_the_workbook_kept(tmp_path, capsys):
    """A workbook validated in place by « Valider », then edited for the avenant: its validated state is
    only in its hidden sheet « Données validées », and `annexe --depuis` wanted a file the officer did not
    keep. `--depuis-validation` reads that state, checked against the fingerprint stored at validation:
    the annex lists the very changes `--depuis` the validated copy lists, and says what they are
    compared with."""
    if libreoffice.soffice() is None:
        pytest.fail(libreoffice.INSTALL_HINT)
    signed, working = _validated_in_place(tmp_path)
    from_copy, from_kept = tmp_path / "depuis-copie.xlsx", tmp_path / "depuis-validation.xlsx"
    assert main(["annexe", str(working), "--depuis", str(signed), "-o", str(from_copy), "--pdf"]) == 0
    assert main(["annexe", str(working), "--depuis-validation", "-o", str(from_kept), "--pdf"]) == 0
    assert f"Annexe écrite : {from_kept}" in capsys.readouterr().out
    kept = _changes(from_kept)
    assert kept == _changes(from_copy) and any(r[5] and str(r[5]).startswith("Statut\n(ligne de\n") for r in kept)
    said = f"Par rapport aux données validées le {date.today():%d/%m/%Y}, conservées dans « {working.name} »"
    assert any(t.startswith(said) for t in _texts(openpyxl.load_workbook(from_kept)[AnnexSheet.MODIFICATIONS]))
    pdf = subprocess.run(["pdftotext", "-layout", str(from_kept.with_suffix(".pdf")), "-"], capture_output=True,
                         text=True, check=True).stdout
    assert MODIFICATIONS_TITLE in pdf and "données validées" in pdf


def test_the_avenant_s_annex_is_named_apart_and_the_convention_s_never_replaces_it(tmp_path, capsys):
    """Both annexes were written, without -o, to CLASSEUR_annexe.xlsx: the convention's (`annexe` alone, or the
    button « Générer l'annexe ») replaced the avenant's as « a previous annex », in silence — and once
    « Valider » has replaced the data the workbook kept, `--depuis-validation` cannot write it again. The
    avenant's is now CLASSEUR_annexe_avenant.xlsx; each replaces only its own."""
    signed, working = _validated_in_place(tmp_path)
    avenant, convention = tmp_path / "bethune_annexe_avenant.xlsx", tmp_path / "bethune_annexe.xlsx"
    capsys.readouterr()
    assert main(["annexe", str(working), "--depuis-validation"]) == 0
    assert f"Annexe écrite : {avenant}" in capsys.readouterr().out and not convention.exists()
    written = avenant.read_bytes()
    assert AnnexSheet.MODIFICATIONS in openpyxl.load_workbook(avenant).sheetnames
    assert main(["annexe", str(working)]) == 0
    assert AnnexSheet.MODIFICATIONS not in openpyxl.load_workbook(convention).sheetnames
    assert avenant.read_bytes() == written  # the convention's annex left the avenant's as it was
    # --depuis names it alike, and replaces its own previous one
    assert main(["annexe", str(working), "--depuis", str(signed)]) == 0
    assert f"Annexe écrite : {avenant}" in capsys.readouterr().out
    assert AnnexSheet.MODIFICATIONS in openpyxl.load_workbook(avenant).sheetnames


def _refused(capsys, path: Path, out: Path) -> str:
    capsys.readouterr()
    assert main(["annexe", str(path), "--depuis-validation", "-o", str(out)]) == 2
    assert not out.exists()
    return " ".join(capsys.readouterr().err.split())


def test_depuis_validation_refuses_data_absent_tampered_or_never_validated(tmp_path, capsys):
    """No annex of an avenant from data that are not proven to be the validated ones: a hidden sheet
    edited since (its data no longer those of the fingerprint stored on the Accueil), a hidden sheet
    deleted, a workbook never validated, and one validated anew since its changes (« Valider » replaced the
    data kept: an annex listing nothing). Each refused, status 2, saying why and what to do instead."""
    from acv_xl.checks.fingerprint import fingerprint
    from acv_xl.reading import snapshot
    from acv_xl.reading.read import read_file

    signed, working = _validated_in_place(tmp_path)
    out = tmp_path / "annexe.xlsx"
    # the hidden sheet rewritten with today's data, well encoded, and their own fingerprint inside
    forged = tmp_path / "forge.xlsx"
    wb = openpyxl.load_workbook(working)
    ws = wb[layout.SNAPSHOT_SHEET]
    today = read_file(working)
    for i, text in enumerate(snapshot.encode(today, fingerprint(today)), start=1):
        ws.cell(i, 1).value = text
    wb.save(forged)
    err = _refused(capsys, forged, out)
    assert "ne correspondent pas à son empreinte" in err and "--depuis AVANT.xlsx" in err, err

    wb = openpyxl.load_workbook(working)
    del wb[layout.SNAPSHOT_SHEET]
    wb.save(gone := tmp_path / "sans-donnees.xlsx")
    err = _refused(capsys, gone, out)
    assert "ne sont pas conservées dans ce classeur" in err and "--depuis AVANT.xlsx" in err, err

    build_workbook(never := tmp_path / "jamais.xlsx", example_conventions()["bethune-bruay.xlsx"])
    assert "« jamais.xlsx » n'a jamais été validé sans erreur" in _refused(capsys, never, out)
    # validated with errors: « Erreurs à corriger », no data kept — never said « jamais validé »
    build_workbook(source := tmp_path / "boulogne.xlsx", example_conventions()["boulogne-sur-mer.xlsx"])
    assert main(["valider", str(source), "--annoter", str(failed := tmp_path / "erreurs.xlsx")]) == 1
    err = _refused(capsys, failed, out)
    assert "« erreurs.xlsx » : sa dernière validation a trouvé des erreurs" in err and "jamais" not in err, err

    assert main(["valider", str(working), "--annoter", str(again := tmp_path / "revalide.xlsx")]) == 0
    err = _refused(capsys, again, out)
    assert "« revalide.xlsx » n'a pas été modifié depuis sa validation du" in err and "avant de valider" in err, err
    # validated by --annoter, not by a button: said, and where the data before still are
    assert "« acv-xl valider --annoter » dans la copie qu'il écrit" in err and "sur le classeur d'origine" in err, err
    # « modifié » by its fingerprint alone, two lines swapped: the same data, an annex listing nothing
    wb = openpyxl.load_workbook(signed)
    ws = wb[layout.Sheet.FINANCEMENT]
    for col in range(1, ws.max_column + 1):
        ws.cell(4, col).value, ws.cell(5, col).value = ws.cell(5, col).value, ws.cell(4, col).value
    wb.save(swapped := tmp_path / "trie.xlsx")
    err = _refused(capsys, swapped, out)
    assert "« trie.xlsx » a les données de sa validation du" in err and "triées" in err and "--depuis AVANT" in err, err
    # the workbook of another convention, validated, taken for this one: as --depuis, refused (draft or not)
    wb = openpyxl.load_workbook(working)
    nc = layout.NAMED_BY_NAME["acv_id"]
    was, wb[nc.sheet][nc.cell].value = wb[nc.sheet][nc.cell].value, "ACV999"
    wb.save(other := tmp_path / "autre.xlsx")
    capsys.readouterr()
    assert main(["annexe", str(other), "--depuis-validation", "--brouillon", "-o", str(out)]) == 2 and not out.exists()
    err = " ".join(capsys.readouterr().err.split())
    assert f"les données validées que garde « autre.xlsx » portent sur une autre convention ({was} au lieu de " \
           "ACV999)" in err and "--depuis AVANT.xlsx" in err, err
    # --depuis and --depuis-validation name two states before: refused in French
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["annexe", str(working), "--depuis", str(signed), "--depuis-validation"])
    assert exc.value.code == 2 and "ne peut pas être indiqué avec --depuis" in capsys.readouterr().err


@pytest.mark.parametrize("since", ["--depuis", "--depuis-validation"])
def test_the_state_compared_with_is_named_as_every_output_names_it(tmp_path, since):
    """« Par rapport au classeur « avant.xlsx » » (or « aux données validées …, conservées dans … »)
    wrote the name itself in the annex: « signee.xlsx␣ » (unzipped on Linux) with its space invisible,
    a bidirectional control obeyed (the name read reversed). Shown as the cover names its workbook."""
    signed, working = _validated_in_place(tmp_path)
    odd = signed.with_name("signee.xlsx ") if since == "--depuis" else working.with_name("ar\u202exslx.xlsx")
    (signed if since == "--depuis" else working).rename(odd)
    out = tmp_path / "annexe.xlsx"
    args = ["annexe", str(working), "--depuis", str(odd)] if since == "--depuis" else ["annexe", str(odd), since]
    assert main([*args, "-o", str(out), "--brouillon"]) == 0
    said = "« signee.xlsx (espace finale) »" if since == "--depuis" else "« ar\\u202exslx.xlsx »"
    texts = _texts(openpyxl.load_workbook(out)[AnnexSheet.MODIFICATIONS])
    assert any(t.startswith("Par rapport ") and said in t for t in texts), texts[:3]
