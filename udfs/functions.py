"""Excel functions (UDFs) of the ACV workbook, for desktop xlwings and xlwings Server / Lite.

Each function takes tables header row included (`T_Financements[#Tout]`), so that Excel
recalculates it when the data changes and the columns are found by header text. The numbers
come from `acv_xl.checks.totals` (the same code as the command line); this module only adapts Excel's
arguments and answers. A bad argument gives a French text starting with `#ACV:` in the cell,
never a stack trace.

On the web the add-in prefixes the namespace: `=ACV.ACV_TOTAL_FINANCEUR(...)` (see docs/excel.md).
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date, datetime
from decimal import Decimal, localcontext
from typing import Any, Callable

import xlwings as xw

from acv_xl.contract import layout
from acv_xl.checks import totals
from acv_xl.checks.findings import Gravite
from acv_xl.contract.model import Commune, Convention, Dispositif, FicheAction, Financeur, LigneFinancement
from acv_xl.contract.values import LAST_DATE_SERIAL, fmt_date, joined
from acv_xl.reading.read import codes_as_listed

from .cells import OfficeJsTable
from .tables import PREFIX, UdfError, first_cell, rows, statuts_arg, text_arg, year_arg

__all__ = [
    "ACV_TOTAL_FINANCEUR",
    "ACV_TOTAL_ACTION",
    "ACV_ECART",
    "ACV_PART_MO",
    "ACV_SYNTHESE",
    "ACV_CONTROLE",
]

_F = layout.T_FINANCEMENTS
_A = layout.T_ACTIONS

# What each function needs from each table: a missing column is named in the error.
_PLAN_TOTAUX = ("numero", "financeur", "montant", "statut")
# the dispositif too: a DSIL typed « Prêt » is still a public subsidy for FIN-06 (`role_l1111_10`)
_PLAN_MO = ("numero", "financeur", "dispositif", "nature", "montant", "statut")
_ACTIONS_COUT = ("numero", "cout_total")

# `par` of ACV_SYNTHESE → (key of totals.Totaux, header of the first column)
SYNTHESE_PAR = {
    "financeur": ("par_financeur", _F.header("financeur")),
    "axe": ("par_axe", _A.header("axe")),
    "annee": ("par_annee", _F.header("annee")),
    "statut": ("par_statut", _F.header("statut")),
}


# The table arguments: always 2-D (a one-row range would otherwise arrive as a flat list), and on
# xlwings Server / Lite converted in one pass (`udfs.cells`) rather than cell by cell.
_ON_OFFICEJS = getattr(xw.func, "__module__", "") == "xlwings.pro.udfs_officejs"
TABLE = {"ndim": 2, **({"convert": OfficeJsTable} if _ON_OFFICEJS else {})}


def _euros(d: Decimal) -> float:
    value = float(totals.ZERO + d)  # already to the cent: Decimal → float for Excel
    if value - value != 0:  # beyond Excel's (and a float's) numbers: `inf`, which is no JSON
        raise UdfError("total trop grand pour un nombre d'Excel (au-delà de 10³⁰⁸) : vérifiez les montants du plan.")
    return value


def _safe(compute: Callable[[], Any]) -> Any:
    """Run a UDF body: a bad argument becomes its French message, anything else a short one."""
    try:
        return compute()
    except UdfError as exc:
        return str(exc)
    except Exception as exc:  # never a stack trace in a cell
        return f"{PREFIX}erreur inattendue ({type(exc).__name__}) ; vérifiez les plages passées à la fonction."


# An action number typed in a cell of a French Excel (« 1.2 ») may become a date (1er février): the
# desktop passes that date, the web its serial number (46054); either summed 0,00 € without a word
_TYPE_AS_TEXT = ("Excel a converti le numéro saisi en date (« 1.2 » devient le 1er février) ; saisissez-le comme "
                 "texte, précédé d'une apostrophe ('1.2), ou entre guillemets dans la formule (\"1.2\").")


def _numero(value: Any) -> str:
    value = first_cell(value)
    if isinstance(value, (date, datetime)):
        raise UdfError(f"le numéro d'action reçu est une date ({fmt_date(value)}) : {_TYPE_AS_TEXT}")
    n = text_arg(value)
    if n is None:
        raise UdfError("numéro d'action vide.")
    return n


def _date_serial(value: Any) -> bool:
    """Whether an action number argument may be a date's serial number (the web passes a date cell so):
    a whole number from 10 000 on — no action is numbered so — up to Excel's last date (1E+308 is none)."""
    value = first_cell(value)
    return value.__class__ in (int, float) and float(value).is_integer() and 10_000 <= value <= LAST_DATE_SERIAL


# the last plan's lines (`tables.rows` hands the same list while the plan is unchanged) and their
# distinct financeur codes: one tuple, replaced whole (the server's threads read it)
_CODES: tuple[Any, frozenset[str]] = (None, frozenset())


def _codes(lines: list[LigneFinancement]) -> frozenset[str]:
    global _CODES
    held, codes = _CODES
    if held is not lines:
        codes = frozenset(lf.financeur for lf in lines if lf.financeur)
        _CODES = (lines, codes)
    return codes


def _spellings(lines: list[LigneFinancement], code: str) -> list[str]:
    """The plan's spellings of a financeur code, whatever their case (« Etat » for ETAT and etat):
    Excel's own SOMME.SI.ENS matches them all, and « Valider » reads a code typed in another case
    than the Financeurs list's as the listed one (`read.codes_as_listed`) — the exact comparison
    summed 0,00 € without a word, and only the « ETAT » lines of a plan that also held « etat ».
    Among the plan's distinct codes, remembered per plan: folding each of 5 000 lines' codes at
    every call tripled a cached call (0,9 → 2,7 ms)."""
    low = code.lower()
    return [c for c in _codes(lines) if c.lower() == low] or [code]


def _one_spelling(lines: list[LigneFinancement]) -> list[Financeur] | None:
    """One spelling per financeur code whatever its case, for ACV_SYNTHESE (which has no Financeurs list):
    the reference list's (« ETAT ») or else the first the plan holds. « ETAT » and « etat » were two rows,
    where « Valider » and the Synthèse sheet (SOMME.SI.ENS) count one financeur. None: every code of the
    plan is spelt so already (nearly always; the lines are then not looked at again)."""
    codes = _codes(lines)
    chosen: dict[str, str] = {}
    for c in codes:
        if (low := c.lower()) in _REFERENCE_CODES:
            chosen[low] = _REFERENCE_CODES[low]
    if len({c.lower() for c in codes}) < len(codes):  # two spellings of one code: the plan's first wins
        for lf in lines:
            if lf.financeur:
                chosen.setdefault(lf.financeur.lower(), lf.financeur)
    if all(chosen.get(c.lower(), c) == c for c in codes):
        return None
    return [Financeur(code=c) for c in chosen.values()]


_REFERENCE_CODES = {code.lower(): code for code in layout.FINANCEURS_BY_CODE}


def _action(actions: list[FicheAction], numero: str, given: Any = None) -> FicheAction:
    for a in actions:
        if a.numero == numero:
            return a
    hint = f" ; si la cellule du numéro affiche une date, {_TYPE_AS_TEXT}" if _date_serial(given) else "."
    raise UdfError(f"action « {numero} » introuvable dans {_A.name}{hint}")


# ------------------------------------------------------------------------------- totals
@xw.func
@xw.arg("plan", **TABLE, doc="Le tableau du plan de financement avec son en-tête : T_Financements[#Tout]")
@xw.arg("financeur", doc="Code du financeur (ex. ETAT, CDC, REGION)")
@xw.arg("statuts", doc="Facultatif : statuts retenus, séparés par ; (ex. \"Acquis;Engagé;Versé\")")
@xw.arg("annee", doc="Facultatif : année (ex. 2025)")
def ACV_TOTAL_FINANCEUR(plan, financeur, statuts=None, annee=None):
    """Total des montants d'un financeur (lignes « Refusé » exclues), au centime."""

    def compute():
        code = text_arg(financeur)
        if code is None:
            raise UdfError("code du financeur vide.")
        st = statuts_arg(statuts)
        year = year_arg(annee)
        needed = _PLAN_TOTAUX + (("annee",) if year is not None else ())
        lines = rows(plan, LigneFinancement, needed, only=needed)
        return _euros(sum((totals.total_financeur(lines, c, st, year) for c in _spellings(lines, code)), totals.ZERO))

    return _safe(compute)


@xw.func
@xw.arg("plan", **TABLE, doc="Le tableau du plan de financement avec son en-tête : T_Financements[#Tout]")
@xw.arg("n_action", doc="N° de l'action (ex. 1.2)")
@xw.arg("statuts", doc="Facultatif : statuts retenus, séparés par ; (ex. \"Acquis;Engagé;Versé\")")
def ACV_TOTAL_ACTION(plan, n_action, statuts=None):
    """Total du financement d'une action (lignes « Refusé » exclues), au centime."""

    def compute():
        numero = _numero(n_action)
        st = statuts_arg(statuts)
        lines = rows(plan, LigneFinancement, _PLAN_TOTAUX, only=_PLAN_TOTAUX)
        if _date_serial(n_action) and not any(lf.numero == numero for lf in lines):
            raise UdfError(f"aucune ligne du plan pour l'action « {numero} » ; si la cellule du numéro affiche "
                           f"une date, {_TYPE_AS_TEXT}")
        return _euros(totals.total_action(lines, numero, st))

    return _safe(compute)


@xw.func
@xw.arg("actions", **TABLE, doc="Le tableau des fiches-actions avec son en-tête : T_Actions[#Tout]")
@xw.arg("plan", **TABLE, doc="Le tableau du plan de financement avec son en-tête : T_Financements[#Tout]")
@xw.arg("n_action", doc="N° de l'action (ex. 1.2)")
def ACV_ECART(actions, plan, n_action):
    """Coût total de l'action moins son financement (0 quand le plan est équilibré)."""

    def compute():
        numero = _numero(n_action)
        action = _action(rows(actions, FicheAction, _ACTIONS_COUT), numero, n_action)
        lines = rows(plan, LigneFinancement, _PLAN_TOTAUX, only=_PLAN_TOTAUX)
        ecart = totals.ecart(action, lines)
        if ecart is None:
            raise UdfError(f"le « {_A.header('cout_total')} » de l'action « {numero} » n'est pas un nombre.")
        return _euros(ecart)

    return _safe(compute)


@xw.func
@xw.arg("actions", **TABLE, doc="Le tableau des fiches-actions avec son en-tête : T_Actions[#Tout]")
@xw.arg("plan", **TABLE, doc="Le tableau du plan de financement avec son en-tête : T_Financements[#Tout]")
@xw.arg("financeurs", **TABLE, doc="Le tableau des financeurs avec son en-tête : T_Financeurs[#Tout]")
@xw.arg("n_action", doc="N° de l'action (ex. 1.2)")
@xw.arg("dispositifs", **TABLE, doc="Facultatif : T_Dispositifs[#Tout], pour les subventions ajoutées au classeur")
def ACV_PART_MO(actions, plan, financeurs, n_action, dispositifs=None):
    """Part propre du maître d'ouvrage dans le financement public (ratio de l'article L1111-10 du CGCT)."""

    def compute():
        numero = _numero(n_action)
        action = _action(rows(actions, FicheAction, ("numero",)), numero, n_action)
        lines = rows(plan, LigneFinancement, _PLAN_MO, only=_PLAN_MO)
        fin = rows(financeurs, Financeur, ("code", "categorie"))
        # the workbook's own subsidies (a Région's fund it adds, typed « Autre » in the plan), which FIN-06
        # counts as public ones; optional, so that the four-argument calls keep working
        added = rows(dispositifs, Dispositif, _required(Dispositif)) if _optional(dispositifs) is not None else []
        listed = Convention(financements=lines, financeurs=fin, dispositifs=added)
        codes_as_listed(listed, shared=True)  # « etat » is ETAT's, as « Valider » reads it
        lines = listed.financements
        # the MO known: only its own autofinancement is its own share, as FIN-06 counts it
        part = totals.part_mo(totals.lines_of(lines, numero), fin, action, fin,
                              dispositifs_classeur=listed.dispositifs)
        if part.ratio is None:
            raise UdfError(f"l'action « {numero} » n'a ni part propre ni subvention publique : ratio non défini.")
        return float(round(part.ratio, 6))

    return _safe(compute)


@xw.func
@xw.arg("plan", **TABLE, doc="Le tableau du plan de financement avec son en-tête : T_Financements[#Tout]")
@xw.arg("par", doc="Facultatif : financeur (défaut), axe, annee ou statut")
@xw.arg("actions", **TABLE, doc="Pour par = axe : le tableau des fiches-actions, T_Actions[#Tout]")
def ACV_SYNTHESE(plan, par="financeur", actions=None):
    """Tableau (débordant) des totaux par financeur, axe, année ou statut (lignes « Refusé » exclues)."""

    def compute():
        key = (text_arg(par) or "financeur").lower().replace("é", "e")
        if key not in SYNTHESE_PAR:
            raise UdfError(f"regroupement « {text_arg(par)} » inconnu (valeurs possibles : "
                           f"{', '.join(SYNTHESE_PAR)}).")
        attr, first_header = SYNTHESE_PAR[key]
        needed = _PLAN_TOTAUX + (("annee",) if key == "annee" else ())
        conv = Convention(financements=rows(plan, LigneFinancement, needed, only=_PLAN_TOTAUX + ("annee",)))
        if key == "financeur" and (spelt := _one_spelling(conv.financements)) is not None:
            conv.financeurs = spelt
            codes_as_listed(conv, shared=True)
        if key == "axe":
            if actions is None:
                raise UdfError(f"la synthèse par axe demande aussi le tableau des actions "
                               f"(3e argument : {_A.name}[#Tout]).")
            conv.actions = rows(actions, FicheAction, ("numero", "axe"))
        t = totals.compute(conv)
        out: list[list[Any]] = [[first_header, _F.header("montant")]]
        for k, v in getattr(t, attr).items():
            label: Any = k
            if key == "axe":
                label = layout.AXE_CHOICES[int(k) - 1]
            elif key == "annee":
                label = int(k)
            out.append([label, _euros(v)])
        return out

    return _safe(compute)


# ------------------------------------------------------------------------------- checks
def _required(cls) -> tuple[str, ...]:
    return tuple(c.attr for c in cls.TABLE.columns if c.required)


def _optional(table: Any) -> Any:
    """An optional table argument, None when left out. Classic xlwings on the desktop gives the place left empty in
    a formula (`…; "1.2"; ; T_Communes[#Tout]`) as one blank cell, the table [[None]] (only an argument omitted at
    the end comes as the default, as every one with xlwings Server): that blank is no table, but the default."""
    return None if table.__class__ is list and table == [[None]] else table


def reference_dispositifs() -> list[Dispositif]:
    """The template's reference instruments, for ACV_CONTROLE when no T_Dispositifs is given."""
    from acv_xl.outputs.template import reference_dispositifs as reference

    return reference()


def _sans_communes(numero: str, payeurs: list[str]) -> str:
    """ACV_CONTROLE's answer, without T_Communes, where FIN-23 hangs on the convention's communes: not « OK »,
    which « Valider » may contradict, but what is not known and how to know it."""
    if len(payeurs) == 1:
        qui, porte = f"le financeur {payeurs[0]} porte le nom d'une commune", "c'est une commune"
    else:
        noms = joined(payeurs)
        qui, porte = f"les financeurs {noms} portent le nom de communes", "ce sont des communes"
    return (f"À vérifier : aucune erreur pour l'action « {numero} », mais {qui} du programme ; si {porte} de la "
            "convention, « Valider » signale l'erreur FIN-23 (fonds de concours hors du cadre légal). Passez "
            "T_Communes[#Tout] en 6e argument pour le savoir.")


@xw.func
@xw.arg("actions", **TABLE, doc="Le tableau des fiches-actions avec son en-tête : T_Actions[#Tout]")
@xw.arg("plan", **TABLE, doc="Le tableau du plan de financement avec son en-tête : T_Financements[#Tout]")
@xw.arg("financeurs", **TABLE, doc="Le tableau des financeurs avec son en-tête : T_Financeurs[#Tout]")
@xw.arg("n_action", doc="N° de l'action (ex. 1.2)")
@xw.arg("dispositifs", **TABLE, doc="Facultatif : T_Dispositifs[#Tout] (défaut : la liste de référence du modèle)")
@xw.arg("communes", **TABLE, doc="Facultatif : T_Communes[#Tout], pour reconnaître les communes de la convention")
def ACV_CONTROLE(actions, plan, financeurs, n_action, dispositifs=None, communes=None):
    """« OK », ou le message de la première erreur de l'action (mêmes règles que « Valider »)."""
    dispositifs, communes = _optional(dispositifs), _optional(communes)

    def compute():
        from acv_xl.checks.rules import Index, codes_within, run_rules
        from acv_xl.checks.rules.financement import fonds_de_concours_sans_communes

        numero = _numero(n_action)
        # every required column must be there: a missing one would read as empty cells and
        # give misleading « champ vide » errors
        acts = rows(actions, FicheAction, _required(FicheAction))
        _action(acts, numero, n_action)
        conv = Convention(
            actions=acts,
            financements=rows(plan, LigneFinancement, _required(LigneFinancement)),
            financeurs=rows(financeurs, Financeur, _required(Financeur)),
            dispositifs=rows(dispositifs, Dispositif, _required(Dispositif))
            if dispositifs is not None else reference_dispositifs(),
            # the convention's communes, as « Valider » reads them: a financeur added under a bare commune's
            # name (« Liévin ») is then a commune, whose fonds de concours to a commune FIN-23 refuses; optional,
            # so that the five-argument calls of existing workbooks keep working
            communes=rows(communes, Commune, _required(Commune)) if communes is not None else [],
        )
        codes_as_listed(conv, shared=True)  # « etat » is ETAT's, as « Valider » reads it (no FIN-02)
        # only the rules that need nothing but the tables given: the others would take the tables
        # Excel did not pass (périmètres, indicateurs…) for empty ones
        given = {layout.T_ACTIONS.name, layout.T_FINANCEMENTS.name, layout.T_FINANCEURS.name,
                 layout.T_DISPOSITIFS.name} | ({layout.T_COMMUNES.name} if communes is not None else set())
        # the digits every sum needs, as « Valider » checks a plan past 10^18 € (`validate_convention`):
        # in the default 28, « financements 1 000 000 … 000,00 € » where Valider wrote the exact sum
        context = totals.exact_context(conv) if totals.beyond_default(totals.compute(conv)) else None
        with localcontext(context) if context is not None else nullcontext():
            found = run_rules(conv, codes=codes_within(given), shared=(shared := Index(conv)))
            for f in found:
                if f.gravite is Gravite.ERREUR and f.action == numero:
                    return f.message
            # FIN-23 run again there: in the same digits
            if communes is None and (payeurs := fonds_de_concours_sans_communes(shared, numero)):
                return _sans_communes(numero, payeurs)
        return "OK"

    return _safe(compute)
