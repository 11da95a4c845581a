"""What the scripts that write reports share: the machine's CPU name, rewriting one marked block
(``<!-- NAME -->`` ... ``<!-- /NAME -->``) of a Markdown file such as BENCHMARKS.md, leaving the rest,
and the benchmark documents (sentences of ANERcorp train in ../shared, else of data/demo).

Light on purpose (no torch): the benchmarks' worker processes import their main module."""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
from pathlib import Path

from naba.corpus.fileio import atomic_write

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum`` (a bad value is argparse's usage error, not a
    traceback, or a run that fails at its end: --rounds 0 left nothing to report)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return value
    return parse


def listing(item):
    """An argparse type: a comma list of what ``item`` (an argparse type) reads, one or more."""
    def parse(text: str) -> list:
        parts = [part.strip() for part in text.split(",")]
        if not all(parts):
            raise argparse.ArgumentTypeError(f"an empty item in {text!r}")
        try:
            return [item(part) for part in parts]
        except ValueError:  # float("x"); at_least's own errors (ArgumentTypeError) pass as they are
            raise argparse.ArgumentTypeError(f"a bad item in {text!r}") from None
    return parse


def one_of(*choices: str):
    """An argparse type: one of ``choices``."""
    def parse(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return text
    return parse


def cpu_name(*, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name from /proc/cpuinfo with its family, model and widest vector
    instructions ("AMD EPYC (family 25, model 1; AVX2, no AVX-512)"), else what ``platform`` knows.

    A virtual machine may show only the vendor's brand ("AMD EPYC" for Zen 3 and Zen 4 alike),
    while figures differ several-fold between them (bf16 products above all): the rest tells the
    machines of two BENCHMARKS.md sections apart.
    """
    try:
        fields: dict[str, str] = {}
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if not line.strip():
                break  # the first processor is enough
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        fields = {}
    name = fields.get("model name")
    if not name:
        return platform.processor() or platform.machine() or "unknown CPU"
    flags = set(fields.get("flags", "").split())
    if "avx512f" in flags:
        vector = "AVX-512" + (", AVX512-BF16" if "avx512_bf16" in flags else "") + (", AMX" if "amx_tile" in flags else "")
    elif flags:
        vector = ("AVX2" if "avx2" in flags else "no AVX2") + ", no AVX-512"
    else:
        vector = ""
    where = [f"family {fields['cpu family']}, model {fields['model']}"] if "cpu family" in fields and "model" in fields else []
    details = "; ".join(where + ([vector] if vector else []))
    return f"{name} ({details})" if details else name


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the lines between ``<!-- name -->`` and ``<!-- /name -->`` set to ``body``
    (the block is appended when ``text`` has neither marker).

    Markers that are not one start followed by one end are a ValueError: a start left without its
    end got a second block appended, and the next rewrite took everything from the first start to
    that block's end (other sections included) for the block; an end before its start raised
    IndexError."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    starts, ends = text.count(start), text.count(end)
    if (starts, ends) != (0, 0) and (starts, ends, text.find(start) < text.find(end)) != (1, 1, True):
        raise ValueError(f"the markers {start} ... {end} are not one pair, in that order "
                         f"({starts} start(s), {ends} end(s)): mend them by hand")
    if start in text and end in text:
        head, rest = text.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def write_section(path: Path, name: str, body: str) -> None:
    """Rewrite the ``bench:NAME`` block of ``path`` (a new file starts with "# Benchmarks"), atomically."""
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    try:
        text = replace_block(text, f"bench:{name}", body)
    except ValueError as exc:
        raise SystemExit(f"{path}: {exc}; left as it was") from None
    atomic_write(path, text)


def sentences() -> tuple[list[str], str]:
    """Sentences to build documents from, and where they came from."""
    path = SHARED / "corpora" / "anercorp" / "train.txt"
    if path.is_file():
        out, words = [], []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.append(line.split()[0])
            elif words:
                out.append(" ".join(words))
                words = []
        return out, "ANERcorp train sentences (../shared)"
    out = []
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl"):
        for line in (ROOT / "data" / "demo" / name).read_text(encoding="utf-8").splitlines():
            out.extend(s for s in re.split(r"(?<=[.!؟])\s+", json.loads(line)["text"]) if s.strip())
    return out, "data/demo sentences"


def documents(sents: list[str], n: int, *, lo: int, hi: int, seed: int) -> list[str]:
    """``n`` documents of ``lo``..``hi`` words, consecutive sentences, lengths spread evenly."""
    rng = random.Random(seed)
    docs, pos = [], rng.randrange(len(sents))
    for target in (lo + (hi - lo) * (i + 0.5) / n for i in range(n)):
        words: list[str] = []
        while len(words) < target:
            words += sents[pos % len(sents)].split()
            pos += 1
        docs.append(" ".join(words[: int(target)]))
    rng.shuffle(docs)
    return docs


def write_corpus(path: Path, texts: list[str]) -> Path:
    """``texts`` as the batch job's JSONL input, ids "0", "1", ... in order."""
    path.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
                    encoding="utf-8")
    return path
