"""The workbook of `acv-xl historique`: one sheet per question, readable when printed (landscape A4,
headers repeated on every page, French formats), written with the consolidated workbook's table
writer (real Excel tables, totals cached for any reader)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from acv_xl.checks.rules.consolidation import CODE_INCONNU
from acv_xl.contract import layout
from acv_xl.contract.values import EXCEL_COLUMNS, EXCEL_ROWS, fmt_number
from acv_xl.history.historique import PERIMETRE_MODIFIE, Evolution, mouvements_par_financeur, rien_a_comparer
from acv_xl.outputs.consolidation_workbook import (NON_VENTILE, SANS_ID, STATUT_LIBELLE, H, _sheet_class, _Writer, gc_paused,
                                                  write_packed)
from acv_xl.outputs.consolidation_result import departements_said
from acv_xl.outputs.atomic import atomic_write
from acv_xl.outputs import page_layout
from acv_xl.outputs.formats import FMT_EUROS_ENTIERS
from acv_xl.outputs.output_guard import HISTORIQUE, mark_xlsxwriter
from acv_xl.outputs.terminal import file_text


class Feuille:
    CONSOLIDATIONS = "Consolidations"
    PAR_FINANCEUR = "Par financeur"
    PAR_STATUT = "Par statut"
    MOUVEMENTS_FINANCEURS = "Mouvements par financeur"
    PAR_CONVENTION = "Par convention"
    MOUVEMENTS = "Mouvements"


FEUILLES = (Feuille.CONSOLIDATIONS, Feuille.PAR_FINANCEUR, Feuille.MOUVEMENTS_FINANCEURS, Feuille.PAR_STATUT,
            Feuille.PAR_CONVENTION, Feuille.MOUVEMENTS)
TABLES = {
    Feuille.CONSOLIDATIONS: "T_Consolidations",
    Feuille.PAR_FINANCEUR: "T_EvolutionFinanceurs",
    Feuille.PAR_STATUT: "T_EvolutionStatuts",
    Feuille.MOUVEMENTS_FINANCEURS: "T_MouvementsFinanceurs",
    Feuille.PAR_CONVENTION: "T_EvolutionConventions",
    Feuille.MOUVEMENTS: "T_Mouvements",
}


def _nom(code: str, departements: set[str]) -> str | None:
    if code == CODE_INCONNU:
        return "Codes absents de la liste de référence"
    if code == NON_VENTILE:
        return "Lignes sans code de financeur"
    return layout.nom_financeur(code, departements)


_WIDE_MAX = EXCEL_COLUMNS - 2  # the columns left beside the financeur's code and name (or statut)
_TALL_MAX = EXCEL_ROWS - 12  # the rows left under the titles, the header, the totals and the notes


# the column of Mouvements par financeur: what conventions added or removed brought to each financeur's écart
CONVENTIONS_ENTREES = "Conventions ajoutées ou retirées (€)"


class _EvolutionWriter(_Writer):
    def __init__(self, wb, ev: Evolution, registre: Path, packer=None):
        super().__init__(wb, None, packer)
        self.ev = ev
        self.registre = registre
        self.genere_le = datetime.now()
        self.coupees: list[str] = []  # the sheets cut at a sheet's last row, said by the command

    def sheet(self, name: str, titre: str, landscape: bool = True):
        ws = self.wb.add_worksheet(name, worksheet_class=_sheet_class())
        ws.packer = self.packer  # its tables' rows deflated as they are made (`write_packed`)
        d = self.perimetre()
        nom = file_text(self.registre.name)  # a name in Latin-1 (a copied USB stick) escaped, as files are
        n, toutes = len(self.ev.ids), self.ev.toutes
        # under --departement, the runs left aside are counted, as the command's line counts them: a printed
        # page never passes for the whole register
        registre = (f"{fmt_number(n)} consolidation{'s' if n > 1 else ''} sur les {fmt_number(toutes)} du registre "
                    f"« {nom} »" if self.ev.departement is not None and toutes > n else f"registre « {nom} »")
        self.titles(ws, titre, f"Évolution Action Cœur de Ville — {d} — {registre} — "
                               f"générée le {self.genere_le.strftime('%d/%m/%Y à %H:%M')}")
        ws.set_header(f"&L&\"-,Bold\"{name}&RAction Cœur de Ville")
        ws.landscape = landscape
        return ws  # the print layout is decided in `table`, from the columns (`page_layout`)

    def perimetre(self) -> str:
        """The départements of the series as its runs were filtered: a run without `--departement`
        among them is said, so that the subtitle never reads « département 62 » over a national run."""
        deps = self.filtres()
        if not deps:  # runs without the filter only: the départements of their conventions, as each run titled them
            return departements_said(self.ev.departements_lus)
        d = ("département " if len(deps) == 1 else "départements ") + ", ".join(deps)
        if any(not (isinstance(x, str) and x) for x in self.ev.consolidations["departement"]):
            d += " et consolidations sans filtre de département"
        return d

    def filtres(self) -> list[str]:
        """The départements the series' runs were filtered on (`--departement`), sorted."""
        return sorted({d for d in self.ev.consolidations["departement"] if isinstance(d, str) and d})

    def departements(self) -> list[str]:
        """The départements the series covers: its runs' filters, and those of the conventions counted by a
        run without one."""
        return sorted(set(self.filtres()) | set(self.ev.departements_lus))

    def footer_label(self, ws) -> str:
        return f"{ws.name} — évolution du département"

    def footer_date(self) -> str:
        return page_layout.generated_on(self.genere_le)  # l'évolution

    def consolidations(self) -> None:
        # the scope of each run, so that a series mixing scopes is seen for what it is; the comité wraps (a
        # --comite label longer than its column was cut at its edge on paper)
        cols = [("N°", 6, "entier"), ("Date", 16, "date_heure"), ("Comité", 34, "texte_long"), ("Département", 12, None),
                ("Sans erreurs seulement", 12, None), ("Fichiers", 10, "entier"), ("Conventions comptées", 12, "entier"),
                ("Financement total (€)", 20, "euros")]
        rows = [[int(i), datetime.fromisoformat(d), lab, dep if isinstance(dep, str) else "tous",
                 "Oui" if se else "Non", int(n), int(c), float(t)]
                for i, d, lab, dep, se, n, c, t in self.ev.consolidations[
                    ["id", "date", "libelle", "departement", "sans_erreurs", "fichiers", "conventions_comptees",
                     "financement_total"]].itertuples(index=False)]
        rows, titre = self.tall(Feuille.CONSOLIDATIONS, "Consolidations enregistrées", rows, lambda r: r[0],
                                "consolidations")
        ws = self.sheet(Feuille.CONSOLIDATIONS, titre)
        _, last = self.table(ws, TABLES[Feuille.CONSOLIDATIONS], cols, rows, freeze_cols=1)
        if hors_ordre := self.ev.hors_ordre_texte():
            self.first_page_notes(ws, last + 2, [f"Attention : {hors_ordre}."])

    def wide(self, titre: str) -> tuple[list[int], str]:
        """The consolidations a sheet with one column each shows, and its title: an Excel sheet has
        16 384 columns — past them XlsxWriter wrote no table at all (an empty sheet, status 0), so the
        latest ones only, the title saying so (every one is in `Par convention`, `Mouvements` and the JSON)."""
        ids = self.ev.ids
        if len(ids) <= _WIDE_MAX:
            return ids, titre
        return ids[-_WIDE_MAX:], (f"{titre} — les {fmt_number(_WIDE_MAX)} dernières consolidations sur "
                                  f"{fmt_number(len(ids))} (une feuille n'a que {fmt_number(EXCEL_COLUMNS)} "
                                  "colonnes ; toutes figurent dans les feuilles Par convention et Mouvements, et dans "
                                  "le JSON)")

    def tall(self, name: str, titre: str, rows: list[list], consolidation, quoi: str) -> tuple[list[list], str]:
        """The rows a sheet can hold, and its title: an Excel sheet has 1 048 576 rows — past them the
        workbook was no workbook Excel opens (rows written beyond its grid) —, so the rows of the
        latest consolidations that fit (`consolidation(row)`: a row's consolidation), the title and
        the command saying so (every consolidation stays in the JSON's totals and in the register).
        `quoi`: what a row is, in the plural (« mouvements »)."""
        if len(rows) <= _TALL_MAX:
            return rows, titre
        par: dict[int, int] = {}
        for r in rows:
            par[consolidation(r)] = par.get(consolidation(r), 0) + 1
        kept, room = set(), _TALL_MAX
        for c in sorted(par, reverse=True):
            if par[c] > room:
                break
            kept.add(c)
            room -= par[c]
        if kept:
            cut = [r for r in rows if consolidation(r) in kept]
            which = (f"des {fmt_number(len(kept))} dernières consolidations" if len(kept) > 1
                     else "de la dernière consolidation")
        else:  # the latest alone past the grid: its first rows
            latest = max(par)
            cut = [r for r in rows if consolidation(r) == latest][:_TALL_MAX]
            which = "de la dernière consolidation seulement, en partie"
        said = (f"les {quoi} {which} : {fmt_number(len(cut))} lignes sur {fmt_number(len(rows))} (une feuille n'a que "
                f"{fmt_number(EXCEL_ROWS)} lignes ; toutes figurent dans le registre)")
        self.coupees.append(f"la feuille {name} ne montre que {said}")
        return cut, f"{titre} — {said}"

    def par_financeur(self) -> None:
        ev = self.ev
        # the counted lines of every statut but « Refusé »: « Prévisionnel », « Sollicité » too, not engagements
        ids, titre = self.wide("Financement de chaque financeur d'un comité à l'autre (hors refusés)")
        ws = self.sheet(Feuille.PAR_FINANCEUR, titre)
        labels = ev.labels()
        totaux = ev.totaux_financeurs()
        cols = [(H.FINANCEUR, 14, None), (H.NOM_FINANCEUR, 42, None)] + [(labels[c], 16, "euros") for c in ids]
        deps = set(self.departements())
        rows = [[f, _nom(f, deps)] + [totaux[f][c] for c in ids] for f in ev.financeurs()]
        first, last = self.table(ws, TABLES[Feuille.PAR_FINANCEUR], cols, rows,
                                 {2 + j: sum(totaux[f][c] for f in totaux) for j, c in enumerate(ids)}, freeze_cols=2)
        if rows:
            chart = self.wb.add_chart({"type": "line"})
            for i in range(len(rows)):
                r = first + 1 + i
                chart.add_series({
                    "name": [Feuille.PAR_FINANCEUR, r, 0],
                    "categories": [Feuille.PAR_FINANCEUR, first, 2, first, 1 + len(ids)],
                    "values": [Feuille.PAR_FINANCEUR, r, 2, r, 1 + len(ids)],
                    "marker": {"type": "circle"},
                })
            chart.set_title({"name": "Financement par financeur, d'un comité à l'autre (hors refusés)"})
            chart.set_y_axis({"num_format": FMT_EUROS_ENTIERS, "major_gridlines": {"visible": True}})
            chart.set_legend({"position": "right"})
            self.first_page_chart(ws, chart, 900, 420, beside=(last + 2, 0), below=last + 2)
    def par_statut(self) -> None:
        # its own sheet: printed, each page repeats this table's own header row
        ev = self.ev
        ids, titre = self.wide("Financement de chaque financeur par statut, d'un comité à l'autre (hors refusés)")
        ws = self.sheet(Feuille.PAR_STATUT, titre)
        labels = ev.labels()
        statuts = ev.statuts_financeurs()
        ordre = list(layout.L.STATUT)
        srows = []
        for f in ev.financeurs():
            present = {s for c in ids for s in statuts[f][c]}
            for s in sorted(present, key=lambda s: (ordre.index(s) if s in ordre else len(ordre), s)):
                srows.append([f, s] + [statuts[f][c].get(s, 0.0) for c in ids])
        scols = [(H.FINANCEUR, 14, None), (layout.T_FINANCEMENTS.header("statut"), 16, None)] + [(labels[c], 16, "euros") for c in ids]
        self.table(ws, TABLES[Feuille.PAR_STATUT], scols, srows, freeze_cols=2)

    def par_convention(self) -> None:
        ev = self.ev
        labels = ev.labels()
        # the libellé and the comité wrap, as in the movements: « Consolidation du 06/12/2026 à 23:50 (n° 1) »
        # printed « Consolidation du 06/12/2026 à 23:50 ( », cut at its column's edge, which comité lost
        cols = [(H.ACV_ID, 12, None), (H.LIBELLE, 30, "texte_long"), ("N°", 6, "entier"), ("Comité", 30, "texte_long"),
                (H.FINANCEMENT, 18, "euros"), (H.STATUT, 26, None), (H.ERREURS, 9, "entier"),
                (H.AVERTISSEMENTS, 15, "entier"), ("Informations", 12, "entier")]
        rows = [[acv or SANS_ID, lib, int(c), labels.get(int(c)), float(t), STATUT_LIBELLE.get(e, e), int(er), int(av),
                 int(inf)]
                for c, acv, lib, t, e, er, av, inf in ev.par_convention[
                    ["consolidation_id", "acv_id", "libelle", "financement_total", "etat", "erreurs",
                     "avertissements", "informations"]].itertuples(index=False)]
        rows.sort(key=lambda r: (str(r[0] or ""), r[2]))
        rows, titre = self.tall(Feuille.PAR_CONVENTION, "Chaque convention d'un comité à l'autre (à trier ou filtrer)",
                                rows, lambda r: r[2], "conventions")
        ws = self.sheet(Feuille.PAR_CONVENTION, titre)
        _, last = self.table(ws, TABLES[Feuille.PAR_CONVENTION], cols, rows, freeze_cols=2)
        ws.conditional_format(3, 6, last, 6, {"type": "cell", "criteria": ">", "value": 0,
                                              "format": self.fmt["erreur"]})

    def mouvements(self) -> None:
        ev = self.ev
        labels = ev.labels()
        tf = layout.T_FINANCEMENTS
        # names wrap, in rows sized to them: an intitulé, and the consolidations' labels (« Consolidation
        # du 06/12/2026 à 23:50 (n° 1) » printed « Consolidation du 06/12/2026 à »), were cut at their
        # column's edge on paper. The columns that say whose a row is come first, frozen and repeated on
        # each page the sheet prints across: after « Avant » alone, the montants' page did not say which
        # convention, action or financeur they were of.
        cols = [(H.ACV_ID, 12, None), (tf.header("numero"), 9, None), (tf.header("financeur"), 11, None),
                (H.LIBELLE, 24, "texte_long"), ("Avant", 24, "texte_long"), ("Après", 24, "texte_long"), (PERIMETRE_MODIFIE, 22, "texte_long"),
                ("Mouvement", 18, "texte_long"), (H.INTITULE, 30, "texte_long"),
                (tf.header("dispositif"), 18, "texte_long"), (tf.header("nature"), 14, None),
                (tf.header("annee"), 8, None), ("Statut avant", 12, None), ("Statut après", 12, None),
                ("Montant avant (€)", 16, "euros"), ("Montant après (€)", 16, "euros"), ("Écart (€)", 16, "euros"),
                ("Engagement obtenu", 11, None)]
        rows = [[m.acv_id, m.numero, m.financeur, m.libelle, labels.get(m.avant), labels.get(m.apres),
                 ev.changement_perimetre(m.avant, m.apres) or None, m.type, m.intitule, m.dispositif, m.nature,
                 m.annee, m.statut_avant, m.statut_apres, m.montant_avant, m.montant_apres, m.ecart, m.engagement]
                for m in ev.mouvements]
        apres = {id(r): m.apres for r, m in zip(rows, ev.mouvements)}
        rows, titre = self.tall(Feuille.MOUVEMENTS, "Évolutions d'une consolidation à la suivante", rows,
                                lambda r: apres[id(r)], "mouvements")
        ws = self.sheet(Feuille.MOUVEMENTS, titre)
        _, last = self.table(ws, TABLES[Feuille.MOUVEMENTS], cols, rows, freeze_cols=3)
        if not rows:  # an empty table says why, rather than leave the référent wondering
            self.first_page_notes(ws, last + 2, [rien_a_comparer(ev)])
        self.note_perimetre(ws, last + 2 + (not rows))

    def note_perimetre(self, ws, row: int) -> None:
        """Under a table of movements, when two consecutive consolidations differ in scope. Each note of
        this workbook is wrapped across the first printed page (`first_page_notes`): written in column A,
        this one ran past the page's edge and was cut there (« … et leurs écarts peuvent n'être »)."""
        if self.ev.paires_hors_perimetre():
            self.first_page_notes(ws, row, [f"{PERIMETRE_MODIFIE} : les deux consolidations ne portent pas sur le "
                                            "même périmètre (département, « sans erreurs seulement », voir la feuille "
                                            f"{Feuille.CONSOLIDATIONS}) ; leurs conventions ajoutées ou retirées et "
                                            "leurs écarts peuvent n'être que l'effet de ce changement, non des "
                                            "conventions entrées dans le programme ou sorties."])

    def mouvements_par_financeur(self) -> None:
        ev = self.ev
        labels = ev.labels()
        cols = [("Avant", 24, "texte_long"), ("Après", 24, "texte_long"), (PERIMETRE_MODIFIE, 22, "texte_long"),
                (H.FINANCEUR, 14, None),
                ("Total avant (€)", 17, "euros"),
                ("Total après (€)", 17, "euros"), ("Écart (€)", 16, "euros"),
                (CONVENTIONS_ENTREES, 17, "euros"),
                ("Engagements obtenus (€)", 17, "euros"), ("Nouvelles lignes", 10, "entier")]
        par_paire = mouvements_par_financeur(ev)
        par_paire, titre = self.tall(Feuille.MOUVEMENTS_FINANCEURS, "Évolutions de chaque financeur d'un comité au "
                                     "suivant", par_paire, lambda r: r[1], "mouvements par financeur")
        ws = self.sheet(Feuille.MOUVEMENTS_FINANCEURS, titre)
        rows = [[labels[a], labels[b], ev.changement_perimetre(a, b) or None, *rest] for a, b, *rest in par_paire]
        self.table(ws, TABLES[Feuille.MOUVEMENTS_FINANCEURS], cols, rows, freeze_cols=4)
        if not rows:
            self.first_page_notes(ws, len(rows) + 4, [rien_a_comparer(ev)])
        self.note_perimetre(ws, len(rows) + 6)
        # a convention added or removed moves its financeurs' écarts by its own lines, none of them a
        # commitment obtained nor a new line: its column says how much, where a funder read a change with
        # nothing beside it to explain it
        self.first_page_notes(ws, len(rows) + 5, [f"{CONVENTIONS_ENTREES} : le financement de ce financeur dans les "
                                                  "conventions ajoutées (ou désormais comptées), moins celui des "
                                                  "conventions retirées (ou non comptées), compris dans l'écart. "
                                                  "Engagements obtenus : lignes nouvelles déjà « Acquis », « Engagé » "
                                                  "ou « Versé », et lignes passées à l'un de ces statuts, dans les "
                                                  "conventions comptées de part et d'autre ; celles des conventions "
                                                  "ajoutées ou retirées n'y figurent pas, ni parmi les nouvelles "
                                                  f"lignes (détail : feuille {Feuille.MOUVEMENTS})."])

    def write(self) -> None:
        self.consolidations()
        self.par_financeur()
        self.mouvements_par_financeur()
        self.par_statut()
        self.par_convention()
        self.mouvements()
        self.wb.set_properties({"title": "Évolution Action Cœur de Ville", "author": "acv-xl"})
        mark_xlsxwriter(self.wb, HISTORIQUE)  # a derived report: re-running historique replaces it


def write_evolution(ev: Evolution, out: Path, registre: Path) -> list[str]:
    """Writes the workbook; returns what its sheets could not hold, in French (said by the command).
    Zipped as the consolidation is (`write_packed`: the tables' rows by zlib-ng's level 2 in a thread,
    the other parts at level 1), not at zipfile's default level: the same sheets, a fraction of the
    compression's cost."""
    coupees: list[str] = []

    def fill(wb, packer) -> None:
        writer = _EvolutionWriter(wb, ev, registre, packer)
        writer.write()
        coupees[:] = writer.coupees

    @gc_paused()
    def _write(tmp: Path) -> None:
        write_packed(tmp, {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}, fill)

    atomic_write(out, _write)
    return coupees
