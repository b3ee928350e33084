"""Why the system refused a file operation, in French.

An `OSError`'s own text is the system's, in English (« Permission denied », « Is a directory »,
« No such file or directory »): no message of acv-xl shows it. `os_error_text(exc)` gives the
reason a user reads instead, for every error a user can meet on a file (rights, a missing or
misnamed path, a full or read-only disk, a network share gone, a file Excel holds open…), and
for any other error number a French sentence naming it (« erreur du système EXYZ, n° 42 »), so
that the assistance can still tell what happened. It sits in the lowest layer: the list of
communes, the reader, the outputs, the register and the Excel side all use it.
"""

from __future__ import annotations

import errno
import os

_DENIED = "accès refusé"
_REASONS: dict[int, str] = {
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EROFS: "support en lecture seule",
    errno.EMFILE: "trop de fichiers ouverts à la fois par acv-xl",
    errno.ENFILE: "trop de fichiers ouverts sur l'ordinateur",
    errno.ENAMETOOLONG: "nom de fichier ou chemin trop long",
    errno.ELOOP: "trop de liens symboliques dans le chemin, ou une boucle",
    errno.EBUSY: "fichier ou support occupé par un autre programme",
    errno.ETXTBSY: "fichier occupé par un autre programme",
    errno.EIO: "erreur de lecture ou d'écriture sur le support, endommagé ou déconnecté",
    errno.EEXIST: "le fichier existe déjà",
    errno.EINVAL: "nom de fichier ou opération invalide",
    errno.EFBIG: "fichier trop volumineux pour le support",
    errno.ENOMEM: "mémoire insuffisante",
    errno.EAGAIN: "ressource momentanément indisponible : réessayez",
    errno.ENODEV: "périphérique absent ou support retiré",
    errno.ENXIO: "périphérique absent ou support retiré",
    errno.ETIMEDOUT: "délai dépassé, partage réseau injoignable",
    errno.EHOSTUNREACH: "partage réseau injoignable",
    errno.ENETUNREACH: "partage réseau injoignable",
    errno.ECONNRESET: "connexion au partage réseau interrompue",
}
for _name, _text in (("EDQUOT", "quota de disque atteint"),
                     ("ESTALE", "partage réseau déconnecté : rouvrez le dossier"),
                     ("EHOSTDOWN", "partage réseau injoignable")):
    if hasattr(errno, _name):  # not on every system (Windows)
        _REASONS[getattr(errno, _name)] = _text

# Windows reports a file another program holds open as a sharing or lock violation
_WINDOWS_REASONS = {
    32: "le fichier est ouvert dans un autre programme, Excel peut-être : fermez-le",
    33: "une partie du fichier est verrouillée par un autre programme, Excel peut-être : fermez-le",
    # a share gone while the file is read: Python says EINVAL, « nom de fichier invalide », for both
    59: "connexion au partage réseau interrompue",
    64: "partage réseau déconnecté : rouvrez le dossier",
}
# A OneDrive file « disponible en ligne uniquement » that Windows could not download when opened
# (OneDrive stopped or terminated meanwhile, no network, the download timed out, a session expired):
# Python says EINVAL too
_CLOUD = ("fichier OneDrive ou SharePoint non téléchargé sur ce PC, OneDrive arrêté ou hors connexion : "
          "lancez OneDrive, vérifiez la connexion, ou choisissez « Toujours conserver sur cet appareil »")
_WINDOWS_REASONS.update(dict.fromkeys((362, 386, 388, 389, 393, 395, 398, 404, 426), _CLOUD))


def os_error_text(exc: OSError) -> str:
    """Why `exc` happened, in French, without the path (« accès refusé », « fichier ou dossier
    introuvable »…): the message around it names the file. No parenthesis inside: callers often
    put the reason between brackets."""
    if (reason := _WINDOWS_REASONS.get(getattr(exc, "winerror", None) or 0)) is not None:
        return reason
    number = exc.errno
    if number in _REASONS:
        return _REASONS[number]
    if number is None:  # raised without an error number (a library's own OSError)
        return f"erreur du système {type(exc).__name__}, sans numéro"
    name = errno.errorcode.get(number)
    return f"erreur du système {name}, n° {number}" if name else f"erreur du système n° {number}"


def resolved(path: "os.PathLike[str] | str") -> "Path":
    """`path` made absolute with its symbolic links followed, like `Path.resolve()`; a path whose
    links loop stays absolute as written (`Path.resolve()` raises RuntimeError for it before
    Python 3.13, which reached the user as « erreur interne »): reading or writing it then fails
    with ELOOP, said in French by `os_error_text`."""
    from pathlib import Path

    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))
