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
        ("layers:\n  a: [X\n", "cannot read label scheme"),
        ("layers:\n  a: [MY X]\n", "may not contain"),
        ("layers:\n  a: ['']\n", "may not contain"),
        ("layers:\n  'a:b': [X]\n", "layer 'a:b' may not contain ':'"),
        ("layers:\n  a/b: [X]\n", "layer 'a/b' may not contain"),
        ("layers:\n  a: [X/Y]\n", "may not contain"),
        ("layers:\n  a: [X]\nmapping: {P: [X]}\n", "no such label"),
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
