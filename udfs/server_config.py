"""Settings of `acv-xl serveur` beyond xlwings Server's own: access tokens and request limits.

`acv-xl serveur` turns its options into the `ACV_XL_…` environment variables below, which every
server process reads here (uvicorn starts its workers by import, without our command line), so a
service unit may also set them directly. A bad value is a `ConfigError` in French.

Tokens: `ACV_XL_JETON` (one token), or a file (`ACV_XL_JETON_FICHIER`, `--jeton-fichier`) with one
token per line, optionally preceded by a label (`arras  3q7…`), `#` for comments (and only it: at the
start of a line or after a space), a token being a Bearer token (RFC 6750's alphabet). The file is
read again whenever it changes: a token is added or revoked without a restart. Only SHA-256
digests are kept, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from acv_xl.contract.system_errors import os_error_text

log = logging.getLogger("acv_xl.serveur")

MIN_TOKEN = 20  # characters: `python -c "import secrets; print(secrets.token_urlsafe(32))"` gives 43
DEFAULT_MAX_BODY_MB = 20
DEFAULT_MAX_CELLS = 1_000_000
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_RECEIVE_TIMEOUT_S = 30.0
MAX_THREADS = 128

ENV_TOKEN = "ACV_XL_JETON"
ENV_TOKEN_FILE = "ACV_XL_JETON_FICHIER"
ENV_MAX_BODY = "ACV_XL_MAX_CORPS_MO"
ENV_MAX_CELLS = "ACV_XL_MAX_CELLULES"
ENV_TIMEOUT = "ACV_XL_DELAI"
ENV_RECEIVE_TIMEOUT = "ACV_XL_DELAI_RECEPTION"
ENV_THREADS = "ACV_XL_FILS"
ENV_ORIGINS = "ACV_XL_ORIGINES"
ENV_PUBLIC_URL = "ACV_XL_URL_PUBLIQUE"
ENV_PER_ADDRESS = "ACV_XL_CONNEXIONS_PAR_ADRESSE"
DEFAULT_PER_ADDRESS = 256  # a browser opens at most 6 connections to a server: 40 agents behind one address


class ConfigError(Exception):
    """A setting that prevents starting: `str(exc)` is the French message."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def parse_token_lines(text: str, source: str, refused: list[tuple[str | None, str]]) -> list[tuple[str, bytes]]:
    """(label, digest) of each token line; a too short token (guessable) leaves its line out, and (label
    written on it or None, where and why, in French) is added to `refused`."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        # « # » begins a comment at the start of a line or after a space, as in a shell: « arras 3q7…  #
        # mairie » refused the line, its last word taken for its token (no generator writes a « # »)
        line, *comment = _INLINE_COMMENT.split(line, 1)
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        token, label = parts[-1], " ".join(parts[:-1]) or f"jeton ligne {n}"
        if len(parts) > 1 and (mark := _foreign_comment(parts[0])):  # (a lone token may begin with « -- »)
            # « // arras 3q7… » meant as a comment: its token stayed valid, and « // arras » in the journal
            refused.append((None, f"{source}, ligne {n} : « {mark} » ne commence pas un commentaire, seul « # » "
                                  "le fait"))
            continue
        if short := _too_short(token, f"{source}, ligne {n}") or _not_bearer(token, f"{source}, ligne {n}"):
            if comment and any(not _too_short(w, "") and not _not_bearer(w, "") for w in comment[0].split()):
                # « lens #2 3q7… », a label written with « # », or « calais # 3q7… », a token set aside: what
                # is left of the line was said a token too short (« 4 caractères »), the label taken for it
                # (its first word quoted only if written as a name: « 3q7XZt0pAb #cD8e… », a token broken before
                # its « # », put a piece of it in the journal)
                label = None if any(len(w) >= MIN_TOKEN for w in parts) else \
                    _label_shown(parts[0], " …" * (len(parts) > 1))
                refused.append((label, f"{source}, ligne {n} : jeton écrit après « # », qui commence un commentaire "
                                       "en début de ligne ou après une espace"))
                continue
            # the label is said in the journal, so not one holding a word as long as a token: the token
            # written before its label (« 3q7… arras ») would be printed there, in clear; nor past its first
            # word: a token broken by spaces (« arras 3q7X… Zt0p… k9 ») left the pieces before its last in it
            words = parts[:-1]
            if any(len(w) >= MIN_TOKEN for w in words):
                refused.append((None, f"{short} ; le jeton s'écrit en dernier sur sa ligne, après son libellé"))
            elif len(words) > 1:
                refused.append((_label_shown(words[0], " …"), f"{short} ; un jeton ne contient pas d'espace"))
            else:
                refused.append((_label_shown(words[0]) if words else None, short))
            continue
        if any(_token_piece(w) for w in parts[:-1]):
            # « arras 3q7XZt0p-_aB9cD8 eF7gH6iJ5kL4mN3oP2qR1sT0 », a token broken by a space with a last piece
            # long enough: that piece was the token, the commune's whole one refused without a word, and the
            # label quoted in the journal held the rest
            refused.append((_label_shown(parts[0], " …") if len(parts) > 2 else _label_shown(parts[0]),
                            f"{source}, ligne {n} : jeton coupé par une espace (un mot avant lui mêle lettres et "
                            "chiffres, ou majuscules et minuscules, comme un morceau de jeton, pas comme un "
                            "libellé) ; un jeton ne contient pas d'espace, et un mot du libellé s'écrit en minuscules, "
                            "ses lettres et ses chiffres séparés par « - »"))
            continue
        out.append((label, _digest(token)))
    return out


def _token_piece(word: str) -> bool:
    """A word of a label that a token's piece may be, and a name not (« 3q7XZt0p », not « boulogne-2027 »).
    Wider than what `_label_shown` quotes, whose mistake only leaves a label unsaid: here a label's word taken
    for a piece refuses a right line, the commune locked out (401) — « cc7vallees », « CA2BM-montreuil »,
    « DDFiP62 », « BruayLaBuissiere », « 31/12/2026 » were — while a piece taken for a name leaves the line as
    it was before pieces were looked for (its last piece the token)."""
    return (len(word) >= 6 and bool(_BEARER.fullmatch(word)) and _label_shown(word) is None
            and not all(_written_as_name(part) for part in re.split(r"[-_.'/+]", word)))


# a letter run of a label: one case, a capital first, an acronym before a word (« ACVphase »), words joined
# with capitals, one of three letters at least (« BruayLaBuissiere », not « EfGhIj »), « DGFiP », « EPFNPdC »
_LETTERS = re.compile(r"[A-Z]*[a-z]*|(?=.*[a-z]{3})(?:[A-Z]+[a-z]+)+[A-Z]*|[A-Z]{2,}(?:[a-z][A-Z]+)+")


def _written_as_name(part: str) -> bool:
    """A part of a label's word (between « - _ . ' / + »): letters and digits meeting twice at most, a number
    at its end apart (« cc7vallees », « CA2BM », « Lyon3e », « 01janv2027 », « CA2BM2027 »; a hex token's
    pieces meet them again and again), each letter run written as a name is."""
    runs = re.findall(r"[A-Za-z]+|\d+", part)
    return ("".join(runs) == part and len(runs) - bool(runs and runs[-1].isdigit()) <= 3
            and all(r.isdigit() or _LETTERS.fullmatch(r) for r in runs))


# a label's word as a name is written: « arras », « Saint-Omer », « boulogne-2027 », « CALAIS », « arras2027 »
# (letters and digits meet once at most in a part; a token's pieces mix them again and again)
_NAME_PART = re.compile(r"(?P<letters>[^\W\d_]+)\d*|\d+(?P<after>[^\W\d_]*)")


def _label_shown(word: str, more: str = "") -> str | None:
    """A refused line's first word, quoted in the journal only if written as a name is: in a line with no
    label, it is a piece of the token (« 3q7XZt0p-_aB9cD8 eF7g… », a token broken by a space), and a piece
    of a secret is never written to the journal."""
    for part in re.split(r"[-_.' ]", word):
        name = _NAME_PART.fullmatch(part)
        letters = name and (name["letters"] or name["after"])
        if not name or letters and not (letters[1:].islower() or letters.isupper() or _camel(letters)):
            return None
    return word + more


def _camel(letters: str) -> bool:
    """« SaintOmer », « BoulogneSurMer »: each capital after the first ends a lower-case run and begins one of
    two letters at least, where a token's letters change case at random (« eFgHiJ »)."""
    return all(letters[i - 1].islower() and letters[i + 1:i + 3].islower() and len(letters[i + 1:i + 3]) == 2
               for i in range(1, len(letters)) if letters[i].isupper())


def _too_short(token: str, where: str) -> str | None:
    if len(token) < MIN_TOKEN:
        return f"{where} : jeton trop court ({len(token)} caractères, au moins {MIN_TOKEN})"
    return None


# RFC 6750's b64token, a Bearer token's syntax: every generator's alphabet (secrets.token_urlsafe, hex,
# base64, uuid) and nothing of a title line typed without « # » (« … https://acv.departement.gouv.fr »)
_BEARER = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_INLINE_COMMENT = re.compile(r"\s#")
_FOREIGN_COMMENTS = ("//", ";", "--")  # comment marks of other files; « # » only is one here


def _foreign_comment(first_word: str) -> str | None:
    if first_word.lower() == "rem":
        return first_word
    return next((m for m in _FOREIGN_COMMENTS if first_word.startswith(m)), None)


def _not_bearer(token: str, where: str) -> str | None:
    if _BEARER.fullmatch(token):
        # a line of dashes under a title typed without « # » is one too, and anyone guesses it: every
        # generator's token holds letters or digits
        if any(c.isalnum() for c in token):
            return None
        return f"{where} : jeton invalide (ni lettre ni chiffre : une ligne de séparation commence par « # »)"
    # the character said by its kind, never itself: the line may hold a real secret (a password manager's
    # « ! » or « $ »), and the journal is read by more people than the token file
    bad = next((c for c in token if c != "=" and not _BEARER.fullmatch(c)), "=")  # else an « = » not at the end
    if bad == " ":
        kind = "une espace"
    elif not bad.isprintable() or bad.isspace():
        kind = "un caractère invisible, comme une espace insécable ou de largeur nulle"
    else:  # (an « = » before the end said as any sign: which one it is, is not said)
        kind = "une lettre accentuée ou d'un autre alphabet" if bad.isalpha() else "un signe interdit ou mal placé"
    return (f"{where} : jeton invalide (il contient {kind} : un jeton ne s'écrit qu'avec des lettres sans accent, "
            "des chiffres et les signes - . _ ~ + / =, ce dernier seulement à la fin)")


_CREATE = "Créez-en un avec : python -c \"import secrets; print(secrets.token_urlsafe(32))\""


def _short_refusal(short: str) -> ConfigError:
    return ConfigError(f"{short}. {_CREATE}")


def _long_enough(token: str, where: str) -> str:
    # the token of the environment written as one of the file: « arras 3q7… » (a line of the file copied
    # whole) was the token, space and label included, and the commune's own refused (401) without a word
    short = _too_short(token, where) or _not_bearer(token, where)
    if short:
        raise _short_refusal(short)
    return token


def _ignored(label: str | None, why: str) -> str:
    """What is said of a bad line left out of the token file, in French."""
    who = "" if label is None else f" : « {label} » n'a plus de jeton valable"
    return f"{why} : ligne ignorée{who} tant qu'elle n'est pas corrigée ; les autres lignes du fichier sont appliquées."


def _text(data: bytes) -> str:
    """A token file as written on Windows too: UTF-8 with its mark (Notepad: the first line was
    read as « \ufeff# … », a token line whose last word was too short, and the server refused to
    start), or Windows-1252 (« béthune » in a label stopped it with an internal error)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


class Tokens:
    """The accepted tokens, from the environment or a file re-read when it changes."""

    def __init__(self, token: str | None = None, path: Path | None = None):
        self.path = path
        self._fixed = [("jeton", _digest(_long_enough(token, ENV_TOKEN)))] if token else []
        self._from_file: list[tuple[str, bytes]] = []
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self.ignored: list[str] = []  # the bad lines of the file read at start, for `acv-xl serveur` to say
        if path is not None:
            self._reload(initial=True)

    def _reload(self, initial: bool = False) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            refused: list[tuple[str | None, str]] = []
            entries = parse_token_lines(_text(self.path.read_bytes()), str(self.path), refused)
        except OSError as exc:
            if initial:
                raise ConfigError(f"fichier de jetons illisible : {self.path} ({os_error_text(exc)}).") from None
            return  # being rewritten: keep the tokens known so far
        if initial and not entries:
            if refused:  # only bad lines: the first one says why, then that no line holds a token
                # (« « // » ne commence pas un commentaire. Créez-en un » said to create a comment)
                raise ConfigError(f"{refused[0][1]} ; le fichier ne contient aucun jeton valable. {_CREATE}")
            # (the path quoted: « /etc/acv xl/jetons.txt ne contient » read as a sentence)
            raise ConfigError(f"le fichier de jetons « {self.path} » ne contient aucun jeton.")
        # a bad line is left out at start as on a reload: the file a running server accepted (« arras
        # REVOQUE » over a leaked token) stopped it from starting again after an update or a reboot
        if initial:
            self.ignored = [_ignored(label, why) for label, why in refused]
        elif refused:
            self._say_ignored(refused)
        with self._lock:
            self._from_file, self._stamp = entries, stamp

    @staticmethod
    def _say_ignored(refused: list[tuple[str | None, str]]) -> None:
        """A bad line of an edit (a token pasted short, « arras REVOQUE ») is left out and said in the
        journal; the edit's other lines apply — a bad edit used to be ignored whole and silently, so the
        line of a leaked token removed in the same save stayed valid. The bad line keeps no token, not
        even its label's previous one: a token the file no longer holds is never accepted (a leaked
        token replaced by a note, or by a new one pasted short, would stay valid). Its commune is
        refused until the line is corrected, which the journal says."""
        for label, why in refused:
            log.error("%s", _ignored(label, why))

    @property
    def enabled(self) -> bool:
        return bool(self._fixed) or self.path is not None

    def check(self, authorization: str | None) -> str | None:
        """The label of the token carried by `Authorization: Bearer …`, or None."""
        if self.path is not None:
            self._reload()
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        presented = _digest(token.strip())
        found = None
        for label, digest in self._fixed + self._from_file:  # every one compared: constant time
            if hmac.compare_digest(presented, digest) and found is None:
                found = label
        return found


def _number(name: str, default: float, kind=float, minimum: float = 0, maximum: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw.replace(",", "."))
    except ValueError:
        raise ConfigError(f"{name} = « {raw} » : nombre attendu.") from None
    if not math.isfinite(value):  # « nan », « inf », « 1e400 »: float() takes them
        raise ConfigError(f"{name} = « {raw} » : nombre fini attendu.")
    if value <= minimum:
        raise ConfigError(f"{name} = « {raw} » : valeur strictement positive attendue.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} = « {raw} » : au plus {maximum}.")
    return value


def receive_timeout() -> float:
    """Seconds a client has to send a request's headers, and then its body (`--delai-reception`)."""
    return _number(ENV_RECEIVE_TIMEOUT, DEFAULT_RECEIVE_TIMEOUT_S)


def web_origin(raw: str, name: str = ENV_ORIGINS) -> str:
    """`raw` as a browser writes it in `Origin` — scheme and name in lower case, no default port — or
    a `ConfigError`: « acv.departement.gouv.fr » (no scheme), an address with a path, « * », which
    never equal an `Origin`, were taken silently and that page got « Origine refusée »."""
    from urllib.parse import urlsplit

    text = raw.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname \
            or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        option = "--origine" if name == ENV_ORIGINS else "--url-publique"
        raise ConfigError(f"{option} ({name}) « {raw.strip()} » : origine web attendue, sous la forme "
                          "https://acv.departement.gouv.fr (le schéma et le nom, éventuellement le port, "
                          "sans chemin).")
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def per_address_limit(connections: int) -> int:
    """Connections one client address may hold open in a process (`--connexions-par-adresse`; 0: no
    cap), loopback excepted (`server_http`): by default `DEFAULT_PER_ADDRESS`, and at most a quarter of
    the process's `connections` (`connection_limit`), so that one client cannot take them all."""
    raw = os.environ.get(ENV_PER_ADDRESS, "").strip()
    if not raw:
        return max(1, min(DEFAULT_PER_ADDRESS, connections // 4))
    if not (raw.isascii() and raw.isdigit()):  # « ² » is a digit to str.isdigit, not to int()
        raise ConfigError(f"{ENV_PER_ADDRESS} = « {raw} » : nombre entier attendu (0 : sans limite).")
    return int(raw)


def default_threads() -> int:
    """Worker threads: as Python's default pool, enough for waiting requests on a small machine."""
    return min(32, (os.cpu_count() or 1) + 4)


def connection_limit(max_requests: int) -> int:
    """uvicorn's `limit_concurrency`: open connections (idle keep-alive ones too) and requests past
    which uvicorn answers « Service Unavailable » itself. Far above `max_requests` (a recalculation
    through the HTTP/2 front end opens one connection per cell), within the process's file
    descriptors (systemd gives a service 1,024), at most 4,096 (an idle connection costs little)."""
    try:
        import resource

        files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if files == resource.RLIM_INFINITY:
            files = 1 << 20
    except (ImportError, OSError, ValueError):  # Windows: no such limit to read
        files = 1024
    return max(max_requests, min(files - 100, 4096))  # (100: the logs, the token file, the pool…)


@dataclass
class ServerConfig:
    tokens: Tokens = field(default_factory=Tokens)
    max_body: int = DEFAULT_MAX_BODY_MB * 1024 * 1024
    max_cells: int = DEFAULT_MAX_CELLS
    timeout: float = DEFAULT_TIMEOUT_S
    # to receive a request's line and headers, then again its body (`server_http`, `server_guard`)
    receive_timeout: float = DEFAULT_RECEIVE_TIMEOUT_S
    threads: int = field(default_factory=default_threads)
    origins: frozenset[str] = frozenset()  # allowed beyond the server's own origin
    per_address: int = DEFAULT_PER_ADDRESS  # open connections of one client address (0: no cap)
    # --url-publique as a browser writes an origin (`web_origin`), or None: the only name requests may
    # carry in `Host` besides the loopback, and the one the add-in's addresses are built from (`server_guard`)
    public_url: str | None = None

    @property
    def max_requests(self) -> int:
        """Requests a process holds at once (their bodies in memory: at most this × `max_body`);
        one more is answered « Serveur occupé » by `server_guard`, in French. uvicorn's own cap on
        connections (`connection_limit`) is only a backstop: its 503 is English."""
        return max(64, self.threads * 8)

    @property
    def max_public_per_address(self) -> int:
        """Reads of the add-in's public files one client address holds at once (`server_guard`): a
        quarter of their places, as a quarter of the connections (`per_address_limit`); not counted
        with `--connexions-par-adresse 0` (`per_address`: a front end elsewhere, every commune's address)."""
        return max(1, self.max_requests // 4)

    @classmethod
    def from_env(cls) -> "ServerConfig":
        path = os.environ.get(ENV_TOKEN_FILE, "").strip()
        tokens = Tokens(os.environ.get(ENV_TOKEN, "").strip() or None, Path(path) if path else None)
        origins = {web_origin(o) for o in os.environ.get(ENV_ORIGINS, "").split(",") if o.strip()}
        public = os.environ.get(ENV_PUBLIC_URL, "").strip().rstrip("/")
        public_url = None
        if public:
            try:
                public_url = web_origin(public, ENV_PUBLIC_URL)
                origins.add(public_url)
            except ConfigError:  # `acv-xl serveur` refuses it with its own words (an HTTPS address)
                origins.add(public)
        config = cls(
            tokens=tokens,
            max_body=int(_number(ENV_MAX_BODY, DEFAULT_MAX_BODY_MB) * 1024 * 1024),
            max_cells=int(_number(ENV_MAX_CELLS, DEFAULT_MAX_CELLS, int)),
            timeout=_number(ENV_TIMEOUT, DEFAULT_TIMEOUT_S),
            receive_timeout=receive_timeout(),
            # (a thread is a process's task: the service unit allows 256 of them)
            threads=int(_number(ENV_THREADS, default_threads(), int, maximum=MAX_THREADS)),
            origins=frozenset(origins),
            public_url=public_url,
        )
        config.per_address = per_address_limit(connection_limit(config.max_requests))
        return config
