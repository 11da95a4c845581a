"""``naba tag``: texts, .txt files and corpus files through a checkpoint; printed offsets are exact."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_predict_tagger import WORD, oracle_tagger, tiny_checkpoint

from naba.cli import main
from naba.corpus.document import Document, Span
from naba.corpus.jsonl import write_jsonl
from naba.corpus.labels import LabelScheme
from naba.predict import Tagger

# an emoji (two UTF-16 units) before the entities, a CRLF line end, the oracle's word three times
TEXT = "😀 قال الجيش السوري إن مقاتلين دخلوا حماة"
FILE_TEXT = f"قال المرصد السوري\r\nإن الفصائل سيطرت على {WORD} 😀 و {WORD}\r\n"
# "[   36,    40)" in the table
ROW = re.compile(r"^  (\S+)\s+(\S+)\s+\[\s*(\d+),\s*(\d+)\)  (\d\.\d\d)  (.*)$")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("tag"))


@pytest.fixture
def oracle(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``naba tag`` loads a tagger that marks every ``WORD`` as LOCATION (spans known in advance)."""
    real = Tagger.from_pretrained(checkpoint, device="cpu")
    monkeypatch.setattr(Tagger, "from_pretrained", classmethod(lambda cls, *a, **k: oracle_tagger(real)))


def _json_lines(capsys: pytest.CaptureFixture) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _check_offsets(records: list[dict], texts: dict[str, str]) -> None:
    assert [r["id"] for r in records] == list(texts)
    for record in records:
        text = texts[record["id"]]
        for s in record["spans"]:
            assert 0 <= s["start"] < s["end"] <= len(text)
            assert text[s["start"] : s["end"]] == s["text"], (record["id"], s)


def test_tag_texts_as_json(checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    other = f"في {WORD}\r\nاليوم"
    assert main(["tag", str(checkpoint), "--text", TEXT, "--text", other, "--json", "--device", "cpu"]) == 0
    records = _json_lines(capsys)
    _check_offsets(records, {"text-0": TEXT, "text-1": other})
    assert any(r["spans"] for r in records)  # a random model still tags something: offsets were checked
    assert {s["layer"] for r in records for s in r["spans"]} <= {"entity", "claim"}


@pytest.mark.parametrize("order", [
    ["{ckpt}", "{corpus}", "--json", "--device", "cpu"],
    ["{ckpt}", "--json", "{corpus}", "--device", "cpu"],  # an option between the model and the files:
    ["{ckpt}", "--json", "--device", "cpu", "{corpus}"],  # "unrecognized arguments: corpus.jsonl"
])
def test_tag_takes_options_between_model_and_files(tmp_path: Path, checkpoint: Path, capsys, order: list[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    write_jsonl([Document("d1", TEXT)], corpus)
    assert main(["tag", *(a.format(ckpt=checkpoint, corpus=corpus) for a in order)]) == 0
    _check_offsets(_json_lines(capsys), {"d1": TEXT})


@pytest.mark.parametrize("name", ["article.txt", "article.TXT"])  # .TXT was read as CoNLL
def test_tag_a_txt_file_keeps_its_line_ends(
    tmp_path: Path, oracle: None, capsys: pytest.CaptureFixture, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(FILE_TEXT.encode("utf-8"))
    assert main(["tag", "model", str(path), "--json"]) == 0
    (record,) = _json_lines(capsys)
    _check_offsets([record], {"article": FILE_TEXT})
    starts = [i for i in range(len(FILE_TEXT)) if FILE_TEXT.startswith(WORD, i)]
    assert [(s["start"], s["end"], s["label"]) for s in record["spans"]] == [
        (i, i + len(WORD), "LOCATION") for i in starts
    ]


def test_tag_a_txt_file_counts_its_byte_order_mark(tmp_path: Path, oracle: None, capsys: pytest.CaptureFixture) -> None:
    # as naba predict and brat do: offsets count the file's characters, a leading U+FEFF included
    path = tmp_path / "bom.txt"
    path.write_bytes(("\ufeff" + FILE_TEXT).encode("utf-8"))
    assert main(["tag", "model", str(path), "--json"]) == 0
    (record,) = _json_lines(capsys)
    _check_offsets([record], {"bom": "\ufeff" + FILE_TEXT})
    assert record["spans"][0]["start"] == FILE_TEXT.index(WORD) + 1


def test_tag_a_corpus_file_and_a_text_as_a_table(tmp_path: Path, oracle: None, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "corpus.jsonl"
    # gold spans in the corpus are ignored: only its ids and texts are tagged
    write_jsonl([Document("d1", FILE_TEXT, [Span(0, 3, "ACTOR")]), Document("d2", "لا شيء")], corpus)
    assert main(["tag", "model", str(corpus), "--text", TEXT]) == 0
    out = capsys.readouterr().out.splitlines()
    texts = {"text-0": TEXT, "d1": FILE_TEXT, "d2": "لا شيء"}
    headers = [line for line in out if line.startswith("# ")]
    assert [h.split(":")[0] for h in headers] == ["# text-0", "# d1", "# d2"]
    current, rows = None, []
    for line in out:
        if line.startswith("# "):
            current = line[2:].split(":")[0]
            continue
        match = ROW.match(line)
        assert match, line
        layer, label, start, end, _score, shown = match.groups()
        text = texts[current]
        assert shown == " ".join(text[int(start) : int(end)].split())
        rows.append((current, label, text[int(start) : int(end)]))
    assert rows == [("text-0", "LOCATION", WORD), ("d1", "LOCATION", WORD), ("d1", "LOCATION", WORD)]
    assert headers[1] == f"# d1: {len(FILE_TEXT)} characters, 2 span(s)"


# scraped text with terminal escapes (ESC, BEL, C1 CSI) or NUL: printed raw, a claim's text cleared or
# retitled the terminal; the table shows each control character as \xNN
@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("\x9b31m", "\\x9b31m"),
        ("\x00", "\\x00"),
        ("\x7f", "\\x7f"),
    ],
    ids=["csi", "osc", "c1-csi", "nul", "del"],
)
def test_the_table_shows_control_characters_escaped(
    checkpoint: Path, capsys: pytest.CaptureFixture, raw: str, shown: str
) -> None:
    text = f"وقال الوزير إن الوضع {raw}هادئ ."
    assert main(["tag", str(checkpoint), "--text", text, "--rules", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert not re.search("[\x00-\x08\x0e-\x1f\x7f-\x9f]", out)
    claims = [m.groups() for m in map(ROW.match, out.splitlines()) if m and m.group(1) == "claim"]
    assert [(int(c[2]), int(c[3]), c[5]) for c in claims] == [
        (text.index("الوضع"), text.index(" ."), f"الوضع {shown}هادئ")
    ]


def test_tag_a_corpus_file_as_json(tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "corpus.jsonl"
    write_jsonl([Document("d1", TEXT), Document("d2", FILE_TEXT)], corpus)
    assert main(["tag", str(checkpoint), str(corpus), "--json", "--device", "cpu"]) == 0
    _check_offsets(_json_lines(capsys), {"d1": TEXT, "d2": FILE_TEXT})


@pytest.mark.parametrize(
    ("layers", "other"),
    [({"entity": ("ACTOR", "LOCATION", "CLAIM")}, "entity"), ({"entity": ("ACTOR",), "claims": ("CLAIM",)}, "claims")],
)
def test_tag_rules_refuse_a_model_with_claim_in_another_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture, layers: dict, other: str
) -> None:
    # as naba predict --rules does; it printed the model's CLAIMs beside the rules' in another layer
    checkpoint = tiny_checkpoint(tmp_path, scheme=LabelScheme(layers))
    assert main(["tag", str(checkpoint), "--text", TEXT, "--rules", "--device", "cpu"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{checkpoint}: --rules writes CLAIM in layer 'claim', but this model has CLAIM in its layer {other!r}" in captured.err


@pytest.mark.parametrize(
    ("layers", "span"),
    [
        ({"entity": ("ACTOR", "LOCATION", "ORG", "EVENT")}, Span(4, 16, "EVENT")),
        ({"entity": ("ACTOR",), "claim": ("CLAIM", "DENIAL")}, Span(20, 36, "DENIAL")),
    ],
)
def test_tag_a_corpus_file_labelled_in_the_models_own_scheme(
    tmp_path: Path, capsys: pytest.CaptureFixture, layers: dict, span: Span
) -> None:
    # the file was read under naba's built-in scheme: "unknown label 'ORG'", exit 1, for the very
    # labels the model was trained on
    checkpoint = tiny_checkpoint(tmp_path, scheme=LabelScheme(layers))
    corpus = tmp_path / "gold.jsonl"
    text = "قال الجيش السوري إن القوات دخلت حماة"
    corpus.write_text(json.dumps({"id": "d1", "text": text, "spans": [span.to_dict()]}, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    assert main(["tag", str(checkpoint), str(corpus), "--json", "--device", "cpu"]) == 0
    _check_offsets(_json_lines(capsys), {"d1": text})


@pytest.mark.parametrize(("fmt", "line"), [("jsonl", "line 1:"), ("conll", "line 2:")])
def test_a_label_the_models_own_scheme_lacks_names_the_scheme_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, fmt: str, line: str
) -> None:
    # under the model's scheme, "unknown label 'GPE'" named only the corpus file: PERS, LOC, GPE are
    # read by naba's built-in scheme, and nothing said the labels came from the model's naba.json
    checkpoint = tiny_checkpoint(tmp_path, scheme=LabelScheme({"entity": ("ACTOR", "EVENT")}))
    corpus = tmp_path / f"gold.{fmt}"
    text = "قال الجيش في حماة"
    if fmt == "jsonl":
        body = json.dumps({"id": "d1", "text": text, "spans": [Span(13, 17, "GPE").to_dict()]}, ensure_ascii=False)
    else:
        body = "قال O\nالجيش B-GPE\nفي O\nحماة O"
    corpus.write_text(body + "\n", encoding="utf-8")
    assert main(["tag", str(checkpoint), str(corpus), "--json", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert str(corpus) in err and line in err and "unknown label 'GPE'" in err
    assert f"(label scheme of {checkpoint / 'naba.json'})" in err


@pytest.mark.parametrize("layers", [{"entity": ("ACTOR", "LOCATION")}, {"claim": ("CLAIM",)}])
def test_tag_a_corpus_file_in_other_tags_under_a_model_of_builtin_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture, layers: dict
) -> None:
    # a model trained under a scheme file of naba's labels without its mapping: PERS and LOC still
    # read through the built-in scheme, not refused under the model's own
    checkpoint = tiny_checkpoint(tmp_path, scheme=LabelScheme(layers))
    corpus = tmp_path / "gold.conll"
    corpus.write_text("قال O\nالجيش B-PERS\nفي O\nحماة B-LOC\n", encoding="utf-8")
    assert main(["tag", str(checkpoint), str(corpus), "--json", "--device", "cpu"]) == 0
    _check_offsets(_json_lines(capsys), {"gold-00000": "قال الجيش في حماة"})


def test_tag_without_input_is_a_usage_error(checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["tag", str(checkpoint)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nothing to tag: give one or more FILEs or --text TEXT" in captured.err


def test_tag_a_missing_file_is_a_data_error(tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "missing.txt"
    assert main(["tag", str(checkpoint), str(missing)]) == 1
    assert f"{missing}: cannot read file" in capsys.readouterr().err


def test_tag_text_offsets_in_an_ascii_locale(checkpoint: Path) -> None:
    """Under LC_ALL=C with PYTHONUTF8=0 argv arrives as one lone surrogate per UTF-8 byte: --text was
    tagged as such, 'قال الجيش السوري' counted 30 characters and every offset counted bytes."""
    texts = ["قال الجيش السوري", "😀 حماة"]  # both in one process each way: each start loads transformers
    args = [arg for text in texts for arg in ("--text", text)]
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LANG", "LC_ALL")}
    env.update(LC_ALL="C", PYTHONUTF8="0", PYTHONPATH=str(root))
    result = subprocess.run([sys.executable, "-m", "naba.cli", "tag", str(checkpoint), *args, "--json"],
                            capture_output=True, env=env, cwd=root, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    records = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    _check_offsets(records, {f"text-{i}": text for i, text in enumerate(texts)})
    table = subprocess.run([sys.executable, "-m", "naba.cli", "tag", str(checkpoint), *args],
                           capture_output=True, env=env, cwd=root, timeout=120)
    heads = [line for line in table.stdout.decode("utf-8").splitlines() if line.startswith("# ")]
    counted = zip(texts, records, strict=True)
    want = [f"# text-{i}: {len(text)} characters, {len(record['spans'])}" for i, (text, record) in enumerate(counted)]
    assert [h.split(" span(s)")[0] for h in heads] == want


@pytest.mark.parametrize(
    ("tasks", "advice"),
    [
        # tag has no --source: the reader's '--source annotations' was refused as unrecognized
        ([{"id": 1, "data": {"text": "قال محمد"}, "annotations": [{"result": []}]},
          {"id": 2, "data": {"text": "قال محمد"}, "predictions": [{"result": []}]}],
         "naba data convert FILE OUT.jsonl --source annotations, and give OUT.jsonl"),
        ([{"id": 1, "data": {"text": "😀 قال محمد"}, "annotations": [{"result": [
            {"type": "labels", "to_name": "text", "value": {"start": 6, "end": 10, "labels": ["ACTOR"]}}]}]}],
         "naba data convert FILE OUT.jsonl --input-offsets, and give OUT.jsonl"),
    ],
)
def test_tag_a_corpus_file_reader_advice_is_what_tag_can_do(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                           tasks: list, advice: str) -> None:
    src = tmp_path / "export.json"
    src.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    assert main(["tag", str(tmp_path / "no-model"), str(src)]) == 1  # the file is read before the model loads
    err = capsys.readouterr().err
    assert advice in err and "(--source" not in err and "(--input-offsets)" not in err


@pytest.mark.parametrize(
    ("name", "content", "advice"),
    [
        # tag has no --bio-repair: the reader's keyword alone left no way to tag the file
        ("gold.conll", "قال O\nالجيش I-ACTOR\n", "naba data convert FILE OUT.jsonl --bio-repair begin, and give OUT.jsonl"),
    ],
)
def test_tag_keyword_advice_says_how_in_tag(tmp_path: Path, capsys: pytest.CaptureFixture, name: str, content: str,
                                            advice: str) -> None:
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    assert main(["tag", str(tmp_path / "no-model"), str(src)]) == 1
    assert advice in capsys.readouterr().err
