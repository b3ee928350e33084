"""The fingerprint of the data read (acv_empreinte)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from acv_xl.contract import layout
from acv_xl.checks.fingerprint import canonical, fingerprint
from acv_xl.contract.layout import Kind
from acv_xl.contract.model import ROW_MODELS
from acv_xl.contract.values import ExcelError

from conventions import build, clean_raw


def fp(mutate=None, row_offset=0):
    raw = clean_raw()
    if mutate:
        mutate(raw)
    return fingerprint(build(raw, row_offset=row_offset))


BASE = fp()


def test_same_data_same_fingerprint_and_it_is_sha256_hex():
    assert fp() == BASE
    assert len(BASE) == 64 and int(BASE, 16) >= 0


def test_moving_the_tables_keeps_the_fingerprint():
    assert fp(row_offset=7) == BASE


def test_status_cells_do_not_count():
    def m(r):
        r["names"].update(acv_statut="Validé", acv_date_validation=date(2024, 5, 1), acv_empreinte="abc")
    assert fp(m) == BASE


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, date):
        return date(value.year, value.month, 1 if value.day != 1 else 2)
    if value is None:
        return "x"
    return value + "x"


CASES = [("names", None, n.name) for n in layout.NAMED_CELLS if n.user_filled] + [
    (name, 0, c.attr) for name in ROW_MODELS for c in layout.TABLES_BY_NAME[name].columns]


@pytest.mark.parametrize("table,index,attr", CASES)
def test_any_value_change_changes_the_fingerprint(table, index, attr):
    def m(r):
        if table == "names":
            r["names"][attr] = _changed(r["names"].get(attr))
        else:
            r[table][index][attr] = _changed(r[table][index].get(attr))
    assert fp(m) != BASE


def test_row_order_counts_and_blank_rows_do_not():
    assert fp(lambda r: r["T_Actions"].reverse()) != BASE
    blank = {c.attr: None for c in layout.T_FINANCEMENTS.columns}
    assert fp(lambda r: r["T_Financements"].append(blank)) == BASE
    assert fp(lambda r: r["T_Financements"].append({**blank, "numero": ""})) == BASE


def test_reader_variants_of_the_same_cell_agree():
    # a number read as int, float or Decimal
    assert fp(lambda r: r["T_Actions"][0].update(cout_total=1_000_000.0)) == BASE
    assert fp(lambda r: r["T_Actions"][0].update(cout_total=Decimal("1000000.00"))) == BASE
    # a date read as date, datetime at midnight, Excel serial number, Office.js ISO string
    d = clean_raw()["T_Actions"][0]["date_debut"]
    assert fp(lambda r: r["T_Actions"][0].update(date_debut=datetime(d.year, d.month, d.day))) == BASE
    serial = (d - date(1899, 12, 30)).days
    assert fp(lambda r: r["T_Actions"][0].update(date_debut=float(serial))) == BASE
    assert fp(lambda r: r["T_Actions"][0].update(date_debut=d.isoformat() + "T00:00:00.000Z")) == BASE
    # an empty cell read as None or ""
    assert fp(lambda r: r["T_Actions"][0].update(description=None)) == fp(lambda r: r["T_Actions"][0].update(description=""))


def test_distinct_values_never_collide():
    kinds = [canonical(v) for v in (None, "", 0, "0", False, ExcelError("#N/A"), "#N/A", 12, "12", date(2024, 1, 1),
                                    "2024-01-01")]
    assert kinds[0] == kinds[1] is None  # blank is blank, whichever reader
    rest = [repr(k) for k in kinds[2:]]
    assert len(set(rest)) == len(rest)
    assert canonical(12) == canonical(12.0) == canonical(Decimal("12.00"))
    assert canonical(0.1) == ["num", "0.1"] and canonical(1e21) == ["num", "1000000000000000000000"]
    assert canonical(45000, Kind.DATE) == canonical(date(2023, 3, 15), Kind.DATE)
    assert canonical(45000) != canonical(date(2023, 3, 15))  # outside a date column a number stays a number


def test_text_number_differs_from_number():
    assert fp(lambda r: r["T_Actions"][0].update(cout_total="1000000")) != BASE


def test_date_with_time_agrees_across_serial_and_datetime_to_the_second():
    dt = datetime(2024, 3, 5, 14, 30, 15)
    serial = (dt - datetime(1899, 12, 30)).total_seconds() / 86400
    assert canonical(serial, Kind.DATE) == canonical(dt, Kind.DATE) == ["datetime", "2024-03-05T14:30:15"]
    assert canonical(datetime(2024, 3, 5, 14, 30, 15, 999_000), Kind.DATE) == ["datetime", "2024-03-05T14:30:16"]
    assert canonical(datetime(2024, 3, 5, 23, 59, 59, 700_000)) == ["date", "2024-03-06"]


def test_fast_serialisation_is_the_reference_json_on_every_example():
    """`canonical_json` writes the JSON text directly (speed); it must be byte for byte the plain
    `json.dumps` of `canonical_data`, the readable reference form of the fingerprint."""
    import json

    import hashlib

    from acv_xl.outputs.examples import example_conventions
    from acv_xl.checks.fingerprint import canonical_data, canonical_json, fingerprint

    convs = list(example_conventions().values()) + [build(clean_raw())]
    for conv in convs:
        reference = json.dumps(canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert canonical_json(conv) == reference
        # the fingerprint hashes the text piece by piece: the digest of the whole text
        assert fingerprint(conv) == hashlib.sha256(reference.encode("utf-8")).hexdigest()


# Fingerprints stored in workbooks validated by earlier versions: a change of the serialisation (or
# of its fast path) must never move them, or every « validé » workbook would turn « modifié ». The
# values were computed by the reference serialisation (`canonical_data` + `json.dumps`). The data is
# written out here, so that a change of a shared test helper cannot silently move it.
def _stored_case_raw() -> dict:
    from datetime import timedelta, timezone

    from acv_xl.contract.values import NoCachedValue

    return {
        "names": {"acv_version_modele": "2026.1", "acv_programme": "ACV 2", "acv_id": "ACV042",
                  "acv_libelle": "Ville d'essai « test »", "acv_departement": 62, "acv_siren_epci": 200033579.0,
                  "acv_date_convention": datetime(2023, 6, 15), "acv_date_fin_initialisation": "2024-06-30T00:00:00",
                  "acv_date_fin_deploiement": 46387.0, "acv_statut": "Validé", "acv_empreinte": "abc"},
        "T_Actions": [
            {"numero": "1.1", "intitule": "Réhabilitation\u00a0îlot \"Gare\" \\ nord", "axe": "Axe 1", "cout_total": 1250000.5,
             "depense_subventionnable": 1000000, "date_debut": date(2024, 1, 15), "date_fin": datetime(2026, 6, 30, 14, 30, 15),
             "maturite": "Mature", "type_mo": "Commune", "base": "HT", "cosignataires": "ETAT;CDC"},
            {"numero": 1.2, "intitule": "  ", "axe": 3.0, "cout_total": "1 000 €", "depense_subventionnable": -0.0,
             "date_debut": 45000.5, "date_fin": "31/02/2024", "maturite": ExcelError("#REF!"), "base": True},
            {"numero": None, "intitule": None},  # blank row: left out
            {"numero": "2.1", "intitule": "#REF!", "cout_total": 1e15, "depense_subventionnable": 0.1 + 0.2,
             "date_debut": datetime(2024, 3, 5, 14, 30, tzinfo=timezone(timedelta(hours=1))),
             "maturite": NoCachedValue("=A1"), "axe": 1e-05, "derogation": 12345678901234567890},
        ],
        "T_Financements": [
            {"numero": "1.1", "financeur": "ETAT", "dispositif": "DSIL", "nature": "Subvention", "annee": 2024.0,
             "montant": 250000.0, "statut": "Acquis", "date_demande": date(2023, 12, 1)},
            {"numero": "1.1", "financeur": "COMMUNE", "nature": "Autofinancement", "annee": 2025, "montant": 1000000.5,
             "statut": "Prévisionnel", "commentaire": "hors FCTVA"},
            {"numero": "2.1", "financeur": "ETAT", "montant": 2.5e-07, "annee": "2025", "statut": "Refusé",
             "date_demande": "2024-03-05T00:00:00"},
        ],
        "T_Financeurs": [{"code": "ETAT", "nom": "État", "categorie": "Public"},
                         {"code": "COMMUNE", "nom": "Commune", "categorie": "Public"}],
        "T_Gouvernance": [{"instance": "Comité de projet", "organisme": "Banque des Territoires", "college": "Partenaire financeur"}],
    }


STORED_FINGERPRINTS = {
    "typed": "f232045fb08ababc900c961092f155b0615c648d62cce4a7082f27c0aa4e002c",
    # built from the reference list of funders (`layout.FINANCEURS`): moves when that list grows
    "clean": "9cd83417fd1281cc754429e71c9f5268a8b27803eb191b6e1060c31f7e75255f",
}


def test_stored_fingerprints_do_not_move():
    clean = clean_raw()  # as it was when the fingerprint was stored (the data changed, not the algorithm)
    clean["names"]["acv_id"] = "ACV001"
    clean["names"]["acv_version_modele"] = "2026.1"
    clean["T_Financements"][1]["dispositif"] = "DETR"
    convs = {"typed": build(_stored_case_raw()), "clean": build(clean)}
    for name, conv in convs.items():
        assert fingerprint(conv) == STORED_FINGERPRINTS[name], name
        assert fingerprint(conv) == STORED_FINGERPRINTS[name], name  # again, every value seen before


def test_values_seen_before_keep_their_type():
    """The serialisation remembers values already written: equal values of another type must not
    take their text (1 and True, the text « #REF! » and the error #REF!, 2 and 2.0, an instant in
    two time zones)."""
    from datetime import timedelta, timezone

    from acv_xl.checks.fingerprint import canonical_data, canonical_json
    import json

    variants = ["#REF!", ExcelError("#REF!"), 1, True, 1.0, 2, 2.0, 0, False, -0.0, 10**16 + 1, float(10**16 + 1),
                datetime(2024, 3, 5, 14, 30, tzinfo=timezone.utc),
                datetime(2024, 3, 5, 15, 30, tzinfo=timezone(timedelta(hours=1))),
                datetime(2024, 3, 5, 14, 30), date(2024, 3, 5), datetime(2024, 3, 5), "2024-03-05T00:00:00", 45356]
    for attr in ("intitule", "date_debut"):  # a text column and a date column
        for _ in range(2):  # the second time, every value has been seen
            for v in variants:
                raw = clean_raw()
                raw["T_Actions"][0][attr] = v
                conv = build(raw)
                reference = json.dumps(canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                assert canonical_json(conv) == reference, (attr, v)


def test_a_column_met_for_the_first_time_is_written_as_the_reference(monkeypatch):
    """A column's distinct unseen values are encoded once each (`_encode_unseen`, texts, numbers and dates
    written in C): every row still gets
    its own value's text — equal instants in two time zones, -0.0 and 0.0, long and repeated texts, a
    column of one type or of several (1200 and 1200.5), with nothing remembered before, then with all of it."""
    from datetime import timedelta, timezone

    import itertools
    import json

    from acv_xl.checks import fingerprint as fpm

    utc, plus1 = timezone.utc, timezone(timedelta(hours=1))
    columns = {
        "intitule": ["a", "b", "a", "x" * 300, "x" * 300, "", "  ", "b"],
        "date_debut": [datetime(2024, 3, 5, 14, 30, tzinfo=utc), datetime(2024, 3, 5, 15, 30, tzinfo=plus1),
                       datetime(2024, 3, 5, 14, 30, tzinfo=utc), datetime(2024, 3, 5, 15, 30, tzinfo=plus1)],
        "date_fin": [datetime(2024, 3, 5, 14, 30), datetime(2024, 3, 5), datetime(2024, 3, 5, 14, 30, 0, 600_000),
                     datetime(2024, 3, 5, 14, 30), datetime(2024, 3, 5, 23, 59, 59, 700_000)],
        "cout_total": [0.0, -0.0, 1.5, 1e15, 1e16, 2.675, 1.5, 0.1 + 0.2, 1e-05],
        # ints and floats (as Office.js sends amounts), equal values of both types among them
        "depense_subventionnable": [3, 3.0, 1e16, 10**16, 1.2345678901234568e+20, 123456789012345683968, 0, -0.0, 2.5],
        "axe": [1, 2, 1, 10**16 + 1, -3, 2],
        "base": ["HT", 1, True, "HT", 1.0, None, ExcelError("#REF!"), "#REF!"],  # several types
    }
    # dates, and texts and numbers in date columns (a serial number, an ISO text: dates too)
    dates = {"date_debut": [date(2024, 3, 5), date(2024, 3, 5), date(2025, 1, 31)], "date_fin": [45356, 45357, 45356, 7],
             "date_signature": ["2024-03-05T00:00:00", "2024-03-05", "", "pas une date"],
             "intitule": ["é « x »\n\"", "\u00e9", "\\", "a" * 201, "a" * 200]}
    for memory in ("_TEXTS", "_DATE_TEXTS"):
        monkeypatch.setattr(fpm, memory, {})
    for case in (columns, dates):
        raw = clean_raw()
        first = raw["T_Actions"][0]
        raw["T_Actions"] = [dict(first, numero=f"1.{i}") for i in range(max(map(len, case.values())))]
        for attr, values in case.items():  # every row: a column of one type stays of one type
            for row, v in zip(raw["T_Actions"], itertools.cycle(values)):
                row[attr] = v
        conv = build(raw)
        reference = json.dumps(fpm.canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert fpm.canonical_json(conv) == reference
        assert fpm.canonical_json(conv) == reference  # every value seen before


def test_the_bounds_of_the_remembered_values_change_nothing(monkeypatch):
    """Values remembered or not (the memory is bounded: emptied when full, long texts not kept), the
    text written is the same."""
    import json

    from acv_xl.checks import fingerprint as fpm
    from acv_xl.outputs.examples import example_conventions

    monkeypatch.setattr(fpm, "_MAX_TEXTS", 5)
    monkeypatch.setattr(fpm, "_MAX_LENGTH", 3)
    for conv in list(example_conventions().values())[:3] + [build(_stored_case_raw())]:
        reference = json.dumps(fpm.canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert fpm.canonical_json(conv) == reference
        assert fpm.canonical_json(conv) == reference  # with what the first pass left remembered


@pytest.mark.parametrize("few_rows", [0, 10_000])  # column by column, and in one pass
def test_another_request_emptying_the_remembered_values_midway_changes_nothing(monkeypatch, few_rows):
    """`acv-xl serveur` validates in a pool of threads sharing the memory of written values: another
    request may empty it (its bound reached) between two looks of this one, e.g. after « is there a
    table of this type? » and before « its text for this value ». The text written stays the reference
    (no KeyError: a « Valider » turned into an « erreur inattendue »)."""
    import json

    from acv_xl.checks import fingerprint as fpm

    class EmptiedByAnotherThread(dict):
        """Answers « yes, a table of this type », then another thread empties the memory."""

        def __contains__(self, key):
            found = super().__contains__(key)
            self.clear()
            return found

    raw = clean_raw()
    first = raw["T_Actions"][0]
    raw["T_Actions"] = [dict(first, numero=f"1.{i}", intitule=v)
                        for i, v in enumerate(["HT", 1, "HT", 2.5, None, "TTC", 1])]  # a column of several types
    conv = build(raw)
    reference = json.dumps(fpm.canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    monkeypatch.setattr(fpm, "_FEW_ROWS", few_rows)
    for memory in ("_TEXTS", "_DATE_TEXTS"):
        monkeypatch.setattr(fpm, memory, {})
    assert fpm.canonical_json(conv) == reference  # every value remembered
    for memory in ("_TEXTS", "_DATE_TEXTS"):
        monkeypatch.setattr(fpm, memory, EmptiedByAnotherThread(getattr(fpm, memory)))
    assert fpm.canonical_json(conv) == reference


def test_another_request_adding_a_type_while_this_one_counts_the_remembered_values(monkeypatch):
    """Counting the remembered values (their bound) walks the shared memory: another server request
    adding a type to it meanwhile made the count raise « dictionary changed size during iteration »,
    and the « Valider » end in STR-00 (seen with six threads). The memory is then treated as full
    (emptied), and the text written stays the reference."""
    import json

    from acv_xl.checks import fingerprint as fpm

    class GrowsWhileCounted(dict):
        def values(self):
            for v in super().values():
                self.setdefault(object, {None: "null"})  # another thread's new type, mid-count
                yield v

    conv = build(clean_raw())
    reference = json.dumps(fpm.canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert fpm.canonical_json(conv) == reference  # every value remembered: the memory has types
    for memory in ("_TEXTS", "_DATE_TEXTS"):
        monkeypatch.setattr(fpm, memory, GrowsWhileCounted(getattr(fpm, memory)))
    assert fpm.canonical_json(conv) == reference


def test_the_template_lists_kept_whole_never_lend_their_text_to_other_values(monkeypatch):
    """The financeurs and dispositifs lists are kept whole by exact values and types
    (`_LIST_TEXTS`): a list met again gives the same text, and a list whose values are equal but
    of other types (1, 1.0, True; a text and the error of the same text; an instant in two time
    zones, never kept) or changed in one cell gives its own, as the reference serialisation."""
    from datetime import timedelta, timezone
    import json

    from acv_xl.checks import fingerprint as fpm

    monkeypatch.setattr(fpm, "_LIST_TEXTS", {})
    utc, plus1 = timezone.utc, timezone(timedelta(hours=1))
    variants = [1, 1.0, True, "#REF!", ExcelError("#REF!"), "1", None,
                datetime(2024, 3, 5, 14, 30, tzinfo=utc), datetime(2024, 3, 5, 15, 30, tzinfo=plus1)]
    seen = set()
    for _ in range(2):  # the second time, every list is kept already (but the time-zone ones)
        for v in variants:
            raw = clean_raw()
            raw["T_Financeurs"][0]["nom"] = v
            raw["T_Dispositifs"][-1]["dispositif"] = v
            conv = build(raw)
            reference = json.dumps(fpm.canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            assert fpm.canonical_json(conv) == reference, v
            seen.add(fpm.fingerprint(conv))
    assert len(seen) == len(variants) - 1  # only 1 and 1.0, the same number, agree
    assert fpm._LIST_TEXTS  # the lists were kept
    assert all(datetime not in key[2] for key in fpm._LIST_TEXTS)  # time-zone-aware: never kept


@pytest.mark.parametrize("few_rows", [0, 10_000])
def test_long_and_short_tables_are_looked_up_alike(monkeypatch, few_rows):
    """A table of a few rows is looked up in one pass, a long one column by column (`_FEW_ROWS`):
    either way, with nothing remembered and then with everything, the text is the reference's."""
    import json

    from acv_xl.checks import fingerprint as fpm
    from acv_xl.outputs.examples import example_conventions

    monkeypatch.setattr(fpm, "_FEW_ROWS", few_rows)
    for memory in ("_TEXTS", "_DATE_TEXTS", "_LIST_TEXTS"):
        monkeypatch.setattr(fpm, memory, {})
    raw = clean_raw()
    raw["T_Actions"][0]["base"] = 1  # a column of several types
    raw["T_Actions"][1]["base"] = ExcelError("#REF!")
    for conv in list(example_conventions().values()) + [build(raw), build(_stored_case_raw())]:
        reference = json.dumps(fpm.canonical_data(conv), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert fpm.canonical_json(conv) == reference
        assert fpm.canonical_json(conv) == reference  # every value seen before


def test_a_list_holding_a_pasted_text_is_not_kept_between_runs():
    """The template's lists are kept between runs (`acv-xl serveur` runs for months): a list holding
    a long pasted text is not, in the fingerprint's memory nor in the reader's."""
    from acv_xl.checks import fingerprint as fpm
    from acv_xl.contract import layout
    from acv_xl.reading import read as rd

    short, pasted = ["FEDER", "Subvention"], ["FEDER", "x" * (64 * 1024)]
    assert fpm._list_key(("a", "b"), (), short) is not None
    assert fpm._list_key(("a", "b"), (), pasted) is None
    args = (layout.T_DISPOSITIFS, ("financeur", "dispositif"), ("A", "B"), "Dispositifs", [2])
    assert rd._list_key(*args, [tuple(short)]) is not None  # a list table's place…
    assert rd._texts_or_blanks([tuple(short)], bounded=True)  # …kept with its rows
    assert not rd._texts_or_blanks([tuple(pasted)], bounded=True)  # not with a pasted text



@pytest.mark.parametrize("rows", [3, 60])  # a few rows (looked up in one pass), a long table (by column)
def test_a_blank_is_null_even_when_another_request_emptied_the_memory(monkeypatch, rows):
    """`acv-xl serveur` fingerprints several workbooks at once and the memory of written values is
    emptied when full, by any request: a blank looked up there while another request had just emptied
    it was an unseen value of its column's type — a blank of a year column written « ["num","None"] »
    (a fingerprint wrong at random: « modifié depuis la validation »), of a column of date-times a
    crash (STR-00). A table's text, the memory emptied just before, equals its text with the memory
    whole; and emptying keeps the blank's entry."""
    from acv_xl.checks import fingerprint as fp

    cols = (("annee", Kind.YEAR), ("date", Kind.DATE), ("quand", Kind.TEXT), ("nom", Kind.TEXT),
            ("montant", Kind.AMOUNT))
    filled = {"annee": 2024, "date": date(2025, 3, 1), "quand": datetime(2025, 3, 1, 9, 30), "nom": "Arras",
              "montant": 1250.5}
    raws = [dict(filled, annee=2024 + i) if i % 2 else dict.fromkeys(filled) for i in range(rows)]
    for family in (fp._TEXTS, fp._DATE_TEXTS):  # given back as they were after the test
        monkeypatch.setattr(fp, "_TEXTS" if family is fp._TEXTS else "_DATE_TEXTS", family)
        for t in list(family):
            monkeypatch.setitem(family, t, family[t])
    fp._known(fp._TEXTS, type(None))
    fp._known(fp._DATE_TEXTS, type(None))
    whole = fp._rows_json(raws, cols)
    assert '["num","None"]' not in whole and "null" in whole
    for family in (fp._TEXTS, fp._DATE_TEXTS):  # what another request's emptying did before the fix
        family.clear()
    assert fp._rows_json(raws, cols) == whole
    fp._TEXTS[int] = {1: '["num","1"]'}
    fp._known(fp._TEXTS, type(None))
    fp._forget(fp._TEXTS)  # what emptying does now: the blank's entry stays
    assert fp._TEXTS == {type(None): {None: "null"}}
