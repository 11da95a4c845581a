"""naba.decode's batch path: decode_many and viterbi_many give what one-by-one decoding gives."""

from __future__ import annotations

import numpy as np
import pytest
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
