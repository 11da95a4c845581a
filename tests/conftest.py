"""Fixtures shared by naba's tests.

``shared``: the path of ``../shared`` (ANERcorp, the seed article, AraBERT settings). Tests that
need it take the fixture or carry ``@pytest.mark.shared``; both skip, saying why, where it is
absent (a fresh clone without the project's shared folder). ``disk_full`` and ``listing``: a disk
that fills up part way through a set of files, and what a folder holds (to check nothing changed).
"""

from __future__ import annotations

import errno
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from naba.corpus.document import Document, Span

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_MISSING = f"needs the project's shared folder at {SHARED} (ANERcorp, seed article); it is absent"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=SHARED_MISSING)
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared`` relative to the repository; skips the test when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(SHARED_MISSING)
    return SHARED


@pytest.fixture
def sample_docs() -> list[Document]:
    """Three small annotated Arabic documents: entities, a CLAIM holding an ACTOR, no spans."""
    t1 = "قال الجيش السوري إن القوات دخلت حماة"
    t2 = "أعلنت السفارة الصينية في دمشق أن الوضع مستقر"
    t3 = "لا شيء هنا"
    return [
        Document(
            "d1",
            t1,
            [
                Span(4, 16, "ACTOR"),
                Span(32, 36, "LOCATION"),
                Span(20, 36, "CLAIM"),
            ],
        ),
        Document("d2", t2, [Span(6, 21, "ACTOR"), Span(25, 29, "LOCATION")], {"source": "test"}),
        Document("d3", t3),
    ]


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """``disk_full(n)``: from the ``n``-th ``os.fsync`` on, every one fails with ENOSPC (a disk that
    fills up part way through writing a set of files)."""

    def fail_from(n: int) -> None:
        calls = [0]
        real = os.fsync

        def fsync(fd: int) -> None:
            calls[0] += 1
            if calls[0] >= n:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    return fail_from


def listing(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``, hidden ones included: its relative path -> its bytes (None: a folder)."""
    return {p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


def grows_linearly(run: Callable[[int], object], n: int, *, factor: int = 10) -> bool:
    """Whether ``run(factor * n)`` takes at most 3 times ``factor`` as long as ``run(n)`` (the best of
    three runs each, plus 50 ms for noise): a guard against quadratic work (``factor`` squared) that
    compares with the same code on the same machine, not with a clock."""

    return best_seconds(lambda: run(factor * n)) < 3 * factor * best_seconds(lambda: run(n)) + 0.05


def best_seconds(run: Callable[[], object], *, repeat: int = 3) -> float:
    """The fastest of ``repeat`` timings of ``run()``: the one a loaded machine disturbed least."""
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best
