"""Rule-based CLAIM finder: the baseline for the claim layer and a cheap pre-annotator.

It follows the project's annotation guidelines (data/GUIDELINES.md, sections 6-7) as far as surface
rules can: a claim is the content of attributed speech after a reporting verb (in its inflections,
with the clitics و/ف) and a complementizer (أن/إن/ان/بأن, with or without an attached pronoun: the
word itself stays outside), after a colon, inside a quote pair, or in a clause attributed by a
source adverbial (بحسب، وفق ما أفاد); also after وصف/اتهم with بأن only, a document's جاء في … أن, and a
pull-quote with its speaker after a comma. A claim runs to the sentence end, to the closing quote of a
quote it started in, or to where the reporter speaks again ("، مضيفا أن ...", "، بحسب البيان");
coordinated complements ("أن X وأن Y") are two claims; a claim found inside another is part of the
outer one. Spans are tight: no space or punctuation (quotation marks included) at either edge.

Everything here is pure and works on the original text: offsets are code points into it.
``score`` is a fixed number per rule that orders the rules by how specific their evidence is
(colon > complementizer > quote > honorific = quote attributed afterwards > source adverbial); it
is neither measured nor calibrated, and is there so that rule output has the shape of model output.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from naba.errors import DataError, Problem

__all__ = ["RuleTagger", "find_claims"]

_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_WORD = "[\\w\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]+"
_WORD_RE = re.compile(_WORD)
# Invisible marks (LRM/RLM, ALM, ZWJ/ZWNJ/ZWSP, bidi embeddings/isolates, BOM, soft hyphen), as
# naba.text drops them: news text puts an RLM after a word or a period ("الضرائب.\u200f وذهب"), and
# it must neither split a phrase into other tokens nor stand at a span's edge.
_INVISIBLE = "\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_INVISIBLE_CHAR = re.compile(f"[{_INVISIBLE}]")
# A word, or one punctuation character: ANERcorp separates punctuation by spaces, news text
# usually attaches it ("بيان: “خلال"), and both must give the same tokens.
_TOKEN = re.compile(f"{_WORD}|[^\\s\\w{_INVISIBLE}]")


def _norm(word: str) -> str:
    """Matching key: no diacritics or tatweel, one alef, final ى as ي (ANERcorp mixes spellings)."""
    word = _DIACRITICS.sub("", word)
    return word.translate(str.maketrans("أإآٱى", "ااااي"))


def _verb_forms(past: str, present: str, participle: str | None) -> set[str]:
    """Inflections of a regular reporting verb, given normalized 3ms past, present stem, participle."""
    forms = {past + s for s in ("", "ت", "وا", "ا", "تا")}
    forms |= {p + present + s for p in "يتن" for s in ("", "ون", "ان")}
    if participle:
        forms |= {participle + s for s in ("ا", "ه", "ة", "ين", "ون", "ان")}
    return forms


# (past, present stem, participle), all normalized.
_REGULAR = [
    ("قال", "قول", "قائل"),
    ("اكد", "ؤكد", "مؤكد"),
    ("اعلن", "علن", "معلن"),
    ("اضاف", "ضيف", "مضيف"),
    ("اوضح", "وضح", "موضح"),
    ("اشار", "شير", "مشير"),
    ("ذكر", "ذكر", None),
    ("افاد", "فيد", "مفيد"),
    ("حذر", "حذر", "محذر"),
    ("اعتبر", "عتبر", "معتبر"),
    ("صرح", "صرح", "مصرح"),
    ("زعم", "زعم", "زاعم"),
    ("شدد", "شدد", "مشدد"),
    ("كشف", "كشف", "كاشف"),
    ("ابلغ", "بلغ", None),
    ("رجح", "رجح", "مرجح"),
    ("توقع", "توقع", "متوقع"),
    ("لاحظ", "لاحظ", "ملاحظ"),
    ("اقر", "قر", "مقر"),
    ("اعترف", "عترف", "معترف"),
    ("اورد", "ورد", None),
    ("تابع", "تابع", "متابع"),
    ("اردف", "ردف", "مردف"),
    ("لفت", "لفت", "لافت"),
    ("نبه", "نبه", "منبه"),
    ("خاطب", "خاطب", "مخاطب"),
    ("نوه", "نوه", "منوه"),
    ("كتب", "كتب", None),
    ("ختم", "ختم", "مختتم"),
    ("كرر", "كرر", "مكرر"),
    ("طالب", "طالب", "مطالب"),
    ("طلب", "طلب", None),
    ("تصور", "تصور", None),
    ("اعتقد", "عتقد", "معتقد"),
    ("خلص", "خلص", None),
    ("استنتج", "ستنتج", "مستنتج"),
    ("اكد", "وكد", None),  # يوكد: the present of أكد written without its hamza seat
]
# Weak verbs (final ى) inflect irregularly: list them.
_IRREGULAR = {
    "نفي", "نفت", "نفوا", "ينفي", "تنفي", "ينفون", "نافيا", "نافية",
    "راي", "رات", "راوا", "يري", "تري", "نري", "يرون",
    "ادعي", "ادعت", "ادعوا", "يدعي", "تدعي", "مدعيا",
    "روي", "روت", "يروي",
    "يتردد", "اظهر", "اظهرت", "اظهروا",  # "يتردد أن" (hearsay), "أظهرت محاضر الجلسة أن" (documents)
}
_TRIGGERS = set().union(*(_verb_forms(*v) for v in _REGULAR)) | _IRREGULAR
# Nouns that report speech: "نقل عنه قوله إن", "وختم بالقول إن".
_TRIGGERS |= {"قوله", "قولها", "قولهم", "قولهما", "بالقول"}
# Nouns of belief and estimate that take a complement: "أعربت عن اعتقادها بأن", "وسط تقديرات بأن".
_TRIGGERS |= {n + p for n in ("اعتقاد", "ثقت", "قناعت", "امل") for p in ("ه", "ها", "هم")} | {"تقديرات", "توقعات", "انباء"}
_TRIGGERS.add("ج")  # interview answers: "س : ... ؟ ج : {claim}"
# Describing and accusing verbs report a statement only with بأن ("وصف الاتفاق بأنه تاريخي"، "اتهمها
# بأنها خربت ..."); with a verbal noun they give a label or a charge ("وصفه بالتاريخي"، "اتهمه بالتخريب").
# With an object pronoun, since the بأن clause's subject is their object.
_BI_ANNA_VERBS = {
    f + o
    for stem, present in (("وصف", "صف"), ("اتهم", "تهم"))
    for f in (_verb_forms(stem, present, None) - {stem + "ا"}) | {"واصفا", "واصفة", "متهما", "متهمة"}
    for o in ("", "ه", "ها", "هم", "هما")
}
# Words that continue one speaker's report: after a comma they start a new claim.
_PARTICIPLES = (
    "مضيف", "مشير", "مؤكد", "موضح", "لافت", "معتبر", "محذر", "مشدد", "منبه", "منوه", "نافي", "متابع",
    "مردف", "قائل",
)
_CONTINUERS = {f for f in _TRIGGERS if f.startswith(_PARTICIPLES)}
# Circumstantial participles after a comma start the reporter's own material ("، داعيا إلى ...").
_CONTINUERS |= {p + e for p in ("داعي", "رافض", "معرب", "مذكر", "منتقد", "مبدي", "مشيد", "مطالب") for e in ("ا", "ة")}
# Verbs that need an honorific subject to take unmarked direct speech ("وقال جلالته أريد ...").
_SAY = {"قال", "قالت", "يقول", "تقول", "اضاف", "اضافت", "تابع", "تابعت", "اردف", "اردفت"}
_SAYING = {"قائلا", "قائلة"}
_PREPOSITIONS = {"في", "ل", "لل", "الي", "علي", "عن", "من", "مع", "امام", "خلال", "بعد", "قبل", "عبر", "ان"}
_HONORIFIC = {"جلالته", "جلالتها", "سموه", "سموها", "فخامته", "معاليه", "معاليها", "سيادته", "دولته", "سماحته"}

_PRONOUNS = ("", "ه", "ها", "هم", "هما", "هن", "ني", "نا", "ك", "كم")
_COMPLEMENTIZERS = {p + "ان" + s for p in ("", "ب") for s in _PRONOUNS} | {"انه", "انها"}
_COORDINATED = {"و" + c for c in _COMPLEMENTIZERS}
# "أن" after these is not a reporting complementizer ("بعد أن", "يجب أن", "غير أن").
_NOT_AFTER = {
    "بعد", "قبل", "منذ", "غير", "الا", "رغم", "برغم", "بالرغم", "ورغم", "يجب", "يمكن", "ينبغي",
    "لابد", "بد", "دون", "بدون", "حتي", "لو", "كما", "سبق", "المقرر", "المتوقع", "عسي", "لاجل", "اجل", "يمكنه", "يمكنها",
    "يريد", "تريد", "نريد", "اريد", "يريدون", "اراد", "ارادت", "ارادوا", "يحاول", "تحاول", "حاول",
    "يستطيع", "تستطيع", "استطاع",
}
# "يذكر أن ..." with no subject is the reporter's aside ("it is worth noting"), not a report.
# So are the passives يُعتقد أن / يُتوقع أن, which without diacritics look like "he believes".
_IMPERSONAL = {"يذكر", "ويذكر", "يعتقد", "ويعتقد", "يتوقع", "ويتوقع"}
# The words of the reporter's "it is worth noting" formulas (يُذكر أن، يُشار إلى أن، تجدر الإشارة إلى أن، الجدير
# بالذكر أن): a clause that a source adverbial attributes starts after them ("ويُشار إلى أن X بحسب استطلاع").
# Not "من المتوقع أن" / "يُعتقد أن": with a source the expectation itself is what the source said.
_BACKGROUND = {"يذكر", "يشار", "تجدر", "الجدير", "الاشارة", "بالذكر", "الي"}
# Source adverbials: "بحسب المرصد، X", "X، وفق ما أفاد المرصد" (with clitic و as well).
_ADVERBIALS = {"بحسب", "حسب", "حسبما", "وفق", "وفقا", "نقلا"}
_FA_INNA = {"ف" + c for c in _COMPLEMENTIZERS if not c.startswith("ب")}  # "وحسب المصادر فإنه ..."
_THAT = _FA_INNA | {c for c in _COMPLEMENTIZERS if not c.startswith("ب")}  # "، فإن X" / "، إن X"
# After "بحسب المرصد ،" a relative pronoun goes on describing the source ("، الذي يتخذ من لندن مقرا"):
# that comma does not end the adverbial, and no claim starts there.
_RELATIVES = {"الذي", "التي", "الذين", "اللذان", "اللتان", "اللذين", "اللتين", "اللواتي", "اللاتي", "اللائي"}
# Reporter's comments that end the reported content ("، لتصبح بذلك المدينة الثانية ...").
_COMMENTS = {"لتصبح", "ليصبح", "لتكون", "ليكون", "دون", "بدون"}
_SENT_END = {".", "؟", "?", "!"}
_SEPARATORS = {",", "،", "؛", ";", "–", "-"}
_BUTS = {"لكن", "لكنه", "لكنها", "لكنهم", "ولكن", "ولكنه", "ولكنها", "كما", "بينما"}
_OPEN_CURLY, _CLOSE_CURLY = "“", "”"
_SYMMETRIC = {'"', "«", "»"}  # guillemets circulate in both directions («…» and »…«)

_WINDOW = 16  # tokens between a verb and its complementizer or colon ("وأكد جلالته خلال ... انه")
_QUOTE_NEAR = 6  # tokens between a verb and a quote it introduces without a colon
_MIN_QUOTE = 3  # a shorter quote without a colon is usually a name ("طالبان", "البنتاغون")
_FRONTED = 5  # tokens of a fronted phrase before the clause ("وفي وقت سابق اليوم، ...")
_SCORES = {"that": 0.8, "colon": 0.85, "quote": 0.7, "honorific": 0.6, "post": 0.6, "adverbial": 0.5}


@dataclass(frozen=True)
class _Tok:
    start: int
    end: int
    raw: str
    key: str


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.start(), m.end(), m.group(), _norm(m.group())) for m in _TOKEN.finditer(text)]


def _strip_clitic(key: str, vocab: set[str]) -> bool:
    """Whether ``key`` is in ``vocab``, with or without a leading clitic و / ف."""
    if key in vocab:
        return True
    return any(key.startswith(c) and key[len(c) :] in vocab for c in ("و", "ف"))


class _Sentence:
    """Tokens of one text plus the derived facts the rules consult."""

    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.close_of: dict[int, int] = {}  # opening quote index -> closing index (or line end)
        self.unclosed: set[int] = set()  # opening quotes whose "closing index" is the line end
        self.continued: list[tuple[int, int]] = self._continued_quotes()
        self._pair_quotes()
        # Facts per token, found once as first needed: a text of thousands of reports in one
        # sentence (boilerplate, run-on transcripts) must not rescan the sentence per report.
        self._enclosing: list[int] | None = None
        self._begins: dict[int, int] = {}
        self._kinds: dict[int, str | None] = {}
        self._next_stop: dict[bool, dict[int, int]] = {False: {}, True: {}}
        self._content_end: dict[int, int] = {}

    def line_break_before(self, i: int) -> bool:
        return i > 0 and "\n" in self.text[self.toks[i - 1].end : self.toks[i].start]

    def sentence_end(self, i: int) -> bool:
        tok = self.toks[i]
        if tok.raw not in _SENT_END:
            return False
        # "3.5" and "ق.م" are not sentence ends: a period ends a sentence before space or text end
        # (invisible marks after it aside).
        j = tok.end
        while j < len(self.text) and _INVISIBLE_CHAR.match(self.text[j]):
            j += 1
        return j == len(self.text) or self.text[j].isspace()

    def is_trigger(self, i: int) -> bool:
        return _strip_clitic(self.toks[i].key, _TRIGGERS)

    def is_complementizer(self, i: int) -> bool:
        if self.toks[i].key not in _COMPLEMENTIZERS:
            return False
        return i == 0 or self.toks[i - 1].key not in _NOT_AFTER

    def _pair_quotes(self) -> None:
        curly: list[int] = []
        pending: int | None = None
        stray = self._stray_closers()
        for i, tok in enumerate(self.toks):
            if self.line_break_before(i):
                # A quote left open at a paragraph's end closes there (ANERcorp splits quotes
                # across sentences).
                for j in curly + ([pending] if pending is not None else []):
                    self.close_of[j] = i
                    self.unclosed.add(j)
                curly, pending = [], None
            if i in stray:
                # after the line's reset: a quote left open above must not pair with a mark below
                continue
            if tok.raw == _OPEN_CURLY:
                curly.append(i)
            elif tok.raw == _CLOSE_CURLY and curly:
                self.close_of[curly.pop()] = i
            elif tok.raw in _SYMMETRIC:
                if pending is None:
                    pending = i
                else:
                    self.close_of[pending] = i
                    pending = None
        # still open: on the last line, so they close at the text's end (not found by a scan from
        # each mark, which took minutes for a long paragraph of marks that never close: “…“)
        for j in curly + ([pending] if pending is not None else []):
            self.close_of[j] = len(self.toks)
            self.unclosed.add(j)

    def _continued_quotes(self) -> list[tuple[int, int]]:
        """Lines that end a quotation opened in an earlier sentence: 'الحرب ليست فرصة ... " .'

        ANERcorp cuts long quotations into sentences; the last piece has one quotation mark, a
        closer, with only punctuation after it. Returns (first token, closing mark) per such line.
        """
        out: list[tuple[int, int]] = []
        if not self.toks:
            return out
        starts = [i for i in range(len(self.toks)) if i == 0 or self.line_break_before(i)]
        for a, b in zip(starts, starts[1:] + [len(self.toks)], strict=True):
            marks = [i for i in range(a, b) if self.toks[i].raw in _SYMMETRIC | {_OPEN_CURLY, _CLOSE_CURLY}]
            if len(marks) != 1 or self.toks[marks[0]].raw == _OPEN_CURLY or marks[0] == a:
                continue
            after = range(marks[0] + 1, b)
            if all(self.toks[i].raw in _SENT_END | _SEPARATORS for i in after):
                out.append((a, marks[0]))
        return out

    def _stray_closers(self) -> set[int]:
        """Line-initial '"' marks that close a quote of the previous sentence.

        ANERcorp splits long quotations across sentences: '" وأضاف " كنا ...' starts with the
        close of the last sentence's quote, and pairing it would invert every quote after it. Such
        a mark is taken as a closer when the line holds an odd number of '"' or when a clause
        opener (a word with the clitic و/ف) follows it: quotations rarely begin with one.
        """
        stray: set[int] = {mark for _, mark in self.continued}
        if not self.toks:
            return stray
        starts = [i for i in range(len(self.toks)) if i == 0 or self.line_break_before(i)]
        for a, b in zip(starts, starts[1:] + [len(self.toks)], strict=True):
            if self.toks[a].raw != '"' or b - a < 2:
                continue
            count = sum(1 for i in range(a, b) if self.toks[i].raw == '"')
            if count % 2 == 1 or self.toks[a + 1].key.startswith(("و", "ف")):
                stray.add(a)
        return stray

    def enclosing_close(self, s: int) -> int:
        """Index of the closing quote of the innermost quote holding token ``s`` (or len)."""
        if self._enclosing is None:
            self._enclosing = self._innermost_closes()
        return self._enclosing[s] if s < len(self._enclosing) else len(self.toks)

    def _innermost_closes(self) -> list[int]:
        """``enclosing_close`` of every token, in one sweep: the latest quote opened before it and
        not yet closed (quotes can cross, « “ » ”, so a stack would not do)."""
        out = [len(self.toks)] * (len(self.toks) + 1)
        opens = sorted(self.close_of)
        heap: list[tuple[int, int]] = []  # (-open, close): the latest open on top
        i = 0
        for s in range(len(out)):
            while i < len(opens) and opens[i] < s:
                heapq.heappush(heap, (-opens[i], self.close_of[opens[i]]))
                i += 1
            while heap and heap[0][1] < s:
                heapq.heappop(heap)  # closed before s, so neither it nor anything below may hold s
            if heap:
                out[s] = heap[0][1]
        return out

    def sentence_begin(self, k: int) -> int:
        """First token of the sentence (or line) holding token ``k``."""
        return _walk_back(k, self._begins, lambda i: not self.line_break_before(i) and not self.sentence_end(i - 1))

    def content_end(self, end: int) -> int:
        """``end`` moved back past spaces, invisible marks and punctuation (0 if only those).

        Remembered for every position passed: nested claims share their end, and a run of marks
        before it was walked back once per claim.
        """
        return _walk_back(end, self._content_end, lambda i: _edge(self.text[i - 1]))

    def step(self, k: int) -> int:
        """The token a claim walk reads after ``k``: past a closed quote as a whole."""
        if k in self.close_of and k not in self.unclosed:
            return self.close_of[k] + 1
        return k + 1

    def stop_kind(self, k: int) -> str | None:
        """Why a claim walk stops at token ``k`` (see _find_end), or None."""
        if k not in self._kinds:
            self._kinds[k] = _stop_kind(self, k)
        return self._kinds[k]

    def next_stop(self, k: int, *, split: bool) -> int:
        """First token on the walk from ``k`` where a claim may stop (len if none).

        Every token walked through is given the answer, so that the claims of thousands of nested
        reports in one sentence walk it once, not once each.
        """
        memo, walked = self._next_stop[split], []
        while k < len(self.toks) and k not in memo:
            kind = self.stop_kind(k)
            if kind == "end" or (split and kind is not None):
                memo[k] = k
                break
            walked.append(k)
            k = self.step(k)
        stop = memo.get(k, k)
        for i in walked:
            memo[i] = stop
        return stop


def _walk_back(k: int, memo: dict[int, int], passes: Callable[[int], bool]) -> int:
    """From ``k``, step back while ``passes(k)`` (and ``k > 0``); where it stops. Every position
    passed is remembered in ``memo``, so that walks over the same stretch (one per trigger or per
    nested claim) are done once, not once each: a run-on sentence made them quadratic."""
    walked = []
    while k > 0 and k not in memo and passes(k):
        walked.append(k)
        k -= 1
    found = memo.get(k, k)
    for i in walked:
        memo[i] = found
    return found


def _speech_quote(sent: _Sentence, o: int) -> bool:
    """Whether the quote opening at ``o`` reads as speech, not a quoted name or title.

    Speech is a few words long and ends its clause: after the closing mark comes punctuation, the
    line's end or another report; '" الجبهة الوطنية للعدالة والتنمية " لوكالة ...' is a name.
    """
    c = sent.close_of[o]
    if c - o - 1 < _MIN_QUOTE:
        return False
    if o in sent.unclosed or c + 1 >= len(sent.toks) or sent.line_break_before(c + 1):
        return True
    nxt = sent.toks[c + 1]
    return nxt.raw in _SENT_END | _SEPARATORS | _SYMMETRIC | {_OPEN_CURLY} or sent.is_trigger(c + 1)


def _find_start(sent: _Sentence, t: int) -> tuple[int, str] | None:
    """Where the claim introduced by trigger ``t`` starts (token index) and which rule found it."""
    toks = sent.toks
    if toks[t].key in _SAYING and t + 1 < len(toks) and re.match(_WORD, toks[t + 1].raw):
        # "وأضاف قائلا نادرا ما ...": the participle is followed by the words themselves
        if not sent.is_complementizer(t + 1) and not sent.is_trigger(t + 1) and toks[t + 1].key not in _PREPOSITIONS:
            return t + 1, "honorific"
    if _strip_clitic(toks[t].key, _SAY):
        h = t + 1
        if h + 1 < len(toks) and toks[h].key in _HONORIFIC and re.match(_WORD, toks[h + 1].raw):
            if not sent.is_complementizer(h + 1) and not sent.is_trigger(h + 1):
                return h + 1, "honorific"
    if toks[t].key in _IMPERSONAL and t + 1 < len(toks) and toks[t + 1].key in _COMPLEMENTIZERS:
        return None
    if toks[t].key == "ج":
        return (t + 2, "colon") if t + 2 < len(toks) and toks[t + 1].raw == ":" else None
    for j in range(t + 1, min(len(toks), t + 1 + _WINDOW)):
        if sent.line_break_before(j) or sent.sentence_end(j):
            return None
        if sent.is_trigger(j):
            return None  # the nearer verb owns what follows
        if sent.is_complementizer(j):
            return (j + 1, "that") if j + 1 < len(toks) else None
        if toks[j].raw == ":":
            k = j + 2 if j + 1 < len(toks) and sent.is_complementizer(j + 1) else j + 1  # "قائلا : إن ..."
            return (k, "colon") if k < len(toks) else None
        if j in sent.close_of and j - t <= _QUOTE_NEAR and _speech_quote(sent, j):
            return j, "quote"
    return None


def _bi_anna_start(sent: _Sentence, t: int) -> tuple[int, str] | None:
    """Where the claim after a describing or accusing verb ``t`` starts: after بأن, else none."""
    toks = sent.toks
    if not _strip_clitic(toks[t].key, _BI_ANNA_VERBS):
        return None
    for j in range(t + 1, min(len(toks), t + 1 + _WINDOW)):
        if sent.line_break_before(j) or sent.sentence_end(j) or sent.is_trigger(j):
            return None
        if not sent.is_complementizer(j):
            continue
        if not toks[j].key.startswith("ب") or j + 1 >= len(toks):
            return None
        # "وصفتها بأنها “أسوأ هجمات” في البلاد": a quote opening the complement is the description,
        # what follows it the reporter's
        quoted = j + 1 in sent.close_of and j + 1 not in sent.unclosed
        return j + 1, "quote" if quoted else "that"
    return None


def _document_says(sent: _Sentence, t: int) -> bool:
    """Whether token ``t`` is the impersonal جاء في of a document: "جاء في التقرير أن ..." (GUIDELINES §6)."""
    toks = sent.toks
    return toks[t].key in ("جاء", "وجاء") and t + 1 < len(toks) and toks[t + 1].key == "في"


def _boundary(sent: _Sentence, k: int) -> bool:
    """Whether a new report begins at token ``k``.

    "، مضيفا ...", "مشيرا إلى أن ...", "، لكنه أكد أن ...", and a verb with the clitic و that
    introduces speech of its own ("... وشدد على أن ...", with or without a comma). A bare verb
    does not: "قال إن الوزير أكد أن ..." is one claim holding a nested report.
    """
    toks = sent.toks
    n = k + 1 if toks[k].raw in _SEPARATORS else k
    if n >= len(toks):
        return False
    if n > k and toks[n].key == "من" and n + 1 < len(toks) and toks[n + 1].key in _COMMENTS:
        return True  # "، من دون ذكر موعد محدد"
    if n > k and (toks[n].key in _COMMENTS or _is_adverbial(sent, n)):
        return True  # "، بحسب البيان", "، لتصبح بذلك ...": the reporter speaks again
    if toks[n].key in _CONTINUERS:
        # ANERcorp often drops the comma: "... المنطقة مضيفا ان ..."
        return n > k or _find_start(sent, n) is not None
    if n > k and toks[n].key in _BUTS and n + 1 < len(toks):
        return sent.is_trigger(n + 1) and _find_start(sent, n + 1) is not None
    key = toks[n].key
    return (
        key.startswith(("و", "ف"))
        and key not in _TRIGGERS
        and sent.is_trigger(n)
        and _find_start(sent, n) is not None
    )


def _stop_kind(sent: _Sentence, k: int) -> str | None:
    """Whether a claim reaching token ``k`` ends there ("end"), or, where coordinated complements
    split, a second claim starts after it ("and": وأن, "wa": و أن)."""
    toks = sent.toks
    if sent.line_break_before(k) or sent.sentence_end(k) or _boundary(sent, k):
        return "end"
    if toks[k].key in _COORDINATED:
        return "and"
    if toks[k].key == "و" and k + 1 < len(toks) and toks[k + 1].key in _COMPLEMENTIZERS:
        return "wa"
    return None


def _find_end(sent: _Sentence, s: int, *, split: bool) -> tuple[int, list[int]]:
    """End (exclusive token index) of a claim starting at ``s``; starts of coordinated claims.

    ``split``: whether "وأن" starts a second claim (after a complementizer; not inside a quote,
    where "نريد أن X وأن Y" is one continuous quotation). A quote inside the claim is read as a
    whole, and a claim never runs past the close of a quote it started in.
    """
    limit = sent.enclosing_close(s)
    if s >= limit:
        return limit, []
    k = sent.next_stop(sent.step(s), split=split)
    if k >= limit:
        return limit, []
    kind = sent.stop_kind(k)
    if kind == "and":
        return k, [k + 1]
    if kind == "wa":
        # "و" as the quote's last token: its أن lies outside, so nothing splits
        return (k, [k + 2]) if k + 1 < limit else (limit, [])
    return k, []


def _unquote(sent: _Sentence, s: int, e: int) -> tuple[int, int]:
    """Drop quote marks around a claim that is exactly one quotation (marks stay outside)."""
    close = sent.close_of.get(s)
    if close is None:
        return s, e
    if s in sent.unclosed:
        return s + 1, e
    rest = range(close + 1, e)
    if close < e and all(sent.toks[i].raw in _SENT_END | _SEPARATORS for i in rest):
        return s + 1, close
    if close < e and close - s - 1 >= max(_MIN_QUOTE, (e - s) // 2):
        # ان " X " في اشارة الى ...: a quotation making most of the clause is the claim and the
        # rest is the reporter's gloss; a short quoted name (أن “هيئة تحرير الشام” ...) is not.
        return s + 1, close
    return s, e


def _edge(ch: str) -> bool:
    """Whether a span may not start or end on ``ch``: space, an invisible mark or punctuation (spans are tight)."""
    return ch.isspace() or bool(_INVISIBLE_CHAR.match(ch)) or (unicodedata.category(ch).startswith("P") and ch not in "%٪")


_Cand = tuple[int, int, float]  # a claim found: (start, end, score), start < end


def _span(sent: _Sentence, s: int, e: int, rule: str) -> _Cand | None:
    """(start, end, score) of tokens s..e tightened, or None. No text yet: a candidate nested in
    another is dropped, and copying each one's text cost memory quadratic in a run-on sentence."""
    if s >= e or s >= len(sent.toks):
        return None
    start = sent.toks[s].start
    end = max(start, sent.content_end(sent.toks[e - 1].end))
    while start < end and _edge(sent.text[start]):
        start += 1
    if start >= end or not _WORD_RE.search(sent.text, start, end):
        return None
    return start, end, _SCORES[rule]


def _claim(text: str, start: int, end: int, score: float) -> dict[str, Any]:
    return {"start": start, "end": end, "label": "CLAIM", "layer": "claim", "text": text[start:end], "score": score}


def _post_quotes(sent: _Sentence) -> list[tuple[int, int]]:
    """Quotes attributed after the fact: «...» ، قال فلان."""
    out = []
    for o, c in sent.close_of.items():
        if c - o - 1 < _MIN_QUOTE or o in sent.unclosed:
            continue
        n = c + 1
        while n < len(sent.toks) and sent.toks[n].raw in _SEPARATORS:
            n += 1
        if n < len(sent.toks) and sent.is_trigger(n) and _find_start(sent, n) is None or _pull_quote(sent, o, n):
            # "“إن الزيارة كانت مثمرة”، قالت ...": the first إنّ is the complementizer, outside
            out.append((o + 2 if sent.is_complementizer(o + 1) else o + 1, c))
    return out


def _pull_quote(sent: _Sentence, o: int, n: int) -> bool:
    """Whether the quote opening at ``o`` is a pull-quote: a line of its own but for the speaker's name
    after a comma, "“لن نتراجع عن القرار”، سامي الخطيب" (GUIDELINES §6); ``n`` is the first token after
    the comma."""
    toks = sent.toks
    if not (o == 0 or sent.line_break_before(o)) or toks[n - 1].raw not in _SEPARATORS:
        return False
    words = 0
    for k in range(n, len(toks)):
        if k > n and sent.line_break_before(k):
            break
        if _WORD_RE.fullmatch(toks[k].raw) and not sent.is_trigger(k):
            words += 1
            if words > 4:  # a name, not a clause
                return False
        elif sent.sentence_end(k) and (k + 1 == len(toks) or sent.line_break_before(k + 1)):
            break
        else:
            return False
    return words > 0


def _clause_start(sent: _Sentence, k: int) -> int:
    """First content token of the sentence holding token ``k``, after a short fronted phrase.

    "وفي وقت سابق اليوم، دخلت ..." starts at "دخلت": the reporter's connective is outside.
    """
    b = sent.sentence_begin(k)
    for j in range(b, min(k, b + _FRONTED + 1)):
        # "، الذي ..." goes on describing what precedes it: no fronted phrase ends there
        if sent.toks[j].raw in _SEPARATORS and (j + 1 >= len(sent.toks) or sent.toks[j + 1].key not in _RELATIVES):
            return j + 1
    return b


def _after_formula(sent: _Sentence, b: int, a: int) -> int | None:
    """Where the content starts when the clause from ``b`` (up to ``a``) opens with a background formula."""
    for j in range(b, min(a, b + 5)):
        if sent.toks[j].key in _COMPLEMENTIZERS:
            return j + 1 if j > b and j + 1 < a else None
        if not _strip_clitic(sent.toks[j].key, _BACKGROUND):
            return None
    return None


def _adverbial_claims(sent: _Sentence) -> list[tuple[int, int]]:
    """Clauses attributed by بحسب / وفق / نقلا عن / كما أفاد, fronted or postposed."""
    out = []
    toks = sent.toks
    opened: dict[int, int] = {}  # fronted adverbial -> where its claim starts
    for a in range(len(toks)):
        if not _is_adverbial(sent, a):
            continue
        b = _clause_start(sent, a)
        postposed = a > 0 and toks[a - 1].raw in _SEPARATORS
        if postposed and a - 1 > b:
            # "X، وفق ما أفاد المرصد": the clause before it; one opened by a fronted adverbial of its
            # own ("وبحسب المرصد فإن X، وفق ...") starts where that one's claim does
            f = opened.get(b, opened.get(b + 1))
            if f is None:
                f = _after_formula(sent, b, a - 1)
            out.append((f if f is not None and f < a - 1 else b, a - 1))
            continue
        if a - b > 1:
            # fronted adverbials open their clause ("وبحسب المرصد، ..."); after a background formula the
            # clause before one is its claim, with or without a comma ("ويُشار إلى أن X بحسب استطلاع")
            f = _after_formula(sent, b, a)
            if f is not None and not postposed:
                out.append((f, a))
            continue
        fronted = False
        for j in range(a + 1, min(len(toks), a + 1 + _WINDOW)):
            if sent.sentence_end(j) or sent.line_break_before(j):
                break
            if toks[j].raw in _SEPARATORS or toks[j].key in _FA_INNA:
                if toks[j].raw in _SEPARATORS and j + 1 < len(toks) and toks[j + 1].key in _RELATIVES:
                    continue
                # "وبحسب البيان، فإن X": the complementizer after the comma stays outside, as without it
                k = j + 2 if toks[j].raw in _SEPARATORS and j + 2 < len(toks) and toks[j + 1].key in _THAT else j + 1
                if k < len(toks):
                    out.append((k, _find_end(sent, k, split=False)[0]))
                    opened[a] = k
                    fronted = True
                break
        if postposed and not fronted and (toks[a].key in _ADVERBIALS or toks[a].key == "كما"):
            # No clause after it: the comma before it ends a clause of up to _FRONTED tokens, not a
            # fronted phrase ("دخلت القوات المدينة، بحسب المرصد."). With و it opens a clause instead;
            # a clause with a fronted adverbial of its own ("وبحسب المرصد فإن X، وفق ...") has its claim.
            b = _clause_start(sent, a - 1)
            if a - 1 > b and not any(_is_adverbial(sent, i) for i in range(b, a - 1)):
                f = _after_formula(sent, b, a - 1)
                out.append((b if f is None else f, a - 1))
    return out


def _is_adverbial(sent: _Sentence, a: int) -> bool:
    key = sent.toks[a].key
    if _strip_clitic(key, _ADVERBIALS):
        return True
    # "كما أفاد المرصد": كما with a reporting verb, not the comparative كما alone
    return key in ("كما", "وكما") and a + 1 < len(sent.toks) and sent.is_trigger(a + 1)


def find_claims(text: str) -> list[dict[str, Any]]:
    """Claims in ``text`` by rule, in the shape of naba's tagger output.

    Returns ``[{"start", "end", "label": "CLAIM", "layer": "claim", "text", "score"}, ...]``
    sorted by start, non-overlapping, with code-point offsets into ``text``.
    """
    if not isinstance(text, str):
        raise TypeError(f"find_claims takes a str, got {type(text).__name__}")
    sent = _Sentence(text)
    found: list[_Cand] = []
    # "أكد أن X وأن Y وأن Z ...": every report before a coordinated claim reaches it again, with all
    # that follows it; read once, as the same start and rule give the same claims.
    done: set[tuple[int, str]] = set()
    for t in range(len(sent.toks)):
        if sent.is_trigger(t) or _document_says(sent, t):
            hit = _find_start(sent, t)
        else:
            hit = _bi_anna_start(sent, t)
        if hit is None:
            continue
        todo = [hit]
        while todo:
            s, rule = todo.pop()
            if s >= len(sent.toks) or (s, rule) in done:
                continue
            done.add((s, rule))
            if rule == "quote" and s not in sent.unclosed:
                s2, e2, more = s + 1, sent.close_of[s], []
                if sent.is_complementizer(s2):  # « إن ... »: the complementizer stays outside
                    s2 += 1
            else:
                # a closed quote is read past as a whole, so a وأن inside it splits nothing; one after
                # it ("أن «X» وأن Y") or after a mark never closed ("قال إن “X، وأن Y.") starts a second claim
                e, more = _find_end(sent, s, split=rule == "that")
                s2, e2 = _unquote(sent, s, e)
                if rule == "colon" and s2 == s + 1 and s2 < e2 and sent.is_complementizer(s2):
                    s2 += 1  # "قال: «إن ...»": the complementizer stays outside, as in "قال « إن ... »"
            span = _span(sent, s2, e2, rule)
            if span:
                found.append(span)
            todo.extend((m, "that") for m in more)
    found += [c for c in (_span(sent, a, m, "quote") for a, m in sent.continued) if c]
    # Earlier, then longer, claims win: a report nested in a claim stays inside it.
    kept = _without_overlaps(found, [])
    # Attributions that come after their content only fill what the verbs left.
    weaker = [_span(sent, s, e, "post") for s, e in _post_quotes(sent)]
    weaker += [_span(sent, s, e, "adverbial") for s, e in _adverbial_claims(sent)]
    return [_claim(text, *c) for c in _without_overlaps([c for c in weaker if c], kept)]


def _without_overlaps(candidates: list[_Cand], kept: list[_Cand]) -> list[_Cand]:
    """``kept`` (disjoint, sorted) plus each candidate (earliest, then longest first) that overlaps
    nothing kept, sorted by start.

    One sweep, not a check against every span kept so far: taken in order of start, a candidate
    overlaps an earlier one taken iff it starts before the last one's end, and a span of ``kept``
    iff the last of them starting before its end ends after its start.
    """
    starts, ends = [k[0] for k in kept], [k[1] for k in kept]
    out = list(kept)
    last_end = None
    for claim in sorted(candidates, key=lambda c: (c[0], -c[1])):
        if last_end is not None and claim[0] < last_end:
            continue
        i = bisect_left(starts, claim[1]) - 1
        if i >= 0 and ends[i] > claim[0]:
            continue
        out.append(claim)
        last_end = claim[1]
    return sorted(out, key=lambda c: c[0])


class RuleTagger:
    """:func:`find_claims` behind the call signature of ``naba.Tagger``.

    ``tagger(text)`` returns the spans of one text; ``tagger([t1, t2])`` a list of span lists.
    ``batch_size`` and ``batch_tokens`` are accepted so that callers can swap the two; rules have
    no batches.
    """

    labels = ("CLAIM",)
    layers = ("claim",)

    def __call__(
        self, texts: str | Sequence[str], *, batch_size: int | None = None, batch_tokens: int | None = None
    ) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
        single = isinstance(texts, str)
        if isinstance(texts, bytes | bytearray | Mapping):
            # iterated, bytes are ints and a dict is its keys (its keys were tagged, quietly)
            raise TypeError(f"texts must be a str or an iterable of str, got {type(texts).__name__}")
        items = [texts] if single else list(texts)
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise DataError(Problem("<memory>", f"text {i}", f"a text must be a str, got {type(text).__name__}"))
        found = [find_claims(t) for t in items]
        return found[0] if single else found
