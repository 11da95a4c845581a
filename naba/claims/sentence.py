"""A text's tokens and the facts about them the claim rules consult (quote pairs, sentence starts,
where a claim walk stops), each found once, as first needed, so that the rules stay linear in the
text's length: a page of thousands of reports in one sentence must not rescan it per report.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

from naba.claims.lexicon import (
    CLOSE_CURLY,
    COMPLEMENTIZERS,
    INVISIBLE_CHAR,
    LINE_BREAK,
    NOT_AFTER,
    OPEN_CURLY,
    SENT_END,
    SEPARATORS,
    SYMMETRIC,
    TOKEN,
    TRIGGERS,
    edge,
    norm,
)


@dataclass(frozen=True)
class Tok:
    start: int
    end: int
    raw: str
    key: str


def tokenize(text: str) -> list[Tok]:
    return [Tok(m.start(), m.end(), m.group(), norm(m.group())) for m in TOKEN.finditer(text)]


def strip_clitic(key: str, vocab: set[str]) -> bool:
    """Whether ``key`` is in ``vocab``, with or without a leading clitic و / ف."""
    if key in vocab:
        return True
    return any(key.startswith(c) and key[len(c) :] in vocab for c in ("و", "ف"))


class Sentence:
    """Tokens of one text plus the derived facts the rules consult; ``stops(sentence, k)`` is the
    rules' reason a claim walk stops at token ``k`` ("end", "and", "wa" or None), remembered here."""

    def __init__(self, text: str, *, stops: Callable[[Sentence, int], str | None]):
        self.text = text
        self._stops = stops
        self.toks = tokenize(text)
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
        self._closes: set[int] | None = None

    def line_break_before(self, i: int) -> bool:
        return i > 0 and LINE_BREAK.search(self.text, self.toks[i - 1].end, self.toks[i].start) is not None

    def sentence_end(self, i: int) -> bool:
        tok = self.toks[i]
        if tok.raw not in SENT_END:
            return False
        # "3.5" and "ق.م" are not sentence ends: a period ends a sentence before space or text end
        # (invisible marks after it aside).
        j = tok.end
        while j < len(self.text) and INVISIBLE_CHAR.match(self.text[j]):
            j += 1
        return j == len(self.text) or self.text[j].isspace()

    def is_trigger(self, i: int) -> bool:
        return strip_clitic(self.toks[i].key, TRIGGERS)

    def is_complementizer(self, i: int) -> bool:
        if self.toks[i].key not in COMPLEMENTIZERS:
            return False
        return i == 0 or self.toks[i - 1].key not in NOT_AFTER

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
            if tok.raw == OPEN_CURLY:
                curly.append(i)
            elif tok.raw == CLOSE_CURLY and curly:
                self.close_of[curly.pop()] = i
            elif tok.raw in SYMMETRIC:
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
            marks = [i for i in range(a, b) if self.toks[i].raw in SYMMETRIC | {OPEN_CURLY, CLOSE_CURLY}]
            if len(marks) != 1 or self.toks[marks[0]].raw == OPEN_CURLY or marks[0] == a:
                continue
            after = range(marks[0] + 1, b)
            if all(self.toks[i].raw in SENT_END | SEPARATORS for i in after):
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

    def after_quote(self, k: int) -> bool:
        """Whether token ``k`` follows the close of a quote, with at most separators between."""
        if self._closes is None:
            self._closes = {c for o, c in self.close_of.items() if o not in self.unclosed}
        k -= 1
        while k >= 0 and self.toks[k].raw in SEPARATORS:
            k -= 1
        return k in self._closes

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
        return walk_back(k, self._begins, lambda i: not self.line_break_before(i) and not self.sentence_end(i - 1))

    def content_end(self, end: int) -> int:
        """``end`` moved back past spaces, invisible marks and punctuation (0 if only those).

        Remembered for every position passed: nested claims share their end, and a run of marks
        before it was walked back once per claim.
        """
        return walk_back(end, self._content_end, lambda i: edge(self.text[i - 1]))

    def step(self, k: int) -> int:
        """The token a claim walk reads after ``k``: past a closed quote as a whole."""
        if k in self.close_of and k not in self.unclosed:
            return self.close_of[k] + 1
        return k + 1

    def stop_kind(self, k: int) -> str | None:
        """Why a claim walk stops at token ``k`` (see naba.claims.finder._find_end), or None."""
        if k not in self._kinds:
            self._kinds[k] = self._stops(self, k)
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


def walk_back(k: int, memo: dict[int, int], passes: Callable[[int], bool]) -> int:
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
