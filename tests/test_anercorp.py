"""ANERcorp + stand-off claims: the join, the hash pin and the errors, on tiny synthetic files.

The last test reads the real corpus from ../shared and the committed stand-off files; it skips when
either is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from naba.corpus.anercorp import (
    ClaimRecord,
    default_claims_dir,
    find_shared,
    load_anercorp,
    read_standoff,
    text_sha1,
    write_standoff,
)
from naba.corpus.labels import DEFAULT_SCHEME
from naba.errors import ConfigError, DataError

# Three sentences written for this test (not ANERcorp's text), tab-separated as CoNLL files may be;
# the second has a direction mark that the reader strips, the third a MISC tag.
CONLL = """\
وقال	O
محمد	B-PERS
إن	O
الوفد	O
وصل	O
إلى	O
عمان	B-LOC
.	O

ذهب	O
\u200fالرئيس	O
إلى	O
بيروت	B-LOC
.	O

قالت	O
الأمم	B-ORG
المتحدة	I-ORG
إن	O
المونديال	B-MISC
انتهى	O
.	O
"""
TEXTS = [
    "وقال محمد إن الوفد وصل إلى عمان .",
    "ذهب الرئيس إلى بيروت .",
    "قالت الأمم المتحدة إن المونديال انتهى .",
]


def _claim(text: str, part: str) -> list[int]:
    start = text.index(part)
    return [start, start + len(part)]


def _record(i: int, claims: list[list[int]], *, sha1: str | None = None) -> dict:
    return {"sentence": i, "sha1": sha1 or text_sha1(TEXTS[i]), "claims": claims, "pass": "A"}


GOOD = [
    _record(0, [_claim(TEXTS[0], "الوفد وصل إلى عمان")]),
    _record(1, []),
]


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    shared = tmp_path / "shared"
    (shared / "corpora" / "anercorp").mkdir(parents=True)
    (shared / "corpora" / "anercorp" / "test.txt").write_text(CONLL, encoding="utf-8")
    claims = tmp_path / "claims"
    claims.mkdir()
    return shared, claims


def _write(claims: Path, records: list[dict], split: str = "test") -> Path:
    path = claims / f"{split}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_join_entities_claims_and_read_flags(corpus: tuple[Path, Path]) -> None:
    shared, claims = corpus
    _write(claims, GOOD)
    docs = load_anercorp("test", shared=shared, claims_dir=claims)
    assert [d.text for d in docs] == TEXTS
    assert [d.id for d in docs] == ["test-00000", "test-00001", "test-00002"]
    assert [d.meta["claims_read"] for d in docs] == [True, True, False]
    assert [(docs[0].span_text(s), s.label) for s in docs[0].spans] == [
        ("محمد", "ACTOR"),
        ("الوفد وصل إلى عمان", "CLAIM"),
        ("عمان", "LOCATION"),
    ]
    assert [(docs[1].span_text(s), s.label) for s in docs[1].spans] == [("بيروت", "LOCATION")]
    # MISC is dropped by the mapping; an unread sentence has no CLAIM spans.
    assert [(docs[2].span_text(s), s.label) for s in docs[2].spans] == [("الأمم المتحدة", "ACTOR")]


def test_only_annotated_and_entity_scheme(corpus: tuple[Path, Path]) -> None:
    shared, claims = corpus
    _write(claims, GOOD)
    docs = load_anercorp("test", shared=shared, claims_dir=claims, only_annotated=True)
    assert [d.meta["sentence"] for d in docs] == [0, 1]
    entity_only = load_anercorp("test", shared=shared, claims_dir=claims, scheme=DEFAULT_SCHEME.restrict(["entity"]))
    assert all(s.label != "CLAIM" for d in entity_only for s in d.spans)
    assert entity_only[0].meta["claims_read"] is True


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (
            [_record(0, [], sha1="0" * 40)],
            ["sentence 0", "text hash mismatch", "expected sha1 " + "0" * 40, text_sha1(TEXTS[0])],
        ),
        ([_record(1, [[5, 99]])], ["sentence 1", "out of range"]),
        ([_record(1, [[4, 4]])], ["sentence 1", "start must be before end"]),
        ([_record(0, [[0, 10], [5, 12]])], ["sentence 0", "overlap"]),
        ([{"sentence": 7, "sha1": "a" * 40, "claims": []}], ["sentence 7", "has only 3 sentences"]),
    ],
    ids=["hash", "offset-out-of-range", "empty-span", "overlapping-claims", "sentence-out-of-range"],
)
def test_records_that_do_not_fit_the_corpus(corpus: tuple[Path, Path], records: list[dict], expected: list[str]) -> None:
    shared, claims = corpus
    path = _write(claims, records)
    with pytest.raises(DataError) as err:
        load_anercorp("test", shared=shared, claims_dir=claims)
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"sentence": 0, "sha1": "' + "a" * 40 + '", "claims": [], "spans": []}', "unknown key(s) ['spans']"),
        ('{"sentence": 0, "claims": []}', "missing key(s) ['sha1']"),
        ('{"sentence": -1, "sha1": "' + "a" * 40 + '", "claims": []}', "non-negative integer"),
        ('{"sentence": true, "sha1": "' + "a" * 40 + '", "claims": []}', "non-negative integer"),
        ('{"sentence": 0, "sha1": "ABC", "claims": []}', "40 lowercase hex"),
        ('{"sentence": 0, "sha1": "' + "a" * 40 + '", "claims": [[1]]}', "list of [start, end]"),
        ('{"sentence": 0, "sha1": "' + "a" * 40 + '", "claims": [[1.0, 2]]}', "list of [start, end]"),
    ],
)
def test_read_standoff_rejects_bad_lines(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "test.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_standoff(path)
    assert expected in str(err.value)
    assert f"{path}: line 1" in str(err.value)


def test_read_standoff_duplicate_sentence(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    rec = json.dumps({"sentence": 3, "sha1": "a" * 40, "claims": []})
    path.write_text(f"{rec}\n\n{rec}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 3: sentence 3 again \(first on line 1\)"):
        read_standoff(path)


def test_standoff_round_trip(tmp_path: Path) -> None:
    records = [ClaimRecord(5, "b" * 40, ((3, 9), (12, 20)), "B"), ClaimRecord(1, "a" * 40, (), "A")]
    path = tmp_path / "out" / "x.jsonl"
    write_standoff(records, path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == json.dumps(records[1].to_json())
    assert read_standoff(path) == {1: records[1], 5: records[0]}
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize(
    ("call", "error", "expected"),
    [
        (lambda s, c: load_anercorp("dev", shared=s, claims_dir=c), ConfigError, "split must be one of"),
        (lambda s, c: load_anercorp("test", shared=s / "nope", claims_dir=c), DataError, "ANERcorp not found"),
        (lambda s, c: load_anercorp("test", shared=s, claims_dir=c / "nope"), DataError, "stand-off claim file not found"),
        (lambda s, c: find_shared(s / "nope"), DataError, "NABA_SHARED"),
    ],
    ids=["bad-split", "no-shared", "no-standoff", "find-shared"],
)
def test_missing_inputs(corpus: tuple[Path, Path], call, error: type[Exception], expected: str) -> None:
    shared, claims = corpus
    with pytest.raises(error, match=expected):
        call(shared, claims)


def test_installed_naba_without_claims_folder_says_to_pass_one(
    corpus: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # pip installs naba/ alone: the default claims folder, beside the package, is not there
    import naba.corpus.anercorp as anercorp

    monkeypatch.setattr(anercorp, "_REPO", tmp_path / "site-packages")
    shared, _ = corpus
    with pytest.raises(DataError, match=r"site-packages.*data/anercorp-claims.*installed naba.*claims_dir="):
        load_anercorp("test", shared=shared)


def test_find_shared_from_environment(corpus: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    shared, _ = corpus
    monkeypatch.setenv("NABA_SHARED", str(shared))
    assert find_shared() == shared


@pytest.mark.shared
@pytest.mark.parametrize("split", ["test", "train"])
def test_real_anercorp_with_committed_claims(split: str, shared: Path) -> None:
    if not (default_claims_dir() / f"{split}.jsonl").is_file():
        pytest.skip(f"data/anercorp-claims/{split}.jsonl is not built yet")
    records = read_standoff(default_claims_dir() / f"{split}.jsonl")
    docs = load_anercorp(split, shared=shared)
    assert len(docs) == {"test": 925, "train": 3963}[split]
    read = [d for d in docs if d.meta["claims_read"]]
    assert len(read) == len(records)
    n_claims = sum(len(r.claims) for r in records.values())
    assert sum(1 for d in read for s in d.spans if s.label == "CLAIM") == n_claims
    for doc in read:
        for span in doc.spans_of({"CLAIM"}):
            text = doc.span_text(span)
            assert text == text.strip() and text, (doc.id, text)


@pytest.mark.slow
def test_anercorp_script_from_another_folder(shared: Path, tmp_path: Path) -> None:
    # scripts/anercorp.sh started by a relative path from outside the checkout, with relative
    # SHARED/RUNS/BENCH: it found reportlib through $0 after its cd (an ImportError once training
    # and both evaluations were done), and took those paths inside the checkout
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "mini" / "corpora" / "anercorp"
    corpus.mkdir(parents=True)
    for name in ("train", "test", "test.as_circulated"):
        sentences = (shared / "corpora" / "anercorp" / f"{name}.txt").read_text(encoding="utf-8").split("\n\n")
        (corpus / f"{name}.txt").write_text("\n\n".join(sentences[:40]) + "\n", encoding="utf-8")
    (tmp_path / "B.md").write_text("# Benchmarks\n\n<!-- bench:other -->\nkept\n<!-- /bench:other -->\n")
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "SHARED": "mini", "RUNS": "runs",
           "BENCH": "B.md", "STEPS": "2", "BATCH": "4", "MAX_LENGTH": "32", "STRIDE": "8", "BOOTSTRAP": "10"}
    script = os.path.relpath(repo / "scripts" / "anercorp.sh", tmp_path)
    done = subprocess.run(["bash", script, "model.num_layers=1", "model.hidden_size=32", "model.heads=2",
                           "model.intermediate=64"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    bench = (tmp_path / "B.md").read_text()
    assert "<!-- bench:other -->\nkept\n<!-- /bench:other -->" in bench and "## ANERcorp" in bench
    assert (tmp_path / "runs" / "anercorp-small" / "eval" / "test" / "metrics.json").is_file()


@pytest.mark.parametrize("set_to", ["nope", ""])
def test_find_shared_takes_a_set_naba_shared_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_to: str) -> None:
    # NABA_SHARED=/wrong/path with ../shared present quietly read ../shared's ANERcorp instead
    found = tmp_path / "beside" / "shared"
    (found / "corpora" / "anercorp").mkdir(parents=True)
    (tmp_path / "beside" / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "beside" / "cwd")  # its ../shared holds corpora/anercorp
    monkeypatch.setenv("NABA_SHARED", str(tmp_path / set_to) if set_to else "")
    if set_to:
        with pytest.raises(DataError, match=f"ANERcorp not found .*{set_to}"):
            find_shared()
    else:  # set but empty: as if not set
        assert find_shared() == Path.cwd().parent / "shared"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"NABA_SHARED": "elsewhere"}, "elsewhere/corpora/anercorp"),  # naba's own variable, relative to the caller
        ({"SHARED": "first", "NABA_SHARED": "elsewhere"}, "first/corpora/anercorp"),  # SHARED wins
    ],
)
def test_anercorp_script_looks_where_naba_shared_says(tmp_path: Path, env: dict, named: str) -> None:
    # scripts/anercorp.sh read SHARED only: NABA_SHARED, which naba's own commands read, was ignored
    # and the script looked in ../shared
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    base = {k: v for k, v in os.environ.items() if k not in ("SHARED", "NABA_SHARED")}
    done = subprocess.run(["bash", str(repo / "scripts" / "anercorp.sh")], cwd=tmp_path, env={**base, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"{tmp_path}/{named}/train.txt not found" in done.stderr


def test_anercorp_script_runs_a_relative_python_from_where_it_was_started(tmp_path: Path) -> None:
    # PYTHON=.venv/bin/python from another folder was looked up in the checkout the script moves to
    import os
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "mini" / "corpora" / "anercorp"
    corpus.mkdir(parents=True)
    (corpus / "train.txt").write_text("قال O\n", encoding="utf-8")
    fake = tmp_path / "venv" / "py"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho ran > "$CALLS"\nexit 3\n')  # a stand-in interpreter: the first step fails
    fake.chmod(0o755)
    env = {**os.environ, "SHARED": "mini", "PYTHON": "venv/py", "CALLS": str(tmp_path / "calls"), "RUNS": "runs"}
    done = subprocess.run(["bash", str(repo / "scripts" / "anercorp.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert (tmp_path / "calls").read_text() == "ran\n"
