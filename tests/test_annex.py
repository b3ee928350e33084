"""The annex of a convention (`acv_xl.outputs.annex`, `acv-xl annexe`; the avenant's: test_annex_depuis).

Numbers are read back from the written workbook with openpyxl and compared with `totals`; the PDF
is produced by LibreOffice (these tests FAIL when soffice is missing: the annex must print) and
read with pypdf and pdftotext. LibreOffice runs are batched in module fixtures to keep time low.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from acv_xl.outputs import annex
from acv_xl.contract import layout
from acv_xl.outputs import libreoffice
from acv_xl.checks import totals
from acv_xl.outputs.annex import AnnexSheet, PROJET_NON_VALIDE
from acv_xl.checks.findings import Gravite
from acv_xl.checks.validate import ETAT_LIBELLE
from acv_xl.contract.model import (Commune, Convention, ElementDiagnostic, FicheAction, Financeur, Indicateur,
                          LigneFinancement, MembreGouvernance, Perimetre, build_named, build_row)
from acv_xl.contract.values import fmt_euros

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_SHEETS = (AnnexSheet.COVER, AnnexSheet.PERIMETRES, AnnexSheet.ACTIONS, AnnexSheet.FINANCEMENT,
                  AnnexSheet.AXE_ANNEE, AnnexSheet.PART_MO)


# ============================================================================ a convention built here
def make_convention() -> Convention:
    """Lens - Liévin, 4 actions on 3 axes, 8 funders, one refused line, one action worth 0,50 €."""
    names = {"acv_version_modele": layout.TEMPLATE_VERSION, "acv_programme": "ACV 2", "acv_id": "ACV113",
             "acv_libelle": "Lens - Liévin", "acv_departement": "62", "acv_epci": "CA de Lens-Liévin",
             "acv_directeur_projet": "Marie Dupont", "acv_date_convention": date(2023, 6, 15),
             "acv_date_fin_initialisation": date(2024, 6, 30), "acv_date_fin_deploiement": date(2026, 12, 31),
             "acv_date_comite": date(2024, 9, 12)}
    conv = Convention(fichier="lens.xlsx", names={k: build_named(k, v) for k, v in names.items()})
    conv.communes = [build_row(Commune, {"code_insee": "62498", "commune": "Lens", "role": "Ville centre"}),
                     build_row(Commune, {"code_insee": "62510", "commune": "Liévin", "role": "Commune associée"})]
    conv.perimetres = [build_row(Perimetre, r) for r in (
        {"code": "S1", "type": "Secteur prioritaire", "nom": "Quartier de la gare de Lens", "parent": "O1",
         "echelle": "Quartier", "superficie": 42.5, "population": 3200},
        {"code": "E1", "type": "Étude", "nom": "Agglomération de Lens-Liévin", "echelle": "EPCI",
         "superficie": 24000.5, "population": 242000},
        {"code": "O1", "type": "ORT", "nom": "Centres-villes de Lens et Liévin", "parent": "E1",
         "echelle": "Centre-ville", "superficie": 310, "population": 21000},
        {"code": "S2", "type": "Quartier de gare", "nom": "Place Jean Jaurès", "parent": "O1", "echelle": "Quartier"},
    )]
    acts = [
        ("4.1", "Requalification de la place Jean Jaurès", 4, "Commune de Liévin", "Commune", "En cours", 3456789.12,
         "ETAT;REGION;DEPT"),
        ("1.1", "Réhabilitation d'îlots dégradés", 1, "Commune de Lens", "Commune", "Mature", 1200000, "ETAT;ANAH;CDC"),
        ("1.2", "OPAH-RU multisite", 1, "CA de Lens-Liévin", "EPCI", "Engagée", 850000.5, "ANAH"),
        ("2.1", "Foncière commerciale", 2, "SEM Territoires 62", "SEM / SPL", "En préparation", 2000000, "CDC;REGION"),
    ]
    conv.actions = [build_row(FicheAction, {
        "numero": n, "intitule": t, "axe": ax, "maitre_ouvrage": mo, "type_mo": tm, "maturite": m, "cout_total": c,
        "base": "HT", "cosignataires": cs, "perimetre": "O1", "date_debut": date(2024, 1, 1),
        "date_fin": date(2026, 6, 30), "description": f"Description de l'action {n}", "derogation": "Aucune",
        "axe_transversal": "Transition écologique", "depense_subventionnable": c,
        "date_signature": date(2024, 3, 1)}) for n, t, ax, mo, tm, m, c, cs in acts]
    fins = [
        ("1.1", "COMMUNE", "Autofinancement", "Autofinancement", 2024, 300000, "Acquis"),
        ("1.1", "ETAT", "DSIL", "Subvention", 2024, 400000, "Acquis"),
        ("1.1", "ANAH", "RHI-THIRORI", "Subvention", 2025, 300000, "Sollicité"),
        ("1.1", "CDC", "PRU ACV", "Prêt", 2025, 200000, "Prévisionnel"),
        ("1.1", "REGION", "Aménagement du territoire", "Subvention", 2025, 99999, "Refusé"),
        ("1.2", "EPCI", "Autofinancement", "Autofinancement", 2024, 350000.5, "Engagé"),
        ("1.2", "ANAH", "OPAH-RU", "Subvention", 2024, 500000, "Acquis"),
        ("2.1", "CDC", "Investissement", "Fonds propres", 2025, 800000, "Sollicité"),
        ("2.1", "REGION", "Redynamisation des centres-villes", "Subvention", 2025, 600000, "Sollicité"),
        ("2.1", "PRIVE", "Apport privé", "Fonds propres", 2026, 600000, "Prévisionnel"),
        ("4.1", "COMMUNE", "Autofinancement", "Autofinancement", 2025, 1056789.12, "Acquis"),
        ("4.1", "ETAT", "DETR", "Subvention", 2025, 1000000, "Engagé"),
        ("4.1", "REGION", "Aménagement du territoire", "Subvention", 2026, 800000, "Sollicité"),
        ("4.1", "DEPT", "Aide aux projets des territoires", "Subvention", 2026, 600000, "Prévisionnel"),
    ]
    keys = ("numero", "financeur", "dispositif", "nature", "annee", "montant", "statut")
    conv.financements = [build_row(LigneFinancement, dict(zip(keys, f))) for f in fins]
    conv.financeurs = [build_row(Financeur, {"code": f.code, "nom": f.nom, "categorie": f.categorie})
                       for f in layout.FINANCEURS]
    conv.diagnostic = [build_row(ElementDiagnostic, {
        "axe": n, "element": f"Diagnostic de l'axe {n}", "source": "Étude pré-opérationnelle", "type": "Existant",
        "date_source": date(2022, 11, 30), "etat": "Finalisé"}) for n in layout.AXES]
    conv.gouvernance = [build_row(MembreGouvernance, {"instance": "Comité de projet", "organisme": org,
                                                      "college": college, "nom": nom})
                        for org, college, nom in (("Ville de Lens", "Élus", "Le maire"),
                                                  ("Préfecture du Pas-de-Calais", "État", "Le sous-préfet"),
                                                  ("Ville de Lens", "Directeur de projet", "Marie Dupont"))]
    conv.indicateurs = [build_row(Indicateur, {"numero": "1.1", "indicateur": "Logements réhabilités",
                                               "unite": "logements", "valeur_initiale": 0, "valeur_cible": 45,
                                               "annee_cible": 2026})]
    return conv


def report_of(conv: Convention, fichier: str = "lens.xlsx"):
    from acv_xl.checks.validate import validate_convention

    return validate_convention(conv, fichier=fichier)


def d(value) -> Decimal:
    """A cell's number back to cents."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


# ============================================================================ reading an annex back
def matrix_of(ws) -> tuple[list[str], dict[str, dict[str, Decimal]], dict[str, Decimal], dict[str, Decimal], Decimal]:
    """The actions × financeurs block of `Plan de financement`: funder codes, cells, row totals,
    column totals (the `Total` row) and grand total, found by header text."""
    rows = list(ws.iter_rows(values_only=True))
    h = next(i for i, r in enumerate(rows) if r[0] == layout.T_ACTIONS.header("numero"))
    header = rows[h]
    total_col = header.index("Total des financements")
    codes = [m.group(1) if (m := re.search(r"\(([^()]+)\)$", str(c))) else annex.UNKNOWN
             for c in header[2:total_col]]  # a draft may have a column « Financeur non renseigné »
    cells, row_totals = {}, {}
    i = h + 1
    while rows[i][0] != "Total":
        num = str(rows[i][0])
        cells[num] = {code: d(v) for code, v in zip(codes, rows[i][2:total_col]) if v is not None}
        row_totals[num] = d(rows[i][total_col])
        i += 1
    col_totals = {code: d(v) for code, v in zip(codes, rows[i][2:total_col])}
    return codes, cells, row_totals, col_totals, d(rows[i][total_col])


def all_values(wb) -> list:
    return [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


# ============================================================================ fixtures
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The in-test convention's annex, clean and draft."""
    folder = tmp_path_factory.mktemp("annexe")
    conv = make_convention()
    report = report_of(conv)
    assert report.valide, [f.message for f in report.findings if f.gravite is Gravite.ERREUR]
    clean = annex.build_annex(report, folder / "lens_annexe.xlsx")
    draft = annex.build_annex(report, folder / "lens_brouillon.xlsx", brouillon=True)
    return {"conv": conv, "report": report, "clean": clean, "draft": draft, "folder": folder}


@pytest.mark.parametrize("fichier, shown", [("lens.xlsx ", "lens.xlsx (espace finale)"),
                                            ("ar\u202exslx.snel.xlsx", "ar\\u202exslx.snel.xlsx")])
def test_the_source_workbook_is_named_on_the_cover_as_every_output_names_it(tmp_path, fichier, shown):
    """« Classeur source » showed the name itself: « lens.xlsx␣ » (unzipped on Linux) as
    « lens.xlsx », a name nobody finds under Windows, and a bidirectional control obeyed (the name
    read reversed, another commune's). Shown as the consolidation and the messages show it."""
    out = annex.build_annex(report_of(make_convention(), fichier=str(tmp_path / fichier)), tmp_path / "annexe.xlsx")
    ws = openpyxl.load_workbook(out)[AnnexSheet.COVER]
    (value,) = [row[1] for row in ws.iter_rows(values_only=True) if row[0] == "Classeur source"]
    assert value == shown


@pytest.fixture(scope="module")
def built_pdf(built):
    """Both annexes printed to PDF in one LibreOffice run."""
    clean, draft = libreoffice.convert([built["clean"], built["draft"]], "pdf", built["folder"])
    return {**built, "clean_pdf": clean, "draft_pdf": draft}


def pdf_text(path: Path) -> str:
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) est nécessaire pour ces tests"
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return out.replace("\u202f", " ").replace("\u00a0", " ")


# ============================================================================ numbers
def test_matrix_equals_totals_and_adds_up(built):
    conv, t = built["conv"], totals.compute(built["conv"])
    wb = openpyxl.load_workbook(built["clean"])
    codes, cells, row_totals, col_totals, grand = matrix_of(wb[AnnexSheet.FINANCEMENT])
    assert set(codes) == set(t.par_financeur)
    assert row_totals == t.par_action
    assert col_totals == t.par_financeur
    assert grand == t.financement_total == Decimal("7506789.62")
    for num, row in cells.items():  # across
        assert sum(row.values(), Decimal(0)) == row_totals[num]
    for code in codes:  # down
        assert sum((row.get(code, Decimal(0)) for row in cells.values()), Decimal(0)) == col_totals[code]
    # the refused REGION line (99 999 €) is in no total
    assert col_totals["REGION"] == Decimal("1400000.00")
    assert {a.numero for a in conv.actions} == set(cells)


def test_every_action_listed_with_its_cost_and_axe_subtotals(built):
    conv, t = built["conv"], totals.compute(built["conv"])
    ws = openpyxl.load_workbook(built["clean"])[AnnexSheet.ACTIONS]
    rows = list(ws.iter_rows(values_only=True))
    costs = {r[0]: d(r[6]) for r in rows if r[0] in {a.numero for a in conv.actions}}
    assert costs == {a.numero: a.cout_total for a in conv.actions}
    # sorted by axe then number, under their axe heading
    order = [r[0] for r in rows if r[0] in costs or (isinstance(r[0], str) and r[0].startswith("Axe "))]
    assert order == [layout.axe_label(1), "1.1", "1.2", layout.axe_label(2), "2.1", layout.axe_label(4), "4.1"]
    subtotals = {r[0]: d(r[6]) for r in rows if isinstance(r[0], str) and r[0].startswith("Sous-total")}
    assert subtotals == {"Sous-total Axe 1": Decimal("2050000.50"), "Sous-total Axe 2": Decimal("2000000.00"),
                         "Sous-total Axe 4": Decimal("3456789.12")}
    total_row = next(r for r in rows if r[0] == "Coût total des actions")
    assert d(total_row[6]) == t.cout_total


def test_axe_and_year_tables_and_shares(built):
    t = totals.compute(built["conv"])
    ws = openpyxl.load_workbook(built["clean"])[AnnexSheet.AXE_ANNEE]
    rows = list(ws.iter_rows(values_only=True))
    header = next(r for r in rows if r[0] == layout.T_ACTIONS.header("axe"))
    tcol = header.index("Total des financements")
    by_axe = {r[0]: d(r[tcol]) for r in rows if isinstance(r[0], str) and r[0][:4] == "Axe " and r[tcol] is not None}
    assert by_axe == {layout.axe_label(int(k)): v for k, v in t.par_axe.items()}
    by_year = {str(r[0]): d(r[tcol]) for r in rows if re.fullmatch(r"20\d\d", str(r[0]))}
    assert by_year == t.par_annee
    # the share row of the matrix: each funder's share of the grand total
    plan = list(openpyxl.load_workbook(built["clean"])[AnnexSheet.FINANCEMENT].iter_rows(values_only=True))
    codes = matrix_of(openpyxl.load_workbook(built["clean"])[AnnexSheet.FINANCEMENT])[0]
    share_row = next(r for r in plan if r[0] == "Part de chaque financeur")
    for code, share in zip(codes, share_row[2:]):
        assert share == pytest.approx(float(t.par_financeur[code] / t.financement_total))


def test_part_mo_per_action(built):
    conv = built["conv"]
    rows = list(openpyxl.load_workbook(built["clean"])[AnnexSheet.PART_MO].iter_rows(values_only=True))
    for a in conv.actions:
        row = next(r for r in rows if r[0] == a.numero)
        p = totals.part_mo(totals.lines_of(conv.financements, a.numero), conv.financeurs, a)
        assert (d(row[4]), d(row[5])) == (p.propre, p.financements_publics)
        assert row[6] == pytest.approx(float(p.ratio))
    row = next(r for r in rows if r[0] == "1.1")  # 300 000 autofinancement + 200 000 prêt CDC vs 700 000 subsidies
    assert row[6] == pytest.approx(500000 / 1200000)


def test_part_mo_never_shown_at_the_minimum_it_misses(tmp_path):
    """19,996 % is under the 20 % minimum (FIN-06): its cells (two decimals at most) read 19,99 %, not 20,0 %."""
    conv = make_convention()
    a = next(x for x in conv.actions if x.numero == "1.2")
    conv.actions = [x if x is not a else build_row(FicheAction, {**a.raw, "cout_total": 100000,
                                                                 "depense_subventionnable": 100000})
                    for x in conv.actions]
    lines = [lf for lf in conv.financements if lf.numero != "1.2"]
    keys = ("numero", "financeur", "dispositif", "nature", "annee", "montant", "statut")
    lines += [build_row(LigneFinancement, dict(zip(keys, f))) for f in (
        ("1.2", "EPCI", "Autofinancement", "Autofinancement", 2024, 19996, "Engagé"),
        ("1.2", "ANAH", "OPAH-RU", "Subvention", 2024, 80004, "Acquis"))]
    conv.financements = lines
    report = report_of(conv)
    assert any(f.code == "FIN-06" and "19,996 %" in f.message for f in report.findings)
    out = annex.build_annex(report, tmp_path / "a.xlsx", brouillon=True)
    wb = openpyxl.load_workbook(out)
    row = next(r for r in wb[AnnexSheet.PART_MO].iter_rows() if r[0].value == "1.2")
    fiche = wb[f"{AnnexSheet.ACTION_PREFIX}1.2"]
    summary = next(r for r in fiche.iter_rows() if r[0].value == "Part du maître d'ouvrage (article L1111-10 du CGCT)")
    for cell in (row[6], summary[6]):
        assert cell.number_format.endswith("0.0# %") and round(cell.value * 100, 2) == 19.99


def test_one_sheet_per_action_with_fiche_lines_and_signatures(built):
    conv = built["conv"]
    wb = openpyxl.load_workbook(built["clean"])
    assert wb.sheetnames[:6] == list(SUMMARY_SHEETS)
    assert wb.sheetnames[6:] == ["Action 1.1", "Action 1.2", "Action 2.1", "Action 4.1"]
    ws = wb["Action 1.1"]
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    for col in layout.T_ACTIONS.columns:  # every field of the fiche, labelled as in the workbook
        assert col.header in values
    assert "Logements réhabilités" in values
    assert "État (préfecture, DDTM, DRAC)\nDate et signature :" in values
    assert "Agence nationale de l'habitat (Anah)\nDate et signature :" in values
    assert "Banque des Territoires (Caisse des Dépôts)\nDate et signature :" in values
    # the refused line is listed, greyed, and left out of the action's total
    refused = next(row for row in ws.iter_rows() if row[7].value == "Refusé")
    assert d(refused[6].value) == Decimal("99999.00")
    assert refused[6].font.color is not None and refused[6].font.color.rgb.endswith("8C8C8C")
    total_row = next(row for row in ws.iter_rows() if row[0].value == "Total des financements (hors refusés)")
    assert d(total_row[6].value) == totals.total_action(conv.financements, "1.1") == Decimal("1200000.00")


def test_perimeters_nested_by_parent(built):
    ws = openpyxl.load_workbook(built["clean"])[AnnexSheet.PERIMETRES]
    rows = [row for row in ws.iter_rows() if row[1].value in ("E1", "O1", "S1", "S2")]
    assert [r[1].value for r in rows] == ["E1", "O1", "S1", "S2"]  # parent before its children
    assert [r[0].alignment.indent for r in rows] == [0, 2, 4, 4]
    assert [r[5].value for r in rows] == [24000.5, 310, 42.5, None]


def test_print_ready_values_and_french_formats(built):
    wb = openpyxl.load_workbook(built["clean"])
    cover = [c.value for row in wb[AnnexSheet.COVER].iter_rows() for c in row if c.value is not None]
    # without the state before, nothing makes it an avenant's annex: the convention's
    assert annex.TITRE in cover and annex.TITRE_AVENANT not in cover and "avenant" not in annex.TITRE
    assert wb.properties.title == f"{annex.TITRE} — Lens - Liévin"
    assert all(annex.TITRE in ws.oddHeader.left.text for ws in wb.worksheets)
    for expected in ("ACV113", "Lens - Liévin", "CA de Lens-Liévin", "62498", "Lens", "62510", "Liévin",
                     ETAT_LIBELLE[built["report"].etat], built["report"].empreinte):
        assert expected in cover
    # the identity's labels, without the template's typing hints (« (ACV + 3 chiffres) », « (code) »)
    assert "Identifiant de la convention" in cover and "Département" in cover
    assert not any("(ACV + 3 chiffres)" in str(v) or "(code)" in str(v) for v in cover)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.paperSize == 9  # A4
        if ws.title != AnnexSheet.COVER:  # one page; every other sheet repeats its header rows
            assert ws.print_title_rows, ws.title
        assert "&P / &N" in ws.oddFooter.center.text
        assert "Lens - Liévin (ACV113)" in ws.oddFooter.left.text
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} est une formule"
                if isinstance(c.value, float) and c.number_format not in ("0", "[$-40C]#,##0",
                                                                         "[$-40C]#,##0.0#", "[$-40C]0.0# %"):
                    assert c.number_format.endswith('#,##0.00 "€"'), (ws.title, c.coordinate, c.number_format)
                if hasattr(c.value, "year") and c.value is not None:
                    assert c.number_format == "dd/mm/yyyy"
    # totals in bold
    ws = wb[AnnexSheet.FINANCEMENT]
    total_row = next(row for row in ws.iter_rows() if row[0].value == "Total")
    assert all(c.font.b for c in total_row[2:])


def test_draft_watermark_on_every_sheet(built):
    wb = openpyxl.load_workbook(built["draft"])
    for ws in wb.worksheets:
        assert PROJET_NON_VALIDE in ws.oddHeader.center.text, ws.title
        assert ws["A1"].value == PROJET_NON_VALIDE, ws.title
    assert any(isinstance(v, str) and v.startswith(PROJET_NON_VALIDE) for v in all_values(wb))
    clean = openpyxl.load_workbook(built["clean"])
    assert PROJET_NON_VALIDE not in all_values(clean)
    assert all(PROJET_NON_VALIDE not in (ws.oddHeader.center.text or "") for ws in clean.worksheets)


# ============================================================================ PDF
@pytest.mark.libreoffice
def test_pdf_pages_and_french_amounts(built_pdf):
    built = built_pdf
    pages = len(PdfReader(built["clean_pdf"]).pages)
    # 6 summary sheets, of which the matrix and the axe/année tables print two pages wide (their
    # financeur columns would need type under 8 pt on one page), + one page per fiche-action:
    # pinned after looking at them
    assert pages == len(SUMMARY_SHEETS) + 2 + len(built["conv"].actions) == 12
    text = pdf_text(built["clean_pdf"])
    grand = totals.compute(built["conv"]).financement_total
    assert fmt_euros(grand) == "7 506 789,62 €"
    assert text.count(fmt_euros(grand)) >= 3  # cover, matrix, axe and year tables
    assert "1 400 000,00 €" in text and "99 999,00 €" in text  # REGION total; the refused line in its fiche
    assert "15/06/2023" in text
    assert re.search(r"\b12 / 12\b", text)
    assert PROJET_NON_VALIDE not in text
    # the convention's annex, on every page (header): not an avenant's
    assert text.count(annex.TITRE) >= pages and "avenant" not in text


@pytest.mark.libreoffice
def test_pdf_draft_every_page_marked(built_pdf):
    built = built_pdf
    reader = PdfReader(built["draft_pdf"])
    texts = [p.extract_text().replace("\u202f", " ").replace("\u00a0", " ") for p in reader.pages]
    assert len(texts) >= len(SUMMARY_SHEETS) + len(built["conv"].actions)
    assert all(PROJET_NON_VALIDE in t for t in texts)


# ============================================================================ the command
def run_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acv_xl", "annexe", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ============================================================================ the shipped examples
@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """Every example written as a workbook, validated; the clean ones' annexes (one LibreOffice run)."""
    from acv_xl.outputs.examples import example_conventions
    from acv_xl.outputs.template import build_workbook
    from acv_xl.checks.validate import validate_file

    folder = tmp_path_factory.mktemp("exemples")
    out = {"clean": [], "faulty": []}
    for name, conv in example_conventions().items():
        path = folder / name
        build_workbook(path, conv)
        report = validate_file(path)
        assert report.convention is not None, name
        if report.valide:
            annexe = annex.build_annex(report, folder / f"{path.stem}_annexe.xlsx")
            out["clean"].append({"path": path, "example": conv, "report": report, "annexe": annexe})
        else:
            out["faulty"].append({"path": path, "report": report})
    assert out["clean"] and out["faulty"], "les exemples doivent compter des classeurs justes et fautifs"
    out["folder"] = folder
    return out


@pytest.fixture(scope="module")
def examples_pdf(examples):
    """The clean examples' annexes printed in one LibreOffice run."""
    pdfs = libreoffice.convert([e["annexe"] for e in examples["clean"]], "pdf", examples["folder"])
    return [{**e, "pdf": pdf} for e, pdf in zip(examples["clean"], pdfs)]


def test_examples_annex_numbers_exact_to_the_cent(examples):
    for e in examples["clean"]:
        conv = e["report"].convention
        t = totals.compute(conv)
        assert t.par_financeur == totals.compute(e["example"]).par_financeur  # the workbook round trip
        wb = openpyxl.load_workbook(e["annexe"])
        codes, cells, row_totals, col_totals, grand = matrix_of(wb[AnnexSheet.FINANCEMENT])
        assert col_totals == t.par_financeur, e["path"].name
        assert row_totals == t.par_action, e["path"].name
        assert grand == t.financement_total
        for num, row in cells.items():
            assert sum(row.values(), Decimal(0)) == row_totals[num]
        for code in codes:
            assert sum((r.get(code, Decimal(0)) for r in cells.values()), Decimal(0)) == col_totals[code]
        listed = {r[0] for r in wb[AnnexSheet.ACTIONS].iter_rows(values_only=True)}
        assert {a.numero for a in conv.actions} <= listed
        assert len(wb.sheetnames) == len(SUMMARY_SHEETS) + len(conv.actions)


@pytest.mark.libreoffice
def test_examples_pdf(examples_pdf):
    for e in examples_pdf:
        conv = e["report"].convention
        assert len(PdfReader(e["pdf"]).pages) >= len(SUMMARY_SHEETS) + len(conv.actions), e["path"].name
        text = pdf_text(e["pdf"])
        assert fmt_euros(totals.compute(conv).financement_total) in text, e["path"].name
        for a in conv.actions:
            assert f"Fiche-action n° {a.numero}" in text


# ============================================================================ acv-xl annexe
@pytest.mark.libreoffice
def test_cli_clean_pdf_next_to_input_and_input_untouched(examples, tmp_path):
    e = examples["clean"][0]
    src = tmp_path / e["path"].name
    shutil.copy(e["path"], src)
    before = sha(src)
    proc = run_cli(src, "--pdf", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    xlsx, pdf = tmp_path / f"{src.stem}_annexe.xlsx", tmp_path / f"{src.stem}_annexe.pdf"
    assert xlsx.exists() and pdf.exists()
    assert f"Annexe écrite : {xlsx}" in proc.stdout and f"PDF écrit : {pdf}" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert sha(src) == before
    total = totals.compute(e["report"].convention).financement_total
    assert fmt_euros(total) in pdf_text(pdf)


@pytest.mark.libreoffice
def test_cli_faulty_refused_then_draft(examples, tmp_path):
    e = examples["faulty"][0]
    src = tmp_path / e["path"].name
    shutil.copy(e["path"], src)
    before = sha(src)
    proc = run_cli(src, "--pdf", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]  # nothing written
    errors = [f for f in e["report"].findings if f.gravite is Gravite.ERREUR]
    for f in errors:
        assert f.code in proc.stdout and f.message in proc.stdout
    assert "--brouillon" in proc.stdout

    out = tmp_path / "sortie" / "projet.xlsx"
    proc = run_cli(src, "-o", out, "--pdf", "--brouillon", cwd=tmp_path)  # a missing folder is never created
    # a status-2 refusal is said on stderr, as by every other command
    assert proc.returncode == 2 and "le dossier de sortie n'existe pas" in proc.stderr and not out.parent.exists()
    assert not proc.stdout
    out.parent.mkdir()
    proc = run_cli(src, "-o", out, "--pdf", "--brouillon", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["projet.pdf", "projet.xlsx"]  # no temp file left
    pdf = out.with_suffix(".pdf")
    texts = [p.extract_text() for p in PdfReader(pdf).pages]
    assert len(texts) >= len(SUMMARY_SHEETS) + len(e["report"].convention.actions)
    assert all(PROJET_NON_VALIDE in t for t in texts)
    assert sha(src) == before


def test_cli_unreadable_file(tmp_path):
    bad = tmp_path / "pas_un_classeur.xlsx"
    bad.write_text("ceci n'est pas un classeur")
    proc = run_cli(bad, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Impossible de générer l'annexe" in proc.stderr and "STR-01" in proc.stderr and not proc.stdout
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]


def test_cli_refuses_to_overwrite_input_or_wrong_extension(examples, tmp_path):
    src = examples["clean"][0]["path"]
    before = sha(src)
    for out in (src, tmp_path / "annexe.pdf"):
        proc = run_cli(src, "-o", out, cwd=tmp_path)
        assert proc.returncode == 2 and "Impossible de générer l'annexe" in proc.stderr
        # « -o annexe.pdf » means « I want the PDF »: the message says how to get it
        assert ("ajoutez --pdf" in proc.stderr) == (out.suffix == ".pdf"), proc.stderr
    assert sha(src) == before
    assert not (tmp_path / "annexe.pdf").exists()


def test_libreoffice_missing_keeps_the_xlsx(examples, tmp_path, monkeypatch):
    from rich.console import Console

    monkeypatch.setattr(libreoffice, "soffice", lambda: None)
    console = Console(record=True, width=200)
    out = tmp_path / "annexe.xlsx"
    status = annex.run_annexe(examples["clean"][0]["path"], out, pdf=True, brouillon=False, console=console,
                              err_console=console)
    assert status == 2
    assert out.exists() and not out.with_suffix(".pdf").exists()
    text = console.export_text()
    assert "PDF non produit" in text and "apt-get install libreoffice-calc" in text


def test_soffice_is_installed():
    """The PDF is part of the product: these tests fail (never skip) without LibreOffice."""
    assert libreoffice.soffice(), libreoffice.INSTALL_HINT


def test_errors_always_marked_draft_and_bad_values_shown_not_counted(tmp_path):
    conv = make_convention()
    bad = next(lf for lf in conv.financements if lf.numero == "1.2" and lf.financeur == "ANAH")
    conv.financements[conv.financements.index(bad)] = build_row(
        LigneFinancement, {**bad.raw, "montant": "500 000 €"})  # typed as text: an error, counted nowhere
    report = report_of(conv)
    assert not report.valide
    out = annex.build_annex(report, tmp_path / "a.xlsx")  # no --brouillon asked: marked all the same
    wb = openpyxl.load_workbook(out)
    assert all(PROJET_NON_VALIDE in ws.oddHeader.center.text for ws in wb.worksheets)
    codes, cells, row_totals, col_totals, grand = matrix_of(wb[AnnexSheet.FINANCEMENT])
    assert row_totals["1.2"] == Decimal("350000.50") and col_totals["ANAH"] == Decimal("300000.00")
    assert grand == totals.compute(conv).financement_total == Decimal("7006789.62")
    values = [c.value for row in wb["Action 1.2"].iter_rows() for c in row]
    assert "500 000 €" in values  # what the user typed, for the draft reader to see
    cover = [c.value for row in wb[AnnexSheet.COVER].iter_rows() for c in row]
    n = report.resume["erreurs"]
    said = f"le classeur comporte {n} erreur{'s' if n > 1 else ''} à corriger"  # agreed, never « erreur(s) »
    assert any(isinstance(v, str) and v.startswith(PROJET_NON_VALIDE) and said in v for v in cover)


def test_default_output_next_to_input(tmp_path):
    from acv_xl.outputs.template import build_workbook
    from rich.console import Console

    src = tmp_path / "lens.xlsx"
    build_workbook(src, make_convention())
    before = sha(src)
    console = Console(record=True, width=200)
    assert annex.run_annexe(src, None, pdf=False, brouillon=False, console=console) == 0
    out = tmp_path / "lens_annexe.xlsx"
    assert out.exists() and f"Annexe écrite : {out}" in console.export_text()
    assert sha(src) == before
    wb = openpyxl.load_workbook(out)
    assert matrix_of(wb[AnnexSheet.FINANCEMENT])[4] == Decimal("7506789.62")


def test_messy_draft_never_crashes_and_still_adds_up(tmp_path):
    """A draft may hold anything: no axe, no number, unknown funder or action, a cycle of perimeters."""
    conv = make_convention()
    conv.actions.append(build_row(FicheAction, {"intitule": "Action sans numéro ni axe", "cout_total": "beaucoup"}))
    conv.actions.append(build_row(FicheAction, {"numero": "9/9", "intitule": "Axe inconnu", "axe": "Axe 9",
                                                "cout_total": 1000, "maturite": "Abandonnée"}))
    keys = ("numero", "financeur", "dispositif", "nature", "annee", "montant", "statut")
    for ln in (("7.7", "ETAT", "DSIL", "Subvention", 2025, 1000, "Acquis"),      # unknown action
               ("1.1", "INCONNU", "X", "Subvention", None, 10.01, "Acquis"),     # unknown funder, no year
               (None, None, None, None, "2025", 5, None)):                       # nothing usable but the amount
        conv.financements.append(build_row(LigneFinancement, dict(zip(keys, ln))))
    conv.perimetres.append(build_row(Perimetre, {"code": "C1", "type": "ORT", "nom": "Cycle A", "parent": "C2"}))
    conv.perimetres.append(build_row(Perimetre, {"code": "C2", "type": "ORT", "nom": "Cycle B", "parent": "C1"}))
    conv.names["acv_libelle"] = build_named("acv_libelle", "12 & Co [test]")
    report = report_of(conv)
    out = annex.build_annex(report, tmp_path / "messy.xlsx", brouillon=True)
    wb = openpyxl.load_workbook(out)
    codes, cells, row_totals, col_totals, grand = matrix_of(wb[AnnexSheet.FINANCEMENT])
    assert grand == totals.total(conv.financements)
    assert sum(row_totals.values(), Decimal(0)) == grand == sum(col_totals.values(), Decimal(0))
    assert "INCONNU" in codes and "7.7" in cells
    assert "Action 9-9" in wb.sheetnames and len(wb.sheetnames) == len(SUMMARY_SHEETS) + len(conv.actions)
    names = [r[0] for r in wb[AnnexSheet.PERIMETRES].iter_rows(values_only=True)]
    assert "Cycle A" in names and "Cycle B" in names
    assert "Convention 12 && Co [test] (ACV113)" in wb[AnnexSheet.COVER].oddFooter.left.text


def test_empty_convention_draft(tmp_path):
    conv = Convention(names={"acv_libelle": build_named("acv_libelle", "Vide")})
    out = annex.build_annex(report_of(conv), tmp_path / "vide.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == list(SUMMARY_SHEETS)
    assert matrix_of(wb[AnnexSheet.FINANCEMENT])[4] == Decimal("0.00")


# ============================================================================ the totals added for the annex
def test_totals_matrix_shares_and_cost_by_axe():
    conv = make_convention()
    m = totals.matrix(conv.financements, lambda lf: lf.numero, lambda lf: lf.financeur)
    assert m["1.1"] == {"COMMUNE": Decimal("300000.00"), "ETAT": Decimal("400000.00"),
                        "ANAH": Decimal("300000.00"), "CDC": Decimal("200000.00")}  # REGION refused: absent
    assert m["4.1"]["COMMUNE"] == Decimal("1056789.12")
    by_year = totals.matrix(conv.financements, lambda lf: lf.annee, lambda lf: lf.financeur)
    assert by_year["2026"] == {"REGION": Decimal("800000.00"), "DEPT": Decimal("600000.00"),
                               "PRIVE": Decimal("600000.00")}
    s = totals.shares({"A": Decimal("25"), "B": Decimal("75")}, Decimal("100"))
    assert s == {"A": Decimal("0.25"), "B": Decimal("0.75")}
    assert totals.shares({"A": Decimal("0")}, Decimal("0")) == {"A": None}
    conv.actions.append(build_row(FicheAction, {"numero": "4.2", "axe": 4, "cout_total": 10, "maturite": "Abandonnée"}))
    conv.actions.append(build_row(FicheAction, {"numero": "x", "cout_total": 7}))
    assert totals.cout_par_axe(conv.actions) == {"": Decimal("7.00"), "1": Decimal("2050000.50"),
                                                 "2": Decimal("2000000.00"), "4": Decimal("3456789.12")}
    assert sum(totals.cout_par_axe(conv.actions).values()) == totals.compute(conv).cout_total


def test_text_shaped_like_rich_text_xml_stays_text(tmp_path):
    """XlsxWriter keeps a string reading `<r>…</r>` as raw rich-text XML: user text of that shape
    (libellé, intitulé, description) must come back as typed, and the file must stay well-formed."""
    conv = make_convention()
    weird = "<r>a & b</r>"
    conv.names["acv_libelle"] = build_named("acv_libelle", weird)
    conv.actions[0] = conv.actions[0].model_copy(update={"intitule": weird, "description": "<r><t>x</t></r>"})
    out = annex.build_annex(report_of(conv), tmp_path / "annexe.xlsx")
    values = all_values(openpyxl.load_workbook(out))  # raises on a corrupt sheet or shared-string table
    assert weird in values
    assert "<r><t>x</t></r>" in values
    assert any(isinstance(v, str) and v.endswith(weird) and v.startswith("Fiche-action") for v in values)


def test_a_long_intitule_wraps_in_the_fiches_title(tmp_path):
    """The fiche's title (« Fiche-action n° … — intitulé », 16 pt, repeated on each page) was one
    line merged across the page: a long intitulé was cut mid-word at its edge. It wraps, in a row
    tall enough for its lines."""
    conv = make_convention()
    long = ("Réhabilitation énergétique et requalification complète de l'îlot « Saint-Géry – Méaulens » : "
            "démolition partielle, création de 48 logements et cœur d'îlot végétalisé ouvert au public")
    conv.actions = [build_row(FicheAction, {**a.raw, "intitule": long}) if a.numero == "1.2" else a
                    for a in conv.actions]
    out = annex.build_annex(report_of(conv), tmp_path / "a.xlsx", brouillon=True)
    ws = openpyxl.load_workbook(out)[f"{AnnexSheet.ACTION_PREFIX}1.2"]
    cell = next(c for r in ws.iter_rows() for c in r if isinstance(c.value, str) and c.value.endswith(long))
    assert cell.alignment.wrap_text
    assert ws.row_dimensions[cell.row].height >= 2 * 16 * 1.15  # two lines of 16 pt Arial (1.15 em each) at least


def test_a_cover_field_on_two_lines_gets_their_height(built):
    """« Coût total des actions (hors actions abandonnées) » wraps in its bold label column: at the
    default height its second line printed over « Total des financements »."""
    ws = openpyxl.load_workbook(built["clean"])[AnnexSheet.COVER]
    row = next(r[0].row for r in ws.iter_rows() if r[0].value == "Coût total des actions (hors actions abandonnées)")
    assert (ws.row_dimensions[row].height or 0) >= 2 * 13


def test_a_fiche_is_shrunk_to_one_page_only_while_its_type_stays_at_8_pt(tmp_path):
    """A fiche was fitted to one page whenever it had 60 rows or fewer: a long description is one
    row of many lines, so a fiche of 45 rows printed at 7 pt. Judged on the rows' heights now."""
    from acv_xl.outputs import page_layout

    conv = make_convention()
    long = "Travaux de requalification, maîtrise d'œuvre et concertation avec les riverains. " * 40
    conv.actions = [build_row(FicheAction, {**a.raw, "description": long}) if a.numero == "1.2" else a
                    for a in conv.actions]
    out = annex.build_annex(report_of(conv), tmp_path / "a.xlsx", brouillon=True)
    wb = openpyxl.load_workbook(out)
    short, tall = wb[f"{AnnexSheet.ACTION_PREFIX}1.1"], wb[f"{AnnexSheet.ACTION_PREFIX}1.2"]
    printable = page_layout.A4_SHORT_PT - (tall.page_margins.top + tall.page_margins.bottom) * 72

    def height(ws) -> float:
        return sum(ws.row_dimensions[r].height or 12.75 for r in range(1, ws.max_row + 1))  # 10 pt rows

    assert short.page_setup.fitToHeight in (None, 1) and height(short) * 0.8 <= printable  # one page, ≥ 8 pt
    assert height(tall) * 0.8 > printable and tall.page_setup.fitToHeight == 0  # it flows: never below 8 pt


def _financed_by_every_funder(tmp_path: Path):
    """A draft annex whose first action is financed by every funder of the list (a plan de financement
    several pages wide), and its Plan de financement sheet."""
    conv = make_convention()
    a = conv.actions[0]
    conv.financements = list(conv.financements) + [
        build_row(LigneFinancement, {"numero": a.numero, "financeur": code, "dispositif": "Autre", "nature": "Subvention",
                                     "annee": 2026, "montant": 1000, "statut": "Sollicité"})
        for code in layout.FINANCEURS_BY_CODE]
    out = annex.build_annex(report_of(conv), tmp_path / "a.xlsx", brouillon=True)
    return out, openpyxl.load_workbook(out)[AnnexSheet.FINANCEMENT]


def test_the_draft_banner_of_a_sheet_several_pages_wide_is_on_each_page(tmp_path):
    """A matrix of many financeurs prints several pages wide with its key columns repeated: the
    draft banner, merged across the whole width, was centred on no page and cut at the first one's
    edge (« PROJET - »). It is merged over the repeated key columns, so each page shows it whole."""
    out, ws = _financed_by_every_funder(tmp_path)
    assert ws.print_title_cols == "$A:$B"  # several pages wide, its key columns repeated
    banner = next(m for m in ws.merged_cells.ranges if m.min_row == 1)
    assert ws.cell(1, 1).value == PROJET_NON_VALIDE and (banner.min_col, banner.max_col) == (1, 2)


def test_cli_amounts_past_excels_largest_number_refused_in_french(tmp_path, capsys):
    """Two amounts of 9E+307 € for one financeur add up past a float: the annex stopped with
    « erreur interne inattendue (TypeError : NAN/INF not supported…) ». It is refused (status 2,
    nothing written); the same amount moved between financeurs by an avenant (each state and each
    écart within Excel's numbers) is still annexed."""
    from acv_xl.cli import main
    from acv_xl.outputs.examples import example_conventions
    from acv_xl.outputs.template import build_workbook
    from acv_xl.contract.model import build_row

    base = example_conventions()["arras.xlsx"]
    lines = [build_row(LigneFinancement, dict(lf.raw)) for lf in base.financements]
    other = next(lf.financeur for lf in lines if lf.financeur != lines[0].financeur)

    def plan(*first):
        return base.model_copy(update={"financements": [build_row(LigneFinancement, {**lines[k].raw, **kw})
                                                        for k, kw in enumerate(first)] + lines[len(first):]})

    huge = tmp_path / "huge.xlsx"
    build_workbook(huge, plan({"montant": 9e307}, {"montant": 9e307, "financeur": lines[0].financeur}))
    out = tmp_path / "annexe.xlsx"
    assert main(["annexe", str(huge), "-o", str(out), "--brouillon"]) == 2
    err = capsys.readouterr().err
    assert "Impossible de générer l'annexe : des montants du plan" in " ".join(err.split()), err
    assert "erreur interne" not in err and not out.exists()
    before, after = tmp_path / "avant.xlsx", tmp_path / "apres.xlsx"
    build_workbook(before, plan({"montant": 9e307}))
    build_workbook(after, plan({"montant": 9e307, "financeur": other}))
    assert main(["annexe", str(after), "--depuis", str(before), "-o", str(out), "--brouillon"]) == 0
    assert out.exists()


def test_a_description_taller_than_a_row_goes_on_in_the_rows_below_and_prints_whole(tmp_path):
    """A row holds 409 pt at most (Excel refuses a taller one, LibreOffice clamps it): a description of
    some 12,000 characters was given a height of 1,000 pt and printed cut. It continues in the rows
    below, each at most 409 pt, labelled « Description (suite) », every word on paper in order."""
    from acv_xl.outputs import page_layout

    conv = make_convention()
    paragraph = ("Travaux de requalification des espaces publics, maîtrise d'œuvre et concertation avec les "
                 "riverains, phase {n} achevée. ")
    long = "".join(paragraph.format(n=n) for n in range(1, 121)) + "\nFINDELADESCRIPTION"
    conv.actions = [build_row(FicheAction, {**a.raw, "description": long}) if a.numero == "1.2" else a
                    for a in conv.actions]
    out = annex.build_annex(report_of(conv), tmp_path / "a.xlsx", brouillon=True)
    ws = openpyxl.load_workbook(out)[f"{AnnexSheet.ACTION_PREFIX}1.2"]
    label = layout.T_ACTIONS.header("description")
    rows = [r[0].row for r in ws.iter_rows() if r[0].value in (label, f"{label} (suite)")]
    assert len(rows) >= 3 and rows == list(range(rows[0], rows[0] + len(rows)))
    assert "\n".join(ws.cell(r, 2).value for r in rows).replace("\n", " ").split() == long.split()
    assert all(0 < (ws.row_dimensions[r].height or 0) <= page_layout.MAX_ROW_PT for r in rows)
    assert max(d.height or 0 for d in ws.row_dimensions.values()) <= page_layout.MAX_ROW_PT
    pdf = libreoffice.convert(out, "pdf", tmp_path / "pdf")[0]
    printed = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "FINDELADESCRIPTION" in printed
    phases = [int(n) for n in re.findall(r"phase\s+(\d+)\s+achevée", printed)]  # a line may end between words
    assert phases == list(range(1, 121))  # every sentence printed, once, in order


def test_a_description_of_short_paragraphs_gets_a_line_for_each(tmp_path):
    """The lines were counted from the text's length alone: twelve short paragraphs (a list of works)
    made « one line », the row kept its default height and printed the first paragraph only."""
    conv = make_convention()
    works = "\n".join(f"- lot {n} : voirie" for n in range(1, 13))
    conv.actions = [build_row(FicheAction, {**a.raw, "description": works}) if a.numero == "1.2" else a
                    for a in conv.actions]
    ws = openpyxl.load_workbook(annex.build_annex(report_of(conv), tmp_path / "a.xlsx", brouillon=True))[
        f"{AnnexSheet.ACTION_PREFIX}1.2"]
    row = next(r[0].row for r in ws.iter_rows() if r[0].value == layout.T_ACTIONS.header("description"))
    assert ws.cell(row, 2).value == works and (ws.row_dimensions[row].height or 0) >= 12 * annex.LINE_PT


def test_the_title_and_note_of_a_sheet_several_pages_wide_print_whole_on_each_page(tmp_path):
    """Merged across the whole width, a matrix's title, subtitle and note were cut at the repeated key
    columns' edge on every page but the first (« Plan de financement : actions × fina »). Over the key
    columns, wrapped, each page prints them whole."""
    out, ws = _financed_by_every_funder(tmp_path)
    title, note = ws.cell(2, 1).value, "Les lignes au statut « Refusé » ne sont comptées dans aucun total."
    assert title.startswith("Plan de financement") and ws.cell(2, 1).alignment.wrap_text
    pdf = libreoffice.convert(out, "pdf", tmp_path / "pdf")[0]
    pages = [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"], capture_output=True, text=True,
                            check=True).stdout.split() for n in range(1, len(PdfReader(pdf).pages) + 1)]
    plan = [words for words in pages if "Plan" in words and "actions" in words and "×" in words]
    assert len(plan) >= 2  # several pages wide
    for words in plan:
        text = " ".join(words)
        assert " ".join(title.split()) in text and note in text, text[:300]
