"""Which family a dispositif belongs to, decided by meaning, in one place.

A user types « DSIL exceptionnelle », « DETR 2025 », « Dotation de soutien à l'investissement
local » or « dsil »: each is a DSIL or a DETR, and the legal caps (R2334-27: 80 % together, 20 % at
least each) must count it. The rules, the totals and the template all ask `famille(nom)`; the
phrases of each family are data in `layout.FAMILLES`. Whether a line is the État's subsidy also
depends on who pays it (`is_r2334_27(nom, financeur)`): a Département's « fonds de soutien à
l'investissement local » is its own.
"""

from __future__ import annotations

import re

from acv_xl.contract import layout
from acv_xl.contract.values import closest, fold, memo_text

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_ACRONYM_DOT = re.compile(r"(?<![a-z0-9])([a-z])\.(?=[a-z](?![a-z0-9]))")  # « d.s.i.l. » is « dsil »
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")  # « detr2024 » is « detr 2024 »
# « D S I L », « D-S-I-L »: three or more letters standing alone in a row are an acronym spelt out
_SPELT = re.compile(r"(?<![a-z0-9])[a-z](?: [a-z]){2,}(?![a-z0-9])")
# The invisible characters a text pasted from a document carries inside a word (a soft hyphen in
# « Dotation de soutien à l'inves-tissement », a zero-width space in « DE TR »): no letter, and no space
# either — dropped, not turned into one that splits the word: the format characters (Unicode « Cf »)
# of Latin-script texts, soft hyphen, zero-width spaces and joiners, direction marks, BOM
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


# Cyrillic and Greek letters drawn as Latin ones (« DЅIL » with a Cyrillic Ѕ, « DЕTR » with a Cyrillic Е):
# read as those, or a name copied from a crafted text was recognised by no family and left the caps
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m", "ν": "n", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "y", "χ": "x",
    # the dotless ı of Turkish and the Latin small capitals (« ᴅꜱɪʟ »), which no decomposition brings back to a letter:
    # « DSıL » was read « ds l », « ᴅꜱɪʟ » as nothing at all
    "ı": "i", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j",
    "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v",
    "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
})


# The capital I and the lowercase l, which Excel's sans-serif fonts (Calibri, Arial) draw alike: « DSlL » looks
# like « DSIL » in its cell, « Dotation poIitique de Ia viIIe » like the DPV's name, and each escaped the
# R2334-27 caps (FIN-20 only warned). Read as the word around them says: an l in a word otherwise in capitals
# is an I, an I after a lowercase letter of a word otherwise in lowercase an l, and so is the I of « I' »
# (« à I'investissement ») and of « Ia », « Ie », « Ies », which are no French words
_WORD = re.compile(r"[^\W\d_]+")
_I_ELIDED = re.compile(r"(?<![^\W\d_])I(?=['\u2019][^\W\d_])|(?<![^\W\d_])I(?=(?:a|e|es)(?![^\W\d_]))")


def _i_or_l(word: re.Match) -> str:
    w = word[0]
    if w.lower() in _MOTS_DES_FAMILLES:
        return w  # « DSIl », its last letter typed without the shift: the DSIL as typed, no « DSII »
    if "l" in w and len(rest := w.replace("l", "")) >= 2 and rest.isupper():
        return w.replace("l", "I")
    if "I" in w[1:] and w.replace("I", "").islower():
        w = w[0] + w[1:].replace("I", "l")
    if w[0] == "I" and w[1:].islower() and "l" + w[1:] in _MOTS_EN_L:  # « IocaI »: no word « iocal », the DSIL's « local »
        return "l" + w[1:]
    return w


# An acronym of the État's subsidies cut by a hyphen, a dot or a space (« DS-IL », « D.SIL », « DS IL », « DE-TR »):
# its pieces in capitals joined, or it escaped the R2334-27 caps (FIN-20 only warned). Not pieces parted by a space
# alone when one is a small French word (« AIDE DE TR 1 », tranche 1, is no DETR; « FR LA »), nor lowercase ones, nor
# a last piece a digit or an apostrophe follows (« DP V2 », a déclaration préalable's second version), nor letters of a
# longer acronym (« A.D.S.I.L. »)
_SIGLES_ETAT = frozenset(("dsil", "dsipl", "fsil", "fsipl", "detr", "dpv", "dsid", "fnadt", "frla", "drac"))
_PIECE = re.compile(r"[^\W\d_]+")
_ENTRE_PIECES = re.compile(r"\s*[-.\u2010-\u2015]\s*|\s+")
_SIGLE_MAX = max(map(len, _SIGLES_ETAT))
_APRES_SIGLE = frozenset("0123456789'\u2019")  # nor a last piece elided (« D.S.I. L'ISLE », the DSI of L'Isle)


def _lettres_d_un_sigle(nom: str, a: re.Match, b: re.Match) -> bool:
    """Two single capitals joined as the letters of one acronym (« A.D.S.I.L. »): one of a sigle's own must not be
    taken from a longer acronym (its D, S, I, L are not the DSIL, nor « D.S.I.D.E.N. »'s first four the DSID)."""
    return len(a[0]) == len(b[0]) == 1 and a[0].isupper() and b[0].isupper() \
        and _ENTRE_PIECES.fullmatch(nom[a.end():b.start()]) is not None


def _sigles_coupes(nom: str) -> str:
    pieces = list(_PIECE.finditer(nom))
    if len(pieces) < 2 or not any(p[0].isupper() for p in pieces):
        return nom  # (most names: no piece in capitals, or one word)
    out, last, i = [], 0, 0
    while i < len(pieces):
        joined = None
        for j in range(i + 1, len(pieces) if pieces[i][0].isupper() else i + 1):
            sep = nom[pieces[j - 1].end():pieces[j].start()]
            if not _ENTRE_PIECES.fullmatch(sep) or not pieces[j][0].isupper():
                break
            window = pieces[i:j + 1]
            lettres = "".join(p[0] for p in window)
            if len(lettres) > _SIGLE_MAX:
                break
            if (fold(lettres).translate(_CONFUSABLES) in _SIGLES_ETAT and nom[window[-1].end():][:1] not in _APRES_SIGLE
                    and not any(nom[a.end():b.start()].isspace() and {fold(a[0]), fold(b[0])} & _SMALL_WORDS
                                for a, b in zip(window, window[1:]))
                    and not (i and _lettres_d_un_sigle(nom, pieces[i - 1], pieces[i]))
                    and not (j + 1 < len(pieces) and _lettres_d_un_sigle(nom, pieces[j], pieces[j + 1]))):
                joined = j
        if joined is None:
            i += 1
            continue
        out += [nom[last:pieces[i].start()], "".join(p[0] for p in pieces[i:joined + 1])]
        last, i = pieces[joined].end(), joined + 1
    return "".join(out) + nom[last:] if out else nom


# An acronym of the État's dotations in capitals glued to the word after it, in lowercase (« DSILexceptionnelle »,
# « DETRbis »): set apart, or the name was of no family, and declared « Dotation R2334-27 » « Non » in the workbook's
# list it left the 80 % cap without a word (FIN-20 silenced). Not a word merely beginning so in lowercase (« Détroit »)
_SIGLE_COLLE = re.compile(r"(?<![^\W\d_])(DSIPL|FSIPL|DSIL|DSID|FSIL|DETR|DPV|FNADT|FRLA)(?=[a-zà-öø-ÿœ])")


@memo_text(4096)
def normalise(nom: str) -> str:
    """Folded (case, accents), punctuation and spaces reduced to single spaces, a year glued to a word
    set apart, an acronym spelt out letter by letter joined: « DSIL - Exceptionnelle » → « dsil
    exceptionnelle »; « L'État » → « l etat »; « DETR2024 » → « detr 2024 » (a DETR, counted in the
    R2334-27 caps); « D S I L » → « dsil »; « DSILexceptionnelle » → « dsil exceptionnelle »; a Cyrillic or
    Greek letter drawn as a Latin one read as it, and an I or an l as the word around it says (`_i_or_l`:
    « DSlL » → « dsil »)."""
    nom = _sigles_coupes(_INVISIBLE.sub("", nom))
    f = fold(_SIGLE_COLLE.sub(r"\1 ", _I_ELIDED.sub("l", _WORD.sub(_i_or_l, nom)))).translate(_CONFUSABLES)
    while (g := _ACRONYM_DOT.sub(r"\1", f)) != f:
        f = g
    f = _NOT_WORD.sub(" ", _LETTER_DIGIT.sub(" ", f)).strip()
    return _SPELT.sub(lambda m: m[0].replace(" ", ""), f)


# The small words a name in a cell often goes without (« Dotation équipement territoires ruraux »,
# « Dotation soutien investissement local »): left out of the names and of the families' phrases alike
_SMALL_WORDS = frozenset(("a", "au", "aux", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les", "pour"))


# The abbreviations a narrow cell writes the families' words with (« Dot. soutien invest. local », « Dot. équip.
# terr. rur. », « Fds vert », « Crédits MH »): written out, or a DSIL so abbreviated escaped the 80 % cap
# (FIN-20 only warned). Words of no other meaning in a dispositif's name (not « dep », « act », « f »)
_ABREGES = {
    "dot": "dotation", "inv": "investissement", "invest": "investissement", "investis": "investissement",
    "invt": "investissement", "sout": "soutien", "loc": "local", "publ": "public", "equip": "equipement",
    "equipt": "equipement", "eqpt": "equipement", "terr": "territoires", "territ": "territoires", "rur": "ruraux",
    "pol": "politique", "polit": "politique", "dept": "departements", "dpt": "departements",
    "fds": "fonds", "nat": "national", "amenag": "amenagement", "amgt": "amenagement", "dev": "developpement",
    "devt": "developpement", "devpt": "developpement", "mh": "monuments historiques",
    "fdc": "fonds de concours",  # « FDC », the plans' usual acronym: FIN-23's cap escaped with it
}


# The words of the families' names and abbreviations, read as typed whatever their case (« DSIl »); those that begin
# with an l (« local », « locaux », « loc »): a word typed with a capital I for that l (« IocaI ») is read as them
# (`_i_or_l`); « Isère », « Isle » are no such word
_MOTS_DES_FAMILLES = frozenset(w for phrases in [p for _, ps in layout.FAMILLES for p in ps] + list(_ABREGES)
                               for w in phrases.split() if w not in _SMALL_WORDS)
_MOTS_EN_L = frozenset(w for w in _MOTS_DES_FAMILLES if w[0] == "l")


def _without_small_words(n: str) -> str:
    """Without the small words, abbreviations written out (`_ABREGES`), each word in the singular
    (`_singulier`): « Dotations politique de la ville », « Fonds verts », « Fonds européens de développement
    régional », « Dot. soutien invest. local » are of their family."""
    return " ".join(_singulier(w) for w in " ".join(_ABREGES.get(w, w) for w in n.split()).split()
                    if w not in _SMALL_WORDS)


def _singulier(w: str) -> str:
    """A word without the « s » of its plural (« dotations », « fonds » → « fond », on both sides of the
    comparison alike); not a short word (« des », « dpv ») nor a double « s »."""
    return w[:-1] if len(w) > 3 and w[-1] == "s" and w[-2] != "s" else w


_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (famille, re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(_without_small_words(p)) for p in phrases)
                         + r")(?![a-z0-9])"))
    for famille, phrases in layout.FAMILLES
)


@memo_text(4096)
def famille(nom: str | None) -> str | None:
    """The family of a dispositif's name (`layout.FAMILLES`), or None when no family's phrase is in it: the first of
    the list whose phrase is in it, but of the DETR, DSIL, DPV and DSID the one the name designates
    (`dotations_nommees`: « DETR hors DSIL » is a DETR)."""
    if not nom:
        return None
    n = _without_small_words(normalise(nom))
    for fam, pattern in _PATTERNS:
        if pattern.search(n):
            if fam in _R2334_27:
                # of the DETR, DSIL, DPV and DSID, the one the line is (« DETR hors DSIL », « DETR (au lieu de la
                # DSIL) » are a DETR, which the list's order read as a DSIL and summed with the DSIL's lines: the
                # floor of neither was judged); a line mixing them keeps the list's first (FIN-26 asks to split it)
                noms = _dotations(nom)
                if not noms:
                    # every dotation it names set aside (« Fonds vert (DSIL refusée) », « FNADT hors DSIL »): the
                    # other family it names, no DSIL judged against the 20 % floor; none, the dotation's
                    # (« Autofinancement hors DSIL », its payer's own money: `names_own_money`)
                    reste = _without_small_words(_NOT_THIS_ONE.sub(" ", normalise(nom)))
                    return next((f for f, p in _PATTERNS if f not in _R2334_27 and p.search(reste)), fam)
                return noms[0] if len(noms) == 1 else fam
            return fam
    return None


# A dotation's name another one follows to say what it is not or was (« DSIL (ex-DETR) », « DSIL hors DETR »), or a
# name said refused (« DSIL - DETR refusée », « DSIL, la DETR ayant été refusée », « … n'ayant pas été retenue »), its
# year between (« DETR 2024 (DSIL 2023 refusée) », a DETR; not « DSIL 2024 (refusée en 2023) », the refusal of another
# year, a DSIL). Not a refusal the name says was followed by a new request (« DSIL refusée en 2023, redemandée en
# 2024 »), nor a decision still awaited (« DSIL non accordée à ce jour »): the dotation is still asked for on the line,
# and set aside, « Fonds vert + DSIL (refusée en 2023, redemandée en 2024) » was a Fonds vert, out of the 80 % cap
_ENCORE_DEMANDEE = (r" (?:(?:en|puis|et|mais|[0-9]+) )*(?:(?:re ?|(?:a|de) nouveau )(?:demandee?s?|presentee?s?"
                    r"|deposee?s?|sollicitee?s?)|a ce jour|a date|pour l instant|pour le moment)(?![a-z0-9])")
_REFUSEE = (r"(?:(?:(?:ayant|a|avait|est|etait|etant) ete )?(?:refusee?s?|rejetee?s?)"
            r"|(?:non|pas) (?:retenue?s?|obtenue?s?|accordee?s?)"
            r"|n (?:ayant|a|avait|est|etait|etant) pas ete (?:retenue?s?|obtenue?s?|accordee?s?))"
            rf"(?![a-z0-9])(?!{_ENCORE_DEMANDEE})")
_NOT_THIS_ONE = re.compile(r"(?<![a-z0-9])(?:hors|ex|sauf|non(?: eligibles?)?)(?: (?:a|au|de|d|du|des|la|le|les|l))*"
                           r" [a-z0-9]+(?![a-z0-9])"
                           rf"|(?<![a-z0-9])[a-z0-9]+ {_REFUSEE}"
                           rf"|(?<![a-z0-9])[a-z]+ (?:19|20)[0-9]{{2}} {_REFUSEE}(?! en [0-9])")
# What may part two dotations' names a line mixes: nothing but punctuation, « et », « ou », a year, « dotation »
# (« DETR/DSIL », « DSIL ou DETR », « DETR 2026 + DSIL 2027 », « DSIL / Dotation d'équipement… »). Parted by other
# words, the second is a note on the line (« DSIL (commune non éligible à la DETR) », « DSIL au lieu de la DETR »)
_ENTRE_DOTATIONS = re.compile(r"(?: (?:ou|dotation|[0-9]+))* ")
# ... and a dotation and another aid of the État (décret 2018-514: FNADT, Fonds vert…), only joined by « / », « + »,
# « & » or « ou » (« DSIL/FNADT », « DETR ou Fonds vert », « DSIL / Fonds mobilités actives », « DSIL + Crédits MH »):
# side by side, the second says what the dotation funds (« DSIL mobilités actives », « DSIL monuments historiques »)
_JOINT = re.compile(r"\s*[/+&]\s*")
_AIDE = r"(?:fond|credit|subvention|aide)"  # (singular: `_without_small_words`)
_ENTRE_AIDES = re.compile(rf"(?: [0-9]+)* ou(?: (?:ou|[0-9]+))*(?: {_AIDE})? ")
# ... but a theme the dotation funds, even joined (« DSIL / mobilités actives », « DETR / monuments historiques »), is
# no aid unless named as one (« Fonds mobilités actives », « Crédits MH »): FIN-26 asked to split a DSIL from a
# « subvention de la DRAC », and that DSIL's 20 % floor went unjudged
_THEMES = frozenset(_without_small_words(p) for p in ("recyclage des friches", "recyclage foncier", "monuments historiques",
                                                      "monument historique", "mobilites actives", "mobilite active",
                                                      "restructuration des locaux d activite"))
_AIDE_AVANT = re.compile(rf"(?<![a-z0-9]){_AIDE} $")
_DEPARTEMENTALE = re.compile(r" (?:departementa(?:le|l|ux)|departement)(?![a-z0-9])")
_R2334_27 = frozenset(layout.FAMILLES_R2334_27)
_AIDES_ETAT = _R2334_27 | frozenset(layout.FAMILLES_DECRET_2018_514)


def _dotations(nom: str) -> tuple[str, ...]:
    """The DETR, DSIL, DPV and DSID a name designates (`dotations_nommees`), its family aside, with the État's other
    aids a line mixes with them."""
    n = _without_small_words(_NOT_THIS_ONE.sub(" ", normalise(_JOINT.sub(" ou ", nom))))
    vus = sorted((m.start(), m.end(), f) for f, pattern in _PATTERNS if f in _AIDES_ETAT for m in pattern.finditer(n)
                 if f in _R2334_27 or m[0] not in _THEMES or _AIDE_AVANT.search(n, 0, m.start()))
    if any(f == layout.FAMILLE_DSID for _, _, f in vus):
        # « DSID (DSIL départementale) »: the DSIL of the départements, the DSID's own gloss, no second dotation
        vus = [(debut, m.end(), layout.FAMILLE_DSID)
               if f == layout.FAMILLE_DSIL and (m := _DEPARTEMENTALE.match(n, fin)) else (debut, fin, f)
               for debut, fin, f in vus]
    melees = dict.fromkeys(f for (_, fin, f), (debut, _, g) in zip(vus, vus[1:])
                           if f != g and (_ENTRE_DOTATIONS if f in _R2334_27 and g in _R2334_27
                                          else _ENTRE_AIDES).fullmatch(n, fin, debut) for f in (f, g))
    if len(melees) > 1 and not _R2334_27.isdisjoint(melees):
        return tuple(melees)
    return next(((f,) for _, _, f in vus if f in _R2334_27), ())


@memo_text(4096)
def dotations_nommees(nom: str | None) -> tuple[str, ...]:
    """The DETR, DSIL, DPV and DSID a dispositif's name designates: one for most (the first it names: « DETR (au
    lieu de la DSIL) »), two or more, in the order typed, for a line that mixes them, naming them side by side
    (« DETR/DSIL », « DSIL ou DETR »: `_ENTRE_DOTATIONS`), which `famille` reads as the first of `layout.FAMILLES`,
    with the État's other aids (décret 2018-514) a line joins to them (« DSIL/FNADT »: `_ENTRE_AIDES`); none for a
    name of no such family. A name after « hors », « ex- », « sauf », « non (éligible) », or said refused, is no
    dotation of the line."""
    fam = famille(nom)
    if fam not in _R2334_27:
        return ()
    return _dotations(nom) or (fam,)


# The DETR's, DSIL's, DPV's and DSID's names, as `famille` compares them: their acronyms, their phrases
_DOTATIONS = [(fam, _without_small_words(p)) for fam, ps in layout.FAMILLES if fam in layout.FAMILLES_R2334_27
              for p in ps]
_SIGLES_DOTATIONS = {p: fam for fam, p in _DOTATIONS if " " not in p}
_PHRASES_DOTATIONS = {p: fam for fam, p in _DOTATIONS if " " in p}


def dotation_proche(nom: str | None) -> str | None:
    """The DETR, DSIL, DPV or DSID whose name a name no family recognises is a slip of (`values.closest`'s measure):
    a word near one of their acronyms (« DISL », « DTER 2024 », « DSILE »: a letter swapped, missing or added), or
    the whole name, small words aside, near one of their phrases and holding its last word (« Dotation investissement
    local », not « … culturel »), or, after « Dotation », their first two words or more, the rest cut off (« Dotation
    de soutien à l'investissement », a DSIL or a DSID: the first of `layout.FAMILLES_R2334_27` is said). A
    « Dotation R2334-27 » declared « Non » does not answer FIN-20 for such a name: it would take a DSIL out of the
    caps."""
    import difflib

    if not nom or famille(nom) is not None:
        return None
    n = _without_small_words(normalise(nom))
    for w in n.split():
        if len(w) >= 3 and (m := difflib.get_close_matches(w, _SIGLES_DOTATIONS, n=1, cutoff=0.75)):
            return _SIGLES_DOTATIONS[m[0]]
    # its last word, which tells the four apart, there too: « Soutien à l'investissement culturel » is no DSIL
    for p in difflib.get_close_matches(n, _PHRASES_DOTATIONS, n=3, cutoff=0.8):
        if difflib.get_close_matches(p.rsplit(" ", 1)[-1], n.split(), n=1, cutoff=0.75):
            return _PHRASES_DOTATIONS[p]
    debut = n.removeprefix("dotation ")
    if debut != n and " " in debut:
        return next((fam for fam in layout.FAMILLES_R2334_27 for p, f in _PHRASES_DOTATIONS.items()
                     if f == fam and p.startswith(debut + " ")), None)
    return None


# Who may pay the État's subsidies: the État, or a financeur the reference list does not describe
# (added by the user, `AUTRE`; `_of_etat`): a Département's « fonds de soutien à l'investissement
# local », a Région's « aide aux monuments historiques » are their own.
_AUTRES_PAYEURS = frozenset(f.code for f in layout.FINANCEURS) - {layout.CODE_ETAT, "AUTRE"}
# A name only the État's subsidy bears: its acronym, or « dotation » without a territory's adjective
# (« DSIL part départementale » is the État's; « dotation départementale d'équipement… », a Département's),
# the DSID's own « investissement départemental » being no such adjective
_SIGLE = re.compile(r"(?<![a-z0-9])(?:dsil|dsipl|detr|dpv|dsid|fnadt|frla|drac)(?![a-z0-9])")
_DOTATION = re.compile(r"(?<![a-z0-9])dot(?:ations?)?(?![a-z0-9])")  # « Dot. soutien invest. local » too
# Abbreviated in a narrow cell too (« Dot. dép. soutien invest. local », a Département's), as « Dot. » and « invest. »
# are (`_ABREGES`): not the DSID's « investissement des départements » (« invest. dépt », « des dép. »)
_TERRITOIRE = re.compile(r"(?<![a-z0-9])(?<!investissement )"
                         r"(?:departementa|regiona|communa|intercommuna|communautaire|metropolitai"
                         r"|(?<!invest )(?<!inv )(?<!invt )(?<!investis )(?<!des )(?:dep|dept|dpt|depart|reg|interco)"
                         r"(?![a-z0-9]))")


def is_r2334_27(nom: str | None, financeur: str | None = None) -> bool:
    """A DETR, DSIL, DPV or DSID, however written (CGCT R2334-27), paid by `financeur` (a code; None:
    whoever pays). The État pays them: under another financeur of the reference list (`DEPT`,
    `REGION`…), only a name that designates the État's dotation counts — its acronym, or « dotation »
    without a territory's adjective — so a DSIL filed under the wrong financeur stays in the caps,
    while a Département's « fonds de soutien à l'investissement local » is not taken for it."""
    return famille(nom) in layout.FAMILLES_R2334_27 and _of_etat(nom, financeur)


def is_decret_2018_514(nom: str | None, financeur: str | None = None) -> bool:
    """A State investment subsidy governed by décret n° 2018-514 (Fonds vert, FNADT, DRAC, FRLA…), paid
    by `financeur` (None: whoever pays): under another financeur of the reference list, only a name
    bearing the État's acronym (FNADT, FRLA, DRAC) — a Région's « fonds friches » or a Département's
    « aide aux monuments historiques » is its own (`is_r2334_27`)."""
    return famille(nom) in layout.FAMILLES_DECRET_2018_514 and _of_etat(nom, financeur)


def is_etat(nom: str | None, financeur: str | None) -> bool:
    """Whether a dispositif of the État's families (R2334-27, décret 2018-514) is the État's when
    `financeur` pays it; True for a name of no such family (nothing to contradict)."""
    return famille(nom) not in _FAMILLES_ETAT or _of_etat(nom, financeur)


_FAMILLES_ETAT = frozenset(layout.FAMILLES_R2334_27 + layout.FAMILLES_DECRET_2018_514)


# Words by which a line of another financeur than the État says it is that financeur's own money
# beside a subsidy it names: « Autofinancement hors DSIL », « Part communale (complément DETR) », « Contrepartie
# DSIL » (the co-financing the subsidy asks of the maître d'ouvrage). « hors » only before a subsidy's
# name: « DSIL hors taxes » filed under COMMUNE is the État's DSIL, in the caps, not the commune's money.
# A sponsor's gift or a public subscription named after what it funds (« Mécénat MH », « Souscription
# monuments historiques » of the Fondation du patrimoine the user added) is its own money, no DRAC. The commune's
# (or the EPCI's) share named as such beside the aid it completes (« Participation communale complémentaire à l'aide
# régionale », « Part ville subvention Région déduite », « Solde à charge de la commune (après FEDER) ») is its own
_PROPRE = re.compile(r"(?<![a-z0-9])(?:autofinancement|auto financement|fonds propres|complement|contrepartie"
                     r"|mecenat|souscription"
                     r"|(?:reste|solde) a charge|a charge (?:de la |de l |du )?(?:commune|ville)"
                     r"|(?:quote part|part|participation|apport|financement|contribution) (?:de la |du |de l )?"
                     r"(?:communale|communal|intercommunale|intercommunal|municipale|municipal|ville|commune)"
                     r"|hors (?:dsil|dsipl|detr|dpv|dsid|fnadt|frla|drac|dotations?|subventions?))(?![a-z0-9])")


def _of_etat(nom: str | None, financeur: str | None) -> bool:
    """A name of the État's families, paid by `financeur`, is the État's subsidy. Paid by a financeur the
    reference list does not describe (a « CD62 » the user added, `AUTRE`), unless the name bears a
    territory's adjective and no acronym of the État: « Fonds départemental de soutien à
    l'investissement local » is a Département's whatever code it is filed under. Paid by another
    financeur than the État, never when the name says it is that financeur's own money beside the
    subsidy (« Autofinancement hors DSIL » of COMMUNE: `_PROPRE`)."""
    if financeur is None or financeur == layout.CODE_ETAT:
        return True
    if _names_own_money(nom or ""):
        return False
    if financeur in _AUTRES_PAYEURS:
        return _names_etat(nom or "")
    return not _names_collectivite(nom or "")


# The ANRU or its programme (art. 9 of loi n° 2003-710), by the words a plan names it with
_ANRU = re.compile(r"(?<![a-z0-9])(?:anru|npnru|pnru|renovation urbaine)(?![a-z0-9])")


def is_anru(nom: str | None, financeur: str | None, nom_financeur: str | None = None) -> bool:
    """Whether a line pays the ANRU's money: filed under `ANRU`, or named so (its dispositif, or the name
    of the financeur the user added) under the État, `AUTRE` or a financeur the reference list does not
    describe — not under a collectivité or another body of the list (a Région's « rénovation urbaine »
    is its own), nor a name of its payer's own money (« Contrepartie NPNRU »), of a territory's fund or of
    another fund's family (« DSIL rénovation urbaine », « FEDER NPNRU »: the État's, the Union's money)."""
    if financeur == "ANRU":
        return True
    if financeur in _AUTRES_PAYEURS:
        return False
    return any(_names_anru(n) for n in (nom, nom_financeur) if n)


@memo_text(4096)
def _names_anru(nom: str) -> bool:
    return (bool(_ANRU.search(normalise(nom))) and not _names_own_money(nom) and not _TERRITOIRE.search(normalise(nom))
            and famille(nom) is None)


@memo_text(4096)
def _names_etat(nom: str) -> bool:
    """Whether the name designates the État's subsidy whoever is said to pay it (`_SIGLE`, `_DOTATION`)."""
    n = normalise(nom)
    return bool(_SIGLE.search(n)) or (bool(_DOTATION.search(n)) and not _TERRITOIRE.search(n))


@memo_text(4096)
def _names_own_money(nom: str) -> bool:
    """Whether the name says its payer's own money (`_PROPRE`)."""
    return bool(_PROPRE.search(normalise(nom)))


def names_own_money(nom: str | None) -> bool:
    """Whether a dispositif's name says its payer's own money beside a fund it names (« Contrepartie
    Interreg », « Autofinancement hors DSIL »: `_PROPRE`)."""
    return bool(nom) and _names_own_money(nom)


@memo_text(4096)
def _names_collectivite(nom: str) -> bool:
    """Whether the name says a territory's own fund (`_TERRITOIRE`) and bears no acronym of the État's."""
    n = normalise(nom)
    return bool(_TERRITOIRE.search(n)) and not _SIGLE.search(n)


# The words by which a dispositif names a public body, by that body's code
_PERSONNES = {
    "REGION": r"region|regional|regionale|regionaux|conseil regional",
    "DEPT": r"departement|departemental|departementale|departementaux|conseil departemental|conseil general|cd \d{2,3}",
    "ETAT": r"etat|prefecture|prefet",
    "UE": r"europe|europeen|europeenne|europeens|europeennes|union europeenne",
}
# ... said as the payer: right after a word of money given (« Subvention Région », « Participation du Conseil
# départemental », « Subv. CD62 », « Aide de l'État », « Fonds européens »), or beginning the name (« Région HDF »,
# « CD62 »). Not a body merely named in it: a place (« Quartier de la Région », « Parc de l'Europe »), « remise en
# état », « Part ville (contrat Région) » are the commune's own money, counted so before
_APRES_LE_MOT = (r"(?: (?:exceptionnelles?|complementaires?|specifiques?|d investissement))?"
                 r"(?: (?:de la|de l|du|des|de|d|par la|par le|par l))? ")
_VERSE = (r"(?<![a-z0-9])(?:subventions?|subv|aides?|participations?|financements?|cofinancements?|contributions?"
          rf"|fonds|credits?){_APRES_LE_MOT}")
_EN_TETE = r"^(?:(?:la|le|l) )?(?:region|conseil regional|departement|conseil departemental|conseil general|cd \d{2,3}" \
           r"|union europeenne|prefecture)(?![a-z0-9])"
# ... or a fund of the body's own, anywhere in the name: the Union's LEADER (FEADER) and FSE, which a GAL or an EPCI
# carrying it pays out (« EPCI / LEADER » is the Union's money filed under the wrong code, no fonds de concours)
_FONDS_DE = {"UE": r"feader|leader|fse"}
# The EPCI too, after such a word (« Subvention communauté urbaine », « Participation de l'EPCI »), by the words no
# other body bears (not « CA », « CC » alone: a bank, a figure; the Métropole: `_METROPOLE`): under the commune's code,
# its money was the commune's own.
# Not the EPCI members' contributions to a syndicat mixte (« Participation des EPCI membres »), its budget's resources
# as its communes members' are
_MOTS_EPCI = (r"(?:epci|communaute urbaine|communaute d agglomeration|communaute de communes|intercommunalite)"
              r"(?! (?:membres?|adherents?)(?![a-z0-9]))")
# ... and as the Métropole, after such a word (« Subvention de la Métropole », « Participation Métropole européenne
# de Lille », « … Métropole du Grand Paris », « … Métropole Rouen Normandie »): an EPCI (CGCT L5217-1). Not the
# Métropole de Lyon, a collectivité à statut particulier (L3611-1), no EPCI, public money all the same, which the
# reference list has no code for (`PAYEUR_SANS_CODE`); nor a body bearing the word, named by the words after it
# (« Métropole Savoie », a syndicat mixte; « Métropole Initiative », an association; « Métropole Hauts-de-Seine
# Habitat », an office; « Métropole Aménagement », a SPL). Those bodies by their names, not any word typed with a
# capital after « Métropole »: « Subvention Métropole Rouen », « … Métropole Voirie » are the métropole's aid, and
# written so they were the commune's own share under its code (FIN-06 passed)
PAYEUR_SANS_CODE = "AUTRE"
# ... the métropoles named by their city first (« Subvention Nantes Métropole », « Participation de Rennes Métropole »,
# « … Grenoble-Alpes Métropole »): the word after the money's was the city, no payer, so their money was the commune's
# own share (not their offices: « Toulouse Métropole Habitat »); and the Métropole de Lyon by its brand, « Grand Lyon »
_VILLE_DE_METROPOLE = (r"(?:nantes|rennes|brest|bordeaux|toulouse|montpellier(?: mediterranee)?|grenoble(?: alpes)?"
                       r"|tours|dijon|orleans|saint etienne|metz|clermont(?: auvergne)?|lille) ")
_METROPOLE = (rf"(?:(?P<grand_lyon>grand lyon(?![a-z0-9]))|(?:{_VILLE_DE_METROPOLE})?(?:euro)?metropole"
              r"(?:(?= (?:(?:de|du) )?(?:grand )?(?P<lyon>lyon)(?![a-z0-9]))"
              r"|(?! (?:hauts de seine )?(?:habitat|amenagement)(?![a-z0-9])| (?:savoie|initiatives?)(?![a-z0-9]))))")
_NOMME_PAR_CODE = {code: re.compile(rf"{_VERSE}(?:{mots})(?![a-z0-9])|(?={_EN_TETE})(?:(?:la|le|l) )?(?:{mots})"
                                    r"(?![a-z0-9])" + (rf"|(?<![a-z0-9])(?:{_FONDS_DE[code]})(?![a-z0-9])"
                                                       if code in _FONDS_DE else ""))
                   for code, mots in _PERSONNES.items()}
_NOMME_PAR_CODE["EPCI"] = re.compile(rf"{_VERSE}(?:{_MOTS_EPCI})(?![a-z0-9])")
# ... and by its short name, which only a place's name after « de » makes one (« Subvention CU d'Arras », « Participation
# de la CA de Lens-Liévin », « Subv. CC du Ternois »): alone, « CA », « CC », « CU » are a bank, a figure, a certificat
# d'urbanisme, and « Subvention CA de mars », « … CA du 12 mars » a date (of a conseil d'administration). « CA du
# Languedoc », « CA des Savoie » are also the Crédit Agricole's regional banks: the short name is the EPCI only after a
# word a collectivité names another body's aid with (« Contribution », « Cofinancement » too) — not « Financement »,
# « Crédits », « Fonds », a bank's loan too (« Financement CA des Savoie » under COMMUNE is the commune's borrowing, its
# own share) — and only under a public financeur's code (`_autres_payeurs`: under PRIVE, « Subvention CA du Languedoc »
# is the bank's). The place's first word (after « la », « l' »: « CA de la Porte du Hainaut », « CC de l'Atrébatie »)
# is captured: no common noun (`_NOMS_COMMUNS`, `_epci_par_son_sigle`), or « Subvention CA de l'exercice 2023 », « … CA
# d'un montant de », « Subvention CC de l'opération », « … CU de la parcelle » (the conseil d'administration, a
# certificat d'urbanisme) were the EPCI. Those words whatever the capitals, not any word typed without one:
# « Subvention CU d'arras », « … CA du pays de Saint-Omer » are the EPCI's aid, and written so were the commune's own
# share under its code (FIN-06 passed)
_NOMS_COMMUNS = frozenset(
    "la l un une ce cet cette ces son sa ses leur exercice exercices annee annees mois semaine trimestre semestre "
    "periode fin debut seance seances reunion deliberation decision montant operation operations parcelle parcelles "
    "projet projets dossier dossiers demande tranche phase budget programme convention travaux".split())
_AIDE_DONNEE = (r"(?<![a-z0-9])(?:subventions?|subv|aides?|participations?|contributions?|cofinancements?"
                rf"|fonds de concours){_APRES_LE_MOT}")
_MOIS = r"janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre"
_SIGLE_EPCI = re.compile(rf"{_AIDE_DONNEE}(?:cu|ca|cc|cda) (?:de|d|du|des) (?:(?:la|l) )?"
                         rf"(?!(?:{_MOIS})(?![a-z0-9]))([a-z]+)")
# what the État or the EPCI pays a collectivité outside any operation, its own resource whoever pays it (« Dotation
# de l'État (DGF) »), a place named after a body (« Place de l'Europe », « parvis de la préfecture »), and the
# payer's own money said beside another's aid (« Participation communale après aide Région », « hors aide de l'État »;
# not « Subvention Région hors TVA », the Région's all the same)
_RESSOURCE_OU_LIEU = re.compile(r"(?<![a-z0-9])(?:dgf|dotations? globales?|dotations? forfaitaires?|dsu|dsr|dnp"
                                r"|dotations? de solidarite|perequation|fctva|attributions? de compensation"
                                r"|(?:rue|avenue|place|parvis|square|quai|boulevard|cite|hotel) (?:de |du |des )?(?:la |l )?"
                                r"(?:region|departement|europe|prefecture|etat)"
                                r"|(?:apres|hors|deduction|deduits?|deduites?) (?:(?:faite|de|des|du|d|la|le|l|les) )*"
                                r"(?:subventions?|subv|aides?|participations?|financements?|cofinancements?|fonds"
                                r"|region|regional|regionale|departement|departementale|etat|europe|europeens?))(?![a-z0-9])")


# ... or a body's own money named with it (« Autofinancement Département », « Fonds propres de la Région », « Apport de
# l'EPCI »): whose autofinancement it is, that body's, not the money of the payer it is filed under — « COMMUNE /
# Autofinancement Département » was the commune's own share (FIN-06 passed, FIN-21 said « not listed » only). The
# EPCI too, by the words only it bears (`_MOTS_EPCI`)
_APPORT_DE = (r"(?<![a-z0-9])(?:autofinancement|auto financement|fonds propres|apports?(?: en nature)?)"
              r"(?: (?:de la|de l|du|des|de|d))? ")
# Not a word that says no body there: a town's surroundings (« Fonds propres — région de Lens », « région d'Audruicq »:
# the Région is « Région Normandie », « Région des Hauts-de-France », « Région de la Réunion »), « état des lieux »
# (« Conseil régional de Normandie » is the Région: the word « région » alone)
_PAS_LE_CORPS = {"REGION": r"(?!(?<=region) (?:de|d) (?!la |l )[a-z0-9])", "ETAT": r"(?! des lieux(?![a-z0-9]))"}
_APPORT_PAR_CODE = {code: re.compile(rf"{_APPORT_DE}(?:{mots})(?![a-z0-9]){_PAS_LE_CORPS.get(code, '')}")
                    for code, mots in {**_PERSONNES, "EPCI": _MOTS_EPCI}.items()}
_METROPOLE_VERSEE, _METROPOLE_APPORT = re.compile(_VERSE + _METROPOLE), re.compile(_APPORT_DE + _METROPOLE)


def _metropole(motif: re.Pattern, n: str) -> str | None:
    """The code of the métropole the normalised name `n` says pays (`motif`: `_METROPOLE` after a word of money given
    or own money): the EPCI, or `PAYEUR_SANS_CODE` for the Métropole de Lyon; None if none."""
    m = motif.search(n)
    return None if m is None else PAYEUR_SANS_CODE if m["lyon"] or m["grand_lyon"] else "EPCI"


@memo_text(4096)
def _payeurs_nommes(nom: str) -> frozenset[str]:
    """The codes of the public bodies a dispositif's name says pay it (`_NOMME_PAR_CODE`); when it says its payer's own
    money (`_PROPRE`), only a body whose own money it names (`_APPORT_PAR_CODE`); none for a resource of the
    collectivité's own or a place (`_RESSOURCE_OU_LIEU`)."""
    n = normalise(nom)
    if _RESSOURCE_OU_LIEU.search(n):
        return frozenset()
    apports = frozenset([code for code, motif in _APPORT_PAR_CODE.items() if motif.search(n)]
                        + [m for m in [_metropole(_METROPOLE_APPORT, n)] if m])
    if _names_own_money(nom):
        return apports
    return apports.union([code for code, motif in _NOMME_PAR_CODE.items() if motif.search(n)]
                         + [m for m in [_metropole(_METROPOLE_VERSEE, n)] if m])


@memo_text(4096)
def _epci_par_son_sigle(nom: str) -> bool:
    """Whether the name says the EPCI pays it by its short name (`_SIGLE_EPCI`) before a place's name, a word no common
    noun (`_NOMS_COMMUNS`: « CA de Lens-Liévin », « CU d'arras », not « CA de l'exercice 2023 »), not its payer's own
    money beside it nor a resource of the collectivité's own or a place (as `_payeurs_nommes`)."""
    n = normalise(nom)
    return (any(m[1] not in _NOMS_COMMUNS for m in _SIGLE_EPCI.finditer(n))
            and not _RESSOURCE_OU_LIEU.search(n) and not _names_own_money(nom))


# The Métropole de Lyon holds an EPCI's powers on its territory (CGCT L3641-1): a plan files its money under `EPCI`,
# and its own « Autofinancement Métropole de Lyon » there is no other payer's
_SOUS_LE_CODE = {"EPCI": (PAYEUR_SANS_CODE,)}


def _autres_payeurs(nom: str, financeur: str | None, categorie: str | None) -> frozenset[str]:
    """The codes of the public bodies but `financeur` the name says pay it: the EPCI by its short name only under a
    public financeur's code (`categorie`, the workbook's; when not given, the reference list's): under a private one
    (PRIVE, Action Logement, a bank the user added), « Subvention CA du Languedoc » is the Crédit Agricole's."""
    payeurs = _payeurs_nommes(nom)
    if ((categorie if categorie is not None else layout.CATEGORIES_FIXES.get(financeur)) == "Public"
            and _epci_par_son_sigle(nom)):
        payeurs = payeurs | {"EPCI"}
    return payeurs - {financeur, *_SOUS_LE_CODE.get(financeur, ())}


def payer_named(nom: str | None, financeur: str | None, categorie: str | None = None) -> str | None:
    """The code of the one other public body a dispositif's name says pays it (`names_another_payer`), or None."""
    autres = _autres_payeurs(nom, financeur, categorie) if nom else ()
    return next(iter(autres)) if len(autres) == 1 else None


def names_another_payer(nom: str | None, financeur: str | None, categorie: str | None = None) -> bool:
    """Whether a dispositif's name says that another public body than `financeur` (of `categorie`, `_autres_payeurs`)
    pays it (`_payeurs_nommes`: the Région, the Département, the État, the Union, the EPCI), and not its payer's own
    money beside it (« Contrepartie Région », « Autofinancement hors subvention régionale »), nor a resource of the
    collectivité's own or a place."""
    return bool(nom) and bool(_autres_payeurs(nom, financeur, categorie))


def same(a: str | None, b: str | None) -> bool:
    """Two names of one dispositif: equal once normalised, or of the same family."""
    if not a or not b:
        return False
    if normalise(a) == normalise(b):
        return True
    fa = famille(a)
    return fa is not None and fa == famille(b)


def listed(nom: str, noms: tuple[str, ...]) -> str | None:
    """The name of `noms` that `nom` means (normalised equal, else same family), or None."""
    n = normalise(nom)
    for c in noms:
        if normalise(c) == n:
            return c
    fam = famille(nom)
    if fam is not None:
        for c in noms:
            if famille(c) == fam:
                return c
    return None


def nearest(nom: str, noms: tuple[str, ...]) -> str | None:
    """The listed name closest in spelling (`values.closest`, on normalised names), for a suggestion."""
    by_norm = {normalise(c): c for c in noms}
    c = closest(normalise(nom), tuple(by_norm))
    return by_norm[c] if c is not None else None
