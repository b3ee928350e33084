"""`acv-xl`: the command line, one thin command per job, each a twin of a library function.

argparse rather than typer: it starts in a few milliseconds (the `valider` benchmark counts the
whole process) and every word it prints can be put in French. Modules are imported inside each
command so that a command pays only for what it uses.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from acv_xl import __version__

# argparse's own words, in French (argparse looks `_` up at call time).
_FR = {
    "usage: ": "usage : ",
    # section headings: argparse adds the colon, French typography wants a space before it
    "options": "options ",
    "positional arguments": "arguments ",
    "show this help message and exit": "affiche cette aide et quitte",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "unrecognized arguments: %s": "arguments non reconnus : %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (choisir parmi %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "expected one argument": "une valeur est attendue",
    "not allowed with argument %s": "ne peut pas être indiqué avec %s",  # annexe --depuis | --depuis-validation
    # `--remplacer=oui`, `--re` (--reference, --registre, --remplacer): said in English, a user's first typos
    "ignored explicit argument %r": "cette option ne prend pas de valeur : « %s » est en trop",
    "ambiguous option: %(option)s could match %(matches)s":
        "option ambiguë : « %(option)s » peut désigner %(matches)s ; écrivez-la en entier",
    "invalid %(type)s value: %(value)r": "valeur invalide : « %(value)s »",  # never Python's type name
    "show program's version number and exit": "affiche la version et quitte",
}


def _fr(text: str) -> str:
    return _FR.get(text, text)


argparse._ = _fr  # type: ignore[attr-defined]


class _StoreOnce(argparse._StoreAction):
    """An option of one value given twice with two values (`-o a.xlsx … -o b.xlsx`, `--annoter a1.xlsx
    --annoter a2.xlsx`, `--departement 62 --departement 59`): argparse kept the last without a word,
    so a command wrote one file where two were asked for, or worked on another value than the one
    typed first. Refused instead; the same value twice (a script repeating its default) is one."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_options_given", {})
        if option_string is not None and self.dest in given and given[self.dest] != values:
            raise argparse.ArgumentError(self, f"indiqué deux fois, avec « {given[self.dest]} » puis « {values} » : "
                                               "une seule valeur est attendue")
        given[self.dest] = values
        super().__call__(parser, namespace, values, option_string)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def error(self, message: str):  # usage errors: exit status 2, as the spec says
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")

    def _get_value(self, action, arg_string):
        # an empty value is a script's unset variable (`acv-xl consolider "$DOSSIER"`), never a choice:
        # Path("") is « . » (the folder the command runs in), and `if args.json:` took `--json ""` for
        # no option at all — `--registre ""` recorded nothing, `--depuis ""` wrote the annex of the
        # convention, `--departement ""` consolidated every département, all with status 0
        # (a command's own arguments pass through the COMMANDE action first: its parser judges them)
        if not isinstance(action, argparse._SubParsersAction) and isinstance(arg_string, str) and not arg_string.strip():
            name = (action.metavar or action.dest or "").upper()
            what = ("le nom du dossier ou du fichier" if "DOSSIER" in name and "FICHIER" in name else
                    "le nom du dossier" if "DOSSIER" in name else
                    "le nom du fichier" if "FICHIER" in name or "." in name else "la valeur")
            raise argparse.ArgumentError(action, f"{what} est vide")
        return super()._get_value(action, arg_string)

    def _check_value(self, action, value):
        # argparse quotes with Python's repr ('pdf'); French wants « pdf », and a mistyped command
        # (« valide ») deserves the one it resembles
        if action.choices is not None and value not in action.choices:
            import difflib

            choices = [str(c) for c in action.choices]
            message = f"choix invalide : « {value} » (choisir parmi {', '.join(f'« {c} »' for c in choices)})"
            if close := difflib.get_close_matches(str(value), choices, n=1):
                message += f" ; vouliez-vous dire « {close[0]} » ?"
            raise argparse.ArgumentError(action, message)


class _CommandParser(_Parser):
    """A command's own parser. An argument it does not know (`valider a.xlsx --formt json`) went up
    to the main parser, which printed the usage of `acv-xl` itself and « arguments non reconnus :
    --formt json »: the command says it, under its own usage, with the option it resembles."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        # argparse gives a command's list of names (`FICHIER [FICHIER ...]`) those before its first
        # option only: `valider a.xlsx --format json b.xlsx` and `consolider Arras -o c.xlsx Calais`
        # were refused, the second name said « en trop ». The names after an option join the list
        # (an unknown option among them is still said first: its value would be taken for a name)
        many = next((a for a in self._get_positional_actions() if a.nargs == "+"), None)
        if extras and many is not None and not any(map(_looks_like_option, extras)):
            try:
                getattr(namespace, many.dest).extend(self._get_values(many, extras))
            except argparse.ArgumentError as exc:  # an empty name (`_get_value`), said as argparse says it
                self.error(str(exc))
            extras = []
        if extras:
            import difflib

            first = next(filter(_looks_like_option, extras), extras[0])
            if _looks_like_option(first):
                name = first.split("=", 1)[0]
                options = sorted(o for o in self._option_string_actions if o.startswith("--"))
                message = f"option inconnue : « {name} »"
                if close := difflib.get_close_matches(name, options, n=1):
                    message += f" ; vouliez-vous dire « {close[0]} » ?"
                else:
                    message += f" (les options de la commande : acv-xl {self.prog.split()[-1]} --help)"
            else:
                message = f"argument en trop : « {first} »"
            self.error(message)
        return namespace, extras


class _MainParser(_Parser):
    """`acv-xl` itself. An unknown option before the command (`acv-xl --versoin`, or a command's own
    `acv-xl --format json valider a.xlsx`) was said « arguments obligatoires manquants : COMMANDE » —
    the typo never named. It is said first, with the option it resembles, or where options go."""

    def parse_known_args(self, args=None, namespace=None):
        import difflib

        for arg in sys.argv[1:] if args is None else args:
            if not _looks_like_option(arg) or arg == "--":
                break  # the command: what follows is its parser's
            name = arg.split("=", 1)[0]
            # an abbreviation argparse takes (`--vers`, `--he`) is no typo: left to it, as before
            if not _takes(self, name):
                message = f"option inconnue : « {name} »"
                # a command's own (`acv-xl --json r.json consolider …`): where it goes, never `--version`
                # as the one `--json` resembles
                parsers = self._subparsers._group_actions[0].choices
                command = next((a for a in (sys.argv[1:] if args is None else args) if a in parsers), None)
                if command is not None and _takes(parsers[command], name):  # (`--rempl` too)
                    message = f"« {name} » se place après la commande : acv-xl {command} {name} …"
                elif not any(_takes(parser, name) for parser in parsers.values()) and \
                        (close := difflib.get_close_matches(name, ["--help", "--version"], n=1)):
                    message += f" ; vouliez-vous dire « {close[0]} » ?"
                else:
                    message += " (les options d'une commande se placent après elle : acv-xl COMMANDE --help)"
                self.error(message)
        return super().parse_known_args(args, namespace)


def _takes(parser: argparse.ArgumentParser, name: str) -> bool:
    """Whether `parser` takes the option `name`, in full or abbreviated as argparse lets it."""
    return any(o == name or (parser.allow_abbrev and name.startswith("--") and o.startswith(name))
               for o in parser._option_string_actions)


def _looks_like_option(arg: str) -> bool:
    return arg.startswith("-") and len(arg) > 1


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"un nombre entier est attendu, pas « {text} »") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"au moins 1 processus, pas {n}")
    return n


def _console(stderr: bool = False):
    from acv_xl.outputs.terminal import console

    return console(stderr)


def _say(message: str, file=None) -> None:
    """A line for the user; paths and cell texts in it shown literally (no escape sequence)."""
    from acv_xl.outputs.terminal import literal

    print(literal(message), file=file or sys.stdout)


def _os_failure(exc: OSError) -> str:
    """A file operation the system refused, as the user reads it: the file, the reason in French
    (never the system's English « Permission denied »)."""
    from acv_xl.contract.system_errors import os_error_text
    from acv_xl.reading.errors import file_text

    if exc.filename:
        return f"fichier inaccessible : {file_text(exc.filename)} ({os_error_text(exc)})."
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return f"fichier inaccessible ({os_error_text(exc)})."
    # no file named and none at fault: a process that could not be started, memory…
    return f"le système a refusé l'opération ({os_error_text(exc)})."


def _fail(message: str, status: int = 2) -> int:
    # a message of several lines (a reference list's problems, one a line) keeps them, each shown literally
    for line in f"acv-xl : {message}".split("\n"):
        _say(line, sys.stderr)
    return status


# ----------------------------------------------------------------------------- commands
def cmd_modele(args) -> int:
    from acv_xl.outputs.output_guard import CONVENTION_WORKBOOK, Output, check_outputs

    out = Path(args.sortie)  # a convention workbook: replaces no file, a report neither, without --remplacer
    if problem := check_outputs([], [Output(out, (".xlsx",), "SORTIE", CONVENTION_WORKBOOK)], replace=args.remplacer):
        return _fail(problem)
    from acv_xl.outputs.template import build_workbook

    build_workbook(out)
    _say(f"Modèle écrit : {out}")
    return 0


def cmd_exemples(args) -> int:
    from acv_xl.outputs.examples import example_conventions, write_examples
    from acv_xl.outputs.output_guard import (CONVENTION_WORKBOOK, Output, check_outputs, folder_cannot_be_made,
                                             folder_like_a_file, folder_missing)

    if not args.dossier.strip():  # Path("") is « . »: six workbooks written where the command ran
        return _fail("le nom du dossier est vide : indiquez le dossier où écrire les exemples.")
    folder = Path(args.dossier)
    # a broken or looping link too (exists() is False): « fichier inaccessible : lien (le fichier existe déjà) »
    # was said once the folder could not be made, as --par-financeur's check says it first
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
        # (a looping link leads to nothing either: not « vers un dossier absent »; the words of `consolider`)
        kind = "un fichier" if folder.exists() else "un lien symbolique dont la cible est introuvable"
        return _fail(f"« {folder} » est {kind}, pas un dossier : indiquez le dossier où écrire les exemples.")
    if not folder.exists() and not folder.absolute().parent.is_dir():  # the folder named is created, never its parents
        return _fail(folder_missing(folder))  # as typed, like every other output: not the machine's path
    if problem := (folder_like_a_file("le dossier des exemples", folder)
                   or folder_cannot_be_made("le dossier des exemples", folder)):
        return _fail(problem)
    conventions = example_conventions()
    if folder.is_dir():
        outputs = [Output(folder / name, (".xlsx",), "DOSSIER", CONVENTION_WORKBOOK) for name in conventions]
        # the user named a folder, not the file: the way out is another folder
        way_out = "Choisissez un autre dossier, ou ajoutez --remplacer pour écraser les fichiers de mêmes noms."
        if problem := check_outputs([], outputs, replace=args.remplacer, way_out=way_out):
            return _fail(problem)
    paths = write_examples(folder, conventions)
    for p in paths:
        _say(f"Exemple écrit : {p}")
    return 0


def _reference(args):
    """The national list the command compares with (`--reference`, else `ACV_XL_REFERENCE`, else the
    shipped one), checked now: (list, None), or (None, exit status 2 after a French message)."""
    from acv_xl.contract.reference import ReferenceInvalide, after_colon, current, load

    try:
        return (load(args.reference) if args.reference else current()), None
    except ReferenceInvalide as exc:  # « acv-xl : le fichier de référence… », lower case after the colon
        return None, _fail(after_colon(str(exc)))


def _is_pattern(name: str) -> bool:
    """A wildcard (* or ?) makes a pattern, unless a file bears that name: brackets alone are a name's,
    « Arras [v2].xlsx » missing validated « Arras 2.xlsx », another convention."""
    import glob

    return glob.has_magic(name) and any(c in name for c in "*?") and not os.path.lexists(name)


def _expanded(names: list[str]) -> list[str]:
    """`*.xlsx` as a Unix shell expands it: Windows's cmd and PowerShell hand it over as typed, and
    each finance officer would read « le fichier « *.xlsx » est introuvable ». A name that exists,
    or a pattern matching nothing, is kept as typed (said introuvable); dot files are left out, as
    a Unix shell does, and Excel's lock files (`~$…`) beside workbooks, as `consolider` does. A
    pattern matching lock files only hands them over, each then said to be one, with the workbook
    to give instead (« …arras.xlsx »), as after a Unix shell: not « *.xlsx » introuvable."""
    import glob

    out: list[str] = []
    for name in names:
        found = sorted(glob.glob(name)) if _is_pattern(name) else []
        # never the lock file Excel keeps beside an open workbook (« ~$arras.xlsx »: unreadable, status 2)
        out += [f for f in found if not os.path.basename(f).startswith("~$")] or found or [name]
    # a Unix shell expands `*.xlsx` itself, lock files included (« ~$arras.xlsx » beside arras.xlsx
    # open in Excel): one named with the workbook it stands for is the pattern's, not the user's choice
    workbooks = {(os.path.dirname(f), os.path.basename(f)) for f in out if not os.path.basename(f).startswith("~$")}
    out = [f for f in out if not os.path.basename(f).startswith("~$")
           or not any(d == os.path.dirname(f) and b.endswith(os.path.basename(f)[2:]) for d, b in workbooks)]
    # each file once (`*.xlsx arras.xlsx`, `arras.xlsx ./arras.xlsx`): its report was printed twice, the
    # files counted twice (« 2 fichiers vérifiés »), and `--annoter` refused « un seul fichier »
    seen: set[str] = set()
    return [f for f in out if not ((k := os.path.normcase(os.path.abspath(f))) in seen or seen.add(k))]


def _walked_matches(names: list[str]) -> tuple[list[str], str | None, list[tuple[Path, str]]]:
    """`consolider`'s names, each pattern's matches taken as a folder walk takes a folder's entries
    (`consolidation_files.walked_takes`): folders, and workbooks' names neither hidden nor Excel's lock
    files. `consolider *` typed in cmd read notes.txt, a PDF, a Word letter beside the workbooks, each
    « illisible » among the comité's files, where `consolider .` leaves them out; a pattern matching a
    lock file only gave a recap of no convention, where `valider` names it. A pattern matching nothing
    is kept as typed (said so after); one matching files, none taken: (names, the refusal naming them).
    Third: the matches left that may be workbooks (`calais.xlsx.part`, `conventions.zip`), with what
    they look like, said as a walk says them (`consolidation_files.not_taken_why`)."""
    import glob

    from functools import lru_cache

    from acv_xl.outputs.consolidation_files import folder_names, not_taken_why, walked_takes
    from acv_xl.outputs.terminal import file_text, literal
    from acv_xl.reading.errors import shown_file

    def shown(name: str) -> str:  # a line break in a name would cut the refusal in two: shown ␊, as a walk shows it
        return literal(shown_file(file_text(name)))

    out: list[str] = []
    not_taken: list[tuple[Path, str]] = []
    names_in = lru_cache(maxsize=None)(folder_names)  # each folder listed once, whatever its backups
    for name in names:
        found = sorted(glob.glob(name)) if _is_pattern(name) else []
        kept: list[str] = []
        left: dict[str, str] = {}
        for f in found:  # each match looked at once, never sought among those kept (n² for a département)
            if walked_takes(f):
                kept.append(f)
            elif (why := not_taken_why(f, names_in)) is not None:
                left[f] = why
        if found and not kept:
            # a lock file named first: the one match whose presence needs explaining, never among « et N autres »;
            # then those that may be workbooks
            found.sort(key=lambda f: (not os.path.basename(f).startswith("~$"), f not in left))
            said = [f"« {shown(os.path.basename(f))} »" + (
                " (le fichier de verrouillage qu'Excel garde à côté d'un classeur ouvert)"
                if os.path.basename(f).startswith("~$") else f" ({left[f]})" if f in left else "") for f in found[:3]]
            more = f" et {len(found) - 3} autre{'s' if len(found) > 4 else ''}" if len(found) > 3 else ""
            return names, (f"aucun classeur .xlsx ou .xlsm ne correspond au motif « {shown(name)} », qui ne "
                           f"désigne que {', '.join(said)}{more}. Indiquez les classeurs ou leur dossier."), []
        out += kept or [name]
        not_taken += [(Path(f), why) for f, why in left.items()]
    return out, None, not_taken


def _copy_matched(typed: list[str], files: list[str], copy: str) -> str:
    """The end of the refusal of `--annoter` given several files, when a pattern matched the copy to write
    (« . » else). Left out of the pattern, that file — the previous copy, or a commune's workbook named by
    mistake — was replaced under `--remplacer` (« valider *.xlsx --annoter arras.xlsx --remplacer » wrote
    calais.xlsx's copy over arras.xlsx): the pattern's files are read, as a consolidated folder's, and an
    output is never one of them."""
    import glob

    from acv_xl.reading.errors import file_text

    def key(f: str) -> str:
        return os.path.normcase(os.path.abspath(f))

    if key(copy) in map(key, typed):
        return "."  # named by the user: his input
    pattern = next((n for n in typed if _is_pattern(n) and key(copy) in map(key, glob.glob(n))), None)
    if pattern is None:
        return "."
    others = [f for f in files if key(f) != key(copy)]
    which = f" (« {file_text(others[0])} »)" if len(others) == 1 else ""
    return (f" : le motif « {file_text(pattern)} » désigne aussi « {file_text(copy)} », où la copie serait écrite "
            f"(celle d'une validation précédente ?). Nommez le classeur à annoter{which} au lieu du motif.")


def cmd_valider(args) -> int:
    reference, status = _reference(args)
    if reference is None:
        return status
    # the JSON report's shape follows what was typed, never what a folder holds: a list for several
    # names or a pattern, though it match one file (a script's `valider "depot/*.xlsx"` got an object
    # the day the folder held one workbook, and broke); an object for one file named
    one_named = len(args.fichiers) == 1 and not _is_pattern(args.fichiers[0])
    typed, args.fichiers = args.fichiers, _expanded(args.fichiers)
    if args.annoter:
        if len(args.fichiers) != 1:
            return _fail("--annoter s'emploie avec un seul fichier" + _copy_matched(typed, args.fichiers, args.annoter))
        from acv_xl.outputs.annotate import check_output
        from acv_xl.outputs.output_guard import CONVENTION_WORKBOOK, Output, check_outputs

        # an annotated copy is a convention the user may go on editing: it replaces no report either
        out = Output(Path(args.annoter), (".xlsx", ".xlsm"), "--annoter", CONVENTION_WORKBOOK)
        # the copy's own words first (same file, .xlsm kept .xlsm), then the rules of every output
        if problem := (check_output(Path(args.fichiers[0]), Path(args.annoter))
                       or check_outputs(args.fichiers, [out], replace=args.remplacer)):
            return _fail(problem)
    from acv_xl.checks.validate import validate_file

    reports = [validate_file(Path(f), reference, depuis_validation=True) for f in args.fichiers]
    if args.annoter:
        if reports[0].convention is None:  # unreadable, or no convention (STR-01/02/11): say which, and why
            why = " ".join(filter(None, (reports[0].findings[0].message, reports[0].findings[0].suggestion)))
            return _fail(f"la copie annotée n'a pas été écrite. {why}")
        from acv_xl.outputs.annotate import AnnotationError, annotate

        try:
            gap = annotate(Path(args.fichiers[0]), Path(args.annoter), reports[0])
        except AnnotationError as exc:
            return _fail(str(exc))
        from acv_xl.contract.values import fmt_number
        from acv_xl.outputs.annotate import MAX_ANNOTATED, left_out

        if n_left := left_out(reports[0]):  # the copy shows the worst only: said where the user looks
            _say(f"acv-xl : la copie annotée montre les {fmt_number(MAX_ANNOTATED - 1)} premiers constats, les "
                 f"erreurs d'abord ; {fmt_number(n_left)} autres n'y sont ni listés ni surlignés.", sys.stderr)
    if args.format == "json":
        import json

        from acv_xl.outputs.report import to_json

        data = [to_json(r) for r in reports]
        print(json.dumps(data[0] if one_named else data, ensure_ascii=False, indent=2))
        if args.annoter and gap:  # stdout is the JSON: the note goes to stderr
            _say(f"acv-xl : copie annotée écrite ({gap}).", sys.stderr)
    else:
        from acv_xl.outputs.report import render_text

        render_text(reports, _console())
        if args.annoter:
            _say(f"Copie annotée écrite : {args.annoter}" + (f" ({gap} ; ils sont listés ci-dessus)" if gap else ""))
    return max(r.exit_code for r in reports)


def cmd_annexe(args) -> int:
    from acv_xl.outputs.annex import run_annexe

    return run_annexe(Path(args.fichier), Path(args.sortie) if args.sortie else None,
                      pdf=args.pdf, brouillon=args.brouillon, console=_console(),
                      depuis=Path(args.depuis) if args.depuis else None, replace=args.remplacer,
                      depuis_validation=args.depuis_validation)


def cmd_comparer(args) -> int:
    from acv_xl.outputs.comparer import run_comparer

    return run_comparer(Path(args.avant), Path(args.apres), fmt=args.format,
                        out=Path(args.sortie) if args.sortie else None, replace=args.remplacer,
                        console=_console() if args.format == "texte" else None)  # rich for text only


def cmd_consolider(args) -> int:
    from acv_xl.outputs.consolidation_files import prefetch
    from acv_xl.reading.errors import file_text

    # `consolider *.xlsx` typed in cmd or PowerShell arrives as typed, as for `valider`: « introuvable »
    args.chemins, problem, args.not_taken = _walked_matches(args.chemins)
    if problem:
        return _fail(problem)
    args.chemins = _expanded(args.chemins)
    if unmatched := [name for name in args.chemins if _is_pattern(name)]:  # kept as typed: it matched nothing
        return _fail(f"aucun dossier ni fichier ne correspond au motif « {file_text(unmatched[0])} ». Vérifiez le chemin.")
    if args.registre:  # ours, never a workbook: `consolider * --registre registre.sqlite` (or a Unix shell's
        # `*`) read it, « illisible », counted among the files and recorded in itself
        register = os.path.normcase(os.path.abspath(args.registre))
        args.chemins = [p for p in args.chemins if os.path.normcase(os.path.abspath(p)) != register] or args.chemins
    # the files found by another process while this one imports the rest, and hashed there when
    # a register may know them
    prefetched = prefetch([Path(p) for p in args.chemins],
                          identify=bool(args.registre) and Path(args.registre).is_file())
    try:
        return _consolider(args, prefetched)
    finally:
        if prefetched is not None:
            prefetched.close()


def _consolider(args, prefetched) -> int:
    from acv_xl.contract.reference import ENV_VAR, SHIPPED
    from acv_xl.outputs.consolidation import extracts_folder_problem, run_consolider
    from acv_xl.outputs.consolidation_files import named_takes

    # a list given by the user is checked here, before any file is read; the shipped one (trusted,
    # validated whole by a test) is read by the workers alone: this process never uses its rows
    chemin, reference = SHIPPED, None
    if args.reference or os.environ.get(ENV_VAR, "").strip():
        reference, status = _reference(args)
        if reference is None:
            return status
        chemin = reference.chemin
    if args.comite:
        from acv_xl.contract.values import fmt_number
        from datetime import date

        from acv_xl.outputs.consolidation_result import (COMITE_MAX_CHARS, FORMES_LUES, date_of_label,
                                                         far_comite_date, impossible_date_in_label,
                                                         partial_date_in_label)
        from acv_xl.outputs.terminal import CONTROL
        from acv_xl.reading.errors import file_text

        if file_text(args.comite) != args.comite:  # bytes not UTF-8 (a script saved in Latin-1): no writer takes them
            return _fail(f"le libellé du comité (--comite) « {file_text(args.comite)} » n'est pas du texte UTF-8 "
                         "(un script enregistré dans un autre codage ?) : enregistrez le script en UTF-8, ou "
                         "tapez le libellé dans le terminal.")
        # a label read from a file by a script ends with its line's end: recorded so, each sheet showed a blank
        # line under it; one inside (a line break, a tab pasted from a spreadsheet, an escape sequence, a
        # bidirectional control showing the rest reversed) printed as « _x001B_ » in the workbooks, or obeyed
        args.comite = args.comite.strip()
        if (bad := CONTROL.search(args.comite)) is not None:
            quoi = {"\n": "un saut de ligne", "\r": "un retour chariot", "\t": "une tabulation"}.get(
                bad.group(0), f"un caractère de contrôle (U+{ord(bad.group(0)):04X})")
            return _fail(f"le libellé du comité (--comite) contient {quoi} : écrivez-le sur une ligne, en texte seul "
                         "(« Comité d'engagement du 12/06/2027 ») ; rien n'est lu ni écrit.")
        if len(args.comite) > COMITE_MAX_CHARS:  # printed whole in every warning and sheet: said, never cut
            return _fail(f"le libellé du comité (--comite) compte {fmt_number(len(args.comite))} caractères, "
                         f"{COMITE_MAX_CHARS} au plus (« {args.comite[:40]}… ») : donnez le nom du comité et sa date "
                         "(« Comité d'engagement du 12/06/2027 ») ; rien n'est lu ni écrit.")

        # said, never guessed (the readiness needs a date), with the forms read: the référent retypes it in one
        ailleurs = "la phase de chaque convention est mesurée à la date de son prochain comité, sinon à la date du jour"
        if (typed := impossible_date_in_label(args.comite)) is not None:  # « 31/02/2026 »: a date, but none
            _say(f"acv-xl : la date « {typed} » du libellé du comité « {args.comite} » n'existe pas : {ailleurs}. "
                 f"Corrigez le libellé (--comite) pour la mesurer à la date du comité ; dates lues : {FORMES_LUES}.",
                 sys.stderr)
        elif (part := partial_date_in_label(args.comite)) is not None:  # « juin 2027 », « 12 juin »
            _say(f"acv-xl : le libellé du comité « {args.comite} » ne donne pas de date entière (« {part[0]} » : "
                 f"{part[1]}, jamais complété) : {ailleurs}. Écrivez la date entière dans le libellé (--comite) pour "
                 f"la mesurer à la date du comité ; dates lues : {FORMES_LUES}.", sys.stderr)
        elif (day := date_of_label(args.comite)) is None:
            _say(f"acv-xl : aucune date reconnue dans le libellé du comité « {args.comite} » : {ailleurs}. Dates "
                 f"lues : {FORMES_LUES}.", sys.stderr)
        elif (far := far_comite_date(day, date.today())) is not None:  # « 2062 » for 2026: a year mistyped
            _say(f"acv-xl : attention, la date du libellé du comité « {args.comite} », le {day.strftime('%d/%m/%Y')}, "
                 f"est {far} : la phase de chaque convention est mesurée à cette date. Vérifiez l'année du libellé "
                 "(--comite).", sys.stderr)
    options = {"comite": args.comite, "sans_erreurs": args.sans_erreurs, "not_taken": args.not_taken,
               "par_financeur": Path(args.par_financeur) if args.par_financeur else None, "prefetched": prefetched}
    register = None
    if args.par_financeur and (problem := extracts_folder_problem(args.par_financeur)):
        return _fail(problem)  # before the register is opened: a new one was created for nothing
    # The worker processes validate with the list the environment names, whatever their start
    # method (fork or spawn): the checked file is named there for the time of the command.
    before = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(chemin)
    try:  # (the register opened in it: a Ctrl-C once it is made still leaves no new one unused behind)
        # a folder mistyped stops the run before anything is read: the register not opened then, a new one
        # was made for nothing (left empty at the path given, « rien n'est écrit » said all the same)
        # (a broken link among them is listed, not mistyped: said, and the run recorded all the same), each
        # name read as the walk reads it: « 62/arras/ », a broken link, went unrecorded without a word
        if args.registre and all(named_takes(p) for p in args.chemins):
            from acv_xl.contract.system_errors import resolved
            from acv_xl.history.register import Register, RegisterError

            outputs = [("-o", args.sortie)] + ([("--json", args.json)] if args.json else [])
            for option, o in outputs:
                if resolved(o) == resolved(args.registre):
                    return _fail(f"le registre « {args.registre} » est aussi donné comme fichier de sortie ({option}) : "
                                 "donnez à la sortie un autre nom ; rien n'est écrit, le registre est laissé tel quel.")
            try:
                register = Register.open(Path(args.registre), __version__, liste=reference)
            except RegisterError as exc:
                return _fail(str(exc))
            options.update(cache=register, record=register)
            from acv_xl.history.register_key import key_problem

            if (why := key_problem()) is not None:  # every workbook read again: said, never silently slower
                _say(f"acv-xl : {why}", sys.stderr)
        status = run_consolider([Path(p) for p in args.chemins], Path(args.sortie), departement=args.departement,
                                json_path=Path(args.json) if args.json else None, jobs=args.jobs,
                                replace=args.remplacer, **options)
        for notice in register.notices if register is not None else ():  # another département's register?
            _say(f"acv-xl : attention, {notice}", sys.stderr)
        if register is not None and register.first and register.recorded is not None:
            # (a register made empty by a run that failed, a mistyped folder: its first consolidation too)
            _say(f"acv-xl : registre « {args.registre} »{' créé' if register.created else ''} : cette consolidation "
                 "est la première qu'il enregistre. Si le registre du département existe déjà ailleurs (renommé, "
                 "déplacé, copié d'un autre poste), relancez la consolidation en indiquant son chemin : « acv-xl "
                 "historique » ne montre que les comités d'un même registre.", sys.stderr)
        return status
    except KeyboardInterrupt:
        if register is None or register.recorded is None:
            raise
        # too late to stop it: « interrompu. » alone, the user would run it again, recorded twice
        return _fail(f"interrompu, mais après la fin de la consolidation : ses sorties sont écrites et elle est "
                     f"enregistrée dans le registre « {args.registre} » (consolidation n° {register.recorded}) ; "
                     "ne la relancez pas, elle y serait enregistrée deux fois.", 130)
    finally:
        if before is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = before
        if register is not None:
            register.close(remove_unused=True)


def cmd_historique(args) -> int:
    from acv_xl.history.historique import run_historique

    return run_historique(Path(args.registre), Path(args.sortie), Path(args.json) if args.json else None,
                          version=__version__, replace=args.remplacer, departement=args.departement)


def _names_a_file(text: str) -> bool:
    """Whether `text` names an existing file; a text no system takes for a name (too long: `is_file`
    raises) names none — never « fichier inaccessible » of what was typed as an identifier."""
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def cmd_reference(args) -> int:
    from acv_xl.contract.reference import SOURCES
    from acv_xl.contract.values import fmt_date, fmt_number

    ref, status = _reference(args)
    if ref is None:
        return status
    if args.cle:
        key = args.cle.strip().upper()
        cref = ref.conventions.get(key)
        if cref is None and key in ref.par_insee:
            cref = ref.conventions[ref.par_insee[key].id_acv]
        if cref is None:  # « acv 14 », « ACV-014 »: the identifier PRJ-03 reads there (imported only then)
            from acv_xl.checks.rules import meant_acv_id

            cref = ref.conventions.get(meant_acv_id(key) or "")
        if cref is None:
            why = f"« {args.cle} » n'est ni l'identifiant d'une convention ni le code INSEE d'une commune de la {ref.libelle}."
            if Path(args.cle).suffix.lower() == ".csv" or _names_a_file(args.cle):  # a list meant as --reference
                # a name with a space between double quotes, as bash, cmd and PowerShell all read it
                typed = f'"{args.cle}"' if any(c.isspace() for c in args.cle) else args.cle
                why += (f" Pour contrôler une liste des communes ACV (fichier .csv), donnez-la à --reference : "
                        f"« acv-xl reference --reference {typed} ».")
            return _fail(why)
        print(f"{cref.id_acv} — {cref.nom} (convention signée le {fmt_date(cref.date_signature)})"
              if cref.date_signature else f"{cref.id_acv} — {cref.nom} (date de signature inconnue)")
        for c in cref.communes:
            ort = f"ORT signée le {fmt_date(c.date_ort)}" if c.ort_signee and c.date_ort else \
                ("ORT signée" if c.ort_signee else ("ORT non signée" if c.ort else "ORT non renseignée"))
            print(f"  {c.insee_commune} {c.commune} : {fmt_number(c.population)} habitants, département "
                  f"{c.departement}, SIREN de l'EPCI {c.siren_epci}, {ort}")
        print(f"Source : {ref.libelle}.")
        return 0
    print(f"Liste en usage : {ref.libelle}, {len(ref.communes)} communes, {len(ref.conventions)} conventions.")
    print(f"Fichier : {ref.chemin}")
    if ref.livree:
        print(f"Données datées {ref.datee} ; sources :")
        for line in SOURCES:
            print(f"  - {line}")
        print("Une liste plus récente, au même format, la remplace : option --reference FICHIER.csv "
              "ou variable d'environnement ACV_XL_REFERENCE.")
    else:
        print(f"Fichier daté {ref.datee}.")
    return 0


def cmd_migrer(args) -> int:
    from acv_xl.history.migration import run_migrer

    return run_migrer(Path(args.ancien), Path(args.sortie), replace=args.remplacer)


def _port(text: str) -> int:
    """argparse type: a TCP port, said in French when it is not one."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"un numéro de port entre 1 et 65535 est attendu, pas « {text} »")
    return port


def _non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0 (0: no limit)."""
    if not (text.strip().isascii() and text.strip().isdigit()):  # « ² » is a digit to str.isdigit, not to int()
        raise argparse.ArgumentTypeError(f"un nombre entier positif ou nul est attendu, pas « {text} »")
    return int(text)


def _positive(kind):
    """argparse type: a strictly positive number (`kind` int or float, decimal comma accepted)."""
    def parse(text: str):
        try:
            value = kind(text.replace(",", ".") if kind is float else text)
        except ValueError:
            value = None
        # (float() reads « nan », « inf » and « 1e400 »: refused here, not at start under ACV_XL_… = « inf »)
        if value is None or not math.isfinite(value) or value <= 0:
            nombre = "un nombre entier" if kind is int else "un nombre"
            raise argparse.ArgumentTypeError(f"{nombre} strictement positif est attendu, pas « {text} »")
        return value
    return parse


def cmd_serveur(args) -> int:
    try:
        from udfs.server import run_server
    except ImportError as exc:
        return _fail(
            "le serveur xlwings n'est pas installé. Installez les dépendances Excel : "
            f"pip install 'acv-xl[excel]' ({exc})."
        )
    return run_server(host=args.hote, port=args.port, jeton_fichier=args.jeton_fichier,
                      certificat=args.certificat, cle=args.cle, url_publique=args.url_publique,
                      max_corps=args.max_corps, max_cellules=args.max_cellules, delai=args.delai,
                      delai_reception=args.delai_reception,
                      fils=args.fils, processus=args.processus, origines=args.origine,
                      connexions_par_adresse=args.connexions_par_adresse)


# ----------------------------------------------------------------------------- parser
_REFERENCE_HELP = ("liste des communes ACV plus récente que la liste nationale livrée (ANCT, avril 2024), au même "
                   "format ; défaut : la variable d'environnement ACV_XL_REFERENCE, sinon la liste livrée")


def _replace_option(s: argparse.ArgumentParser, convention: bool = False) -> None:
    # as `output_guard` decides: a report replaces one of its own kind without the option, a
    # convention workbook (`convention`: modele, exemples, valider --annoter) replaces nothing
    s.add_argument("--remplacer", action="store_true",
                   help="écrase un fichier de sortie existant, jamais un fichier lu par la commande (sans cette "
                        "option, aucun fichier existant n'est remplacé, pas même un rapport produit par acv-xl)"
                        if convention else
                        "écrase un fichier de sortie existant qui n'est pas un rapport de même sorte produit par "
                        "acv-xl, jamais un fichier lu par la commande (sans cette option, un classeur de convention "
                        "n'est jamais remplacé)")


def build_parser() -> argparse.ArgumentParser:
    p = _MainParser(
        prog="acv-xl",
        description="Boîte à outils Excel du programme Action Cœur de Ville : modèle de classeur, "
        "validation, annexe de la convention ou de l'avenant, consolidation départementale.",
    )
    p.add_argument("--version", action="version", version=f"acv-xl {__version__}", help="affiche la version et quitte")
    sub = p.add_subparsers(dest="commande", metavar="COMMANDE", parser_class=_CommandParser)
    sub.required = True

    s = sub.add_parser("modele", help="écrit le modèle de classeur vierge", description="Écrit le modèle de classeur ACV vierge (feuilles, tableaux, listes, formules, financeurs de référence).")
    s.add_argument("sortie", metavar="SORTIE.xlsx", help="fichier à écrire")
    _replace_option(s, convention=True)
    s.set_defaults(func=cmd_modele)

    s = sub.add_parser("exemples", help="écrit les classeurs de démonstration du Pas-de-Calais", description="Écrit un classeur par convention ACV du Pas-de-Calais, sous son identité réelle (liste nationale ACV) et avec des montants fictifs, certains sans erreur, d'autres avec des erreurs typiques.")
    s.add_argument("dossier", metavar="DOSSIER", help="dossier de sortie (créé s'il n'existe pas ; son dossier parent doit exister)")
    _replace_option(s, convention=True)
    s.set_defaults(func=cmd_exemples)

    s = sub.add_parser("valider", help="valide un ou plusieurs classeurs", description="Valide les classeurs et affiche un rapport. Statut de sortie : 0 aucune erreur (avertissements permis), 1 au moins une erreur, 2 fichier inutilisable ou mauvais usage (dont une sortie refusée).")
    s.add_argument("fichiers", nargs="+", metavar="FICHIER", help="classeur(s) .xlsx ou .xlsm")
    s.add_argument("--format", choices=("texte", "json"), default="texte", help="format du rapport (défaut : texte)")
    s.add_argument("--annoter", metavar="SORTIE.xlsx", help="écrit une copie annotée (feuille Contrôles remplie, cellules fautives surlignées) sans toucher au fichier d'origine")
    s.add_argument("--reference", metavar="FICHIER.csv", help=_REFERENCE_HELP)
    _replace_option(s, convention=True)
    s.set_defaults(func=cmd_valider)

    s = sub.add_parser("annexe", help="génère l'annexe de la convention ou de l'avenant", description="Génère l'annexe de la convention, ou de l'avenant avec --depuis ou --depuis-validation (classeur prêt à imprimer, et PDF avec --pdf). Refuse une convention qui a des erreurs, sauf avec --brouillon.")
    s.add_argument("fichier", metavar="FICHIER", help="classeur de la convention")
    s.add_argument("-o", "--sortie", metavar="SORTIE.xlsx", help="fichier à écrire (défaut : FICHIER_annexe.xlsx à côté du classeur ; FICHIER_annexe_avenant.xlsx avec --depuis ou --depuis-validation)")
    s.add_argument("--pdf", action="store_true", help="produit aussi le PDF (LibreOffice)")
    s.add_argument("--brouillon", action="store_true", help="génère malgré les erreurs, chaque page portant\u00a0«\u00a0PROJET\u00a0—\u00a0non\u00a0validé\u00a0»")
    before = s.add_mutually_exclusive_group()
    before.add_argument("--depuis", metavar="AVANT.xlsx", help="classeur de la convention avant l'avenant : l'annexe s'ouvre sur les modifications apportées par l'avenant")
    before.add_argument("--depuis-validation", action="store_true", help="l'état d'avant l'avenant est celui que le classeur garde de sa dernière validation (bouton «\u00a0Valider\u00a0» ou valider --annoter), vérifié par son empreinte : générez l'annexe avant de valider l'avenant")
    _replace_option(s)
    s.set_defaults(func=cmd_annexe)

    s = sub.add_parser("comparer", help="liste ce qui change entre deux états d'une convention", description="Compare deux classeurs de la même convention (par exemple avant et après un avenant) : lignes ajoutées, supprimées ou modifiées, et écarts des totaux. Statut de sortie : 0 aucun changement, 1 des changements, 2 fichier inutilisable, conventions différentes, un même fichier nommé deux fois ou mauvais usage (dont une sortie refusée).")
    s.add_argument("avant", metavar="AVANT.xlsx", help="classeur de référence (par exemple la convention validée)")
    s.add_argument("apres", metavar="APRES.xlsx", help="classeur modifié (par exemple le projet d'avenant)")
    s.add_argument("--format", choices=("texte", "json"), default="texte", help="format du rapport (défaut : texte)")
    s.add_argument("-o", "--sortie", metavar="ECARTS.xlsx", help="écrit aussi le classeur des écarts (changements colorés, totaux avant/après, graphique)")
    _replace_option(s)
    s.set_defaults(func=cmd_comparer)

    s = sub.add_parser("consolider", help="consolide les classeurs d'un département", description="Lit et valide tous les classeurs d'un dossier (récursivement) et écrit le classeur consolidé du département.")
    s.add_argument("chemins", nargs="+", metavar="DOSSIER|FICHIER", help="dossiers et/ou classeurs")
    s.add_argument("-o", "--sortie", required=True, metavar="SORTIE.xlsx", help="classeur consolidé à écrire")
    s.add_argument("--departement", metavar="CODE", help="code du département consolidé (ex. 62)")
    s.add_argument("--json", metavar="RESUME.json", help="écrit aussi les totaux et statuts par convention en JSON")
    s.add_argument("--jobs", type=_positive_int, metavar="N", help="nombre de processus de lecture au plus (défaut : tous les cœurs ; un processus pour 8 classeurs au moins)")
    s.add_argument("--reference", metavar="FICHIER.csv", help=_REFERENCE_HELP)
    s.add_argument("--registre", metavar="REGISTRE.sqlite", help="enregistre la consolidation dans le registre du département (créé au besoin) et ne relit pas les classeurs inchangés")
    s.add_argument("--comite", metavar="TEXTE", help="libellé du comité (ex. « Comité du 12/06/2026 ») ; sa date sert de date de référence de la préparation")
    s.add_argument("--sans-erreurs", action="store_true", help="ne compte que les conventions sans erreur (les autres sont listées avec le motif)")
    s.add_argument("--par-financeur", metavar="DOSSIER", help="écrit aussi un classeur par financeur (financeur_ETAT.xlsx…) dans DOSSIER")
    _replace_option(s)
    s.set_defaults(func=cmd_consolider)

    s = sub.add_parser("historique", help="évolution du département d'un comité à l'autre", description="Lit le registre du département et écrit l'évolution des engagements de chaque financeur et de chaque convention d'une consolidation à l'autre.")
    s.add_argument("registre", metavar="REGISTRE.sqlite", help="registre écrit par « consolider --registre »")
    s.add_argument("-o", "--sortie", required=True, metavar="EVOLUTION.xlsx", help="classeur à écrire")
    s.add_argument("--json", metavar="EVOLUTION.json", help="écrit aussi l'évolution en JSON")
    s.add_argument("--departement", metavar="CODE", help="ne montre que les consolidations de ce département (ex. 62), pour le registre d'une région")
    _replace_option(s)
    s.set_defaults(func=cmd_historique)

    s = sub.add_parser("migrer", help="recopie un classeur ancien ou endommagé dans le modèle actuel", description="Écrit le modèle actuel (boutons, listes, formules) rempli de toutes les valeurs d'un classeur d'une version antérieure du modèle ou endommagé (lignes saisies sous un tableau, feuilles ou tableaux renommés, listes perdues). Statut de sortie : 0 tout est repris, 1 des valeurs n'ont pas pu être reprises (listées avec leur feuille et leur cellule), 2 fichier inutilisable ou mauvais usage (dont une sortie refusée).")
    s.add_argument("ancien", metavar="ANCIEN.xlsx", help="classeur à migrer (il n'est jamais modifié)")
    s.add_argument("-o", "--sortie", required=True, metavar="NOUVEAU.xlsx", help="classeur à écrire")
    s.add_argument("--remplacer", action="store_true", help="remplace NOUVEAU.xlsx s'il existe déjà (jamais le classeur d'origine)")
    s.set_defaults(func=cmd_migrer)

    s = sub.add_parser("serveur", help="démarre xlwings Server (boutons et fonctions dans Excel)", description="Démarre xlwings Server avec les fonctions et scripts ACV ; affiche l'adresse du manifeste à charger dans Excel.")
    s.add_argument("--hote", default="127.0.0.1", help="adresse d'écoute (défaut : 127.0.0.1)")
    s.add_argument("--port", type=_port, default=8000, help="port (défaut : 8000)")
    s.add_argument("--jeton-fichier", metavar="FICHIER", help="jetons d'accès, un par ligne (sinon les variables ACV_XL_JETON_FICHIER ou ACV_XL_JETON) ; obligatoire hors de 127.0.0.1")
    s.add_argument("--certificat", metavar="CERT.pem", help="certificat HTTPS (obligatoire hors de 127.0.0.1, avec --cle)")
    s.add_argument("--cle", metavar="CLE.pem", help="clé privée du certificat HTTPS")
    s.add_argument("--url-publique", metavar="URL", help="adresse HTTPS du frontal (ex. https://acv.departement.gouv.fr), portée par le manifeste")
    s.add_argument("--max-corps", type=_positive(float), metavar="MO", help="taille maximale d'une requête en Mo (défaut : 20)")
    s.add_argument("--max-cellules", type=_positive(int), metavar="N", help="cellules au plus par requête (défaut : 1 000 000)")
    s.add_argument("--delai", type=_positive(float), metavar="S", help="durée maximale d'un appel en secondes (défaut : 60)")
    s.add_argument("--delai-reception", type=_positive(float), metavar="S", help="temps laissé au client pour envoyer les en-têtes d'une requête, puis son contenu, ou pour lire la réponse, en secondes (défaut : 30)")
    s.add_argument("--fils", type=_positive(int), metavar="N", help="fils de calcul par processus (défaut : cœurs + 4, au plus 32)")
    s.add_argument("--processus", type=_positive_int, metavar="N", help="processus serveur (défaut : 1 ; au plus deux par cœur de la machine, et dans la mémoire et les fils d'exécution permis au service)")
    s.add_argument("--origine", action="append", metavar="URL", help="autre origine web autorisée (répétable)")
    s.add_argument("--connexions-par-adresse", type=_non_negative_int, metavar="N", help="connexions ouvertes au plus par adresse de client et par processus, boucle locale exceptée (défaut : 256, au plus le quart des connexions d'un processus ; 0 : sans limite, derrière un frontal installé sur une autre machine ou hors du conteneur)")
    s.set_defaults(func=cmd_serveur)

    s = sub.add_parser("reference", help="affiche la liste nationale des communes ACV en usage", description="Affiche la liste nationale des communes du programme utilisée par les contrôles (source, date, effectifs), ou une convention de la liste. Avec --reference, contrôle une liste plus récente.")
    s.add_argument("cle", nargs="?", metavar="ACVxxx|INSEE", help="identifiant d'une convention ou code INSEE d'une de ses communes")
    s.add_argument("--reference", metavar="FICHIER.csv", help=_REFERENCE_HELP)
    s.set_defaults(func=cmd_reference)
    return p


def _utf8_output() -> None:
    """Redirected output (a JSON report into a file) is UTF-8 on every system; a console keeps
    its encoding but never fails on a character it cannot show. Neither fails on a file name that
    is not UTF-8 (its undecodable bytes are held as surrogates): « ? » stands for them.
    No stream at all (None: `pythonw`, a scheduled task, a closed descriptor): written to nowhere,
    as `print` does, never « erreur interne » after the work is done."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 — for the program's lifetime
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream.isatty():
                stream.reconfigure(errors="replace")
            else:
                stream.reconfigure(encoding="utf-8", errors="replace")
        except (AttributeError, ValueError, OSError):
            pass  # a stream replaced by a caller (tests, IDEs)


def _exit_now(status: int) -> None:
    """End the program without Python's teardown, which frees every object and module one by one
    (≈ 25 ms of a `valider`, ≈ 40 ms of a `consolider`) for memory the system takes back at once.

    Called once the command has returned: its outputs are written, renamed and closed, the register
    committed and closed. What Python's own exit would still do that matters is done here: the
    `atexit` functions run (multiprocessing's, temporary folders', a coverage tool's), stdout and
    stderr are flushed, the status kept. Where that cannot be vouched for — a thread still running,
    which Python's exit would wait for, or a stream that cannot be flushed, which it would report —
    it returns, and Python ends as usual (the collector frozen: it never walks what is left)."""
    import gc
    import threading

    gc.freeze()
    if not isinstance(status, int) or not 0 <= status <= 255 or threading.active_count() > 1:
        return
    try:
        import atexit

        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 — reported by Python's own exit, as without this function
        return
    os._exit(status)


def main(argv: list[str] | None = None, program: bool = False) -> int:
    """The command of `argv` (else the command line's), its exit status returned. `program`: called
    as the program `acv-xl` itself (`run`), which then ends without Python's teardown."""
    _utf8_output()
    # pydantic scans every installed package's entry points for plugins (observability hooks) on
    # its first model: ~20 ms of a `valider` run for nothing a command line uses, and imports
    # `importlib.metadata` even when told not to scan (≈ 6–10 ms). A user's own setting wins.
    from acv_xl.contract import pydantic_plugins

    pydantic_plugins.disable()
    args = build_parser().parse_args(argv)
    if program:
        _ctrl_c_never_swallowed()
    if program and args.func is not cmd_serveur:  # its results left to the end (`_exit_now`)
        from acv_xl.outputs import program_end

        program_end.ending_soon()
    status = _run(args)
    # the program's own command line (`run`), never a caller's: a script calling `main()` goes on
    # after it, its files still open; a server's exit is not worth the doubt
    if program and args.func is not cmd_serveur:
        _exit_now(status)
        from acv_xl.outputs import program_end  # still here (a thread to wait for): Python's own exit

        program_end.ending_soon(False)
    return status


def _ctrl_c_never_swallowed() -> None:
    """A Ctrl-C landing while a weak reference's callback runs (memory freed along the way) is not
    raised by Python but printed — « Exception ignored in … Traceback … KeyboardInterrupt » — and lost:
    the command went on to its end under a traceback. It is raised again in the main thread, where the
    command stops as at any other moment (« interrompu. »). The program's own hook: a script calling
    `main()` keeps its own."""
    import _thread
    import threading

    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            # from another thread, a moment later: raised here, in the hook, it would be « ignored » again
            timer = threading.Timer(0.01, _thread.interrupt_main)
            timer.daemon = True
            timer.start()
            return
        previous(unraisable)

    sys.unraisablehook = hook


def run() -> None:
    """The program `acv-xl` (its console script, `python -m acv_xl`): the command line's command,
    then its exit (`_exit_now`)."""
    sys.exit(main(program=True))


def _run(args) -> int:
    """The command, its errors turned into a French message and an exit status."""
    from acv_xl.outputs.atomic import OutputError

    try:
        status = args.func(args)
        sys.stdout.flush()  # inside the try: a reader gone away shows here at the latest
        return status
    except KeyboardInterrupt as exc:  # (what a run had written by then, if it says so: `Interrupted`)
        return _fail(str(exc) or "interrompu.", 130)
    except BrokenPipeError:
        # the reader of our output went away (`acv-xl valider … | head`): end quietly, but never with
        # 0 (« aucune erreur ») for a report cut short, whatever it held: the status a shell gives a
        # program a closed pipe stopped (128 + SIGPIPE), which `set -o pipefail` takes as a failure
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 — Python flushes stdout at exit
        except OSError:
            pass
        return 141
    except OutputError as exc:  # an output that could not be written: its name, never a temp file's
        return _fail(str(exc))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        return _fail(_os_failure(exc))
    except Exception as exc:  # never a traceback for a user; ACV_XL_DEBUG=1 shows it
        import errno

        from acv_xl.contract.reference import ReferenceInvalide, after_colon

        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            # the report redirected to a full disk (`acv-xl valider … > rapport.json`): said as
            # such, not « erreur interne », and the text it could not hold dropped (else Python's
            # exit would try again and report it in English)
            try:
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            except OSError:
                pass
            return _fail("écriture impossible : plus de place sur le disque (ou quota atteint) ; "
                         "la sortie est incomplète.")

        if isinstance(exc, ReferenceInvalide):  # ACV_XL_REFERENCE names a bad list (annexe): a misuse
            return _fail(after_colon(str(exc)))
        if isinstance(exc, OSError) and not os.environ.get("ACV_XL_DEBUG"):  # a disk or share gone…: the system's
            return _fail(_os_failure(exc))                                   # reason, in French
        if type(exc).__name__ == "LicenseError":  # xlwings' own, in English: a set-up to fix, not a bug
            return _fail("la clé de licence d'xlwings (variable d'environnement XLWINGS_LICENSE_KEY) est vide ou "
                         "invalide. Pour une commune, un EPCI ou une préfecture (usage non commercial), définissez "
                         "XLWINGS_LICENSE_KEY=noncommercial ou retirez la variable ; voir le README, « Licence ».")
        if os.environ.get("ACV_XL_DEBUG"):
            raise
        return _fail(f"erreur interne inattendue ({type(exc).__name__} : {exc}). "
                     "Relancez avec ACV_XL_DEBUG=1 pour le détail et signalez-la.")


if __name__ == "__main__":  # pragma: no cover
    run()
