"""Opening a user's file safely: size, emptiness, binary junk and encoding are checked first.

A community brings whatever files it has; the first thing that can go wrong is the file
itself (a zip renamed to .tsv, a Latin-1 export, a 3 GB dump). Every importer goes through
here so each of those is one clear line instead of a traceback half-way through an import.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import Iterator, Union

from ..errors import InputFormatError, TaalkitError
from .records import Reject

#: Files at least this large are refused before reading a byte (a laptop import, not a data centre).
MAX_BYTES = 2 * 1024**3
#: A line longer than this is refused without holding it whole (no dictionary or corpus line is).
MAX_LINE_BYTES = 4 * 1024**2

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def check_input_file(path: os.PathLike | str, *, binary_ok: bool = False) -> Path:
    """Refuse missing, huge, empty or binary files with a one-line message; return the path."""
    path = Path(path)
    if not path.exists():
        raise TaalkitError(f"{path}: no such file")
    if path.is_dir():
        raise TaalkitError(f"{path}: is a folder, expected a file")
    size = path.stat().st_size
    if size >= MAX_BYTES:
        raise TaalkitError(
            f"{path}: {size / 1024**3:.1f} GB is too large to import (limit {MAX_BYTES // 1024**3} GB); "
            "split it into smaller files"
        )
    if size == 0:
        raise TaalkitError(f"{path}: the file is empty")
    if not binary_ok:
        with open(path, "rb") as f:
            head = f.read(8192)
        if _looks_binary(head):
            raise TaalkitError(
                f"{path}: looks like binary data, not text (a compressed or office file?); "
                "export it as UTF-8 text first"
            )
    return path


def _looks_binary(head: bytes) -> bool:
    for bom, enc in _BOMS:
        if head.startswith(bom) and enc.startswith("utf-16"):
            return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13, 12, 27))
    return controls > max(8, len(head) // 100)


def _encoding(path: Path) -> tuple[str, int]:
    with open(path, "rb") as f:
        head = f.read(4)
    for bom, enc in _BOMS:
        if head.startswith(bom):
            return enc, len(bom)
    return "utf-8", 0


def iter_lines(path: os.PathLike | str) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` with the line ending removed; a bad byte names its line.

    Only ``\\n`` (optionally preceded by ``\\r``) ends a line, so exotic separators such as
    U+2028 inside a cell stay part of the text. A bad line raises :class:`InputFormatError`.
    """
    for number, line in lines_or_rejects(path):
        if isinstance(line, Reject):
            raise InputFormatError(path, number, line.reason)
        yield number, line


def nonblank_lines(path: os.PathLike | str) -> Iterator[tuple[int, Union[str, Reject]]]:
    """:func:`lines_or_rejects` without the blank lines (the importers skip them all alike)."""
    for number, line in lines_or_rejects(path):
        if isinstance(line, Reject) or line.strip():
            yield number, line


def lines_or_rejects(path: os.PathLike | str) -> Iterator[tuple[int, Union[str, Reject]]]:
    """Like :func:`iter_lines`, but a line that is not UTF-8, or longer than :data:`MAX_LINE_BYTES`,
    comes as a :class:`Reject` instead of ending the file, so ``--skip-bad`` can set it aside.
    """
    path = Path(path)
    encoding, skip = _encoding(path)
    if encoding != "utf-8":
        text = path.read_bytes()[skip:].decode(encoding, errors="strict")
        for number, line in enumerate(text.split("\n"), 1):
            if line or number == 1:
                line = line.removesuffix("\r")
                if len(line) > MAX_LINE_BYTES // 2:
                    yield number, Reject(number, _too_long(len(line) * 2), line[:200])
                else:
                    yield number, line
        return
    with open(path, "rb") as f:
        f.read(skip)
        number = 0
        while raw := f.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                size = len(raw)
                while (more := f.readline(1 << 20)) and not more.endswith(b"\n"):
                    size += len(more)  # skip the rest of the line without holding it
                size += len(more)
                yield number, Reject(number, _too_long(size), raw[:200].decode("utf-8", "replace"))
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                bad = raw[err.start:err.start + 1].hex()
                yield number, Reject(
                    number,
                    f"expected UTF-8 text, found byte 0x{bad} (is it Latin-1 or Windows-1252? "
                    f"convert with: iconv -f latin1 -t utf-8)",
                    raw[:200].decode("utf-8", "replace"),
                )
                continue
            yield number, line.removesuffix("\n").removesuffix("\r")


def _too_long(size: int) -> str:
    return f"expected a line of at most {MAX_LINE_BYTES // 1024**2} MB, found {size / 1024**2:.1f} MB"


def read_text(path: os.PathLike | str) -> str:
    """The whole file as text, with the same encoding checks as :func:`iter_lines`."""
    path = Path(path)
    encoding, skip = _encoding(path)
    raw = path.read_bytes()[skip:]
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputFormatError(
            path, line, f"expected {encoding.upper()} text, found byte 0x{raw[err.start:err.start + 1].hex()}"
        ) from None


def count_lines(path: os.PathLike | str, chunk: int = 1 << 20) -> int:
    """Newlines in the file (fast, bytes only): the ``total`` of an import's progress."""
    n = 0
    last = b""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            n += block.count(b"\n")
            last = block
    return n + (1 if last and not last.endswith(b"\n") else 0)
