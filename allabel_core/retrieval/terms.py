"""The BM25 tokenizer: words as a scientist reads them.

A general-purpose tokenizer cuts ``LiFePO4`` at nothing but ``300 K`` and
``4-hydroxy-tamoxifen`` into pieces that match everywhere (``300``, ``4``,
``hydroxy``), and lowercases ``CO`` into ``co``. :func:`terms` keeps whole,
in this order of precedence:

1. **quantities**: a number followed by a known unit, with or without a
   space (``300 K``, ``300K``, ``2.5 eV``, ``5 mg/kg``, ``10 %``), written
   without the space (``300K``) so both spellings match;
2. **names with inner punctuation**: hyphens, slashes, dots, commas,
   colons, apostrophes and ``+`` between word characters
   (``4-hydroxy-tamoxifen``, ``1,2-dichloroethane``, ``Li-ion``,
   ``COVID-19``, ``N,N-dimethylformamide``, ``p53/MDM2``); brackets inside
   a word stay (``(Ba,Sr)TiO3``, ``Fe(III)``), brackets around it go;
   a trailing charge stays (``Ca2+``);
3. **chemical formulas and symbols** are case-sensitive: a term with a
   digit, or an upper-case letter after its first character (``TiO2``,
   ``NaCl``, ``CO``, ``IL-6``), keeps its case; every other term is
   lower-cased (``The`` → ``the``), as are quantities' numbers but not their
   units (``mM`` ≠ ``MM``).

Terms in bm25s's English stop-word list (``STOPWORDS_EN``) are dropped, and
so is punctuation on its own. ``TERMS_VERSION`` names this behaviour; it is
part of every cached index's key, so a change here never reads an old index.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

TERMS_VERSION = "science-terms.v1"

# Units a number may carry. Longest first, so "mg/kg" wins over "mg" and
# "min" over "m"; a unit must not run on into a word ("5 mines" is no unit).
UNITS = sorted(
    {
        # temperature, energy, frequency, power, electricity, pressure
        "K", "°C", "°F", "℃", "eV", "meV", "keV", "MeV", "J", "kJ", "MJ", "cal", "kcal", "Hz", "kHz", "MHz", "GHz",
        "THz", "W", "mW", "kW", "MW", "V", "mV", "kV", "A", "mA", "μA", "µA", "nA", "Ω", "ohm", "S", "mS", "F", "μF",
        "µF", "nF", "pF", "T", "mT", "Pa", "kPa", "MPa", "GPa", "bar", "mbar", "atm", "Torr", "torr", "psi",
        # length, area, volume
        "m", "km", "cm", "mm", "μm", "µm", "um", "nm", "pm", "Å", "m2", "cm2", "mm2", "m3", "cm3", "L", "l", "mL",
        "ml", "μL", "µL", "uL", "nL", "dL", "dl",
        # mass, amount, concentration, dose
        "g", "kg", "mg", "μg", "µg", "ug", "ng", "pg", "mol", "mmol", "μmol", "µmol", "nmol", "M", "mM", "μM", "µM",
        "uM", "nM", "pM", "ppm", "ppb", "wt%", "at%", "vol%", "mol%", "%", "IU", "U",
        # time, rate, angle, radiation
        "s", "ms", "μs", "µs", "ns", "ps", "fs", "min", "h", "hr", "hrs", "d", "wk", "y", "yr", "yrs", "rpm", "°",
        "rad", "Gy", "mGy", "Sv", "mSv", "dB",
    },
    key=len,
    reverse=True,
)
_UNIT = "(?:" + "|".join(re.escape(u) for u in UNITS) + ")"
_NUMBER = r"[-+]?\d+(?:[.,]\d+)*"
_WORD = r"[\w()\[\]]+(?:[-/.,:'+·][\w()\[\]]+)*(?:\d*\+)?"
_TOKEN = re.compile(
    # An opening bracket before a number is skipped on its own, so "(10 nm)"
    # still yields the quantity "10nm".
    rf"[(\[](?=[-+]?\d)|(?P<qty>{_NUMBER}[ \u00a0\u2009]?{_UNIT}(?:/{_UNIT})*)(?![\w])|(?P<word>{_WORD})",
    re.UNICODE,
)
# Dashes and minus signs that mean a hyphen or a minus, folded to "-".
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d"), "-")


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


STOPWORDS = _stopwords()


def _unwrap(token: str) -> str:
    """Drop brackets that wrap a term or do not close inside it:
    ``(BMI)`` → ``BMI``, ``(see`` → ``see``, but ``(Ba,Sr)TiO3`` stays."""
    pairs = (("(", ")"), ("[", "]"))
    changed = True
    while changed and token:
        changed = False
        for o, c in pairs:
            if token.startswith(o) and token.endswith(c) and len(token) > 1 and _balanced(token[1:-1], o, c):
                token, changed = token[1:-1], True
            elif token.startswith(o) and token.count(o) > token.count(c):
                token, changed = token[1:], True
            elif token.endswith(c) and token.count(c) > token.count(o):
                token, changed = token[:-1], True
    return token


def _balanced(text: str, o: str, c: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == o) - (ch == c)
        if depth < 0:
            return False
    return depth == 0


_DIGIT = re.compile(r"\d")
_ALNUM = re.compile(r"[^\W_]")
_SPACES = re.compile(r"[ \u00a0\u2009]")
_BRACKETS = frozenset("()[]")


def _keeps_case(term: str) -> bool:
    rest = term[1:]
    return rest != rest.lower() or _DIGIT.search(term) is not None


@lru_cache(maxsize=1 << 18)
def _word(raw: str) -> tuple[str, bool] | None:
    """A matched word as a term, and whether it was lower-cased; None if it
    holds no letter or digit. Cached: a corpus repeats its words."""
    term = (_unwrap(raw) if not _BRACKETS.isdisjoint(raw) else raw).strip(".,:'/-·")
    if not term or _ALNUM.search(term) is None:
        return None
    if _keeps_case(term):
        return term, False
    return term.lower(), True


def terms(text: str, *, stopwords: Iterable[str] | None = None) -> list[str]:
    """The BM25 terms of ``text``, in order (duplicates kept).

    ``stopwords``: lower-case terms to drop (default bm25s's English list;
    pass ``()`` to keep every term).
    """
    stop = STOPWORDS if stopwords is None else frozenset(stopwords)
    text = unicodedata.normalize("NFC", text).translate(_DASHES)
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        qty, raw = m.group("qty", "word")
        if qty:
            out.append(_SPACES.sub("", qty))
        elif raw:
            found = _word(raw)
            if found is not None and not (found[1] and found[0] in stop):
                out.append(found[0])
    return out
