"""Compressed JSONL for the batch job: ``.jsonl.gz``, ``.bz2``, ``.xz`` (Python's own codecs) and
``.jsonl.zst`` (where the zstandard package is installed), decompressed as they are read.

A stream that breaks off raises as it is read (EOFError for a truncated one, the codec's own error for
corrupt data: :data:`DAMAGE`); naba.predict.io turns that into :func:`damaged`'s DataError naming the
line it reached, once the lines before it are read. Reads hand on one block's worth at a time, so that
those lines are not lost in a buffer filled past the damage.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from naba.corpus.fileio import COMPRESSED_SUFFIXES, JSONL_SUFFIXES
from naba.errors import DataError, Problem


def jsonl_codec(path: str | Path) -> str | None:
    """The codec of a compressed JSONL file by its name (``"gzip"`` for ``x.jsonl.gz``), else None."""
    suffixes = [s.lower() for s in Path(path).suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[0] in JSONL_SUFFIXES:
        return COMPRESSED_SUFFIXES.get(suffixes[1])
    return None


def plain_jsonl(path: Path) -> bool:
    """Whether ``path`` begins as a JSONL file does (a BOM or blank lines, then ``{``)."""
    with path.open("rb") as fh:
        return fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


class _ZstdCorrupt(Exception):
    """A zstandard frame the decoder refused (zstandard.ZstdError, whose module may not be there)."""


# what a damaged compressed stream raises as it is read: EOFError when it ends early (gzip, bz2,
# lzma, _ZstdStream), BadGzipFile and bz2's "Invalid data stream" (OSErrors without an errno),
# zlib.error, LZMAError or a refused zstandard frame for corrupt data
DAMAGE = (EOFError, OSError, zlib.error, lzma.LZMAError, _ZstdCorrupt)


def damaged(source: str, line: int, exc: BaseException) -> DataError:
    """The error for a compressed stream that broke off while line ``line`` was being read."""
    if isinstance(exc, EOFError):
        why = "compressed stream ends early: the file is truncated (an interrupted download?)"
        return DataError(Problem(source, f"line {line}", f"{why}; the lines before it were read, and a rerun on "
                                 "the repaired file resumes after them"))
    kind = "ZstdError" if isinstance(exc, _ZstdCorrupt) else type(exc).__name__
    # garbled data decodes to wrong text until a check (gzip's CRC: at the end of the file) finds it:
    # documents resumed past would keep the tags of their damaged text
    return DataError(Problem(source, f"line {line}", f"compressed stream is corrupt ({kind}: {exc}); the lines "
                             "before it were read but may be damaged too: tag the repaired file into a new "
                             "output rather than resuming this one"))


@contextlib.contextmanager
def open_jsonl(path: Path, codec: str | None, *, buffer: int) -> Iterator[IO[bytes]]:
    """``path``'s bytes, decompressed as they are read for a ``codec``. ``buffer`` bytes at a time
    either way: the file is read so, and a compressed one's lines are cut from a buffer of that size
    too (each fill one block's worth, see _Partial), not from the codec's own 8 KiB one."""
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(path.open("rb", buffering=buffer))
        if codec is None:
            yield raw
            return
        if codec == "gzip":
            stream: Any = _Partial(gzip.GzipFile(fileobj=raw, mode="rb"))
        elif codec == "bz2":
            stream = _Partial(bz2.BZ2File(raw))
        elif codec == "xz":
            stream = _Partial(lzma.LZMAFile(raw))
        else:
            stream = _ZstdStream(raw, zstandard_module(path))
        yield stack.enter_context(io.BufferedReader(stream, buffer))


class _Partial(io.RawIOBase):
    """A GzipFile, BZ2File or LZMAFile read as a raw stream: each read hands on what one block of
    the file decompressed to. Read whole (``readinto``), a 1 MiB buffer would be filled past the
    damage, and the lines before it that it held lost with it."""

    def __init__(self, stream: Any):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Decompressed bytes into ``buffer``: those at hand, or one block's."""
        return self._stream.readinto1(buffer)

    def close(self) -> None:
        self._stream.close()
        super().close()


def zstandard_module(path: Path) -> Any:
    """The zstandard module; a DataError saying what to do where it is not installed (naba does not
    depend on it: gzip, bz2 and xz need nothing beyond Python)."""
    try:
        import zstandard
    except ImportError:
        raise DataError(Problem(str(path), "", "reading .zst needs the zstandard package: pip install zstandard, "
                                "or decompress it first (zstd -d)")) from None
    return zstandard


_ZSTD_SLICE = 1 << 16


class _ZstdStream(io.RawIOBase):
    """A zstandard file's frames, decompressed as read. zstandard's own ``stream_reader`` ends a
    truncated or corrupt file silently, as if it were whole: here a frame cut off raises EOFError,
    as gzip, bz2 and lzma do, and a frame the decoder refuses, _ZstdCorrupt."""

    def __init__(self, raw: IO[bytes], zstandard: Any):
        self._raw, self._zstd = raw, zstandard
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._in_frame = False  # bytes of a frame fed, its end not yet seen
        self._out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Decompressed bytes into ``buffer``; 0 at the end of the last whole frame."""
        while not self._out:
            # fed in slices (the file is read ``buffer`` bytes at a time below): the decoder refuses a
            # corrupt slice whole, and the lines before the damage in it are lost with it
            data = self._raw.read(_ZSTD_SLICE)
            if not data:
                if self._in_frame:
                    raise EOFError("the last zstandard frame is cut off")
                return 0
            self._out = memoryview(self._feed(data))
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _feed(self, data: bytes) -> bytes:
        """The bytes ``data`` decompresses to, frame after frame (pzstd and ``cat`` make several)."""
        parts = []
        while data:
            try:
                parts.append(self._frame.decompress(data))
            except self._zstd.ZstdError as exc:
                raise _ZstdCorrupt(str(exc)) from None
            self._in_frame = not self._frame.eof
            if self._in_frame:
                break
            data = self._frame.unused_data
            self._frame = self._zstd.ZstdDecompressor().decompressobj()
        return b"".join(parts)
