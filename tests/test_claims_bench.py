"""scripts/bench_claims.py: its scoring and its BENCHMARKS.md section; one tiny end-to-end run (slow)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from naba.corpus.anercorp import ClaimRecord, text_sha1, write_standoff
from naba.corpus.document import Document, Span

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("bench_claims", ROOT / "scripts" / "bench_claims.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)

TEXT = "وقال إن الوفد وصل ، وقال إن الوفد غادر ."


def _doc(spans: list[tuple[int, int]]) -> Document:
    return Document("d", TEXT, [Span(s, e, "CLAIM") for s, e in spans])


@pytest.mark.parametrize(
    ("gold", "pred", "exact_f1", "overlap_f1"),
    [
        ([(8, 17)], [(8, 17)], 1.0, 1.0),
        ([(8, 17)], [(8, 20)], 0.0, 1.0),
        ([(8, 17)], [], 0.0, 0.0),
        ([(8, 17), (28, 38)], [(8, 38)], 0.0, 2 * 1.0 * 1.0 / 2.0),
    ],
)
def test_claim_scores(gold, pred, exact_f1: float, overlap_f1: float) -> None:
    result = bench.claim_scores([_doc(gold)], [_doc(pred)], samples=20, seed=0)
    assert result["sentences"] == 1
    assert result["exact"]["f1"] == pytest.approx(exact_f1)
    assert result["overlap"]["f1"] == pytest.approx(overlap_f1)
    assert len(result["exact"]["f1_ci95"]) == 2


def test_rules_predict_claims_only() -> None:
    [doc] = bench.rules([_doc([])])
    assert [doc.span_text(s) for s in doc.spans] == ["الوفد وصل", "الوفد غادر"]
    assert {s.label for s in doc.spans} == {"CLAIM"}


def _conll(sentences: list[str]) -> str:
    tagged = []
    for sentence in sentences:
        tagged.append("\n".join(f"{tok} {'B-PERS' if tok == 'محمد' else 'B-LOC' if tok == 'عمان' else 'O'}" for tok in sentence.split()))
    return "\n\n".join(tagged) + "\n"


@pytest.mark.slow
def test_bench_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    sentences = [f"وقال محمد إن الوفد {i} وصل إلى عمان ." for i in range(12)]
    shared = tmp_path / "shared" / "corpora" / "anercorp"
    shared.mkdir(parents=True)
    claims = tmp_path / "claims"
    for split in ("train", "test"):
        (shared / f"{split}.txt").write_text(_conll(sentences), encoding="utf-8")
        records = []
        for i, text in enumerate(sentences):
            start = text.index("الوفد")
            records.append(ClaimRecord(i, text_sha1(text), ((start, text.index(" .")),), "A"))
        write_standoff(records, claims / f"{split}.jsonl")
    monkeypatch.setenv("NABA_SHARED", str(tmp_path / "shared"))
    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text("# Benchmarks\n\n<!-- bench:other -->\nkept\n<!-- /bench:other -->\n", encoding="utf-8")
    out = tmp_path / "runs"
    code = bench.main(
        ["--steps", "2", "--runs", "1", "--out", str(out), "--bootstrap", "10", "--claims-dir", str(claims), "--benchmarks", str(benchmarks)]
    )
    assert code == 0
    text = benchmarks.read_text(encoding="utf-8")
    assert "kept" in text and "<!-- bench:claims -->" in text and "<!-- /bench:claims -->" in text
    assert "| rule baseline | 12 |" in text and "| joint model | 12 |" in text
    result = json.loads((out / "bench_claims.json").read_text(encoding="utf-8"))
    assert result["data"]["test"] == 12 and result["data"]["train_anercorp"] == 12
    assert result["claims"]["rule baseline"]["exact"]["f1"] == 1.0  # the rules get these sentences right
    assert "## Claims" in capsys.readouterr().out


def _result(**changed) -> dict:
    """A bench_claims.json result of the default run, with ``changed`` keys set otherwise."""
    prf = {"precision": 0.5, "recall": 0.5, "f1": 0.5, "f1_ci95": [0.4, 0.6]}
    f1 = {"f1": 0.5, "f1_ci": [0.4, 0.6]}
    labels = ("ACTOR", "LOCATION", "micro")
    result = {
        "steps": 600, "bootstrap": 1000, "runs": 3, "seeds": [0, 1, 2], "machine": "CPU",
        "seconds": {"joint": 1.0, "entity": 1.0},
        "data": {"train_anercorp": 1, "train_anercorp_with_claims": 1, "train_demo": 1, "test": 1, "test_claims": 1},
        "claims": {"joint model": {"sentences": 1, "exact": prf, "overlap": prf}},
        "entities": {"joint": dict.fromkeys(labels, f1), "entity_only": dict.fromkeys(labels, f1),
                     "paired": {f"entity/span_exact/{x}/f1": {"diff": 0.0, "diff_ci": [0.0, 0.0], "p_value": 1.0}
                                for x in labels}},
        "spread": {k: [0.5] for k in ("CLAIM exact", "CLAIM overlap", *(f"{m} {x}" for m in ("joint", "entity") for x in labels))},
    }
    return {**result, **changed}


@pytest.mark.parametrize(
    ("changed", "command"),
    [
        ({}, "python scripts/bench_claims.py --steps 600"),
        ({"steps": 50, "runs": 1, "seeds": [0]}, "python scripts/bench_claims.py --steps 50 --runs 1"),
        ({"bootstrap": 200}, "python scripts/bench_claims.py --steps 600 --bootstrap 200"),
        ({"seeds": [5, 6, 7]}, "python scripts/bench_claims.py --steps 600 --seed 5"),
        ({"claims_dir": "/x/claims"}, "python scripts/bench_claims.py --steps 600 --claims-dir /x/claims"),
    ],
)
def test_the_section_shows_the_command_that_made_it(changed: dict, command: str) -> None:
    # only --steps was shown: a run with --runs 1 --bootstrap 200 read as the default run
    assert f"`{command}` on CPU." in bench.render(_result(**changed))
