"""Text files of segments: a TSV of pairs (``source<TAB>target``) or a file of lines.

Read into a :class:`~kit.textio.records.Source` of :class:`~kit.textio.records.Segment` records;
``kit.corpus`` stores them, and ``taalkit dict import`` of a parallel TSV reads them here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional, Sequence

from ..errors import TaalkitError
from .files import nonblank_lines
from .records import Reject, Segment, Source


def read_tabular(path: Path, kind: str, source_lang: str, target_lang: str, *,
                 columns: Optional[Sequence[int]] = None) -> Source:
    """A TSV of pairs (or a text file of lines) as a :class:`Source` of segments."""
    if columns is None:
        columns = (0, 1) if kind == "parallel" else None
    elif kind == "parallel" and len(columns) != 2:
        raise TaalkitError(f"a parallel corpus needs two columns (source, target), got {list(columns)}")
    elif kind == "mono" and len(columns) != 1:
        raise TaalkitError(f"a monolingual corpus takes one column, got {list(columns)}")
    if columns is not None and any(c < 0 for c in columns):
        raise TaalkitError(f"column numbers must be positive, got {list(columns)}")
    fmt = "tsv" if columns is not None else "text"
    return Source(
        path=str(path), format=fmt, kind=kind,
        headword_lang=source_lang if kind == "parallel" else None, translation_lang=target_lang,
        name=path.name, records=_tabular_segments(path, kind, columns),
    )


def _tabular_segments(path: Path, kind: str, columns: Optional[Sequence[int]]) -> Iterator[Segment | Reject]:
    width: Optional[int] = None
    for number, line in nonblank_lines(path):
        if isinstance(line, Reject):  # a bad byte or an endless line: --skip-bad sets it aside
            yield line
            continue
        if columns is None:
            yield Segment(None, line.strip(), number)
            continue
        cells = line.split("\t")
        if width is None:
            width = len(cells)
            if width <= max(columns):
                shape = "<TAB>".join(f"col{i + 1}" for i in range(max(columns) + 1))
                yield Reject(number, f"expected {shape} ({max(columns) + 1} tab-separated columns), "
                                     f"found {_columns(width)}", line)
                width = None
                continue
        if len(cells) != width:
            yield Reject(number, f"expected {_columns(width)} like the first line, found {_columns(len(cells))}", line)
            continue
        picked = [cells[c].strip() for c in columns]
        empty = [columns[i] + 1 for i, text in enumerate(picked) if not text]
        if empty:
            yield Reject(number, f"expected text in column {empty[0]}, found it empty", line)
            continue
        if kind == "parallel":
            yield Segment(picked[0], picked[1], number)
        else:
            yield Segment(None, picked[0], number)


def _columns(n: int) -> str:
    return f"{n} column" + ("" if n == 1 else "s")
