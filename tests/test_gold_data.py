"""The gold data in data/: it is what scripts/build_gold.py makes of its sources, and it follows
the annotation guidelines (data/GUIDELINES.md) as far as mechanical checks can tell."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from naba.corpus.document import Document, Span
from naba.corpus.labels import DEFAULT_SCHEME
from naba.corpus.validate import check_document, check_unique_ids
from naba.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEMO = ROOT / "data" / "demo"
EXAMPLES = ROOT / "data" / "examples"


def _load_script():
    spec = importlib.util.spec_from_file_location("build_gold", ROOT / "scripts" / "build_gold.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_gold"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


build_gold = _load_script()
GOLD_FILES = sorted([*DEMO.glob("*.jsonl"), *EXAMPLES.glob("*.jsonl")])


def _read(path: Path) -> list[Document]:
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        spans = [Span(s["start"], s["end"], s["label"]) for s in record["spans"]]
        docs.append(Document(record["id"], record["text"], spans, record.get("meta", {})))
    return docs


ALL = {path.name if path.parent == DEMO else f"examples/{path.name}": _read(path) for path in GOLD_FILES}
DEMO_DOCS = [doc for path in sorted(DEMO.glob("*.jsonl")) for doc in _read(path)]
ENTITY = {"ACTOR", "LOCATION"}


# --- the files are the build of their sources -------------------------------------------------


def test_gold_files_are_exactly_the_build_of_the_sources():
    built = build_gold.build(ROOT)
    assert sorted(built) == GOLD_FILES, "a gold file without a source, or a source without its file"
    for path, content in built.items():
        assert path.read_text(encoding="utf-8") == content, f"{path} is stale: run scripts/build_gold.py"


@pytest.mark.parametrize("name", sorted(ALL))
def test_gold_file_loads_without_problems(name):
    docs = ALL[name]
    assert docs
    for i, doc in enumerate(docs):
        assert check_document(doc, DEFAULT_SCHEME, source=name, where=f"record {i}") == []


@pytest.mark.parametrize("path", GOLD_FILES, ids=lambda p: p.name)
def test_project_reader_reads_the_gold_files_alike(path):
    jsonl = pytest.importorskip("naba.corpus.jsonl", reason="naba.corpus.jsonl (the native reader) is absent")
    read = jsonl.read_jsonl(path)
    assert [(d.id, d.text, d.spans, d.meta) for d in read] == [
        (d.id, d.text, d.spans, d.meta) for d in _read(path)
    ]


def test_ids_are_unique_across_all_gold_files():
    pairs = [(f"{name}: {doc.id}", doc) for name, docs in ALL.items() for doc in docs]
    assert check_unique_ids(pairs, source="data") == []


# --- the demo corpus ----------------------------------------------------------------------------


def test_demo_has_at_least_150_items_split_about_70_15_15():
    sizes = {split: len(_read(DEMO / f"{split}.jsonl")) for split in ("train", "dev", "test")}
    total = sum(sizes.values())
    assert total >= 150
    assert 0.65 <= sizes["train"] / total <= 0.75
    assert 0.10 <= sizes["dev"] / total <= 0.20 and 0.10 <= sizes["test"] / total <= 0.20


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_demo_split_files_hold_their_own_split(split):
    for doc in _read(DEMO / f"{split}.jsonl"):
        assert doc.meta["split"] == split and doc.meta["synthetic"] is True


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_label_is_present(name):
    assert {s.label for doc in ALL[name] for s in doc.spans} == set(DEFAULT_SCHEME.labels)


@pytest.mark.parametrize(("feature", "pattern"), sorted(build_gold.STYLES.items()))
def test_demo_covers_the_styles_it_promises(feature, pattern):
    """The styles the data card counts (scripts/build_gold.py --stats) occur at least three times."""
    assert sum(bool(re.search(pattern, doc.text, re.M)) for doc in DEMO_DOCS) >= 3, (
        f"too few items with {feature}"
    )


def test_demo_has_items_without_claims_and_items_with_several():
    claims = Counter(sum(s.label == "CLAIM" for s in doc.spans) for doc in DEMO_DOCS)
    assert claims[0] >= 15 and sum(n for c, n in claims.items() if c >= 2) >= 15


@pytest.mark.parametrize("table", [build_gold.stats, build_gold.coverage], ids=["counts", "styles"])
def test_data_card_tables_are_what_build_gold_stats_prints(table):
    card = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert table(build_gold.build(ROOT)) in card, "data/README.md: paste `scripts/build_gold.py --stats`"


def _card_recurring_names() -> list[str]:
    card = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    said = re.search(r"names do recur across splits \((.*?)\)", card, re.S)
    assert said, "data/README.md no longer says which names recur across splits"
    return re.findall(r"[\u0600-\u06ff]+(?: [\u0600-\u06ff]+)*", said.group(1))


@pytest.mark.parametrize("name", _card_recurring_names())
def test_names_the_card_says_recur_across_splits_do(name):
    splits = {doc.meta["split"] for doc in DEMO_DOCS if name in doc.text}
    assert len(splits) >= 2, f"data/README.md: {name} recurs across splits, but it is only in {splits}"


# --- span shape: the guidelines' mechanical rules -----------------------------------------------


def _spans(label_set):
    for name, docs in ALL.items():
        for doc in docs:
            for span in doc.spans:
                if span.label in label_set:
                    yield name, doc, span


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def test_spans_are_tight():
    bad = []
    for name, doc, span in _spans(set(DEFAULT_SCHEME.labels)):
        piece = doc.span_text(span)
        first, last = piece[0], piece[-1]
        if (
            first.isspace()
            or last.isspace()
            or _is_punct(first)
            or (_is_punct(last) and last not in "%٪")
            or unicodedata.category(first) == "Mn"
            or (span.end < len(doc.text) and unicodedata.category(doc.text[span.end]) == "Mn")
        ):
            bad.append((name, doc.id, span.label, piece))
    assert bad == []


def test_entities_are_whole_words_after_clitics():
    bad = []
    for name, doc, span in _spans(ENTITY):
        before = doc.text[span.start - 1] if span.start else " "
        after = doc.text[span.end] if span.end < len(doc.text) else " "
        # the only letters allowed to touch a span are proclitics (and tatweel after them) before it
        if before.isalpha() and before not in "وفبلك\u0640":
            bad.append((name, doc.id, "glued before", doc.span_text(span)))
        if after.isalpha():
            bad.append((name, doc.id, "glued after", doc.span_text(span)))
    assert bad == []


# a clitic (و ف, then ب ل ك) glued to a name with the article: "وبالقاهرة", "للحشد"
CLITIC_AL = re.compile(r"^(?:(?:[وف]?[بلك]|[وف])ال\w\w|[وف]?لل\w)")


def starts_with_clitic(piece: str, names: set[str]) -> bool:
    """Heuristic: ``piece`` keeps a proclitic the guidelines cut off.

    Either a clitic before the article, or a clitic letter whose removal leaves a name that is
    tagged elsewhere ("وحماة" when "حماة" is a span).
    """
    if CLITIC_AL.match(piece):
        return True
    return any(piece[k:] in names for k in (1, 2) if set(piece[:k]) <= set("وفبلك"))


@pytest.mark.parametrize(
    ("piece", "flagged"),
    [
        ("وبالقاهرة", True),
        ("للحشد الشعبي", True),
        ("والجيش السوري", True),
        ("بحلب", True),
        ("وحماة", True),
        ("لحشد الشعبي", False),  # ل + الحشد: only the first lam is cut
        ("وكالة الأنباء العراقية", False),
        ("بجاية", False),
        ("لبنان", False),
        ("فصائل المعارضة السورية", False),
        ("ومع", False),
    ],
)
def test_clitic_heuristic(piece, flagged):
    assert starts_with_clitic(piece, {"حلب", "حماة", "الجيش السوري"}) is flagged


def test_no_entity_starts_with_a_clitic_the_guidelines_exclude():
    names = {doc.span_text(span) for _, doc, span in _spans(ENTITY)}
    bad = [
        (n, d.id, d.span_text(s)) for n, d, s in _spans(ENTITY) if starts_with_clitic(d.span_text(s), names)
    ]
    assert bad == []


def test_clitics_before_entities_do_occur():
    """The clitic checks above are not vacuous: the gold has names with attached clitics."""
    glued = [doc.span_text(s) for _, doc, s in _spans(ENTITY) if s.start and doc.text[s.start - 1] in "وفبلك"]
    assert len(glued) >= 10


COMPLEMENTIZER = re.compile(r"^[بف]?[أإا]نّ?(?:ه|ها|هم|هما|نا|ني)?\s")


def test_claims_start_after_the_complementizer():
    bad = [doc.span_text(s)[:20] for _, doc, s in _spans({"CLAIM"}) if COMPLEMENTIZER.match(doc.span_text(s))]
    assert bad == []


# --- the brief's article ----------------------------------------------------------------------


HAMA = ALL["examples/hama-article.jsonl"][0]


@pytest.mark.shared
def test_hama_text_is_the_shared_article_byte_for_byte():
    article = SHARED / "seed" / "hama-article.txt"
    if not article.exists():
        pytest.skip(f"{article} is absent (../shared is not laid out here)")
    assert HAMA.text == article.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("context", "piece", "label"),
    [
        ("أعلن الجيش السوري اليوم", "الجيش السوري", "ACTOR"),
        ("سلطة الرئيس بشار الأسد", "بشار الأسد", "ACTOR"),
        ("على عدم السماح للحشد الشعبي", "لحشد الشعبي", "ACTOR"),
        ("المدعوم من إيران", "إيران", "ACTOR"),
        ("وسحقتها دمشق بالقوة", "دمشق", "ACTOR"),
        ("مدينتي حلب وحماة", "حماة", "LOCATION"),
        ("من سجن حماة المركزي.", "سجن حماة المركزي", "LOCATION"),
        ("محمد الجاسم (أبو عمشة)", "أبو عمشة", "ACTOR"),
        ("جماعة “الإخوان المسلمين”", "الإخوان المسلمين", "ACTOR"),
        ("إن “لا ثأر”", "لا ثأر", "CLAIM"),
        ("إنهم حرروا مئات السجناء من سجن حماة المركزي.", "حرروا مئات السجناء من سجن حماة المركزي", "CLAIM"),
        (
            "بسبب هجمات “إرهابية”",
            "الاتصالات انقطعت في مدينة حلب بشمال سوريا اليوم الخميس بسبب هجمات “إرهابية",
            "CLAIM",
        ),
    ],
)
def test_hama_decisions_from_the_guidelines(context, piece, label):
    def around(s: Span) -> str:
        return HAMA.text[max(0, s.start - len(context)) : s.end + len(context)]

    found = [
        s for s in HAMA.spans if s.label == label and HAMA.span_text(s) == piece and context in around(s)
    ]
    assert found, f"no {label} {piece!r} in {context!r}"


@pytest.mark.parametrize(
    "not_tagged",
    [
        "مقاتلين",
        "فصائل معارضة",
        "وسائل إعلام سورية رسمية",
        "المجموعات الإرهابية",
        "تلك المجموعات",
        "تلغرام",
        "ردع العدوان",
    ],
)
def test_hama_leaves_out_what_the_guidelines_exclude(not_tagged):
    assert not_tagged not in {HAMA.span_text(s) for s in HAMA.spans if s.label in ENTITY}


# --- the markup parser --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text", "spans"),
    [
        ("ب[LOCATION حلب]", "بحلب", [(1, 4, "LOCATION")]),
        ("قال إن {CLAIM [ACTOR الجيش] انسحب}.", "قال إن الجيش انسحب.", [(7, 18, "CLAIM"), (7, 12, "ACTOR")]),
        (r"رمز \[ و\{ و\\", "رمز [ و{ و\\", []),
        ("سطر\n[LOCATION عمّان]", "سطر\nعمّان", [(4, 9, "LOCATION")]),
        ("بلا وسم", "بلا وسم", []),
    ],
)
def test_parse_markup(markup, text, spans):
    got_text, got_spans = build_gold.parse_markup(markup)
    assert got_text == text
    assert sorted(got_spans) == sorted(Span(*s) for s in spans)


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ("[ACTOR الجيش", "never closed"),
        ("الجيش]", "closes nothing"),
        ("[ACTOR الجيش}", "closes ["),
        ("[PERSON سامي]", "expected a label"),
        ("[CLAIM قال]", "write {CLAIM"),
        ("{ACTOR سامي}", "write [ACTOR"),
        ("[ACTOR  سامي]", "whitespace at an edge"),
        ("{CLAIM الجيش انسحب.}", "ends with punctuation"),
        ("«[ACTOR «سامي]»", "starts with punctuation"),
        ("[ACTOR ]", "empty"),
        ("[LOCATION عما]ّن", "diacritic"),
        ("[ACTOR أ[LOCATION ب]]", "overlap"),
        (r"\q", "unknown escape"),
    ],
)
def test_parse_markup_rejects(markup, reason, tmp_path):
    source = tmp_path / "bad.txt"
    source.write_text(f"# comment\n=== bad-1\n\n{markup}\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        build_gold.parse_source(source)
    assert reason in str(err.value)
    assert "line 4" in str(err.value) or "line 2" in str(err.value)


def test_a_broken_source_writes_nothing(tmp_path):
    for gold in build_gold.GOLD:
        (tmp_path / gold.sources).mkdir(parents=True)
    (tmp_path / "data/demo/source/a.markup").write_text("=== d-1 split=train\n[ACTOR سامي\n", encoding="utf-8")
    (tmp_path / "data/examples/source/b.markup").write_text("=== e-1\nنص\n", encoding="utf-8")
    with pytest.raises(DataError, match="never closed"):
        build_gold.build(tmp_path)
    assert not list(tmp_path.rglob("*.jsonl"))


@pytest.mark.parametrize("empty", [gold.sources for gold in build_gold.GOLD])
def test_a_folder_without_sources_names_the_pattern_it_looks_for(empty, tmp_path):
    # the sources are *.markup: naming *.txt sent people looking for files that would be ignored
    for gold in build_gold.GOLD:
        (tmp_path / gold.sources).mkdir(parents=True)
        if gold.sources != empty:
            header = "=== d-1 split=train" if gold.required else "=== e-1"
            (tmp_path / gold.sources / "a.markup").write_text(f"{header}\nنص\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        build_gold.build(tmp_path)
    assert empty in str(err.value) and "*.markup" in str(err.value) and "*.txt" not in str(err.value)


def test_naba_data_validate_passes_on_the_bundled_data(capsys):
    """The issue's bar: `naba data validate data/` is clean (gold corpora and stand-off claim layers)."""
    from naba.cli import main

    assert main(["data", "validate", str(ROOT / "data")]) == 0, capsys.readouterr().out
