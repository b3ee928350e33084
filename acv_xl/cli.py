"""`acv-xl`: the command line, one thin command per job, each a twin of a library function.

argparse rather than typer: it starts in a few milliseconds (the `valider` benchmark counts the
whole process) and every word it prints can be put in French. Modules are imported inside each
command so that a command pays only for what it uses.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from acv_xl import __version__

# argparse's own words, in French (argparse looks `_` up at call time).
_FR = {
    "usage: ": "usage : ",
    "options": "options",
    "positional arguments": "arguments",
    "show this help message and exit": "affiche cette aide et quitte",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "unrecognized arguments: %s": "arguments non reconnus : %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (choisir parmi %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "expected one argument": "une valeur est attendue",
    "invalid %(type)s value: %(value)r": "valeur invalide pour %(type)s : %(value)r",
    "show program's version number and exit": "affiche la version et quitte",
}


def _fr(text: str) -> str:
    return _FR.get(text, text)


argparse._ = _fr  # type: ignore[attr-defined]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: exit status 2, as the spec says
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"un nombre entier est attendu, pas « {text} »") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"au moins 1 processus, pas {n}")
    return n


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _fail(message: str, status: int = 2) -> int:
    print(f"acv-xl : {message}", file=sys.stderr)
    return status


# ----------------------------------------------------------------------------- commands
def cmd_modele(args) -> int:
    from acv_xl.outputs.template import build_workbook

    out = Path(args.sortie)
    if out.suffix.lower() != ".xlsx":
        return _fail(f"le fichier de sortie doit avoir l'extension .xlsx : {out}")
    build_workbook(out)
    print(f"Modèle écrit : {out}")
    return 0


def cmd_exemples(args) -> int:
    from acv_xl.outputs.examples import write_examples

    paths = write_examples(Path(args.dossier))
    for p in paths:
        print(f"Exemple écrit : {p}")
    return 0


def cmd_valider(args) -> int:
    if args.annoter and len(args.fichiers) == 1:
        from acv_xl.outputs.annotate import check_output

        if problem := check_output(Path(args.fichiers[0]), Path(args.annoter)):  # e.g. SORTIE = FICHIER
            return _fail(problem)
    from acv_xl.checks.validate import validate_file

    reports = [validate_file(Path(f)) for f in args.fichiers]
    if args.annoter:
        if len(reports) != 1:
            return _fail("--annoter s'emploie avec un seul fichier.")
        if reports[0].convention is None:
            return _fail("impossible d'annoter un fichier illisible.")
        from acv_xl.outputs.annotate import AnnotationError, annotate

        try:
            annotate(Path(args.fichiers[0]), Path(args.annoter), reports[0])
        except AnnotationError as exc:
            return _fail(str(exc))
    if args.format == "json":
        import json

        from acv_xl.outputs.report import to_json

        data = [to_json(r) for r in reports]
        print(json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2))
    else:
        from acv_xl.outputs.report import render_text

        render_text(reports, _console())
        if args.annoter:
            print(f"Copie annotée écrite : {args.annoter}")
    return max(r.exit_code for r in reports)


def cmd_annexe(args) -> int:
    from acv_xl.outputs.annex import run_annexe

    return run_annexe(Path(args.fichier), Path(args.sortie) if args.sortie else None,
                      pdf=args.pdf, brouillon=args.brouillon, console=_console())


def cmd_consolider(args) -> int:
    from acv_xl.outputs.consolidation import run_consolider

    options = {"comite": args.comite, "sans_erreurs": args.sans_erreurs,
               "par_financeur": Path(args.par_financeur) if args.par_financeur else None}
    register = None
    if args.registre:
        from acv_xl.history.register import Register, RegisterError

        outputs = [args.sortie] + ([args.json] if args.json else [])
        if any(Path(o).resolve() == Path(args.registre).resolve() for o in outputs):
            return _fail(f"le registre ne peut pas être aussi un fichier de sortie : {args.registre}")
        try:
            register = Register.open(Path(args.registre), __version__)
        except RegisterError as exc:
            return _fail(str(exc))
        options.update(cache=register, record=register.record)
    try:
        return run_consolider([Path(p) for p in args.chemins], Path(args.sortie), departement=args.departement,
                              json_path=Path(args.json) if args.json else None, jobs=args.jobs, **options)
    finally:
        if register is not None:
            register.close()


def cmd_historique(args) -> int:
    from acv_xl.history.historique import run_historique

    return run_historique(Path(args.registre), Path(args.sortie), Path(args.json) if args.json else None,
                          version=__version__)


def cmd_serveur(args) -> int:
    try:
        from udfs.server import run_server
    except ImportError as exc:
        return _fail(
            "le serveur xlwings n'est pas installé. Installez les dépendances Excel : "
            f"pip install 'acv-xl[excel]' ({exc})."
        )
    return run_server(host=args.hote, port=args.port)


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="acv-xl",
        description="Boîte à outils Excel du programme Action Cœur de Ville : modèle de classeur, "
        "validation, annexe de l'avenant, consolidation départementale.",
    )
    p.add_argument("--version", action="version", version=f"acv-xl {__version__}", help="affiche la version et quitte")
    sub = p.add_subparsers(dest="commande", metavar="COMMANDE", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser("modele", help="écrit le modèle de classeur vide", description="Écrit le modèle de classeur ACV vide (feuilles, tableaux, listes, formules, financeurs de référence).")
    s.add_argument("sortie", metavar="SORTIE.xlsx", help="fichier à écrire")
    s.set_defaults(func=cmd_modele)

    s = sub.add_parser("exemples", help="écrit les classeurs de démonstration du Pas-de-Calais", description="Écrit un classeur par convention ACV du Pas-de-Calais (montants fictifs), certains sans erreur, d'autres avec des erreurs typiques.")
    s.add_argument("dossier", metavar="DOSSIER", help="dossier de sortie (créé au besoin)")
    s.set_defaults(func=cmd_exemples)

    s = sub.add_parser("valider", help="valide un ou plusieurs classeurs", description="Valide les classeurs et affiche un rapport. Statut de sortie : 0 sans erreur, 1 au moins une erreur, 2 fichier inutilisable.")
    s.add_argument("fichiers", nargs="+", metavar="FICHIER", help="classeur(s) .xlsx ou .xlsm")
    s.add_argument("--format", choices=("texte", "json"), default="texte", help="format du rapport (défaut : texte)")
    s.add_argument("--annoter", metavar="SORTIE.xlsx", help="écrit une copie annotée (feuille Contrôles remplie, cellules fautives surlignées) sans toucher au fichier d'origine")
    s.set_defaults(func=cmd_valider)

    s = sub.add_parser("annexe", help="génère l'annexe de l'avenant", description="Génère l'annexe de l'avenant (classeur prêt à imprimer, et PDF avec --pdf). Refuse une convention qui a des erreurs, sauf avec --brouillon.")
    s.add_argument("fichier", metavar="FICHIER", help="classeur de la convention")
    s.add_argument("-o", "--sortie", metavar="SORTIE.xlsx", help="fichier à écrire (défaut : FICHIER_annexe.xlsx à côté du classeur)")
    s.add_argument("--pdf", action="store_true", help="produit aussi le PDF (LibreOffice)")
    s.add_argument("--brouillon", action="store_true", help="génère malgré les erreurs, chaque page portant\u00a0«\u00a0PROJET\u00a0—\u00a0non\u00a0validé\u00a0»")
    s.set_defaults(func=cmd_annexe)

    s = sub.add_parser("consolider", help="consolide les classeurs d'un département", description="Lit et valide tous les classeurs d'un dossier (récursivement) et écrit le classeur consolidé du département.")
    s.add_argument("chemins", nargs="+", metavar="DOSSIER|FICHIER", help="dossiers et/ou classeurs")
    s.add_argument("-o", "--sortie", required=True, metavar="SORTIE.xlsx", help="classeur consolidé à écrire")
    s.add_argument("--departement", metavar="CODE", help="code du département consolidé (ex. 62)")
    s.add_argument("--json", metavar="RESUME.json", help="écrit aussi les totaux et statuts par convention en JSON")
    s.add_argument("--jobs", type=_positive_int, metavar="N", help="nombre de processus (défaut : tous les cœurs)")
    s.add_argument("--registre", metavar="REGISTRE.sqlite", help="enregistre la consolidation dans le registre du département (créé au besoin) et ne relit pas les classeurs inchangés")
    s.add_argument("--comite", metavar="TEXTE", help="libellé du comité (ex. « Comité du 12/06/2026 ») ; sa date sert de date de référence de la préparation")
    s.add_argument("--sans-erreurs", action="store_true", help="ne compte que les conventions sans erreur (les autres sont listées avec le motif)")
    s.add_argument("--par-financeur", metavar="DOSSIER", help="écrit aussi un classeur par financeur (financeur_ETAT.xlsx…) dans DOSSIER")
    s.set_defaults(func=cmd_consolider)

    s = sub.add_parser("historique", help="évolution du département d'un comité à l'autre", description="Lit le registre du département et écrit l'évolution des engagements de chaque financeur et de chaque convention d'une consolidation à l'autre.")
    s.add_argument("registre", metavar="REGISTRE.sqlite", help="registre écrit par « consolider --registre »")
    s.add_argument("-o", "--sortie", required=True, metavar="EVOLUTION.xlsx", help="classeur à écrire")
    s.add_argument("--json", metavar="EVOLUTION.json", help="écrit aussi l'évolution en JSON")
    s.set_defaults(func=cmd_historique)

    s = sub.add_parser("serveur", help="démarre xlwings Server (boutons et fonctions dans Excel)", description="Démarre xlwings Server avec les fonctions et scripts ACV ; affiche l'adresse du manifeste à charger dans Excel.")
    s.add_argument("--hote", default="127.0.0.1", help="adresse d'écoute (défaut : 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (défaut : 8000)")
    s.set_defaults(func=cmd_serveur)
    return p


def _utf8_output() -> None:
    """Redirected output (a JSON report into a file) is UTF-8 on every system; a console keeps
    its encoding but never fails on a character it cannot show."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream.isatty():
                stream.reconfigure(errors="replace")
            else:
                stream.reconfigure(encoding="utf-8")
        except (AttributeError, ValueError, OSError):
            pass  # a stream replaced by a caller (tests, IDEs)


def main(argv: list[str] | None = None) -> int:
    _utf8_output()
    # pydantic scans every installed package's entry points for plugins (observability hooks) on
    # its first model: ~20 ms of a `valider` run for nothing a command line uses. A user's own
    # setting wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
        sys.stdout.flush()  # inside the try: a reader gone away shows here at the latest
        return status
    except KeyboardInterrupt:
        return _fail("interrompu.", 130)
    except BrokenPipeError:
        # the reader of our output went away (`acv-xl valider … | head`): end quietly
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 — Python flushes stdout at exit
        except OSError:
            pass
        return 0
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        return _fail(f"fichier inaccessible : {exc.filename or exc}")
    except Exception as exc:  # never a traceback for a user; ACV_XL_DEBUG=1 shows it
        if os.environ.get("ACV_XL_DEBUG"):
            raise
        return _fail(f"erreur interne inattendue ({type(exc).__name__} : {exc}). "
                     "Relancez avec ACV_XL_DEBUG=1 pour le détail et signalez-la.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
