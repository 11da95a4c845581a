"""naba.predict.Tagger: exact original offsets on hard texts, windows, batching, OOM, loading.

Two models: a tiny random BERT checkpoint (its predictions are arbitrary, so the tests check what
must hold for any prediction), and an "oracle" that tags one vocabulary word as LOCATION wherever
it occurs, so that the expected spans are known exactly.
"""

from __future__ import annotations

import itertools
import random
import re
import weakref
from pathlib import Path
from types import SimpleNamespace

import pytest
import regex
import torch

from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.encode import LabelSpace
from naba.errors import ConfigError, DataError, ModelLoadError
from naba.predict import Tagger
from naba.predict.setup import resolve_device
from naba.predict.tagger import plan_batches

WORD = "حماة"
TRAIN_TEXTS = [
    "أعلن الجيش السوري اليوم أن مقاتلين من المعارضة دخلوا مدينة حماة بعد اشتباكات",
    "قال المرصد السوري إن الفصائل سيطرت على حماة وحلب ودمشق",
    "the army said on Thursday that fighters entered the city 2024",
] * 20


def tiny_checkpoint(root: Path, *, max_length: int = 64, stride: int = 16, scheme: LabelScheme = DEFAULT_SCHEME) -> Path:
    """A 2-layer, 64-wide random BERT checkpoint with both layers (entity, claim) or ``scheme``'s."""
    from naba.model import build_small_model, build_small_tokenizer, save_checkpoint

    tok = build_small_tokenizer(TRAIN_TEXTS, vocab_size=400)
    space = LabelSpace.from_scheme(scheme)
    model = build_small_model(
        space, vocab_size=len(tok), hidden_size=64, num_layers=2, heads=2, intermediate=128, max_position=128
    )
    return save_checkpoint(root / "ckpt", model, tok, space, extra={"max_length": max_length, "stride": stride})


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("tagger"))


@pytest.fixture(scope="session")
def tagger(checkpoint: Path) -> Tagger:
    return Tagger.from_pretrained(checkpoint, device="cpu")


class Oracle(torch.nn.Module):
    """Logits from token ids alone: ``WORD`` is B-LOCATION, everything else O, in every layer."""

    def __init__(self, tokenizer, space: LabelSpace, *, fail_above: int | None = None):
        super().__init__()
        table = torch.full((len(tokenizer), space.num_labels), -10.0)
        for layer in space.layers:
            table[:, space.label2id[f"{layer}:O"]] = 10.0
        word_id = tokenizer.convert_tokens_to_ids(WORD)
        assert word_id != tokenizer.unk_token_id, "the test vocabulary must hold the word whole"
        table[word_id, space.label2id["entity:O"]] = -10.0
        table[word_id, space.label2id["entity:B-LOCATION"]] = 10.0
        self.register_buffer("table", table)
        self.fail_above = fail_above  # padded tokens per batch above which it "runs out of memory"
        self.batches: list[tuple[int, int]] = []

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        self.batches.append(tuple(input_ids.shape))
        if self.fail_above is not None and input_ids.numel() > self.fail_above:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return SimpleNamespace(logits=self.table[input_ids])


def oracle_tagger(tagger: Tagger, *, max_length: int = 16, stride: int = 4, **kw) -> Tagger:
    info = {**tagger.info, "max_length": max_length, "stride": stride}
    model = Oracle(tagger.tokenizer, tagger.space, **kw)
    return Tagger(model, tagger.tokenizer, tagger.space, info, device=torch.device("cpu"), dtype=torch.float32)


ADVERSARIAL = {
    "diacritics": "قَالَ الْجَيْشُ السُّورِيُّ إِنَّ مُقَاتِلِينَ دَخَلُوا حَمَاةَ",
    "tatweel": "قـــال الجيـــش إن مقاتلين دخلوا حمـــاة",
    "emoji": "😀 قال 👍🏽 الجيش 🇸🇾 إن 👨‍👩‍👧 مقاتلين دخلوا",
    "url": "قال الجيش https://example.com/a?b=1 و www.sana.sy و user@mail.com و @naba دخلوا",
    "rlm_lrm": "\u200fقال الجيش\u200e 2024\u200f إن مقاتلين\u200f دخلوا",
    "nbsp": "قال\u00a0الجيش\u00a0السوري\u00a0إن\u202fمقاتلين",
    "zwj_zwnj": "قال\u200dالجيش\u200c السوري\u200b إن",
    "crlf": "قال الجيش\r\nإن مقاتلين\r\n\r\nدخلوا حماة\r\n",
    "tabs": "قال\tالجيش\t\tإن\tمقاتلين",
    "latin": "The army said on Thursday that fighters entered the city.",
    "eastern_digits": "قال الجيش إن ١٢٣ مقاتلا و۴۵ آخرين دخلوا في ٢٠٢٤/١٢/٠٥",
    "html": "قال &amp; الجيش <b>إن</b> مقاتلين < 5 > دخلوا",
    "repeats": "قاااااال الجيش!!!!! إن مقاتلين؟؟؟ دخلوا",
    "one_char": "ق",
    "punct_only": "«،؟!»",
    "presentation_forms": "ﻗﺎﻝ ﺍﻟﺠﻴﺶ ﺇﻥ ﻣﻘﺎﺗﻠﻴﻦ ﺩﺧﻠﻮﺍ ﺣﻤﺎﺓ ﻻ ﷲ ﷺ",
    "empty": "",
    "spaces": " \t\r\n\u00a0 ",
    # characters of several code points that preparation cuts (see naba.decode): NFD Latin, an
    # Arabic Extended-A mark, a keycap, two flags, a ZWJ family, an end-of-ayah sign before a number
    "clusters": "قال Jose\u0301 إن محمد\u08f0 و 1\ufe0f\u20e3 🇸🇦🇪🇬 👨\u200d👩\u200d👧 \u06dd١٢ دخلوا",
}


def check_spans(text: str, spans: list[dict], space: LabelSpace) -> None:
    """What must hold for any prediction: exact, tight, in range, in whole characters (grapheme
    clusters), valid labels, no same-layer overlap."""
    last_end: dict[str, int] = {}
    boundaries = {0} | {m.end() for m in regex.finditer(r"\X", text)}
    for span in sorted(spans, key=lambda s: (s["layer"], s["start"])):
        assert set(span) == {"start", "end", "label", "layer", "text", "score"}
        assert 0 <= span["start"] < span["end"] <= len(text)
        assert span["text"] == text[span["start"] : span["end"]]
        assert not span["text"][0].isspace() and not span["text"][-1].isspace()
        assert span["start"] in boundaries and span["end"] in boundaries, "a span splits a character"
        assert space.layer_of(span["label"]) == span["layer"]
        assert 0.0 <= span["score"] <= 1.0
        assert span["start"] >= last_end.get(span["layer"], 0), "spans of one layer overlap"
        last_end[span["layer"]] = span["end"]


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_random_model_offsets_are_exact(tagger: Tagger, name: str) -> None:
    text = ADVERSARIAL[name]
    spans = tagger(text)
    check_spans(text, spans, tagger.space)
    if not text.strip():
        assert spans == []


def test_a_batch_of_texts_gives_the_same_spans_as_one_at_a_time(tagger: Tagger) -> None:
    texts = [ADVERSARIAL[k] for k in sorted(ADVERSARIAL)]
    together = tagger(texts, batch_size=3)
    assert together == [tagger(t) for t in texts]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"دخلوا {WORD}", [WORD]),
        ("دخلوا حَمَاةَ اليوم", ["حَمَاةَ"]),
        ("دخلوا حمـــاة اليوم", ["حمـــاة"]),
        (f"😀{WORD} 👍🏽 {WORD}", [WORD, WORD]),
        (f"https://x.com/a?b={WORD} ثم {WORD}", [WORD, WORD]),
        (f"https://x.com/a?b=1 ثم {WORD}", [WORD]),
        (f"قال\u00a0{WORD}\u00a0و{WORD}", [WORD]),
        (f"\u200fقال {WORD}\r\n\t{WORD}\r\n", [WORD, WORD]),
        ("١٢ حماة ٣٤", [WORD]),
        ("دخلوا ﺣﻤﺎﺓ اليوم", ["ﺣﻤﺎﺓ"]),  # in presentation forms (PDF text): found, mapped back
        # a mark naba does not delete (a space once prepared) stays with the letter it sits on
        (f"دخلوا {WORD}\u08f0 اليوم", [f"{WORD}\u08f0"]),
        (f"دخلوا {WORD}\u08d3\u08f0 و{WORD}", [f"{WORD}\u08d3\u08f0"]),
        ("The army entered Hama", []),
        ("", []),
        (" \r\n ", []),
        # a lone surrogate (a JSON "\\ud800" escape) is no character: a separator, the offsets unmoved
        (f"\ud800{WORD} قال\udc00 {WORD}", [WORD, WORD]),
    ],
)
def test_oracle_spans_land_exactly_on_the_word(tagger: Tagger, text: str, expected: list[str]) -> None:
    spans = oracle_tagger(tagger)(text)
    check_spans(text, spans, tagger.space)
    assert [s["text"] for s in spans] == expected
    assert all(s["label"] == "LOCATION" for s in spans)


def test_long_document_through_overlapping_windows_finds_every_occurrence(tagger: Tagger) -> None:
    rng = random.Random(5)
    words = "قال الجيش السوري إن مقاتلين دخلوا المدينة بعد اشتباكات".split()
    tokens = [WORD if rng.random() < 0.05 else rng.choice(words) for _ in range(20_000)]
    text = " ".join(tokens)
    oracle = oracle_tagger(tagger, max_length=32, stride=8)
    spans = oracle(text)
    expected = []
    pos = 0
    for token in tokens:
        if token == WORD:
            expected.append((pos, pos + len(WORD)))
        pos += len(token) + 1
    assert [(s["start"], s["end"]) for s in spans] == expected
    assert len(oracle.model.batches) > 1  # really cut into windows and batches
    check_spans(text, tagger(text), tagger.space)  # and the random model on the same 20,000 words


def test_documents_in_one_chunk_share_batches_and_keep_their_order(tagger: Tagger) -> None:
    texts = [" ".join([WORD] * n) for n in (1, 40, 3, 0, 12)]
    oracle = oracle_tagger(tagger, max_length=16, stride=4)
    out = oracle(texts, batch_tokens=10_000)
    assert [len(s) for s in out] == [1, 40, 3, 0, 12]
    # every window of every document went through one forward pass, padded to the longest
    assert len(oracle.model.batches) == 1


def test_out_of_memory_halves_the_batch_and_gives_the_same_spans(tagger: Tagger) -> None:
    texts = [" ".join([WORD, "قال"] * n) for n in (5, 30, 2, 17)]
    plain = oracle_tagger(tagger)(texts, batch_tokens=4096)
    failing = oracle_tagger(tagger, fail_above=40)
    assert failing(texts, batch_tokens=4096) == plain
    assert max(r * c for r, c in failing.model.batches[-1:]) <= 40
    assert failing._budget_cap is not None and failing._budget_cap < 4096


@pytest.mark.parametrize(
    ("counts", "budget", "fail_above", "errors"),
    [
        ((5, 30, 2, 17), 64, 32, 1),  # three batches of 4 x 16 planned: each failed in turn
        ((5, 30, 2, 17), 96, 40, 2),  # 6 x 16 fails, then its first half (3 x 16); the second is cut
        ((40,), 160, 60, 2),  # 8 x 16, then 4 x 16; the other 4 x 16 half is cut, not tried
    ],
)
def test_batches_planned_before_an_out_of_memory_error_are_cut_to_the_lowered_budget(
    tagger: Tagger, counts: tuple[int, ...], budget: int, fail_above: int, errors: int
) -> None:
    # the comment said later batches get the smaller budget, but a chunk's batches are planned
    # at once: every one planned at the old budget ran out of memory again
    texts = [" ".join([WORD, "قال"] * n) for n in counts]
    plain = oracle_tagger(tagger)(texts, batch_tokens=budget)
    failing = oracle_tagger(tagger, fail_above=fail_above)
    assert failing(texts, batch_tokens=budget) == plain
    assert sum(rows * width > fail_above for rows, width in failing.model.batches) == errors


class Hoarder(Oracle):
    """The oracle, holding a tensor in its forward (as a model holds its activations): ``alive``
    counts, at each call, the tensors of earlier calls still held by someone."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.held: list[weakref.ref] = []
        self.alive: list[int] = []

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        self.alive.append(sum(ref() is not None for ref in self.held))
        activations = torch.empty(input_ids.shape)
        self.held.append(weakref.ref(activations))
        return super().forward(input_ids, attention_mask)


@pytest.mark.parametrize(
    ("counts", "fail_above"),
    [
        ((5, 30, 2, 17), 40),  # halved three levels deep
        ((30,), 64),  # one halving
    ],
)
def test_the_halves_of_a_batch_that_ran_out_of_memory_run_without_its_activations(
    tagger: Tagger, counts: tuple[int, ...], fail_above: int
) -> None:
    # the halves were run inside the except clause, whose error's traceback held the failed
    # forward's frames and their tensors: on a GPU the retries had that much less memory
    texts = [" ".join([WORD, "قال"] * n) for n in counts]
    plain = oracle_tagger(tagger)(texts, batch_tokens=4096)
    hoarding = oracle_tagger(tagger)
    hoarding.model = Hoarder(tagger.tokenizer, tagger.space, fail_above=fail_above)
    assert hoarding(texts, batch_tokens=4096) == plain
    assert len(hoarding.model.alive) > 2  # it did run out of memory and retry
    assert hoarding.model.alive == [0] * len(hoarding.model.alive)


def test_a_single_window_that_runs_out_of_memory_raises(tagger: Tagger) -> None:
    with pytest.raises(torch.OutOfMemoryError):
        oracle_tagger(tagger, fail_above=1)(WORD)


@pytest.mark.parametrize(
    ("lengths", "budget", "size", "expected"),
    [
        ([], 100, None, []),
        ([5, 50, 10, 50], 100, None, [[1, 3], [2, 0]]),
        ([5, 50, 10, 50], 1000, None, [[1, 3, 2, 0]]),
        ([5, 50, 10, 50], 1000, 2, [[1, 3], [2, 0]]),
        ([300, 4], 100, None, [[0], [1]]),  # longer than the budget: a batch of its own
        ([8, 8, 8], 16, None, [[0, 1], [2]]),
    ],
)
def test_plan_batches(lengths: list[int], budget: int, size: int | None, expected: list[list[int]]) -> None:
    assert plan_batches(lengths, batch_tokens=budget, batch_size=size) == expected


# A named tuple with a text field is read by its name: as an (id, text) pair, a row of a frame
# with columns (text, id) from DataFrame.itertuples(index=False) tagged the id "doc-7"
@pytest.mark.parametrize(
    "fields", [("text", "id"), ("id", "text"), ("text", "source", "id"), ("Index", "text")], ids=lambda f: ",".join(f)
)
def test_tag_documents_reads_a_named_tuple_by_its_text_field(tagger: Tagger, fields: tuple[str, ...]) -> None:
    from collections import namedtuple

    text = f"دخلوا {WORD}"
    row = namedtuple("Row", fields)(*(text if f == "text" else "doc-7" for f in fields))
    oracle = oracle_tagger(tagger)
    [(item, spans)] = list(oracle.tag_documents([row]))
    assert item is row
    assert [s["text"] for s in spans] == [WORD]


def test_tag_documents_streams_items_with_their_spans(tagger: Tagger) -> None:
    items = ((f"id{i}", f"{WORD} {i}") for i in range(7))
    out = list(oracle_tagger(tagger).tag_documents(items, chunk_docs=3))
    assert [item[0] for item, _ in out] == [f"id{i}" for i in range(7)]
    assert all(spans[0]["text"] == WORD for _, spans in out)


def test_tag_documents_reads_its_items_on_the_callers_thread(tagger: Tagger) -> None:
    # the items were read, and their texts taken, on the background thread that encodes: a sqlite3
    # cursor raised "SQLite objects created in a thread can only be used in that same thread"
    import sqlite3
    import threading

    con = sqlite3.connect(":memory:")
    con.execute("create table docs (id text, body text)")
    con.executemany("insert into docs values (?, ?)", [(f"id{i}", f"{WORD} {i}") for i in range(7)])
    threads = set()

    def body(row: tuple[str, str]) -> str:
        threads.add(threading.get_ident())
        return row[1]

    out = list(oracle_tagger(tagger).tag_documents(con.execute("select id, body from docs"), chunk_docs=3, text=body))
    assert [item[0] for item, _ in out] == [f"id{i}" for i in range(7)]
    assert all(spans[0]["text"] == WORD for _, spans in out)
    assert threads == {threading.get_ident()}


def test_a_bad_item_is_raised_once_the_chunks_before_it_are_handed_on(tagger: Tagger) -> None:
    items = [f"{WORD} {i}" for i in range(7)] + [None]
    results = oracle_tagger(tagger).tag_documents(iter(items), chunk_docs=3)
    assert [item for item, _ in itertools.islice(results, 6)] == items[:6]
    with pytest.raises(DataError, match=r"item 7 \(None\)"):
        next(results)


def test_bf16_on_cpu_on_request(checkpoint: Path) -> None:
    tagger = Tagger.from_pretrained(checkpoint, device="cpu", dtype="bf16")
    assert next(tagger.model.parameters()).dtype == torch.bfloat16
    text = ADVERSARIAL["emoji"] + " " + ADVERSARIAL["diacritics"]
    check_spans(text, tagger(text), tagger.space)


@pytest.mark.parametrize(
    ("dtype", "fast_path", "onednn_bf16", "onednn_fp16", "warned"),
    [
        ("bf16", None, False, False, False),  # the fused encoder computes bf16 through fp32 kernels
        ("bf16", False, False, False, True),  # transformers' forward: PyTorch's emulated bf16 products
        ("bf16", False, True, False, False),  # a CPU with bf16 instructions
        ("fp16", None, True, False, True),  # fp16 never takes the fused encoder
        ("fp16", None, True, True, False),  # a CPU with fp16 instructions (AVX512-FP16, AMX-FP16)
        ("fp32", False, False, False, False),
    ],
)
def test_a_dtype_this_cpu_only_emulates_is_warned_of(
    checkpoint: Path, dtype, fast_path, onednn_bf16: bool, onednn_fp16: bool, warned: bool,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    import naba.model
    from naba.predict import fastpath

    monkeypatch.setattr(fastpath, "onednn_takes_bf16", lambda: onednn_bf16)
    monkeypatch.setattr(naba.model, "cpu_takes_fp16", lambda: onednn_fp16)
    with caplog.at_level("WARNING", logger="naba.predict.tagger"):
        tagger = Tagger.from_pretrained(checkpoint, device="cpu", dtype=dtype, fast_path=fast_path)
    messages = [r.getMessage() for r in caplog.records if r.name == "naba.predict.tagger"]
    assert (tagger.fast is not None) == (fast_path is None and dtype == "bf16")
    if warned:
        assert len(messages) == 1 and messages[0].startswith(f"{dtype} on this CPU: it has no {dtype} matrix")
        assert "use dtype fp32" in messages[0]
    else:
        assert messages == []


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        ("float64", "unknown dtype 'float64'"),
        (16, "unknown dtype 16"),
        (torch.int8, "dtype torch.int8 is not a floating-point type"),
        (torch.bool, "dtype torch.bool is not a floating-point type"),
    ],
)
def test_an_unusable_dtype_is_a_value_error_before_the_model_loads(tmp_path: Path, dtype, message: str) -> None:
    # before, 16 was an AttributeError ('int' object has no attribute 'lower') and torch.int8 a
    # TypeError from model.to(), once the model was loaded; the folder here holds no model at all
    with pytest.raises(ValueError, match=message):
        Tagger.from_pretrained(tmp_path, device="cpu", dtype=dtype)


@pytest.mark.parametrize(
    ("device", "capabilities", "expected"),
    [
        ("cuda", [(8, 0)], torch.bfloat16),  # A100
        ("cuda", [(9, 0)], torch.bfloat16),  # H100
        ("cuda", [(7, 5)], torch.float16),  # T4: torch says bf16 is supported, by emulation
        ("cuda", [(7, 0)], torch.float16),  # V100: the same
        ("cuda:1", [(9, 0), (7, 0)], torch.float16),  # the GPU asked for, not the current one
        ("cuda:1", [(7, 0), (8, 6)], torch.bfloat16),
    ],
)
def test_the_default_gpu_dtype_is_bf16_where_the_asked_gpu_has_it_in_hardware(
    device: str, capabilities: list[tuple[int, int]], expected: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    from naba.predict.setup import resolve_dtype

    # torch's own is_bf16_supported runs, on these GPUs, with GPU 0 the current one; a bf16 tensor
    # can be made on every one of them (emulated below compute capability 8.0)
    def index(d=None) -> int:
        if d is None or isinstance(d, int):
            return d or 0
        return torch.device(d).index or 0

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: capabilities[index(d)])
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda d=None: SimpleNamespace(major=capabilities[index(d)][0]))
    monkeypatch.setattr(torch.cuda, "_check_bf16_tensor_supported", lambda d: True, raising=False)
    assert resolve_dtype(None, torch.device(device)) == expected
    assert resolve_dtype("fp32", torch.device(device)) == torch.float32  # as asked, whatever the GPU


@pytest.mark.parametrize(
    ("dtype", "capability", "warned"),
    [
        (torch.bfloat16, (7, 5), True),  # T4: bf16 runs, emulated, without a word
        (torch.bfloat16, (8, 0), False),  # A100
        (torch.float16, (7, 5), False),
        (torch.float32, (7, 0), False),
    ],
)
def test_bf16_asked_for_on_a_gpu_without_it_is_warned_of(
    tagger: Tagger, dtype: torch.dtype, capability: tuple[int, int], warned: bool,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: capability)
    monkeypatch.setattr(torch.version, "hip", None)
    with caplog.at_level("WARNING", logger="naba.predict.tagger"):
        Tagger(Oracle(tagger.tokenizer, tagger.space), tagger.tokenizer, tagger.space, tagger.info,
               device=torch.device("cuda:1"), dtype=dtype)
    messages = [r.getMessage() for r in caplog.records if r.name == "naba.predict.tagger"]
    if warned:
        assert messages == ["bf16 on cuda:1: this GPU (compute capability 7.5) has no bf16 hardware, so its bf16 "
                            "products are emulated, far slower than fp16; use dtype fp16 (the default on such GPUs)"]
    else:
        assert messages == []


def test_run_folder_uses_best(checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "best").symlink_to(checkpoint, target_is_directory=True)
    assert Tagger.from_pretrained(tmp_path / "run").space == LabelSpace.from_scheme(DEFAULT_SCHEME)


@pytest.mark.parametrize("name", ["hub id", "snapshot folder"])
def test_a_hugging_face_cache_whose_files_link_out_of_the_folder_loads(
    checkpoint: Path, tmp_path: Path, monkeypatch, name: str
) -> None:
    # the cache's layout: snapshots/REV/FILE -> ../../blobs/HASH; naba.model follows the links
    import hashlib
    import shutil

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    repo, rev = tmp_path / "models--naba-test--cached", "0" * 40
    snapshot = repo / "snapshots" / rev
    for folder in (repo / "refs", repo / "blobs", snapshot):
        folder.mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    for file in checkpoint.iterdir():
        blob = hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copy(file, repo / "blobs" / blob)
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", blob))
    tagger = Tagger.from_pretrained("naba-test/cached" if name == "hub id" else snapshot, device="cpu")
    assert tagger.space == LabelSpace.from_scheme(DEFAULT_SCHEME)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("folder", "not a naba checkpoint"),
        ("file.txt", "not a file"),
        ("no-such-org/no-such-naba-model", "cannot load 'no-such-org/no-such-naba-model'"),
        # None was pathlib's TypeError; "" (an unset $MODEL) searched the current folder
        (None, "a model is a run folder, a checkpoint folder or a hub id, got None"),
        ("", "got ''"),
        ("  ", "got '  '"),
    ],
)
def test_unloadable_models_are_model_load_errors(tmp_path: Path, name: str | None, message: str, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("x")
    target = tmp_path / name if name in ("folder", "file.txt") else name
    with pytest.raises(ModelLoadError, match=message):
        Tagger.from_pretrained(target)


@pytest.mark.parametrize(
    ("device", "gpus", "message"),
    [
        ("gpu", 0, "unknown device 'gpu'; use cpu, cuda or cuda:N"),
        ("cuda", 0, "device 'cuda': no CUDA GPU is available"),
        ("cuda:1", 0, "device 'cuda:1': no CUDA GPU is available"),
        ("cuda:1", 1, r"device 'cuda:1': there are 1 CUDA GPU\(s\)"),
    ],
)
def test_unusable_devices_are_config_errors(
    checkpoint: Path, device: str, gpus: int, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `naba predict --device cuda` on a machine without CUDA printed torch's AssertionError traceback
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    with pytest.raises(ConfigError, match=message):
        Tagger.from_pretrained(checkpoint, device=device)


# torch knows these names, but a build without them (mps off a Mac, xpu) raised torch's
# RuntimeError or AssertionError from model.to(), and meta made a Tagger that failed on every text
@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("mps", "device 'mps' is not available to torch"),
        (torch.device("mps"), "device 'mps' is not available to torch"),
        ("xpu", "device 'xpu' is not available to torch"),
        ("meta", "device 'meta' is not available to torch"),
    ],
)
def test_devices_this_torch_cannot_run_on_are_config_errors(
    checkpoint: Path, device, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    if hasattr(torch, "xpu"):
        monkeypatch.setattr(torch.xpu, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=message):
        Tagger.from_pretrained(checkpoint, device=device)


@pytest.mark.parametrize(
    ("device", "expected"),
    [("cpu", torch.device("cpu")), (torch.device("cpu"), torch.device("cpu")), (None, torch.device("cpu"))],
)
def test_usable_devices_resolve(device, expected: torch.device, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(device) == expected


def test_non_string_text_is_a_data_error(tagger: Tagger) -> None:
    with pytest.raises(DataError, match="text must be a str, got NoneType"):
        tagger(["ok", None])
    with pytest.raises(DataError, match="text must be a str, got int"):
        list(tagger.tag_documents([("a", "ok"), ("b", 5)]))


# What a notebook user passes by mistake. Before, None and 5 were "'NoneType' object is not
# iterable", bytes were iterated into ints ("item 217: got int"), and a dict was iterated into its
# keys: {"text": ...} tagged the word "text" and returned its spans without a word of warning.
@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (None, "texts must be a str or an iterable of str, got NoneType"),
        (5, "texts must be a str or an iterable of str, got int"),
        (WORD.encode(), r"got bytes: decode it first"),
        (bytearray(WORD.encode()), r"got bytearray: decode it first"),
        ({"text": WORD}, r"got dict: pass list\(d.values\(\)\), or tag_documents\(d.items\(\)\)"),
    ],
)
def test_a_wrong_argument_is_a_type_error_saying_what_to_pass(tagger: Tagger, texts, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        tagger(texts)


# Iterated, a DataFrame gives its column names: tagger(df) tagged the word "text" and returned
# [spans of "text"] for a frame of any length, without a word of warning.
@pytest.mark.parametrize("columns", [{"text": [WORD, "قال الجيش"]}, {"id": ["a"], "text": [WORD]}], ids=["one", "two"])
@pytest.mark.parametrize("call", [lambda t, df: t(df), lambda t, df: t.tag_documents(df)], ids=["call", "stream"])
def test_a_dataframe_is_a_type_error_saying_to_pass_a_column(tagger: Tagger, columns: dict, call) -> None:
    df = pytest.importorskip("pandas").DataFrame(columns)
    with pytest.raises(TypeError, match=r"got DataFrame: pass one column, df\['text'\]"):
        call(tagger, df)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (WORD, r"not a str \(its characters\): tagger\(text\) tags one text"),  # tagged letter by letter
        (None, "items must be a str or an iterable of str, got NoneType"),
        (WORD.encode(), "got bytes: decode it first"),
        ({"a": WORD}, r"got dict: .*tag_documents\(d.items\(\)\)"),
    ],
)
def test_tag_documents_checks_its_argument_when_called(tagger: Tagger, items, message: str) -> None:
    # raised by the call itself, not by the first next() on the stream, which may be far away
    with pytest.raises(TypeError, match=message):
        tagger.tag_documents(items)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["ok", None], [r"item 1 \(None\): text must be a str, got NoneType \(a missing text\?\)"]),
        (["ok", float("nan")], [r"item 1 \(nan\): text must be a str, got float \(a missing text\?\)"]),
        ([b"ok"], [r"item 0 \(b'ok'\): text must be a str, got bytes: decode it first"]),
        ([{"text": "ok"}], [r"item 0 \(\{'text': 'ok'\}\): text must be a str, got dict"]),
        # tag_documents reads (id, text) pairs and objects with .text; tagger(...) takes str alone: a
        # (text, id) pair, as zip(texts, ids) makes, was tagged as its id, and a pair or a Document
        # gave spans in the offsets of a text the caller never passed
        ([(WORD, "id-1")], [r"item 0 \(\('.*', 'id-1'\)\): text must be a str, got tuple"]),
        ([("id-1", WORD)], [r"item 0 \(.*\): text must be a str, got tuple"]),
        ([SimpleNamespace(text=WORD)], [r"item 0 \(namespace\(.*\)\): text must be a str, got SimpleNamespace"]),
        # every bad item, each by its index, not only the first
        ([None, "ok", 7, "ok", None], [r"item 0 \(None\)", r"item 2 \(7\): .*got int", r"item 4 \(None\)"]),
    ],
)
def test_items_that_are_not_texts_are_named_by_index_before_any_is_tagged(
    tagger: Tagger, texts: list, expected: list[str]
) -> None:
    oracle = oracle_tagger(tagger)
    with pytest.raises(DataError) as caught:
        oracle([f"{WORD} {i}" for i in range(300)] + texts)  # past the first chunk of 256
    found = [str(p) for p in caught.value.problems]
    assert len(found) == len(expected)
    for problem, pattern in zip(found, expected, strict=True):
        # the cases count from their own start: 300 good texts come before them
        assert re.search(re.sub(r"item (\d+)", lambda m: f"item {int(m.group(1)) + 300}", pattern), problem), problem
    assert oracle.model.batches == []  # nothing went through the model first


@pytest.mark.parametrize("workers", [0, 1])
def test_tag_documents_names_a_bad_item_by_its_index_in_the_stream(tagger: Tagger, workers: int) -> None:
    items = [f"{WORD} {i}" for i in range(7)] + [None]
    with pytest.raises(DataError, match=r"item 7 \(None\)"):
        list(oracle_tagger(tagger).tag_documents(iter(items), chunk_docs=3, workers=workers))


# batch_size=0 or a negative one ran one window a batch without a word, and chunk_docs=0 read no
# chunk at all: tagger([...]) returned [] and tagger(text) an IndexError
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t([WORD], batch_size=0), "batch_size must be a whole number, 1 or more"),
        (lambda t: t([WORD], batch_size=-1), "batch_size .* not -1"),
        (lambda t: t([WORD], batch_size=2.5), "batch_size .* not 2.5"),
        (lambda t: t([WORD], batch_size=True), "batch_size .* not True"),
        (lambda t: t(WORD, batch_tokens=0), "batch_tokens must be a whole number, 1 or more"),
        (lambda t: t.tag_documents([WORD], chunk_docs=0), "chunk_docs must be a whole number, 1 or more"),
        (lambda t: t.tag_documents([WORD], workers=-1), "workers must be a whole number, 0 or more"),
        (lambda t: Tagger(t.model, t.tokenizer, t.space, t.info, device=t.device, dtype=t.dtype, chunk_docs=0),
         "chunk_docs .* not 0"),
        # checked before the model is loaded: the folder does not exist
        (lambda t: Tagger.from_pretrained("no/such/folder", chunk_docs=0), "chunk_docs .* not 0"),
        (lambda t: Tagger.from_pretrained("no/such/folder", workers=True), "workers must be a count .* not True"),
    ],
)
def test_a_count_below_one_is_a_value_error_naming_it(tagger: Tagger, call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(tagger)


# fast_path=0 or "off" ran the fast path: only False turned it off
@pytest.mark.parametrize(
    ("call", "message"),
    [
        # checked before the model is loaded: the folder does not exist
        (lambda t: Tagger.from_pretrained("no/such/folder", fast_path=0), "fast_path must be True, False or None, not 0"),
        (lambda t: Tagger.from_pretrained("no/such/folder", fast_path="off"), "fast_path .* not 'off'"),
        (lambda t: Tagger(t.model, t.tokenizer, t.space, t.info, device=t.device, dtype=t.dtype, fast_path=0),
         "fast_path .* not 0"),
    ],
)
def test_a_fast_path_that_is_not_a_bool_is_a_value_error(tagger: Tagger, call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(tagger)


def test_counts_that_are_numpy_integers_or_huge_are_fine(tagger: Tagger) -> None:
    import numpy as np

    texts = [ADVERSARIAL["diacritics"], ADVERSARIAL["emoji"]]
    expected = tagger(texts)
    assert tagger(texts, batch_size=np.int64(1)) == expected
    assert tagger(texts, batch_size=10**9, batch_tokens=10**9) == expected


# None is "the default" for every count the Tagger checks; workers=None passed the check and then
# failed every call with "'>' not supported between instances of 'NoneType' and 'int'"
@pytest.mark.parametrize("options", [{"workers": None}, {"chunk_docs": None}, {"batch_tokens": None}])
def test_counts_left_as_none_are_the_defaults(tagger: Tagger, options: dict) -> None:
    made = Tagger(tagger.model, tagger.tokenizer, tagger.space, tagger.info, device=tagger.device, dtype=tagger.dtype,
                  **options)
    texts = [ADVERSARIAL["diacritics"], ADVERSARIAL["emoji"]]
    assert made(texts) == tagger(texts)
    assert (made.workers, made.chunk_docs, made.batch_tokens) == (0, tagger.chunk_docs, tagger.batch_tokens)


@pytest.mark.parametrize(("dtype", "count"), [("int64", 0), ("int32", 2)])
def test_from_pretrained_takes_workers_as_a_numpy_integer(checkpoint: Path, dtype: str, count: int) -> None:
    # workers=np.int64(2) was "ValueError: workers must be a count (0 or more) or 'auto', not np.int64(2)"
    import numpy as np

    made = Tagger.from_pretrained(checkpoint, device="cpu", workers=np.dtype(dtype).type(count))
    assert made.workers == count and type(made.workers) is int


def test_repr_names_the_model_device_dtype_and_layers(checkpoint: Path, tagger: Tagger) -> None:
    # was <naba.predict.tagger.Tagger object at 0x...>, which says nothing in a notebook
    shown = repr(tagger)
    assert shown.startswith(f"Tagger({str(checkpoint)!r}, device='cpu', dtype=float32, ")
    assert "layers={'entity': ('ACTOR', 'LOCATION'), 'claim': ('CLAIM',)}" in shown
    assert repr(oracle_tagger(tagger)).startswith("Tagger('Oracle', ")


@pytest.mark.parametrize(
    "make",
    [
        tuple,
        lambda texts: (t for t in texts),
        lambda texts: __import__("numpy").array(texts),
        lambda texts: [type("Sub", (str,), {})(t) for t in texts],
        lambda texts: pytest.importorskip("pandas").Series(texts, index=range(10, 10 + len(texts))),
    ],
    ids=["tuple", "generator", "numpy", "str_subclass", "pandas"],
)
def test_any_iterable_of_texts_gives_what_a_list_gives(tagger: Tagger, make) -> None:
    texts = [ADVERSARIAL[k] for k in ("diacritics", "empty", "emoji", "diacritics")]
    assert tagger(make(texts)) == tagger(texts)


def test_spans_are_plain_json_in_the_documented_order(tagger: Tagger) -> None:
    import json

    text = " ".join(ADVERSARIAL[k] for k in ("diacritics", "url", "eastern_digits", "latin"))
    spans = tagger(text) + oracle_tagger(tagger)(text)
    assert spans
    for span in spans:
        assert [type(span[k]) for k in ("start", "end", "label", "layer", "text", "score")] == [
            int, int, str, str, str, float
        ]
        assert 0.0 <= span["score"] <= 1.0
    assert json.loads(json.dumps(spans)) == spans
    found = tagger(text)
    assert found == sorted(found, key=lambda s: (s["start"], -s["end"], s["layer"], s["label"]))


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_the_tagger_is_usable_after_an_interrupt_part_way_through(tagger: Tagger, error: type) -> None:
    import threading

    oracle = oracle_tagger(tagger)
    texts = [" ".join([WORD, "قال"] * n) for n in range(1, 40)]
    expected = oracle(texts)
    forward = oracle.model.forward

    def interrupted(*args, **kw):
        if len(oracle.model.batches) == 2:
            raise error("part way through")
        return forward(*args, **kw)

    oracle.model.forward = interrupted
    with pytest.raises(error):
        oracle(texts, batch_size=2)
    oracle.model.forward = forward
    assert oracle(texts, batch_size=2) == expected
    assert not [t for t in threading.enumerate() if t.name.startswith("naba-encode")]


@pytest.mark.parametrize("fast", [True, False], ids=["fused", "transformers"])
def test_threads_sharing_one_tagger_get_what_each_would_get_alone(checkpoint: Path, fast: bool) -> None:
    # a web service holds one Tagger and calls it from several request threads at once
    import threading

    shared = Tagger.from_pretrained(checkpoint, device="cpu", fast_path=fast)
    texts = list(ADVERSARIAL.values())
    jobs = [[" ".join(texts[(k + j) % len(texts) :]) for j in range(8)] for k in range(4)]
    calls = [
        lambda job: shared(job),
        lambda job: shared(job[0]),
        lambda job: list(shared.tag_documents(enumerate(job), chunk_docs=3)),
    ]
    alone = [[call(job) for call in calls] for job in jobs]
    together: list[list] = [[] for _ in jobs]
    start = threading.Barrier(len(jobs))

    def caller(k: int) -> None:
        try:
            for call in calls:
                start.wait(timeout=60)  # all threads in the same kind of call at once
                together[k].append(call(jobs[k]))
        except Exception as exc:  # shown by the assert; the other threads stop waiting for this one
            together[k].append(exc)
            start.abort()

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert together == alone
