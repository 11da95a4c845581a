"""Offset-safe AraBERT v0.2 preparation: the model's view of a text, with a map back to the original.

:func:`prepare` mirrors ``ArabertPreprocessor("bert-base-arabertv02").preprocess`` (aub-mind/arabert,
``preprocess.py``, ``_preprocess_v2``) and records, for every prepared character, the range of
original characters it stands for. Spans go in and come out in original offsets; naba never edits
``Document.text``.

Steps, in AraBERT's order: HTML entities are unescaped; tashkeel and tatweel are stripped; URLs,
e-mails and @mentions become ``[رابط]``, ``[بريد]``, ``[مستخدم]``; HTML tags become spaces;
Arabic-Indic digits become 0-9; a non-digit repeated more than twice is cut to two; spaces go around
every character that is not an Arabic letter, a digit, a Latin letter or ``[``/``]``, and between
digits and Arabic letters; ``/`` becomes ``-``; characters outside AraBERT's alphabet become spaces;
whitespace is collapsed to single spaces.

Deliberate differences from AraBERT (each keeps more of the text, none changes ordinary news):

- all Arabic combining marks are deleted (U+0610-061A, U+064B-065F, U+0670, Quranic marks
  U+06D6-06ED); AraBERT strips only U+064B-0652 and then splits words at the others;
- invisible marks (LRM/RLM, ZWJ/ZWNJ/ZWSP, bidi embeddings/isolates, BOM, soft hyphen, U+061C)
  are deleted; AraBERT turns them into spaces, which splits a word holding one;
- emoji are kept, each as its own token (as AraBERT's twitter models do); variation selectors,
  skin-tone modifiers and the keycap mark are deleted after an emoji and are spaces elsewhere;
- Persian digits become 0-9, Persian yeh/kaf (U+06CC, U+06A9) become Arabic yeh/kaf and alef
  wasla (U+0671) becomes alef; AraBERT turns the first two into spaces and isolates the third;
- Arabic presentation forms (U+FB50-FDFF, U+FE70-FEFE: the contextual letter shapes and
  ligatures that PDF extraction and old web pages leave in text, ``ﺍﻟﻘﺎﻫﺮﺓ``, ``ﻻ``, ``ﷲ``) become
  the letters they stand for (Unicode's compatibility decomposition, NFKC; an isolated diacritic's
  form becomes the diacritic, without NFKC's leading space); AraBERT turns them into spaces, which
  deletes such a word or splits ``اﻹنجليزية`` into ``ا نجليزية``. Every letter of a ligature maps
  back to the ligature. The two ligatures of several words (U+FDFA, U+FDFB) stay spaces;
- HTML tags must look like tags (``<b>``, ``</p>``, ``<br />``): AraBERT's ``</?[^>]+>`` would also
  delete everything between a "less than" and a later "greater than";
- AraBERT's second URL pattern (a PHP-style literal ending in ``$@iS``) is left out: it never
  matches and can backtrack catastrophically;
- a decimal entity of more than 4,300 digits (``&#`` and thousands of zeros), on which
  ``html.unescape`` and so AraBERT raise (``int()``'s limit), is read as without that limit.

Outside these, the output equals ArabertPreprocessor's: on all 3,963 ANERcorp train sentences and
the seed article (but for the four words of ANERcorp train spelled with a lam-alef ligature),
and on random mixes of Arabic, diacritics, digits of both systems, Latin,
punctuation, URLs, e-mails, mentions and entities (tests/test_text.py records such outputs and
re-checks live where ``arabert`` is installed).

Every prepared character ``i`` stands for ``original[offsets[i]:ends[i]]``. Deleted marks that
follow a kept character (diacritics, tatweel, repeated letters, variation selectors) are folded into
its range, so a word maps back with its diacritics (a repeated letter that is one of a ligature's
letters is not: the ligature's other letters stand for it); a replaced URL maps as a whole; spaces
that naba inserts map to the empty range at the next kept character. The ranges of kept characters
never overlap, but for the letters of one ligature, which share its start.

Preparing a prepared text changes nothing, but where cutting a repeated letter makes a URL's start:
as in AraBERT, the cut comes after the URL passes, so ``htttp`` becomes ``http``, which a second
preparation would replace.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from naba.errors import ConfigError

PRESETS = ("arabertv02", "none")

# character classes of the last step
_SEP, _AR, _DIGIT, _LATIN, _PUNCT, _EMOJI, _MARK, _EMOJI_MARK, _INVISIBLE = range(9)

# AraBERT's alphabet (CHARS_REGEX of preprocess.py) outside letters, digits and whitespace.
_ARABERT_PUNCT = "!\"#$%'()*+,.:;-<=·>?@\\^_`{|}~—٪’،؟୍“؛”ۚ»«–…‘\u066b\u066c\u0672\u0673\u0674"


def _class_table() -> np.ndarray:
    table = np.full(0x110000, _SEP, dtype=np.uint8)
    for lo, hi in [(0x0621, 0x063A), (0x0641, 0x064A)]:
        table[lo : hi + 1] = _AR
    table[ord("0") : ord("9") + 1] = _DIGIT
    for lo, hi in [("a", "z"), ("A", "Z")]:
        table[ord(lo) : ord(hi) + 1] = _LATIN
    table[[ord("["), ord("]")]] = _LATIN  # AraBERT keeps brackets inside words ([رابط])
    table[[ord(c) for c in _ARABERT_PUNCT]] = _PUNCT
    for lo, hi in [(0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2300, 0x23FF), (0x2B00, 0x2BFF)]:
        table[lo : hi + 1] = _EMOJI
    table[[0x3030, 0x303D, 0x3297, 0x3299]] = _EMOJI
    marks = [(0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06DF, 0x06E4)]
    marks += [(0x06E7, 0x06E8), (0x06EA, 0x06ED), (0x0640, 0x0640)]
    for lo, hi in marks:
        table[lo : hi + 1] = _MARK
    # variation selectors, keycap, skin tones, flag tags: part of an emoji, nothing on their own
    for lo, hi in [(0xFE00, 0xFE0F), (0x20E3, 0x20E3), (0x1F3FB, 0x1F3FF), (0xE0020, 0xE007F)]:
        table[lo : hi + 1] = _EMOJI_MARK
    invisible = [(0x00AD, 0x00AD), (0x061C, 0x061C), (0x200B, 0x200F), (0x202A, 0x202E)]
    invisible += [(0x2060, 0x2064), (0x2066, 0x2069), (0xFEFF, 0xFEFF)]
    for lo, hi in invisible:
        table[lo : hi + 1] = _INVISIBLE
    return table


_CLASS = _class_table()
# one-to-one replacements (Arabic-Indic and Persian digits, Persian yeh/kaf, alef wasla), BMP only
_MAP = np.arange(0x10000, dtype=np.uint32)
_MAP[0x0660:0x066A] = _MAP[0x06F0:0x06FA] = np.arange(ord("0"), ord("9") + 1)
_MAP[[0x06CC, 0x06A9, 0x0671]] = [0x064A, 0x0643, 0x0627]

# Arabic presentation forms and what they stand for (NFKC), for those NFKC changes; an isolated
# diacritic's form decomposes to a space and the diacritic, whose space would split its word. The
# two phrase ligatures (U+FDFA, U+FDFB: honorifics of several words) are left out: the spaces between
# their words would stand inside one original character, which the offset map cannot hold
_PRESENTATION = re.compile("[\ufb50-\ufdff\ufe70-\ufefe]")


def _presentation_table() -> dict[str, str]:
    table = {}
    for cp in [*range(0xFB50, 0xFE00), *range(0xFE70, 0xFEFF)]:
        c = chr(cp)
        new = unicodedata.normalize("NFKC", c)
        if new != c:
            new = new[1:] if new[0] == " " and new[1:] and _CLASS[ord(new[1])] == _MARK else new
            if " " not in new:
                table[c] = new
    return table


# each presentation form NFKC changes (but the two phrase ligatures) -> the letters it stands for
PRESENTATION_FORMS: dict[str, str] = _presentation_table()
# the same for str.translate, and how many letters each BMP character becomes (1 but for ligatures)
_FORM_TABLE = {ord(c): new for c, new in PRESENTATION_FORMS.items()}
_FORM_LENGTH = np.ones(0x10000, dtype=np.int64)
_FORM_LENGTH[[ord(c) for c in PRESENTATION_FORMS]] = [len(new) for new in PRESENTATION_FORMS.values()]

# html.unescape's own pattern (html/__init__.py), so each entity is replaced exactly as it would be.
_ENTITY = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
# AraBERT's replacement passes, in its order, each with a hint (a substring or pattern) that any
# match must contain, so that a pass whose hint is absent can be skipped. Its second URL pattern,
# a PHP-style literal ending in "$@iS", can never match and can backtrack catastrophically; it is
# left out.
_URL_TOKEN, _EMAIL_TOKEN, _MENTION_TOKEN = " [رابط] ", " [بريد] ", " [مستخدم] "
_PASSES = [
    (
        r"(?:https?://.)?(?:www\.)?[-a-zA-Z0-9@:%._+~#=]{2,256}\.[a-z]{2,6}\b[-a-zA-Z0-9@:%_+.~#?&/=]*",
        _URL_TOKEN,
        re.compile(r"\.[a-z]"),
    ),
    (r"https?://[a-zA-Z0-9_\-./~?=%&]+", _URL_TOKEN, "http"),
    (r"www[a-zA-Z0-9_\-?=%&/.~]+", _URL_TOKEN, "www"),
    # AraBERT's "[a-zA-Z]+\.com", tried only where a match can start (a run's start, or just after a
    # match ending in the run): a match from inside a run ends where the run's does, so the rest
    # never match, and trying them rescans the run from every letter (quadratic in its length)
    (r"(?:(?<![a-zA-Z])|(?<=\.com))[a-zA-Z]+\.com", _URL_TOKEN, ".com"),
    (r"(?=http)\S+", _URL_TOKEN, "http"),
    (r"(?=www)\S+", _URL_TOKEN, "www"),
    (r"://", _URL_TOKEN, "://"),
    # a match of these starts where its run starts: the look-behinds only keep them linear
    (r"(?<![\w-])[\w-]+@(?:[\w-]+\.)+[\w-]+", _EMAIL_TOKEN, "@"),
    (r"(?<!\S)\S+@\S+", _EMAIL_TOKEN, "@"),
    (r"@[\w\d]+", _MENTION_TOKEN, "@"),
    (r"</?[A-Za-z!][^<>]*>", " ", "<"),
]
_PASSES = [(re.compile(pattern), new, hint) for pattern, new, hint in _PASSES]
# AraBERT inserts spaces between digits and Arabic letters with these two passes, one after the
# other; they are replayed on a string of class symbols ("0" digit, "a" Arabic letter)
_DIGIT_THEN_ARABIC = re.compile(r"(0+)(a+)")
_ARABIC_THEN_DIGIT = re.compile(r"(a+)(0+)")


@dataclass(frozen=True)
class Prepared:
    """A prepared text and where each of its characters comes from in the original.

    ``offsets[i]`` is the original index of prepared character ``i`` (``offsets[-1] ==
    len(original)``); ``ends[i]`` is the end of the original range it stands for (equal to
    ``offsets[i]`` for a space naba inserted). Both are non-decreasing.
    """

    original: str
    text: str
    offsets: tuple[int, ...]
    ends: tuple[int, ...] | None = None
    _starts_np: np.ndarray = field(init=False, repr=False, compare=False)
    _ends_np: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.offsets) != len(self.text) + 1 or self.offsets[-1] != len(self.original):
            raise ValueError("Prepared: offsets must have len(text) + 1 entries ending at len(original)")
        starts = np.asarray(self.offsets[:-1], dtype=np.int64)
        if self.ends is None:  # a hand-built one-to-one map
            object.__setattr__(self, "ends", tuple(int(x) + 1 for x in self.offsets[:-1]))
        ends = np.asarray(self.ends, dtype=np.int64)
        if len(ends) != len(self.text):
            raise ValueError("Prepared: ends must have len(text) entries")
        object.__setattr__(self, "_starts_np", starts)
        object.__setattr__(self, "_ends_np", ends)

    @classmethod
    def _from_arrays(cls, original: str, text: str, starts: np.ndarray, ends: np.ndarray) -> Prepared:
        """Build without re-validating: ``prepare``'s arrays are right by construction."""
        self = object.__new__(cls)
        fields = {
            "original": original,
            "text": text,
            "offsets": tuple(starts.tolist()) + (len(original),),
            "ends": tuple(ends.tolist()),
            "_starts_np": starts,
            "_ends_np": ends,
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        return self

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original range of prepared ``text[start:end]``, without the spaces naba inserted.

        A range holding only inserted spaces (or nothing) maps to an empty range.
        """
        starts, ends = self._starts_np, self._ends_np
        start, end = max(start, 0), min(end, len(self.text))
        while start < end and ends[start] == starts[start]:
            start += 1
        while end > start and ends[end - 1] == starts[end - 1]:
            end -= 1
        if start >= end:
            at = self.offsets[start]
            return at, at
        return int(starts[start]), int(ends[end - 1])

    def to_prepared(self, start: int, end: int) -> tuple[int, int]:
        """The prepared range whose characters stand for original characters in ``[start, end)``.

        A deleted mark folded into the kept character before it (a diacritic, tatweel, a repeated
        letter) counts as that character: a range holding only the fatha of ``قالَ`` gives ``ل``. Other
        deleted characters (whitespace, invisible marks such as RLM or ZWJ) have no counterpart; a
        range holding only such characters maps to an empty range at the next prepared character.
        """
        starts, ends = self._starts_np, self._ends_np
        first = int(np.searchsorted(ends, start, side="right"))
        if first < len(starts) and ends[first] == starts[first]:
            first += 1
        last = int(np.searchsorted(starts, end, side="left")) - 1
        if last >= 0 and ends[last] == starts[last]:
            last -= 1
        if first > last:
            at = int(np.searchsorted(starts, start, side="left"))
            return at, at
        return first, last + 1

    def char_ranges(self, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`to_original` for prepared ranges that neither start nor end on a space.

        Tokenizer pieces never hold spaces, so this maps a whole document's subwords at once.
        """
        return self._starts_np[starts], self._ends_np[np.maximum(ends - 1, starts)]


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _string(codepoints: np.ndarray) -> str:
    return codepoints.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


def _substitute(
    text: str, starts: np.ndarray, ends: np.ndarray, pattern: re.Pattern[str], replace
) -> tuple[str, np.ndarray, np.ndarray]:
    """Apply ``replace(match) -> str | None`` to each match; new characters span the whole match."""
    pieces, starts_out, ends_out, at = [], [], [], 0
    for m in pattern.finditer(text):
        new = replace(m)
        if new is None:
            continue
        a, b = m.span()
        # a replacement that keeps the match's tail ("&ampx" -> "&x") keeps that tail's own offsets;
        # its first character always stands for what was replaced, also when it happens to equal
        # the match's last one ("&#59;" -> ";", "&#x30" -> "0")
        keep = 0
        while keep < min(len(new) - 1, b - a - 1) and new[len(new) - 1 - keep] == text[b - 1 - keep]:
            keep += 1
        pieces += [text[at:a], new]
        starts_out += [starts[at:a], np.full(len(new) - keep, starts[a]), starts[b - keep : b]]
        ends_out += [ends[at:a], np.full(len(new) - keep, ends[b - keep - 1]), ends[b - keep : b]]
        at = b
    if not pieces:
        return text, starts, ends
    pieces.append(text[at:])
    starts_out.append(starts[at:])
    ends_out.append(ends[at:])
    return "".join(pieces), np.concatenate(starts_out), np.concatenate(ends_out)


def _delete(
    codepoints: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    deleted: np.ndarray,
    absorbed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop ``deleted`` characters; an ``absorbed`` one widens the kept character before it."""
    if not deleted.any():
        return codepoints, starts, ends
    index = np.arange(len(codepoints))
    kept = ~deleted
    # the last kept-or-breaking character at or before each position owns an absorbed mark
    last = np.maximum.accumulate(np.where(kept | (deleted & ~absorbed), index, -1))
    ends = ends.copy()
    marks = np.flatnonzero(absorbed & (last >= 0))
    owners = last[marks]
    ok = kept[owners]
    np.maximum.at(ends, owners[ok], ends[marks[ok]])
    return codepoints[kept], starts[kept], ends[kept]


def prepare(text: str, *, preset: str = "arabertv02") -> Prepared:
    """Prepare ``text`` for a model the way ``preset`` expects, keeping a map to ``text``.

    ``"arabertv02"`` mirrors AraBERT v0.2's preprocessing (see the module docstring for the few
    deliberate differences); ``"none"`` is the identity. Linear in the length of ``text``.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown preparation preset {preset!r}; known: {list(PRESETS)}")
    if preset == "none" or not text:
        n = len(text)
        return Prepared._from_arrays(text, text, np.arange(n, dtype=np.int64), np.arange(1, n + 1, dtype=np.int64))
    n = len(text)
    work, starts, ends = text, np.arange(n, dtype=np.int64), np.arange(1, n + 1, dtype=np.int64)

    if "&" in work:
        work, starts, ends = _substitute(work, starts, ends, _ENTITY, _unescape)

    if _PRESENTATION.search(work):
        # each form is one character, all of whose letters stand for it: one pass, not one
        # substitution per form (PDF-extracted text is nearly all forms; that took 16 s a megabyte)
        lengths = _FORM_LENGTH[np.minimum(_codepoints(work), 0xFFFF)]
        work = work.translate(_FORM_TABLE)
        starts, ends = np.repeat(starts, lengths), np.repeat(ends, lengths)

    # strip tashkeel, tatweel and invisible marks (AraBERT strips tashkeel before finding URLs)
    cps = _codepoints(work)
    classes = _CLASS[cps]
    emoji_marks = np.flatnonzero(classes == _EMOJI_MARK)
    if len(emoji_marks):
        # an emoji modifier not on an emoji (a skin tone after a letter) is a space, as in AraBERT
        before = np.maximum.accumulate(np.where(classes == _EMOJI_MARK, -1, np.arange(len(cps))))
        owner = before[emoji_marks]
        stray = emoji_marks[(owner < 0) | (classes[np.maximum(owner, 0)] != _EMOJI)]
        cps, classes = cps.copy(), classes.copy()
        cps[stray], classes[stray] = ord(" "), _SEP
    marks = (classes == _MARK) | (classes == _EMOJI_MARK)
    cps, starts, ends = _delete(cps, starts, ends, marks | (classes == _INVISIBLE), marks)
    work = _string(cps)

    for pattern, new, hint in _PASSES:
        if (hint.search(work) if isinstance(hint, re.Pattern) else hint in work):
            work, starts, ends = _substitute(work, starts, ends, pattern, lambda m, new=new: new)
    if not work:
        return Prepared._from_arrays(text, "", np.zeros(0, np.int64), np.zeros(0, np.int64))

    cps = _codepoints(work)
    cps = _MAP[cps] if cps.max() < 0x10000 else np.where(cps < 0x10000, _MAP[cps & 0xFFFF], cps)
    # AraBERT's (\D)\1{2,} -> \1\1: every third-or-later copy of a non-digit goes
    triple = np.zeros(len(cps), dtype=bool)
    if len(cps) > 2:
        triple[2:] = (cps[2:] == cps[1:-1]) & (cps[1:-1] == cps[:-2]) & (_CLASS[cps[2:]] != _DIGIT)
    # a copy that is a ligature's letter with more of its letters after it (ﷲ's alef after two alefs)
    # is stood for by them: folded into the character before, that one would take in the ligature
    inside = np.zeros(len(cps), dtype=bool)
    inside[:-1] = starts[:-1] == starts[1:]
    cps, starts, ends = _delete(cps, starts, ends, triple, triple & ~inside)
    cps = np.where(cps == ord("/"), ord("-"), cps)  # "/" is missing from AraBERT v0.2's vocabulary

    classes = _CLASS[cps]
    kept = classes != _SEP
    positions = np.flatnonzero(kept)
    if len(positions) == 0:
        return Prepared._from_arrays(text, "", np.zeros(0, np.int64), np.zeros(0, np.int64))
    kc, kcls = cps[positions], classes[positions]
    k_starts, k_ends = starts[positions], ends[positions]
    gap = np.cumsum(~kept)[positions]
    isolated = (kcls == _PUNCT) | (kcls == _EMOJI)
    boundary = (gap[1:] != gap[:-1]) | isolated[1:] | isolated[:-1]
    prev, cur = kcls[:-1], kcls[1:]
    if (~boundary & (((prev == _AR) & (cur == _DIGIT)) | ((prev == _DIGIT) & (cur == _AR)))).any():
        boundary = _digit_letter_boundaries(kcls, boundary)
    at = np.flatnonzero(boundary) + 1
    out = np.insert(kc, at, ord(" "))
    out_starts = np.insert(k_starts, at, k_starts[at])
    out_ends = np.insert(k_ends, at, k_starts[at])
    return Prepared._from_arrays(text, _string(out), out_starts, out_ends)


def _digit_letter_boundaries(kcls: np.ndarray, boundary: np.ndarray) -> np.ndarray:
    """``boundary`` plus the spaces AraBERT's two digit/letter passes insert.

    ``boundary[j]`` says a space goes between kept characters ``j`` and ``j + 1``. The passes are
    replayed on a string of class symbols holding the spaces so far; they write their spaces "|".
    """
    symbols = np.full(len(kcls), ord("x"), dtype=np.uint32)
    symbols[kcls == _AR] = ord("a")
    symbols[kcls == _DIGIT] = ord("0")
    symbols[(kcls == _PUNCT) | (kcls == _EMOJI)] = ord(" ")
    at = np.flatnonzero(boundary) + 1
    replayed = _string(np.insert(symbols, at, ord(" ")))
    replayed = _ARABIC_THEN_DIGIT.sub(r"|\1|\2|", _DIGIT_THEN_ARABIC.sub(r"|\1|\2|", replayed))
    bars = _codepoints(replayed) == ord("|")
    # where each kept character landed in ``replayed``: skip the bars, then the spaces of ``at``
    plain = np.flatnonzero(~bars)
    is_space = np.zeros(len(plain), dtype=bool)
    is_space[at + np.arange(len(at))] = True
    landed = plain[~is_space]
    return boundary | bars[landed[1:] - 1]


def _unescape(m: re.Match[str]) -> str | None:
    entity = m.group()
    if entity[1] == "#" and entity[2].isdigit():
        # int() refuses more than 4,300 decimal digits, so html.unescape raises on "&#" and 5,000
        # digits; without leading zeros, and cut to 8 digits (any 8 are past U+10FFFF, U+FFFD as are
        # more), the entity gives the same character
        digits = entity[2:].rstrip(";")
        short = digits.lstrip("0")[:8] or "0"
        entity = entity if short == digits else "&#" + short + entity[2 + len(digits) :]
    new = html.unescape(entity)
    return None if new == m.group() else new
