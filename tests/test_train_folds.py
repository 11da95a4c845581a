"""Cross-validation (``naba train CONFIG --folds K``): K ordinary runs on document folds, their mean
and sd in cv.json, fold-by-fold resumption, and clear errors. Tiny models, one torch thread."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from test_train_run import synthetic, write_jsonl

from naba.cli import main as naba_main
from naba.corpus.formats import read
from naba.errors import ConfigError
from naba.eval import flatten
from naba.train import load_config
from naba.train.folds import cross_validate

# about a second of training per fold on 2 CPU cores
TINIEST = {"name_or_path": "naba-small", "hidden_size": 32, "num_layers": 1, "heads": 2, "intermediate": 64,
           "vocab_size": 150, "max_length": 64, "stride": 16}


def config_file(folder: Path, n_docs: int = 8) -> Path:
    docs = synthetic(n_docs, 0)  # 8 documents: folds of 3 and 5 with data.dev_seed 0
    train = write_jsonl(folder / "train.jsonl", docs)
    path = folder / "cv.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"train": str(train)},  # no dev: each fold carves one from its training documents
        "model": TINIEST,
        "optim": {"lr": 3e-3, "batch_size": 4, "max_steps": 3},
        "run": {"dir": str(folder / "runs"), "threads": 1, "tracker": "none"},
    }), encoding="utf-8")
    return path


def naba_train(*args: str) -> int:
    from accelerate.state import AcceleratorState

    try:
        return naba_main(["train", *args])
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


@pytest.mark.slow
def test_k_folds_are_trained_tested_on_their_fold_and_averaged(tmp_path: Path, capsys) -> None:
    path = config_file(tmp_path)
    assert naba_train(str(path), "--folds", "2", "--no-progress") == 0
    shown = capsys.readouterr()
    run = tmp_path / "runs" / "cv"
    cv = json.loads((run / "cv.json").read_text(encoding="utf-8"))
    assert cv["folds"] == 2 and cv["documents"] == 8 and sorted(cv["test_documents"]) == [3, 5]

    # each fold tests on its own documents: disjoint, together all of data.train, never trained on
    every = {d.id for d in read(tmp_path / "train.jsonl")}
    tests = [{d.id for d in read(run / "data" / f"fold-{i}" / "test.jsonl")} for i in range(2)]
    assert not tests[0] & tests[1] and tests[0] | tests[1] == every
    for i in range(2):
        assert {d.id for d in read(run / "data" / f"fold-{i}" / "train.jsonl")} == every - tests[i]
        saved = yaml.safe_load((run / "folds" / f"fold-{i}" / "config.yaml").read_text(encoding="utf-8"))
        assert saved["data"]["test"] == [f"../data/fold-{i}/test.jsonl"]  # relative: the folder may move

    # cv.json's means are the means of the folds' own final metrics
    finals = [flatten(json.loads((run / "folds" / f"fold-{i}" / "metrics.json").read_text())["final"])
              for i in range(2)]
    assert "test/micro/f1" in cv["metrics"] and "test/entity/f1" in cv["metrics"]
    for name, agg in cv["metrics"].items():
        assert agg["values"] == [finals[0][name], finals[1][name]]
        assert math.isclose(agg["mean"], (finals[0][name] + finals[1][name]) / 2)
    micro = cv["metrics"]["test/micro/f1"]
    assert f"{micro['mean']:.4f} ± {micro['sd']:.4f}" in shown.out and "claim" in shown.out

    # started again, the finished folds are kept; changed folds are refused before any training
    assert naba_train(str(path), "--no-progress", "--folds", "2") == 0
    again = capsys.readouterr()
    assert (again.out + again.err).count("already finished") == 2
    assert json.loads((run / "cv.json").read_text(encoding="utf-8")) == cv
    assert naba_train(str(path), "--folds", "2", "data.dev_seed=1") == 2
    assert "holds other documents" in capsys.readouterr().err


@pytest.mark.parametrize(("k", "words"), [(1, "at least 2 folds"), (0, "at least 2 folds"),
                                          (9, "only 8 document(s)"), (8, "gets none")])
def test_impossible_fold_counts_are_config_errors(tmp_path: Path, k: int, words: str) -> None:
    cfg = load_config(config_file(tmp_path))
    with pytest.raises(ConfigError, match=r"--folds") as info:
        cross_validate(cfg, k)
    assert words in str(info.value)
    assert not (tmp_path / "runs").exists()  # nothing was written


def test_folds_on_the_command_line_and_a_single_run_dir(tmp_path: Path, capsys) -> None:
    path = config_file(tmp_path)
    assert naba_train(str(path), "--folds", "9") == 2
    err = capsys.readouterr().err
    assert err.startswith("naba: --folds 9") and "Traceback" not in err
    (tmp_path / "runs" / "cv").mkdir(parents=True)
    (tmp_path / "runs" / "cv" / "config.yaml").write_text("{}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="single training run"):
        cross_validate(load_config(path), 2)


class TrainingStarted(Exception):
    """Raised in place of training: the checks before it are what a test looks at."""


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import naba.train.loop

    def start(*args, **kwargs):
        raise TrainingStarted

    monkeypatch.setattr(naba.train.loop, "train", start)


def gold_spans(path: Path) -> int:
    return sum(len(d.spans) for d in read(path))


@pytest.mark.slow
@pytest.mark.parametrize(("first", "second", "killed"), [
    (3, 2, True),   # overwrite killed before fold 1: fold 1 of the 3-fold run must not be taken for fold 1 of 2
    (3, 2, False),  # overwrite finished: nothing of the 3-fold run is left (folds/fold-2, data/fold-2)
    (2, 3, True),   # overwrite with more folds killed before fold 1: no cv.json of the 2 old folds stays
])
def test_overwrite_leaves_nothing_of_the_old_cross_validation(tmp_path: Path, monkeypatch, first: int,
                                                              second: int, killed: bool) -> None:
    import naba.train.loop

    path = config_file(tmp_path, n_docs=12)  # 12 documents, data.dev_seed 0: folds of 6/6 and 5/4/3
    run = tmp_path / "runs" / "cv"
    cross_validate(load_config(path), first, show_progress=False)
    cfg = load_config(path, ["run.overwrite=true"])
    if killed:
        trained, real = [], naba.train.loop.train

        def train_until_fold_1(fold_cfg, **kw):
            if trained:
                raise KeyboardInterrupt  # killed once fold 0 finished
            trained.append(fold_cfg.run.name)
            return real(fold_cfg, **kw)

        monkeypatch.setattr(naba.train.loop, "train", train_until_fold_1)
        with pytest.raises(KeyboardInterrupt):
            cross_validate(cfg, second, show_progress=False)
        assert not (run / "cv.json").exists()  # the old one described other models
        monkeypatch.setattr(naba.train.loop, "train", real)
        cfg = load_config(path)  # resumed without overwrite: fold 0 is kept, fold 1 trained on its new data
    cv = cross_validate(cfg, second, show_progress=False)
    assert cv["metrics"]["test/micro/gold"]["values"] == [
        gold_spans(run / "data" / f"fold-{i}" / "test.jsonl") for i in range(second)]
    assert sorted(p.name for p in (run / "folds").iterdir()) == [f"fold-{i}" for i in range(second)]
    assert sorted(p.name for p in (run / "data").iterdir()) == [f"fold-{i}" for i in range(second)]


@pytest.mark.parametrize("stray", ["notes.txt", "data/corpus.jsonl", "data/fold-x/train.jsonl"])
def test_overwrite_refuses_a_folder_that_is_not_a_cross_validation(tmp_path: Path, stray: str) -> None:
    path = config_file(tmp_path)
    (tmp_path / "runs" / "cv" / stray).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "runs" / "cv" / stray).write_text("mine\n", encoding="utf-8")
    (tmp_path / "runs" / "cv" / "cv.json").write_text("{}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a naba cross-validation"):
        cross_validate(load_config(path, ["run.overwrite=true"]), 2)
    assert (tmp_path / "runs" / "cv" / stray).read_text(encoding="utf-8") == "mine\n"
    assert (tmp_path / "runs" / "cv" / "cv.json").is_file()  # nothing was deleted


@pytest.mark.parametrize(
    ("copy_id", "warned"),
    [
        # the same article under two ids in different folds: one fold trained on the text another
        # tested, without a word (naba data split --folds warns of it)
        ("copy-2", True),
        ("copy-1", False),  # the copy hashes to the original's fold: tested and trained apart from itself
    ],
)
def test_a_text_under_two_ids_in_different_folds_is_warned_of(
    tmp_path: Path, no_training, capsys, copy_id: str, warned: bool
) -> None:
    from naba.corpus.document import Document
    from naba.corpus.split import fold_of

    path = config_file(tmp_path)
    docs = read(tmp_path / "train.jsonl")
    copy = Document(copy_id, docs[0].text, list(docs[0].spans))
    assert (fold_of(copy.id, 2, seed=0) != fold_of(docs[0].id, 2, seed=0)) == warned
    write_jsonl(tmp_path / "train.jsonl", [*docs, copy])
    with pytest.raises(TrainingStarted):
        cross_validate(load_config(path), 2, show_progress=False)
    err = capsys.readouterr().err
    assert ("warning: 1 text(s) under several ids in different folds" in err) == warned
    assert (f"{copy_id} (fold-" in err) == warned


@pytest.mark.parametrize(
    ("key", "ids_b", "words"),
    [
        # ids repeated across two files (two exports that both count from 1): a single run trains on them,
        # and --folds failed after writing the folds with "<documents>: document 8 ...: duplicate id",
        # naming no file
        ("train", ["s0-0", "b-1"], "data.train: document id 's0-0' is in"),
        ("train", ["b-0", "b-1"], None),  # distinct ids: accepted
        ("dev", ["s0-0", "b-1"], "data.dev: document id 's0-0' is in"),  # dev.jsonl holds both dev files
        ("dev", ["b-0", "b-1"], None),
    ],
)
def test_an_id_in_two_training_files_is_a_config_error_naming_both(
    tmp_path: Path, no_training, key: str, ids_b: list[str], words: str | None
) -> None:
    from naba.corpus.document import Document

    path = config_file(tmp_path)
    other = [Document(i, d.text + " وقال", list(d.spans)) for i, d in zip(ids_b, synthetic(2, 7), strict=True)]
    b = write_jsonl(tmp_path / "b.jsonl", other)
    cfg = load_config(path, [f"data.{key}=[{tmp_path / 'train.jsonl'}, {b}]"])
    if words is None:
        with pytest.raises(TrainingStarted):
            cross_validate(cfg, 2, show_progress=False)
        return
    with pytest.raises(ConfigError, match=words) as info:
        cross_validate(cfg, 2, show_progress=False)
    assert str(tmp_path / "train.jsonl") in str(info.value) and str(b) in str(info.value)
    assert not (tmp_path / "runs").exists()  # nothing was written


@pytest.mark.parametrize(
    ("fail", "file"),
    [
        # named by the temporary file atomic_write was given, which is not there: ".train.jsonl.4242.new"
        ("fsync 1", "data/fold-0/train.jsonl"),
        ("fsync 4", "data/fold-1/test.jsonl"),
        ("rename", "data/fold-1/train.jsonl"),  # a raw OSError traceback, the .new file left for good
    ],
)
def test_a_fold_file_that_cannot_be_written_is_one_line_naming_it(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, disk_full, no_training, fail: str, file: str
) -> None:
    import errno
    import os

    path = config_file(tmp_path)
    if fail == "rename":
        real = os.replace

        def replace(src, dst) -> None:
            if Path(dst) == tmp_path / "runs" / "cv" / file:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(src, dst)

        monkeypatch.setattr(os, "replace", replace)
    else:
        disk_full(int(fail.split()[1]))
    capsys.readouterr()
    assert naba_train(str(path), "--folds", "2", "--no-progress") == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"  {tmp_path / 'runs' / 'cv' / file}: cannot write file: No space left on device"
    assert not list((tmp_path / "runs").rglob(".*"))


def killed_in_fold(monkeypatch: pytest.MonkeyPatch, fold: int, step: int) -> None:
    """Make in-process runs raise KeyboardInterrupt (a kill) right after fold ``fold`` writes its
    ``checkpoints/step-STEP``."""
    import naba.train.loop as loop

    save = loop.save_training_state

    def save_then_die(path: Path, **kwargs) -> None:
        save(path, **kwargs)
        if path.name == f"step-{step}" and path.parent.parent.name == f"fold-{fold}":
            raise KeyboardInterrupt(path)

    monkeypatch.setattr(loop, "save_training_state", save_then_die)


def tag_with(run: Path, texts: list[str]) -> list[list[dict]]:
    from naba import Tagger

    tagger = Tagger.from_pretrained(run, device="cpu")
    return [tagger(text) for text in texts]


def as_older_naba_wrote_it(run: Path) -> None:
    """Rewrite every fold's config.yaml with absolute paths throughout, as naba did before its run
    folders could be moved."""
    for saved in run.glob("folds/fold-*/config.yaml"):
        cfg = yaml.safe_load(saved.read_text(encoding="utf-8"))
        for key in ("train", "dev", "test"):
            cfg["data"][key] = [str((saved.parent.parent / p).resolve()) for p in cfg["data"][key]]
        saved.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["moved", "copied, of an older naba"])
def test_a_killed_cross_validation_moved_elsewhere_resumes_fold_by_fold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, how: str
) -> None:
    # the folds' config.yaml held their data (CV/data/fold-I/*.jsonl) by absolute path: moved, the
    # cross-validation was refused as "another configuration (differs in data.train, data.test)"
    import shutil

    path = config_file(tmp_path)
    killed_in_fold(monkeypatch, 1, 2)
    with pytest.raises(KeyboardInterrupt):
        cross_validate(load_config(path, ["run.save_every=1"]), 2, show_progress=False)
    monkeypatch.undo()
    old, new = tmp_path / "runs" / "cv", tmp_path / "elsewhere" / "cv-renamed"
    for i in range(2):
        saved = yaml.safe_load((old / "folds" / f"fold-{i}" / "config.yaml").read_text(encoding="utf-8"))
        # relative to the folds' folder, as naba reads a config file's paths
        assert saved["data"]["train"] == [f"../data/fold-{i}/train.jsonl"]
        assert saved["data"]["test"] == [f"../data/fold-{i}/test.jsonl"]
    if "older" in how:
        as_older_naba_wrote_it(old)
    texts = [d.text for d in read(old / "data" / "fold-0" / "test.jsonl")]
    tagged = tag_with(old / "folds" / "fold-0", texts) if how == "moved" else None
    new.parent.mkdir()
    shutil.move(old, new) if how == "moved" else shutil.copytree(old, new)
    fold_0 = (new / "folds" / "fold-0" / "metrics.json").read_bytes()
    if how == "moved":  # the finished fold loads, tags and is evaluated at its new place
        assert tag_with(new / "folds" / "fold-0", texts) == tagged
        data = new / "data" / "fold-0" / "test.jsonl"
        assert naba_main(["eval", str(new / "folds" / "fold-0"), "--data", str(data), "--bootstrap", "0"]) == 0
        assert (new / "folds" / "fold-0" / "eval" / "test" / "metrics.json").is_file()
    capsys.readouterr()

    moved = load_config(path, ["run.save_every=1", f"run.dir={new.parent}", "run.name=cv-renamed"])
    cv = cross_validate(moved, 2, show_progress=False)
    shown = capsys.readouterr()
    assert (shown.out + shown.err).count("already finished") == 1
    assert (new / "folds" / "fold-0" / "metrics.json").read_bytes() == fold_0
    log = (new / "folds" / "fold-1" / "logs" / "train.log").read_text(encoding="utf-8")
    assert f"resuming from {new / 'folds' / 'fold-1' / 'checkpoints' / 'step-2'}" in log  # not started afresh
    assert cv["runs"] == ["folds/fold-0", "folds/fold-1"]
    assert json.loads((new / "cv.json").read_text(encoding="utf-8")) == cv
    finals = [flatten(json.loads((new / run / "metrics.json").read_text(encoding="utf-8"))["final"])
              for run in cv["runs"]]
    assert cv["metrics"]["test/micro/f1"]["values"] == [f["test/micro/f1"] for f in finals]
    saved = yaml.safe_load((new / "folds" / "fold-1" / "config.yaml").read_text(encoding="utf-8"))
    assert saved["data"]["dev"] == [] and saved["data"]["test"] == ["../data/fold-1/test.jsonl"]
    card = (new / "folds" / "fold-1" / "README.md").read_text(encoding="utf-8")  # written at the new place
    assert "documents from `../../data/fold-1/train.jsonl`" in card and str(old) not in card
    if how != "moved":
        assert not (old / "cv.json").exists()  # the copy's start left the original as it was
