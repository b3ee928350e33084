"""STR — the file and its structure (STR-01/02 come from `errors.UnreadableWorkbook` in validate)."""

from __future__ import annotations

from typing import Iterable

from acv_xl.checks.findings import Finding
from acv_xl.contract import layout
from acv_xl.contract.model import ROW_MODELS, Convention
from acv_xl.contract.values import fmt_number

from . import (
    SRC_CONTRAT,
    STRUCTURE_KINDS,
    A,
    E,
    action_of,
    at,
    at_named,
    describe_problem,
    index,
    prefix,
    q,
    rule,
)

_RESTORE = "Rétablissez l'élément depuis le modèle vierge (acv-xl modele) sans le renommer."


@rule("STR-03", E, "Feuille obligatoire absente", SRC_CONTRAT)
def feuille_absente(conv: Convention) -> Iterable[Finding]:
    """A missing sheet is reported once; its tables are not reported again by STR-04."""
    for sheet in conv.structure.missing_sheets:
        yield Finding(code="STR-03", gravite=E,
                      message=f"La feuille {q(sheet)} est absente du classeur (supprimée ou renommée).",
                      suggestion=f"Renommez la feuille en {q(sheet)} ou rétablissez-la depuis le modèle vierge (acv-xl modele).")


@rule("STR-04", E, "Tableau, en-tête ou cellule nommée absent", SRC_CONTRAT)
def tableau_absent(conv: Convention) -> Iterable[Finding]:
    """Missing table, missing/renamed header, missing defined name (a named cell is structure too)."""
    st = conv.structure
    for name in st.missing_tables:
        table = layout.TABLES_BY_NAME.get(name)
        sheet = table.sheet if table else ""
        if sheet in st.missing_sheets:
            continue  # already STR-03
        # pointed at the place the template gives it: where the user will rebuild it
        yield Finding(code="STR-04", gravite=E, feuille=sheet, cellule=table.anchor if table else "",
                      message=f"Le tableau Excel {q(name)} est introuvable sur la feuille {q(sheet)} "
                              "(supprimé, renommé ou converti en plage ordinaire).",
                      suggestion=f"Nommez le tableau {q(name)} (Création de tableau › Nom du tableau) ou rétablissez-le depuis le modèle vierge.")
    for mh in st.missing_headers:
        msg = f"Dans le tableau {q(mh.table)} de la feuille {q(mh.sheet)}, la colonne {q(mh.header)} est introuvable"
        if mh.found_as:
            msg += f" ; une colonne {q(mh.found_as)} lui ressemble : a-t-elle été renommée ?"
            sugg = f"Renommez l'en-tête {q(mh.found_as)} en {q(mh.header)}."
        else:
            msg += "."
            sugg = f"Ajoutez au tableau la colonne {q(mh.header)} (texte exact de l'en-tête)."
        yield Finding(code="STR-04", gravite=E, feuille=mh.sheet, cellule=mh.cell, message=msg, suggestion=sugg)
    for name in st.missing_names:
        nc = layout.NAMED_BY_NAME.get(name)
        where = f" (feuille {q(nc.sheet)}, {nc.label})" if nc else ""
        if nc and nc.sheet in st.missing_sheets:
            continue
        yield Finding(code="STR-04", gravite=E, feuille=nc.sheet if nc else "", cellule=nc.cell if nc else "",
                      message=f"La cellule nommée {q(name)}{where} est introuvable dans le classeur.",
                      suggestion=f"Redonnez le nom {q(name)} à la cellule (Formules › Gestionnaire de noms). " + _RESTORE)


def _version_tuple(v: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        return None


@rule("STR-05", E, "Version du modèle inconnue, plus récente ou ancienne", SRC_CONTRAT)
def version_modele(conv: Convention) -> Iterable[Finding]:
    """E: empty, unknown or newer than the tool; A: an older known version (migration).

    An empty version is reported here, not by PRJ-01: the tool cannot tell which contract the
    workbook follows."""
    if "acv_version_modele" in conv.structure.missing_names:
        return  # STR-04
    nv = conv.names.get("acv_version_modele")
    if nv is not None and nv.problem is not None and nv.problem.kind in STRUCTURE_KINDS:
        return  # STR-06/07
    raw = conv.value("acv_version_modele")
    current = layout.TEMPLATE_VERSION
    if raw is None or str(raw).strip() == "":
        yield at_named(conv, "acv_version_modele", "STR-05", E,
                       f"La cellule {q(layout.NAMED_BY_NAME['acv_version_modele'].label)} est vide : impossible de "
                       "savoir quel modèle de classeur ce fichier suit.",
                       f"Saisissez la version du modèle ({current}) ou repartez du modèle vierge.")
        return
    v = str(raw).strip()
    if v == current:
        return
    vt, ct = _version_tuple(v), _version_tuple(current)
    if v in layout.KNOWN_VERSIONS and vt is not None and ct is not None and vt < ct:
        yield at_named(conv, "acv_version_modele", "STR-05", A,
                       f"Le classeur suit l'ancienne version {v} du modèle (version actuelle : {current}).",
                       f"Recopiez les données dans le modèle {current} (acv-xl modele) pour bénéficier des derniers contrôles.")
    elif vt is not None and ct is not None and vt > ct:
        yield at_named(conv, "acv_version_modele", "STR-05", E,
                       f"Le classeur suit la version {v} du modèle, plus récente que celle que cet outil connaît ({current}).",
                       "Mettez à jour acv-xl avant de valider ce classeur.")
    else:
        yield at_named(conv, "acv_version_modele", "STR-05", E,
                       f"Version du modèle inconnue : {q(v)} (versions reconnues : {', '.join(layout.KNOWN_VERSIONS)}).",
                       f"Repartez du modèle {current} (acv-xl modele) et recopiez-y les données.")


def _structure_problems(conv: Convention, kind: str, code: str) -> Iterable[Finding]:
    for name, (_cls, _attr) in ROW_MODELS.items():
        table = layout.TABLES_BY_NAME[name]
        for ligne in index(conv).with_problems(table):
            for attr, p in ligne.problems.items():
                if p.kind != kind:
                    continue
                msg, sugg = describe_problem(table.header(attr), table.column(attr).kind, p)
                yield at(ligne, attr, code, E, f"{prefix(ligne)} : {msg}", sugg)
    for nc in layout.NAMED_CELLS:
        nv = conv.names.get(nc.name)
        if not nc.user_filled or nv is None or nv.problem is None or nv.problem.kind != kind:
            continue
        msg, sugg = describe_problem(nc.label, nc.kind, nv.problem)
        yield at_named(conv, nc.name, code, E, msg, sugg)


@rule("STR-06", E, "Valeur d'erreur Excel dans une cellule de données", SRC_CONTRAT)
def erreur_excel(conv: Convention) -> Iterable[Finding]:
    """Every `#REF!`, `#DIV/0!`… in a data cell or a user-filled named cell (status cells excluded:
    Valider rewrites them)."""
    yield from _structure_problems(conv, "erreur_excel", "STR-06")


@rule("STR-07", E, "Formule sans valeur calculée", SRC_CONTRAT)
def formule_sans_valeur(conv: Convention) -> Iterable[Finding]:
    """A formula saved without its result (a file written by a program, never recalculated): the
    value is unknown, so totals and ratios would be false. An error, not an information: the dossier
    cannot be validated on numbers nobody has seen."""
    yield from _structure_problems(conv, "formule_sans_valeur", "STR-07")


@rule("STR-08", A, "Cellules fusionnées dans un tableau", SRC_CONTRAT)
def cellules_fusionnees(conv: Convention) -> Iterable[Finding]:
    """Added code. A merged range inside a table (Excel refuses it, a program may write it): only its
    first cell holds a value, the other lines read as empty. An avertissement: the consequences on
    the data are reported by the rules themselves."""
    for table, sheet, rng in conv.structure.merged_in_tables:
        first = rng.split(":")[0]
        yield Finding(code="STR-08", gravite=A, feuille=sheet, cellule=first,
                      message=f"Les cellules {rng} du tableau {q(table)} sont fusionnées : seule la première contient "
                              "une valeur, les autres lignes sont lues comme vides.",
                      suggestion="Annulez la fusion et saisissez la valeur sur chaque ligne concernée.")


EXCEL_MAX_TEXT = 32_767  # characters Excel holds in one cell


@rule("STR-10", E, "Texte plus long que ce qu'une cellule Excel contient (plus de 32 767 caractères)", SRC_CONTRAT)
def texte_trop_long(conv: Convention) -> Iterable[Finding]:
    """Added code. A text of more than 32,767 characters in a data cell or a named cell: Excel cuts
    it when it opens the file (or refuses the file), so the workbook was not written by Excel and the
    value read is not the one a user saw. An error: the text is shown only cut in the findings."""
    def finding(sheet: str, cell: str, action: str, text: str) -> Finding:
        return Finding(code="STR-10", gravite=E, feuille=sheet, cellule=cell, action=action,
                       message=f"La cellule contient un texte de {fmt_number(len(text))} caractères, plus que les "
                               f"{fmt_number(EXCEL_MAX_TEXT)} qu'une cellule Excel peut contenir "
                               f"(début : {q(text[:40] + '…')}).",
                       suggestion="Raccourcissez ce texte (un long document se joint au dossier à part), "
                                  "puis enregistrez le classeur depuis Excel.")
    for nv in conv.names.values():
        if isinstance(nv.raw, str) and len(nv.raw) > EXCEL_MAX_TEXT:
            yield finding(nv.sheet, nv.cell, "", nv.raw)
    for table_name in ROW_MODELS:
        for ligne in conv.rows(table_name):
            for attr, v in ligne.raw.items():
                if isinstance(v, str) and len(v) > EXCEL_MAX_TEXT:
                    yield finding(ligne.sheet, ligne.cell(attr), action_of(ligne), v)
