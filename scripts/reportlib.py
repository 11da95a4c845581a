"""What the scripts that write reports share: the machine's CPU name, and rewriting one marked block
(``<!-- NAME -->`` ... ``<!-- /NAME -->``) of a Markdown file such as BENCHMARKS.md, leaving the rest."""

from __future__ import annotations

import platform
from pathlib import Path

from naba.corpus.fileio import atomic_write


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the lines between ``<!-- name -->`` and ``<!-- /name -->`` set to ``body``
    (the block is appended when ``text`` has none)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def write_section(path: Path, name: str, body: str) -> None:
    """Rewrite the ``bench:NAME`` block of ``path`` (a new file starts with "# Benchmarks"), atomically."""
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    atomic_write(path, replace_block(text, f"bench:{name}", body))
