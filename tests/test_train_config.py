"""TrainConfig: defaults, YAML and key=value overrides, path resolution, and clear ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from naba.errors import ConfigError
from naba.train.config import RUNTIME_ONLY, TrainConfig, changed_settings, load_config, save_config


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A fake repository: configs/ beside data/ with two tiny data files."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "data").mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / "data" / name).write_text('{"id": "x", "text": "نص"}\n', encoding="utf-8")
    return tmp_path


def write(repo: Path, text: str) -> Path:
    path = repo / "configs" / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_holds_only_overrides_and_defaults_fill_the_rest(repo: Path) -> None:
    cfg = load_config(write(repo, "data:\n  train: data/a.jsonl\noptim:\n  lr: 1.0e-4\n"), cwd=repo)
    defaults = TrainConfig()
    assert cfg.optim.lr == 1e-4
    assert cfg.optim.batch_size == defaults.optim.batch_size
    assert cfg.model.name_or_path == "aubmindlab/bert-base-arabertv02"
    assert (cfg.model.max_length, cfg.model.stride) == (512, 128)
    assert cfg.run.name == "run"  # the config file's stem


def test_command_line_beats_file_and_is_typed_as_yaml(repo: Path) -> None:
    path = write(repo, "data:\n  train: data/a.jsonl\noptim:\n  lr: 1.0e-4\n  epochs: 2\n")
    cfg = load_config(path, ["optim.lr=3e-5", "optim.epochs=7", "run.deterministic=false",
                             "data.layers=[entity]", "model.name_or_path=naba-small",
                             "optim.mixed_precision=no"], cwd=repo)
    assert cfg.optim.lr == 3e-5  # "3e-5" is a string to YAML 1.1; a float field takes it
    assert cfg.optim.epochs == 7
    assert cfg.run.deterministic is False
    assert cfg.data.layers == ["entity"]
    assert cfg.model.name_or_path == "naba-small"
    assert cfg.optim.mixed_precision == "no"  # not False, as YAML 1.1 would have it
    cfg = load_config(path, ["data.format=conll", "data.read_options={bio_repair: begin}"], cwd=repo)
    assert cfg.data.read_options == {"bio_repair": "begin"}


@pytest.mark.parametrize(
    ("overrides", "lr", "name"),
    [
        # the last of a key given twice wins: scripts/anercorp.sh passes "$@" after its own overrides
        (["optim.lr=1e-3", "optim.lr=2e-3"], 2e-3, "run"),
        (["run.name=a", "optim.lr=1e-3", "run.name=b"], 1e-3, "b"),
        (["run.name=a", "run.name="], 5e-5, "run"),  # back to the default
    ],
)
def test_a_key_given_twice_on_the_command_line_takes_its_last_value(
    repo: Path, overrides: list[str], lr: float, name: str
) -> None:
    cfg = load_config(None, ["data.train=data/a.jsonl", *overrides], cwd=repo)
    assert (cfg.optim.lr, cfg.run.name) == (lr, name)


@pytest.mark.parametrize(
    ("body", "overrides", "key", "default"),
    [
        # an empty value is null, i.e. the default: for a key that cannot be null it was refused
        # ("data.dev: expected a path or a list of paths, got None")
        ("data:\n  dev: data/b.jsonl\n", ["data.dev="], "data.dev", []),  # dev carved from train again
        ("data:\n  test: data/b.jsonl\n", ["data.test="], "data.test", []),
        ("data:\n  test:\n", [], "data.test", []),
        ("optim:\n  lr: 1.0e-3\n", ["optim.lr="], "optim.lr", 5e-5),
        ("", ["run.seed=null"], "run.seed", TrainConfig().run.seed),
        ("", ["run.tracker="], "run.tracker", TrainConfig().run.tracker),
        ("data:\n  layers: [entity]\n", ["data.layers="], "data.layers", None),  # a key that can be null stays so
    ],
)
def test_an_empty_value_is_the_keys_default(
    repo: Path, body: str, overrides: list[str], key: str, default: object
) -> None:
    text = "data:\n  train: data/a.jsonl\n" + body.replace("data:\n", "")
    cfg = load_config(write(repo, text), overrides, cwd=repo)
    section, _, name = key.partition(".")
    assert getattr(getattr(cfg, section), name) == default


def test_paths_in_a_file_resolve_against_its_folders_parent_and_cli_paths_against_cwd(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("cwd")
    (elsewhere / "c.jsonl").write_text('{"id": "y", "text": "نص"}\n', encoding="utf-8")
    path = write(repo, "data:\n  train: data/a.jsonl\n")
    cfg = load_config(path, ["data.dev=c.jsonl"], cwd=elsewhere)
    assert cfg.data.train == [str(repo / "data" / "a.jsonl")]
    assert cfg.data.dev == [str(elsewhere / "c.jsonl")]
    assert cfg.run.dir == str(elsewhere / "runs")


@pytest.mark.parametrize(
    ("body", "overrides", "key", "hinted"),
    [
        # exp.yaml at a repository's root looked for data/ beside the repository: now the message says why
        ("data:\n  dev: data/missing.jsonl\n", [], "data.dev", True),
        ("data:\n  test: [data/a.jsonl, data/nothing*.jsonl]\n", [], "data.test", True),
        ("data:\n  labels: labels.yaml\n", [], "data.labels", True),
        ("model:\n  name_or_path: naba-small\n  tokenizer: tok\n", [], "model.tokenizer", True),
        ("", ["data.dev=data/missing.jsonl"], "data.dev", False),  # the command line's start at the current folder
        ("data:\n  dev: /nonexistent/missing.jsonl\n", [], "data.dev", False),  # an absolute path elsewhere
    ],
)
def test_a_missing_path_from_a_file_says_where_its_relative_paths_start(
    repo: Path, body: str, overrides: list[str], key: str, hinted: bool
) -> None:
    data = "data:\n  train: data/a.jsonl\n"
    text = data + body.replace("data:\n", "") if body.startswith("data:") else data + body
    with pytest.raises(ConfigError) as err:
        load_config(write(repo, text), overrides, cwd=repo)
    assert f"{key}: no such" in str(err.value)
    hint = f"(relative paths in a config file start at the parent of its folder, {repo.resolve()})"
    assert (hint in str(err.value)) == hinted


def test_globs_expand_sorted(repo: Path) -> None:
    cfg = load_config(write(repo, "data:\n  train: [data/*.jsonl]\n"), cwd=repo)
    assert cfg.data.train == [str(repo / "data" / "a.jsonl"), str(repo / "data" / "b.jsonl")]


@pytest.mark.parametrize("folder", ["run [2]", "v*", "a?b", "[x]"])
def test_a_path_that_exists_is_taken_as_is_even_with_glob_characters(repo: Path, folder: str) -> None:
    # 'run [2]/a.jsonl' as a pattern matches 'run 2/a.jsonl' (a character class), not itself
    (repo / "data" / folder).mkdir()
    path = repo / "data" / folder / "a.jsonl"
    path.write_text('{"id": "x", "text": "نص"}\n', encoding="utf-8")
    cfg = load_config(write(repo, f"data:\n  train: ['data/{folder}/a.jsonl']\n"), cwd=repo)
    assert cfg.data.train == [str(path)]
    save_config(cfg, repo / "saved" / "config.yaml")  # as a run keeps it, and a resume reads it back
    assert load_config(repo / "saved" / "config.yaml", cwd=repo).data.train == [str(path)]


def test_a_hub_id_stays_as_is_and_a_local_folder_becomes_absolute(repo: Path) -> None:
    (repo / "models" / "mine").mkdir(parents=True)
    base = "data:\n  train: data/a.jsonl\nmodel:\n  name_or_path: "
    assert load_config(write(repo, base + "org/model\n"), cwd=repo).model.name_or_path == "org/model"
    local = load_config(write(repo, base + "models/mine\n"), cwd=repo).model.name_or_path
    assert local == str(repo / "models" / "mine")


def test_saved_config_loads_back_to_the_same_config(repo: Path) -> None:
    cfg = load_config(write(repo, "data:\n  train: data/a.jsonl\n"), ["optim.lr=2e-5", "run.name=x"], cwd=repo)
    save_config(cfg, repo / "saved" / "config.yaml")
    again = load_config(repo / "saved" / "config.yaml", cwd=repo)
    assert again.to_dict() == cfg.to_dict()
    assert not [p for p in (repo / "saved").iterdir() if p.name != "config.yaml"]  # no temp file left


BAD = [
    # (file body after "data: train: ...", overrides, words the message must hold)
    ("optim:\n  lr: -1.0\n", [], ["run.yaml", "optim.lr", "> 0"]),
    ("", ["optim.lr=-1e-3"], ["command line", "optim.lr", "> 0"]),
    ("optim:\n  lr: fast\n", [], ["run.yaml", "optim.lr", "a number", "fast"]),
    ("optim:\n  epochs: 2.5\n", [], ["run.yaml", "optim.epochs", "an integer"]),
    ("optim:\n  epochs: true\n", [], ["optim.epochs", "an integer"]),
    ("", ["run.deterministic=yes please"], ["command line", "run.deterministic", "true or false"]),
    ("model:\n  max_length: 64\n  stride: 64\n", [], ["run.yaml", "model.stride", "below max_length"]),
    ("", ["model.max_length=128", "model.stride=200"], ["command line", "model.stride"]),
    ("optim:\n  mixed_precision: fp8\n", [], ["optim.mixed_precision", "bf16"]),
    ("run:\n  tracker: comet\n", [], ["run.tracker", "tensorboard"]),
    ("optim:\n  learning_rate: 1.0e-3\n", [], ["run.yaml", "unknown key", "optim.learning_rate"]),
    ("", ["optim.learnrate=1"], ["command line", "unknown key", "optim.learnrate"]),
    ("training:\n  lr: 1\n", [], ["run.yaml", "unknown section", "training"]),
    ("", ["lr=1"], ["command line", "unknown key", "lr"]),
    ("", ["optim.lr"], ["command line", "key=value"]),
    ("optim: 3\n", [], ["run.yaml", "optim", "mapping"]),
    ("", ["data.dev=missing.jsonl"], ["command line", "data.dev", "no such data file", "missing.jsonl"]),
    ("data:\n  test: [data/nothing*.jsonl]\n", [], ["data.test", "no such data file", "nothing*"]),
    ("data:\n  labels: labels.yaml\n", [], ["data.labels", "labels.yaml"]),
    ("data:\n  dev_ratio: 1.5\n", [], ["data.dev_ratio", "[0, 1)"]),
    ("model:\n  hidden_size: 100\n  heads: 3\n", [], ["model.heads", "divisible"]),
    ("optim:\n  batch_size: 0\n", [], ["optim.batch_size", ">= 1"]),
    ("optim:\n  warmup_ratio: 1.0\n", [], ["optim.warmup_ratio"]),
    ("run:\n  name: a/b\n", [], ["run.name", "plain folder name"]),
    ("data:\n  read_options: begin\n", [], ["data.read_options", "mapping"]),
    # a file where the run folder (or one above it) goes: was a raw NotADirectoryError from mkdir,
    # after the data was read and the model built
    ("", ["run.dir=data/a.jsonl"], ["command line", "run.dir", "a.jsonl", "is a file"]),
    ("", ["run.dir=data/a.jsonl/deeper"], ["command line", "run.dir", "a.jsonl", "is a file"]),
    ("", ["run.dir=data", "run.name=a.jsonl"], ["command line", "run.name", "a.jsonl", "is a file"]),
    # found before a run folder is touched, not when the data is read (after run.overwrite deleted the old run)
    ("data:\n  format: conl\n", [], ["run.yaml", "data.format", "conl", "conll"]),
    ("model:\n  preset: arabert\n", [], ["run.yaml", "model.preset", "arabertv02"]),
    ("data:\n  layers: [entities]\n", [], ["run.yaml", "data.layers", "entities", "'entity'"]),
    ("data:\n  read_options: {bio_repair: begin}\n", [], ["data.read_options", "jsonl reader", "bio_repair"]),
    ("data:\n  labels: data/a.jsonl\n", [], ["run.yaml", "data.labels", "a.jsonl", "label scheme"]),
    # a typo is named with the key it probably meant
    ("optim:\n  lrr: 1.0e-3\n", [], ["run.yaml", "optim.lrr", "did you mean optim.lr?"]),
    ("optimizer:\n  lr: 1.0e-3\n", [], ["run.yaml", "optimizer", "did you mean optim?"]),
    ("", ["optm.lr=1e-3"], ["command line", "did you mean optim.lr?"]),
    ("", ["lr=1e-3"], ["command line", "did you mean optim.lr?"]),
    ("", ["data.read_options.bio_repair=begin"], ["data.read_options is set as a whole", "{bio_repair: value}"]),
    # YAML reads these as numbers; the message says to quote them
    ("run:\n  name: 2024\n", [], ["run.yaml", "run.name", "2024", "quote it"]),
    ("", ["model.name_or_path=1.5"], ["command line", "model.name_or_path", "quote it"]),
    ("run:\n  name: 2024-05-01\n", [], ["run.yaml", "run.name", "date", "quote it"]),
    ("", ["run.name=2024-05-01"], ["command line", "run.name", "date", "quote it"]),
    ("", ["data.read_options={a: 1, a: 2}"], ["command line", "data.read_options", "'a' twice"]),
    # a list written with commas alone is one item to YAML: said so
    ("", ["data.layers=entity,claim"], ["command line", "data.layers", "'entity,claim'", "in brackets, e.g. [a, b]"]),
    ("", ["data.dev=data/a.jsonl,data/b.jsonl"], ["command line", "data.dev", "no such data file", "in brackets"]),
    ("data:\n  test: data/a.jsonl, data/b.jsonl\n", [], ["run.yaml", "data.test", "in brackets"]),
    # a folder without a tokenizer (a run folder, not its tokenizer/): transformers' error asked for sentencepiece
    ("", ["model.name_or_path=naba-small", "model.tokenizer=data"],
     ["command line", "model.tokenizer", "no tokenizer.json", "tokenizer/"]),
]


@pytest.mark.parametrize(("body", "overrides", "words"), BAD)
def test_bad_configs_are_config_errors_naming_key_and_source(
    repo: Path, body: str, overrides: list[str], words: list[str]
) -> None:
    data = "data:\n  train: data/a.jsonl\n"
    # a "data:" section in the body extends the one above
    text = data + body.replace("data:\n", "") if body.startswith("data:") else data + body
    with pytest.raises(ConfigError) as err:
        load_config(write(repo, text), overrides, cwd=repo)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(
    ("body", "overrides", "fixed"),
    [
        # the shell takes the quotes of run.name='2024-05-01' and splits data.layers=[entity, claim] in two, so
        # advice for the command line shows the whole argument as the shell must pass it; a file's has no shell
        ("", ["run.name=2024-05-01"], "..."),
        ("", ["run.name=2024"], "..."),
        ("", ["data.layers=entity,claim"], ["a", "b"]),
        ("", ["data.dev=data/a.jsonl,data/b.jsonl"], ["a", "b"]),
        ("run:\n  name: 2024-05-01\n", [], None),
        ("data:\n  layers: entity,claim\n", [], None),
    ],
)
def test_advice_for_the_command_line_gets_past_the_shell(
    repo: Path, body: str, overrides: list[str], fixed: object
) -> None:
    import re
    import shlex

    from naba import yamlio

    data = "data:\n  train: data/a.jsonl\n"
    text = data + body.replace("data:\n", "") if body.startswith("data:") else data + body
    with pytest.raises(ConfigError) as err:
        load_config(write(repo, text), overrides, cwd=repo)
    message = str(err.value)
    shown = re.search(r"in the shell's quotes: (\S.*?\S)\)", message)
    if fixed is None:
        assert shown is None and "shell" not in message
        return
    words = shlex.split(shown.group(1))
    key = overrides[0].partition("=")[0]
    assert len(words) == 1 and words[0].startswith(f"{key}=")
    assert yamlio.load(words[0].partition("=")[2]) == fixed


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("- a\n- b\n", ["run.yaml", "mapping"]),
        ("data: [\n", ["run.yaml", "cannot read"]),
        ("optim:\n  lr: 1.0\n", ["data.train", "no training data"]),
        # a key given twice: YAML kept the last without a word (the first data section, train and all, was lost)
        ("data:\n  train: data/a.jsonl\ndata:\n  dev_ratio: 0\n", ["run.yaml", "line 3", "'data' twice"]),
        ("data:\n  train: data/a.jsonl\n  train: data/b.jsonl\n", ["run.yaml", "line 3", "'train' twice"]),
        ("optim:\n  lr: 1.0e-3\n  lr: 1.0e-4\n", ["run.yaml", "line 3", "'lr' twice"]),
        ("data:\n  train: [data/a.jsonl\n", ["run.yaml", "cannot read", "line 3"]),
        # a section YAML reads as a number or a boolean: difflib's suggestion was a TypeError traceback
        ("1:\n  lr: 1\n", ["run.yaml", "unknown section 1"]),
        ("yes:\n  lr: 1\n", ["run.yaml", "unknown section True"]),
        (b"data:\n  train: data/\xff.jsonl\n", ["run.yaml", "cannot read", "utf-8"]),
        # PyYAML composes recursively: deep nesting was a raw RecursionError traceback
        pytest.param(
            "data:\n  train: " + "[" * 5000 + "]" * 5000 + "\n", ["run.yaml", "cannot read", "nested too deeply"],
            id="deeply-nested",
        ),
    ],
)
def test_unreadable_or_incomplete_files(repo: Path, text: str | bytes, words: list[str]) -> None:
    path = write(repo, "")
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(ConfigError) as err:
        load_config(path, cwd=repo)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(
    ("body", "overrides", "seeds"),
    [
        # YAML 1.1 reads a leading zero as octal: run.seed=010 trained with seed 8, and 08 was refused as a string
        ("", ["run.seed=010"], (10, 0)),
        ("", ["run.seed=08", "data.dev_seed=09"], (8, 9)),
        ("", ["run.seed=007", "data.dev_seed=-0"], (7, 0)),
        ("run:\n  seed: 010\n", ["data.dev_seed=0_10"], (10, 10)),
        ("run:\n  seed: 08\n", [], (8, 0)),
        ("", ["run.seed=0x10", "data.dev_seed=1_000"], (16, 1000)),  # YAML's other integers, as before
    ],
)
def test_integers_are_read_as_written(repo: Path, body: str, overrides: list[str], seeds: tuple[int, int]) -> None:
    cfg = load_config(write(repo, "data:\n  train: data/a.jsonl\n" + body), overrides, cwd=repo)
    assert (cfg.run.seed, cfg.data.dev_seed) == seeds


@pytest.mark.parametrize(
    ("override", "name", "refused"),
    [
        # YAML 1.1's base 60: run.seed=1:30 trained with seed 90 without a word, and run.name=12:30 was
        # refused as the number 750; YAML 1.2, and a researcher, read them as written
        ("run.seed=1:30", None, "expected an integer"),
        ("data.dev_seed=-1:0:0", None, "expected an integer"),
        ("run.name=12:30", "12:30", None),
        ("run.name=1:30.5", "1:30.5", None),
    ],
)
def test_numbers_with_colons_are_text(repo: Path, override: str, name: str | None, refused: str | None) -> None:
    if refused is not None:
        with pytest.raises(ConfigError, match=refused):
            load_config(write(repo, "data:\n  train: data/a.jsonl\n"), [override], cwd=repo)
        return
    cfg = load_config(write(repo, "data:\n  train: data/a.jsonl\n"), [override], cwd=repo)
    assert cfg.run.name == name
    save_config(cfg, repo / "saved" / "config.yaml")
    assert load_config(repo / "saved" / "config.yaml", cwd=repo).run.name == name


@pytest.mark.parametrize("name", ["010", "08", "2024-05-01"])
def test_a_quoted_name_of_digits_stays_text_through_a_saved_config(repo: Path, name: str) -> None:
    cfg = load_config(write(repo, "data:\n  train: data/a.jsonl\n"), [f"run.name='{name}'"], cwd=repo)
    save_config(cfg, repo / "saved" / "config.yaml")
    assert load_config(repo / "saved" / "config.yaml", cwd=repo).run.name == name


@pytest.mark.parametrize(
    ("body", "overrides", "name"),
    [
        ("", [], "exp"),
        ("run:\n  name: null\n", [], "exp"),
        ("", ["run.name="], "exp"),  # an empty value is null: the default, the file's name (was "run")
        ("", ["run.name=null"], "exp"),
        ("run:\n  name: mine\n", ["run.name="], "exp"),
        ("", ["run.name=mine"], "mine"),
        ("", ["run.name='2024'"], "2024"),
    ],
)
def test_run_name_defaults_to_the_config_files_name(repo: Path, body: str, overrides: list[str], name: str) -> None:
    path = repo / "configs" / "exp.yaml"
    path.write_text("data:\n  train: data/a.jsonl\n" + body, encoding="utf-8")
    assert load_config(path, overrides, cwd=repo).run.name == name


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_shipped_configs_only_override_known_keys() -> None:
    # every key in configs/*.yaml must exist in TrainConfig (paths may be absent here)
    root = Path(__file__).resolve().parent.parent
    sections = TrainConfig().to_dict()
    for name in ("demo", "arabert", "anercorp"):
        raw = yaml.safe_load((root / "configs" / f"{name}.yaml").read_text(encoding="utf-8"))
        for section, values in raw.items():
            assert section in sections, (name, section)
            assert set(values) <= set(sections[section]), (name, section, set(values) - set(sections[section]))


@pytest.mark.parametrize("name", ["demo", "arabert", "anercorp"])
def test_shipped_configs_load_and_pass_every_check(name: str, tmp_path: Path) -> None:
    # not only known keys: values in range, their data files there, the reader options the format has
    root = Path(__file__).resolve().parent.parent
    if name == "anercorp" and not (root.parent / "shared" / "corpora" / "anercorp" / "train.txt").is_file():
        pytest.skip("ANERcorp is not in ../shared here")
    cfg = load_config(root / "configs" / f"{name}.yaml", cwd=tmp_path)
    assert cfg.run.name == name and cfg.data.train


@pytest.mark.parametrize("name", ["demo", "arabert"])
def test_shipped_configs_do_not_train_on_the_demo_corpus_held_out_splits(name: str) -> None:
    # data/demo/*.jsonl globs test.jsonl in: a model trained so scores inflated on the demo's test split
    root = Path(__file__).resolve().parent.parent
    cfg = load_config(root / "configs" / f"{name}.yaml")
    held_out = {str(root / "data" / "demo" / f"{split}.jsonl") for split in ("dev", "test")}
    assert not held_out & {str(Path(p)) for p in cfg.data.train}, cfg.data.train


DROP = object()  # a key (or section) an older naba did not write to config.yaml


@pytest.mark.parametrize(
    ("edits", "changed"),
    [
        ({}, []),
        ({"run.threads": 4}, ["run.threads"]),  # reported; the caller decides what RUNTIME_ONLY forgives
        ({"run.overwrite": True, "optim.lr": 1e-3}, ["optim.lr", "run.overwrite"]),
        ({"run.threads": DROP}, ["run.threads"]),
        ({"model": DROP}, [f"model.{k}" for k in TrainConfig().to_dict()["model"]]),
    ],
)
def test_changed_settings_compare_a_saved_config_key_by_key(edits: dict, changed: list[str]) -> None:
    new = TrainConfig().to_dict()
    old = yaml.safe_load(yaml.safe_dump(new))  # as read back from config.yaml
    for key, value in edits.items():
        section, _, name = key.partition(".")
        where, name = (old, section) if not name else (old[section], name)
        if value is DROP:
            del where[name]
        else:
            where[name] = value
    assert changed_settings(old, new) == changed


def test_runtime_only_settings_are_real_run_keys() -> None:
    keys = {f"{s}.{k}" for s, values in TrainConfig().to_dict().items() for k in values}
    assert RUNTIME_ONLY <= keys and all(key.startswith("run.") for key in RUNTIME_ONLY)


@pytest.mark.parametrize(
    ("local_rank", "capabilities", "expected"),
    [
        (None, [(9, 0)], "bf16"),  # H100
        (None, [(7, 5)], "fp16"),  # T4: torch.cuda.is_bf16_supported() says yes, by emulation
        (None, [(7, 0)], "fp16"),  # V100: the same
        ("1", [(9, 0), (7, 0)], "fp16"),  # this process's GPU (accelerate's: LOCAL_RANK), not GPU 0
        ("1", [(7, 0), (8, 6)], "bf16"),
    ],
)
def test_auto_mixed_precision_is_bf16_where_the_process_gpu_has_it_in_hardware(
    local_rank: str | None, capabilities: list[tuple[int, int]], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from naba.train.setup import resolve_precision

    if local_rank is None:
        monkeypatch.delenv("LOCAL_RANK", raising=False)
    else:
        monkeypatch.setenv("LOCAL_RANK", local_rank)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability",
                        lambda d=None: capabilities[d if isinstance(d, int) else torch.device(d or "cuda").index or 0])
    monkeypatch.setattr(torch.cuda, "_check_bf16_tensor_supported", lambda d: True, raising=False)
    assert resolve_precision("auto") == expected
    assert resolve_precision("no") == "no"  # as asked, whatever the GPU


@pytest.mark.parametrize("argv", [["train", "--help"], ["train", "configs/demo.yaml", "--help"],
                                  ["train", "configs/demo.yaml", "optim.lr=1e-4", "-h"]])
def test_help_after_the_config_prints_help(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    # after the config, argparse's REMAINDER took --help for an override: "'--help': overrides are key=value"
    from naba.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own --help, before the config
        code = exc.code
    assert code == 0
    assert "usage: naba train" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["train", "optim.lr=1e-4", "configs/demo.yaml"],
                                  ["train", "configs/demo.yaml", "configs/arabert.yaml", "--print-config"],
                                  ["train", "run.name=x", "configs/Demo.YML"]])
def test_a_config_file_after_the_overrides_is_named_as_misplaced(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    # it was "'configs/demo.yaml': overrides are key=value", as though it were a malformed override
    from naba.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "naba train takes one config file, before the overrides" in err and repr(argv[2]) in err


@pytest.mark.parametrize("folds", ["1", "0", "-2", "x", "2.5", "²", "--3"])  # ² and --3: str.isdigit, not int()
@pytest.mark.parametrize("where", ["before", "after"])
def test_too_few_folds_are_refused_as_usage_even_with_print_config(
    folds: str, where: str, capsys: pytest.CaptureFixture
) -> None:
    # --folds 1 --print-config printed the config and exited 0; the run itself refused it
    from naba.cli import main

    flags = ["--print-config", f"--folds={folds}"]
    argv = ["train", *flags, "configs/demo.yaml"] if where == "before" else ["train", "configs/demo.yaml", *flags]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "at least 2 folds" in capsys.readouterr().err


def _alias_bomb(levels: int) -> str:
    # "billion laughs": each level is a list of nine aliases to the level before (9**(levels+1) strings)
    parts, prev = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"], "l0"
    for n in range(1, levels + 1):
        parts.append(f"&l{n} [{', '.join([f'*{prev}'] * 9)}]")
        prev = f"l{n}"
    return f"[{', '.join(parts)}]"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        # the error printed the whole value: a 353-byte file with 9 levels made a message of ~28 GB
        ("optim:\n  lr: {bomb}\n", ["optim.lr", "expected a number", "..."]),
        ("data:\n  train: {bomb}\n", ["data.train", "a path or a list of paths", "..."]),
        ("data:\n  train: data/a.jsonl\n  read_options: [{bomb}]\n", ["data.read_options", "a mapping"]),
    ],
)
def test_an_alias_bomb_is_a_short_config_error(repo: Path, body: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(repo, body.replace("{bomb}", _alias_bomb(5))), cwd=repo)
    assert len(str(err.value)) < 1000
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("key", ["data.train", "data.dev", "data.test"])
@pytest.mark.parametrize("folder", ["brat", "brat/"])
def test_a_brat_folder_is_data(repo: Path, key: str, folder: str) -> None:
    # a brat folder, which every naba reader takes, was refused as 'no such data file: .../brat'
    (repo / "data" / "brat").mkdir()
    (repo / "data" / "brat" / "d1.txt").write_text("قال محمد", encoding="utf-8")
    (repo / "data" / "brat" / "d1.ann").write_text("T1\tPER 4 8\tمحمد\n", encoding="utf-8")
    cfg = load_config(write(repo, "data:\n  train: data/a.jsonl\n"), [f"{key}=data/{folder}"], cwd=repo)
    assert [Path(p) for p in getattr(cfg.data, key.split(".")[1])] == [repo / "data" / "brat"]
