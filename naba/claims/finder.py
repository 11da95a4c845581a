"""The claim rules (see naba.claims): where a claim starts after a reporting verb, a colon, a quote or
a source adverbial, where it ends, and which of the overlapping candidates are kept."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any

from naba.claims.lexicon import (
    ADVERBIALS,
    ALA_HADD,
    ASK,
    BACKGROUND,
    BI_ANNA_VERBS,
    BUTS,
    CALLS,
    COMMENTS,
    COMPLEMENTIZERS,
    CONTINUERS,
    COORDINATED,
    FA_INNA,
    FRONTED,
    HONORIFIC,
    IMPERSONAL,
    MIN_QUOTE,
    OPEN_CURLY,
    PREPOSITIONS,
    QUOTE_NEAR,
    QUOTE_OBJECT,
    RELATIVES,
    SAY,
    SAYING,
    SCORES,
    SENT_END,
    SEPARATORS,
    SYMMETRIC,
    THAT,
    TIME_AFTER,
    TRIGGERS,
    WINDOW,
    WORD,
    WORD_RE,
    edge,
)
from naba.claims.sentence import Sentence, strip_clitic
from naba.errors import DataError, Problem

__all__ = ["RuleTagger", "find_claims"]


def _speech_quote(sent: Sentence, o: int) -> bool:
    """Whether the quote opening at ``o`` reads as speech, not a quoted name or title.

    Speech is a few words long and ends its clause: after the closing mark comes punctuation, the
    line's end or another report; '" الجبهة الوطنية للعدالة والتنمية " لوكالة ...' is a name.
    """
    c = sent.close_of[o]
    if c - o - 1 < MIN_QUOTE:
        return False
    if o in sent.unclosed or c + 1 >= len(sent.toks) or sent.line_break_before(c + 1):
        return True
    nxt = sent.toks[c + 1]
    return nxt.raw in SENT_END | SEPARATORS | SYMMETRIC | {OPEN_CURLY} or sent.is_trigger(c + 1)


def _find_start(sent: Sentence, t: int) -> tuple[int, str] | None:
    """Where the claim introduced by trigger ``t`` starts (token index) and which rule found it."""
    toks = sent.toks
    if toks[t].key in SAYING and t + 1 < len(toks) and re.match(WORD, toks[t + 1].raw):
        # "وأضاف قائلا نادرا ما ...": the participle is followed by the words themselves
        if not sent.is_complementizer(t + 1) and not sent.is_trigger(t + 1) and toks[t + 1].key not in PREPOSITIONS:
            return t + 1, "honorific"
    if strip_clitic(toks[t].key, SAY):
        h = t + 1
        if h + 1 < len(toks) and toks[h].key in HONORIFIC and re.match(WORD, toks[h + 1].raw):
            if not sent.is_complementizer(h + 1) and not sent.is_trigger(h + 1):
                return h + 1, "honorific"
    if toks[t].key in IMPERSONAL and t + 1 < len(toks) and toks[t + 1].key in COMPLEMENTIZERS:
        return None
    if toks[t].key == "ج":
        return (t + 2, "colon") if t + 2 < len(toks) and toks[t + 1].raw == ":" else None
    for j in range(t + 1, min(len(toks), t + 1 + WINDOW)):
        if sent.line_break_before(j) or sent.sentence_end(j):
            return None
        if sent.is_trigger(j) and not strip_clitic(toks[j].key, ASK):
            # the nearer verb owns what follows; not a question's (or the noun رد's): "قال في رد على سؤال إن ..."
            return None
        if sent.is_complementizer(j):
            if strip_clitic(toks[t].key, ASK):
                return None  # "سأل إن كان ...": إن is "whether"
            return (j + 1, "that") if j + 1 < len(toks) else None
        if toks[j].raw == ":":
            k = j + 2 if j + 1 < len(toks) and sent.is_complementizer(j + 1) else j + 1  # "قائلا : إن ..."
            return (k, "colon") if k < len(toks) else None
        if j in sent.close_of and _quote_after_verb(sent, t, j):
            return j, "quote"
    return None


def _quote_after_verb(sent: Sentence, t: int, j: int) -> bool:
    """Whether the quote opening at ``j`` is the speech that verb ``t`` introduces without a colon."""
    toks = sent.toks
    if strip_clitic(toks[t].key, CALLS | ASK) or toks[j - 1].key in QUOTE_OBJECT:
        # "أشار إلى “تراجع حاد في الطلب”": a quote a preposition governs is a noun phrase (GUIDELINES §6)
        return False
    # "«X»، قالت هالة يوسف من المفوضية ...، «Y»": a quote interrupted by its speaker goes on after a comma,
    # however long the name (GUIDELINES §7)
    resumed = toks[j - 1].raw in SEPARATORS and sent.after_quote(t)
    return (j - t <= QUOTE_NEAR or resumed) and _speech_quote(sent, j)


def _bi_anna_start(sent: Sentence, t: int) -> tuple[int, str] | None:
    """Where the claim after a describing or accusing verb ``t`` starts: after بأن, else none."""
    toks = sent.toks
    if not strip_clitic(toks[t].key, BI_ANNA_VERBS):
        return None
    for j in range(t + 1, min(len(toks), t + 1 + WINDOW)):
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


def _document_says(sent: Sentence, t: int) -> bool:
    """Whether token ``t`` is the impersonal جاء في of a document: "جاء في التقرير أن ..." (GUIDELINES §6),
    or of a statement: "بيانا جاء فيه أن ..."."""
    toks = sent.toks
    # و/فجاء too; "أصدرت بيانا جاء فيه أن ..." (GUIDELINES §6(a): بيان … أن)
    return strip_clitic(toks[t].key, {"جاء"}) and t + 1 < len(toks) and toks[t + 1].key in ("في", "فيه", "فيها")


def _boundary(sent: Sentence, k: int) -> bool:
    """Whether a new report begins at token ``k``.

    "، مضيفا ...", "مشيرا إلى أن ...", "، لكنه أكد أن ...", and a verb with the clitic و that
    introduces speech of its own ("... وشدد على أن ...", with or without a comma). A bare verb
    does not: "قال إن الوزير أكد أن ..." is one claim holding a nested report.
    """
    toks = sent.toks
    n = k + 1 if toks[k].raw in SEPARATORS else k
    if n >= len(toks):
        return False
    if n > k and toks[n].key == "من" and n + 1 < len(toks) and toks[n + 1].key in COMMENTS:
        return True  # "، من دون ذكر موعد محدد"
    if n > k and (toks[n].key in COMMENTS or _is_adverbial(sent, n)):
        return True  # "، بحسب البيان", "، لتصبح بذلك ...": the reporter speaks again
    if toks[n].key in CONTINUERS:
        # ANERcorp often drops the comma: "... المنطقة مضيفا ان ..."
        return n > k or _find_start(sent, n) is not None
    if n > k and toks[n].key in BUTS and n + 1 < len(toks):
        # "، فيما نفت الوزارة أن ..." and "، فيما وصفته الشركة بأنه ...": another report, not "X، لكن Y"
        hit = _find_start(sent, n + 1) if sent.is_trigger(n + 1) else _bi_anna_start(sent, n + 1)
        return hit is not None
    key = toks[n].key
    if not key.startswith(("و", "ف")):
        return False
    said = key in ("وجاء", "فجاء") and _document_says(sent, n)
    if said or (key not in BI_ANNA_VERBS and strip_clitic(key, BI_ANNA_VERBS)):
        # "، ووصف الاتفاق بأنه ..." and "، وجاء في التقرير أن ..." report anew, as "، وأكد أن ..."
        return (_find_start(sent, n) if said else _bi_anna_start(sent, n)) is not None
    return key not in TRIGGERS and sent.is_trigger(n) and _find_start(sent, n) is not None


def _stop_kind(sent: Sentence, k: int) -> str | None:
    """Whether a claim reaching token ``k`` ends there ("end"), or, where coordinated complements
    split, a second claim starts after it ("and": وأن, "wa": و أن)."""
    toks = sent.toks
    if sent.line_break_before(k) or sent.sentence_end(k) or _boundary(sent, k):
        return "end"
    if toks[k].key in COORDINATED:
        return "and"
    if toks[k].key == "و" and k + 1 < len(toks) and toks[k + 1].key in COMPLEMENTIZERS:
        return "wa"
    return None


def _find_end(sent: Sentence, s: int, *, split: bool) -> tuple[int, list[int]]:
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


def _unquote(sent: Sentence, s: int, e: int) -> tuple[int, int]:
    """Drop quote marks around a claim that is exactly one quotation (marks stay outside)."""
    close = sent.close_of.get(s)
    if close is None:
        return s, e
    if s in sent.unclosed:
        return s + 1, e
    rest = range(close + 1, e)
    if close < e and all(sent.toks[i].raw in SENT_END | SEPARATORS for i in rest):
        return s + 1, close
    if close < e and close - s - 1 >= max(MIN_QUOTE, (e - s) // 2):
        # ان " X " في اشارة الى ...: a quotation making most of the clause is the claim and the
        # rest is the reporter's gloss; a short quoted name (أن “هيئة تحرير الشام” ...) is not.
        return s + 1, close
    if close + 1 < e and sent.toks[close + 1].key in TIME_AFTER:
        # إن “لا ثأر” بعد دخول الفصائل ...: the quote is what was said, "بعد ..." dates the saying (GUIDELINES §9)
        return s + 1, close
    return s, e


_Cand = tuple[int, int, float]  # a claim found: (start, end, score), start < end


def _span(sent: Sentence, s: int, e: int, rule: str) -> _Cand | None:
    """(start, end, score) of tokens s..e tightened, or None. No text yet: a candidate nested in
    another is dropped, and copying each one's text cost memory quadratic in a run-on sentence."""
    if s >= e or s >= len(sent.toks):
        return None
    start = sent.toks[s].start
    end = max(start, sent.content_end(sent.toks[e - 1].end))
    while start < end and edge(sent.text[start]):
        start += 1
    if start >= end or not WORD_RE.search(sent.text, start, end):
        return None
    return start, end, SCORES[rule]


def _claim(text: str, start: int, end: int, score: float) -> dict[str, Any]:
    return {"start": start, "end": end, "label": "CLAIM", "layer": "claim", "text": text[start:end], "score": score}


def _post_quotes(sent: Sentence) -> list[tuple[int, int]]:
    """Quotes attributed after the fact: «...» ، قال فلان."""
    out = []
    for o, c in sent.close_of.items():
        if c - o - 1 < MIN_QUOTE or o in sent.unclosed:
            continue
        n = c + 1
        while n < len(sent.toks) and sent.toks[n].raw in SEPARATORS:
            n += 1
        # a verb whose own claim is a quote sits between two quotes: "“X”، قال فلان، “Y”" (two claims)
        hit = _find_start(sent, n) if n < len(sent.toks) and sent.is_trigger(n) else ()
        if hit is None or hit and hit[1] == "quote" or _pull_quote(sent, o, n):
            # "“إن الزيارة كانت مثمرة”، قالت ...": the first إنّ is the complementizer, outside
            out.append((o + 2 if sent.is_complementizer(o + 1) else o + 1, c))
    return out


def _pull_quote(sent: Sentence, o: int, n: int) -> bool:
    """Whether the quote opening at ``o`` is a pull-quote: a line of its own but for the speaker's name
    after a comma, "“لن نتراجع عن القرار”، سامي الخطيب" (GUIDELINES §6); ``n`` is the first token after
    the comma."""
    toks = sent.toks
    if not (o == 0 or sent.line_break_before(o)) or toks[n - 1].raw not in SEPARATORS:
        return False
    words = 0
    for k in range(n, len(toks)):
        if k > n and sent.line_break_before(k):
            break
        if WORD_RE.fullmatch(toks[k].raw) and not sent.is_trigger(k):
            words += 1
            if words > 4:  # a name, not a clause
                return False
        elif sent.sentence_end(k) and (k + 1 == len(toks) or sent.line_break_before(k + 1)):
            break
        else:
            return False
    return words > 0


def _clause_start(sent: Sentence, k: int) -> int:
    """First content token of the sentence holding token ``k``, after a short fronted phrase.

    "وفي وقت سابق اليوم، دخلت ..." starts at "دخلت": the reporter's connective is outside.
    """
    b = _after_dateline(sent, sent.sentence_begin(k), k)
    for j in range(b, min(k, b + FRONTED + 1)):
        # "، الذي ..." goes on describing what precedes it: no fronted phrase ends there
        if sent.toks[j].raw in SEPARATORS and (j + 1 >= len(sent.toks) or sent.toks[j + 1].key not in RELATIVES):
            return j + 1
    return b


def _after_dateline(sent: Sentence, b: int, k: int) -> int:
    """``b``, or the token after a dateline that opens the line there: "برلين (د ب أ) - ..." (a place,
    the agency in parentheses, a dash). The dateline is never part of a claim (GUIDELINES §8)."""
    toks = sent.toks
    if (b > 0 and not sent.line_break_before(b)) or b + 1 >= k or toks[b + 1].raw != "(":
        return b
    for j in range(b + 2, min(k - 1, b + 2 + FRONTED)):
        if toks[j].raw == ")":
            return j + 2 if toks[j + 1].raw in ("-", "–") else b
    return b


def _after_formula(sent: Sentence, b: int, a: int) -> int | None:
    """Where the content starts when the clause from ``b`` (up to ``a``) opens with a background formula."""
    for j in range(b, min(a, b + 5)):
        if sent.toks[j].key in COMPLEMENTIZERS:
            return j + 1 if j > b and j + 1 < a else None
        if not strip_clitic(sent.toks[j].key, BACKGROUND):
            return None
    return None


def _adverbial_claims(sent: Sentence) -> list[tuple[int, int]]:
    """Clauses attributed by بحسب / وفق / نقلا عن / كما أفاد, fronted or postposed."""
    out = []
    toks = sent.toks
    opened: dict[int, int] = {}  # fronted adverbial -> where its claim starts
    for a in range(len(toks)):
        if not _is_adverbial(sent, a):
            continue
        b = _clause_start(sent, a)
        postposed = a > 0 and toks[a - 1].raw in SEPARATORS
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
        for j in range(a + 1, min(len(toks), a + 1 + WINDOW)):
            if sent.sentence_end(j) or sent.line_break_before(j):
                break
            if toks[j].raw in SEPARATORS or toks[j].key in FA_INNA:
                if toks[j].raw in SEPARATORS and j + 1 < len(toks) and toks[j + 1].key in RELATIVES:
                    continue
                if postposed and toks[j].raw in SEPARATORS and _boundary(sent, j):
                    break  # "X، بحسب المرصد، وأكد الوزير أن ...": a new report follows, not the adverbial's clause
                # "وبحسب البيان، فإن X": the complementizer after the comma stays outside, as without it
                k = j + 2 if toks[j].raw in SEPARATORS and j + 2 < len(toks) and toks[j + 1].key in THAT else j + 1
                if k < len(toks):
                    out.append((k, _find_end(sent, k, split=False)[0]))
                    opened[a] = k
                    fronted = True
                break
        if postposed and not fronted and (toks[a].key in ADVERBIALS or toks[a].key in ("كما", "علي")):
            # No clause after it: the comma before it ends a clause of up to FRONTED tokens, not a
            # fronted phrase ("دخلت القوات المدينة، بحسب المرصد."). With و it opens a clause instead;
            # a clause with a fronted adverbial of its own ("وبحسب المرصد فإن X، وفق ...") has its claim.
            b = _clause_start(sent, a - 1)
            if a - 1 > b and not any(_is_adverbial(sent, i) for i in range(b, a - 1)):
                f = _after_formula(sent, b, a - 1)
                out.append((b if f is None else f, a - 1))
    return out


def _is_adverbial(sent: Sentence, a: int) -> bool:
    key = sent.toks[a].key
    if strip_clitic(key, ADVERBIALS):
        return True
    if key in ("علي", "وعلي"):
        # "على حد قول المديرة" (GUIDELINES §6(d)); "على حد سواء" ("alike") attributes nothing
        words = [t.key for t in sent.toks[a + 1 : a + 3]]
        return len(words) == 2 and words[0] == "حد" and words[1] in ALA_HADD
    # "كما أفاد المرصد": كما with a reporting verb, not the comparative كما alone
    return (
        key in ("كما", "وكما")
        and a + 1 < len(sent.toks)
        and sent.is_trigger(a + 1)
        and not strip_clitic(sent.toks[a + 1].key, CALLS)
    )


def find_claims(text: str) -> list[dict[str, Any]]:
    """Claims in ``text`` by rule, in the shape of naba's tagger output.

    Returns ``[{"start", "end", "label": "CLAIM", "layer": "claim", "text", "score"}, ...]``
    sorted by start, non-overlapping, with code-point offsets into ``text``.
    """
    if not isinstance(text, str):
        raise TypeError(f"find_claims takes a str, got {type(text).__name__}")
    sent = Sentence(text, stops=_stop_kind)
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
