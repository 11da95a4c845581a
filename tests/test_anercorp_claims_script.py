"""scripts/anercorp_claims.py: raw annotation -> stand-off, agreement figures, README blocks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

from naba.corpus.anercorp import load_anercorp, read_standoff, text_sha1

_SPEC = importlib.util.spec_from_file_location("anercorp_claims", Path(__file__).parents[1] / "scripts" / "anercorp_claims.py")
ac = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ac)

SENTENCES = [
    "وقال إن الوفد وصل ، وقال إن الوفد غادر .",
    "ذهب الرئيس إلى بيروت .",
    'وقال : " متى تنتهي الحرب ؟ " .',
]


def _parse(lines: list[str], split: str = "test"):
    return ac.parse_raw(lines, SENTENCES, split=split, annotation_pass="A", source="raw.tsv")


def _texts(record) -> list[str]:
    return [SENTENCES[record.sentence][s:e] for s, e in record.claims]


@pytest.mark.parametrize(
    ("line", "claims"),
    [
        ("test\t1\t", []),
        ("test\t1", []),
        ("test\t0\tالوفد غادر", ["الوفد غادر"]),
        ("test\t0\tالوفد وصل @@1 ||| الوفد @@2", ["الوفد وصل", "الوفد"]),
        ("test\t0\t الوفد غادر  |||  ", ["الوفد غادر"]),
        ('test\t2\tمتى تنتهي الحرب ؟ "', ["متى تنتهي الحرب"]),
    ],
    ids=["read-no-claim", "no-claim-field", "one", "occurrence-suffix", "spaces", "edges-trimmed"],
)
def test_parse_raw_resolves_claims(line: str, claims: list[str]) -> None:
    [record], problems, _ = _parse([line])
    assert problems == []
    assert _texts(record) == claims
    assert record.sha1 == text_sha1(SENTENCES[record.sentence])
    assert record.annotation_pass == "A"


def test_parse_raw_notes_trimmed_edges() -> None:
    _, _, notes = _parse(['test\t2\tمتى تنتهي الحرب ؟ "'])
    assert len(notes) == 1 and "edge punctuation moved out" in notes[0].reason


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["test\t0\tالوفد عاد"], "line 1 (sentence 0): claim not found in the sentence: 'الوفد عاد'"),
        (["test\t0\tالوفد"], "claim occurs 2 times; add @@N"),
        (["test\t0\tالوفد @@3"], "@@3 but the claim occurs 2 time(s)"),
        (["train\t0\t"], "split 'train' in a file of split 'test'"),
        (["test\t9\t"], "sentence index '9' is not in 0..2"),
        (["test\tx\t"], "sentence index 'x'"),
        (["test\t²\t"], "sentence index '²'"),  # a digit int() refuses: was a ValueError
        (["test\t0\ta\tb"], "got 4 field(s)"),
        (["test\t0\tالوفد وصل @@1 ||| وصل"], "claims overlap"),
        (["test\t2\t؟ \""], "claim has no word"),
        (["test\t1\t", "test\t1\tالرئيس"], "line 2 (sentence 1): sentence 1 annotated again, differently (first on line 1)"),
    ],
)
def test_parse_raw_problems(lines: list[str], expected: str) -> None:
    _, problems, _ = _parse(lines)
    assert any(expected in str(p) for p in problems), [str(p) for p in problems]


def test_parse_raw_same_line_twice_is_fine() -> None:
    records, problems, _ = _parse(["test\t1\t", "test\t1\t"])
    assert problems == [] and len(records) == 1


CONLL = "\n\n".join("\n".join(f"{tok} O" for tok in s.split()) for s in SENTENCES) + "\n"


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    shared = tmp_path / "shared"
    (shared / "corpora" / "anercorp").mkdir(parents=True)
    (shared / "corpora" / "anercorp" / "test.txt").write_text(CONLL, encoding="utf-8")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "test.A.tsv").write_text("test\t0\tالوفد وصل ||| الوفد غادر\ntest\t1\t\n", encoding="utf-8")
    (raw / "test.B.tsv").write_text("test\t0\tالوفد وصل ، وقال إن الوفد غادر\ntest\t1\t\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("# claims\n\n<!-- counts -->\nold\n<!-- /counts -->\n\nend\n", encoding="utf-8")
    return {"shared": shared, "raw": raw, "out": out}


def test_build_then_load_then_agreement(workspace: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    shared, raw, out = workspace["shared"], workspace["raw"], workspace["out"]
    assert ac.main(["build", "--raw", str(raw), "--shared", str(shared), "--out", str(out)]) == 0
    assert "| `test.jsonl` | 2 | 1 | 2 | 0 |" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "test.B.jsonl", "test.jsonl"]
    assert read_standoff(out / "test.B.jsonl")[0].annotation_pass == "B"
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "old" not in readme and "| `test.B.jsonl` | 2 | 1 | 1 | 0 |" in readme and readme.endswith("end\n")

    docs = load_anercorp("test", shared=shared, claims_dir=out)
    assert [docs[0].span_text(s) for s in docs[0].spans] == ["الوفد وصل", "الوفد غادر"]

    assert ac.main(["agreement", "--out", str(out)]) == 0
    result = yaml.safe_load((out / "agreement.yaml").read_text(encoding="utf-8"))
    # A: two claims; B: one claim covering both. Exact: nothing matches. Overlap: B's claim hits,
    # and both A claims are hit.
    assert result["sentences"] == 2 and result["claims_A"] == 2 and result["claims_B"] == 1
    assert result["exact"]["f1"] == 0.0
    assert result["overlap"]["precision"] == 1.0 and result["overlap"]["recall"] == 1.0
    assert (result["sentences_differing"], result["claims_only_A"], result["claims_only_B"]) == (1, 2, 1)
    assert "<!-- agreement -->" in (out / "README.md").read_text(encoding="utf-8")


def test_build_writes_nothing_when_a_line_is_bad(workspace: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    shared, raw, out = workspace["shared"], workspace["raw"], workspace["out"]
    (raw / "test.B.tsv").write_text("test\t0\tلا يوجد\n", encoding="utf-8")
    assert ac.main(["build", "--raw", str(raw), "--shared", str(shared), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "test.B.tsv: line 1 (sentence 0): claim not found" in err
    assert sorted(p.name for p in out.iterdir()) == ["README.md"]


def test_build_with_adjudicated_gold(workspace: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    shared, raw, out = workspace["shared"], workspace["raw"], workspace["out"]
    (raw / "test.gold.tsv").write_text("test\t0\tالوفد وصل\ntest\t1\t\ntest\t2\t\n", encoding="utf-8")
    assert ac.main(["build", "--raw", str(raw), "--shared", str(shared), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.jsonl")) == ["test.A.jsonl", "test.B.jsonl", "test.jsonl"]
    gold = read_standoff(out / "test.jsonl")
    assert sorted(gold) == [0, 1, 2] and gold[0].annotation_pass == "gold" and len(gold[0].claims) == 1
    assert len(read_standoff(out / "test.A.jsonl")[0].claims) == 2
    assert ac.main(["agreement", "--out", str(out)]) == 0
    result = yaml.safe_load((out / "agreement.yaml").read_text(encoding="utf-8"))
    assert result["claims_A"] == 2 and result["claims_B"] == 1  # A vs B, not gold vs B
    assert result["A_vs_gold"]["sentences"] == 2 and result["A_vs_gold"]["exact"]["precision"] == 1.0
    g = result["A_vs_gold"]
    assert (g["sentences_differing"], g["claims_only_A"], g["claims_only_B"]) == (1, 1, 0)
    printed = capsys.readouterr().out
    assert "adjudicated gold" in printed and "The gold differs from A in 1 of the 2 sentences" in printed


@pytest.mark.parametrize(
    ("part", "ok"),
    [
        ('test\t2\tمتى تنتهي الحرب\ntest\t1\t\n', True),  # a new sentence, and one repeated identically
        ("test\t1\tالرئيس\n", False),  # sentence 1 again, differently
    ],
)
def test_build_merges_parts_of_a_pass(workspace: dict[str, Path], capsys: pytest.CaptureFixture, part: str, ok: bool) -> None:
    shared, raw, out = workspace["shared"], workspace["raw"], workspace["out"]
    (raw / "test.A2.tsv").write_text(part, encoding="utf-8")
    code = ac.main(["build", "--raw", str(raw), "--shared", str(shared), "--out", str(out)])
    if ok:
        assert code == 0
        assert sorted(read_standoff(out / "test.jsonl")) == [0, 1, 2]
    else:
        assert code == 1
        assert "test.A2.tsv: sentence 1: annotated differently in test.A.tsv" in capsys.readouterr().err
        assert not (out / "test.jsonl").exists()


def test_build_without_raw_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert ac.main(["build", "--raw", str(tmp_path), "--out", str(tmp_path)]) == 1
    assert "no raw annotation files" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("a", "b", "row"),
    [
        ([(0, 5)], [(0, 5)], [1, 1, 1, 1, 1]),
        ([(0, 5)], [(0, 6)], [1, 1, 0, 1, 1]),
        ([(0, 5)], [(5, 9)], [1, 1, 0, 0, 0]),  # touching is not overlapping
        ([(0, 5), (7, 9)], [(3, 8)], [2, 1, 0, 2, 1]),
        ([], [(1, 2)], [0, 1, 0, 0, 0]),
        ([], [], [0, 0, 0, 0, 0]),
    ],
)
def test_sentence_counts(a, b, row) -> None:
    assert ac.sentence_counts(a, b) == row


def test_scores_from_counts() -> None:
    rows = np.array([[2, 1, 0, 2, 1], [1, 2, 1, 1, 1]], dtype=float)
    result = ac.scores(rows)
    assert result["exact"] == pytest.approx({"precision": 1 / 3, "recall": 1 / 3, "f1": 1 / 3})
    assert result["overlap"]["precision"] == pytest.approx(2 / 3)
    assert result["overlap"]["recall"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("x", "y", "kappa"),
    [
        ([True, False, True, False], [True, False, True, False], 1.0),
        ([True, True, False, False], [True, False, True, False], 0.0),
        ([True, False], [False, True], -1.0),
    ],
)
def test_cohen_kappa(x, y, kappa) -> None:
    assert ac.cohen_kappa(x, y) == pytest.approx(kappa)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\n<!-- x -->\nold\n<!-- /x -->\nb\n", "a\n<!-- x -->\nnew\n<!-- /x -->\nb\n"),
        ("a\n", "a\n\n<!-- x -->\nnew\n<!-- /x -->\n"),
    ],
)
def test_replace_block(text: str, expected: str) -> None:
    assert ac.replace_block(text, "x", "new\n") == expected


@pytest.mark.parametrize(
    "text",
    [
        "a\n<!-- x -->\nold\n\n<!-- y -->\nkept\n<!-- /y -->\n",  # an end lost: appending made two starts
        "a\n<!-- /x -->\n<!-- y -->\nkept\n<!-- /y -->\n<!-- x -->\nold\n",  # end before start (IndexError)
        "<!-- x -->\n1\n<!-- /x -->\n<!-- x -->\n2\n<!-- /x -->\n",
    ],
)
def test_replace_block_refuses_markers_that_are_not_one_pair(text: str) -> None:
    with pytest.raises(ValueError, match="not one pair"):
        ac.replace_block(text, "x", "new\n")


def test_write_section_leaves_a_file_with_broken_markers_alone(tmp_path: Path) -> None:
    import reportlib

    bench = tmp_path / "BENCHMARKS.md"
    text = "# Benchmarks\n\n<!-- bench:gpu -->\nold\n\n<!-- bench:host -->\nkept\n<!-- /bench:host -->\n"
    bench.write_text(text)
    with pytest.raises(SystemExit, match="BENCHMARKS.md: the markers .* left as it was"):
        reportlib.write_section(bench, "gpu", "new")
    assert bench.read_text() == text
    reportlib.write_section(bench, "host", "new")
    assert "<!-- bench:host -->\nnew\n<!-- /bench:host -->" in bench.read_text()
