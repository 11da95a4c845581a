"""naba.encode: label space, spans -> subword labels -> windows -> decoded spans."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordPiece
from transformers import BertTokenizerFast

from naba.corpus.document import Document, Span
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.decode import decode, viterbi
from naba.encode import IGNORE, LabelSpace, encode, unrepresentable, unrepresentable_reasons
from naba.errors import ConfigError
from naba.model import build_small_tokenizer

SPACE = LabelSpace.from_scheme(DEFAULT_SCHEME)
SENTENCES = [
    "أعلن الجيش السوري اليوم الخميس أن مقاتلين من المعارضة المسلحة دخلوا مدينة حماة بعد اشتباكات.",
    "وسيطرت فصائل المعارضة السورية الخميس على مدينة حماة، رابع كبرى المدن السورية.",
    "قال أبو محمد الجولاني إن قواته ستواصل التقدم نحو حمص ودمشق.",
    "وأكدت السفارة الصينية في دمشق أن الوضع مستقر 😀 وأن الرعايا بخير.",
    "دخلت القوات بحماة و بحمص بعد 12 ساعة من القتال، بحسب المرصد السوري لحقوق الإنسان.",
]


@pytest.fixture(scope="module")
def tok():
    return build_small_tokenizer(SENTENCES * 3, vocab_size=400)


def vocab_tokenizer(words: list[str]) -> BertTokenizerFast:
    """A WordPiece tokenizer over exactly ``words`` (for subword splits chosen by the test)."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {w: i for i, w in enumerate(specials + words)}
    t = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return BertTokenizerFast(tokenizer_object=t, do_lower_case=False, cls_token="[CLS]", sep_token="[SEP]",
                             pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]")


def one_hot_logits(windows, space: LabelSpace, value: float = 1.0) -> list[np.ndarray]:
    """Logits that favour each window's gold tags (O for [CLS]/[SEP])."""
    out = []
    for w in windows:
        logits = np.zeros((len(w.input_ids), space.num_labels))
        for t, tags in enumerate(w.labels):
            for k, layer in enumerate(space.layers):
                logits[t, space.slices[layer].start + max(tags[k], 0)] = value
        out.append(logits)
    return out


def round_trip(doc: Document, tokenizer, *, max_length: int = 512, stride: int = 128):
    windows = encode([doc], tokenizer, SPACE, max_length=max_length, stride=stride)
    spans = decode(doc.text, windows, one_hot_logits(windows, SPACE), SPACE)
    return windows, {(s.start, s.end, s.label) for s in spans}


# --- LabelSpace ---------------------------------------------------------------------------------


def test_label_space_layout() -> None:
    assert SPACE.layers == ("entity", "claim")
    assert SPACE.tags("entity") == ("O", "B-ACTOR", "I-ACTOR", "B-LOCATION", "I-LOCATION")
    assert SPACE.tags("claim") == ("O", "B-CLAIM", "I-CLAIM")
    assert SPACE.num_labels == 8
    assert SPACE.id2label[0] == "entity:O" and SPACE.id2label[5] == "claim:O" and SPACE.id2label[7] == "claim:I-CLAIM"
    assert SPACE.label2id == {v: k for k, v in SPACE.id2label.items()}
    assert SPACE.slices == {"entity": slice(0, 5), "claim": slice(5, 8)}
    assert SPACE.scheme.layers == DEFAULT_SCHEME.layers


@pytest.mark.parametrize(
    "id2label",
    [
        SPACE.id2label,
        {str(k): v for k, v in SPACE.id2label.items()},  # as config.json stores it
        LabelSpace.from_scheme(LabelScheme({"claim": ("CLAIM",)})).id2label,
    ],
)
def test_label_space_from_id2label(id2label) -> None:
    space = LabelSpace.from_id2label(id2label)
    assert space.id2label == {int(k): v for k, v in id2label.items()}


@pytest.mark.parametrize(
    "id2label",
    [
        {0: "O", 1: "B-ACTOR"},  # no layer
        {0: "entity:O", 2: "entity:B-ACTOR"},  # a gap
        {0: "entity:B-ACTOR", 1: "entity:O", 2: "entity:I-ACTOR"},  # not naba's order
        {0: "entity:O", 1: "entity:X-ACTOR"},
    ],
)
def test_label_space_rejects_foreign_id2label(id2label) -> None:
    with pytest.raises(ConfigError):
        LabelSpace.from_id2label(id2label)


# --- encode / decode round trips ----------------------------------------------------------------

T1 = "قال الجيش السوري إن القوات دخلت حماة"
T_LONG = " ".join(SENTENCES)
T_DIAC = "دخل الجَيْشُ السُّوريّ إلى حمــاة"


def _at(text: str, part: str, label: str, nth: int = 0) -> Span:
    start = -1
    for _ in range(nth + 1):
        start = text.index(part, start + 1)
    return Span(start, start + len(part), label)


@pytest.mark.parametrize(
    "text, spans, max_length, stride",
    [
        (T1, [_at(T1, "الجيش السوري", "ACTOR"), _at(T1, "حماة", "LOCATION")], 512, 128),
        # a CLAIM holding an ACTOR and a LOCATION (two layers over the same subwords)
        (T1, [_at(T1, "الجيش السوري", "ACTOR"), _at(T1, "القوات دخلت حماة", "CLAIM"),
              _at(T1, "القوات", "ACTOR"), _at(T1, "حماة", "LOCATION")], 512, 128),
        # many windows: every span survives the cut, including spans across window edges
        (T_LONG, [_at(T_LONG, "الجيش السوري", "ACTOR"), _at(T_LONG, "مدينة حماة", "LOCATION"),
                  _at(T_LONG, "أبو محمد الجولاني", "ACTOR"), _at(T_LONG, "دمشق", "LOCATION", 1),
                  _at(T_LONG, "قواته ستواصل التقدم نحو حمص ودمشق", "CLAIM"),
                  _at(T_LONG, "الوضع مستقر 😀 وأن الرعايا بخير", "CLAIM"),
                  _at(T_LONG, "المرصد السوري لحقوق الإنسان", "ACTOR")], 16, 4),
        (T_LONG, [_at(T_LONG, "أعلن الجيش السوري اليوم الخميس أن مقاتلين من المعارضة المسلحة", "CLAIM")], 8, 2),
        (T_LONG, [_at(T_LONG, "السفارة الصينية", "ACTOR")], 5, 0),
        # diacritics and tatweel inside a span; an emoji inside a span
        (T_DIAC, [_at(T_DIAC, "الجَيْشُ السُّوريّ", "ACTOR"), _at(T_DIAC, "حمــاة", "LOCATION")], 512, 128),
        ("قال 😀 الجيش: نعم", [Span(0, 11, "CLAIM")], 512, 128),
    ],
    ids=["entities", "nested-claim", "windows-16-4", "claim-over-windows-8-2", "windows-5-0", "diacritics",
         "emoji"],
)
def test_round_trip_reproduces_spans(tok, text: str, spans: list[Span], max_length: int, stride: int) -> None:
    doc = Document("d", text, spans)
    assert unrepresentable([doc], tok) == {label: 0 for label in {s.label for s in spans}}
    windows, got = round_trip(doc, tok, max_length=max_length, stride=stride)
    assert all(len(w.input_ids) <= max_length for w in windows)
    assert got == {(s.start, s.end, s.label) for s in spans}


@pytest.mark.parametrize(
    "vocab, exact",
    [
        (["دخلوا", "ب", "##حماة", "حماة"], True),  # the tokenizer cuts ب|حماة: the span is exact
        (["دخلوا", "بحماة", "حماة"], False),  # it does not: the span rides on the whole subword
    ],
)
def test_span_starting_inside_a_word(vocab: list[str], exact: bool) -> None:
    text = "دخلوا بحماة"
    doc = Document("d", text, [Span(7, 11, "LOCATION")])
    tokenizer = vocab_tokenizer(vocab)
    assert unrepresentable([doc], tokenizer) == {"LOCATION": 0 if exact else 1}
    _, got = round_trip(doc, tokenizer)
    assert got == ({(7, 11, "LOCATION")} if exact else {(6, 11, "LOCATION")})


SAID = "قال والرئيس في حماة ."  # 0-3 قال, 4-11 والرئيس (one subword), 12-14 في, 15-19 حماة, 20 .
SAID_RLM = "قال الرئيس\u200f في حماة ."  # the preparation deletes the right-to-left mark at 10


@pytest.mark.parametrize(
    ("text", "start", "end", "why"),
    [
        (SAID, 4, 11, None),
        (SAID, 12, 21, None),  # several subwords, the spaces between them inside
        (SAID, 5, 11, "subword"),  # starts inside والرئيس: learnt on all of it
        (SAID, 4, 12, "edge"),  # a trailing space, as an annotation tool's selection may take in
        (SAID, 3, 11, "edge"),  # a leading one
        (SAID, 3, 12, "edge"),
        (SAID, 5, 12, "subword"),  # inside a subword at one edge, on a space at the other
        (SAID_RLM, 4, 11, "edge"),  # ends on the mark the preparation deletes
        (SAID_RLM, 10, 11, "removed"),  # the mark alone: no subword at all
    ],
)
def test_why_a_span_cannot_be_reproduced(text: str, start: int, end: int, why: str | None) -> None:
    tokenizer = vocab_tokenizer(["قال", "والرئيس", "الرئيس", "في", "حماة", "."])
    doc = Document("d", text, [Span(start, end, "ACTOR")])
    counts = {"subword": 0, "edge": 0, "removed": 0}
    if why is not None:
        counts[why] = 1
    assert unrepresentable_reasons([doc], tokenizer) == (1, counts)
    assert unrepresentable([doc], tokenizer) == {"ACTOR": int(why is not None)}
    if why == "edge":  # what the model learns and predicts: the span without that edge
        _, got = round_trip(doc, tokenizer)
        assert got == {(4, 11 if text == SAID else 10, "ACTOR")}


def test_windows_overlap_and_cores_partition_the_document(tok) -> None:
    doc = Document("d", T_LONG * 2)
    windows = encode([doc], tok, SPACE, max_length=16, stride=4)
    whole = encode([doc], tok, SPACE, max_length=10_000, stride=0)
    assert len(whole) == 1
    content = [w.input_ids[1:-1] for w in windows]
    for w in windows:
        assert w.input_ids[0] == tok.cls_token_id and w.input_ids[-1] == tok.sep_token_id
        assert w.char_spans[0].tolist() == w.char_spans[-1].tolist() == [0, 0]
        assert w.labels[0] == w.labels[-1] == [IGNORE, IGNORE]
        assert all(IGNORE not in row for row in w.labels[1:-1])  # training learns every window whole, core or not
    for a, b in zip(content, content[1:], strict=False):
        assert a[-4:] == b[:4]  # stride = overlapping subwords
    cored = [t for w in windows for t in w.input_ids[w.core[0] : w.core[1]]]
    cored_spans = [s for w in windows for s in w.char_spans[w.core[0] : w.core[1]].tolist()]
    assert cored == whole[0].input_ids[1:-1]
    assert cored_spans == whole[0].char_spans[1:-1].tolist()
    # a subword's owner is the window where it sits farthest from the edges
    for w in windows[1:-1]:
        a, b = w.core
        assert a - 1 >= 1 and len(w.input_ids) - 1 - b >= 1


ONE_WORD = vocab_tokenizer(["ب"])


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 300), max_length=st.integers(3, 40), overlap=st.integers(0, 40))
def test_property_windows_cover_every_subword_once(n: int, max_length: int, overlap: int) -> None:
    """However many subwords (none, one, many windows' worth), no window is longer than max_length,
    consecutive windows share exactly ``stride`` subwords, and the cores, in order, hold every
    subword once, each window's core a non-empty run of its own subwords."""
    stride = min(overlap, max_length - 3)
    windows = encode(["ب " * n], ONE_WORD, SPACE, max_length=max_length, stride=stride, with_labels=False)
    content = [w.input_ids[1:-1] for w in windows]
    assert all(len(w.input_ids) <= max_length for w in windows)
    assert sum(map(len, content)) == n + stride * (len(windows) - 1)
    cored = [w.char_spans[w.core[0] : w.core[1], 0].tolist() for w in windows]
    assert [x for core in cored for x in core] == [2 * i for i in range(n)]
    assert n == 0 or all(1 <= w.core[0] < w.core[1] <= len(w.input_ids) - 1 for w in windows)


# lone surrogates, controls, a mid-text BOM, marks with nothing before them, ligatures, entities,
# a URL with Arabic, emoji with modifiers, a text ending in a diacritic or tatweel
HOSTILE = ["\udc80", "\x00", "\x85", "\ufeff", "\u2028", "\u064e", "\u0640", "\ufdf2", "\ufdfa", "\ufefb",
           "&amp;", "&#x627", "&nbsp", "https://ar.wikipedia.org/wiki/حماة", "a@b.com", "@أحمد", "ههههه", "٣كم",
           "۴", "👍🏽", "🇸🇾", "\u0301", " ", "\n", "الجيش", "حماة", "12", "COVID19", "،"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(HOSTILE), max_size=25), max_length=st.integers(3, 12),
       overlap=st.integers(0, 9))
def test_property_hostile_text_windows(tok, parts: list[str], max_length: int, overlap: int) -> None:
    """On hostile text every subword stands for a non-empty, unpadded original range, in order, and
    the windows' cores give back the whole document's subwords once each."""
    text = "".join(parts)
    stride = min(overlap, max_length - 3)
    (whole,) = encode([text], tok, SPACE, max_length=100_000, stride=0, with_labels=False)
    spans = whole.char_spans[1:-1].tolist()
    assert all(0 <= a < b <= len(text) and text[a:b] == text[a:b].strip() for a, b in spans)
    assert spans == sorted(spans)
    windows = encode([text], tok, SPACE, max_length=max_length, stride=stride, with_labels=False)
    assert all(len(w.input_ids) <= max_length for w in windows)
    assert [t for w in windows for t in w.input_ids[w.core[0] : w.core[1]]] == whole.input_ids[1:-1]


def test_char_spans_are_original_offsets(tok) -> None:
    text = "قال الجَيْشُ: «دخلنا حمــاة»"
    (w,) = encode([text], tok, SPACE, with_labels=False)
    assert w.labels is None
    assert w.char_spans.dtype == np.int64 and w.char_spans.shape == (len(w.input_ids), 2)
    pieces = [text[a:b] for a, b in w.char_spans[1:-1]]
    assert "".join(pieces).replace(" ", "") == "".join(text.split())
    assert all(p == p.strip() and p for p in pieces)


@pytest.mark.parametrize("texts", [[""], ["   "], ["\u064e"], ["", "نص", ""]])
def test_empty_documents_get_one_window(tok, texts: list[str]) -> None:
    windows = encode(texts, tok, SPACE)
    assert [w.doc_index for w in windows] == list(range(len(texts)))
    for w, text in zip(windows, texts, strict=True):
        if not text.strip("\u064e "):
            assert w.input_ids == [tok.cls_token_id, tok.sep_token_id] and w.core == (1, 1)
            assert decode(text, [w], [np.zeros((2, SPACE.num_labels))], SPACE) == []


def test_batch_encode_equals_one_by_one(tok) -> None:
    docs = [Document(str(i), s, [Span(0, 3, "ACTOR")]) for i, s in enumerate(SENTENCES)]
    together = encode(docs, tok, SPACE, max_length=12, stride=3)
    alone = [(i, w) for i, d in enumerate(docs) for w in encode([d], tok, SPACE, max_length=12, stride=3)]
    assert [(w.doc_index, w.input_ids, w.char_spans.tolist(), w.labels, w.core) for w in together] == [
        (i, w.input_ids, w.char_spans.tolist(), w.labels, w.core) for i, w in alone
    ]


def test_labels_of_other_layers_are_ignored(tok) -> None:
    space = LabelSpace.from_scheme(DEFAULT_SCHEME.restrict(["claim"]))
    doc = Document("d", T1, [_at(T1, "الجيش", "ACTOR"), _at(T1, "القوات دخلت حماة", "CLAIM")])
    (w,) = encode([doc], tok, space)
    assert {tuple(x) for x in w.labels[1:-1]} == {(0,), (1,), (2,)}
    spans = decode(T1, [w], one_hot_logits([w], space), space)
    assert [(s.start, s.end, s.label, s.layer) for s in spans] == [(20, 36, "CLAIM", "claim")]


@pytest.mark.parametrize("max_length, stride", [(2, 0), (16, 14), (16, 20), (16, -1)])
def test_bad_window_settings(tok, max_length: int, stride: int) -> None:
    with pytest.raises(ConfigError):
        encode(["نص"], tok, SPACE, max_length=max_length, stride=stride)


@pytest.mark.parametrize(
    ("n", "max_length", "stride", "cores"),
    [
        # windows [0, 5) and [2, 7): subword 3 sits one from an edge in both, and the earlier keeps it
        (7, 7, 3, [(1, 5), (3, 6)]),
        # windows [0, 4) and [2, 6): subword 2 is one from the first's end and on the second's start,
        # subword 3 on the first's end and one from the second's start
        (6, 6, 2, [(1, 4), (2, 5)]),
    ],
)
def test_each_subword_is_owned_by_the_window_where_it_sits_most_centrally(
    n: int, max_length: int, stride: int, cores: list[tuple[int, int]]
) -> None:
    windows = encode(["ب " * n], ONE_WORD, SPACE, max_length=max_length, stride=stride, with_labels=False)
    assert [w.core for w in windows] == cores


def test_a_subword_holding_two_spans_of_a_layer_carries_the_first() -> None:
    # و and الرئيس are two spans, but one subword (والرئيس): it is learnt as the first, not the last
    tokenizer = vocab_tokenizer(["قال", "والرئيس", "في", "حماة", "."])
    doc = Document("d", SAID, [Span(4, 5, "ACTOR"), Span(5, 11, "LOCATION")])
    (w,) = encode([doc], tokenizer, SPACE)
    assert [E[row[0]] for row in w.labels[1:-1]] == ["O", "B-ACTOR", "O", "O", "O"]
    assert unrepresentable([doc], tokenizer) == {"ACTOR": 1, "LOCATION": 1}


class PiecesTokenizer:
    """A tokenizer giving the prepared text the pieces (prepared offsets) the test says, as a tokenizer
    unlike BERT's may: a piece that ends on a space naba inserted, or one that stands for nothing
    (sentencepiece's lone "▁")."""

    cls_token_id, sep_token_id = 1, 2

    def __init__(self, pieces: list[tuple[int, int]]) -> None:
        self.pieces = pieces

    def __call__(self, texts: list[str], **_: object) -> dict[str, list]:
        return {"input_ids": [[5] * len(self.pieces) for _ in texts], "offset_mapping": [self.pieces for _ in texts]}


@pytest.mark.parametrize(
    ("text", "pieces", "span", "char_spans", "tags"),
    [
        # "قال ." once prepared (the RLM deleted, a space inserted before the full stop): the first piece
        # ends on that space, which stands for nothing: not for the RLM before the full stop
        ("قال\u200f.", [(0, 4), (4, 5)], (0, 3), [[0, 3], [4, 5]], ["B-ACTOR", "O"]),
        # a piece of nothing before الجيش stands for nothing, and a span taking in the space before it
        # does not begin on it
        ("قال الجيش", [(0, 3), (4, 4), (4, 9)], (3, 9), [[0, 3], [4, 4], [4, 9]], ["O", "O", "B-ACTOR"]),
        # ... and so does one at the text's start, where no inserted space is next to it
        ("الجيش", [(0, 0), (0, 5)], (0, 5), [[0, 0], [0, 5]], ["O", "B-ACTOR"]),
    ],
    ids=["ends-on-an-inserted-space", "stands-for-nothing", "nothing-at-the-start"],
)
def test_pieces_on_inserted_spaces_or_on_nothing(
    text: str, pieces: list[tuple[int, int]], span: tuple[int, int], char_spans: list[list[int]], tags: list[str]
) -> None:
    doc = Document("d", text, [Span(*span, "ACTOR")])
    (w,) = encode([doc], PiecesTokenizer(pieces), SPACE)
    assert w.char_spans[1:-1].tolist() == char_spans
    assert [E[row[0]] for row in w.labels[1:-1]] == tags


def test_unrepresentable_counts_per_label(tok) -> None:
    text = "دخلت القوات بحماة و بحمص"
    docs = [
        Document("a", text, [Span(0, 4, "ACTOR"), Span(12, 15, "LOCATION")]),  # ends inside a subword
        Document("b", text, [Span(3, 11, "ACTOR"), Span(12, 17, "LOCATION")]),  # starts inside "دخلت"
        Document("c", "لا شيء"),
    ]
    counts = unrepresentable(docs, tok)
    assert counts["LOCATION"] == 1 and counts["ACTOR"] >= 1 and set(counts) == {"ACTOR", "LOCATION"}


# --- decoding -----------------------------------------------------------------------------------

E = SPACE.tags("entity")


def _lp(rows: list[dict[str, float]], tags=E) -> np.ndarray:
    """Log-probabilities from a few named tag probabilities per token (the rest share what is left)."""
    out = []
    for row in rows:
        rest = (1 - sum(row.values())) / (len(tags) - len(row))
        out.append([row.get(t, rest) for t in tags])
    return np.log(np.array(out))


@pytest.mark.parametrize(
    "rows, expected",
    [
        # the argmax path is valid: it is the answer
        ([{"B-ACTOR": 0.9}, {"I-ACTOR": 0.9}, {"O": 0.9}], ["B-ACTOR", "I-ACTOR", "O"]),
        # a sequence may not start with I-X
        ([{"I-ACTOR": 0.6, "B-ACTOR": 0.3}, {"I-ACTOR": 0.9}], ["B-ACTOR", "I-ACTOR"]),
        # I-X may not follow O
        ([{"O": 0.9}, {"I-LOCATION": 0.5, "O": 0.4}], ["O", "O"]),
        ([{"O": 0.55, "B-LOCATION": 0.4}, {"I-LOCATION": 0.9}], ["B-LOCATION", "I-LOCATION"]),
        # I-Y may not follow B-X
        ([{"B-ACTOR": 0.9}, {"I-LOCATION": 0.6, "I-ACTOR": 0.3}], ["B-ACTOR", "I-ACTOR"]),
        # B-X B-X is two spans and allowed
        ([{"B-ACTOR": 0.9}, {"B-ACTOR": 0.9}], ["B-ACTOR", "B-ACTOR"]),
        ([], []),
    ],
)
def test_viterbi_obeys_bio(rows, expected) -> None:
    lp = _lp(rows) if rows else np.zeros((0, len(E)))
    assert [E[i] for i in viterbi(lp, E)] == expected


def test_decode_scores_trims_and_uses_the_owning_window(tok) -> None:
    text = "قال الجيش السوري إن القوات دخلت حماة"
    doc = Document("d", text, [_at(text, "الجيش السوري", "ACTOR")])
    windows = encode([doc], tok, SPACE, max_length=6, stride=2)
    logits = one_hot_logits(windows, SPACE, value=2.0)
    # outside its core, a window says something else: it must not matter
    for w, lg in zip(windows, logits, strict=True):
        a, b = w.core
        lg[1:a] = lg[b:-1] = 0
        lg[1:a, SPACE.slices["entity"].start + 1] = lg[b:-1, SPACE.slices["entity"].start + 1] = 50
    spans = decode(text, windows, logits, SPACE)
    (actor,) = [s for s in spans if s.layer == "entity"]
    assert (actor.start, actor.end, actor.label) == (4, 16, "ACTOR")
    p = np.exp(2.0) / (np.exp(2.0) + 4)  # softmax of a one-hot logit of 2 among 5 entity tags
    assert actor.score == pytest.approx(p)


@pytest.mark.parametrize(
    "tags, expected",
    [
        # [ رابط ] all stand for the whole URL (a tokenizer without [رابط] as one token, such as a
        # fast tokenizer made from AraBERT's vocab.txt): spans of one layer must still not overlap
        (["O", "B-ACTOR", "B-ACTOR", "O", "O"], [(6, 25, "ACTOR")]),
        (["O", "B-ACTOR", "I-ACTOR", "B-LOCATION", "O"], [(6, 25, "ACTOR")]),
        (["O", "B-ACTOR", "B-LOCATION", "I-LOCATION", "I-LOCATION"], [(6, 25, "ACTOR"), (26, 30, "LOCATION")]),
        (["O", "O", "O", "B-ACTOR", "I-ACTOR"], [(6, 30, "ACTOR")]),
        (["B-ACTOR", "O", "O", "B-LOCATION", "O"], [(0, 5, "ACTOR"), (6, 25, "LOCATION")]),
    ],
)
def test_decoded_spans_of_a_layer_never_overlap(tags: list[str], expected: list[tuple[int, int, str]]) -> None:
    tokenizer = vocab_tokenizer(["زوروا", "[", "رابط", "]", "الآن"])
    text = "زوروا https://example.com الآن"
    (w,) = encode([text], tokenizer, SPACE, with_labels=False)
    assert w.char_spans[2:5].tolist() == [[6, 25]] * 3
    logits = np.zeros((len(w.input_ids), SPACE.num_labels))
    for t, tag in enumerate(tags, start=1):
        logits[t, E.index(tag)] = 5.0
    spans = decode(text, [w], [logits], SPACE)
    assert [(s.start, s.end, s.label) for s in spans if s.layer == "entity"] == expected
    assert all(0 <= s.score <= 1 for s in spans)


def test_decode_rejects_wrong_shapes(tok) -> None:
    windows = encode(["نص قصير"], tok, SPACE)
    with pytest.raises(ValueError, match="logits of shape"):
        decode("نص قصير", windows, [np.zeros((1, SPACE.num_labels))], SPACE)
    with pytest.raises(ValueError, match="windows but"):
        decode("نص قصير", windows, [], SPACE)


# --- property: representable spans always come back --------------------------------------------

WORDS = ["الجيش", "السوري", "حماة", "دمشق", "قال", "إن", "القوات", "😀", "،", "12", "بِحَمَاةَ", "COVID19"]
LABELS = ["ACTOR", "LOCATION", "CLAIM"]


@st.composite
def documents(draw):
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=30))
    seps = draw(st.lists(st.sampled_from([" ", "  ", "\n", " \u200f"]), min_size=len(words), max_size=len(words)))
    starts, ends, text = [], [], ""
    for w, sep in zip(words, seps, strict=True):
        starts.append(len(text))
        text += w
        ends.append(len(text))
        text += sep
    spans = []
    for layer_labels in (["ACTOR", "LOCATION"], ["CLAIM"]):
        i = 0
        while i < len(words):
            if draw(st.booleans()):
                j = draw(st.integers(i, min(i + 5, len(words) - 1)))
                spans.append(Span(starts[i], ends[j], draw(st.sampled_from(layer_labels))))
                i = j + 1
            else:
                i += 1
    return Document("h", text, spans)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(doc=documents(), max_length=st.integers(3, 20), overlap=st.integers(0, 17))
def test_property_round_trip(tok, doc: Document, max_length: int, overlap: int) -> None:
    stride = min(overlap, max_length - 3)
    _, got = round_trip(doc, tok, max_length=max_length, stride=stride)
    assert got == {(s.start, s.end, s.label) for s in doc.spans}


def _valid(path: tuple[int, ...], tags) -> bool:
    for i, j in enumerate(path):
        tag = tags[j]
        if tag.startswith("I-") and (i == 0 or tags[path[i - 1]] not in (f"B-{tag[2:]}", tag)):
            return False
    return True


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: st.lists(
    st.lists(st.floats(-6, 0, allow_nan=False), min_size=5, max_size=5), min_size=n, max_size=n)))
def test_property_viterbi_is_the_best_valid_path(rows) -> None:
    import itertools

    lp = np.array(rows)
    best = max((p for p in itertools.product(range(len(E)), repeat=len(rows)) if _valid(p, E)),
               key=lambda p: sum(lp[i, j] for i, j in enumerate(p)))
    got = viterbi(lp, E)
    assert _valid(tuple(got), E)
    assert sum(lp[i, j] for i, j in enumerate(got)) == pytest.approx(sum(lp[i, j] for i, j in enumerate(best)))


def test_url_is_one_subword_standing_for_the_whole_url(tok) -> None:
    text = "زوروا https://example.com/a?b=1 الآن"
    doc = Document("d", text, [Span(6, 31, "ACTOR")])
    (w,) = encode([doc], tok, SPACE)
    assert tok.convert_ids_to_tokens(w.input_ids)[2] == "[رابط]"
    assert w.char_spans[2].tolist() == [6, 31]
    _, got = round_trip(doc, tok)
    assert got == {(6, 31, "ACTOR")}


def test_a_tokenizer_that_truncates_still_sees_whole_documents(tok) -> None:
    # tokenizer.json may carry truncation (or padding); encode must not cut documents short
    import copy

    text = " ".join(SENTENCES)
    plain = encode([text], tok, SPACE, max_length=8, stride=2)
    truncating = copy.deepcopy(tok)
    truncating.backend_tokenizer.enable_truncation(5)
    got = encode([text], truncating, SPACE, max_length=8, stride=2)
    assert [w.input_ids for w in got] == [w.input_ids for w in plain]
    assert [w.char_spans.tolist() for w in got] == [w.char_spans.tolist() for w in plain]
    assert len(plain) > 3


def test_windows_compare_by_value(tok) -> None:
    a, b = encode(["قال الجيش إن مقاتلين دخلوا حماة"], tok, SPACE), encode(["قال الجيش إن مقاتلين دخلوا حماة"], tok, SPACE)
    assert a == b
    other = encode(["قال الجيش إن مقاتلين دخلوا حمص"], tok, SPACE)
    assert a != other
