"""Training runs end to end with tiny models: overfitting the brief's article, determinism, resume
after SIGKILL (and, killed in process, without a dev set or with runtime-only settings changed), two
processes under torchrun, early stopping, and clear errors.

Every run uses one torch thread: on a busy 2-core machine two threads can be 30x slower.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import listing

from naba.cli import main as naba_main
from naba.corpus.document import Document, Span
from naba.corpus.formats import read
from naba.errors import ConfigError
from naba.train import load_config
from naba.train.checkpoint import checkpoints

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "data" / "examples" / "hama-article.jsonl"

TINY_MODEL = {"name_or_path": "naba-small", "hidden_size": 64, "num_layers": 2, "heads": 2,
              "intermediate": 128, "max_length": 64, "stride": 16}

ACTORS = ["الجيش السوري", "المرصد السوري", "أبو محمد الجولاني", "السفارة الصينية", "وزارة الدفاع"]
PLACES = ["حماة", "حلب", "دمشق", "حمص", "إدلب"]
CLAIMS = ["القوات انسحبت من المدينة", "المقاتلين دخلوا الأحياء الشمالية", "الهجوم سيستمر حتى النصر"]


def synthetic(n: int, seed: int) -> list[Document]:
    """News-like documents: "وقال ACTOR في LOCATION إن CLAIM." repeated, with gold spans."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        text, spans = "", []
        for _ in range(rng.randint(2, 4)):
            text += "وقال "
            for label, words, after in (("ACTOR", ACTORS, " في "), ("LOCATION", PLACES, " إن "), ("CLAIM", CLAIMS, ". ")):
                start = len(text)
                text += rng.choice(words)
                spans.append(Span(start, len(text), label))
                text += after
        docs.append(Document(f"s{seed}-{i}", text.rstrip(), spans))
    return docs


def write_jsonl(path: Path, docs: list[Document]) -> Path:
    path.write_text("".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Synthetic train/dev files and ONE tokenizer for all runs (WordPiece training is not
    deterministic, huggingface/tokenizers#1794, and separate runs are compared here)."""
    from naba.model import build_small_tokenizer

    folder = tmp_path_factory.mktemp("corpus")
    train = synthetic(24, 0)
    tokenizer = build_small_tokenizer([d.text for d in train], vocab_size=300)
    tokenizer.save_pretrained(folder / "tokenizer")
    return {"train": write_jsonl(folder / "train.jsonl", train),
            "dev": write_jsonl(folder / "dev.jsonl", synthetic(6, 1)),
            "tokenizer": folder / "tokenizer"}


def config_file(folder: Path, corpus: dict[str, Path], **sections: dict) -> Path:
    """A config for a few seconds of training on the synthetic corpus; ``sections`` override it."""
    cfg = {
        "data": {"train": str(corpus["train"]), "dev": str(corpus["dev"])},
        "model": {**TINY_MODEL, "tokenizer": str(corpus["tokenizer"])},
        "optim": {"lr": 3e-3, "batch_size": 4, "epochs": 3, "warmup_ratio": 0.1},
        "run": {"dir": str(folder / "runs"), "eval_every": 6, "threads": 1, "tracker": "none", "log_every": 3},
    }
    for name, values in sections.items():
        cfg[name].update(values)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def train_in_process(path: Path, *overrides: str) -> dict:
    from accelerate.state import AcceleratorState

    from naba.train import train

    try:
        return train(load_config(path, list(overrides)), show_progress=False)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)  # the next run starts clean


class Killed(Exception):
    """Stands in for a SIGKILL in process: raised just after a checkpoint is written."""


def kill_after_checkpoint(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Make in-process runs stop (raise Killed) right after they write ``checkpoints/step-STEP``."""
    import naba.train.loop as loop

    save = loop.save_training_state

    def save_then_die(path: Path, **kwargs) -> None:
        save(path, **kwargs)
        if path.name == f"step-{step}":
            raise Killed(path)

    monkeypatch.setattr(loop, "save_training_state", save_then_die)


def killed_after_checkpoint(monkeypatch: pytest.MonkeyPatch, step: int, path: Path, *overrides: str) -> None:
    """Run the config at ``path`` in process until just after it writes ``checkpoints/step-STEP``
    (a Killed standing in for SIGKILL), then undo ``monkeypatch``'s patches for the resume."""
    kill_after_checkpoint(monkeypatch, step)
    with pytest.raises(Killed):
        train_in_process(path, *overrides)
    monkeypatch.undo()


def same_weights(a: Path, b: Path) -> bool:
    from safetensors.torch import load_file

    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return wa.keys() == wb.keys() and all(wa[k].equal(wb[k]) for k in wa)


@pytest.mark.slow
def test_a_small_model_overfits_the_article(tmp_path: Path) -> None:
    """The brief's annotated article, learned by a tiny model (dev F1 passes 0.95 near step 125 of 200).

    The vocabulary is kept near the alphabet so that every gold boundary (e.g. حماة inside وحماة)
    falls between subwords; with whole-word pieces exact-span F1 on this article tops out near 0.92.
    """
    if not ARTICLE.is_file():
        pytest.skip(f"{ARTICLE} is not there yet")
    path = tmp_path / "overfit.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"train": str(ARTICLE), "dev": str(ARTICLE)},
        "model": {**TINY_MODEL, "vocab_size": 120, "max_length": 256, "stride": 32},
        "optim": {"lr": 5e-3, "batch_size": 16, "max_steps": 200, "warmup_ratio": 0.05},
        "run": {"dir": str(tmp_path / "runs"), "eval_every": 50, "save_every": 1000, "threads": 1},
    }), encoding="utf-8")
    metrics = train_in_process(path)
    dev = metrics["final"]["dev"]
    assert dev["micro"]["f1"] >= 0.95, dev

    run = tmp_path / "runs" / "overfit"
    for name in ("config.yaml", "git.txt", "metrics.json", "README.md", "best/naba.json",
                 "best/model.safetensors", "tokenizer/tokenizer.json", "logs/train.log"):
        assert (run / name).is_file(), name
    assert list((run / "logs").rglob("events.out.tfevents.*")), "no TensorBoard events"
    card = (run / "README.md").read_text(encoding="utf-8")
    assert "ACTOR, LOCATION" in card and "AutoModelForTokenClassification" in card and "Tagger" in card

    # the run dir loads with naba's Tagger and tags the article as well as training measured
    from naba import Tagger

    doc = read(ARTICLE)[0]
    found = {(s["start"], s["end"], s["label"]) for s in Tagger.from_pretrained(run, device="cpu")(doc.text)}
    gold = {(s.start, s.end, s.label) for s in doc.spans}
    f1 = 2 * len(found & gold) / (len(found) + len(gold))
    assert f1 >= 0.95


@pytest.mark.slow
def test_same_seed_same_metrics_and_a_finished_run_is_kept(tmp_path: Path, corpus: dict[str, Path]) -> None:
    path = config_file(tmp_path, corpus)
    first = train_in_process(path, "run.name=a")
    second = train_in_process(path, "run.name=b")
    other = train_in_process(path, "run.name=c", "run.seed=7")
    assert first == second
    assert [e["train_loss"] for e in first["evals"]] != [e["train_loss"] for e in other["evals"]]
    assert first["final"]["dev"]["micro"]["f1"] > 0.5  # it learned something
    # started again, a finished run returns its result; with another setting it refuses
    assert train_in_process(path, "run.name=a") == first
    with pytest.raises(ConfigError, match=r"another configuration.*optim\.lr"):
        train_in_process(path, "run.name=a", "optim.lr=1e-3")


@pytest.mark.slow
def test_resume_after_sigkill_ends_like_an_uninterrupted_run(tmp_path: Path, corpus: dict[str, Path]) -> None:
    path = config_file(tmp_path, corpus, optim={"epochs": 6}, run={"eval_every": 10, "save_every": 4})
    command = [sys.executable, "-m", "naba.train", str(path), "--no-progress"]
    env = subprocess_env()
    subprocess.run(command + ["run.name=whole"], env=env, check=True, capture_output=True, timeout=600)

    run = tmp_path / "runs" / "cut"
    proc = subprocess.Popen(command + ["run.name=cut"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "step-12").is_dir():
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert "final" not in json.loads((run / "metrics.json").read_text(encoding="utf-8"))

    again = subprocess.run(command + ["run.name=cut"], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "resuming from" in again.stderr
    whole = json.loads((tmp_path / "runs" / "whole" / "metrics.json").read_text(encoding="utf-8"))
    cut = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert cut == whole
    assert len(whole["evals"]) >= 3 and whole["steps"] == 36


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_under_torchrun_agree_and_only_rank_0_writes(tmp_path: Path, corpus: dict[str, Path]) -> None:
    path = config_file(tmp_path, corpus, run={"tracker": "tensorboard"})
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(free_port()), "-m", "naba.train", str(path), "--no-progress"],
        env=subprocess_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports = {}
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("naba-train rank "):
            rank = line.split()[2].rstrip(":")
            reports[rank] = json.loads(line.split(": ", 1)[1])
    assert set(reports) == {"0/2", "1/2"}
    assert reports["0/2"] == reports["1/2"]  # same final metrics and the same weights

    run = tmp_path / "runs" / "tiny"
    log = (run / "logs" / "train.log").read_text(encoding="utf-8")
    assert log.count("starting:") == 1 and "2 process(es)" in log and log.count("done:") == 1
    assert len(list((run / "logs").rglob("events.out.tfevents.*"))) >= 1
    assert len({p.parent for p in (run / "logs").rglob("events.out.tfevents.*")}) <= 2  # one tracker's folders
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["final"]["dev"] == reports["0/2"]["final"]["dev"]
    assert (run / "checkpoints").is_dir() and (run / "best" / "naba.json").is_file()
    assert json.loads(next((run / "checkpoints").glob("step-*/state.json")).read_text())["world"] == 2


@pytest.mark.slow
def test_early_stopping_accumulation_and_token_budget(tmp_path: Path, corpus: dict[str, Path]) -> None:
    # with a learning rate this small nothing improves after the first evaluation
    path = config_file(tmp_path, corpus, optim={"lr": 1e-9, "grad_accum": 2, "batch_tokens": 256, "epochs": 20},
                       run={"eval_every": 2, "patience": 2})
    metrics = train_in_process(path)
    assert metrics["stopped_early"]
    assert [e["step"] for e in metrics["evals"]] == [2, 4, 6]
    assert metrics["best"]["step"] == 2 and metrics["steps"] == 6 < metrics["total_steps"]


@pytest.mark.slow
def test_without_a_dev_set_the_last_model_is_kept(tmp_path: Path, corpus: dict[str, Path]) -> None:
    path = config_file(tmp_path, corpus, data={"dev": [], "dev_ratio": 0.0, "test": [str(corpus["dev"])]},
                       optim={"max_steps": 5})
    metrics = train_in_process(path)
    assert metrics["evals"] == [] and metrics["best"]["step"] == 5
    assert set(metrics["final"]) == {"test"}
    assert (tmp_path / "runs" / "tiny" / "best" / "naba.json").is_file()


@pytest.mark.slow
def test_without_a_dev_set_a_run_killed_after_an_epoch_resumes_from_its_end(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # no dev set and save_every 0: a checkpoint where evaluations would be (here each epoch's end, 6 steps)
    path = config_file(tmp_path, corpus, data={"dev": [], "dev_ratio": 0.0, "test": [str(corpus["dev"])]},
                       run={"eval_every": 0, "save_every": 0})
    whole = train_in_process(path, "run.name=whole")
    runs = tmp_path / "runs"
    assert whole["steps"] == 18 and [p.name for p in checkpoints(runs / "whole")] == ["step-12", "step-18"]
    kill_after_checkpoint(monkeypatch, 6)
    with pytest.raises(Killed):
        train_in_process(path, "run.name=cut")
    monkeypatch.undo()
    cut = train_in_process(path, "run.name=cut")
    assert "resuming from " + str(runs / "cut" / "checkpoints" / "step-6") in (
        runs / "cut" / "logs" / "train.log").read_text(encoding="utf-8")
    assert cut == whole and set(cut["final"]) == {"test"}
    assert same_weights(runs / "cut" / "best", runs / "whole" / "best")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "resumes", "exact"),
    [
        # runtime-only settings (config.RUNTIME_ONLY): the run resumes, bit for bit where "exact"
        ("run.num_workers=1", True, True),
        ("run.log_every=1", True, True),
        ("run.keep_checkpoints=1", True, True),
        ("run.threads=2", True, False),  # may round float sums differently, as another machine would
        # settings of what is trained: still another configuration
        ("optim.lr=1e-3", False, None),
        ("run.eval_every=2", False, None),
        ("run.tracker=tensorboard", False, None),
    ],
)
def test_a_killed_run_resumes_with_other_runtime_only_settings_and_refuses_other_changes(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch, override: str, resumes: bool,
    exact: bool | None,
) -> None:
    path = config_file(tmp_path, corpus, optim={"max_steps": 8}, run={"eval_every": 4})
    run = tmp_path / "runs" / "cut"
    kill_after_checkpoint(monkeypatch, 4)
    with pytest.raises(Killed):
        train_in_process(path, "run.name=cut")
    monkeypatch.undo()
    key = override.split("=")[0]
    if not resumes:
        with pytest.raises(ConfigError, match=rf"another configuration \(differs in {re.escape(key)}\)"):
            train_in_process(path, "run.name=cut", override)
        return
    cut = train_in_process(path, "run.name=cut", override)
    log = (run / "logs" / "train.log").read_text(encoding="utf-8")
    assert f"resuming from {run / 'checkpoints' / 'step-4'}" in log
    assert f"runtime-only settings changed since the last start: {key} " in log
    assert yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))["run"][key.split(".")[1]] == (
        yaml.safe_load(override.split("=")[1]))
    # finished, it returns its result when started again with the setting as it first was
    assert train_in_process(path, "run.name=cut") == cut
    if exact:
        assert train_in_process(path, "run.name=whole") == cut
        assert same_weights(run / "best", tmp_path / "runs" / "whole" / "best")


@pytest.mark.parametrize("how", ["moved", "copied", "renamed"])
def test_a_run_folder_moved_elsewhere_resumes_there(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # config.yaml holds the absolute run.dir: a moved run was refused as "another configuration
    # (differs in run.dir)"; a renamed one as "(differs in run.name)"
    import shutil

    path = config_file(tmp_path, corpus, optim={"max_steps": 8}, run={"eval_every": 4})
    killed_after_checkpoint(monkeypatch, 4, path, "run.name=cut")
    old = tmp_path / "runs" / "cut"
    new = tmp_path / "runs" / "cut-2" if how == "renamed" else tmp_path / "elsewhere" / "cut"
    new.parent.mkdir(exist_ok=True)
    shutil.copytree(old, new) if how == "copied" else shutil.move(old, new)
    done = train_in_process(path, f"run.name={new.name}", f"run.dir={new.parent}")
    log = (new / "logs" / "train.log").read_text(encoding="utf-8")
    assert f"resuming from {new / 'checkpoints' / 'step-4'}" in log
    assert ("run.name cut -> cut-2" if how == "renamed" else f"run.dir {old.parent} -> {new.parent}") in log
    assert done["steps"] == 8 and "final" in done
    saved = yaml.safe_load((new / "config.yaml").read_text(encoding="utf-8"))["run"]
    assert (saved["dir"], saved["name"]) == (str(new.parent), new.name)
    if how == "copied":
        assert "final" not in json.loads((old / "metrics.json").read_text(encoding="utf-8"))  # left as it was


def _edited(docs: list[Document], what: str) -> list[Document]:
    first = docs[0]
    if what == "label":  # ACTOR <-> LOCATION: the same layer, no overlap
        spans = [Span(s.start, s.end, {"ACTOR": "LOCATION", "LOCATION": "ACTOR"}.get(s.label, s.label))
                 for s in first.spans]
        return [Document(first.id, first.text, spans), *docs[1:]]
    if what == "span":
        return [Document(first.id, first.text, first.spans[:-1]), *docs[1:]]
    if what == "meta":
        return [Document(first.id, first.text, first.spans, {"source": "edited"}), *docs[1:]]
    return [*docs, *synthetic(1, 9)]  # "document"


@pytest.mark.parametrize(
    ("file", "what", "resumes"),
    [
        (None, None, True),
        ("train", "label", False),
        ("train", "document", False),
        ("dev", "span", False),  # dev picks best/ and stops early
        ("labels", "label", False),  # another label: the model's head no longer fits (was a load_state_dict traceback)
        ("train", "meta", True),  # meta is not trained on
        ("test", "document", True),  # test is scored after training only
    ],
)
def test_a_killed_run_resumes_only_on_the_data_it_started_with(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch, file: str | None, what: str | None,
    resumes: bool,
) -> None:
    # run again with the same command after editing the annotations, a killed run resumed on the new data:
    # its batches, schedule and best/ mixed two corpora, silently
    docs = {"train": synthetic(24, 0), "dev": synthetic(6, 1), "test": synthetic(3, 2)}
    files = {name: write_jsonl(tmp_path / f"{name}.jsonl", part) for name, part in docs.items()}
    labels = tmp_path / "labels.yaml"
    labels.write_text("layers:\n  entity: [ACTOR, LOCATION]\n  claim: [CLAIM]\n", encoding="utf-8")
    data = {name: str(path) for name, path in files.items()}
    path = config_file(tmp_path, {**corpus, **files}, data={**data, "labels": str(labels)},
                       optim={"max_steps": 8}, run={"eval_every": 4})
    killed_after_checkpoint(monkeypatch, 4, path)
    if file == "labels":
        labels.write_text("layers:\n  entity: [ACTOR, LOCATION, EVENT]\n  claim: [CLAIM]\n", encoding="utf-8")
    elif file is not None:
        write_jsonl(files[file], _edited(docs[file], what))
    run = tmp_path / "runs" / "tiny"
    if not resumes:
        before = listing(run)
        with pytest.raises(ConfigError, match=rf"^{re.escape(str(run / 'checkpoints' / 'step-4'))}: the training "
                                              r"data changed since this run started .* run\.overwrite=true$"):
            train_in_process(path)
        assert listing(run) == before
        return
    done = train_in_process(path)
    assert done["steps"] == 8 and "final" in done
    assert f"resuming from {run / 'checkpoints' / 'step-4'}" in (run / "logs" / "train.log").read_text(encoding="utf-8")


def test_a_resumed_run_goes_on_with_its_checkpoints_tokenizer(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a base tokenizer that a newer naba loads differently (AraBERT's never_split tokens kept whole) must
    # not change a run's tokenization part way: the resumed run encodes with what its checkpoint saved
    import naba.encode
    import naba.train.loop as loop

    path = config_file(tmp_path, corpus, optim={"max_steps": 8}, run={"eval_every": 4})
    killed_after_checkpoint(monkeypatch, 4, path, "run.name=cut")
    built, used = [], []
    real_tokenizer, real_encode = loop.run_tokenizer, naba.encode.encode

    def run_tokenizer(*args, **kwargs):
        built.append(real_tokenizer(*args, **kwargs))
        return built[-1]

    def encode(docs, tokenizer, *args, **kwargs):
        used.append(tokenizer)
        return real_encode(docs, tokenizer, *args, **kwargs)

    monkeypatch.setattr(loop, "run_tokenizer", run_tokenizer)
    monkeypatch.setattr(naba.encode, "encode", encode)
    done = train_in_process(path, "run.name=cut")
    assert done["steps"] == 8 and "final" in done
    assert built and used and all(t is not built[0] for t in used)


@pytest.mark.parametrize(
    ("damage", "file", "words"),
    [
        # a pickle of objects where the optimizer state was: refused unread, the file named
        ("optimizer-pickle", "optimizer.pt", ["refused by torch.load(weights_only=True)"]),
        ("rng-tampered", "rng-0.safetensors", ["RNG state"]),
        ("model-weights-truncated", "model", ["cannot load the model in", "deserializing header"]),
        # NaN weights (a run diverged under an older naba): "the checkpoint is damaged", and no word on what to do
        ("model-weights-nan", "model", ["hold NaN or infinite values", "delete {step} to resume from an earlier",
                                        "run.overwrite=true"]),
    ],
)
# torch warns about the pickle's protocol before refusing it: that pickle is the point of the case
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_damaged_checkpoint_stops_the_resume_with_exit_code_2(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    damage: str, file: str, words: list[str],
) -> None:
    import pickle

    import torch
    from safetensors.torch import load_file, save_file

    class Marker:
        def __reduce__(self):
            return (open, (str(tmp_path / "unpickled"), "w"))

    path = config_file(tmp_path, corpus, optim={"max_steps": 8}, run={"eval_every": 4})
    killed_after_checkpoint(monkeypatch, 4, path, "run.name=cut")
    step = tmp_path / "runs" / "cut" / "checkpoints" / "step-4"
    if damage == "optimizer-pickle":
        (step / "optimizer.pt").write_bytes(pickle.dumps({"optimizer": Marker()}))
    elif damage == "rng-tampered":
        save_file({"cpu": torch.zeros(3, dtype=torch.uint8)}, str(step / "rng-0.safetensors"))
    elif damage == "model-weights-nan":
        weights = load_file(str(step / "model" / "model.safetensors"))
        weights["classifier.weight"][0, 0] = float("nan")
        save_file(weights, str(step / "model" / "model.safetensors"))
    else:
        weights = step / "model" / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    capsys.readouterr()
    assert naba_main(["train", str(path), "run.name=cut", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("naba: ") and str(step / file) in err and "Traceback" not in err
    for word in words:
        assert word.format(step=step) in err
    assert not (tmp_path / "unpickled").exists()


@pytest.mark.slow
def test_an_unavailable_hub_id_is_a_clear_error(tmp_path: Path, corpus: dict[str, Path]) -> None:
    path = config_file(tmp_path, corpus, model={"tokenizer": None})
    result = subprocess.run(
        [sys.executable, "-m", "naba.train", str(path), "model.name_or_path=naba-test/no-such-model"],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert "naba-test/no-such-model" in result.stderr and "local path" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["optim.lr=-1"], ["optim.lr", "> 0"]),
        (["model.stride=64"], ["model.stride"]),
        (["data.train=nowhere.jsonl"], ["data.train", "nowhere.jsonl"]),
        (["optim.speed=3"], ["unknown key", "optim.speed"]),
    ],
)
def test_config_errors_on_the_command_line(
    tmp_path: Path, corpus: dict[str, Path], capsys: pytest.CaptureFixture[str], overrides: list[str], words: list[str]
) -> None:
    path = config_file(tmp_path, corpus)
    assert naba_main(["train", str(path), *overrides]) == 2
    err = capsys.readouterr().err
    assert err.startswith("naba: ") and "Traceback" not in err
    for word in words:
        assert word in err
    assert not (tmp_path / "runs").exists()  # nothing was written


def test_print_config_shows_the_resolved_config(tmp_path: Path, corpus: dict[str, Path], capsys) -> None:
    path = config_file(tmp_path, corpus)
    assert naba_main(["train", str(path), "optim.lr=2e-4", "--print-config"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["optim"]["lr"] == 2e-4 and shown["model"]["max_length"] == 64
    assert shown["run"]["name"] == "tiny" and shown["optim"]["mixed_precision"] == "auto"


@pytest.mark.slow
def test_a_start_killed_before_its_config_is_saved_leaves_nothing_that_sticks(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import naba.train.loop as loop

    model = {k: v for k, v in TINY_MODEL.items()}
    path = config_file(tmp_path, corpus, optim={"max_steps": 3})
    # a tokenizer folder from a start with another config (here: junk) is made again, not reused
    run = tmp_path / "runs" / "tiny"
    (run / "tokenizer").mkdir(parents=True)
    (run / "tokenizer" / "stale.txt").write_text("from another start", encoding="utf-8")
    yaml_cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    yaml_cfg["model"] = model  # no model.tokenizer: the run makes its own in run/tokenizer
    path.write_text(yaml.safe_dump(yaml_cfg, allow_unicode=True), encoding="utf-8")
    # the model card is written before metrics.json says the run finished: a crash between them
    # must not leave a "finished" run without its card
    monkeypatch.setattr(loop, "model_card", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError, match="killed"):
        train_in_process(path)
    assert not (run / "tokenizer" / "stale.txt").exists()
    assert "final" not in json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    monkeypatch.undo()
    metrics = train_in_process(path)
    assert "final" in metrics and (run / "README.md").is_file()


def test_run_folders_that_are_not_single_runs_are_left_alone(tmp_path: Path, corpus: dict[str, Path], capsys) -> None:
    path = config_file(tmp_path, corpus)
    cv = tmp_path / "runs" / "cv"
    (cv / "folds").mkdir(parents=True)
    assert naba_main(["train", str(path), "run.name=cv"]) == 2
    assert "holds a cross-validation" in capsys.readouterr().err
    precious = tmp_path / "runs" / "precious"
    (precious / "important").mkdir(parents=True)
    (precious / "important" / "file.txt").write_text("keep me", encoding="utf-8")
    assert naba_main(["train", str(path), "run.name=precious", "run.overwrite=true"]) == 2
    assert "not a naba run" in capsys.readouterr().err
    assert (precious / "important" / "file.txt").read_text(encoding="utf-8") == "keep me"


BAD_INPUT = [
    # (overrides, exit code, words of the message): each found before the old run is deleted
    (["data.layers=[entity, claims]"], 2, ["data.layers", "claims"]),
    (["data.labels={labels}"], 2, ["data.labels", "no layers"]),
    (["model.preset=arabert"], 2, ["model.preset", "arabertv02"]),
    (["data.format=conl"], 2, ["data.format", "conl"]),
    (["data.read_options={{bio_repair: begin}}"], 2, ["data.read_options", "jsonl", "bio_repair"]),
    (["data.format=conll", "data.read_options={{bio_repair: begn}}"], 2, ["bio_repair", "begn"]),
    (["data.dev={bad}"], 1, ["WEAPON"]),
    # a hub id not to be had offline: was found once the old run was gone
    (["model.name_or_path=naba-test/no-such-model", "model.tokenizer=null"], 2, ["naba-test/no-such-model", "local path"]),
]


@pytest.mark.parametrize(("overrides", "code", "words"), BAD_INPUT)
def test_bad_input_with_overwrite_keeps_the_old_run(
    tmp_path: Path, corpus: dict[str, Path], capsys, monkeypatch, overrides: list[str], code: int, words: list[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = config_file(tmp_path, corpus)
    labels = tmp_path / "labels.yaml"
    labels.write_text("layers: {}\n", encoding="utf-8")
    bad = write_jsonl(tmp_path / "bad.jsonl", [Document("b", "نص", [Span(0, 2, "WEAPON")])])
    old = tmp_path / "runs" / "tiny"
    (old / "best").mkdir(parents=True)
    (old / "config.yaml").write_text("data: {}\n", encoding="utf-8")  # a naba run, another config
    (old / "best" / "weights").write_text("a week of training", encoding="utf-8")
    overrides = [o.format(labels=labels, bad=bad) for o in overrides]
    assert naba_main(["train", str(path), "run.overwrite=true", *overrides]) == code
    err = capsys.readouterr().err
    assert all(w in err for w in words) and "Traceback" not in err, err
    assert (old / "best" / "weights").read_text(encoding="utf-8") == "a week of training"


def test_empty_dev_or_test_files_and_huge_seeds_are_config_errors(tmp_path: Path, corpus: dict[str, Path], capsys) -> None:
    path = config_file(tmp_path, corpus)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    for override, words in ((f"data.dev={empty}", ["data.dev", "hold no documents"]),
                            (f"data.test={empty}", ["data.test", "hold no documents"]),
                            ("run.seed=4294967296", ["run.seed", "2**32"])):
        assert naba_main(["train", str(path), override]) == 2
        err = capsys.readouterr().err
        assert all(w in err for w in words), err
    assert not (tmp_path / "runs" / "tiny" / "best").exists()


def test_a_pretrained_encoder_fine_tunes_and_overwrite_loads_it_first(tmp_path: Path, corpus: dict[str, Path]) -> None:
    # the path AraBERT takes (a folder or hub id instead of naba-small): a base encoder gets a fresh
    # head; with run.overwrite the model is loaded before the old run is deleted, and the run must
    # end exactly as one without it
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    encoder = tmp_path / "encoder"
    tokenizer = AutoTokenizer.from_pretrained(str(corpus["tokenizer"]))
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=64)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(encoder)
    tokenizer.save_pretrained(encoder)
    path = config_file(tmp_path, corpus, model={"name_or_path": str(encoder), "tokenizer": None},
                       optim={"epochs": 1})
    first = train_in_process(path, "run.name=pre")
    run = tmp_path / "runs" / "pre"
    assert (run / "best" / "model.safetensors").is_file() and not (run / "tokenizer").exists()
    again = train_in_process(path, "run.name=pre", "run.overwrite=true")
    assert again == first


class Stepped(Exception):
    """Raised by the optimizer once the steps a test wants are recorded."""


def gradients_of_first_steps(monkeypatch: pytest.MonkeyPatch, path: Path, batches: list[list[int]],
                             steps: int, *overrides: str) -> list[list]:
    """The gradients each of the first ``steps`` optimizer steps applies, with every epoch cut into
    ``batches`` (window indices) and dropout off, so that runs cutting the same windows differently
    can be compared."""
    import torch

    import naba.train.loop as loop

    build, make = loop.build_model, loop.make_optimizer
    seen: list[list] = []

    def build_without_dropout(*args, **kwargs):
        tokenizer, model = build(*args, **kwargs)
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        return tokenizer, model

    def record(optimizer, args, kwargs) -> None:
        seen.append([p.grad.clone() for group in optimizer.param_groups for p in group["params"]])
        if len(seen) == steps:
            raise Stepped

    def make_recording(model, cfg):
        optimizer = make(model, cfg)
        optimizer.register_step_pre_hook(record)
        return optimizer

    monkeypatch.setattr(loop, "build_model", build_without_dropout)
    monkeypatch.setattr(loop, "make_optimizer", make_recording)
    monkeypatch.setattr(loop, "length_grouped_batches", lambda *a, **k: [list(b) for b in batches])
    with pytest.raises(Stepped):
        train_in_process(path, *overrides)
    monkeypatch.undo()
    return seen


@pytest.mark.slow
@pytest.mark.parametrize(
    ("grad_accum", "micro", "union"),
    [
        (2, [[0, 1, 2], [3]], [[0, 1, 2, 3]]),  # ragged micro-batches: 3 windows and 1
        (2, [[0], [1, 2, 3, 4, 5]], [[0, 1, 2, 3, 4, 5]]),
        (3, [[0, 1], [2], [3, 4, 5]], [[0, 1, 2, 3, 4, 5]]),
        # the epoch's last group is ragged too (2 micro-batches of 3), and the second step starts
        # from the weights the first one made
        (3, [[0], [1, 2, 3, 4], [5, 6], [7, 8], [9]], [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9]]),
    ],
)
def test_accumulated_micro_batches_make_the_update_of_one_batch_of_their_union(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch, grad_accum: int,
    micro: list[list[int]], union: list[list[int]],
) -> None:
    import torch

    path = config_file(tmp_path, corpus, data={"dev": [], "dev_ratio": 0.0},
                       optim={"warmup_ratio": 0.0, "max_grad_norm": 0.0})
    steps = len(union)
    split = gradients_of_first_steps(monkeypatch, path, micro, steps, f"optim.grad_accum={grad_accum}",
                                     "run.name=micro")
    whole = gradients_of_first_steps(monkeypatch, path, union, steps, "optim.grad_accum=1", "run.name=union")
    assert len(split) == len(whole) == steps
    # float sums run in another order over other padded shapes, and Adam's first step moves every
    # weight by about lr whatever its gradient's size, so a near-zero gradient's rounding shows in the
    # second step's gradients (1.6e-6 seen in one CI run); the defect this guards against was 0.03
    for a, b in zip(split, whole, strict=True):
        for ga, gb in zip(a, b, strict=True):
            torch.testing.assert_close(ga, gb, rtol=1e-4, atol=1e-5)


def _cells(row: str) -> list[str]:
    """A Markdown table row's cells (a ``\\|`` is a pipe inside a cell)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


@pytest.mark.parametrize(
    ("layers", "run_name"),
    [
        ({"entity": ("ACTOR", "LOCATION")}, "plain"),
        # a '|' is allowed in label and layer names: it split the card's table rows into extra columns
        ({"entity": ("ACTOR|PERSON", "LOCATION")}, "plain"),
        ({"a|b": ("X",)}, "plain"),
        # the usage snippets put the path in "...": a '"' ended the string, a '\' started an escape
        # ('\n' in lr\new made a newline: the snippet loaded another folder)
        ({"entity": ("ACTOR",)}, 'say "hi"'),
        ({"entity": ("ACTOR",)}, "lr\\new"),
        ({"entity": ("ACTOR",)}, "نبأ"),
    ],
)
def test_the_model_card_tables_and_code_hold_odd_names(tmp_path: Path, layers: dict, run_name: str) -> None:
    import ast

    from naba.corpus.labels import LabelScheme
    from naba.encode import LabelSpace
    from naba.train.card import model_card
    from naba.train.config import TrainConfig

    cfg = TrainConfig()
    cfg.run.name, cfg.data.train = run_name, [str(tmp_path / "train.jsonl")]
    space = LabelSpace.from_scheme(LabelScheme(layers=layers))
    row = {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "gold": 4}
    scores = {**{layer: row for layer in layers}, "micro": row}
    run_dir = tmp_path / "runs" / run_name
    card = model_card(cfg, run_dir=run_dir, space=space, counts={"train": 3, "dev": 1, "test": 1},
                      metrics={"final": {"dev": scores, "test": scores}, "best": {"step": 6}}, git="abc")
    lines = card.splitlines()
    head = lines.index("| layer | labels | tags |")
    for layer, labels in layers.items():
        i = [n for n, line in enumerate(lines) if n > head and _cells(line)[:1] == [layer.replace("|", "\\|")]][0]
        cells = _cells(lines[i])
        assert len(cells) == 3 and cells[1].replace("\\|", "|") == ", ".join(labels)
    tables = [n for n, line in enumerate(lines) if line.startswith("| layer | precision")]
    assert len(tables) == 2
    for n in tables:
        assert all(len(_cells(line)) == 5 for line in lines[n:n + 3 + len(layers)])
    # every Python snippet parses, and names the run's folders exactly
    code = re.findall(r"```python\n(.*?)```", card, flags=re.S)
    strings = {node.value for block in code for node in ast.walk(ast.parse(block))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert {str(run_dir), str(run_dir / "best")} <= strings


@pytest.mark.parametrize(
    ("lr", "finite"),
    [
        ("3e-3", True),
        # a diverged run (an lr sweep's high end): metrics.json held "train_loss": NaN, which is not
        # JSON (jq, JavaScript's JSON.parse and most readers other than Python's refuse the file)
        ("1e6", False),
    ],
)
def test_metrics_json_is_strict_json_even_when_the_loss_diverges(
    tmp_path: Path, corpus: dict[str, Path], lr: str, finite: bool
) -> None:
    path = config_file(tmp_path, corpus, optim={"max_steps": 2, "max_grad_norm": 0.0, "warmup_ratio": 0.0},
                       run={"eval_every": 1})
    if finite:
        returned = train_in_process(path, f"optim.lr={lr}")
    else:
        # a run whose loss diverges (fp32/bf16) now stops at that step, here 2, before evaluating it
        # (test_a_diverged_run_stops_at_once_and_saves_no_nan_weights); under fp16, whose grad scaler skips
        # such steps, a diverged loss is still null in metrics.json
        with pytest.raises(ConfigError, match="training diverged at step 2/2"):
            train_in_process(path, f"optim.lr={lr}")

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    metrics = json.loads((tmp_path / "runs" / "tiny" / "metrics.json").read_text(encoding="utf-8"),
                         parse_constant=refuse)
    assert metrics == returned and len(metrics["evals"]) == 2 if finite else len(metrics["evals"]) == 1
    losses = [e["train_loss"] for e in metrics["evals"]]
    assert all(isinstance(x, float) for x in losses)


@pytest.mark.parametrize(
    ("lr", "finite"),
    [
        ("3e-3", True),
        # a diverged run: the checkpoints' state.json held "loss_sum": NaN, which is not JSON (jq and
        # JavaScript refuse the file); it is now null, and read back as NaN (test_train_state)
        ("1e6", False),
    ],
)
def test_checkpoint_state_is_strict_json_even_when_the_loss_diverges(
    tmp_path: Path, corpus: dict[str, Path], lr: str, finite: bool
) -> None:
    import math

    path = config_file(tmp_path, corpus, optim={"max_steps": 4, "max_grad_norm": 0.0, "warmup_ratio": 0.0},
                       run={"eval_every": 1, "log_every": 10, "keep_checkpoints": 5})
    if finite:
        train_in_process(path, f"optim.lr={lr}")
    else:
        # a run whose loss diverges (fp32/bf16) now stops at that step, here 2, and saves no checkpoint from
        # it on: their weights were NaN, which naba's loader refuses (a diverged loss sum under fp16, whose
        # grad scaler skips such steps, is still null: test_train_state)
        with pytest.raises(ConfigError, match="training diverged at step 2/4"):
            train_in_process(path, f"optim.lr={lr}")

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    state = tmp_path / "runs" / "tiny" / "checkpoints" / f"step-{3 if finite else 1}" / "state.json"
    saved = json.loads(state.read_text(encoding="utf-8"), parse_constant=refuse)
    assert math.isfinite(saved["loss_sum"])


def naba_train(path: Path, *overrides: str) -> int:
    """``naba train PATH OVERRIDES --no-progress`` in process: the exit code."""
    from accelerate.state import AcceleratorState

    try:
        return naba_main(["train", str(path), *overrides, "--no-progress"])
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


@pytest.mark.parametrize(
    ("lr", "dev", "eval_every", "step", "what", "kept"),
    [
        ("3e-3", True, 1, None, None, ["step-1", "step-2", "step-3", "step-4"]),  # a normal run: as before
        # the loss of step 2 is NaN: checkpoints step-2.. held NaN weights that naba's loader refuses, so the
        # run could not resume, and it ran to its end (exit 0) on a model that tags nothing
        ("1e6", True, 1, 2, "the training loss is nan", ["step-1"]),
        # the same with the first evaluation after the divergence: best/ was the NaN model of step 3, and the
        # run failed only at its very end, reloading best/ ("the checkpoint is damaged")
        ("1e6", True, 3, 2, "the training loss is nan", []),
        # step 1 overflows the weights with a finite loss (taken before the update): step-1 and best/ held them
        ("1e39", True, 1, 1, "its update made weights NaN or infinite", []),
        ("1e39", False, 1, 1, "its update made weights NaN or infinite", []),  # without a dev set alike
    ],
)
def test_a_diverged_run_stops_at_once_and_saves_no_nan_weights(
    tmp_path: Path, corpus: dict[str, Path], capsys: pytest.CaptureFixture[str],
    lr: str, dev: bool, eval_every: int, step: int | None, what: str | None, kept: list[str],
) -> None:
    from naba.model import load_checkpoint

    path = config_file(tmp_path, corpus, optim={"max_steps": 4, "max_grad_norm": 0.0, "warmup_ratio": 0.0},
                       run={"eval_every": eval_every, "log_every": 10, "keep_checkpoints": 5},
                       data={} if dev else {"dev": [], "dev_ratio": 0.0})
    run = tmp_path / "runs" / "tiny"
    capsys.readouterr()
    code = naba_train(path, f"optim.lr={lr}")
    err = capsys.readouterr().err
    assert [p.name for p in checkpoints(run)] == kept
    for saved in [*checkpoints(run), *([run / "best"] if (run / "best").exists() else [])]:
        load_checkpoint(saved / "model" if saved.parent.name == "checkpoints" else saved)  # none is refused
    if step is None:
        assert code == 0 and "training diverged" not in err
        return
    assert code == 2 and "Traceback" not in err
    message = f"naba: {run}: training diverged at step {step}/4: {what}"
    assert err.count("training diverged") == 1 and err.splitlines()[-1].startswith(message)
    assert "Lower optim.lr (now 1e+" in err and "optim.max_grad_norm (now 0: off)" in err
    assert message[6:] in (run / "logs" / "train.log").read_text(encoding="utf-8")
    assert (run / "best").exists() == bool(kept)  # best/ is never a diverged model
    if kept:
        # started again, the run resumes from its last good checkpoint (and diverges again: same settings)
        assert naba_train(path, f"optim.lr={lr}") == 2
        assert capsys.readouterr().err.splitlines()[-1].startswith(message)
        assert f"resuming from {checkpoints(run)[-1]}" in (run / "logs" / "train.log").read_text(encoding="utf-8")


# runs naba train with layered_loss made NaN on rank NAN_RANK at its NAN_CALL-th call (one process's bad batch)
NAN_ON_ONE_RANK = """
import os, sys
import naba.model as m
real, calls = m.layered_loss, [0]
def layered_loss(*args, **kwargs):
    calls[0] += 1
    nan = os.environ["RANK"] == os.environ["NAN_RANK"] and calls[0] == int(os.environ["NAN_CALL"])
    return real(*args, **kwargs) * (float("nan") if nan else 1.0)
m.layered_loss = layered_loss
from naba.cli import main
sys.exit(main(["train", *sys.argv[1:]]))
"""


def naba_exit(out: str, code: int) -> bool:
    """Whether torchrun's report has the first process to end with naba's exit ``code``. Now and then
    (about 1 run in 10 here) gloo's teardown at interpreter exit aborts a process after its naba
    message is out ("terminate called without an active exception"): its "exitcode  : -6" (SIGABRT)
    is then the first; the tests check the messages themselves."""
    return f"exitcode  : {code} (" in out or "exitcode  : -6 (" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    "nan_rank",
    [
        # the loss of step 2 is NaN on one process only: that process stopped with the ConfigError, the other
        # went on into step 3's collectives and died in a gloo "Connection closed by peer" traceback (NCCL:
        # waits until its timeout); rank 1 alone seeing it, train.log (rank 0's) did not say why the run ended
        "1",
        "0",
    ],
)
def test_a_loss_diverging_on_one_of_two_processes_stops_both_at_that_step(
    tmp_path: Path, corpus: dict[str, Path], nan_rank: str
) -> None:
    (tmp_path / "nan_on_one_rank.py").write_text(NAN_ON_ONE_RANK, encoding="utf-8")
    path = config_file(tmp_path, corpus, optim={"max_steps": 3, "max_grad_norm": 0.0, "warmup_ratio": 0.0},
                       run={"eval_every": 3, "save_every": 1, "log_every": 10})
    env = dict(subprocess_env(), NAN_RANK=nan_rank, NAN_CALL="2")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(free_port()), str(tmp_path / "nan_on_one_rank.py"), str(path), "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    out = result.stdout + result.stderr
    run = tmp_path / "runs" / "tiny"
    message = (f"{run}: training diverged at step 2/3: the training loss is NaN or infinite on 1 of 2 processes; "
               "its weights were not saved (last checkpoint: step-1)")
    assert result.returncode != 0 and naba_exit(out, 2), out[-3000:]
    assert "]: Traceback" not in out and "Connection closed" not in out, out[-3000:]
    assert re.findall(r"^naba: (.*)$", out, flags=re.M)[0].startswith(message)
    assert (run / "logs" / "train.log").read_text(encoding="utf-8").count(message) == 1
    assert [p.name for p in checkpoints(run)] == ["step-1"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lr", "what"),
    [
        # step 1 overflows the weights (the same on both processes): each process named its own share of the
        # loss ("training loss 2.93413" from one, "2.71259" from the other); now both the mean, as logged
        ("1e39", "its update made weights NaN or infinite (training loss "),
    ],
)
def test_two_processes_stopping_at_diverged_weights_say_the_same(
    tmp_path: Path, corpus: dict[str, Path], lr: str, what: str
) -> None:
    path = config_file(tmp_path, corpus, optim={"max_steps": 2, "max_grad_norm": 0.0, "warmup_ratio": 0.0, "lr": lr},
                       run={"eval_every": 1, "log_every": 10})
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(free_port()), "-m", "naba.train", str(path), "--no-progress"],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )
    out = result.stdout + result.stderr
    run = tmp_path / "runs" / "tiny"
    said = set(re.findall(r"^naba: (.*)$", out, flags=re.M))
    assert result.returncode != 0 and "]: Traceback" not in out and len(said) == 1, out[-3000:]
    assert said.pop().startswith(f"{run}: training diverged at step 1/2: {what}")
    assert checkpoints(run) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        # rank 1's own RNG file is missing (a checkpoint copied in part): rank 1 stopped with the ConfigError,
        # rank 0 logged "resuming from" and went on into training, to die in a gloo traceback ("Connection
        # closed by peer"; NCCL: a wait until its timeout)
        ("rng-1.json", "FileNotFoundError"),
        ("rng-1.safetensors", "FileNotFoundError"),
    ],
)
def test_a_checkpoint_one_process_cannot_read_stops_every_process(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch, edit: str, reason: str
) -> None:
    path = config_file(tmp_path, corpus, optim={"max_steps": 3}, run={"save_every": 1})
    kill_after_checkpoint(monkeypatch, 1)
    with pytest.raises(Killed):
        train_in_process(path)
    step = tmp_path / "runs" / "tiny" / "checkpoints" / "step-1"
    # as if written by 2 processes, but with one file of rank 1 missing
    state = json.loads((step / "state.json").read_text(encoding="utf-8"))
    (step / "state.json").write_text(json.dumps({**state, "world": 2}), encoding="utf-8")
    for suffix in (".json", ".safetensors"):
        if f"rng-1{suffix}" != edit:
            (step / f"rng-1{suffix}").write_bytes((step / f"rng-0{suffix}").read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(free_port()), "-m", "naba.train", str(path), "--no-progress"],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0 and naba_exit(out, 2), out[-3000:]
    assert "]: Traceback" not in out and "Connection closed" not in out, out[-3000:]
    message = f"naba: {step / edit}: cannot resume from this checkpoint ({reason}"
    assert re.findall(r"^naba: .*$", out, flags=re.M)[0].startswith(message)
    assert "resuming from" not in (tmp_path / "runs" / "tiny" / "logs" / "train.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "content"),
    [
        # a run's own files damaged by hand (a merge conflict, an editor): json and yaml tracebacks
        ("config.yaml", "run: [\n"),
        ("config.yaml", "- a list\n"),
        ("config.yaml", b"\xff\xfe"),
        ("metrics.json", '{"final": \n'),
        ("metrics.json", "[1, 2]\n"),
        ("metrics.json", '"final"\n'),  # a string: "final" in it was True, and the string returned as metrics
    ],
)
def test_a_run_whose_own_files_are_damaged_is_a_config_error(
    tmp_path: Path, corpus: dict[str, Path], capsys: pytest.CaptureFixture[str], file: str, content: str | bytes
) -> None:
    from naba.train.config import save_config

    path = config_file(tmp_path, corpus)
    run = tmp_path / "runs" / "tiny"
    run.mkdir(parents=True)
    save_config(load_config(path), run / "config.yaml")
    target = run / file
    target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    assert naba_main(["train", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"naba: {target}: cannot read") and "run.overwrite=true" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "spans", "line"),
    [
        # "والرئيس" is one subword: the ACTOR on "الرئيس" starts inside it and is learnt on all of it
        ("قال والرئيس في حماة .", [(5, 11, "ACTOR"), (15, 19, "LOCATION")],
         "1 of 2 training spans cannot be reproduced exactly by this tokenizer "
         "(boundary inside a subword: 1; on text the preparation removes: 0; starting or ending on whitespace or "
         "removed text, which no predicted span does: 0); see naba data stats --tokenizer"),
        # a span on a right-to-left mark alone: the preparation deletes it, no subword stands for it
        ("قال الرئيس\u200f في حماة .", [(4, 10, "ACTOR"), (10, 11, "ACTOR"), (15, 19, "LOCATION")],
         "1 of 3 training spans cannot be reproduced exactly by this tokenizer "
         "(boundary inside a subword: 0; on text the preparation removes: 1; "),
        # a trailing space an annotation tool took in: no subword is cut, the data is to fix
        ("قال الرئيس في حماة .", [(4, 11, "ACTOR"), (14, 18, "LOCATION")],
         "1 of 2 training spans cannot be reproduced exactly by this tokenizer "
         "(boundary inside a subword: 0; on text the preparation removes: 0; starting or ending on whitespace or "
         "removed text, which no predicted span does: 1)"),
        ("قال الرئيس في حماة .", [(4, 10, "ACTOR"), (14, 18, "LOCATION")], None),
    ],
)
def test_a_run_says_how_many_training_spans_its_tokenizer_cannot_reproduce(
    tmp_path: Path, capsys, text: str, spans: list[tuple[int, int, str]], line: str | None
) -> None:
    from test_encode import vocab_tokenizer

    vocab_tokenizer(["قال", "والرئيس", "الرئيس", "في", "حماة", "."]).save_pretrained(tmp_path / "tokenizer")
    train = write_jsonl(tmp_path / "train.jsonl", [Document("d", text, [Span(*s) for s in spans])])
    corpus = {"train": train, "dev": train, "tokenizer": tmp_path / "tokenizer"}
    train_in_process(config_file(tmp_path, corpus), "optim.max_steps=1", "data.layers=[entity]")
    err, log = capsys.readouterr().err, (tmp_path / "runs" / "tiny" / "logs" / "train.log").read_text(encoding="utf-8")
    if line is None:
        assert "cannot be reproduced" not in err + log
        return
    assert line in err and line in log
    # the same count as `naba data stats --tokenizer RUN` on the same data
    assert naba_main(["data", "stats", str(train), "--tokenizer", str(tmp_path / "runs" / "tiny"), "--json"]) == 0
    assert sum(json.loads(capsys.readouterr().out)["unrepresentable"].values()) == int(line.split()[0])


def test_a_run_warns_of_dev_and_test_documents_it_trains_on(
    tmp_path: Path, corpus: dict[str, Path], capsys
) -> None:
    # a dev file cut from the training file (or one article under two ids) picks best/ and stops
    # training on text the model has learnt, and nothing said so
    docs = list(read(corpus["train"]))
    test = write_jsonl(tmp_path / "test.jsonl", [Document("copy", docs[3].text + "\n", []), *synthetic(2, 5)])
    corpus = {**corpus, "dev": corpus["train"]}
    train_in_process(config_file(tmp_path, corpus, data={"test": str(test)}), "optim.max_steps=1")
    err, log = capsys.readouterr().err, (tmp_path / "runs" / "tiny" / "logs" / "train.log").read_text(encoding="utf-8")
    n = len(docs)
    shown = ", ".join(repr(d.id) for d in docs[:5])
    dev = f"warning: {n} of {n} dev documents have the text of a training document (ids: {shown}, ...); dev scores"
    test = "warning: 1 of 3 test documents have the text of a training document (ids: 'copy'); test scores"
    for line in (dev, test):
        assert line in err and line in log


def test_a_dev_set_carved_from_training_texts_held_twice_is_not_told_to_edit_data_dev(
    tmp_path: Path, corpus: dict[str, Path], capsys
) -> None:
    # data.dev unset: dev is carved from data.train, so a text held there under two ids lands in both,
    # and the advice "take them out of data.dev or data.train" named a key the config does not set
    docs = list(read(corpus["train"]))
    train = write_jsonl(tmp_path / "train.jsonl", [*docs, *(Document(f"again-{d.id}", d.text, d.spans) for d in docs)])
    train_in_process(config_file(tmp_path, {**corpus, "train": train}), "data.dev=", "optim.max_steps=1")
    warning = next(line for line in capsys.readouterr().err.splitlines() if "dev documents have the text" in line)
    assert "data.dev" not in warning
    assert warning.endswith("dev is carved from data.train, which holds these texts under other ids too: keep one "
                            "of each there")


@pytest.mark.parametrize(
    ("precision", "takes_bf16", "takes_fp16", "warned"),
    [("bf16", False, False, True), ("bf16", True, False, False), ("fp16", True, False, True),
     ("fp16", True, True, False), ("no", False, False, False)],
)
def test_mixed_precision_this_cpu_only_emulates_is_warned_of(
    tmp_path: Path, corpus: dict[str, Path], capsys, monkeypatch: pytest.MonkeyPatch,
    precision: str, takes_bf16: bool, takes_fp16: bool, warned: bool,
) -> None:
    # a config copied from a GPU machine (optim.mixed_precision=bf16) trained on an AVX2 CPU under
    # autocast, each step many times slower than fp32, and nothing said why
    import naba.model

    monkeypatch.setattr(naba.model, "cpu_takes_bf16", lambda: takes_bf16)
    monkeypatch.setattr(naba.model, "cpu_takes_fp16", lambda: takes_fp16)
    train_in_process(config_file(tmp_path, corpus), "optim.max_steps=1", f"optim.mixed_precision={precision}")
    err, log = capsys.readouterr().err, (tmp_path / "runs" / "tiny" / "logs" / "train.log").read_text(encoding="utf-8")
    line = f"warning: optim.mixed_precision={precision}: {precision} on this CPU: it has no {precision} matrix"
    assert (line in err and line in log) == warned
    assert ("warning: optim.mixed_precision" in err) == warned


WRITE_RUN = ("optim.max_steps=4", "run.eval_every=2", "run.log_every=10")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, corpus: dict[str, Path]) -> dict:
    return train_in_process(config_file(tmp_path_factory.mktemp("whole"), corpus), *WRITE_RUN)


def _fail_saving(monkeypatch: pytest.MonkeyPatch, module, name: str, folder: str, error: Exception) -> None:
    """Make ``module.name`` (a save function taking the folder, or a tokenizer's save_pretrained) raise
    ``error`` where it writes a folder whose name starts with ``folder``."""
    real = getattr(module, name)

    def save(*args, **kwargs):
        target = next(a for a in args if isinstance(a, str | Path))
        if Path(target).name.startswith(folder):
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, save)


@pytest.mark.parametrize(
    ("fail", "file", "reason"),
    [
        # a real full disk writing the weights: a raw SafetensorError traceback
        ("best", "best", "No space left on device"),
        ("fsync 8", "checkpoints/step-2", "No space left on device"),  # state.json: named by its temporary folder
        ("fsync 16", "README.md", "No space left on device"),
        ("train.log", "logs/train.log", "Is a directory"),  # a raw IsADirectoryError traceback
        # naba-small's tokenizer, saved first: tokenizers' bare 'Exception: ... (os error 28)' traceback
        ("tokenizer", "tokenizer", "No space left on device"),
        # run.dir on a read-only disk: a raw 'OSError: [Errno 30] Read-only file system' from mkdir
        ("read-only", "", "Read-only file system"),
    ],
)
def test_a_run_failing_to_write_says_which_file_in_one_line_and_resumes(
    tmp_path: Path, corpus: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    disk_full, uninterrupted: dict, fail: str, file: str, reason: str,
) -> None:
    import errno

    from safetensors import SafetensorError
    from transformers import PreTrainedTokenizerBase

    import naba.model

    path = config_file(tmp_path, corpus)
    run = tmp_path / "runs" / "tiny"
    overrides = [*WRITE_RUN, *(["model.tokenizer=null"] if fail == "tokenizer" else [])]
    if fail == "best":
        error = SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        _fail_saving(monkeypatch, naba.model, "save_checkpoint", "best", error)
    elif fail == "tokenizer":
        error = Exception("No space left on device (os error 28)")
        _fail_saving(monkeypatch, PreTrainedTokenizerBase, "save_pretrained", ".tokenizer.", error)
    elif fail == "train.log":
        (run / "logs" / "train.log").mkdir(parents=True)
    elif fail == "read-only":
        mkdir = Path.mkdir

        def read_only(self: Path, *args, **kwargs) -> None:
            if self == run:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
            mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", read_only)
    else:
        disk_full(int(fail.split()[1]))
    capsys.readouterr()
    assert naba_train(path, *overrides) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines()[-1] == f"  {run / file}: cannot write file: {reason}"
    monkeypatch.undo()
    if fail == "train.log":
        (run / "logs" / "train.log").rmdir()
    # the same command, with space again, goes on from the last good checkpoint to the same end
    assert naba_train(path, *overrides) == 0
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    if fail != "tokenizer":  # (WordPiece training is not deterministic: another run's vocabulary)
        assert metrics["final"] == uninterrupted["final"] and metrics["evals"] == uninterrupted["evals"]
    assert not [p for p in run.rglob(".*")]  # nothing half-written left beside the run's files


# runs naba train with the rename of checkpoints/FAIL_AT into place failing (a full disk), on the main process,
# or with FAIL_AT=tokenizer the save of naba-small's tokenizer (as tokenizers fails: a bare Exception)
FAIL_ON_MAIN = """
import errno, os, sys
from pathlib import Path
from transformers import PreTrainedTokenizerBase
import naba.train.checkpoint as ck
real, real_save = ck.publish_dir, PreTrainedTokenizerBase.save_pretrained
def publish_dir(tmp, path):
    if path.name == os.environ["FAIL_AT"]:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    real(tmp, path)
def save_pretrained(self, folder, *args, **kwargs):
    if os.environ["FAIL_AT"] == "tokenizer" and Path(folder).name.startswith(".tokenizer."):
        raise Exception("No space left on device (os error 28)")
    return real_save(self, folder, *args, **kwargs)
ck.publish_dir, PreTrainedTokenizerBase.save_pretrained = publish_dir, save_pretrained
from naba.cli import main
sys.exit(main(["train", *sys.argv[1:]]))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fail_at", "file"),
    [
        ("step-2", "checkpoints/step-2"),
        # the other process waited for the tokenizer (a barrier), to die there in the same gloo traceback
        ("tokenizer", "tokenizer"),
    ],
)
def test_a_write_failing_on_the_main_process_stops_every_process_with_its_error(
    tmp_path: Path, corpus: dict[str, Path], fail_at: str, file: str
) -> None:
    # only the main process writes: it stopped with the DataError, and the other went on into the next step's
    # collectives, to die in a gloo 'Connection closed by peer' traceback (NCCL: a wait until its timeout)
    (tmp_path / "fail_on_main.py").write_text(FAIL_ON_MAIN, encoding="utf-8")
    path = config_file(tmp_path, corpus, optim={"max_steps": 4}, run={"eval_every": 2})
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(free_port()), str(tmp_path / "fail_on_main.py"), str(path), "--no-progress",
         *(["model.tokenizer=null"] if fail_at == "tokenizer" else [])],
        env=dict(subprocess_env(), FAIL_AT=fail_at), capture_output=True, text=True, timeout=300,
    )
    out = result.stdout + result.stderr
    run = tmp_path / "runs" / "tiny"
    assert result.returncode != 0 and naba_exit(out, 1), out[-3000:]
    assert "]: Traceback" not in out and "Connection closed" not in out, out[-3000:]
    # the same from each process (torchrun may end the second before it prints; their lines may interleave)
    assert f"  {run / file}: cannot write file: No space left on device" in out
    assert set(re.findall(r"(\S+): cannot write file", out)) == {str(run / file)}
    assert checkpoints(run) == []
