"""The national list of the programme's communes: shipped with the package, checked on load, and
replaceable by a later list (`--reference FICHIER.csv`, `ACV_XL_REFERENCE`)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from acv_xl.cli import main
from acv_xl.contract import reference
from acv_xl.contract.reference import ReferenceInvalide

EXEMPLES = Path(__file__).resolve().parents[1] / "workbooks" / "exemples"


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(reference.SHIPPED.read_text(encoding="utf-8"))))


def _write(path: Path, rows: list[dict[str, str]], columns=reference.COLUMNS, delimiter=",") -> Path:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(columns), delimiter=delimiter, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_the_shipped_list_counts_its_communes_and_conventions():
    rows = _rows()
    ref = reference.shipped()
    assert len(ref.communes) == len(rows) == 244  # the README of the data says 244 and 230
    assert len(ref.conventions) == len({r["id_acv"] for r in rows}) == 230
    assert ref.libelle == "liste nationale ACV (ANCT, avril 2024)" and ref.livree
    bb = ref.conventions["ACV031"]
    assert (bb.nom, bb.date_signature, bb.insee) == ("Béthune - Bruay-la-Buissière", date(2018, 9, 24), ("62119", "62178"))
    arras = ref.par_insee["62041"]
    assert (arras.id_acv, arras.population, arras.siren_epci, arras.ort_signee, arras.date_ort) == \
        ("ACV014", 42600, "200033579", True, date(2019, 5, 14))
    assert reference.shipped() is ref  # cached


def test_the_shipped_list_and_its_readme_are_package_data():
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"acv_xl.contract" = ["data/*.csv", "data/*.md"]' in text
    lisezmoi = (reference.DATA / "LISEZMOI.md").read_text(encoding="utf-8")
    assert "ANCT" in lisezmoi and "avril 2024" in lisezmoi and "Licence Ouverte" in lisezmoi
    assert all(f"`{c}`" in lisezmoi for c in reference.COLUMNS)


def test_a_later_list_replaces_the_shipped_one(tmp_path):
    rows = _rows()
    rows[0] = dict(rows[0], siren_epci="200000001")
    ref = reference.load(_write(tmp_path / "communes_2025.csv", rows))
    assert ref.par_insee[rows[0]["insee_commune"]].siren_epci == "200000001" and not ref.livree
    assert ref.libelle == "liste de référence « communes_2025.csv »"
    assert ref.date == date.today().strftime("%d/%m/%Y") and ref.datee.startswith("du ")


def test_a_list_saved_by_a_french_excel_semicolons_and_cp1252_is_read(tmp_path):
    p = _write(tmp_path / "liste.csv", _rows(), delimiter=";")
    p.write_bytes(p.read_text(encoding="utf-8").encode("cp1252"))
    assert len(reference.load(p).communes) == 244


def test_a_list_resaved_by_a_french_excel_dates_and_leading_zeros_is_the_same_list(tmp_path):
    """The list opened in a French Excel and saved as CSV, as the messages about a list say to do:
    Excel writes its dates as the cells show them (28/09/2018) and takes the codes of départements
    01 to 09 for numbers (01 → 1, 01053 → 1053). Such a list was refused with 470 anomalies; it is
    now read as the same list. A code mistyped otherwise (6204 in the 62) is still said."""
    def as_excel(value: str) -> str:
        if len(value) == 10 and value[4] == "-":
            return f"{value[8:10]}/{value[5:7]}/{value[:4]}"
        return value.lstrip("0") if value.isdigit() and value[0] == "0" else value

    rows = _rows()
    assert any(r["departement"].startswith("0") for r in rows)  # Bourg-en-Bresse, Laon…
    p = _write(tmp_path / "liste.csv", [{k: as_excel(v) for k, v in r.items()} for r in rows], delimiter=";")
    p.write_bytes(p.read_text(encoding="utf-8").encode("cp1252"))
    shipped, excel = reference.shipped(), reference.load(p)
    assert [c.model_dump() for c in excel.communes] == [c.model_dump() for c in shipped.communes]
    assert excel.conventions == shipped.conventions
    arras = next(i for i, r in enumerate(rows) if r["insee_commune"] == "62041")
    rows[arras] = dict(rows[arras], insee_commune="6204")  # mistyped: no zero to give back
    with pytest.raises(ReferenceInvalide, match="valeur lue « 6204 »"):
        reference.load(_write(tmp_path / "l.csv", rows))


def test_missing_columns_are_named(tmp_path):
    cols = [c for c in reference.COLUMNS if c not in ("siren_epci", "date_ort")]
    with pytest.raises(ReferenceInvalide) as e:
        reference.load(_write(tmp_path / "l.csv", _rows(), columns=cols))
    assert "« siren_epci », « date_ort » manquent" in str(e.value)


@pytest.mark.parametrize("column,value,expected", [
    ("id_acv", "ACV14", "ligne 2, colonne « id_acv » : ACV suivi de trois chiffres attendu (valeur lue « ACV14 »)"),
    ("insee_commune", "6204", "ligne 2, colonne « insee_commune » : code INSEE à 5 caractères attendu, commençant par 2A ou 2B en Corse "
     "(valeur lue « 6204 »)"),
    ("insee_commune", "59350", "ligne 2, colonne « insee_commune » : le code INSEE 59350 n'est pas dans le département"),
    ("date_ort", "14.05.2019", "ligne 2, colonne « date_ort » : date attendue au format AAAA-MM-JJ ou JJ/MM/AAAA "
     "(valeur lue « 14.05.2019 »)"),
    ("date_ort", "05/14/2019", "ligne 2, colonne « date_ort » : date invalide (valeur lue « 05/14/2019 »)"),
    ("date_signature_convention", "2018-02-30", "ligne 2, colonne « date_signature_convention »"),
    ("population", "42 600", "ligne 2, colonne « population » : nombre entier d'habitants attendu (valeur lue « 42 600 »)"),
    ("siren_epci", "20003357", "ligne 2, colonne « siren_epci » : SIREN à 9 chiffres attendu (valeur lue « 20003357 »)"),
    ("ort", "Oui", "ligne 2, colonne « ort » : « Signée », « Non signée » ou vide attendu (valeur lue « Oui »)"),
])
def test_a_bad_value_is_reported_at_its_line_and_column(tmp_path, column, value, expected):
    rows = _rows()
    rows[0] = dict(rows[0], **{column: value})
    with pytest.raises(ReferenceInvalide) as e:
        reference.load(_write(tmp_path / "l.csv", rows))
    assert expected in str(e.value)
    assert e.value.anomalies[0].ligne == 2 and e.value.anomalies[0].colonne == column


def test_a_commune_twice_and_two_dates_for_one_convention_are_refused(tmp_path):
    rows = _rows()
    rows.append(dict(rows[0]))
    rows[-1]["id_acv"] = "ACV999"
    bb = next(i for i, r in enumerate(rows) if r["insee_commune"] == "62178")
    rows[bb] = dict(rows[bb], date_signature_convention="2019-01-01")
    with pytest.raises(ReferenceInvalide) as e:
        reference.load(_write(tmp_path / "l.csv", rows))
    text = str(e.value)
    assert f"la commune {rows[0]['insee_commune']} figure deux fois" in text
    assert "les communes de ACV031 n'ont pas la même date de signature" in text


def test_an_empty_list_a_folder_and_a_missing_file_are_refused(tmp_path):
    with pytest.raises(ReferenceInvalide, match="aucune commune"):
        reference.load(_write(tmp_path / "vide.csv", []))
    with pytest.raises(ReferenceInvalide, match="introuvable"):
        reference.load(tmp_path / "absent.csv")
    with pytest.raises(ReferenceInvalide, match="dossier"):
        reference.load(tmp_path)


@pytest.mark.parametrize("device", ["tube", "/dev/zero"])
def test_a_pipe_or_a_device_given_as_the_list_is_refused_not_read(tmp_path, device):
    """`--reference tube.csv` (a named pipe) waited forever for a writer, `--reference /dev/zero` (size 0,
    never an end) read until the memory ran out; both are said, status 2, at once. Run as a process:
    without the check, the test stops on its timeout instead of hanging the suite."""
    path = tmp_path / "tube.csv"
    if device == "tube":
        os.mkfifo(path)
    else:
        path = Path(device)
    out = subprocess.run([sys.executable, "-m", "acv_xl", "reference", "--reference", str(path)], capture_output=True,
                         timeout=60, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    err = out.stderr.decode("utf-8")
    assert out.returncode == 2 and f"« {path} » n'est pas un fichier ordinaire (périphérique ou tube nommé)" in err, err


def test_the_environment_variable_names_the_list_in_use(tmp_path, monkeypatch):
    rows = _rows()[:3]
    p = _write(tmp_path / "courte.csv", rows)
    monkeypatch.setenv(reference.ENV_VAR, str(p))
    assert len(reference.current().communes) == 3
    monkeypatch.setenv(reference.ENV_VAR, str(tmp_path / "absent.csv"))
    with pytest.raises(ReferenceInvalide, match="ACV_XL_REFERENCE"):
        reference.current()
    monkeypatch.delenv(reference.ENV_VAR)
    assert reference.current() is reference.shipped()


def test_a_changed_file_is_read_again(tmp_path):
    import os

    p = _write(tmp_path / "l.csv", _rows()[:2])
    assert len(reference.load(p).communes) == 2
    _write(p, _rows()[:5])
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    assert len(reference.load(p).communes) == 5


# ----------------------------------------------------------------------------- command line
def test_valider_reference_option_uses_the_given_list(tmp_path, capsys):
    src = EXEMPLES / "arras.xlsx"
    assert main(["valider", "--format", "json", str(src)]) == 0
    rows = [r for r in _rows() if r["id_acv"] != "ACV014"]  # a list where Arras is missing
    p = _write(tmp_path / "sans_arras.csv", rows)
    capsys.readouterr()
    assert main(["valider", "--format", "json", "--reference", str(p), str(src)]) == 1
    data = json.loads(capsys.readouterr().out)
    prj06 = [c for c in data["constats"] if c["code"] == "PRJ-06"]
    assert len(prj06) == 1 and "liste de référence « sans_arras.csv »" in prj06[0]["message"]


def test_valider_reference_environment_variable(tmp_path, capsys, monkeypatch):
    rows = [r for r in _rows() if r["id_acv"] != "ACV014"]
    monkeypatch.setenv(reference.ENV_VAR, str(_write(tmp_path / "sans_arras.csv", rows)))
    assert main(["valider", str(EXEMPLES / "arras.xlsx")]) == 1
    assert "PRJ-06" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["valider", "consolider", "reference"])
def test_a_bad_reference_file_is_a_misuse_exit_2(tmp_path, capsys, command):
    rows = _rows()
    rows[3] = dict(rows[3], id_acv="ACV4")
    p = _write(tmp_path / "mauvaise.csv", rows)
    argv = [command, "--reference", str(p)] + ([] if command == "reference" else [str(EXEMPLES / "arras.xlsx")])
    if command == "consolider":
        argv += ["-o", str(tmp_path / "c.xlsx")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"le fichier de référence « {p} » est invalide :" in err
    assert "ligne 5, colonne « id_acv » : ACV suivi de trois chiffres attendu (valeur lue « ACV4 »)" in err
    assert "Traceback" not in err and not (tmp_path / "c.xlsx").exists()


def test_a_bad_environment_variable_is_a_misuse_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(reference.ENV_VAR, str(tmp_path / "absent.csv"))
    assert main(["valider", str(EXEMPLES / "arras.xlsx")]) == 2
    assert "ACV_XL_REFERENCE" in capsys.readouterr().err


def test_consolider_reference_option_reaches_the_workers(tmp_path, capsys):
    rows = [r for r in _rows() if r["id_acv"] != "ACV014"]
    p = _write(tmp_path / "sans_arras.csv", rows)
    out = tmp_path / "c.xlsx"
    js = tmp_path / "c.json"
    assert main(["consolider", "--reference", str(p), "--jobs", "2", str(EXEMPLES), "-o", str(out),
                 "--json", str(js)]) in (0, 1)
    import os

    data = {c["fichier"]: c for c in json.loads(js.read_text(encoding="utf-8"))["conventions"]}
    assert data["arras.xlsx"]["valide"] is False and data["arras.xlsx"]["resume"]["erreurs"] == 1
    assert data["lens-lievin.xlsx"]["valide"] is True

    assert reference.ENV_VAR not in os.environ  # the option does not outlive the command


def test_reference_command_shows_the_list_its_sources_and_a_convention(capsys):
    assert main(["reference"]) == 0
    out = capsys.readouterr().out
    assert "liste nationale ACV (ANCT, avril 2024)" in out and "244 communes" in out and "230 conventions" in out
    assert "Licence Ouverte" in out
    assert main(["reference", "ACV031"]) == 0
    out = capsys.readouterr().out
    assert "Béthune - Bruay-la-Buissière" in out and "62178" in out and "21 827" in out and "24/09/2018" in out
    assert main(["reference", "62510"]) == 0  # by INSEE code: Liévin's convention
    assert "ACV113" in capsys.readouterr().out
    assert main(["reference", "ACV999"]) == 2
    assert "ACV999" in capsys.readouterr().err


@pytest.mark.parametrize("typed", ["acv 14", "ACV-014", "ACV14", "acv_014"])
def test_reference_reads_an_identifier_as_the_rules_do(capsys, typed):
    """« acv 14 » is ACV014 for PRJ-03, PRJ-06 (compared with the list as the identifier it designates) and
    CON-01; `acv-xl reference "acv 14"`, typed from such a workbook, answered that it named no convention."""
    assert main(["reference", typed]) == 0
    assert capsys.readouterr().out.startswith("ACV014 — Arras")
    assert main(["reference", "acv 999"]) == 2  # well read, and not in the list
    assert "« acv 999 »" in capsys.readouterr().err


def test_a_list_given_in_place_of_an_identifier_is_pointed_to_reference(tmp_path, capsys, monkeypatch):
    """`acv-xl reference nouvelle_liste.csv` (a newer list to check, typed where the usage shows
    ACVxxx|INSEE) answered only that it named no convention: the message now says to give it to
    --reference, and the command to type."""
    (tmp_path / "liste 2025.csv").write_text(reference.SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for typed, shown in (("liste 2025.csv", '"liste 2025.csv"'), ("absente.CSV", "absente.CSV")):
        assert main(["reference", typed]) == 2
        err = capsys.readouterr().err
        assert f"« acv-xl reference --reference {shown} »" in err  # a command the user can type as shown
    assert main(["reference", "ACV999"]) == 2  # an identifier: no word of a list
    assert "--reference" not in capsys.readouterr().err
    assert main(["reference", "a" * 300]) == 2  # no name a system takes: said no convention, not « inaccessible »
    assert "n'est ni l'identifiant d'une convention" in capsys.readouterr().err


def test_annexe_with_a_bad_environment_variable_is_a_misuse_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(reference.ENV_VAR, str(tmp_path / "absent.csv"))
    assert main(["annexe", str(EXEMPLES / "arras.xlsx"), "-o", str(tmp_path / "a.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "ACV_XL_REFERENCE" in err and "interne" not in err and not (tmp_path / "a.xlsx").exists()


def test_the_shipped_list_validates_whole_and_its_trusted_reading_is_the_same():
    """The shipped list is read without pydantic's validation at run time (start-up of every
    `valider`): this test validates it row by row and compares."""
    from acv_xl.contract import reference as R

    text = R.SHIPPED.read_text(encoding="utf-8")
    checked = R.parse(text, R.SHIPPED, R.SHIPPED_LIBELLE, R.SHIPPED_DATE)
    trusted = R.parse(text, R.SHIPPED, R.SHIPPED_LIBELLE, R.SHIPPED_DATE, trusted=True)
    assert [c.model_dump() for c in checked.communes] == [c.model_dump() for c in trusted.communes]
    assert checked.conventions == trusted.conventions and len(checked.communes) == 244


def test_a_workbook_or_a_foreign_csv_given_as_the_list_says_what_it_is(tmp_path, capsys):
    """The list opened in Excel and saved as a workbook, or a CSV of something else: the message says
    so once (not the eleven columns twice), in the command's lower case after « acv-xl : »."""
    assert main(["reference", "--reference", str(EXEMPLES / "arras.xlsx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acv-xl : le fichier de référence ") and "est un classeur Excel (.xlsx), pas un fichier .csv" in err
    other = tmp_path / "autre.csv"
    other.write_text("nom;montant\nArras;12\n", encoding="utf-8")
    assert main(["reference", "--reference", str(other)]) == 2
    err = capsys.readouterr().err
    assert "n'est pas une liste des communes ACV" in err and "« nom;montant »" in err
    assert err.count("date_ort") == 1 and "Traceback" not in err


def _kinds():
    import test_bad_files as bad

    return [(bad.make_ods, "un classeur OpenDocument (.ods, LibreOffice)", "LibreOffice Calc"),
            (lambda d: EXEMPLES / "arras.xlsx", "un classeur Excel (.xlsx)", "CSV UTF-8"),
            (bad.make_xls, "un classeur au format .xls (Excel 97-2003)", "CSV UTF-8"),
            (bad.make_protected, "un classeur protégé par un mot de passe", "avec son mot de passe"),
            (bad.make_xlsb, "un classeur binaire Excel (.xlsb)", "CSV UTF-8"),
            (bad.make_xml2003, "un classeur au format « Feuille de calcul XML 2003 »", "CSV UTF-8"),
            (bad.make_pdf, "un document PDF", "CSV UTF-8"),
            (bad.make_html, "une page web (HTML)", "CSV UTF-8"),
            (bad.make_docx, "un document Word", "CSV UTF-8"),
            (bad.make_plain_zip, "une archive zip qui ne contient pas de classeur Excel", "CSV UTF-8"),
            (bad.make_truncated, "une archive zip endommagée", "CSV UTF-8")]


@pytest.mark.parametrize("index", range(11))
def test_a_file_given_as_the_list_is_named_for_what_it_is(tmp_path, capsys, index):
    """A list saved from LibreOffice was « un classeur Excel »; a PDF or a web page got the eleven
    columns' anomalies. Each is named in the reader's own words (`contract.file_kinds`), with the
    way to save the list as CSV where there is one."""
    make, what, how = _kinds()[index]
    path = make(tmp_path)
    assert main(["reference", "--reference", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acv-xl : le fichier de référence ") and f"est {what}" in err and how in err, err
    assert "pas un fichier .csv" in err and "date_ort" not in err and "Traceback" not in err
    if index != 1:  # only an .xlsx is « un classeur Excel (.xlsx) »
        assert "est un classeur Excel" not in err


def test_the_reader_and_the_list_name_an_ods_alike(tmp_path):
    import test_bad_files as bad

    from acv_xl.reading.errors import UnreadableWorkbook
    from acv_xl.reading.source_file import FileSource

    path = bad.make_ods(tmp_path)
    with pytest.raises(UnreadableWorkbook) as read:
        FileSource(path)
    with pytest.raises(ReferenceInvalide) as listed:
        reference.load(path)
    noun = "un classeur OpenDocument (.ods, LibreOffice)"
    assert noun in read.value.message and noun in str(listed.value)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf\r\n\r\n"], ids=["0 octet", "lignes vides"])
def test_an_empty_list_is_said_empty(tmp_path, content):
    """An empty --reference file read « sa première ligne («  ») ne porte aucune des colonnes
    attendues », quoting nothing between the guillemets: it is said to be empty."""
    path = tmp_path / "liste.csv"
    path.write_bytes(content)
    with pytest.raises(ReferenceInvalide) as exc:
        reference.load(path)
    assert "est vide" in str(exc.value) and "«  »" not in str(exc.value), str(exc.value)


@pytest.mark.parametrize("env", [False, True], ids=["--reference", "ACV_XL_REFERENCE"])
def test_the_messages_about_a_list_name_it_as_given_quoted_one_colon_a_sentence(tmp_path, capsys, monkeypatch, env):
    """The messages about a list showed its absolute path, without « », and for a PDF chained two
    colons (« … pas un fichier .csv : la liste des communes est un fichier .csv (UTF-8) : indiquez… »);
    with ACV_XL_REFERENCE, « variable d'environnement ACV_XL_REFERENCE : le fichier… : … ». The file is
    now named as the user gave it, between « », with where it was named, and each sentence has at
    most one colon after « acv-xl : »."""
    import test_bad_files as bad

    monkeypatch.chdir(tmp_path)
    bad.make_pdf(tmp_path).rename(tmp_path / "liste.pdf")
    (tmp_path / "dossier.csv").mkdir()
    rows = _rows()
    rows[0] = dict(rows[0], id_acv="ACV1")
    _write(tmp_path / "mauvaise.csv", rows)
    expected = {
        "liste.pdf": "est un document PDF, pas un fichier .csv. Indiquez la liste des communes au format .csv "
                     "(UTF-8), ou enregistrez-la depuis un tableur au format « CSV UTF-8 ».",
        "absente.csv": "est introuvable.",
        "dossier.csv": "est un dossier : indiquez le fichier .csv de la liste des communes.",
        "mauvaise.csv": "est invalide :\n  - ligne 2, colonne « id_acv » : ACV suivi de trois chiffres attendu "
                        "(valeur lue « ACV1 »)",
    }
    for name, end in expected.items():
        if env:
            monkeypatch.setenv(reference.ENV_VAR, name)
            assert main(["reference"]) == 2
        else:
            monkeypatch.delenv(reference.ENV_VAR, raising=False)
            assert main(["reference", "--reference", name]) == 2
        err = capsys.readouterr().err
        where = " (variable d'environnement ACV_XL_REFERENCE)" if env else ""
        assert err == f"acv-xl : le fichier de référence « {name} »{where} {end}\n", err
        assert str(tmp_path) not in err
        for sentence in err.removeprefix("acv-xl : ").split(". "):
            assert sentence.count(" : ") <= 1, sentence


def test_the_shipped_list_under_a_symbolic_link_is_still_the_shipped_list(tmp_path, monkeypatch):
    # a package installed through a linked folder: the list found there is the national list,
    # with its own label, not « liste de référence « communes_acv.csv » » of a user's file
    link = tmp_path / "lien"
    link.symlink_to(reference.SHIPPED.parent, target_is_directory=True)
    monkeypatch.setattr(reference, "SHIPPED", link / reference.SHIPPED.name)
    reference._load.cache_clear()
    try:
        ref = reference.shipped()
    finally:
        reference._load.cache_clear()  # never the linked list's read left for the next tests
    assert ref.libelle == reference.SHIPPED_LIBELLE and ref.livree
    assert len(ref.communes) == 244
