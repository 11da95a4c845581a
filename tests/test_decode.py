"""naba.decode's batch path: decode_many and viterbi_many give what one-by-one decoding gives."""

from __future__ import annotations

import numpy as np
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naba import decode as decoding
from naba.corpus.labels import DEFAULT_SCHEME
from naba.decode import decode, decode_many, viterbi, viterbi_many
from naba.encode import LabelSpace, encode
from naba.model import build_small_tokenizer

SPACE = LabelSpace.from_scheme(DEFAULT_SCHEME)
E = SPACE.tags("entity")
TEXTS = [
    "أعلن الجيش السوري اليوم الخميس أن مقاتلين من المعارضة المسلحة دخلوا مدينة حماة بعد اشتباكات.",
    "وسيطرت فصائل المعارضة السورية الخميس على مدينة حماة، رابع كبرى المدن السورية.",
    "قال أبو محمد الجولاني إن قواته ستواصل التقدم نحو حمص ودمشق.",
]


def _valid(path: list[int]) -> bool:
    for i, j in enumerate(path):
        tag = E[j]
        if tag.startswith("I-") and (i == 0 or E[path[i - 1]] not in (f"B-{tag[2:]}", tag)):
            return False
    return True


def _log_probs(rng: np.random.Generator, n: int) -> np.ndarray:
    return decoding._log_softmax(rng.normal(scale=2.0, size=(n, len(E))))


@pytest.mark.parametrize(
    "lengths, together_from, scores",
    [
        ([5, 5, 5, 5, 5, 5, 5], 1, 1 << 19),  # stepped together, equal lengths
        ([1, 40, 3, 17, 40, 2], 1, 1 << 19),  # ragged: sequences stop at different steps
        ([30, 1, 29, 8, 0, 12], 1, 5 * 64),  # small groups (64 positions x 5 tags); an empty sequence
        ([50, 2, 2], 6, 1 << 19),  # too few subwords beside the longest: one by one
        ([7], 1, 1 << 19),  # a single sequence
    ],
)
def test_viterbi_many_is_viterbi_of_each(monkeypatch, lengths, together_from, scores) -> None:
    monkeypatch.setattr(decoding, "TOGETHER_FROM", together_from)
    monkeypatch.setattr(decoding, "TOGETHER_SCORES", scores)
    rng = np.random.default_rng(sum(lengths))
    batch = [_log_probs(rng, n) for n in lengths]
    assert viterbi_many(batch, E) == [viterbi(lp, E) for lp in batch]


def test_the_together_path_is_taken_and_agrees(monkeypatch) -> None:
    calls = []
    real = decoding._together
    monkeypatch.setattr(decoding, "_together", lambda batch, tables: calls.append(len(batch)) or real(batch, tables))
    rng = np.random.default_rng(3)
    batch = [_log_probs(rng, n) for n in (20, 19, 20, 18, 20, 17, 20, 20, 16, 20, 19, 20)]
    got = viterbi_many(batch, E)
    assert calls == [12]
    assert got == [decoding._one(lp, decoding._bio_tables(tuple(E))) for lp in batch]
    assert all(_valid(p) for p in got)
    # a cap on the scores held at once splits them: 4 sequences of 20 positions x 5 tags fit in 400
    calls.clear()
    monkeypatch.setattr(decoding, "TOGETHER_SCORES", 400)
    monkeypatch.setattr(decoding, "TOGETHER_FROM", 1)
    assert viterbi_many(batch, E) == got
    assert calls == [4, 4, 4]


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=8),
    ties=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_together_equals_one_by_one(lengths, ties, seed) -> None:
    rng = np.random.default_rng(seed)
    batch = [_log_probs(rng, n) for n in lengths]
    if ties:  # coarse scores make equal sums, where the tie rule must match too
        batch = [np.round(lp) for lp in batch]
    tables = decoding._bio_tables(tuple(E))
    todo = [lp for lp in batch if len(lp)]
    if todo:
        assert decoding._together(todo, tables) == [decoding._one(lp, tables) for lp in todo]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), scale=st.sampled_from([0.5, 3.0, 8.0]))
def test_property_decode_many_is_decode_of_each(seed, scale) -> None:
    tok = _tok()
    texts = [*TEXTS, "", " نص  قصير جدا "]
    windows = encode(texts, tok, SPACE, max_length=8, stride=2, with_labels=False)
    rng = np.random.default_rng(seed)
    logits = [rng.normal(scale=scale, size=(len(w.input_ids), SPACE.num_labels)) for w in windows]
    per_doc = [[k for k, w in enumerate(windows) if w.doc_index == i] for i in range(len(texts))]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decoding, "TOGETHER_FROM", 1)  # the documents' Viterbi goes the batch way
        got = decode_many(
            texts, [[windows[k] for k in ks] for ks in per_doc], [[logits[k] for k in ks] for ks in per_doc], SPACE
        )
    want = [decode(t, [windows[k] for k in ks], [logits[k] for k in ks], SPACE) for t, ks in zip(texts, per_doc, strict=True)]
    assert got == want
    assert any(got)


_TOK = []


def _tok():
    if not _TOK:
        _TOK.append(build_small_tokenizer(TEXTS * 3, vocab_size=400))
    return _TOK[0]


# --- spans never split a user-perceived character (grapheme cluster) ------------------------------

FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # man ZWJ woman ZWJ girl: one emoji
MAN, WOMAN, GIRL = FAMILY[0], FAMILY[2], FAMILY[4]
SA, EG = "\U0001F1F8\U0001F1E6", "\U0001F1EA\U0001F1EC"  # flags: two regional indicators each


def _tagged(text: str, tagged: list[str], *, layer: str = "entity", label: str = "ACTOR"):
    """Decode ``text`` with scores that tag each piece of ``tagged`` (found in ``text``) as one span:
    B-``label`` on its first subword, I- on the others inside it, O elsewhere. Every word is [UNK]
    to this tokenizer, so the subwords are the prepared text's words with their original ranges."""
    return _tagged_at(text, [(text.index(piece), text.index(piece) + len(piece)) for piece in tagged], layer, label)


def _tagged_at(text: str, ranges: list[tuple[int, int]], layer: str = "entity", label: str = "ACTOR"):
    """:func:`_tagged` of the pieces of ``text`` at ``ranges``."""
    from test_encode import vocab_tokenizer

    windows = encode([text], vocab_tokenizer(["قال"]), SPACE, with_labels=False)
    tags, at = SPACE.tags(layer), SPACE.slices[layer].start
    logits = []
    for w in windows:
        scores = np.zeros((len(w.input_ids), SPACE.num_labels))
        scores[:, at + tags.index("O")] = 5.0
        for t, (a, b) in enumerate(w.char_spans.tolist()):
            for s, e in ranges:
                if s <= a < b <= e:
                    scores[t, at + tags.index("O")] = 0.0
                    scores[t, at + tags.index(f"{'B' if a == s else 'I'}-{label}")] = 5.0
        logits.append(scores)
    return [s for s in decode(text, windows, logits, SPACE) if s.layer == layer]


def _boundaries(text: str) -> set[int]:
    return {0} | {m.end() for m in regex.finditer(r"\X", text)}


@pytest.mark.parametrize(
    ("text", "tagged", "expected"),
    [
        # NFD Latin: the combining accent prepares as a space, so the subword ends before it
        pytest.param("قال Jose\u0301 اليوم", ["Jose"], ["Jose\u0301"], id="nfd-end"),
        pytest.param("زار E\u0301mile Zola القاهرة", ["E"], ["E\u0301"], id="nfd-start-of-span"),
        pytest.param("قال Jose\u0301 Mari\u0301a", ["Jose\u0301 Mari"], ["Jose\u0301 Mari\u0301"], id="nfd-both"),
        pytest.param("زار E\u0301mile Zola القاهرة", ["E\u0301mile Zola"], ["E\u0301mile Zola"], id="nfd-whole"),
        # an Arabic letter and a mark naba does not delete (Arabic Extended-A): a space once prepared
        pytest.param("قال محمد\u08f0 اليوم", ["محمد"], ["محمد\u08f0"], id="arabic-08f0-end"),
        pytest.param("قال محمد\u08d3\u08f0 اليوم", ["محمد"], ["محمد\u08d3\u08f0"], id="arabic-two-marks"),
        pytest.param("زار مح\u08f0مد المدينة", ["مح"], ["مح\u08f0"], id="arabic-08f0-inside-word"),
        pytest.param("زار مح\u08f0مد المدينة", ["مد المدينة"], ["مد المدينة"], id="arabic-after-the-mark"),
        # an emoji ZWJ sequence: each emoji is a token of its own, the ZWJ deleted
        pytest.param(f"العائلة {FAMILY} سعيدة", [MAN], [FAMILY], id="zwj-first"),
        pytest.param(f"العائلة {FAMILY} سعيدة", [WOMAN], [FAMILY], id="zwj-middle-starts-inside"),
        pytest.param(f"العائلة {FAMILY} سعيدة", [GIRL], [FAMILY], id="zwj-last"),
        pytest.param(f"العائلة {FAMILY} سعيدة", [f"{GIRL} سعيدة"], [f"{FAMILY} سعيدة"], id="zwj-into-a-word"),
        # two spans meeting inside one cluster: the earlier keeps it, the later keeps what follows it
        pytest.param(f"العائلة {FAMILY} سعيدة", [MAN, WOMAN], [FAMILY], id="zwj-two-spans-one-cluster"),
        pytest.param(f"العائلة {FAMILY} سعيدة", [WOMAN, f"{GIRL} سعيدة"], [FAMILY, "سعيدة"], id="zwj-later-keeps-rest"),
        # flags: a pair of regional indicators, each a token
        pytest.param(f"علم {SA} اليوم", [SA[1]], [SA], id="flag-second-half"),
        pytest.param(f"علم {SA} اليوم", [SA[0]], [SA], id="flag-first-half"),
        pytest.param(f"علما {SA}{EG} معا", [SA[1] + EG[0]], [SA + EG], id="flag-pair-cut-in-both"),
        pytest.param(f"علما {SA}{EG} معا", [SA[1], EG[0]], [SA, EG], id="flag-pair-two-spans"),
        # keycaps: U+FE0F U+20E3 after a digit or # prepare as spaces
        pytest.param("اضغط 1\ufe0f\u20e3 الآن", ["1"], ["1\ufe0f\u20e3"], id="keycap-digit"),
        pytest.param("اضغط #\ufe0f\u20e3 الآن", ["#"], ["#\ufe0f\u20e3"], id="keycap-hash"),
        # a Prepend mark (end of ayah, a space once prepared) joins the digit after it
        pytest.param("الآية \u06dd١٢ من السورة", ["١٢"], ["\u06dd١٢"], id="prepend-ayah-number"),
        # U+0B4D, in AraBERT's alphabet as punctuation, continues the Oriya letters around it
        pytest.param("قال \u0b2c\u0b4d\u0b30 اليوم", ["\u0b4d"], ["\u0b2c\u0b4d\u0b30"], id="kept-mark-inside-a-cluster"),
        # ... and a space before it: the span, a space with a mark, is trimmed away whole
        pytest.param("قال \u0b4d الجيش", ["\u0b4d"], [], id="kept-mark-on-a-space"),
        pytest.param("قال \u0b4d الجيش", ["\u0b4d الجيش"], ["الجيش"], id="kept-mark-on-a-space-trimmed"),
        # ordinary Arabic with diacritics and tatweel: unchanged (they are folded into their letters)
        pytest.param("قالَ الجَيشُ السوريُّ اليوم", ["الجَيشُ السوريُّ"], ["الجَيشُ السوريُّ"], id="diacritics"),
        pytest.param("قالَ الجَيشُ السوريُّ اليوم", ["الجَيشُ"], ["الجَيشُ"], id="diacritics-one-word"),
        pytest.param("قال الجيـــش اليوم", ["الجيـــش"], ["الجيـــش"], id="tatweel"),
        pytest.param("قال الجيش\u200f اليوم", ["الجيش"], ["الجيش"], id="rlm-after-a-word-is-no-part-of-it"),
    ],
)
def test_decoded_spans_never_split_a_character(text: str, tagged: list[str], expected: list[str]) -> None:
    spans = _tagged(text, tagged)
    assert [text[s.start : s.end] for s in spans] == expected
    bounds, reach = _boundaries(text), 0
    for s in spans:
        assert s.start in bounds and s.end in bounds
        assert not text[s.start].isspace() and not text[s.end - 1].isspace()
        assert s.start >= reach  # spans of a layer never overlap
        reach = s.end
    want = [text.index(piece) for piece in expected]
    assert [s.start for s in spans] == want


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(
        st.sampled_from([
            "قال", "الجَيشُ", "حمـــاة", "Jose\u0301", "E\u0301mile", "محمد\u08f0", "مح\u08f0مد", FAMILY, SA + EG,
            "1\ufe0f\u20e3", "\u06dd١٢", "\u0b2c\u0b4d\u0b30", "\u0b4d", "\U0001F44D\U0001F3FD", "\u1100\u1161\u11a8",
        ]),
        min_size=1, max_size=12,
    ),
    seps=st.lists(st.sampled_from([" ", "", "\n", " \u0301", "\r\n"]), min_size=12, max_size=12),
    seed=st.integers(0, 2**16),
)
def test_property_random_scores_never_split_a_character(words: list[str], seps: list[str], seed: int) -> None:
    from test_encode import vocab_tokenizer

    text = "".join(w + sep for w, sep in zip(words, seps, strict=False))
    windows = encode([text], vocab_tokenizer(["قال"]), SPACE, max_length=6, stride=2, with_labels=False)
    rng = np.random.default_rng(seed)
    logits = [rng.normal(scale=3.0, size=(len(w.input_ids), SPACE.num_labels)) for w in windows]
    bounds, reach = _boundaries(text), {}
    for s in decode(text, windows, logits, SPACE):
        assert s.start in bounds and s.end in bounds, (text[s.start : s.end], s)
        assert not text[s.start].isspace() and not text[s.end - 1].isspace()
        assert s.start >= reach.get(s.layer, 0)
        reach[s.layer] = s.end


def test_the_search_back_for_a_spans_edges_stops_at_the_span_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # a long run of emoji has no offset that is surely a cluster boundary, so how far back graphemes.cluster
    # may search is all that keeps decoding linear: a span starting inside the cluster the span before it
    # ended in (man, then woman, of each family) searched back to the text's start, quadratic in the run
    import naba.graphemes as graphemes

    text = "قال " + FAMILY * 40
    ranges = [(at + k, at + k + 1) for at in range(4, len(text), len(FAMILY)) for k in (0, 2)]
    searched, cluster = [], graphemes.cluster

    def recording(text: str, i: int, floor: int = 0) -> tuple[int, int]:
        searched.append(i - floor)
        return cluster(text, i, floor)

    monkeypatch.setattr(graphemes, "cluster", recording)
    spans = _tagged_at(text, ranges)
    assert [(s.start, s.end) for s in spans] == [(at, at + len(FAMILY)) for at in range(4, len(text), len(FAMILY))]
    assert searched and max(searched) < 2 * len(FAMILY)


# --- windows whose subwords a tokenizer unlike BERT's, or a URL's pieces, give ---------------------------


def _decode_pieces(text: str, pieces: list[tuple[int, int]], tags: dict[str, list[str]]):
    """Decode one window of subwords at the original ranges ``pieces``, scored to take ``tags[layer]``
    (O in the layers not named)."""
    from naba.encode import Window

    n = len(pieces)
    window = Window(0, [1] * (n + 2), np.array([[0, 0], *pieces, [0, 0]], dtype=np.int64), None, (1, n + 1))
    logits = np.zeros((n + 2, SPACE.num_labels))
    for layer in SPACE.layers:
        layer_tags = SPACE.tags(layer)
        for t, tag in enumerate(tags.get(layer, ["O"] * n), start=1):
            logits[t, SPACE.slices[layer].start + layer_tags.index(tag)] = 5.0
    return [(s.start, s.end, s.label) for s in decode(text, [window], [logits], SPACE)]


@pytest.mark.parametrize(
    ("text", "pieces", "tags", "expected"),
    [
        # a subword that stands for nothing (at the start of الجيش) sets no edge of the span it is in: the
        # span ended after the RLM
        pytest.param("قال\u200f الجيش", [(0, 3), (5, 5), (5, 10)], {"entity": ["B-ACTOR", "I-ACTOR", "O"]},
                     [(0, 3, "ACTOR")], id="nothing-at-the-end"),
        # a Prepend mark and the space after it are one cluster: the span's end goes out to it, then the
        # space is trimmed with the cluster, mark and all
        pytest.param("الجيش\u0600 قال", [(0, 6), (7, 10)], {"entity": ["B-ACTOR", "O"]}, [(0, 5, "ACTOR")],
                     id="ends-in-a-cluster-ending-in-a-space"),
        # a span starting inside the one before it keeps its subwords from that one's end: the comma
        # right after it, too
        pytest.param("قال الجيش، اليوم", [(0, 9), (4, 9), (9, 10), (11, 16)],
                     {"entity": ["B-ACTOR", "B-LOCATION", "I-LOCATION", "O"]},
                     [(0, 9, "ACTOR"), (9, 10, "LOCATION")], id="later-span-from-the-end-of-the-earlier"),
        # spans of two layers starting together: the longer first
        pytest.param("قال الجيش اليوم", [(0, 3), (4, 9), (10, 15)],
                     {"entity": ["O", "B-ACTOR", "O"], "claim": ["O", "B-CLAIM", "I-CLAIM"]},
                     [(4, 15, "CLAIM"), (4, 9, "ACTOR")], id="longer-first"),
    ],
)
def test_spans_of_unusual_subwords(text: str, pieces: list[tuple[int, int]], tags: dict[str, list[str]],
                                   expected: list[tuple[int, int, str]]) -> None:
    assert _decode_pieces(text, pieces, tags) == expected
