"""The label scheme file and the built-in scheme must agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme
from naba.errors import ConfigError

LABELS_YAML = Path(__file__).resolve().parents[1] / "configs" / "labels.yaml"


def test_labels_yaml_equals_default_scheme() -> None:
    loaded = LabelScheme.load(LABELS_YAML)
    assert loaded == DEFAULT_SCHEME
    assert list(loaded.layers) == list(DEFAULT_SCHEME.layers)  # layer order decides tag columns
    assert list(loaded.mapping) == list(DEFAULT_SCHEME.mapping)


@pytest.mark.parametrize(
    ("tag", "label"),
    [("PERS", "ACTOR"), ("ORG", "ACTOR"), ("LOC", "LOCATION"), ("GPE", "LOCATION"), ("MISC", None),
     ("CLAIM", "CLAIM"), ("ACTOR", "ACTOR")],
)
def test_mapping(tag: str, label: str | None) -> None:
    assert DEFAULT_SCHEME.normalize(tag) == label


def test_unknown_tag_is_an_error() -> None:
    with pytest.raises(KeyError):
        DEFAULT_SCHEME.normalize("WEAPON")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("layers:\n  entity: []\n", "has no labels"),
        ("layers:\n  a: [X]\n  b: [X]\n", "is in layers"),
        ("layers:\n  a: [B-X]\n", "may not contain"),
        ("layers:\n  a: [X]\nmapping: {P: Y}\n", "no such label"),
        ("layers: [X]\n", "needs a 'layers' mapping"),
        ("layers:\n  a: [X]\nother: 1\n", "unknown key(s) ['other']"),
        # a key YAML reads as a number beside one it reads as text: sorting them was a TypeError traceback
        ("layers:\n  a: [X]\n1: x\nother: y\n", "unknown key(s) [1, 'other']"),
        ("layers:\n  a: [X\n", "cannot read label scheme"),
        ("layers:\n  a: [MY X]\n", "may not contain"),
        ("layers:\n  a: ['']\n", "may not contain"),
        ("layers:\n  'a:b': [X]\n", "layer 'a:b' may not contain ':'"),
        ("layers:\n  a/b: [X]\n", "layer 'a/b' may not contain"),
        ("layers:\n  a: [X/Y]\n", "may not contain"),
        ("layers:\n  a: [X]\nmapping: {P: [X]}\n", "no such label"),
        ("layers:\n  a: [X\n", "line 3"),
        ("layers: {}\n", "no layers"),  # was a scheme without a label to train
        # a key given twice: YAML kept the last without a word
        ("layers:\n  a: [X]\n  a: [Y]\n", "line 3, column 3: found key 'a' twice"),
        ("layers:\n  a: [X, Y]\nmapping:\n  P: X\n  P: Y\n", "line 5, column 3: found key 'P' twice"),
        # YAML 1.1 reads these as booleans or null: they were the tags/layers "True", "False", "None"
        ("layers:\n  on: [X]\n", "layer name True is not text"),
        ("layers:\n  null: [X]\n", "layer name None is not text"),
        ("layers:\n  a: [X]\nmapping: {NO: X}\n", "mapping tag False is not text"),
        ("layers:\n  a: [X]\nmapping: {2: X}\n", "mapping tag 2 is not text"),
        ("layers:\n  a: [yes]\n", "quote"),
        # a naba label stands for itself: mapped away, it would silently swap or vanish from the data
        ("layers:\n  a: [X, Y]\nmapping: {X: Y, Y: X}\n", "'X' is a label of layer 'a'"),
        ("layers:\n  a: [X]\nmapping: {X: null}\n", "'X' is a label of layer 'a'"),
        ("layers:\n  a: [X]\n  b: [Y]\nmapping: {Y: X}\n", "'Y' is a label of layer 'b'"),
        # names naba's outputs already use
        ("layers:\n  a: [O]\n", "outside tag"),
        ("layers:\n  a: [X, micro]\n", "micro average"),
        ("layers:\n  a: [macro]\n", "macro average"),
        ("layers:\n  micro: [X]\n", "layer 'micro'"),
    ],
)
def test_bad_scheme_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "labels.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        LabelScheme.load(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_a_scheme_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "labels.yaml"
    path.write_bytes(b"layers:\n  a: [\xff]\n")
    with pytest.raises(ConfigError, match="cannot read label scheme"):
        LabelScheme.load(path)


# PowerShell 5's `echo ... > labels.yaml` writes UTF-16: the error was "'utf-8' codec can't decode byte 0xff
# in position 0: invalid start byte", saying nothing of why
@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_scheme_file_is_refused_as_such(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "labels.yaml"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(codec, b"")
    path.write_bytes(bom + "layers:\n  entity: [ACTOR]\n".encode(codec))
    with pytest.raises(ConfigError, match="labels.yaml: cannot read label scheme: is UTF-16, not UTF-8 .*save it as UTF-8"):
        LabelScheme.load(path)


@pytest.mark.parametrize(("codec", "order"), [("utf-16-le", "little-endian"), ("utf-16-be", "big-endian")])
def test_a_utf16_scheme_file_without_a_mark_is_refused_as_such(tmp_path: Path, codec: str, order: str) -> None:
    # it decoded as UTF-8, NULs and all: "unacceptable character #x0000: special characters are not allowed"
    path = tmp_path / "labels.yaml"
    path.write_bytes("layers:\n  entity: [ACTOR]\n".encode(codec))
    with pytest.raises(ConfigError, match=f"labels.yaml: cannot read label scheme: is UTF-16 \\({order}, without a byte order"):
        LabelScheme.load(path)


@pytest.mark.parametrize(
    ("text", "layers", "mapping"),
    [
        ("layers:\n  entity: [فاعل, مكان]\n", {"entity": ("فاعل", "مكان")}, {}),
        ("layers:\n  e: [actor, Place_2]\n", {"e": ("actor", "Place_2")}, {}),
        ("layers:\n  ACTOR: [ACTOR]\n", {"ACTOR": ("ACTOR",)}, {}),  # a layer named like a label
        ("layers:\n  e: [X]\nmapping: {X: X, 'NO': X, '2': null}\n", {"e": ("X",)}, {"X": "X", "NO": "X", "2": None}),
        ("layers:\n  e: [X]\n  f: [Y]\nmapping: {<<: {P: X}, Q: Y}\n", {"e": ("X",), "f": ("Y",)}, {"P": "X", "Q": "Y"}),
    ],
)
def test_good_scheme_files(tmp_path: Path, text: str, layers: dict, mapping: dict) -> None:
    path = tmp_path / "labels.yaml"
    path.write_text(text, encoding="utf-8")
    scheme = LabelScheme.load(path)
    assert (scheme.layers, scheme.mapping) == (layers, mapping)


@pytest.mark.parametrize(
    "layers",
    [
        # ("CLAIM") is the string "CLAIM", not a tuple: its letters became the labels C, L, A, I, M
        {"entity": ("ACTOR", "LOCATION"), "claim": ("CLAIM")},
        {"e": "X"},
    ],
    ids=["missing-comma", "one-letter"],
)
def test_a_layer_given_as_a_string_is_an_error(layers: dict) -> None:
    with pytest.raises(ConfigError, match=r"layer '(claim|e)': labels must be a tuple of names, not the string"):
        LabelScheme(layers)


@pytest.mark.parametrize("levels", [4, 5])
def test_an_alias_bomb_as_a_mapping_target_is_a_short_error(tmp_path: Path, levels: int) -> None:
    # "billion laughs": nine aliases per level; the error printed the whole target (GBs at 9 levels)
    parts, prev = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"], "l0"
    for n in range(1, levels + 1):
        parts.append(f"&l{n} [{', '.join([f'*{prev}'] * 9)}]")
        prev = f"l{n}"
    path = tmp_path / "labels.yaml"
    path.write_text(f"layers:\n  a: [X]\nmapping:\n  PER: [{', '.join(parts)}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        LabelScheme.load(path)
    assert len(str(info.value)) < 1000 and "no such label" in str(info.value)
