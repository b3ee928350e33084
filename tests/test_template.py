"""The template workbook against the contract: through `layout`, and independently against a list
copied by hand from docs/classeur.md (so a slip in layout.py cannot hide itself)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from acv_xl.contract import layout
from acv_xl.reading.source import parse_a1, parse_range, split_sheet_ref
from acv_xl.outputs import page_layout
from acv_xl.outputs.template import build_workbook, synthese_layout

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------- the contract, copied by hand
CONTRACT_SHEETS = [
    "Accueil", "Projet", "Diagnostic", "Périmètres", "Fiches-actions", "Indicateurs",
    "Plan de financement", "Financeurs", "Gouvernance", "Synthèse", "Contrôles",
]
CONTRACT_TABLES = {
    "T_Communes": ("Projet", ["Code INSEE", "Commune", "Rôle"]),
    "T_Diagnostic": ("Diagnostic", ["Axe", "Élément de diagnostic", "Source", "Date", "Constat", "Type",
                                    "Coût estimé (€ HT)", "Financeur pressenti", "État"]),
    "T_Perimetres": ("Périmètres", ["Code", "Type", "Nom", "Périmètre parent", "Échelle", "Communes (INSEE)",
                                    "Superficie (ha)", "Population", "Date de validation"]),
    "T_Actions": ("Fiches-actions", ["N° action", "Intitulé", "Axe", "Axe transversal", "Périmètre",
                                     "Maître d'ouvrage", "Type de maître d'ouvrage", "Description", "Maturité",
                                     "Date de début", "Date de fin", "Base", "Coût total (€)",
                                     "Dépense subventionnable (€ HT)", "Dérogation L1111-10", "Cosignataires",
                                     "Date de signature"]),
    "T_Indicateurs": ("Indicateurs", ["N° action", "Indicateur", "Unité", "Valeur initiale", "Valeur cible",
                                      "Année cible"]),
    "T_Financements": ("Plan de financement", ["N° action", "Financeur", "Dispositif", "Nature", "Année",
                                               "Montant (€)", "Statut", "Date de la demande",
                                               "Référence de la décision", "Commentaire"]),
    "T_Financeurs": ("Financeurs", ["Code", "Nom du financeur", "Catégorie", "Cible(s) des financements possibles",
                                    "Modalités de mobilisation", "Contact"]),
    "T_Dispositifs": ("Financeurs", ["Financeur", "Dispositif", "Nature", "Dotation R2334-27"]),
    "T_Gouvernance": ("Gouvernance", ["Instance", "Organisme", "Nom", "Fonction", "Collège", "Courriel"]),
    "T_Controles": ("Contrôles", ["Gravité", "Code", "Feuille", "Cellule", "N° action", "Message", "Suggestion"]),
}
CONTRACT_LISTS = {
    ("T_Communes", "Rôle"): ["Ville centre", "Commune associée"],
    ("T_Diagnostic", "Type"): ["Existant", "Étude complémentaire"],
    ("T_Diagnostic", "État"): ["À lancer", "En cours", "Finalisé"],
    ("T_Perimetres", "Type"): ["Étude", "ORT", "Secteur prioritaire", "Quartier de gare", "Entrée de ville",
                               "Secteur contigu"],
    ("T_Perimetres", "Échelle"): ["Bassin de vie", "EPCI", "Commune", "Centre-ville", "Quartier"],
    ("T_Actions", "Type de maître d'ouvrage"): ["Commune", "EPCI", "Département", "Région", "Syndicat mixte", "État",
                                                "Établissement public", "Bailleur social", "SEM / SPL", "Privé",
                                                "Association"],
    ("T_Actions", "Maturité"): ["Mature", "En préparation", "Engagée", "En cours", "Terminée", "Abandonnée"],
    ("T_Actions", "Base"): ["HT", "TTC"],
    ("T_Actions", "Dérogation L1111-10"): ["Aucune", "ANRU", "Monument protégé", "Patrimoine non protégé",
                                           "Calamité publique", "Rénovation énergétique scolaire", "Corse"],
    ("T_Financements", "Nature"): ["Subvention", "Prêt", "Fonds propres", "Autofinancement", "Portage foncier",
                                   "Autre", "Avance remboursable", "Recette / cession", "Apport en nature"],
    ("T_Financements", "Statut"): ["Prévisionnel", "Sollicité", "Acquis", "Engagé", "Versé", "Refusé"],
    ("T_Financeurs", "Catégorie"): ["Public", "Privé"],
    ("T_Dispositifs", "Dotation R2334-27"): ["Oui", "Non"],
    ("T_Gouvernance", "Instance"): ["Comité de projet", "Équipe de projet", "Comité régional d'engagement"],
    ("T_Gouvernance", "Collège"): ["Élus", "Directeur de projet", "État", "Partenaire financeur", "Autre"],
    ("T_Controles", "Gravité"): ["Erreur", "Avertissement", "Information"],
}
CONTRACT_NAMES = [
    "acv_version_modele", "acv_programme", "acv_id", "acv_libelle", "acv_departement", "acv_epci",
    "acv_siren_epci", "acv_directeur_projet", "acv_referent_etat", "acv_date_convention",
    "acv_date_fin_initialisation", "acv_date_fin_deploiement", "acv_date_comite", "acv_statut",
    "acv_date_validation", "acv_empreinte",
]
CONTRACT_FUNDERS = ["ETAT", "CDC", "AL", "ANAH", "ANRU", "EPF", "REGION", "DEPT", "EPCI", "COMMUNE", "UE",
                    "PRIVE", "AUTRE"]
ADDED_FUNDERS = ["ADEME", "EAU", "SNCF"]  # after the contract's, which keep their rows
CONTRACT_R2334_27 = {"DSIL", "DETR", "DPV", "DSID"}


# ----------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def template_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("modele") / "modele.xlsx"
    build_workbook(path)
    return path


@pytest.fixture(scope="module")
def wb(template_path):
    return openpyxl.load_workbook(template_path)


def _tables(wb) -> dict[str, tuple[str, str]]:
    return {t.name: (ws.title, t.ref) for ws in wb for t in ws.tables.values()}


def _header(wb, sheet: str, ref: str) -> list[str]:
    r1, c1, _, c2 = parse_range(ref)
    ws = wb[sheet]
    return [ws.cell(r1, c).value for c in range(c1, c2 + 1)]


def _validation_at(ws, cell: str):
    for dv in ws.data_validations.dataValidation:
        if cell in dv.sqref:
            return dv
    return None


def _list_values(dv) -> list[str]:
    f = dv.formula1
    assert f.startswith('"') and f.endswith('"'), f
    return f[1:-1].split(",")


# ----------------------------------------------------------------- structure
def test_sheets_in_contract_order(wb):
    assert wb.sheetnames == list(layout.SHEETS) == CONTRACT_SHEETS


def test_every_table_with_its_headers_from_layout(wb):
    found = _tables(wb)
    assert set(found) == {t.name for t in layout.TABLES}
    for t in layout.TABLES:
        sheet, ref = found[t.name]
        assert sheet == t.sheet
        assert ref.split(":")[0] == t.anchor, t.name
        assert _header(wb, sheet, ref) == list(t.headers), t.name
        # the blank template has its empty rows, except the funders' reference lists
        r1, _, r2, _ = parse_range(ref)
        if t.name not in ("T_Financeurs", "T_Dispositifs"):
            assert r2 - r1 == t.min_rows, t.name


def test_every_table_matches_the_hand_copied_contract(wb):
    found = _tables(wb)
    assert set(found) == set(CONTRACT_TABLES)
    for name, (sheet, headers) in CONTRACT_TABLES.items():
        assert found[name][0] == sheet, name
        assert _header(wb, sheet, found[name][1]) == headers, name


def test_every_list_is_a_drop_down(wb):
    found = _tables(wb)
    checked = 0
    for t in layout.TABLES:
        sheet, ref = found[t.name]
        r1, c1, _, _ = parse_range(ref)
        for j, col in enumerate(t.columns):
            cell = f"{openpyxl.utils.get_column_letter(c1 + j)}{r1 + 1}"
            dv = _validation_at(wb[sheet], cell)
            if col.choices:
                assert dv is not None and dv.type == "list", (t.name, col.header)
                assert _list_values(dv) == list(col.choices), (t.name, col.header)
                checked += 1
                hand = CONTRACT_LISTS.get((t.name, col.header))
                if hand:
                    assert _list_values(dv) == hand
            if col.note:
                assert dv is not None and dv.prompt == col.note, (t.name, col.header)
            if "séparés par" in col.note:  # typed « ETAT;REGION;DEPT;COMMUNE », a list printed cut: shown spaced
                assert re.search(r"ex\. \w+ ; \w+", dv.prompt), (t.name, col.header, dv.prompt)
    assert checked >= len(CONTRACT_LISTS)
    for (table, header), values in CONTRACT_LISTS.items():  # every contract list is offered somewhere
        sheet, ref = found[table]
        r1, c1, _, _ = parse_range(ref)
        col = _header(wb, sheet, ref).index(header)
        dv = _validation_at(wb[sheet], f"{openpyxl.utils.get_column_letter(c1 + col)}{r1 + 1}")
        assert dv is not None and _list_values(dv) == values, (table, header)


def test_axe_columns_offer_the_five_axes(wb):
    for t in (layout.T_DIAGNOSTIC, layout.T_ACTIONS):
        r, c = parse_a1(t.anchor)
        col = [x.attr for x in t.columns].index("axe")
        dv = _validation_at(wb[t.sheet], f"{openpyxl.utils.get_column_letter(c + col)}{r + 1}")
        assert _list_values(dv) == ["Axe 1", "Axe 2", "Axe 3", "Axe 4", "Axe 5"]


def test_financeur_column_validates_against_the_codes_of_the_reference_list(wb):
    fin_sheet, fin_ref = _tables(wb)["T_Financeurs"]
    r1, c1, r2, _ = parse_range(fin_ref)
    sheet, ref = _tables(wb)["T_Financements"]
    hr, hc, _, _ = parse_range(ref)
    col = _header(wb, sheet, ref).index("Financeur")
    dv = _validation_at(wb[sheet], f"{openpyxl.utils.get_column_letter(hc + col)}{hr + 1}")
    assert dv is not None and dv.type == "list"
    src_sheet, rng = split_sheet_ref(dv.formula1)
    assert src_sheet == fin_sheet
    s1, sc1, s2, sc2 = parse_range(rng)
    # the codes column, from the first code to well below the last one (room for added funders)
    assert (sc1, sc2) == (c1, c1) and s1 == r1 + 1 and s2 >= r2 + 50


def test_codes_and_typed_cells_are_checked_as_typed(wb):
    def dv_of(table, attr):
        r, c = parse_a1(table.anchor)
        col = [x.attr for x in table.columns].index(attr)
        return _validation_at(wb[table.sheet], f"{openpyxl.utils.get_column_letter(c + col)}{r + 1}")

    def source_column(dv):
        sheet, rng = split_sheet_ref(dv.formula1)
        r1, c1, _, c2 = parse_range(rng)
        assert c1 == c2
        return sheet, openpyxl.utils.get_column_letter(c1), r1

    # codes of another table: the other table's column, from its first data row
    for table, attr, src, src_attr in (
        (layout.T_FINANCEMENTS, "numero", layout.T_ACTIONS, "numero"),
        (layout.T_INDICATEURS, "numero", layout.T_ACTIONS, "numero"),
        (layout.T_ACTIONS, "perimetre", layout.T_PERIMETRES, "code"),
        (layout.T_PERIMETRES, "parent", layout.T_PERIMETRES, "code"),
    ):
        dv = dv_of(table, attr)
        assert dv is not None and dv.type == "list", (table.name, attr)
        r, c = parse_a1(src.anchor)
        col = openpyxl.utils.get_column_letter(c + [x.attr for x in src.columns].index(src_attr))
        assert source_column(dv) == (src.sheet, col, r + 1), (table.name, attr)
        assert wb[src.sheet][f"{col}{r}"].value == src.header(src_attr)
    # a number typed as text is flagged while typing (a warning: the validator has the last word)
    for table, attr, kind in ((layout.T_FINANCEMENTS, "montant", "decimal"), (layout.T_ACTIONS, "cout_total", "decimal"),
                              (layout.T_FINANCEMENTS, "annee", "whole"), (layout.T_ACTIONS, "date_debut", "date")):
        dv = dv_of(table, attr)
        assert dv is not None and dv.type == kind and dv.errorStyle == "warning", (table.name, attr)


def test_named_cells_are_workbook_names_with_a_label(wb):
    names = {n: wb.defined_names[n].attr_text for n in wb.defined_names}
    assert set(CONTRACT_NAMES) <= set(names)
    assert {n.name for n in layout.NAMED_CELLS} <= set(names)
    for nc in layout.NAMED_CELLS:
        sheet, cell = split_sheet_ref(names[nc.name])
        assert (sheet, cell) == (nc.sheet, nc.cell), nc.name
        row, col = parse_a1(cell)
        assert wb[sheet].cell(row, col - 1).value == nc.label, nc.name
    ws = wb[layout.Sheet.ACCUEIL]
    assert ws[layout.NAMED_BY_NAME["acv_version_modele"].cell].value == layout.TEMPLATE_VERSION == "2026.2"
    assert ws[layout.NAMED_BY_NAME["acv_statut"].cell].value == "Non validé"


def test_reference_list_of_funders(wb):
    sheet, ref = _tables(wb)["T_Financeurs"]
    r1, c1, r2, _ = parse_range(ref)
    ws = wb[sheet]
    codes = [ws.cell(r, c1).value for r in range(r1 + 1, r2 + 1)]
    assert codes[:len(CONTRACT_FUNDERS)] == CONTRACT_FUNDERS
    assert CONTRACT_FUNDERS + ADDED_FUNDERS == [f.code for f in layout.FINANCEURS]
    sheet, ref = _tables(wb)["T_Dispositifs"]
    r1, c1, r2, _ = parse_range(ref)
    rows = [[ws.cell(r, c).value for c in range(c1, c1 + 4)] for r in range(r1 + 1, r2 + 1)]
    etat = {d: oui for f, d, _, oui in rows if f == "ETAT"}
    assert {d for d, oui in etat.items() if oui == "Oui"} == CONTRACT_R2334_27
    assert {"FNADT", "Fonds vert", "FRLA", "DRAC"} <= {d for d, oui in etat.items() if oui == "Non"}
    assert all(oui == "Non" for f, _, _, oui in rows if f != "ETAT")
    assert {f for f, *_ in rows} == set(CONTRACT_FUNDERS + ADDED_FUNDERS)


def test_formats_freeze_and_print_setup(wb):
    ws = wb[layout.Sheet.FINANCEMENT]
    r, c = parse_a1(layout.T_FINANCEMENTS.anchor)
    cols = [x.attr for x in layout.T_FINANCEMENTS.columns]
    assert "€" in ws.cell(r + 1, c + cols.index("montant")).number_format
    assert ws.cell(r + 1, c + cols.index("date_demande")).number_format == "dd/mm/yyyy"
    for name in layout.SHEETS:
        ws = wb[name]
        assert ws.page_setup.paperSize == 9, name  # A4
        assert ws.page_setup.orientation == "landscape", name
        if ws.sheet_properties.pageSetUpPr.fitToPage:  # one page wide, any number of pages high
            assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0, name
        else:  # too wide for 8 pt type on one page: several pages wide, key columns on each
            assert ws.page_setup.scale * page_layout.BASE_FONT_PT / 100 >= page_layout.MIN_PRINTED_PT, name
            # or, for the dispositifs beside the financeurs, a page of their own with their Financeur column
            beside = [parse_a1(t.anchor)[1] - 1 for t in layout.TABLES if t.sheet == name and parse_a1(t.anchor)[1] > 1]
            assert ws.print_title_cols or [b.id for b in ws.col_breaks.brk] == beside, name
        assert name in ws.oddFooter.left.text, name
    assert not wb[layout.Sheet.ACTIONS].sheet_properties.pageSetUpPr.fitToPage  # 17 columns
    assert wb[layout.Sheet.ACTIONS].print_title_cols.replace("$", "") == "A:B"  # N° action, intitulé
    for t in layout.TABLES:
        if t.sheet == layout.Sheet.PROJET:
            continue
        r, _ = parse_a1(t.anchor)
        ws = wb[t.sheet]
        frozen = "C" if t.sheet == layout.Sheet.ACTIONS else "A"  # the key columns stay on screen
        assert ws.freeze_panes == f"{frozen}{r + 1}", t.sheet
        assert ws.print_title_rows.replace("$", "") == f"{r}:{r}", t.sheet
        # the header row tall enough for its longest wrapped header
        assert ws.row_dimensions[r].height >= page_layout.row_height(
            [(c.header, page_layout.fit_width(c.width, c.header)) for c in t.columns], bold=True), t.name
    for t in layout.TABLES:
        if t.sheet == layout.Sheet.PROJET:  # column A/B also hold the long labels of the named cells
            continue
        ws = wb[t.sheet]
        _, c = parse_a1(t.anchor)
        # XlsxWriter writes adjacent columns of equal width as one <col min max> range
        widths = {i: d.width for d in ws.column_dimensions.values() for i in range(d.min, d.max + 1)}
        for j, col in enumerate(t.columns):
            expected = page_layout.fit_width(col.width, col.header)  # widened to the longest word
            assert widths.get(c + j) == pytest.approx(expected, abs=1), (t.name, col.header)


def test_accueil_explains_the_workbook(wb):
    text = " ".join(str(c.value) for row in wb[layout.Sheet.ACCUEIL].iter_rows() for c in row if c.value)
    for words in ("Valider", "Refusé", "Synthèse", "Plan de financement", "Fiches-actions"):
        assert words in text
    assert "fictifs" not in text  # only the demonstration workbooks say so


# ----------------------------------------------------------------- buttons
def test_buttons_are_named_shapes_linking_to_their_cell(template_path):
    with zipfile.ZipFile(template_path) as z:
        drawings = [n for n in z.namelist() if re.fullmatch(r"xl/drawings/drawing\d+\.xml", n)]
        assert drawings
        found = {}
        for d in drawings:
            xml = z.read(d).decode()
            rels = z.read(d.replace("drawings/", "drawings/_rels/") + ".rels").decode()
            targets = dict(re.findall(r'Id="(rId\d+)"[^>]*?Target="([^"]+)"', rels))
            for anchor in re.findall(r"<xdr:twoCellAnchor.*?</xdr:twoCellAnchor>", xml, re.S):
                name = re.search(r'<xdr:cNvPr [^>]*name="([^"]+)"', anchor).group(1)
                rid = re.search(r'<a:hlinkClick [^>]*r:id="(rId\d+)"', anchor).group(1)
                col = int(re.search(r"<xdr:from><xdr:col>(\d+)</xdr:col>", anchor).group(1))
                row = int(re.search(r"<xdr:row>(\d+)</xdr:row>", anchor).group(1))
                caption = re.search(r"<a:t>([^<]*)</a:t>", anchor).group(1)
                found[name] = (targets[rid], row + 1, col + 1, caption)
        # the drawing belongs to Accueil
        wb_xml = z.read("xl/workbook.xml").decode()
        first_sheet = re.search(r'<sheet name="([^"]+)"', wb_xml).group(1)
        sheet1_rels = z.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
        assert first_sheet == "Accueil" and "drawing" in sheet1_rels
    assert {"btnValider", "btnAnnexe"} == set(found) == {b.shape for b in layout.BUTTONS}
    for b in layout.BUTTONS:
        target, row, col, caption = found[b.shape]
        assert target in (f"#'{b.sheet}'!{b.cell}", f"#{b.sheet}!{b.cell}")
        assert (row, col) == parse_a1(b.cell)
        assert caption == b.caption.replace("'", "&apos;") or caption == b.caption
    assert found["btnValider"][0].endswith("!B17") and found["btnAnnexe"][0].endswith("!E17")


# ----------------------------------------------------------------- Synthèse
def test_synthese_holds_native_formulas_with_empty_cache(template_path, wb):
    ws = wb[layout.Sheet.SYNTHESE]
    sl = synthese_layout()
    cells = [sl.cout_total, sl.financement_total, sl.ecart, *sl.par_financeur.values(), *sl.par_axe.values(),
             *sl.par_annee.values(), *sl.par_statut.values(), sl.refuse]
    for cell in cells:
        value = ws[cell].value
        assert isinstance(value, str) and value.startswith("="), cell
    assert set(sl.par_financeur) == set(CONTRACT_FUNDERS + ADDED_FUNDERS)
    assert "T_Financements[Montant (€)]" in ws[sl.financement_total].value
    assert '"<>Refusé"' in ws[sl.financement_total].value
    assert "T_Actions[Coût total (€)]" in ws[sl.cout_total].value
    # the cached values are left empty so that LibreOffice (and Excel) compute them on opening
    with zipfile.ZipFile(template_path) as z:
        idx = layout.SHEETS.index(layout.Sheet.SYNTHESE) + 1
        xml = z.read(f"xl/worksheets/sheet{idx}.xml").decode()
    assert re.search(r"</f><v>0</v>", xml) is None and "</f><v></v>" in xml


# ----------------------------------------------------------------- workbooks with data
def test_a_convention_fills_tables_sized_to_its_rows(tmp_path):
    from acv_xl.outputs.examples import MENTION, example_conventions

    conv = example_conventions()["boulogne-sur-mer.xlsx"]
    path = tmp_path / "b.xlsx"
    build_workbook(path, conv, mention=MENTION)
    wb = openpyxl.load_workbook(path)
    found = _tables(wb)
    for attr, table in (("financements", layout.T_FINANCEMENTS), ("actions", layout.T_ACTIONS)):
        r1, _, r2, _ = parse_range(found[table.name][1])
        assert r2 - r1 == len(getattr(conv, attr))
    ws = wb[layout.Sheet.FINANCEMENT]
    text = next(lf for lf in conv.financements if "montant" in lf.problems)
    cell = ws[text.cell("montant")]
    assert cell.value == text.raw["montant"] and cell.data_type == "s"  # the raw text, not coerced
    ws = wb[layout.Sheet.ACTIONS]
    first = conv.actions[0]
    d = ws[first.cell("date_debut")]
    assert isinstance(d.value, datetime) and d.value.date() == first.date_debut and d.number_format == "dd/mm/yyyy"
    assert ws[first.cell("cout_total")].value == float(first.cout_total)
    assert wb[layout.Sheet.PROJET][layout.NAMED_BY_NAME["acv_id"].cell].value == conv.acv_id
    accueil = " ".join(str(c.value) for row in wb[layout.Sheet.ACCUEIL].iter_rows() for c in row if c.value)
    assert MENTION in accueil


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    from acv_xl.outputs.examples import example_conventions

    conv = example_conventions()["arras.xlsx"]
    conv.set_value("acv_libelle", "=HYPERLINK(\"http://x\")")
    path = tmp_path / "f.xlsx"
    build_workbook(path, conv)
    ws = openpyxl.load_workbook(path)[layout.Sheet.PROJET]
    cell = ws[layout.NAMED_BY_NAME["acv_libelle"].cell]
    assert cell.data_type == "s" and cell.value == "=HYPERLINK(\"http://x\")"


# ----------------------------------------------------------------- shipped files and CLI
def _content(path: Path) -> dict:
    """What a user sees of a workbook: cells (value, format), tables, names, lists, button names.

    Compared instead of bytes so that a new XlsxWriter release that serialises differently does not
    make the shipped files look stale (bytes are compared within one run, in the determinism tests).
    """
    wb = openpyxl.load_workbook(path)
    out: dict = {"sheets": wb.sheetnames, "names": {n: wb.defined_names[n].attr_text for n in wb.defined_names}}
    for ws in wb:
        out[ws.title] = {
            "cells": {c.coordinate: (c.value, c.number_format) for row in ws.iter_rows() for c in row
                      if c.value is not None},
            "tables": {t.name: t.ref for t in ws.tables.values()},
            "lists": sorted((str(d.sqref), d.type or "", d.formula1 or "", d.prompt or "")
                            for d in ws.data_validations.dataValidation),
        }
    with zipfile.ZipFile(path) as z:
        out["shapes"] = sorted(name for n in z.namelist() if n.startswith("xl/drawings/drawing")
                               for name in re.findall(r'<xdr:cNvPr [^>]*name="([^"]+)"', z.read(n).decode()))
    return out


def test_shipped_template_and_examples_are_up_to_date(tmp_path):
    from acv_xl.outputs.examples import write_examples

    build_workbook(tmp_path / "modele_acv.xlsx")
    assert _content(ROOT / "workbooks" / "modele_acv.xlsx") == _content(tmp_path / "modele_acv.xlsx"), \
        "workbooks/modele_acv.xlsx is stale: run `acv-xl modele workbooks/modele_acv.xlsx`"
    fresh = write_examples(tmp_path / "exemples")
    shipped = sorted(p.name for p in (ROOT / "workbooks" / "exemples").glob("*.xlsx"))
    assert shipped == sorted(p.name for p in fresh)
    for p in fresh:
        assert _content(ROOT / "workbooks" / "exemples" / p.name) == _content(p), \
            f"workbooks/exemples/{p.name} is stale: run `acv-xl exemples workbooks/exemples`"


def test_template_is_deterministic(tmp_path):
    build_workbook(tmp_path / "a.xlsx")
    build_workbook(tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "acv_xl", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_cli_modele_writes_the_template(tmp_path):
    out = tmp_path / "sortie" / "modele.xlsx"
    out.parent.mkdir()
    proc = _cli("modele", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Modèle écrit" in proc.stdout
    assert openpyxl.load_workbook(out).sheetnames == CONTRACT_SHEETS


def test_cli_modele_refuses_a_non_xlsx_output(tmp_path):
    proc = _cli("modele", str(tmp_path / "modele.ods"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "extension .xlsx" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "modele.ods").exists()


def test_dialog_titles_fit_excel_and_are_cut_between_words():
    """Excel refuses a data-validation title over 32 characters; a cut mid-word reads as a typo."""
    from acv_xl.outputs.template import _title

    assert _title("Date de signature de la convention-cadre") == "Date de signature de la…"
    texts = [c.header for t in layout.TABLES for c in t.columns] + [n.label for n in layout.NAMED_CELLS]
    for text in texts:
        title = _title(text)
        assert len(title) <= 32, title
        assert title == text or (title.endswith("…") and text[len(title) - 1] in " (" and text.startswith(title[:-1])), title
