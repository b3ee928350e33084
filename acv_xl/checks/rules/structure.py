"""STR — the file and its structure (STR-01/02 come from `errors.UnreadableWorkbook` in validate)."""

from __future__ import annotations

from datetime import date, datetime
from itertools import chain
from operator import attrgetter, methodcaller
from typing import Any, Iterable

from acv_xl.checks.findings import Finding
from acv_xl.contract import layout
from acv_xl.contract.model import ROW_MODELS, Convention
from acv_xl.contract.values import (EXCEL_CELL_CHARS, EXCEL_CELL_HALF, excel_length, fmt_date, fmt_euros, fmt_number,
                                    fmt_typed, parse_text)
from acv_xl.reading.provenance import describe

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
    looks_the_same,
    named_problems,
    prefix,
    q,
    rule,
    rows,
)

CODE_ETRANGER = "STR-11"
# Sheet names a workbook of another kind may hold as well (a consolidation has a « Synthèse »).
_COMMON_SHEETS = {layout.Sheet.SYNTHESE}
_RESTORE = "Rétablissez l'élément depuis le modèle vierge (acv-xl modele) sans le renommer."


def not_a_convention(conv: Convention) -> bool:
    """A file acv-xl produced (its content mark says so), or a workbook with nothing of the
    template: none of its tables, named cells or sheets (a « Synthèse » alone is not enough)."""
    st = conv.structure
    if st.derived_report:
        return True
    if st.table_refs or conv.names:  # a table or a named cell of the template (nearly always): decided
        return False
    return not set(layout.SHEETS) - set(st.missing_sheets) - _COMMON_SHEETS  # nor any of its sheets


@rule(CODE_ETRANGER, E, "Fichier qui n'est pas un classeur de convention ACV", SRC_CONTRAT)
def classeur_etranger(conv: Convention) -> Iterable[Finding]:
    """Added code. One finding saying what the file is — a report of acv-xl (consolidation, annex…)
    or another workbook — instead of a « feuille absente » per sheet of the template: the validator
    then reports nothing else (`validate.validate_file`), the file is unusable (exit status 2) and
    `consolider` lists it without counting it."""
    if not not_a_convention(conv):
        return
    kind = conv.structure.derived_report
    if kind:
        yield Finding(code=CODE_ETRANGER, gravite=E,
                      message=f"Ce fichier est {describe(kind)}, pas le classeur d'une convention : il n'y a rien à "
                              "y valider.",
                      suggestion="Validez les classeurs des conventions eux-mêmes (ceux que les communes remplissent).")
        return
    sheets = ", ".join(q(s) for s in layout.SHEETS[:4])
    yield Finding(code=CODE_ETRANGER, gravite=E,
                  message="Ce classeur n'est pas un classeur de convention ACV : il ne contient aucune des feuilles "
                          f"du modèle ({sheets}…), aucun de ses tableaux ni aucune de ses cellules nommées.",
                  suggestion="Vérifiez que c'est le bon fichier ; pour une nouvelle convention, partez du modèle "
                             "vierge (acv-xl modele).")


@rule("STR-03", E, "Feuille obligatoire absente", SRC_CONTRAT)
def feuille_absente(conv: Convention) -> Iterable[Finding]:
    """A missing sheet is reported once; its tables are not reported again by STR-04. Nothing
    for a file that is no convention at all (STR-11 says what it is)."""
    if not_a_convention(conv):
        return
    for sheet in conv.structure.missing_sheets:
        yield Finding(code="STR-03", gravite=E,
                      message=f"La feuille {q(sheet)} est absente du classeur (supprimée ou renommée).",
                      suggestion=f"Renommez la feuille en {q(sheet)} ou rétablissez-la depuis le modèle vierge (acv-xl modele).")


@rule("STR-04", E, "Tableau, en-tête ou cellule nommée absent", SRC_CONTRAT)
def tableau_absent(conv: Convention) -> Iterable[Finding]:
    """Missing table, missing/renamed header, missing defined name (a named cell is structure too)."""
    if not_a_convention(conv):
        return  # STR-11
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
        if mh.found_as and (how := looks_the_same(mh.found_as, mh.header)):
            # « Renommez « Montant (€) » en « Montant (€) » » told nothing: the difference cannot be seen
            msg += f" ; l'en-tête {q(mh.found_as)} ne s'en distingue que par {how}."
            sugg = f"Effacez l'en-tête et retapez-le en entier au clavier : {q(mh.header)}, avec des espaces ordinaires."
        elif mh.found_as:
            msg += f" ; une colonne {q(mh.found_as)} lui ressemble : a-t-elle été renommée ?"
            sugg = f"Renommez l'en-tête {q(mh.found_as)} en {q(mh.header)}."
        elif mh.in_place:
            msg += f" ; l'en-tête {q(mh.in_place)} est à sa place : la colonne a-t-elle été renommée ?"
            sugg = (f"Renommez l'en-tête {q(mh.in_place)} en {q(mh.header)} ; si {q(mh.in_place)} est une colonne "
                    f"à vous, ajoutez aussi la colonne {q(mh.header)}.")
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
                       f"Passez au modèle {current} avec « acv-xl migrer », qui y recopie toutes les données, pour "
                       "bénéficier des derniers contrôles.")
    elif vt is not None and ct is not None and vt > ct:
        yield at_named(conv, "acv_version_modele", "STR-05", E,
                       f"Le classeur suit la version {v} du modèle, plus récente que celle que cet outil connaît ({current}).",
                       "Mettez à jour acv-xl avant de valider ce classeur.")
    else:
        yield at_named(conv, "acv_version_modele", "STR-05", E,
                       f"Version du modèle inconnue : {q(v)} (versions reconnues : {', '.join(layout.KNOWN_VERSIONS)}).",
                       f"Repartez du modèle {current} : « acv-xl migrer » y recopie les données et liste ce qu'il n'a pas pu reprendre.")


def _structure_problems(conv: Convention, kind: str, code: str) -> Iterable[Finding]:
    for name, (_cls, _attr) in ROW_MODELS.items():
        table = layout.TABLES_BY_NAME[name]
        for ligne in index(conv).with_problems(table):
            for attr, p in ligne.problems.items():
                if p.kind != kind:
                    continue
                msg, sugg = describe_problem(table.header(attr), table.column(attr).kind, p)
                yield at(ligne, attr, code, E, f"{prefix(ligne)} : {msg}", sugg)
    for nc, nv in named_problems(conv):
        if not nc.user_filled or nv.problem.kind != kind:
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
        first, _, last = rng.partition(":")
        # what the other cells are: lines of one column, columns of one line (B4:C4 is one line), or both
        same_column = first.rstrip("0123456789") == last.rstrip("0123456789")
        same_row = first.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == last.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        others, each = (("les autres lignes", "sur chaque ligne") if same_column else
                        ("les autres cellules de la ligne", "dans chaque colonne") if same_row else
                        ("les autres cellules", "dans chaque cellule"))
        yield Finding(code="STR-08", gravite=A, feuille=sheet, cellule=first,
                      message=f"Les cellules {rng} du tableau {q(table)} sont fusionnées : seule la première contient "
                              f"une valeur, {others} sont lues comme vides.",
                      suggestion=f"Annulez la fusion et saisissez la valeur {each} concernée.")


# How to take a line into its table, in both programs the communes use (STR-09).
EXTEND_TABLE = (
    "Étendez le tableau à cette ligne. Dans Excel : faites glisser la poignée du coin inférieur droit du "
    "tableau jusqu'à elle, ou Création de tableau › Redimensionner le tableau (ou encore Accueil › Mettre "
    "sous forme de tableau sur le tableau et la ligne). Dans LibreOffice : Données › Définir la plage… "
    "(Plage de base de données), choisissez le nom du tableau, étendez sa plage à cette ligne et cliquez "
    "sur « Modifier ». Vous pouvez aussi recopier la ligne dans une ligne vide du tableau, ou lancer "
    "« acv-xl migrer », qui l'y intègre. Si le tableau a une ligne de total, ajoutez-lui plutôt une ligne "
    "au-dessus d'elle (touche Tab dans la dernière cellule de sa dernière ligne) et déplacez-y les valeurs : "
    "étendu, il ferait de cette ligne sa ligne de total. "
)

# How to take a line typed into a table's totals row into the table (STR-09).
TOTALS_ROW = (
    "Ajoutez une ligne au tableau au-dessus de sa ligne de total (dans Excel : touche Tab dans la dernière "
    "cellule de sa dernière ligne), déplacez-y les valeurs de cette ligne, puis remettez dans la ligne de total "
    "son libellé et ses totaux. Vous pouvez aussi lancer « acv-xl migrer », qui l'intègre au tableau."
)


# A total only a filter on several criteria or « Autres fonctions… » gives is told from none typed
# there only by its formula, which neither reader has (STR-09).
TOTALS_ROW_FILTERED = (
    "S'il s'agit d'un total calculé par Excel (tableau filtré sur plusieurs critères, ou « Autres "
    "fonctions… » de la ligne de total), effacez les filtres avant d'enregistrer, ou décochez Création de "
    "tableau › Ligne de total. Sinon, a" + TOTALS_ROW[1:]
)


def _shown(value, kind: layout.Kind | None = None) -> str:
    """A stray value as the user would recognise it: an amount in euros, a code or a year as typed
    (« 62041 », not « 62 041 »), other numbers grouped."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if abs(value) >= 1e15:  # past Excel's 15 digits, as it shows it (« 1E+300 »), never in 300 digits
            return fmt_typed(float(value))
        if kind is layout.Kind.AMOUNT:
            return fmt_euros(value)
        if kind not in (None, layout.Kind.NUMBER) and float(value).is_integer():
            return str(int(value))
        if kind in (layout.Kind.TEXT, layout.Kind.CHOICE) and "e" not in repr(value):
            return repr(value).replace(".", ",")  # an action number typed 3,1: « 3,1 », not « 3,10 »
        return fmt_number(value, 0 if float(value).is_integer() else 2)
    if isinstance(value, (date, datetime)):
        return fmt_date(value)
    text = " ".join(str(value).split())
    return text if len(text) <= 30 else text[:29] + "…"


@rule("STR-09", E, "Valeur saisie juste sous un tableau, à sa droite ou dans sa ligne de total, hors de ses lignes "
                   "(comptée dans aucun total)", SRC_CONTRAT)
def hors_tableau(conv: Convention) -> Iterable[Finding]:
    """Added code. A value typed in the rows directly below a user table (within its columns, down to
    the first blank row) or in the column directly to its right (`Convention.stray_cells`). Neither
    LibreOffice nor a paste in Excel adds such a line to the table: no rule and no total sees it, and
    the verdict would say « aucune erreur » with euros left out. One finding per line below (at its
    first cell, with the action number when the line has one), one per table for the column to its
    right (at its first cell). A blank row between the table and a note or a total of the user's
    ends the search: that is the way to keep them; past it, only a line filling every required
    column of the table is one (`StrayCell.detached`: a line of data typed apart, not a note). So is
    a line typed into the table's totals row (`StrayCell.totals_row`), whole or partial — a montant
    alone: any value there but the row's label and what its totals functions give of the lines
    (`reading.totals_row`); Excel's totals and every reader leave that row out."""
    below: dict[tuple[str, int], list] = {}
    right: dict[str, list] = {}
    for sc in conv.stray_cells:
        if sc.right:
            right.setdefault(sc.table, []).append(sc)
        else:
            below.setdefault((sc.table, sc.row), []).append(sc)
    for (name, row), cells in below.items():
        first = cells[0]
        table = layout.TABLES_BY_NAME.get(name)
        numero = ""
        if table is not None and any(c.attr == "numero" for c in table.columns):
            # as the reader takes an action number typed as a number (3,1 → « 3.1 »)
            numero = next((str(parse_text(c.value).value or "") for c in cells
                           if c.header == table.header("numero")), "")
        # its first values and its amounts: enough for the user to recognise the line
        kinds = {c.header: c.kind for c in table.columns} if table else {}
        shown = [c for i, c in enumerate(cells) if i < 3 or kinds.get(c.header) is layout.Kind.AMOUNT]
        values = " ; ".join(f"{c.header} : {_shown(c.value, kinds.get(c.header))}" if c.header else _shown(c.value)
                            for c in shown)
        values += " ; …" if len(shown) < len(cells) else ""
        suggestion = EXTEND_TABLE
        if first.totals_row:  # a line of data typed into the totals row: Excel sums the lines above it
            required = {c.header for c in table.columns if c.required} if table else set()
            tail = ""
            if required <= {c.header for c in cells}:
                where = (f"saisie dans la ligne de total du tableau {q(name)}, en remplit toutes les colonnes "
                         "obligatoires mais n'est pas une ligne du tableau")
                suggestion = TOTALS_ROW
            else:  # a montant alone, or with its financeur: no total of the lines above gives it
                where = (f"saisie dans la ligne de total du tableau {q(name)}, n'est pas une ligne du tableau, "
                         "et ses valeurs ne sont ni le libellé de la ligne de total ni des totaux de ses colonnes")
                # a number there may be a total Excel computed on a filter of two criteria
                numbers = any(isinstance(c.value, (int, float)) and not isinstance(c.value, bool) for c in cells)
                suggestion = TOTALS_ROW_FILTERED if numbers else TOTALS_ROW
        elif first.detached:  # past a blank row, but a whole line of data: no note nor total fills them all
            where = (f"saisie sous le tableau {q(name)} après une ligne vide, en remplit toutes les colonnes "
                     "obligatoires mais n'en fait pas partie")
            tail = ("Une ligne vide sépare du tableau une note ou un total hors du plan ; une ligne qui en remplit "
                    "toutes les colonnes obligatoires est une ligne du tableau.")
        else:
            where = f"saisie juste sous le tableau {q(name)}, n'en fait pas partie"
            tail = ("S'il s'agit d'une note ou d'un total hors du plan, laissez une ligne vide entre le tableau et "
                    "cette ligne.")
        yield Finding(code="STR-09", gravite=E, feuille=first.sheet, cellule=first.cell, action=numero,
                      message=f"La ligne {row} de la feuille {q(first.sheet)}, {where} ({values}) : elle n'est lue "
                              "par aucun contrôle ni comptée dans aucun total.",
                      suggestion=suggestion + tail)
    for name, cells in right.items():
        first, last = cells[0], cells[-1]
        if len(cells) == 1:
            what = f"Une valeur ({q(_shown(first.value))}) est saisie"
            where, verb = first.cell, "elle ne fait pas partie du tableau et n'est lue"
        else:
            what = f"{len(cells)} valeurs sont saisies"
            where, verb = f"{first.cell} à {last.cell}", "elles ne font pas partie du tableau et ne sont lues"
        yield Finding(code="STR-09", gravite=E, feuille=first.sheet, cellule=first.cell,
                      message=f"{what} dans la colonne juste à droite du tableau {q(name)} "
                              f"(feuille {q(first.sheet)}, {where}) : {verb} par aucun contrôle.",
                      suggestion="Si cette colonne doit faire partie du tableau, étendez-le : dans Excel, faites "
                                 "glisser la poignée du coin inférieur droit du tableau ou Création de tableau › "
                                 "Redimensionner le tableau ; dans LibreOffice, Données › Définir la plage…, "
                                 "choisissez le nom du tableau, étendez sa plage et cliquez sur « Modifier ». "
                                 "Sinon, séparez-la du tableau par une colonne vide.")


_RAW = attrgetter("raw")
_IS_STR = str.__instancecheck__  # `isinstance(v, str)`, called from C


@rule("STR-10", E, "Texte plus long que ce qu'une cellule Excel contient (plus de 32 767 caractères)", SRC_CONTRAT)
def texte_trop_long(conv: Convention) -> Iterable[Finding]:
    """Added code. A text of more than 32,767 characters (UTF-16 units, as Excel counts: an emoji is two) in a data cell or a named cell: Excel cuts
    it when it opens the file (or refuses the file), so the workbook was not written by Excel and the
    value read is not the one a user saw. An error: the text is shown only cut in the findings."""
    def finding(sheet: str, cell: str, action: str, text: str) -> Finding:
        units = excel_length(text)
        return Finding(code="STR-10", gravite=E, feuille=sheet, cellule=cell, action=action,
                       message=f"La cellule contient un texte de {fmt_number(units)} caractères"
                               + (" (Excel compte deux caractères pour un emoji ou un signe rare)" if units != len(text)
                                  else "")
                               + f", plus que les {fmt_number(EXCEL_CELL_CHARS)} qu'une cellule Excel peut contenir "
                               f"(début : {q(text[:40] + '…')}).",
                       suggestion="Raccourcissez ce texte (un long document se joint au dossier à part), "
                                  "puis enregistrez le classeur depuis Excel.")
    bound = index(conv).longest_text
    if bound is not None and bound <= EXCEL_CELL_CHARS:
        return  # no part of the file could hold a longer text (`FileSource.longest_text`): nothing to walk
    lines = chain.from_iterable(map(conv.rows, ROW_MODELS))  # every table's rows, in C
    # one cheap pass first: a long text is rare, and this rule runs on every « Valider » (a 5,000-line
    # plan: 60,000 values), in C: the longest of the texts (the others have no length to look at, and
    # asking a number or a date for one would raise and clear an exception each), named cells' and
    # tables' together, with no list of them nor copy of their characters; else each one's length
    texts = filter(_IS_STR, chain(map(_RAW, conv.names.values()), chain.from_iterable(map(dict.values, map(_RAW, lines)))))
    # Excel counts UTF-16 units (an emoji is two): no text of half as many characters can be too long
    if max(map(len, texts), default=0) <= EXCEL_CELL_HALF:
        return
    for nv in conv.names.values():
        if _too_long(nv.raw):
            yield finding(nv.sheet, nv.cell, "", nv.raw)
    lines = [ligne for table_name in ROW_MODELS for ligne in conv.rows(table_name)]
    if not any(v.__class__ is str and len(v) > EXCEL_CELL_HALF for ligne in lines for v in ligne.raw.values()):
        return  # a long value, but no text itself (an error or formula text): as before
    for ligne in lines:
        for attr, v in ligne.raw.items():
            if _too_long(v):
                yield finding(ligne.sheet, ligne.cell(attr), action_of(ligne), v)



def _too_long(v: Any) -> bool:
    return isinstance(v, str) and len(v) > EXCEL_CELL_HALF and excel_length(v) > EXCEL_CELL_CHARS


@rule("STR-12", A, "Classeur qui compte ses dates à partir de 1904 : le bouton « Valider » du complément les lit "
                   "4 ans et 1 jour plus tôt", SRC_CONTRAT)
def calendrier_1904(conv: Convention) -> Iterable[Finding]:
    """Added code. Excel's « Utiliser le calendrier depuis 1904 »: the file reader reads the dates Excel
    shows, but the Office.js add-in hands the button every date as if counted from 1900 — 4 years and 1 day
    early — and gives no word of the option (nothing in its request says it), so the button cannot set it
    right: its date findings and its fingerprint differ from the command line's. Said where it can be,
    here; an avertissement, the data read being right."""
    if conv.structure.date1904:
        yield Finding(code="STR-12", gravite=A,
                      message="Le classeur compte ses dates à partir de 1904 (option d'Excel « Utiliser le calendrier "
                              "depuis 1904 ») : « acv-xl valider » lit ses dates comme Excel les affiche, mais le bouton "
                              "« Valider » du complément ACV les lit 4 ans et 1 jour plus tôt ; ses constats sur les dates "
                              "et son empreinte diffèrent alors (« modifié depuis la validation »).",
                      suggestion="Faites valider ce classeur par « acv-xl valider », ou reportez ses données dans un "
                                 "classeur créé à partir du modèle ACV (calendrier depuis 1900), en vérifiant ses dates.")


# The values the Synthèse's formulas look for, compared as Excel compares (without case, but every
# space counted): (table, column, what the formulas then do with the line, which values matter — None: all)
_SYNTHESE_KEYS = (
    # the codes the Synthèse of the workbook's version lists: another one goes there anyway
    (layout.T_FINANCEMENTS, "financeur", f"ses financements vont sur la ligne « {layout.SYNTHESE_FINANCEUR_AUTRES} »",
     "version"),
    (layout.T_FINANCEMENTS, "statut", f"ses financements vont sur la ligne « {layout.SYNTHESE_STATUT_AUTRES} »", None),
    (layout.T_FINANCEMENTS, "numero", "ses financements ne sont comptés dans aucun axe", None),
    (layout.T_ACTIONS, "numero", "les financements de l'action ne sont comptés dans aucun axe", None),
    (layout.T_ACTIONS, "maturite", "la Synthèse compte le coût de cette action abandonnée dans le coût total",
     (layout.MATURITE_ABANDONNEE,)),
)


@rule("STR-13", A, "Valeur entourée d'espaces : les formules de la feuille Synthèse ne la comptent pas comme elle",
      SRC_CONTRAT, needs=("T_Financements", "T_Actions"))
def espaces_hors_synthese(conv: Convention) -> Iterable[Finding]:
    """Added code. A code, statut, N° or maturité typed with a space before or after it (a pasted value):
    the reader reads it without (« ETAT  » is ETAT for « Valider », the annex and the consolidation), but
    the Synthèse's SOMME.SI.ENS compare the exact text, and count the line elsewhere — the État's total of
    the workbook as Excel shows it lower than the report's, a refused line « Refusé  » counted in the
    financing, without a word. A N° typed alike on an action and on its lines (« 2.1  » on both) is found
    and counted in its axe: not said. The distinct values are looked at (a few dozen, fetched in C); the
    lines only when one of them has such a space."""
    raws: dict[str, list] = {}
    for table, attr, effect, only in _SYNTHESE_KEYS:
        lignes = rows(conv, table)
        if table.name not in raws:
            raws[table.name] = list(map(attrgetter("raw"), lignes))
        odd = {v for v in set(map(methodcaller("get", attr), raws[table.name]))
               if v.__class__ is str and v != v.strip() and v.strip()}
        if not odd:
            continue
        header = table.header(attr)
        if only == "version":  # ADEME, EAU, SNCF have no row in a 2026.1 Synthèse: « ADEME » goes there too
            only = layout.synthese_financeurs(conv.value("acv_version_modele"))
        # the Synthèse looks each action's N° up in the plan's as typed: « 2.1  » on the action and on its
        # lines alike is counted in its axe; a line typed otherwise than its action, or an action than its lines, not
        plan = table is layout.T_FINANCEMENTS
        other = (_numeros_tapes(conv, layout.T_ACTIONS if plan else layout.T_FINANCEMENTS) if attr == "numero"
                 else None)
        for x in lignes:
            v = x.raw.get(attr)
            read = getattr(x, attr)
            if v not in odd or read is None or (only is not None and read not in only):
                continue
            if other is not None and ((v in other.get(read, ())) if plan else not (other.get(read, set()) - {v})):
                continue
            if plan and attr != "statut" and _refusee(x):
                continue  # in none of the Synthèse's totals, whatever its code or N°
            if attr == "statut" and read == layout.STATUT_REFUSE:
                what = ("la Synthèse compte cette ligne refusée dans le financement total, sur la ligne "
                        f"« {layout.SYNTHESE_STATUT_AUTRES} »")
            else:
                what = effect
            where = " et ".join(w for w, yes in (("au début", v[:1].isspace()), ("à la fin", v[-1:].isspace())) if yes)
            yield at(x, attr, "STR-13", A,
                     f"{prefix(x)} : {q(header)} contient {q(v)}, avec une espace {where} : « Valider » et l'annexe "
                     f"le lisent {q(read)}, mais les formules de la feuille Synthèse, qui comparent le texte exact, "
                     f"ne le reconnaissent pas : {what}.",
                     f"Retapez {q(read)} sans espace" + (" (ou choisissez-le dans la liste déroulante)."
                                                          if attr != "numero" else "."))


def _numeros_tapes(conv: Convention, table) -> dict[object, set[object]]:
    """The N° of `table`'s rows as typed, by the N° read (but a refused line's, which the Synthèse counts
    nowhere): asked only when a N° is typed with a space."""
    out: dict[object, set[object]] = {}
    for x in rows(conv, table):
        if not (table is layout.T_FINANCEMENTS and _refusee(x)):
            out.setdefault(x.numero, set()).add(x.raw.get("numero"))
    return out


_REFUSE = layout.STATUT_REFUSE.lower()


def _refusee(lf) -> bool:
    """A line the Synthèse's « <>Refusé » leaves out of all its totals: « Refusé » typed in any case, as
    Excel compares, but not with a space (STR-13 says that one)."""
    v = lf.raw.get("statut")
    return v.__class__ is str and v.lower() == _REFUSE
