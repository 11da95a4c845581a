"""naba.model: tokenizer and model building, offline loading errors, layered loss, checkpoints."""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import stat
import threading

import pytest
import torch
import torch.nn.functional as F

from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.encode import IGNORE, LabelSpace, encode
from naba.errors import ConfigError, ModelLoadError
from naba.model import (
    NEVER_SPLIT,
    arabert_shape_config,
    build_small_model,
    build_small_tokenizer,
    layered_loss,
    load_checkpoint,
    load_model,
    load_tokenizer,
    position_limit,
    save_checkpoint,
)

SPACE = LabelSpace.from_scheme(DEFAULT_SCHEME)
TEXTS = [
    "أعلن الجيش السوري اليوم الخميس أن مقاتلين من المعارضة دخلوا مدينة حماة.",
    "قال المرصد السوري لحقوق الإنسان إن الاشتباكات مستمرة في Hama منذ 3 أيام.",
    "زوروا https://example.com أو راسلوا @naba_news للمزيد.",
]


@pytest.fixture(scope="module")
def tok():
    return build_small_tokenizer(TEXTS * 2, vocab_size=300)


@pytest.fixture(scope="module")
def tiny(tok):
    return build_small_model(SPACE, vocab_size=len(tok), hidden_size=32, num_layers=2, heads=2, intermediate=64)


# --- tokenizer ----------------------------------------------------------------------------------


def test_small_tokenizer_has_arabert_settings(tok, tmp_path) -> None:
    for token in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *NEVER_SPLIT]:
        assert tok.convert_tokens_to_ids(token) != tok.unk_token_id or token == "[UNK]"
    assert tok.is_fast and tok.model_max_length == 512
    # never_split tokens stay whole; Latin case is kept (do_lower_case false)
    pieces = tok.convert_ids_to_tokens(tok("زوروا [رابط] Hama", add_special_tokens=False)["input_ids"])
    assert "[رابط]" in pieces and any("H" in p for p in pieces)
    ids = tok("مدينة حماة")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    tok.save_pretrained(tmp_path)
    again = load_tokenizer(str(tmp_path))
    for text in TEXTS:
        assert again(text)["input_ids"] == tok(text)["input_ids"]


def arabert_style_folder(folder, vocab: list[str]) -> str:
    """A tokenizer folder as aubmindlab/bert-base-arabertv02 ships it: vocab.txt, its
    tokenizer_config.json (never_split) and config.json, no tokenizer.json."""
    folder.mkdir(exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *vocab]) + "\n",
                                      encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "do_lower_case": False, "strip_accents": None, "tokenize_chinese_chars": True,
        "never_split": list(NEVER_SPLIT), "max_len": 512}, ensure_ascii=False), encoding="utf-8")
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 64000}), encoding="utf-8")
    return str(folder)


@pytest.mark.parametrize(
    ("vocab", "never_split", "text", "pieces"),
    [
        # AraBERT's vocabulary holds [رابط]: kept whole, with the vocabulary's id, as AraBERT saw it
        (["زوروا", "[رابط]", "[", "]", "رابط", "الان"], True, "زوروا [رابط] الان", ["زوروا", "[رابط]", "الان"]),
        (["[بريد]", "[مستخدم]", "[", "]", "بريد", "راسلوا"], True, "راسلوا [بريد] [مستخدم]",
         ["راسلوا", "[بريد]", "[مستخدم]"]),
        # as the files say (transformers' fast tokenizer ignores never_split)
        (["زوروا", "[رابط]", "[", "]", "رابط", "الان"], False, "زوروا [رابط] الان",
         ["زوروا", "[", "رابط", "]", "الان"]),
        # a vocabulary without it: nothing is added, the brackets are cut off as before
        (["زوروا", "[", "]", "رابط", "الان"], True, "زوروا [رابط] الان", ["زوروا", "[", "رابط", "]", "الان"]),
    ],
)
def test_never_split_tokens_are_kept_whole(tmp_path, vocab, never_split, text, pieces) -> None:
    name = arabert_style_folder(tmp_path / "base", vocab)
    tokenizer = load_tokenizer(name, never_split=never_split)
    assert len(tokenizer) == len(vocab) + 5
    got = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert tokenizer.convert_ids_to_tokens(got["input_ids"]) == pieces
    assert all(i < len(vocab) + 5 for i in got["input_ids"])
    assert [text[a:b] for a, b in got["offset_mapping"]] == pieces
    # saved with a run and loaded as the run was trained, it tokenizes the same
    tokenizer.save_pretrained(tmp_path / "run")
    again = load_tokenizer(str(tmp_path / "run"), never_split=False)
    assert again(text)["input_ids"] == tokenizer(text)["input_ids"]


# --- models -------------------------------------------------------------------------------------


def test_small_model_is_seeded_without_touching_global_rng() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_small_model(SPACE, vocab_size=50, hidden_size=16, num_layers=1, heads=2, intermediate=32, seed=7)
    assert torch.rand(1) == before
    b = build_small_model(SPACE, vocab_size=50, hidden_size=16, num_layers=1, heads=2, intermediate=32, seed=7)
    c = build_small_model(SPACE, vocab_size=50, hidden_size=16, num_layers=1, heads=2, intermediate=32, seed=8)
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    assert a.config.id2label == SPACE.id2label and a.num_labels == 8


def test_arabert_shape_config() -> None:
    config = arabert_shape_config(SPACE)
    shape = (config.num_hidden_layers, config.hidden_size, config.num_attention_heads,
             config.intermediate_size, config.vocab_size, config.max_position_embeddings)
    assert shape == (12, 768, 12, 3072, 64000, 512)
    assert config.id2label == SPACE.id2label


# --- loss ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ignore",
    [
        "none",
        "special",  # [CLS]/[SEP]-like positions ignored in every layer
        "claim-all",  # one layer has no labelled token: it adds 0
    ],
)
def test_layered_loss_is_sum_of_layer_cross_entropies(ignore: str) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, SPACE.num_labels, generator=g, requires_grad=True)
    labels = torch.stack([torch.randint(0, 5, (2, 6), generator=g), torch.randint(0, 3, (2, 6), generator=g)], -1)
    if ignore == "special":
        labels[:, 0] = labels[:, -1] = IGNORE
    if ignore == "claim-all":
        labels[..., 1] = IGNORE
    expected = torch.zeros(())
    for k, layer in enumerate(SPACE.layers):
        target = labels[..., k].reshape(-1)
        if (target != IGNORE).any():
            part = logits[..., SPACE.slices[layer]].reshape(-1, len(SPACE.tags(layer)))
            expected = expected + F.cross_entropy(part, target, ignore_index=IGNORE)
    loss = layered_loss(logits, labels, SPACE)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(
    ("micro", "claimless"),
    [
        ([[0, 1, 2], [3]], ()),  # ragged: 3 windows and 1, of other lengths
        ([[0], [1], [2, 3]], ()),
        ([[0, 1], [2, 3]], (2, 3)),  # the claim layer has no label in the second micro-batch
        ([[0, 2], [1, 3]], (0, 1, 2, 3)),  # nor anywhere in the group: it adds 0, not NaN
    ],
)
def test_layered_loss_with_the_groups_counts_adds_up_to_the_union(micro: list[list[int]], claimless: tuple) -> None:
    # windows of 5, 9, 3 and 7 tokens padded per micro-batch (padding labelled -100, as Collator does)
    g = torch.Generator().manual_seed(1)
    sizes = [5, 9, 3, 7]
    logits = [torch.randn(n, SPACE.num_labels, generator=g, requires_grad=True) for n in sizes]
    labels = [torch.stack([torch.randint(0, 5, (n,), generator=g), torch.randint(0, 3, (n,), generator=g)], -1)
              for n in sizes]
    for i in claimless:
        labels[i][:, 1] = IGNORE
    for lab in labels:
        lab[0] = IGNORE  # [CLS]

    def batch(idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(sizes[i] for i in idx)
        x = torch.stack([F.pad(logits[i], (0, 0, 0, width - sizes[i]), value=1e4) for i in idx])
        y = torch.stack([F.pad(labels[i], (0, 0, 0, width - sizes[i]), value=IGNORE) for i in idx])
        return x, y

    union = layered_loss(*batch([0, 1, 2, 3]), SPACE)
    expected = torch.autograd.grad(union, logits)
    counts = sum((lab != IGNORE).sum(0) for lab in labels).tolist()
    parts = sum(layered_loss(*batch(idx), SPACE, counts=counts) for idx in micro)
    assert torch.isfinite(parts) and parts.item() == pytest.approx(union.item(), rel=1e-6)
    for got, want in zip(torch.autograd.grad(parts, logits), expected, strict=True):
        torch.testing.assert_close(got, want)


def test_layered_loss_checks_shapes() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        layered_loss(torch.zeros(1, 2, 7), torch.zeros(1, 2, 2, dtype=torch.long), SPACE)


# --- checkpoints --------------------------------------------------------------------------------


def _logits(model, tok) -> torch.Tensor:
    (w,) = encode([TEXTS[0]], tok, SPACE, with_labels=False)
    with torch.no_grad():
        return model(torch.tensor([w.input_ids])).logits


def test_checkpoint_round_trip(tiny, tok, tmp_path) -> None:
    path = tmp_path / "runs" / "best"
    save_checkpoint(path, tiny, tok, SPACE, extra={"max_length": 128, "stride": 32, "step": 10})
    assert {"config.json", "model.safetensors", "naba.json", "tokenizer.json"} <= {p.name for p in path.iterdir()}
    info = json.loads((path / "naba.json").read_text(encoding="utf-8"))
    assert info["preset"] == "arabertv02" and info["max_length"] == 128 and info["stride"] == 32
    assert info["step"] == 10 and info["scheme"] == DEFAULT_SCHEME.to_dict()
    model, tokenizer, space, loaded_info = load_checkpoint(path)
    assert space == SPACE and loaded_info == info and not model.training
    tiny.eval()
    assert torch.equal(_logits(model, tokenizer), _logits(tiny, tok))
    assert [p.name for p in path.parent.iterdir()] == ["best"]  # no temp folders left behind


def test_checkpoint_replaces_an_existing_one(tiny, tok, tmp_path) -> None:
    path = tmp_path / "ck"
    save_checkpoint(path, tiny, tok, SPACE, extra={"step": 1})
    save_checkpoint(path, tiny, tok, SPACE, extra={"step": 2})
    assert load_checkpoint(path)[3]["step"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_checkpoint_folder_and_files_follow_the_umask(tiny, tok, tmp_path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask  # as mkdir would make it, not mkdtemp's 0700
    for name in ("naba.json", "model.safetensors"):
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o666 & ~umask, name


def test_failed_save_leaves_nothing(tiny, tok, tmp_path) -> None:
    with pytest.raises(ConfigError, match="not JSON"):
        save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={"bad": object()})

    class Broken:
        def save_pretrained(self, path):
            (path / "partial").write_text("half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "ck", tiny, Broken(), SPACE, extra={})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["no-info", "bad-info", "info-not-object", "other-scheme", "pickle-only", "deep-info"])
def test_load_checkpoint_errors(tiny, tok, tmp_path, damage: str) -> None:
    path = tmp_path / "ck"
    save_checkpoint(path, tiny, tok, SPACE, extra={})
    if damage == "no-info":
        (path / "naba.json").unlink()
    elif damage == "bad-info":
        (path / "naba.json").write_text("{not json")
    elif damage == "info-not-object":
        (path / "naba.json").write_text("[]")
    elif damage == "deep-info":  # JSON nested past Python's recursion limit: a RecursionError traceback
        (path / "naba.json").write_text("[" * 100_000 + "]" * 100_000)
    elif damage == "other-scheme":
        info = json.loads((path / "naba.json").read_text())
        info["scheme"] = LabelScheme({"claim": ("CLAIM",)}).to_dict()
        (path / "naba.json").write_text(json.dumps(info))
    else:  # weights only as a pickle: never unpickled
        torch.save(tiny.state_dict(), path / "pytorch_model.bin")
        (path / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError):
        load_checkpoint(path)


class _Marker:
    """A pickle whose unpickling creates ``path``: proof that a file was (or was not) unpickled."""

    def __init__(self, path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _edit_json(path, **changes) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        # config.json asks for layers the weights lack: they were randomly initialised, silently
        ("more-layers", r"model.safetensors lacks 32 weight\(s\) that config.json asks for"),
        # config.json has fewer layers than the weights: the model lost its last layer, silently
        ("fewer-layers", r"model.safetensors holds 16 weight\(s\) that config.json has no place for"),
        ("no-head", r"lacks 2 weight\(s\).*classifier.bias"),
        ("extra-tensor", r"holds 1 weight\(s\).*naba.extra"),
    ],
)
def test_load_checkpoint_refuses_weights_that_do_not_fit_config(tiny, tok, tmp_path, damage: str, message: str) -> None:
    from safetensors.torch import load_file, save_file

    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    weights = load_file(str(path / "model.safetensors"))
    if damage == "more-layers":
        _edit_json(path / "config.json", num_hidden_layers=4)
    elif damage == "fewer-layers":
        _edit_json(path / "config.json", num_hidden_layers=1)
    elif damage == "no-head":
        save_file({k: v for k, v in weights.items() if not k.startswith("classifier.")},
                  str(path / "model.safetensors"), metadata={"format": "pt"})
    else:
        save_file({**weights, "naba.extra": torch.zeros(2)}, str(path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=message):
        load_checkpoint(path)


_QUERY = "bert.encoder.layer.0.attention.self.query.weight"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        # a diverged run's weights: the model loaded and tagged nothing, silently
        ("nan", rf"ck: model.safetensors: 1 weight\(s\) hold NaN or infinite values \({_QUERY}\)"),
        ("inf", r"ck: model.safetensors: 1 weight\(s\) hold NaN or infinite values \(classifier.weight\)"),
        # cast to float32 without a word: the weights became their truncated values
        ("int32", rf"ck/model.safetensors: 1 weight\(s\) stored as integers or booleans \({_QUERY} I32\)"),
        ("int64", rf"stored as integers or booleans \({_QUERY} I64\)"),
        ("bool", rf"stored as integers or booleans \({_QUERY} BOOL\)"),
        # still fine: half-precision weights, and an integer buffer (older BERT files hold position_ids)
        ("fp16-and-position-ids", None),
    ],
)
@pytest.mark.parametrize("how", ["checkpoint", "base model"])
def test_weights_must_be_finite_floating_point(tiny, tok, tmp_path, damage: str, message: str | None, how: str) -> None:
    from safetensors.torch import load_file, save_file

    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    weights = load_file(str(path / "model.safetensors"))
    if damage in ("nan", "inf"):
        weights[_QUERY if damage == "nan" else "classifier.weight"][0, 0] = float(damage)
    elif damage == "fp16-and-position-ids":
        weights = {k: v.half() for k, v in weights.items()}
        weights["bert.embeddings.position_ids"] = torch.arange(512)[None]
    else:
        weights[_QUERY] = (weights[_QUERY] * 100).to({"int32": torch.int32, "int64": torch.int64, "bool": torch.bool}[damage])
    save_file(weights, str(path / "model.safetensors"), metadata={"format": "pt"})
    load = (lambda: load_checkpoint(path)[0]) if how == "checkpoint" else (lambda: load_model(str(path), SPACE))
    if message is None:
        assert torch.isfinite(load().bert.encoder.layer[0].attention.self.query.weight).all()
    else:
        with pytest.raises(ModelLoadError, match=message):
            load()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), None])
@pytest.mark.parametrize("where", [0, 1, 1001, -1])
def test_a_value_that_is_not_finite_is_found_anywhere_in_any_float_dtype(
    tiny, dtype: torch.dtype, value: float | None, where: int
) -> None:
    # the check reads each weight's largest magnitude (NaN-propagating), not a boolean copy of it
    from naba.model import _check_finite

    model = copy.deepcopy(tiny).to(dtype)
    weight = model.bert.encoder.layer[0].intermediate.dense.weight
    if value is not None:
        with torch.no_grad():
            weight.view(-1)[where] = value
        with pytest.raises(ModelLoadError, match=r"1 weight\(s\) hold NaN or infinite values \(bert.encoder.layer.0"):
            _check_finite("m", model)
    else:
        _check_finite("m", model)


@pytest.mark.parametrize(
    ("tensor", "how", "message"),
    [
        # transformers' own error named no tensor: "You set `ignore_mismatched_sizes` to `False` ..."
        (_QUERY, "checkpoint", rf"{_QUERY} \(16, 32\) for \(32, 32\)\); the weights and config.json do not"),
        (_QUERY, "base model", rf"{_QUERY} \(16, 32\) for \(32, 32\)\); the weights and config.json do not"),
        ("classifier.weight", "checkpoint", r"classifier.weight \(5, 32\) for \(8, 32\)\); the weights and config"),
        ("classifier.weight", "base model", r"classifier.weight \(5, 32\) for \(8, 32\)\); its classification head"),
    ],
)
def test_a_weight_of_another_shape_is_named(tiny, tok, tmp_path, tensor: str, how: str, message: str) -> None:
    from safetensors.torch import load_file, save_file

    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    weights = load_file(str(path / "model.safetensors"))
    weights[tensor] = torch.zeros(16 if tensor == _QUERY else 5, 32)
    save_file(weights, str(path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match="cannot load the model in .*ck'?: model.safetensors holds 1 weight") as info:
        load_checkpoint(path) if how == "checkpoint" else load_model(str(path), SPACE)
    assert re.search(message, str(info.value)) and "ignore_mismatched_sizes" not in str(info.value)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize(
    ("damage", "how"),
    [
        ("missing", "checkpoint"),
        ("unexpected", "checkpoint"),
        ("other shape", "checkpoint"),
        # a base model's head is new: transformers' table listed classifier.* as MISSING, newly initialised
        (None, "base model"),
    ],
)
def test_loading_logs_no_table_of_the_weights_that_did_not_fit(tiny, tok, tmp_path, damage, how) -> None:
    # transformers logged a "LOAD REPORT" table (tens of lines, ANSI colours, "newly initialized ...
    # Consider training") to stderr, and `naba tag` printed it above its own one-line refusal
    from safetensors.torch import load_file, save_file

    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    weights = load_file(str(path / "model.safetensors"))
    if damage == "missing":
        del weights[_QUERY]
    elif damage == "unexpected":
        weights["naba.extra"] = torch.zeros(2)
    elif damage == "other shape":
        weights[_QUERY] = torch.zeros(16, 32)
    else:
        weights = {k: v for k, v in weights.items() if not k.startswith("classifier.")}
    save_file(weights, str(path / "model.safetensors"), metadata={"format": "pt"})
    library, records = logging.getLogger("transformers"), _Records()
    level = library.level
    library.setLevel(logging.WARNING)  # transformers' default, whatever a test before set
    library.addHandler(records)
    try:
        if how == "checkpoint":
            with pytest.raises(ModelLoadError):
                load_checkpoint(path)
        else:
            load_model(str(path), SPACE)
    finally:
        library.removeHandler(records)
        library.setLevel(level)
    assert records.messages == []


def _log_load_report() -> None:
    logging.getLogger("transformers.modeling_utils").warning("BertForTokenClassification LOAD REPORT from: x")


@pytest.mark.parametrize(
    ("other", "shown"),
    [
        # naba's loads in two threads: the first to finish took the filter off the other's load
        ("naba", []),
        # a load of the caller's own beside naba's: its report is its own to read, and was hidden
        ("own", ["BertForTokenClassification LOAD REPORT from: x"]),
    ],
)
def test_the_load_report_filter_holds_for_naba_loads_in_their_own_threads(tmp_path, other: str, shown) -> None:
    from naba.model import _from_pretrained

    started, done = threading.Event(), threading.Event()

    def beside() -> None:  # the other thread's load, started and finished while this thread's runs
        assert started.wait(10)
        if other == "naba":
            _from_pretrained("model", str(tmp_path), lambda **kw: None)
        else:
            _log_load_report()
        done.set()

    def load(**_: object) -> str:  # this thread's load through naba: it logs once the other has run
        started.set()
        assert done.wait(10)
        if other == "naba":
            _log_load_report()
        return "loaded"

    records, library = _Records(), logging.getLogger("transformers")
    level = library.level
    library.setLevel(logging.WARNING)
    library.addHandler(records)
    thread = threading.Thread(target=beside)
    thread.start()
    try:
        assert _from_pretrained("model", str(tmp_path), load) == "loaded"
    finally:
        thread.join(10)
        library.removeHandler(records)
        library.setLevel(level)
    assert records.messages == shown


@pytest.mark.parametrize("how", ["checkpoint", "base model for training"])
def test_a_tokenizer_with_more_tokens_than_the_embeddings_is_refused(tok, tmp_path, how: str) -> None:
    # it loaded, and the first text with a token id beyond the embeddings raised IndexError mid-job
    small = build_small_model(SPACE, vocab_size=20, hidden_size=32, num_layers=2, heads=2, intermediate=64)
    path = save_checkpoint(tmp_path / "ck", small, tok, SPACE, extra={})
    message = rf"ck: the tokenizer has {len(tok)} tokens but the model's embeddings only 20"
    with pytest.raises(ModelLoadError, match=message):
        if how == "checkpoint":
            load_checkpoint(path)
        else:
            from naba.train.config import TrainConfig
            from naba.train.setup import build_model

            cfg = TrainConfig()
            cfg.model.name_or_path, cfg.model.max_length = str(path), 64
            build_model(cfg, SPACE, [])


def _positions_model(kind: str, tok, positions: int) -> torch.nn.Module:
    from transformers import (
        BertConfig,
        BertForTokenClassification,
        RobertaConfig,
        RobertaForTokenClassification,
    )

    config_cls, model_cls = {"bert": (BertConfig, BertForTokenClassification),
                             "roberta": (RobertaConfig, RobertaForTokenClassification)}[kind]
    config = config_cls(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=positions, pad_token_id=tok.pad_token_id,
                        num_labels=SPACE.num_labels, id2label=dict(SPACE.id2label), label2id=dict(SPACE.label2id))
    return model_cls(config)


@pytest.mark.parametrize(
    ("kind", "max_length", "message"),
    [
        ("bert", 32, None),
        # RoBERTa numbers tokens from padding_idx + 1 (here 1): 31 of its 32 positions are a token's. A
        # max_length of 32 loaded, and the first 32-token window failed inside the model ("index 32 is
        # out of bounds for dimension 1 with size 32"; on a GPU a device-side assert)
        ("roberta", 32, r"max_length 32 exceeds the model's 31 positions \(max_position_embeddings 32, "
                        r"numbered from padding_idx \+ 1 = 1\)"),
        ("roberta", 31, None),
    ],
)
@pytest.mark.parametrize("how", ["checkpoint", "base model for training"])
def test_windows_must_fit_the_models_positions(tok, tmp_path, kind: str, max_length: int, message, how: str) -> None:
    model = _positions_model(kind, tok, 32)
    path = save_checkpoint(tmp_path / "ck", model, tok, SPACE, extra={"max_length": max_length, "stride": 8})
    if how == "checkpoint":
        load = lambda: load_checkpoint(path)[0]  # noqa: E731
    else:
        from naba.train.config import TrainConfig
        from naba.train.setup import build_model

        cfg = TrainConfig()
        cfg.model.name_or_path, cfg.model.max_length = str(path), max_length
        load = lambda: build_model(cfg, SPACE, [])[1]  # noqa: E731
    if message is not None:
        with pytest.raises((ModelLoadError, ConfigError), match=message):
            load()
        return
    loaded = load().eval()
    ids = torch.full((1, max_length), 5)  # a full window: every position a token's
    with torch.inference_mode():
        assert loaded(input_ids=ids).logits.shape == (1, max_length, SPACE.num_labels)


@pytest.mark.parametrize(
    ("kind", "transformers_4", "limit"),
    [
        ("bert", False, 32),
        ("roberta", False, 31),
        # transformers 4 (>= 4.44 is declared) has create_position_ids_from_input_ids as a module
        # function, not a method of the embeddings: the RoBERTa offset was missed there, and 32 passed
        ("roberta", True, 31),
    ],
)
def test_position_limit(tok, monkeypatch: pytest.MonkeyPatch, kind: str, transformers_4: bool, limit: int) -> None:
    model = _positions_model(kind, tok, 32)
    if transformers_4:
        monkeypatch.delattr(type(model.base_model.embeddings), "create_position_ids_from_input_ids")
    assert position_limit(model) == limit


def test_a_base_model_without_encoder_weights_is_refused(tiny, tok, tmp_path) -> None:
    # the head is new anyway (a base model), but an encoder layer the weights lack would be random
    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    _edit_json(path / "config.json", num_hidden_layers=3)
    with pytest.raises(ModelLoadError, match=r"lacks 16 weight\(s\) that config.json asks for"):
        load_model(str(path), SPACE)


@pytest.mark.parametrize(
    ("layers", "saved", "message"),
    [
        # config.json of fewer layers than the weights: the encoder lost its last layer and trained on, silently
        (1, "classifier", r"holds 16 weight\(s\) that config.json has no place for \(bert.encoder.layer.1.attention"),
        (1, "pretraining", r"holds 16 weight\(s\) that config.json has no place for \(bert.encoder.layer.1.attention"),
        # a bare encoder (BertModel) names its weights without the bert. prefix: it was loaded truncated
        (1, "bare", r"holds 16 weight\(s\) that config.json has no place for \(encoder.layer.1.attention"),
        # as AraBERT ships: a pretraining head and a pooler the token classifier leaves unused
        (2, "pretraining", None),
        (2, "bare", None),
    ],
)
def test_a_base_model_with_more_layers_than_its_config_is_refused(
    tiny, tmp_path, layers: int, saved: str, message: str | None
) -> None:
    from transformers import BertForPreTraining, BertModel

    path = tmp_path / "base"
    base = {"classifier": lambda c: tiny, "pretraining": BertForPreTraining, "bare": BertModel}[saved](tiny.config)
    base.save_pretrained(path)
    _edit_json(path / "config.json", num_hidden_layers=layers)
    if message is None:
        assert load_model(str(path), SPACE).config.num_hidden_layers == 2
    else:
        with pytest.raises(ModelLoadError, match=message):
            load_model(str(path), SPACE)


@pytest.mark.parametrize(
    ("index", "message"),
    [
        # a weight map that sends transformers to a pickle: it must not even reach torch.load
        ({"bert.embeddings.word_embeddings.weight": "pytorch_model.bin"}, "'pytorch_model.bin'"),
        ({"bert.embeddings.word_embeddings.weight": "../outside.safetensors"}, "'../outside.safetensors'"),
        ({"bert.embeddings.word_embeddings.weight": "sub/model.safetensors"}, "'sub/model.safetensors'"),
        ([1, 2], "cannot read its weight_map"),
        ("{not json", "cannot read its weight_map"),
        ("[" * 100_000 + "]" * 100_000, "cannot read its weight_map: RecursionError"),  # was its traceback
    ],
)
@pytest.mark.parametrize("how", ["checkpoint", "base model"])
def test_weights_are_read_only_from_safetensors_in_the_folder(
    tiny, tok, tmp_path, monkeypatch, index, message: str, how: str
) -> None:
    import shutil

    from safetensors.torch import load_file

    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    marker = tmp_path / "unpickled"
    (path / "pytorch_model.bin").write_bytes(__import__("pickle").dumps({"x": _Marker(marker)}))
    shutil.copy(path / "model.safetensors", tmp_path / "outside.safetensors")
    (path / "sub").mkdir()
    shutil.copy(path / "model.safetensors", path / "sub" / "model.safetensors")
    (path / "model.safetensors").unlink()
    if isinstance(index, dict):  # every tensor in the named file
        keys = load_file(str(tmp_path / "outside.safetensors"))
        index = {"metadata": {}, "weight_map": dict.fromkeys(keys, next(iter(index.values())))}
    text = index if isinstance(index, str) else json.dumps(index)
    (path / "model.safetensors.index.json").write_text(text, encoding="utf-8")

    def no_torch_load(*args, **kwargs):
        raise AssertionError("torch.load was called on a checkpoint's weights")

    monkeypatch.setattr(torch, "load", no_torch_load)
    with pytest.raises(ModelLoadError, match=f"model.safetensors.index.json.*{message}"):
        load_checkpoint(path) if how == "checkpoint" else load_model(str(path), SPACE)
    assert not marker.exists()


def test_a_checkpoint_whose_naba_json_links_to_nothing_says_so(tiny, tok, tmp_path) -> None:
    # a dangling link read as "not a naba checkpoint: no naba.json", though the folder has one
    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    (path / "naba.json").unlink()
    (path / "naba.json").symlink_to(tmp_path / "elsewhere" / "naba.json")
    message = r"ck/naba.json: a link to '.*elsewhere/naba.json', which does not exist"
    with pytest.raises(ModelLoadError, match=message):
        load_checkpoint(path)
    from naba.predict import Tagger

    with pytest.raises(ModelLoadError, match=message):  # the Tagger (naba tag, predict, eval) said the same as before
        Tagger.from_pretrained(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_length": "abc"}, "max_length must be a whole number, got 'abc'"),
        ({"max_length": None}, "max_length must be a whole number, got None"),
        ({"max_length": 64.5}, "max_length must be a whole number, got 64.5"),
        ({"max_length": True}, "max_length must be a whole number, got True"),
        ({"max_length": 2}, r"max_length must be at least 3, got 2"),
        # the model has 512 positions: windows beyond them fail inside the model, mid-job
        ({"max_length": 10**9}, "max_length 1000000000 exceeds the model's 512 positions"),
        ({"stride": -1}, r"stride must be in \[0, max_length - 2\) = \[0, 510\), got -1"),
        ({"stride": 510}, r"stride must be in \[0, max_length - 2\) = \[0, 510\), got 510"),
        ({"stride": "x"}, "stride must be a whole number, got 'x'"),
        # no stride in the file: the default's range problem says it is the default
        ({"max_length": 64, "stride": None}, r"stride must be in \[0, max_length - 2\) = \[0, 62\), got 128 \(the default: naba.json gives no stride\)"),
        ({"preset": "nosuch"}, r"preset must be one of \['arabertv02', 'none'\], got 'nosuch'"),
        ({"preset": [1]}, r"preset must be one of \['arabertv02', 'none'\], got \[1\]"),
    ],
)
def test_load_checkpoint_checks_the_window_settings(tiny, tok, tmp_path, changes: dict, message: str) -> None:
    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    _edit_json(path / "naba.json", **changes)
    if changes.get("stride", 0) is None and "max_length" in changes:  # this case leaves stride out
        data = json.loads((path / "naba.json").read_text(encoding="utf-8"))
        del data["stride"]
        (path / "naba.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelLoadError, match=f"naba.json: {message}"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("file", "changes", "kind"),
    [
        # a model_type transformers does not know, with auto_map pointing at code in the folder
        ("config.json", {"model_type": "evilbert", "auto_map": {"AutoConfig": "evil.Config"}}, "model"),
        ("tokenizer_config.json", {"tokenizer_class": "EvilTok", "auto_map": {"AutoTokenizer": ["evil.Tok", None]}},
         "tokenizer"),
    ],
)
def test_a_checkpoint_that_needs_remote_code_is_one_clear_line(
    tiny, tok, tmp_path, file: str, changes: dict, kind: str
) -> None:
    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    marker = tmp_path / "ran"
    (path / "evil.py").write_text(f"open({str(marker)!r}, 'w')\n", encoding="utf-8")
    _edit_json(path / file, **changes)
    if kind == "tokenizer":
        (path / "tokenizer.json").unlink()
        (path / "vocab.txt").unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match=f"cannot load the {kind} in") as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and "trust_remote_code=True" not in message
    assert not marker.exists()


def test_load_model_from_a_local_folder(tiny, tok, tmp_path) -> None:
    save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    model = load_model(str(tmp_path / "ck"), SPACE)
    assert model.config.id2label == SPACE.id2label
    claim_only = LabelSpace.from_scheme(DEFAULT_SCHEME.restrict(["claim"]))
    with pytest.raises(ModelLoadError, match="cannot load the model in"):
        load_model(str(tmp_path / "ck"), claim_only)  # a head of another size


@pytest.mark.parametrize("stored", [torch.bfloat16, torch.float16, torch.float32])
def test_a_base_model_for_training_has_fp32_weights_whatever_it_was_saved_in(tiny, tok, tmp_path, stored) -> None:
    # transformers 5 loads weights in the dtype they were saved in: a base model saved in bf16 trained
    # with bf16 weights (AdamW's small updates rounded away, without a word), one in fp16 with fp16
    # weights (which fp16 mixed precision's loss scaler refuses to unscale)
    save_checkpoint(tmp_path / "ck", copy.deepcopy(tiny).to(stored), tok, SPACE, extra={})
    model = load_model(str(tmp_path / "ck"), SPACE)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    weight = model.bert.encoder.layer[0].intermediate.dense.weight
    assert torch.equal(weight, tiny.bert.encoder.layer[0].intermediate.dense.weight.to(stored).float())


@pytest.mark.parametrize("loader", [load_tokenizer, lambda name: load_model(name, SPACE)])
def test_hub_id_offline_is_a_clear_error(monkeypatch, loader) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "naba-test/no-such-model"
    with pytest.raises(ModelLoadError) as info:
        loader(name)
    message = str(info.value)
    assert f"cannot load '{name}' offline" in message and "local path" in message


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        # transformers' message was "Should have a `model_type` key in its config.json"
        ("config.json", r"ck: no config.json \(the model's architecture and labels\)"),
        ("naba.json", "is not a naba checkpoint: no naba.json"),
        ("model.safetensors", "no file named model.safetensors"),
    ],
)
def test_checkpoint_missing_a_file_names_it(tiny, tok, tmp_path, missing: str, message: str) -> None:
    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    (path / missing).unlink()
    with pytest.raises(ModelLoadError, match=message) as info:
        load_checkpoint(path)
    assert "model_type" not in str(info.value)


@pytest.mark.parametrize(
    ("vocab_txt", "error"),
    [
        # tokenizer_config.json alone loaded as a BERT tokenizer of 5 special tokens: every word [UNK]
        (False, "vocabulary holds only the special tokens"),
        (True, None),  # the vocabulary as vocab.txt: a tokenizer as good as tokenizer.json's
    ],
)
def test_checkpoint_without_its_vocabulary_is_refused(tiny, tok, tmp_path, vocab_txt: bool, error: str | None) -> None:
    path = save_checkpoint(tmp_path / "ck", tiny, tok, SPACE, extra={})
    (path / "tokenizer.json").unlink()
    if vocab_txt:
        vocab = sorted(tok.get_vocab(), key=tok.get_vocab().__getitem__)
        (path / "vocab.txt").write_text("".join(f"{t}\n" for t in vocab), encoding="utf-8")
    if error is None:
        _, loaded, _, _ = load_checkpoint(path)
        assert loaded.tokenize(TEXTS[0]) == tok.tokenize(TEXTS[0]) and len(loaded) == len(tok)
    else:
        with pytest.raises(ModelLoadError, match=error):
            load_checkpoint(path)


def test_empty_local_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="cannot load the tokenizer in"):
        load_tokenizer(str(tmp_path))  # exists, but holds no tokenizer
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize(
    "files",
    [
        ["train.jsonl"],  # a data folder
        ["config.yaml", "best/tokenizer.json", "tokenizer/tokenizer.json"],  # a run folder, not its tokenizer
        ["cv.json", "folds/fold-0/tokenizer/tokenizer.json"],  # a cross-validation folder
    ],
)
def test_folder_without_a_tokenizer_says_so(tmp_path, files: list[str]) -> None:
    # transformers' own message asked to install sentencepiece or tiktoken
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}", encoding="utf-8")
    with pytest.raises(ModelLoadError) as info:
        load_tokenizer(str(tmp_path))
    message = str(info.value)
    assert "cannot load the tokenizer in" in message and "no tokenizer.json" in message
    assert "sentencepiece" not in message


@pytest.mark.parametrize("name", ["runs/demo/best", "./tok", "/no/such/folder", "~/model"])
def test_missing_folder_is_not_taken_for_a_hub_id(name: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # not the checkout: scripts/demo.sh (the README's first command) makes runs/demo/best
    with pytest.raises(ModelLoadError, match="no such folder"):
        load_tokenizer(name)


def test_hub_id_without_network_is_a_clear_error(monkeypatch) -> None:
    import naba.model

    def no_route(*args, **kwargs):
        raise OSError("Network is unreachable")

    for var in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(naba.model.socket, "create_connection", no_route)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(ModelLoadError, match=r"cannot load 'naba-test/no-such-model' offline \(no network"):
        load_tokenizer("naba-test/no-such-model")


@pytest.mark.parametrize(
    ("onednn_fp16", "amx_fp16", "warned"),
    [
        (False, False, True),  # an AVX2 CPU: PyTorch emulates fp16 products
        # a Sapphire Rapids (AVX512-FP16, no AMX-FP16): oneDNN runs fp16 products, and it was warned of
        (True, False, False),
        (True, True, False),
    ],
)
def test_fp16_is_warned_of_only_where_onednn_cannot_compute_it(
    monkeypatch: pytest.MonkeyPatch, onednn_fp16: bool, amx_fp16: bool, warned: bool
) -> None:
    from naba.model import cpu_precision_problem

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_fp16_supported", lambda: onednn_fp16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_fp16_supported", lambda: amx_fp16, raising=False)
    assert (cpu_precision_problem("fp16") is not None) == warned
