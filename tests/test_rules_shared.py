"""What the rules keep between runs (`Index.shared`: facts of the lists of financeurs and dispositifs,
answers per (financeur, dispositif, nature); `Index.familles`: the family of each dispositif name)
never changes a finding: workbooks whose lists differ by one value, run one after the other in any
order, get exactly the findings each gets with nothing kept."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from acv_xl.checks import rules
from acv_xl.checks.rules import run_rules
from acv_xl.reading.read import read_file
from conventions import build, clean_raw

EXEMPLES = Path(__file__).resolve().parents[1] / "workbooks" / "exemples"


def _dispositif(raw, financeur, nom):
    return next(d for d in raw["T_Dispositifs"] if d["financeur"] == financeur and d["dispositif"] == nom)


def _financeur(raw, code):
    return next(f for f in raw["T_Financeurs"] if f["code"] == code)


def _variants():
    """The clean convention and variants of it; each pair of `PAIRS` holds the same lines and lists
    differing by one value, which changes what a rule that reads the lists says of these lines."""
    out = {"propre": clean_raw()}

    def variant(name, *changes, base=None):
        raw = copy.deepcopy(out[base]) if base else clean_raw()
        for change in changes:
            change(raw)
        out[name] = raw

    def fonds_xyz(r):  # a State subsidy of a name no family recognises, on action 1.1
        r["T_Financements"].append(dict(r["T_Financements"][2], financeur="ETAT", dispositif="Fonds XYZ", montant=1_000))

    def listed(nature, dotation):
        return lambda r: r["T_Dispositifs"].append(
            {"financeur": "ETAT", "dispositif": "Fonds XYZ", "nature": nature, "dotation_r2334_27": dotation})

    def propre_15(r):  # action 1.1: own share 150 000, region 350 000
        r["T_Financements"][0]["montant"] = 150_000
        r["T_Financements"][2]["montant"] = 350_000

    variant("nature du DSIL", lambda r: _dispositif(r, "ETAT", "DSIL").update(nature="Prêt"))  # FIN-11
    variant("CDC sans nom", lambda r: _financeur(r, "CDC").update(nom=None))  # FIN-18
    variant("code en double", lambda r: r["T_Financeurs"].append(dict(_financeur(r, "CDC"))))  # FIN-18
    variant("financeur retiré", lambda r: r["T_Financeurs"].remove(_financeur(r, "REGION")))  # FIN-02, FIN-18
    variant("propre 15 %", propre_15)  # FIN-06
    variant("propre 15 %, région privée", lambda r: _financeur(r, "REGION").update(categorie="Privé"), base="propre 15 %")
    variant("Fonds XYZ", fonds_xyz)  # FIN-20, not listed
    variant("Fonds XYZ dotation", listed("Subvention", "Oui"), base="Fonds XYZ")
    variant("Fonds XYZ pas une dotation", listed("Subvention", "Non"), base="Fonds XYZ")  # declared: no FIN-20
    variant("Fonds XYZ sans réponse", listed("Subvention", None), base="Fonds XYZ")  # FIN-20, FIN-18
    variant("Fonds XYZ prêt", listed("Prêt", "Oui"), base="Fonds XYZ")  # FIN-11
    return out


PAIRS = [("propre", "nature du DSIL"), ("propre", "CDC sans nom"), ("propre", "code en double"),
         ("propre", "financeur retiré"), ("propre 15 %", "propre 15 %, région privée"),
         ("Fonds XYZ pas une dotation", "Fonds XYZ sans réponse"), ("Fonds XYZ dotation", "Fonds XYZ prêt"),
         ("Fonds XYZ dotation", "Fonds XYZ")]


def _fresh(monkeypatch):
    from acv_xl.checks.rules import financement

    monkeypatch.setattr(rules, "_LISTS_FACTS", {})
    monkeypatch.setattr(rules, "_FAMILLES", {})
    monkeypatch.setattr(rules, "_FCTVA_PAIRS", rules.Memo(rules.fctva_named))
    monkeypatch.setattr(financement, "_ENCADREES", rules.Memo(financement._encadree))


def _dump(conv):
    return [f.as_json() for f in run_rules(conv)]


def test_the_lists_of_each_pair_change_the_findings(monkeypatch):
    """The test below compares something: the workbooks of each pair differ only by their lists, and
    their findings differ."""
    _fresh(monkeypatch)
    got = {name: _dump(build(raw)) for name, raw in _variants().items()}
    for a, b in PAIRS:
        assert got[a] != got[b], (a, b)


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_what_is_kept_between_runs_changes_no_finding(monkeypatch, order):
    convs = {name: build(raw) for name, raw in _variants().items()}
    convs.update({p.name: read_file(p) for p in sorted(EXEMPLES.glob("*.xlsx"))})
    alone = {}
    for name, conv in convs.items():
        _fresh(monkeypatch)
        alone[name] = _dump(conv)
    _fresh(monkeypatch)
    names = list(convs) if order == "forward" else list(reversed(convs))
    for _ in range(2):  # the second time, every answer comes from what the others left
        for name in names:
            assert _dump(convs[name]) == alone[name], name


def test_lists_holding_a_pasted_text_are_not_kept(monkeypatch):
    """`acv-xl serveur` keeps what the rules worked out for months: lists holding a pasted text are
    judged the same, and nothing of them is kept; ordinary lists are."""
    _fresh(monkeypatch)
    raw = clean_raw()
    _financeur(raw, "CDC")["nom"] = "Banque des Territoires " + "très " * 14_000
    pasted = build(raw)
    first = _dump(pasted)
    assert rules._LISTS_FACTS == {} and _dump(pasted) == first
    _dump(build(clean_raw()))
    assert len(rules._LISTS_FACTS) == 1


def test_a_list_of_codes_holding_a_pasted_text_is_not_kept_with_fin02s_answers(monkeypatch):
    """FIN-02's closest code is memoised for the next workbooks with the list of codes it was chosen
    from: not a list holding a pasted text (1,024 answers of 64 KiB each would stay for months)."""
    from acv_xl.checks.rules import financement

    _fresh(monkeypatch)
    raw = clean_raw()
    raw["T_Financeurs"].append(dict(_financeur(raw, "CDC"), code="X" * 20_000))
    raw["T_Financements"].append(dict(raw["T_Financements"][2], financeur="REGOIN"))
    financement._closest_memo.cache_clear()
    findings = [f for f in run_rules(build(raw)) if f.code == "FIN-02"]
    assert any("REGION" in f.suggestion for f in findings)
    assert financement._closest_memo.cache_info().currsize == 0
    _dump(build(clean_raw()))  # an ordinary list: kept
    raw = clean_raw()
    raw["T_Financements"].append(dict(raw["T_Financements"][2], financeur="REGOIN"))
    _dump(build(raw))
    assert financement._closest_memo.cache_info().currsize == 1


@pytest.mark.parametrize("attr", ["dispositif", "financeur"])
def test_lines_holding_pasted_texts_are_judged_and_not_kept(monkeypatch, attr):
    """What the rules decide of a line's texts (FCTVA named, a subsidy governed by R2334-24 or
    décret 2018-514) is kept between runs for short names only (`Memo`): texts pasted into a
    Financeur or Dispositif cell (here naming the FCTVA, FIN-10) are judged like any, then held by
    nothing once each run is over — an `lru_cache` per pair or triple kept up to 4,096 of them,
    32,767 characters each, for a server's life."""
    import gc
    import tracemalloc

    _fresh(monkeypatch)
    run_rules(build(clean_raw()))  # what any run keeps (the lists' facts…), before measuring
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(5):  # 5 workbooks, each its own pasted text of 30,000 characters
            raw = clean_raw()
            raw["T_Financements"][2][attr] = f"Remboursement FCTVA {i} " + "très " * 6_000
            assert any(f.code == "FIN-10" for f in run_rules(build(raw)))
        del raw
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 60_000, kept  # the 5 texts: ≈ 150 KB (≈ 8 KB kept otherwise: the first runs' own memos)


def test_memo_keeps_short_names_only_and_is_bounded():
    """`rules.Memo`: each tuple of names decided once and kept for the next runs, none holding a text
    longer than `MEMO_TEXT_MAX`; full, it forgets everything at once."""
    from acv_xl.contract.values import MEMO_TEXT_MAX

    calls = []
    memo = rules.Memo(lambda *args: calls.append(args) or len(calls), maxsize=3)
    assert memo["ETAT", None] == 1 and memo["ETAT", None] == 1 and calls == [("ETAT", None)]
    long = "x" * (MEMO_TEXT_MAX + 1)
    assert memo[long, "DETR"] == 2 and memo[long, "DETR"] == 3  # decided again, never kept
    assert ("ETAT", None) in memo and (long, "DETR") not in memo and len(memo) == 1
    assert (memo["a", "b"], memo["c", "d"]) == (4, 5) and len(memo) == 3
    memo["e", "f"]  # full: forgotten all at once, then this one kept
    assert list(memo) == [("e", "f")]


@pytest.mark.parametrize("kind, text, shown", [
    ("AMOUNT", "123 456 789 012 345 678 901 234 567 890,12 €", "123 456 789 012 345 678 901 234 567 890,12 €"),
    ("NUMBER", "1 234 567 890 123 456 789 012 345 678,9", "1 234 567 890 123 456 789 012 345 678,9"),
])
def test_the_number_a_message_suggests_is_the_one_typed_however_long(kind, text, shown):
    """A number typed as text is suggested back digit for digit: past 28 digits the default context
    rounded it (« …567 900,00 € : tapez 123456789012345678901234567900 », « …345 679 »)."""
    from acv_xl.contract.layout import Kind
    from acv_xl.contract.values import parse

    problem = parse(text, Kind[kind]).problem
    _, suggestion = rules.describe_problem("Montant (€)", Kind[kind], problem)
    assert shown in suggestion
    if kind == "AMOUNT":
        assert "tapez 123456789012345678901234567890,12 " in suggestion


def test_a_date_in_a_year_cell_is_asked_for_as_its_year():
    """01/01/2019 in « Année »: the suggestion said « par exemple 2025 »; the year meant is the date's."""
    from datetime import datetime

    from acv_xl.contract.layout import Kind
    from acv_xl.contract.values import parse

    problem = parse(datetime(2019, 1, 1), Kind.YEAR).problem
    message, suggestion = rules.describe_problem("Année", Kind.YEAR, problem)
    assert message == "« Année » n'est pas une année : « 01/01/2019 »."
    assert suggestion == "Saisissez l'année 2019 seule, comme un nombre."
    _, suggestion = rules.describe_problem("Année", Kind.YEAR, parse(2019.5, Kind.YEAR).problem)
    assert suggestion == "Saisissez une année sur quatre chiffres, par exemple 2025."


class _Undeclared(list):
    """A table a rule does not declare (`needs`, `optional`): reading it raises, which `run_rules` turns into STR-00."""

    def _read(self, *args, **kwargs):
        raise RuntimeError("table non déclarée")

    __iter__ = __len__ = __getitem__ = __contains__ = __bool__ = __reversed__ = _read


def _reading_variants():
    """Conventions whose findings walk the paths that read the most tables: the examples, the variants above, a
    public body's aid typed « Recette / cession » (FIN-11 then looks for the action's maître d'ouvrage), a fonds de
    concours from a commune of T_Communes (FIN-23 reads the communes), an ETAT subsidy the list declares (FIN-20)."""
    raws = list(_variants().values())
    raw = clean_raw()
    raw["T_Financements"][2].update(dispositif="Participation Région", nature="Recette / cession")
    raws.append(raw)
    raw = clean_raw()
    raw["T_Communes"].append({"code_insee": "62510", "commune": "Liévin", "role": "Commune associée"})
    raw["T_Financeurs"].append({"code": "LIEVIN", "nom": "Liévin", "categorie": "Public", "cibles": None,
                                "modalites": None, "contact": None})
    raw["T_Financements"].insert(3, {**raw["T_Financements"][2], "financeur": "LIEVIN", "dispositif": "Fonds de concours",
                                     "nature": "Subvention", "montant": 100_000})
    raws.append(raw)
    return [build(r) for r in raws] + [read_file(p) for p in sorted(EXEMPLES.glob("*.xlsx"))]


def test_every_table_a_rule_reads_is_declared():
    """FIN-11 read the financeurs' categories and the action's maître d'ouvrage, FIN-20 the financeurs and the list of
    dispositifs, FIN-23 the communes, none of which their `needs` said: `codes_within` (ACV_CONTROLE) and a workbook
    missing a table (STR-03/STR-04) trust that contract. Each rule is run with every table it does not declare made
    unreadable: none may read one."""
    from acv_xl.contract.model import ROW_MODELS

    convs = _reading_variants()
    undeclared = {}
    for r in rules.REGISTRY.values():
        if not r.needs:
            continue  # the structure's and the identity's rules, which read the named cells and the tables' shapes
        declared = {n.partition(".")[0] for n in r.needs + r.optional}
        for name, (_, attr) in ROW_MODELS.items():
            if name in declared:
                continue
            for conv in convs:
                poisoned = conv.model_copy(update={attr: _Undeclared(getattr(conv, attr))})
                if any(f.code == "STR-00" for f in run_rules(poisoned, codes=[r.code])):
                    undeclared.setdefault(r.code, []).append(name)
                    break
    assert undeclared == {}
