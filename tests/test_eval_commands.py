"""``naba eval`` and ``naba eval compare``: outputs, input formats, models, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import listing

from naba.cli import main
from naba.corpus.document import Document, Span
from naba.corpus.formats import read, write
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.errors import DataError
from naba.eval.sources import read_predictions

T1 = "قال الجيش السوري إن القوات دخلت حماة"
T2 = "أعلنت السفارة الصينية في دمشق أن الوضع مستقر"
GOLD = [
    Document("d1", T1, [Span(4, 16, "ACTOR"), Span(32, 36, "LOCATION"), Span(20, 36, "CLAIM")]),
    Document("d2", T2, [Span(6, 21, "ACTOR"), Span(25, 29, "LOCATION"), Span(33, 44, "CLAIM")]),
]
# d1: الجيش only (boundary error), no claim; d2: all right
PRED_LINES = [
    {"id": "d1", "spans": [{"start": 4, "end": 9, "label": "ACTOR", "layer": "entity", "text": "الجيش", "score": 0.6},
                           {"start": 32, "end": 36, "label": "LOCATION", "score": 0.9}]},
    {"id": "d2", "spans": [{"start": 6, "end": 21, "label": "ACTOR"}, {"start": 25, "end": 29, "label": "LOC"},
                           {"start": 33, "end": 44, "label": "CLAIM"}]},
]


def _files(tmp_path: Path, lines: list | None = None) -> tuple[Path, Path]:
    gold = tmp_path / "gold.jsonl"
    write(GOLD, gold)
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in (lines or PRED_LINES)), encoding="utf-8")
    return gold, pred


def test_eval_predictions_file_writes_everything(tmp_path, capsys):
    gold, pred = _files(tmp_path)
    out = tmp_path / "out"
    assert main(["eval", "--data", str(gold), "--pred", str(pred), "--out", str(out), "--bootstrap", "50"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "errors.jsonl", "metrics.json", "predictions.jsonl", "report.html", "report.md",
    ]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    exact = metrics["scores"]["entity"]["span_exact"]["micro"]
    assert (exact["tp"], exact["fp"], exact["fn"]) == (3, 1, 1)
    assert len(exact["f1_ci"]) == 2
    assert metrics["scores"]["claim"]["span_exact"]["micro"]["recall"] == 0.5
    assert metrics["bootstrap"]["samples"] == 50
    errors = [json.loads(x) for x in (out / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(e["layer"], e["category"]) for e in errors] == [("entity", "boundary"), ("claim", "false_negative")]
    assert errors[0]["pred"][0]["score"] == 0.6
    printed = capsys.readouterr().out
    assert "seqeval_strict" in printed and "semeval_partial" in printed
    # the predictions written back read as native JSONL and, with their scores, as predictions
    assert [d.spans for d in read(out / "predictions.jsonl")] == [d.spans for d in read_predictions(pred, GOLD, scheme=DEFAULT_SCHEME)]
    again = read_predictions(out / "predictions.jsonl", GOLD, scheme=DEFAULT_SCHEME)
    assert again[0].meta["scores"][0]["score"] == 0.6


def test_eval_any_corpus_format(tmp_path):
    gold, pred = tmp_path / "gold.conll", tmp_path / "pred.conll"
    # one tag column holds one layer: the entity layer here
    entities = frozenset(DEFAULT_SCHEME.layers["entity"])
    write([Document(d.id, d.text, d.spans_of(entities)) for d in GOLD], gold, format="conll")
    predicted = [Document(d.id, d.text, d.spans[:1]) for d in read(gold)]
    write(predicted, pred, format="conll")
    out = tmp_path / "out"
    assert main(["eval", "--data", str(gold), "--pred", str(pred), "--out", str(out), "--bootstrap", "0",
                 "--layers", "entity"]) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["layers"] == ["entity"]
    assert metrics["scores"]["entity"]["span_exact"]["micro"]["precision"] == 1.0
    assert "bootstrap" not in metrics


def test_compare_with_itself_and_with_gold(tmp_path, capsys):
    gold, pred = _files(tmp_path)
    out = tmp_path / "cmp"
    assert main(["eval", "compare", str(pred), str(pred), "--data", str(gold), "--bootstrap", "100",
                 "--out", str(out)]) == 0
    result = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert all(r["p_value"] == 1.0 and r["diff"] == 0.0 for r in result["metrics"].values())
    assert "Berg-Kirkpatrick" in result["bootstrap"]["method"]
    assert main(["eval", "compare", str(pred), str(gold), "--data", str(gold), "--bootstrap", "100"]) == 0
    printed = capsys.readouterr().out
    assert "entity/span_exact/micro/f1" in printed


@pytest.mark.parametrize(
    ("args", "lines", "code", "fragment"),
    [
        (["eval", "--data", "{gold}"], None, 2, "either a model or --pred"),
        (["eval", "--data", "{gold}", "--pred", "{pred}"], None, 2, "--out DIR is required"),
        (["eval", "--data", "{gold}", "--pred", "{tmp}/nope.jsonl", "--out", "{tmp}/o"], None, 1, "no such predictions file"),
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o", "--layers", "topic"], None, 2, "not available"),
        (["eval", "compare", "{pred}", "--data", "{gold}"], None, 2, "two systems"),
        (["eval", "a", "b", "--data", "{gold}"], None, 2, "one model"),
        (["eval", "{tmp}", "--data", "{gold}", "--out", "{tmp}/o"], None, 2, "neither a model (no naba.json"),
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o", "--confidence", "95"], None, 2,
         "--confidence must be between 0 and 1"),
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o", "--bootstrap", "-1"], None, 2,
         "--bootstrap must be 0 or more"),
        (["eval", "compare", "{pred}", "{pred}", "--data", "{gold}", "--bootstrap", "0"], None, 2, "at least 1"),
        # numpy's "expected non-negative integer" came as a traceback once the files were read
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o", "--seed", "-1"], None, 2,
         "--seed must be 0 or more, got -1"),
        (["eval", "compare", "{pred}", "{pred}", "--data", "{gold}", "--seed", "-3"], None, 2,
         "--seed must be 0 or more, got -3"),
        # a list of no layer names scored nothing and wrote empty results with exit code 0
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o", "--layers", ","], None, 2,
         "--layers ',' names no layer"),
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o", "--layers", " "], None, 2,
         "--layers ' ' names no layer"),
        (["eval", "compare", "{pred}", "{pred}", "--data", "{gold}", "--layers", ", ,"], None, 2,
         "--layers ', ,' names no layer"),
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o"],
         [*PRED_LINES, {"id": "d9", "text": "x", "spans": []}], 1, "no gold document with this id"),
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o"], PRED_LINES[:1], 1,
         "no prediction for this gold document"),
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o"],
         [PRED_LINES[0], {"id": "d2", "spans": [{"start": 0, "end": 3, "label": "ACTOR", "text": "xyz"}]}], 1,
         "'text' is 'xyz'"),
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o"],
         [PRED_LINES[0], {"id": "d2", "spans": [{"start": 0, "end": 3, "label": "TOPIC"}]}], 1, "unknown label"),
        (["eval", "--data", "{gold}", "--pred", "{pred}", "--out", "{tmp}/o"],
         [PRED_LINES[0], {"id": "d2", "spans": [{"start": 0, "end": 90, "label": "ACTOR"}]}], 1, "out of range"),
    ],
)
def test_clear_errors(tmp_path, capsys, args, lines, code, fragment):
    gold, pred = _files(tmp_path, lines)
    argv = [a.format(gold=gold, pred=pred, tmp=tmp_path) for a in args]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing half written


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "{tmp}/m", "--data", "{gold}", "--out", "{tmp}/o", "--bootstrap", "0"],
        ["eval", "compare", "{tmp}/m", "{pred}", "--data", "{gold}", "--bootstrap", "1"],
        ["tag", "{tmp}/m", "{gold}", "--device", "cpu"],
    ],
)
def test_a_model_whose_naba_json_nests_too_deep_is_one_line(tmp_path, capsys, args):
    # JSON nested past Python's recursion limit: naba.json was read for its label scheme before the
    # model was loaded, and json's RecursionError came as a traceback
    gold, pred = _files(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "naba.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert main([a.format(gold=gold, pred=pred, tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"naba: {tmp_path / 'm' / 'naba.json'}: cannot read: maximum recursion depth") and err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "compare", "{pred}", "{pred}", "--data", "{gold}"],
        # naba eval wrote P = R = F1 = 0.0 in every mode for 0 documents, and exit code 0
        ["eval", "--pred", "{pred}", "--data", "{gold}", "--out", "{tmp}/o"],
        ["eval", "--pred", "{pred}", "--data", "{gold}", "--out", "{tmp}/o", "--bootstrap", "0"],
    ],
)
def test_no_gold_documents_is_a_data_error(tmp_path, capsys, args):
    gold, pred = tmp_path / "gold.jsonl", tmp_path / "pred.jsonl"
    gold.write_text("", encoding="utf-8")
    pred.write_text("", encoding="utf-8")
    assert main([a.format(gold=gold, pred=pred, tmp=tmp_path) for a in args]) == 1
    err = capsys.readouterr().err
    assert f"{gold}: no documents" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_an_unwritable_out_folder_is_a_data_error(tmp_path, capsys):
    gold, pred = _files(tmp_path, None)
    (tmp_path / "o").write_text("a file where the folder should be", encoding="utf-8")
    assert main(["eval", "--data", str(gold), "--pred", str(pred), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'o' / 'metrics.json'}: cannot write file" in err and "Traceback" not in err


def test_broken_json_line_names_file_and_line(tmp_path, capsys):
    gold, pred = _files(tmp_path)
    pred.write_text(pred.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    assert main(["eval", "--data", str(gold), "--pred", str(pred), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"{pred}: line 3: invalid JSON" in err


# --- with a model -------------------------------------------------------------------------------------


def _model_of(root: Path, scheme: dict | LabelScheme) -> Path:
    """A tiny random checkpoint at ``root`` trained on nothing, of ``scheme`` (or these layers)."""
    from naba.encode import LabelSpace
    from naba.model import build_small_model, build_small_tokenizer, save_checkpoint

    tok = build_small_tokenizer([T1, T2] * 10, vocab_size=300)
    space = LabelSpace.from_scheme(scheme if isinstance(scheme, LabelScheme) else LabelScheme(scheme))
    model = build_small_model(space, vocab_size=len(tok), hidden_size=64, num_layers=2, heads=2, intermediate=128,
                              max_position=128)
    return save_checkpoint(root, model, tok, space, extra={"max_length": 64, "stride": 16})


@pytest.mark.slow
def test_eval_a_model_scores_only_its_layers(tmp_path, capsys):
    from naba.encode import LabelSpace
    from naba.model import build_small_model, build_small_tokenizer, save_checkpoint

    texts = [T1, T2] * 10
    tok = build_small_tokenizer(texts, vocab_size=300)
    space = LabelSpace.from_scheme(DEFAULT_SCHEME.restrict(["entity"]))
    model = build_small_model(space, vocab_size=len(tok), hidden_size=64, num_layers=2, heads=2, intermediate=128,
                              max_position=128)
    ckpt = save_checkpoint(tmp_path / "model", model, tok, space, extra={"max_length": 64, "stride": 16})
    gold, _ = _files(tmp_path)
    assert main(["eval", str(ckpt), "--data", str(gold), "--bootstrap", "20"]) == 0
    out = Path(ckpt) / "eval" / "gold"
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["layers"] == ["entity"]  # the model has no claim layer, so CLAIM is not scored
    assert set(metrics["scores"]) == {"entity"}
    # the model's predictions, saved beside the scores, give the same scores through --pred
    assert main(["eval", "--data", str(gold), "--pred", str(out / "predictions.jsonl"), "--out", str(tmp_path / "p"),
                 "--bootstrap", "20", "--layers", "entity"]) == 0
    again = json.loads((tmp_path / "p" / "metrics.json").read_text(encoding="utf-8"))
    assert again["scores"] == metrics["scores"]


@pytest.mark.parametrize(
    ("layers", "gold_spans", "label"),
    [
        # the model's entity layer has labels naba's built-in scheme lacks
        ({"entity": ("ACTOR", "LOCATION", "EVENT")}, [Span(4, 16, "EVENT"), Span(32, 36, "LOCATION")], "EVENT"),
        # a claim layer of two labels, and no entity layer
        ({"claim": ("CLAIM", "DENIAL")}, [Span(20, 36, "DENIAL")], "DENIAL"),
    ],
)
def test_eval_a_model_of_its_own_scheme_without_labels(tmp_path, capsys, layers, gold_spans, label):
    # the gold was read under naba's built-in scheme: "unknown label 'EVENT'", exit 1, though the
    # model's naba.json holds the scheme it was trained on
    ckpt = _model_of(tmp_path / "model", layers)
    gold = tmp_path / "gold.jsonl"
    write([Document("d1", T1, gold_spans)], gold, scheme=LabelScheme(layers))
    assert main(["eval", str(ckpt), "--data", str(gold), "--bootstrap", "0", "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["layers"] == list(layers)
    (layer,) = [name for name, labels in layers.items() if label in labels]
    assert metrics["scores"][layer]["span_exact"][label]["support"] == 1


@pytest.mark.parametrize("layers", [{"entity": ("ACTOR", "LOCATION")}, {"entity": ("ACTOR",), "claim": ("CLAIM",)}])
def test_eval_a_model_of_builtin_labels_keeps_the_builtin_mapping(tmp_path, layers):
    # a model trained under a scheme file of naba's labels without its mapping still reads gold in
    # other tag sets (PERS, LOC) through the built-in scheme, as before models brought their own
    ckpt = _model_of(tmp_path / "model", layers)
    gold = tmp_path / "gold.conll"
    gold.write_text("قال O\nالجيش B-PERS\nفي O\nحماة B-LOC\n", encoding="utf-8")
    assert main(["eval", str(ckpt), "--data", str(gold), "--bootstrap", "0", "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["scores"]["entity"]["span_exact"]["micro"]["support"] == 2


@pytest.mark.parametrize(
    ("layers", "scheme", "missing"),
    [
        ({"entity": ("ACTOR", "LOCATION", "EVENT")}, "layers:\n  entity: [ACTOR, LOCATION]\n", "['EVENT']"),
        ({"claim": ("CLAIM", "DENIAL")}, "layers:\n  claim: [CLAIM]\nmapping:\n  DENIAL: null\n", "['DENIAL']"),
    ],
)
def test_eval_a_model_under_a_scheme_that_lacks_its_labels(tmp_path, capsys, layers, scheme, missing):
    # the model's labels outside --labels were an error only once the gold was tagged, and only where
    # the model predicted one: "predictions: record 3 (id=a3): unknown label", naming neither file
    ckpt = _model_of(tmp_path / "model", layers)
    labels = tmp_path / "labels.yaml"
    labels.write_text(scheme, encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    write([Document("d1", T1)], gold)
    argv = ["--data", str(gold), "--labels", str(labels), "--bootstrap", "0", "--out", str(tmp_path / "out")]
    assert main(["eval", str(ckpt), *argv]) == 2
    assert f"{labels}: the model {ckpt} has label(s) {missing} that this label scheme lacks" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("mapping", "conll", "support"),
    [
        # refused under the built-in scheme: "unknown label 'FAC'"
        ({"FAC": "LOCATION"}, "قال O\nالجيش B-ACTOR\nفي O\nحماة B-FAC\n", 2),
        # scored with its ORG span as a gold ACTOR, which the model was trained to leave out
        ({"ORG": None}, "قال O\nالجيش B-ORG\nفي O\nحماة B-LOCATION\n", 1),
    ],
    ids=["fac-mapped", "org-dropped"],
)
def test_eval_a_model_of_builtin_labels_with_a_mapping_of_its_own(tmp_path, mapping, conll, support):
    ckpt = _model_of(tmp_path / "model", LabelScheme({"entity": ("ACTOR", "LOCATION")}, mapping))
    gold = tmp_path / "gold.conll"
    gold.write_text(conll, encoding="utf-8")
    assert main(["eval", str(ckpt), "--data", str(gold), "--bootstrap", "0", "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["scores"]["entity"]["span_exact"]["micro"]["support"] == support


@pytest.mark.parametrize(
    ("scheme", "conll", "support"),
    [
        # a label its kept layer drops: read under the built-in scheme, the gold LOCATION was scored (support 2)
        (LabelScheme({"entity": ("ACTOR",)}, {"LOCATION": None}), "الجيش B-ACTOR\nفي O\nحماة B-LOCATION\n", 1),
        (LabelScheme({"entity": ("ACTOR",)}, {"PERS": "ACTOR", "LOC": None}), "الجيش B-PERS\nفي O\nحماة B-LOC\n", 1),
        # data.layers: [entity] maps CLAIM to nothing: the built-in scheme still reads PERS and LOC
        (DEFAULT_SCHEME.restrict(["entity"]), "الجيش B-PERS\nفي O\nحماة B-LOC\n", 2),
    ],
    ids=["label-dropped", "tag-dropped", "layer-left-out"],
)
def test_eval_a_model_that_drops_a_label_of_a_layer_it_keeps(tmp_path, scheme, conll, support):
    ckpt = _model_of(tmp_path / "model", scheme)
    gold = tmp_path / "gold.conll"
    gold.write_text(conll, encoding="utf-8")
    assert main(["eval", str(ckpt), "--data", str(gold), "--bootstrap", "0", "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["scores"]["entity"]["span_exact"]["micro"]["support"] == support


@pytest.mark.parametrize("b", [DEFAULT_SCHEME, DEFAULT_SCHEME.restrict(["claim"])], ids=["both-layers", "claim"])
def test_compare_a_model_of_one_builtin_layer(tmp_path, capsys, b):
    # data.layers: [claim] maps PERS, ORG, LOC, ... to nothing, which counted as a mapping of its own: compared
    # with a model of both layers, refused (exit 2) "none of which holds the others' labels ... give --labels FILE"
    a, b = _model_of(tmp_path / "a", DEFAULT_SCHEME.restrict(["claim"])), _model_of(tmp_path / "b", b)
    gold, _ = _files(tmp_path)
    argv = ["eval", "compare", str(a), str(b), "--data", str(gold), "--bootstrap", "5", "--out", str(tmp_path / "o")]
    assert main(argv) == 0, capsys.readouterr().err
    result = json.loads((tmp_path / "o" / "compare.json").read_text(encoding="utf-8"))
    assert "claim/span_exact/CLAIM/f1" in result["metrics"]


_OWN = {"entity": ("ACTOR", "LOCATION", "EVENT")}


@pytest.mark.parametrize(
    ("b_layers", "code", "said"),
    [
        # fell back to the built-in scheme: both models run, then "predictions: ... unknown label 'EVENT'", exit 1
        ({"entity": ("ACTOR", "LOCATION")}, 0, None),
        (_OWN, 0, None),
        # neither scheme holds the other's labels: refused before either model runs, naming both
        ({"claim": ("CLAIM", "DENIAL")}, 2, "give --labels FILE"),
        ({"entity": ("ACTOR", "LOCATION"), "claim": ("CLAIM",)}, 2, "give --labels FILE"),
    ],
    ids=["builtin", "same", "other-own", "builtin-with-claim"],
)
def test_compare_a_model_of_its_own_scheme_with_another_model(tmp_path, capsys, b_layers, code, said):
    a, b = _model_of(tmp_path / "a", _OWN), _model_of(tmp_path / "b", b_layers)
    gold = tmp_path / "gold.jsonl"
    write([Document("d1", T1, [Span(4, 16, "EVENT"), Span(32, 36, "LOCATION")]), Document("d2", T2)], gold,
          scheme=LabelScheme(_OWN))
    argv = ["eval", "compare", str(a), str(b), "--data", str(gold), "--bootstrap", "5", "--out", str(tmp_path / "o")]
    assert main(argv) == code
    if said is None:
        result = json.loads((tmp_path / "o" / "compare.json").read_text(encoding="utf-8"))
        assert "entity/span_exact/EVENT/f1" in result["metrics"]
    else:
        err = capsys.readouterr().err
        assert said in err and f"{a}: " in err and f"{b}: " in err
        assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("b_layers", "said"),
    [
        (_OWN, "has label(s) ['EVENT'] that this label scheme lacks"),
        ({"ner": ("ACTOR", "LOCATION")}, "layer(s) ['ner'] are not this label scheme's"),
    ],
    ids=["label", "layer"],
)
def test_compare_under_labels_refuses_either_model_before_running_any(tmp_path, capsys, monkeypatch, b_layers, said):
    # B was refused only once A had tagged the whole gold
    import naba.eval.sources

    a, b = _model_of(tmp_path / "a", {"entity": ("ACTOR", "LOCATION")}), _model_of(tmp_path / "b", b_layers)
    labels = tmp_path / "labels.yaml"
    labels.write_text("layers:\n  entity: [ACTOR, LOCATION]\n", encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    write([Document("d1", T1)], gold)
    ran = []
    monkeypatch.setattr(naba.eval.sources, "predict", lambda system, *a, **k: ran.append(system) or ([], None))
    argv = ["eval", "compare", str(a), str(b), "--data", str(gold), "--labels", str(labels), "--bootstrap", "5"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{labels}: the model {b}" in err and said in err
    assert ran == []


@pytest.mark.parametrize(
    ("layers", "scheme"),
    [
        # refused only once the gold was tagged: "the model has layer(s) ['ner'] that the label scheme lacks"
        ({"ner": ("ACTOR", "LOCATION")}, "layers:\n  entity: [ACTOR, LOCATION]\n"),
        # scored: the model's LOCATION predictions went to the scheme's layer 'place', which was not scored
        ({"entity": ("ACTOR", "LOCATION")}, "layers:\n  entity: [ACTOR]\n  place: [LOCATION]\n"),
    ],
    ids=["layer-renamed", "label-moved"],
)
def test_eval_a_model_under_a_scheme_of_other_layers(tmp_path, capsys, layers, scheme):
    ckpt = _model_of(tmp_path / "model", layers)
    labels = tmp_path / "labels.yaml"
    labels.write_text(scheme, encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    write([Document("d1", T1)], gold)
    argv = ["--data", str(gold), "--labels", str(labels), "--bootstrap", "0", "--out", str(tmp_path / "out")]
    assert main(["eval", str(ckpt), *argv]) == 2
    assert f"{labels}: the model {ckpt}'s layer(s) {list(layers)} are not this label scheme's" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("extra", "code"), [([], 1), (["--bio-repair", "begin"], 0)])
def test_bio_repair_for_conll_gold(tmp_path, capsys, extra, code):
    # a stray I- (as ANERcorp has a few): an error unless asked to repair it
    gold = tmp_path / "gold.conll"
    gold.write_text("قال O\nالجيش I-ORG\nالسوري I-ORG\n", encoding="utf-8")
    pred = tmp_path / "pred.jsonl"
    pred.write_text('{"id": "gold-00000", "spans": [{"start": 4, "end": 16, "label": "ACTOR"}]}\n', encoding="utf-8")
    argv = ["eval", "--data", str(gold), "--pred", str(pred), "--out", str(tmp_path / "o"), "--bootstrap", "0", *extra]
    assert main(argv) == code
    if code:
        assert "broken BIO sequence" in capsys.readouterr().err
    else:
        metrics = json.loads((tmp_path / "o" / "metrics.json").read_text(encoding="utf-8"))
        assert metrics["scores"]["entity"]["span_exact"]["micro"]["f1"] == 1.0


@pytest.mark.parametrize(
    ("extra", "span", "code"),
    [
        # Label Studio gold with a title and a body: naba eval said to pass --to-name, which it did not take
        ([], (4, 8, "ACTOR"), 1),
        (["--to-name", "text"], (4, 8, "ACTOR"), 0),  # the body's region only, the title's skipped
        (["--to-name", "title", "--text-key", "title"], (0, 3, "LOCATION"), 0),  # the title, read as the text
    ],
)
def test_eval_reads_label_studio_gold_of_one_text_object(tmp_path, capsys, extra, span, code):
    gold = tmp_path / "gold.json"
    region = {"type": "labels", "from_name": "label"}
    task = {"id": 1, "data": {"title": "مصر", "text": "قال محمد في مصر"}, "annotations": [{"result": [
        {**region, "id": "t1", "to_name": "title", "value": {"start": 0, "end": 3, "text": "مصر", "labels": ["LOC"]}},
        {**region, "id": "b1", "to_name": "text", "value": {"start": 4, "end": 8, "text": "محمد", "labels": ["PER"]}},
    ]}]}
    gold.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    pred = tmp_path / "pred.jsonl"
    start, end, label = span
    pred.write_text(json.dumps({"id": "1", "spans": [{"start": start, "end": end, "label": label}]}) + "\n", encoding="utf-8")
    argv = ["eval", "--data", str(gold), "--pred", str(pred), "--out", str(tmp_path / "o"), "--bootstrap", "0", *extra]
    assert main(argv) == code
    if code:
        assert "to_name=" in capsys.readouterr().err
    else:
        metrics = json.loads((tmp_path / "o" / "metrics.json").read_text(encoding="utf-8"))
        assert metrics["scores"]["entity"]["span_exact"]["micro"]["f1"] == 1.0


def _ls_half_annotated(folder: Path) -> Path:
    # d1 annotated in Label Studio, d2 still holding only naba predict's pre-annotations
    region = {"id": "r", "type": "labels", "from_name": "label", "to_name": "text",
              "value": {"start": 4, "end": 16, "text": T1[4:16], "labels": ["ACTOR"]}}
    tasks = [{"id": 7, "data": {"text": T1, "id": "d1"}, "annotations": [{"result": [region]}]},
             {"id": 8, "data": {"text": T2, "id": "d2"}, "predictions": [{"result": []}]}]
    (folder / "gold.json").write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return folder / "gold.json"


def _doccano_in_codepoints(folder: Path) -> Path:
    # offsets counted in Python: read as doccano's UTF-16 the span's start splits the first emoji
    line = {"id": "d1", "text": "😀😀 " + T1, "label": [[1, 2, "ACTOR"]]}
    (folder / "gold.jsonl").write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder / "gold.jsonl"


def _brat_discontinuous(folder: Path) -> Path:
    (folder / "gold").mkdir()
    (folder / "gold" / "d1.txt").write_text(T1, encoding="utf-8")
    (folder / "gold" / "d1.ann").write_text(f"T1\tACTOR 4 9;10 16\t{T1[4:9]} {T1[10:16]}\n", encoding="utf-8")
    return folder / "gold"


@pytest.mark.parametrize(
    ("make", "fmt", "span", "option", "hint"),
    [
        # each reader error names a naba data option that naba eval refused as 'unrecognized arguments'
        (_ls_half_annotated, [], (4, 16), ["--source", "annotations"], "--source annotations"),
        (_doccano_in_codepoints, ["--format", "doccano"], (1, 2), ["--input-offsets", "codepoints"], "--input-offsets codepoints"),
        (_brat_discontinuous, [], (4, 16), ["--discontinuous", "merge"], "discontinuous='merge'"),
    ],
)
def test_eval_takes_the_reader_options_its_gold_errors_name(tmp_path, capsys, make, fmt, span, option, hint):
    gold = make(tmp_path)
    pred = tmp_path / "pred.jsonl"
    lines = [{"id": "d1", "spans": [{"start": span[0], "end": span[1], "label": "ACTOR"}]}]
    if gold.suffix == ".json":
        lines.append({"id": "d2", "spans": []})
    pred.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    argv = ["eval", "--data", str(gold), *fmt, "--pred", str(pred), "--out", str(tmp_path / "o"), "--bootstrap", "0"]
    assert main(argv) == 1
    assert hint in capsys.readouterr().err
    assert main([*argv, *option]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["scores"]["entity"]["span_exact"]["micro"]["f1"] == 1.0


def test_bio_repair_applies_to_conll_predictions_beside_jsonl_gold(tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "a", "text": "قال الجيش"}\n', encoding="utf-8")
    pred = tmp_path / "pred.conll"
    pred.write_text("قال O\nالجيش I-ORG\n", encoding="utf-8")
    argv = ["eval", "--data", str(gold), "--pred", str(pred), "--out", str(tmp_path / "o"), "--bootstrap", "0"]
    assert main([*argv, "--bio-repair", "begin"]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["scores"]["entity"]["span_exact"]["micro"]["fp"] == 1


@pytest.mark.parametrize(
    ("ann", "txt", "folder"),
    [
        (".ann", ".txt", ""),
        (".ANN", ".TXT", ""),  # was "neither a model nor a brat folder", which the brat reader reads
        (".ann", ".txt", "sub"),  # in a subfolder, as the reader finds them (ids are relative paths)
    ],
)
def test_eval_a_brat_folder_of_predictions(tmp_path, ann, txt, folder):
    gold = tmp_path / "gold.jsonl"
    write(GOLD, gold)
    pred = tmp_path / "pred"
    for doc in GOLD:
        base = pred / folder / doc.id
        base.parent.mkdir(parents=True, exist_ok=True)
        base.with_suffix(txt).write_text(doc.text, encoding="utf-8")
        lines = [f"T{k}\t{s.label} {s.start} {s.end}\t{doc.text[s.start:s.end]}\n" for k, s in enumerate(doc.spans, 1)]
        base.with_suffix(ann).write_text("".join(lines), encoding="utf-8")
    if folder:  # ids are the relative paths: gold with the same ids
        write([Document(f"{folder}/{d.id}", d.text, d.spans) for d in GOLD], gold)
    out = tmp_path / "out"
    assert main(["eval", str(pred), "--data", str(gold), "--out", str(out), "--bootstrap", "0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["scores"]["entity"]["span_exact"]["micro"]["f1"] == 1.0


@pytest.mark.parametrize(
    ("args", "header"),
    [
        (["--confidence", "0.8"], "F1 80% CI"),
        (["--confidence", "0.95"], "F1 95% CI"),
        (["compare", "{pred}", "{gold}", "--confidence", "0.9"], "90% CI"),
    ],
)
def test_printed_interval_header_names_the_confidence(tmp_path, capsys, args, header):
    gold, pred = _files(tmp_path)
    argv = ["eval", *[a.format(gold=gold, pred=pred) for a in args], "--data", str(gold), "--bootstrap", "20"]
    if "compare" not in args:
        argv += ["--pred", str(pred), "--out", str(tmp_path / "o")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert header in printed
    if "95" not in header:
        assert "95%" not in printed


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("pred.ndjson", []),  # naba predict and naba render take .ndjson as JSON Lines too
        ("pred.NDJSON", ["--bio-repair", "begin"]),
        ("pred.ndjson", ["--pred-format", "predictions"]),
    ],
)
def test_predictions_in_an_ndjson_file(tmp_path, name, extra):
    gold, pred = _files(tmp_path)
    pred = pred.rename(tmp_path / name)
    out = tmp_path / "o"
    assert main(["eval", "--data", str(gold), "--pred", str(pred), "--out", str(out), "--bootstrap", "0", *extra]) == 0
    exact = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["scores"]["entity"]["span_exact"]["micro"]
    assert (exact["tp"], exact["fp"], exact["fn"]) == (3, 1, 1)


@pytest.mark.parametrize(
    ("pred_text", "fragment"),
    [
        # one sentence tokenised or spelt otherwise: name it, not every sentence as unpaired
        ("قال الجيش\nدخلت حماه\nفي دمشق", "record 2 (id=gold-00001): text differs from the gold document's text"),
        ("قال الجيش\nدخلت حماة\nفي دمشق", None),
        # nothing in common: another file, its documents are not paired
        ("أ ب\nج د\nه و", "no prediction for this gold document"),
    ],
)
def test_conll_predictions_paired_by_position(tmp_path, capsys, pred_text, fragment):
    gold, pred = tmp_path / "gold.conll", tmp_path / "pred.conll"
    gold.write_text("قال\tO\nالجيش\tB-ACTOR\n\nدخلت\tO\nحماة\tB-LOCATION\n\nفي\tO\nدمشق\tB-LOCATION\n", encoding="utf-8")
    pred.write_text("\n\n".join("\n".join(f"{w}\tO" for w in line.split()) for line in pred_text.split("\n")) + "\n",
                    encoding="utf-8")
    argv = ["eval", "--data", str(gold), "--pred", str(pred), "--out", str(tmp_path / "o"), "--bootstrap", "0",
            "--layers", "entity"]
    assert main(argv) == (0 if fragment is None else 1)
    err = capsys.readouterr().err
    if fragment is not None:
        assert fragment in err
        assert err.count("\n  ") == 1 or "no prediction" in fragment  # the one sentence, alone


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ({"id": "d1", "text": None, "spans": []}, "line 1: 'text' must be a string, got None"),
        ({"id": "d1", "text": 7, "spans": []}, "line 1: 'text' must be a string, got 7"),
        ({"id": "d7", "spans": []}, "line 1: no 'text' in the record and no gold document with id 'd7'"),
    ],
)
def test_prediction_line_with_a_bad_text(tmp_path, line, fragment):
    pred = tmp_path / "pred.jsonl"
    pred.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_predictions(pred, GOLD, scheme=DEFAULT_SCHEME)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("score", "fragment"),
    [
        ("1" + "0" * 400, "line 1: span 0: 'score' is out of range"),  # an integer no float holds: a traceback
        ("-1" + "0" * 400, "line 1: span 0: 'score' is out of range"),
        ("1e400", "line 1: invalid JSON: number 1e400 is out of range"),  # was read as inf, then not writable
    ],
    ids=["big-int", "big-negative-int", "1e400"],
)
def test_prediction_score_out_of_float_range(tmp_path, score, fragment):
    pred = tmp_path / "pred.jsonl"
    pred.write_text('{"id": "d1", "spans": [{"start": 4, "end": 9, "label": "ACTOR", "score": ' + score + "}]}\n",
                    encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_predictions(pred, GOLD, scheme=DEFAULT_SCHEME)
    assert fragment in str(info.value)


@pytest.mark.parametrize("old", [None, "metrics.json"])
def test_eval_that_fails_part_way_leaves_the_out_folder_as_it_was(tmp_path, capsys, disk_full, old):
    gold, pred = _files(tmp_path)
    out = tmp_path / "runs" / "out"
    if old:  # an earlier evaluation's: not beside new errors.jsonl and reports
        out.mkdir(parents=True)
        (out / old).write_text("{}\n", encoding="utf-8")
    before = listing(tmp_path)
    disk_full(5)  # report.html, the last of five
    assert main(["eval", "--data", str(gold), "--pred", str(pred), "--out", str(out), "--bootstrap", "0"]) == 1
    assert f"{out / 'report.html'}: cannot write file: No space left on device" in capsys.readouterr().err
    assert listing(tmp_path) == before


@pytest.mark.parametrize("left", ["out/.naba.1a2b3c4d.tmp/metrics.json", ".out.1a2b3c4d.tmp/metrics.json"])
def test_a_rerun_deletes_what_a_killed_evaluation_staged(tmp_path, left):
    # an evaluation killed while staging (SIGKILL) left its hidden folder: in --out, or beside a new one
    gold, pred = _files(tmp_path)
    (tmp_path / left).parent.mkdir(parents=True)
    (tmp_path / left).write_text("{}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["eval", "--data", str(gold), "--pred", str(pred), "--out", str(out), "--bootstrap", "0"]) == 0
    assert not (tmp_path / left).exists() and not list(tmp_path.rglob("*.tmp"))
    assert sorted(p.name for p in out.iterdir()) == ["errors.jsonl", "metrics.json", "predictions.jsonl",
                                                     "report.html", "report.md"]


def _ls_annotated_and_predicted(folder: Path) -> Path:
    # a person's ACTOR and a model's LOCATION on the one task of a Label Studio export
    def region(start: int, end: int, label: str) -> dict:
        return {"id": "r", "type": "labels", "from_name": "label", "to_name": "text",
                "value": {"start": start, "end": end, "text": T1[start:end], "labels": [label]}}
    tasks = [{"id": 7, "data": {"text": T1, "id": "d1"}, "annotations": [{"result": [region(4, 16, "ACTOR")]}],
              "predictions": [{"result": [region(0, 3, "LOCATION")]}]}]
    (folder / "export.json").write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return folder / "export.json"


@pytest.mark.parametrize(
    "argv",
    [
        # the export on both sides read its annotations on both: a silent 100% F1 for the model's spans
        ["eval", "--pred", "{f}", "--data", "{f}", "--out", "{o}", "--bootstrap", "0"],
        ["eval", "compare", "{f}", "{f}", "--data", "{f}", "--bootstrap", "10", "--out", "{o}"],
    ],
)
def test_a_label_studio_export_on_both_sides_scores_its_predictions(tmp_path, capsys, argv):
    f, o = _ls_annotated_and_predicted(tmp_path), tmp_path / "o"
    assert main([a.format(f=f, o=o) for a in argv]) == 0
    if argv[1] == "compare":
        result = json.loads((o / "compare.json").read_text(encoding="utf-8"))
        assert result["metrics"]["entity/span_exact/micro/f1"]["a"] == 0.0
    else:
        metrics = json.loads((o / "metrics.json").read_text(encoding="utf-8"))
        assert metrics["scores"]["entity"]["span_exact"]["micro"]["fp"] == 1
        assert metrics["scores"]["entity"]["span_exact"]["micro"]["f1"] == 0.0


def _doccano_export(folder: Path) -> Path:
    lines = [{"id": "d1", "text": T1, "label": [[4, 16, "ACTOR"]]}, {"id": "d2", "text": T2, "label": []}]
    (folder / "pred.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
                                       encoding="utf-8")
    return folder / "pred.jsonl"


@pytest.mark.parametrize(
    ("make", "given", "advice", "fix"),
    [
        # a predictions file's reader advised the gold's --source (or --format), which its side does not take
        (_ls_half_annotated, [], "naba data convert FILE OUT.jsonl --source annotations, and give OUT.jsonl",
         ["convert", "--source", "annotations"]),
        (_doccano_export, ["--pred-format", "jsonl"], "(--pred-format doccano, format='doccano')",
         ["--pred-format", "doccano"]),
    ],
)
def test_eval_predictions_reader_advice_names_what_works_for_pred(tmp_path, capsys, make, given, advice, fix):
    gold = tmp_path / "gold.jsonl"
    actor = [{"start": 4, "end": 16, "label": "ACTOR"}]
    gold.write_text("".join(json.dumps({"id": i, "text": t, "spans": sp}, ensure_ascii=False) + "\n"
                            for i, t, sp in (("d1", T1, actor), ("d2", T2, []))), encoding="utf-8")
    pred = make(tmp_path)
    argv = ["eval", "--data", str(gold), "--out", str(tmp_path / "o"), "--bootstrap", "0"]
    assert main([*argv, "--pred", str(pred), *given]) == 1
    err = capsys.readouterr().err
    assert advice in err and "(--source" not in err and "(--format" not in err
    if fix[0] == "convert":
        converted = tmp_path / "converted.jsonl"
        assert main(["data", "convert", str(pred), str(converted), *fix[1:]]) == 0
        assert main([*argv, "--pred", str(converted)]) == 0
    else:
        assert main([*argv, "--pred", str(pred), *fix]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["scores"]["entity"]["span_exact"]["micro"]["tp"] == 1


@pytest.mark.parametrize(
    ("model", "made", "hint"),
    [
        # each said only "no naba.json", leaving the user to find the model one folder down
        ("run/checkpoints/step-20", ["run/checkpoints/step-20/model"], "its model is {tmp}/run/checkpoints/step-20/model"),
        ("cv", ["cv/folds/fold-0/best", "cv/folds/fold-1/best"], "each fold is a run, e.g. {tmp}/cv/folds/fold-0"),
        ("run", ["run/checkpoints/step-9/model", "run/checkpoints/step-10/model"],
         "its last checkpoint's model is {tmp}/run/checkpoints/step-10/model"),  # by number, not as text
        ("run", ["run/checkpoints/step-²/model", "run/checkpoints/step-3/model"],
         "its last checkpoint's model is {tmp}/run/checkpoints/step-3/model"),  # "²" is a digit int() refuses
        ("empty", [], None),
    ],
)
def test_a_folder_that_holds_a_model_further_down_says_where(tmp_path, capsys, model, made, hint):
    gold, _ = _files(tmp_path, None)
    (tmp_path / model).mkdir(parents=True)
    for folder in made:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "naba.json").write_text("{}", encoding="utf-8")
    for args in (["predict", str(tmp_path / model), str(gold), "-o", str(tmp_path / "o.jsonl")],
                 ["eval", str(tmp_path / model), "--data", str(gold), "--out", str(tmp_path / "o")]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "no naba.json" in err and "Traceback" not in err
        if hint is None:
            assert "; " not in err.partition("no naba.json")[2]
        else:
            assert err.rstrip().endswith(hint.format(tmp=tmp_path))


@pytest.mark.parametrize(
    ("command", "layers"),
    [
        # predictions of an entity-only model on gold without claims (ANERcorp) scored CLAIM as
        # P = R = F1 = 0 in every mode, where naba eval MODEL leaves the layer out
        (["eval", "--pred", "{pred}", "--data", "{gold}", "--out", "{tmp}/o"], ["entity"]),
        (["eval", "--pred", "{pred}", "--data", "{gold}", "--out", "{tmp}/o", "--layers", "entity,claim"],
         ["entity", "claim"]),  # asked for, it is scored
        (["eval", "compare", "{pred}", "{pred}", "--data", "{gold}", "--out", "{tmp}/o"], ["entity"]),
    ],
)
def test_files_are_not_scored_on_a_layer_without_a_span(tmp_path, capsys, command, layers):
    gold = tmp_path / "gold.jsonl"
    write([Document(d.id, d.text, [s for s in d.spans if s.label != "CLAIM"]) for d in GOLD], gold)
    pred = tmp_path / "pred.jsonl"
    lines = [{**x, "spans": [s for s in x["spans"] if s["label"] != "CLAIM"]} for x in PRED_LINES]
    pred.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    assert main([a.format(gold=gold, pred=pred, tmp=tmp_path) for a in command]) == 0
    out = capsys.readouterr()
    name = "compare.json" if "compare" in command else "metrics.json"
    written = json.loads((tmp_path / "o" / name).read_text(encoding="utf-8"))
    scored = written["layers"] if "layers" in written else sorted({k.split("/")[0] for k in written["metrics"]})
    assert scored == layers
    assert ("layer claim" in out.out) == ("claim" in layers)
    assert ("not scored" in out.err) == ("claim" not in layers)
    # the hint keeps the scored layers: "--layers claim" scored claim alone
    assert ("--layers entity,claim scores them too" in out.err) == ("claim" not in layers)
