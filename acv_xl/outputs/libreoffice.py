"""LibreOffice headless: convert (and so recalculate or print) workbooks. Every formula is
recalculated on loading (`_RECALCULATE_ON_LOAD`): what is printed is the formulas' values.

Each call uses a private profile directory so that parallel runs never collide, and all files
of one call go through one soffice process (starting it costs ~1 s; each extra file ~0.15 s).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

INSTALL_HINT = (
    "LibreOffice est introuvable (commande « soffice »). Installez-le puis relancez : "
    "sous Debian/Ubuntu « sudo apt-get install libreoffice-calc fonts-crosextra-carlito fonts-liberation2 », "
    "sous Windows depuis "
    "https://fr.libreoffice.org/download/ ."
)


# The private profile's settings: every formula recalculated on loading, whatever the file claims.
# LibreOffice otherwise keeps the values cached in the file when it says Excel wrote it (XlsxWriter
# and openpyxl say so): a total written without its value, or stale, printed empty or wrong.
_RECALCULATE_ON_LOAD = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


class LibreOfficeMissing(RuntimeError):
    pass


class ConversionFailed(RuntimeError):
    pass


def soffice() -> str | None:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    return None


# How long a conversion may take: LibreOffice prints a few pages a second, a big annex (hundreds of
# fiches, some hundreds of kB) a few hundred pages; a fixed 3 minutes gave up on it on a slow or busy
# machine. 3 minutes, and one more for each 100 kB of input.
BASE_SECONDS = 180.0
SECONDS_PER_KB = 0.6


def time_limit(files: list[Path]) -> float:
    """The seconds a conversion of `files` is given (`BASE_SECONDS`, more for bigger files)."""
    size = sum(f.stat().st_size for f in files if f.is_file())
    return BASE_SECONDS + SECONDS_PER_KB * size / 1000


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")


def _run(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """`cmd` run to its end, or stopped with every process it started: `soffice` is a script whose
    `soffice.bin` survived a timeout (killing the script alone), went on converting for minutes on a
    machine already too slow, and wrote its PDF after the error was reported."""
    posix = os.name == "posix"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=posix,
                            creationflags=0 if posix else subprocess.CREATE_NEW_PROCESS_GROUP)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:  # the time limit, or a Ctrl-C: in its own session, LibreOffice never got the latter
        if posix:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True)
        proc.kill()
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def convert(paths: list[Path] | Path, fmt: str, outdir: Path, timeout: float | None = None) -> list[Path]:
    """Convert files to `fmt` ("pdf", "xlsx"…) into `outdir`; returns the written paths. `timeout`:
    seconds, `time_limit` of the files by default."""
    exe = soffice()
    if exe is None:
        raise LibreOfficeMissing(INSTALL_HINT)
    files = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ext = fmt.split(":")[0]
    timeout = time_limit(files) if timeout is None else timeout
    out = [outdir / (f.stem + "." + ext) for f in files]
    with tempfile.TemporaryDirectory(prefix="acv-lo-") as profile:
        (Path(profile) / "user").mkdir()
        (Path(profile) / "user" / "registrymodifications.xcu").write_text(_RECALCULATE_ON_LOAD, encoding="utf-8")
        # LibreOffice reads --outdir as a URL of its own: with « ; », « # » or « ? » in the folder's
        # name (« Comité #3 ») the conversion failed, and « %41 » made it write into another folder
        # (« A »). It writes into a folder of the private profile, plainly named, and the files are
        # moved to `outdir` (the input files' names may hold anything: LibreOffice reads them right)
        produced = Path(profile) / "sortie"
        produced.mkdir()
        cmd = [
            exe, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless", "--norestore",
            "--convert-to", fmt, "--outdir", str(produced), *map(str, files),
        ]
        env = {**os.environ, "HOME": profile}
        try:
            proc = _run(cmd, env, timeout)
        except subprocess.TimeoutExpired as exc:
            raise ConversionFailed(
                f"LibreOffice n'a pas terminé la conversion en {_duration(timeout)} (limite fixée d'après la taille "
                "du fichier) et a été arrêté ; l'ordinateur est peut-être trop chargé : relancez plus tard, ou "
                "ouvrez le classeur dans Excel ou LibreOffice et enregistrez-le en PDF.") from exc
        for made, target in zip((produced / p.name for p in out), out):
            if made.exists():
                shutil.move(made, target)
    missing = [p for p in out if not p.exists()]
    if proc.returncode != 0 or missing:
        raise ConversionFailed(_failure(files, out, missing, proc))
    return out


def _failure(files: list[Path], out: list[Path], missing: list[Path], proc: subprocess.CompletedProcess) -> str:
    """What went wrong, in French: LibreOffice's own output is English (« Error: source file could
    not be loaded ») and was quoted to the user as is. The one failure it names that a user can act
    on, a file it could not open, is said in French alone; otherwise its exit code, and its own last
    words (`_own_words`): without them, nobody could tell why (a full disk, a broken installation)."""
    said = f"{proc.stdout or ''}\n{proc.stderr or ''}".lower()
    not_made = [f.name for f, o in zip(files, out) if o in missing]
    unopened = "could not be loaded" in said and not_made
    cause = (f"LibreOffice n'a pas pu ouvrir {_names(not_made)}" if unopened
             else f"LibreOffice s'est arrêté avec le code {proc.returncode}" if proc.returncode != 0
             else f"LibreOffice n'a pas produit de fichier pour {_names(not_made)}")
    words = "" if unopened else _own_words(proc.stderr or "")
    return (f"{cause}, la conversion a échoué. Ouvrez le classeur dans Excel ou LibreOffice et enregistrez-le en "
            "PDF, ou relancez la commande." + (f" Message de LibreOffice, pour l'assistance : « {words} »." if words
                                               else ""))


# What LibreOffice writes on every run without Java, failed or not: never the reason of a failure
_NOISE = ("warning: failed to launch javaldx", "javaldx failed!")
OWN_LINES, OWN_LINE_CHARS = 3, 300


def _own_words(stderr: str) -> str:
    """LibreOffice's last `OWN_LINES` lines of error output (its noise left out), each cut to
    `OWN_LINE_CHARS` with « … », joined by « / »; "" when it wrote nothing else."""
    lines = [ln.strip() for ln in stderr.splitlines()]
    lines = [ln for ln in lines if ln and not ln.lower().startswith(_NOISE)][-OWN_LINES:]
    return " / ".join(ln if len(ln) <= OWN_LINE_CHARS else ln[:OWN_LINE_CHARS - 1] + "…" for ln in lines)


def _names(names: list[str]) -> str:
    return ", ".join(f"« {n} »" for n in names)
