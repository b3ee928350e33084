from datetime import date, datetime
from decimal import Decimal

import pytest

from acv_xl.contract import values as v
from acv_xl.contract.layout import Kind


@pytest.mark.parametrize("text, expected", [
    ("12 000 €", "12000"), ("1 234,50", "1234.50"), ("1.234,5", "1234.5"), ("12000", "12000"),
    ("1\u202f234\u00a0567,89 €", "1234567.89"), ("-5,5", "-5.5"), ("1,234.50", "1234.50"),
])
def test_number_text(text, expected):
    assert v.parse_number_text(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["douze mille", "", "12 000 € HT env.", "1/2"])
def test_not_number_text(text):
    assert v.parse_number_text(text) is None


def test_amount_text_is_a_problem_with_suggestion():
    p = v.parse(" 12 000 € ", Kind.AMOUNT)
    assert p.value is None and p.problem.kind == "texte_nombre" and p.problem.suggestion == Decimal("12000.00")


def test_amount_rounded_to_cent():
    assert v.parse(1234.565, Kind.AMOUNT).value == Decimal("1234.57")
    assert v.parse(0.1 + 0.2, Kind.AMOUNT).value == Decimal("0.30")


def test_errors_and_missing_cached_values():
    assert v.parse(v.ExcelError("#REF!"), Kind.AMOUNT).problem.kind == "erreur_excel"
    assert v.parse(v.NoCachedValue("=A1"), Kind.TEXT).problem.kind == "formule_sans_valeur"


def test_dates():
    assert v.parse(datetime(2024, 3, 1, 0, 0), Kind.DATE).value == date(2024, 3, 1)
    assert v.parse(45293.0, Kind.DATE).value == date(2024, 1, 2)
    p = v.parse("02/01/2024", Kind.DATE)
    assert p.value is None and p.problem.kind == "pas_date" and p.problem.suggestion == date(2024, 1, 2)


@pytest.mark.parametrize("raw", [2018, 2018.0, 1900, 2100])
def test_a_year_alone_in_a_date_cell_is_not_a_date(raw):
    """2018 typed in a « Standard » date cell shows 2018: read as a serial it was 10/07/1905,
    silently (a convention signed in 1905 validated)."""
    p = v.parse(raw, Kind.DATE)
    assert p.value is None and p.problem.kind == "pas_date" and p.problem.raw == raw


@pytest.mark.parametrize("raw, expected", [(1899, date(1905, 3, 13)), (2100.5, date(1905, 9, 30)),
                                           (43264, date(2018, 6, 13))])
def test_a_serial_that_is_no_year_stays_a_date(raw, expected):
    assert v.parse(raw, Kind.DATE).value == expected


@pytest.mark.parametrize("serial", [1, 1.5, 2, 31, 58, 59, 60, 60.5, 61, 62])
def test_a_serial_before_march_1900_is_the_date_excel_shows(serial, tmp_path_factory):
    """Excel counts a 29/02/1900 that never was (serial 60): serial 1 is 01/01/1900. An unformatted 1 in a
    date column was read 31/12/1899, where the same serial in a date cell reads 01/01/1900 (calamine)."""
    import openpyxl
    import python_calamine

    path = tmp_path_factory.mktemp("serials") / "serial.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"].value, wb.active["A1"].number_format = serial, "dd/mm/yyyy"
    wb.save(path)
    cell = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[0][0]
    as_cell = cell.date() if isinstance(cell, datetime) else cell
    assert v.parse(serial, Kind.DATE).value == as_cell
    assert v.parse(float(serial), Kind.DATE).value == as_cell


@pytest.mark.parametrize("text, expected", [
    ("1899-12-31T00:00:00.000Z", datetime(1900, 1, 1)), ("1900-02-27T12:00:00.000Z", datetime(1900, 2, 28, 12)),
    ("1900-02-28T00:00:00.000Z", datetime(1900, 2, 28)), ("1900-03-01T00:00:00.000Z", datetime(1900, 3, 1)),
])
def test_the_add_ins_dates_before_march_1900_are_the_dates_excel_shows(text, expected):
    """The add-in counts from 30/12/1899, without Excel's 29/02/1900: serial 1 (01/01/1900) comes a day early."""
    assert v.officejs_date(text) == expected


@pytest.mark.parametrize("raw, n", [
    (3, 3), (3.0, 3), ("3", 3), ("Axe 3", 3), ("axe 3", 3),
    ("Développer l'accessibilité, la mobilité et les connexions", 3),
    ("Fournir l'accès aux équipements, aux services publics, à l'offre culturelle et de loisirs", 5),
    ("Axe 2 — Favoriser un développement économique et commercial équilibré", 2),
])
def test_axes_accepted(raw, n):
    assert v.parse_axe(raw).value == n


@pytest.mark.parametrize("raw", [6, 0, "Axe 7", "Habitat", 2.5, True])
def test_axes_refused(raw):
    p = v.parse_axe(raw)
    assert p.value is None and p.problem.kind == "pas_axe"


def test_choice_suggests_closest():
    p = v.parse("refuse", Kind.CHOICE, ("Acquis", "Refusé"))
    assert p.value is None and p.problem.suggestion == "Refusé"


def test_year():
    assert v.parse(2024.0, Kind.YEAR).value == 2024
    assert v.parse("2024", Kind.YEAR).problem.kind == "texte_nombre"
    assert v.parse(20245, Kind.YEAR).problem.kind == "pas_annee"


def test_french_formats():
    assert v.fmt_euros(Decimal("1234567.891")) == "1 234 567,89 €"
    assert v.fmt_euros(0) == "0,00 €"
    assert v.fmt_euros(-50000) == "-50 000,00 €"
    assert v.fmt_date(date(2026, 12, 31)) == "31/12/2026"
    assert v.fmt_percent(Decimal("0.2")) == "20,0 %"


def test_one_rule_for_percentages_and_never_against_the_verdict():
    """One or two decimals (the cells' `0.0# %` too); more only when rounding would put the figure on a
    threshold it is not on, or on its other side."""
    from acv_xl.outputs.formats import FMT_PERCENT

    assert FMT_PERCENT.endswith("0.0# %")  # cells: one or two decimals, as sentences
    assert [v.fmt_percent(Decimal(x)) for x in ("0.8", "0.795", "0.7995", "1", "0.123456")] == [
        "80,0 %", "79,5 %", "79,95 %", "100,0 %", "12,35 %"]
    cap = (Decimal("0.8"),)
    assert v.fmt_percent(Decimal("0.79996"), cap) == "79,996 %"  # not « 80,0 % » under an 80 % cap
    assert v.fmt_percent(Decimal("0.800004"), cap) == "80,0004 %"  # not « 80,0 % » over it
    assert v.fmt_percent(Decimal("0.8"), cap) == "80,0 %" and v.fmt_percent(Decimal("0.79"), cap) == "79,0 %"
    assert v.fmt_percent(Decimal("0.0000001"), (0, 1)) == "0,00001 %"  # something, never « 0,0 % »
    for ratio in (Decimal("0.19999"), Decimal("0.099996"), Decimal("0.2"), Decimal("0.200001"), Decimal("0.5")):
        for seuil in (Decimal("0.1"), Decimal("0.2"), Decimal("0.5")):
            shown = Decimal(v.fmt_percent(ratio, (seuil,))[:-2].replace(",", ".")) / 100
            assert (shown > seuil) == (ratio > seuil) and (shown == seuil) == (ratio == seuil), (ratio, seuil)
    # a cell beside its verdict holds a ratio its two decimals show on the right side
    seuils = (Decimal("0.5"), Decimal("0.25"))
    assert v.ratio_for_cell(Decimal("0.49996"), seuils) == Decimal("0.4999")
    assert v.ratio_for_cell(Decimal("0.24999"), seuils) == Decimal("0.2499")
    assert v.ratio_for_cell(Decimal("0.50004"), seuils) == Decimal("0.5001")
    assert v.ratio_for_cell(0.9932152280437241, seuils) == 0.9932152280437241  # elsewhere: the ratio itself
    assert v.ratio_for_cell(None, seuils) is None


def test_a_percentage_of_a_crafted_huge_amount_is_written_whole():
    """1E+300 € of DSIL on a 1 000 000 € action: FIN-07's ratio of 1E+296 (1E+298 %) passed the 28 digits of
    the default context, and the rule crashed into STR-00 (« n'a pas pu s'exécuter »)."""
    shown = v.fmt_percent(Decimal("1E+296"), (Decimal("0.8"),))
    assert shown == "10" + " 000" * 99 + ",0 %"
    assert v.fmt_number(Decimal("1E+40"), 1) == "10" + " 000" * 13 + ",0"  # its decimals kept too


def test_negative_numbers_in_text_use_the_sign_a_cell_prints_and_copy_back_as_numbers():
    """The hyphen-minus, as Excel and LibreOffice print a negative cell (and the annex's PDF): a figure
    copied from a message into a cell stays a number, for Excel and for acv-xl's own reader."""
    assert v.MINUS == "-"
    for x in (Decimal("-50000"), Decimal("-1234567.89"), Decimal("-0.5")):
        text = v.fmt_euros(x)
        assert text.startswith("-") and "\u2212" not in text
        assert v.parse_number_text(text) == x
    assert v.fmt_number(Decimal("-1234.5"), 1) == "-1 234,5"
    assert v.fmt_number(-0.001) == "0" and v.fmt_euros(Decimal("-0.001")) == "0,00 €"  # no « -0 »
    # a gap in a sentence reads as its cell does (`FMT_EUROS_ECART`: +…;-…;0)
    from acv_xl.outputs.comparison_report import fmt_ecart

    assert [fmt_ecart(Decimal(x)) for x in ("1000", "-1000", "0", "0.001")] == [
        "+1 000,00 €", "-1 000,00 €", "0,00 €", "0,00 €"]


def test_memos_of_texts_keep_names_not_long_texts():
    """`fold`, `dispositifs.normalise` and `famille` are memoised for the whole life of `acv-xl
    serveur`: names and list values are kept, a long text (a comment pasted into a list column) is
    folded as well but not kept — 8,192 texts of 30,000 characters and their results would hold
    ≈ 0.7 GB once the requests that brought them are gone."""
    import tracemalloc

    from acv_xl.contract import dispositifs
    from acv_xl.contract.values import fold

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        longs = [f"Dotation de soutien à l'investissement local n° {i} " * 400 for i in range(100)]
        got = [(fold(t), dispositifs.normalise(t), dispositifs.famille(t)) for t in longs]
        assert [g[0] for g in got[:2]] == [t.lower().replace("à", "a").strip() for t in longs[:2]]
        assert {g[2] for g in got} == {"DSIL"}  # folded, normalised and classified all the same
        del longs, got  # the requests are over
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1024 * 1024, f"{kept / 1e6:.1f} MB"
    fold.cache_clear()
    name = "Dotation de Soutien à l'Investissement Local"
    assert fold(name) is fold(name) == "dotation de soutien a l'investissement local"  # a name: kept


@pytest.mark.parametrize("text", [
    "123456789012345678901234567890.126", "-123456789012345678901234567890.125", "1E+27", "1E+28",
    "9.99999999999999E+307", "-1.7976931348623157E+308", "0.000000000000000000000000000001",
    "-0", "-0.004", "12345678901234567890123456.785",
])
def test_every_figure_is_exact_however_many_digits_it_has(text):
    """The default context's 28 digits rounded the displayed figure of a larger amount (« …567 900,00 € »
    for 123 456 789 012 345 678 901 234 567 890,13 €, typed as text in an amount cell and shown as a
    suggestion) and refused a percentage of one (InvalidOperation); each shown figure read back is the
    value rounded half up, whatever its size, and never « -0 »."""
    from decimal import ROUND_HALF_UP, Context

    d = Decimal(text)
    exact = Context(prec=400, rounding=ROUND_HALF_UP)

    def back(shown: str, suffix: str) -> Decimal:
        assert shown.endswith(suffix)
        return Decimal(shown.removesuffix(suffix).replace(" ", "").replace(",", "."))

    assert back(v.fmt_euros(d), " €") == d.quantize(Decimal("0.01"), context=exact)
    assert back(v.fmt_number(d, 0), "") == d.quantize(Decimal(1), context=exact)
    assert back(v.fmt_number(d, 3), "") == d.quantize(Decimal("0.001"), context=exact)
    pct = back(v.fmt_percent(d), " %")
    assert pct == exact.multiply(d, 100).quantize(Decimal(10) ** pct.as_tuple().exponent, context=exact)
    for shown in (v.fmt_euros(d), v.fmt_number(d), v.fmt_number(d, 3), v.fmt_percent(d)):
        assert not shown.startswith("-") or d < 0 and any(c in "123456789" for c in shown)


def test_a_percentage_never_shows_a_tiny_ratio_on_its_threshold():
    """However small, a ratio that is not on a threshold is not shown on it (the loop stopped at 29 decimals)."""
    assert v.fmt_percent(Decimal("1E-40"), (0,)) == "0," + "0" * 37 + "1 %"
    assert v.ratio_for_cell(Decimal("1E+30"), (Decimal("0.5"),)) == Decimal("1E+30")


@pytest.mark.parametrize("x", [float("nan"), float("inf"), Decimal("-Infinity"), Decimal("NaN")])
def test_a_number_that_is_not_finite_is_never_printed(x):
    """« NaN » or « Infinity » is no French figure; reading refuses them (`parse_decimal`: #NUM!), so
    one reaching a formatter is a bug that must show, not a word in a report."""
    assert v.parse_decimal(x if isinstance(x, float) else float(x), True).problem.kind == "erreur_excel"
    for fmt in (v.fmt_euros, v.fmt_number, v.fmt_percent):
        with pytest.raises(ValueError):
            fmt(x)


def test_a_long_text_holding_half_an_emoji_is_cut_never_an_error():
    """Half an emoji (a lone surrogate: Excel cut a pasted text between the two, and the button reads it
    so) in a text past half a cell: the strict UTF-16 codec of `fit_cell` (the button's Contrôles, the
    annotated copy) and of the consolidation's cut raised UnicodeEncodeError. Both cut it as Excel counts."""
    from acv_xl.contract.values import EXCEL_CELL_CHARS, excel_length, excel_text
    from acv_xl.outputs.formats import fit_cell

    text = "a" * 20_000 + "\ud83d" + "😀" * 10_000
    for cut, mark in ((fit_cell(text), "…"), (excel_text(text), "😀")):
        assert excel_length(cut) <= EXCEL_CELL_CHARS and cut.endswith(mark) and cut.startswith("a" * 20_000)
    assert fit_cell("abc") == excel_text("abc") == "abc"


def test_a_percent_cell_never_shows_its_ratio_across_a_threshold_near_or_far():
    # every ratio from 0,4 % below to 0,4 % above each threshold, by steps of 0,0001 %, and a float
    # of each: what the cell's four places show is on the ratio's side of every threshold
    from decimal import ROUND_HALF_UP

    seuils = (Decimal("0.5"), Decimal("0.25"))
    side = lambda a, b: (a > b) - (a < b)  # noqa: E731
    for s in seuils:
        for k in range(-4000, 4001):
            for ratio in (s + Decimal(k) / 1_000_000, float(s + Decimal(k) / 1_000_000)):
                cell = v.ratio_for_cell(ratio, seuils)
                shown = Decimal(str(cell)).quantize(v.PERCENT_CELL_PLACES, ROUND_HALF_UP)
                exact = Decimal(str(ratio))
                assert all(side(shown, t) == side(exact, t) for t in seuils), (ratio, cell)
                if all(abs(exact - t) > Decimal("0.0001") for t in seuils):
                    assert cell == ratio  # far from them: the ratio itself
    with pytest.raises(ValueError):
        v.ratio_for_cell(float("nan"), seuils)  # a bug to say, never a figure


@pytest.mark.parametrize("raw, text", [(62.0, "62"), (1e300, "1E+300"), (-1e20, "-1E+20"), (999999999999999.0, "999999999999999")])
def test_a_whole_number_in_a_text_or_choice_cell_reads_as_excel_shows_it(raw, text):
    """1E+300 in a Statut, a N° action or the département cell read as the float's 301 digits, which every
    message then quoted (« l'action « 10000000000000000525047… » n'existe pas »): Excel shows « 1E+300 »."""
    assert v.parse_text(raw).value == text
    assert v.parse_choice(raw, ("Acquis",)).problem.raw == text  # quoted so by « n'est pas une valeur de la liste »


def test_a_huge_number_in_identity_and_plan_cells_is_quoted_as_excel_shows_it(tmp_path):
    """The same, as `valider` says it: the département cell, a N° action and a Statut holding 1E+300."""
    import openpyxl

    from acv_xl.checks.validate import validate_file
    from acv_xl.contract import layout

    exemples = __import__("pathlib").Path(__file__).resolve().parents[1] / "workbooks" / "exemples"
    wb = openpyxl.load_workbook(exemples / "arras.xlsx")
    nc = layout.NAMED_BY_NAME["acv_departement"]
    wb[nc.sheet][nc.cell] = 1e300
    ws = wb[layout.T_FINANCEMENTS.sheet]
    ws["A5"], ws["G7"] = 1e300, 1e300  # N° action, Statut
    wb.save(tmp_path / "enorme.xlsx")
    messages = [f.message for f in validate_file(tmp_path / "enorme.xlsx").findings]
    said = [m for m in messages if "1E+300" in m]
    assert any(m.startswith("Le code du département « 1E+300 » est mal formé") for m in said), messages
    assert any("l'action « 1E+300 » n'existe pas" in m for m in said), messages
    assert any("« Statut » contient « 1E+300 »" in m for m in said), messages
    assert not any("00000" in m for m in messages), [m for m in messages if "00000" in m]


def test_the_oe_and_ae_ligatures_fold_as_their_letters():
    """« Programme Cœur de ville » listed in T_Dispositifs, « Programme Coeur de ville » typed in the plan (the
    keyboard's way): no decomposition splits « œ », so the two differed, the line's dispositif « non listé »
    and its financing judged without its list's nature. They are one name."""
    from acv_xl.contract import dispositifs
    from acv_xl.contract.values import fold

    assert fold("ACTION CŒUR DE VILLE") == fold("Action Coeur de Ville") == "action coeur de ville"
    assert fold("Lætitia") == "laetitia"
    assert dispositifs.listed("Programme Coeur de ville", ("Programme Cœur de ville",)) == "Programme Cœur de ville"
    assert dispositifs.listed("Programme Cœur de ville", ("Programme Coeur de ville",)) == "Programme Coeur de ville"
