"""The annotators' tool: the agreement sample is reproducible, raw files are checked claim by claim."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("anercorp_annotate", ROOT / "scripts" / "anercorp_annotate.py")
tool = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tool)


@pytest.mark.shared
def test_the_agreement_sample_is_drawn_again_from_its_seed(shared: Path, capsys) -> None:
    assert tool.main(["sample", "test", "100", "--seed", "2026"]) == 0
    drawn = capsys.readouterr().out.split()
    assert drawn == (ROOT / "data" / "anercorp-claims" / "sample_B.indices").read_text(encoding="utf-8").split()


@pytest.mark.shared
def test_check_reports_each_bad_claim(shared: Path, tmp_path: Path, capsys) -> None:
    texts = tool.sentences("test")
    # a sentence with a word that occurs twice, and a word that occurs once
    i, text = next((i, t) for i, t in enumerate(texts) if any(t.count(f" {w} ") > 1 for w in t.split()))
    repeated = next(w for w in text.split() if text.count(f" {w} ") > 1)
    once = next(w for w in text.split() if text.count(w) == 1)
    raw = tmp_path / "raw.tsv"
    raw.write_text(
        f"test\t{i}\t{once}\n"                   # fine
        f"test\t{i}\tno such words here\n"       # not found
        f"test\t{i}\t {repeated} \n"             # ambiguous (claims are stripped: the word alone)
        f"test\t{i}\t{repeated} @@99\n"          # occurrence out of range
        "test\tx\t\n",                           # bad index
        encoding="utf-8",
    )
    errors = tool.check(raw)
    out = capsys.readouterr().out
    assert f"line 2 (test {i}): claim not found in the sentence" in out
    assert f"line 3 (test {i}): claim occurs" in out
    assert f"line 4 (test {i}): @@99, but the claim occurs" in out
    assert "line 5: need SPLIT<TAB>INDEX<TAB>claims" in out
    assert "line 1 " not in out
    assert errors == 4


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("test\t7\tكلمة", "line 1: sentence index 7 is not in 0..1"),           # was an IndexError
        ("test\t²\tكلمة", "line 1: need SPLIT<TAB>INDEX<TAB>claims"),          # was a ValueError from int()
        ("test\t0\tكلمة@@x", "line 1 (test 0): claim not found"),                # was a ValueError; build reads it so
        ("test\t0\tكلمة\tأخرى", "line 1: need SPLIT<TAB>INDEX<TAB>claims"),      # build refuses 4 fields; check passed it
        ("dev\t0\tكلمة", "line 1: unknown split 'dev'"),                         # was a raw DataError from the corpus
        ("test\t1\tكلمة @@2", "0 errors"),
    ],
    ids=["index-out-of-range", "superscript-index", "bad-occurrence", "four-fields", "unknown-split", "fine"],
)
def test_check_reports_bad_lines_without_a_traceback(tmp_path: Path, capsys, monkeypatch, line: str,
                                                     expected: str) -> None:
    monkeypatch.setattr(tool, "sentences", lambda split: ["قال إن كلمة", "كلمة ثم كلمة"])  # not ANERcorp's text
    raw = tmp_path / "raw.tsv"
    raw.write_text(line + "\n", encoding="utf-8")
    errors = tool.check(raw)
    assert expected in capsys.readouterr().out
    assert errors == (expected != "0 errors")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["dump", "test", "0", "2"], "ANERcorp not found"),                              # was a DataError traceback
        (["check", "{tmp}/missing.tsv"], "missing.tsv: cannot read file"),               # was FileNotFoundError
        (["show", "test", "{tmp}/idx"], "idx: item 2: '7' is not a sentence index in 0..1"),  # was IndexError
        (["sample", "test", "5"], "sample: cannot draw 5 of its 1 candidate sentences"),     # was ValueError
    ],
    ids=["no-shared", "missing-file", "index-out-of-range", "sample-too-large"],
)
def test_bad_input_is_one_message_not_a_traceback(tmp_path: Path, capsys, monkeypatch, argv: list[str],
                                                  expected: str) -> None:
    monkeypatch.setenv("NABA_SHARED", str(tmp_path / "no-shared-here"))
    if argv[0] != "dump":  # the others fail on their own input, not on the corpus
        monkeypatch.setattr(tool, "sentences", lambda split: ["قال إن كلمة", "كلمة ثم كلمة"])
    (tmp_path / "idx").write_text("1\n7\n²\n", encoding="utf-8")  # ²: a digit int() refuses
    assert tool.main([a.format(tmp=tmp_path) for a in argv]) == 1
    out = capsys.readouterr()
    assert expected in out.err
    assert out.out == ""  # show printed nothing before it found the bad index


def test_an_unknown_split_is_a_usage_error(capsys) -> None:
    # was a DataError traceback (cannot read .../dev.txt), or "ANERcorp not found" without ../shared
    with pytest.raises(SystemExit) as exit_:
        tool.main(["dump", "dev", "0", "2"])
    assert exit_.value.code == 2
    assert "invalid choice: 'dev'" in capsys.readouterr().err


def test_dump_into_a_reader_that_leaves_early_ends_quietly(tmp_path: Path) -> None:
    # `anercorp_annotate.py dump train 0 5000 | head` ended in a BrokenPipeError traceback
    import os
    import subprocess
    import sys

    corpus = tmp_path / "corpora" / "anercorp"
    corpus.mkdir(parents=True)
    (corpus / "train.txt").write_text("قال O\nالجيش B-ORG\n\n" * 20000, encoding="utf-8")  # more than a pipe holds
    script = ROOT / "scripts" / "anercorp_annotate.py"
    done = subprocess.run(f"'{sys.executable}' '{script}' dump train 0 20000 | head -1", shell=True, cwd=tmp_path,
                          env={**os.environ, "NABA_SHARED": str(tmp_path)}, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout == "0\tقال الجيش\n"
    assert done.stderr == ""
