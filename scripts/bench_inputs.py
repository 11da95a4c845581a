"""How fast ``naba predict`` reads its input: plain JSONL against the same file compressed.

A batch job over a news dump reads it as ``.jsonl``, ``.jsonl.gz``, ``.bz2``, ``.xz`` or ``.zst``
(naba.predict.io decompresses as it reads). On a GPU node the model tags a few thousand articles a
second (BENCHMARKS.md, bench:gpu), so the reader must keep well ahead of that on one core. This
script builds a JSONL file of news-length articles (about 5,800 characters, the bench:gpu mean),
compresses it with each codec (zstandard where installed), and times ``read_inputs`` over each:
documents/s, microseconds per document and decompressed MB/s, the best of ``--repeat`` passes.

The articles are runs of three consecutive words drawn from random places of ANERcorp train
(../shared), else of data/demo: the corpus's words at their frequencies, without whole sentences
repeated, which would flatter the codecs with large windows (xz, zstd).

Prints the figures and rewrites the ``<!-- bench:inputs -->`` section of BENCHMARKS.md.

    python scripts/bench_inputs.py                     # 50 MB, best of 3
    python scripts/bench_inputs.py --mb 2 --repeat 1 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/reportlib.py

from reportlib import at_least, cpu_name, sentences, write_section  # noqa: E402

from naba.predict.io import Record, read_inputs  # noqa: E402

ARTICLE_CHARS = 5800


def build(path: Path, words: list[str], *, size: int, seed: int) -> int:
    """Write about ``size`` bytes of JSONL articles to ``path``; returns how many."""
    rng = random.Random(seed)
    written = count = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < size:
            parts, chars = [], 0
            while chars < ARTICLE_CHARS:
                start = rng.randrange(len(words) - 3)
                run = " ".join(words[start : start + 3])
                parts.append(run)
                chars += len(run) + 1
            line = json.dumps({"id": f"doc-{count:07d}", "text": " ".join(parts)}, ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode("utf-8"))
            count += 1
    return count


def compressed(plain: Path) -> dict[str, Path]:
    """``plain`` and its copies in each codec this Python can write (zstd: where zstandard is installed)."""
    data = plain.read_bytes()
    codecs = {"gz": lambda b: gzip.compress(b, 6), "bz2": bz2.compress, "xz": lambda b: lzma.compress(b, preset=6)}
    try:
        import zstandard

        # level 3 with a checksum: the zstd command line's defaults
        codecs["zst"] = zstandard.ZstdCompressor(level=3, write_checksum=True).compress
    except ImportError:
        print("zstandard is not installed: no .zst row (pip install 'naba[zstd]')")
    files = {"jsonl": plain}
    for name, pack in codecs.items():
        files[name] = plain.with_name(f"{plain.name}.{name}")
        files[name].write_bytes(pack(data))
    return files


def read_seconds(path: Path, expected: int, repeat: int) -> float:
    """The best time of ``repeat`` full reads of ``path`` through read_inputs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        count = sum(1 for item in read_inputs(path) if isinstance(item, Record))
        best = min(best, time.perf_counter() - started)
        if count != expected:
            raise SystemExit(f"{path.name}: read {count} documents of {expected}")
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=at_least(1), default=50, help="size of the plain JSONL file in MB (default 50)")
    ap.add_argument("--repeat", type=at_least(1), default=3, help="passes over each file; the best counts")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()

    sents, origin = sentences()
    words = " ".join(sents).split()
    rows = []
    with tempfile.TemporaryDirectory(prefix="naba-bench-inputs-") as tmp:
        plain = Path(tmp) / "articles.jsonl"
        n = build(plain, words, size=args.mb * 1_000_000, seed=args.seed)
        files = compressed(plain)
        mb = plain.stat().st_size / 1e6
        print(f"{n:,} articles, {mb:.1f} MB of JSONL, from {origin}")
        for name, path in files.items():
            seconds = read_seconds(path, n, args.repeat)
            row = (f"| `.{name}` | {path.stat().st_size / 1e6:.1f} MB | {n / seconds:,.0f} | "
                   f"{seconds / n * 1e6:.0f} | {mb / seconds:.0f} |")
            print(row, flush=True)
            rows.append(row)
    command = "python scripts/bench_inputs.py" + "".join(
        f" --{k} {v}" for k, v in vars(args).items() if k != "no_write" and v != ap.get_default(k)
    )
    section = f"""## Reading the batch job's input: plain and compressed JSONL (`scripts/bench_inputs.py`)

Command: `{command}` ({time.strftime('%Y-%m-%d')}); CPU: {cpu_name()}, one core (reading is one thread);
Python {sys.version.split()[0]}. Input: {n:,} articles of about {ARTICLE_CHARS:,} characters ({mb:.1f} MB of
JSONL), three-word runs drawn from {origin}; compressed with gzip level 6, bz2 level 9, xz preset 6 and
zstd level 3 with a checksum (each tool's default). Timed: `naba.predict.io.read_inputs` over the whole
file (decompression, line splitting, JSON parsing, the checks of every record), the best of {args.repeat}
pass(es).

| input | size on disk | documents/s | us per document | MB/s of JSONL |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

A GPU job tags a few thousand such articles a second (bench:gpu); a codec whose documents/s come
near that takes a core's worth of the feeding process's time.
"""
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "inputs", section)
        print("wrote the bench:inputs section of BENCHMARKS.md")


if __name__ == "__main__":
    main()
