"""TSV and CSV dictionaries: ``source<TAB>target[<TAB>pos]``, header optional.

The simplest thing a community can make in a spreadsheet. Columns are named by role
(``source``, ``target``, ``pos``, ``sense``; any other name is kept in ``extra``; ``-`` drops
a column), by default ``source,target,pos``. A first row made only of role names or language
codes (``en<TAB>cy``) is a header; language codes in it say which language each column holds.

TSV cells are split on tabs only (no quoting), so a quote inside a word stays a quote;
CSV follows RFC 4180 quoting via the csv module.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

from ..errors import TaalkitError
from ..langs import ISO639_3_TO_1, pair_from_name, workspace_code
from ..textio.records import Entry, Reject, Source
from ..textio.files import iter_lines, nonblank_lines

DEFAULT_COLUMNS = ("source", "target", "pos")
ROLE_WORDS = {
    "source": "source", "target": "target", "headword": "source", "word": "source", "term": "source",
    "translation": "target", "pos": "pos", "sense": "sense", "origin": "origin", "note": "note",
    "notes": "note", "comment": "note",
}
_CODES = set(ISO639_3_TO_1) | set(ISO639_3_TO_1.values())


def parse_columns(spec: Optional[Sequence[str] | str]) -> list[str]:
    """``"source,target,-"`` → ``["source", "target", "-"]``; needs one source and one target."""
    if spec is None:
        return list(DEFAULT_COLUMNS)
    cols = [c.strip().lower() for c in (spec.split(",") if isinstance(spec, str) else spec)]
    if cols.count("source") != 1 or cols.count("target") != 1:
        raise TaalkitError(f"--columns must name one 'source' and one 'target' column, got {','.join(cols)}")
    return cols


def read(path: Path, source_lang: str, target_lang: str, *, delimiter: str = "\t",
         columns: Optional[Sequence[str] | str] = None) -> Source:
    """Read a TSV (``delimiter="\\t"``) or CSV (``","``) dictionary."""
    explicit = columns is not None
    cols = parse_columns(columns)
    rows = _rows(path, delimiter)
    first = next(rows, None)
    header_langs: Optional[tuple[str, str]] = None
    pending: list = []
    if first is not None:
        number, cells = first
        if isinstance(cells, list) and _is_header(cells):
            if not explicit:
                cols = header_roles(cells)
            codes = [c.strip().lower() for c in cells if c.strip().lower() in _CODES]
            if len(codes) >= 2:
                header_langs = (codes[0], codes[1])
        else:
            pending.append(first)
    pair = header_langs or pair_from_name(path.name)
    said = "the header row" if header_langs else (f"the file name {path.name!r}" if pair else "")
    if pair:
        hw_lang, tr_lang = (workspace_code(c, source_lang, target_lang) for c in pair)
    else:
        hw_lang, tr_lang = source_lang, target_lang
    fmt = "tsv" if delimiter == "\t" else "csv"
    return Source(path=str(path), format=fmt, kind="dictionary", headword_lang=hw_lang, translation_lang=tr_lang,
                  name=path.name, records=_entries(_chain(pending, rows), cols, fmt), direction_from=said)


# -- which column is which language, by content -------------------------------------------
# A file called words.tsv says nothing about its direction, but the workspace already holds text in
# both of its languages (the corpus' two sides, other dictionaries). Character trigrams are what
# tells Welsh from English in a handful of words ("dd", "wy", "ch" against "th", "ing"), need no
# model, and work for a language no library knows; so each column is compared with each side.

def trigram_profile(texts: Iterable[str]) -> Counter:
    """Counts of the character trigrams of lower-cased words, with word edges (`` ca``, ``at ``)."""
    counts: Counter = Counter()
    for text in texts:
        for word in text.lower().split():
            padded = f" {word} "
            counts.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return counts


def _cosine(a: Counter, b: Counter) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def columns_by_content(first: Sequence[str], second: Sequence[str], source_text: Sequence[str],
                       target_text: Sequence[str], *, margin: float = 0.02) -> tuple[Optional[bool], dict]:
    """Does the first column hold the source language? (True, False, or None when the text cannot
    tell), with the four similarities behind the answer.

    The first column is the source when (first~source + second~target) beats the crossed pairing by
    ``margin``; a dictionary of loanwords or names may be too close to call, and then says so.
    """
    p1, p2 = trigram_profile(first), trigram_profile(second)
    ps, pt = trigram_profile(source_text), trigram_profile(target_text)
    sims = {"first~source": _cosine(p1, ps), "first~target": _cosine(p1, pt),
            "second~source": _cosine(p2, ps), "second~target": _cosine(p2, pt)}
    straight = sims["first~source"] + sims["second~target"]
    crossed = sims["first~target"] + sims["second~source"]
    if not ps or not pt or abs(straight - crossed) < margin:
        return None, sims
    return straight > crossed, sims


def header_roles(cells: list[str]) -> list[str]:
    """Roles from a header row: role words as named; language codes fill source, then target."""
    words = [c.strip().lower() for c in cells]
    roles = [ROLE_WORDS.get(w, w) if w not in _CODES or w in ROLE_WORDS else None for w in words]
    for i, role in enumerate(roles):
        if role is None:
            roles[i] = next((r for r in ("source", "target") if r not in roles), "-")
    return [r or "-" for r in roles]


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _is_header(cells: list[str]) -> bool:
    words = [c.strip().lower() for c in cells if c.strip()]
    return bool(words) and len(words) >= 2 and all(w in ROLE_WORDS or w in _CODES for w in words)


def _rows(path: Path, delimiter: str) -> Iterator[tuple[int, list[str] | Reject]]:
    if delimiter == "\t":
        for number, line in nonblank_lines(path):  # a bad line comes as a Reject (--skip-bad)
            if isinstance(line, Reject):
                yield number, line
            else:
                yield number, line.split("\t")
        return
    # CSV: a quoted cell may span lines; the csv module tracks the starting line for us.
    text = "\n".join(line for _, line in iter_lines(path))
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield start, Reject(start, f"expected a CSV row, found {err}")
            return
        if any(c.strip() for c in cells):
            yield start, cells


def _entries(rows: Iterator, cols: list[str], fmt: str) -> Iterator[Entry | Reject]:
    src, tgt = cols.index("source"), cols.index("target")
    sep = "<TAB>" if fmt == "tsv" else ","
    need = max(src, tgt) + 1
    shape = sep.join(c for c in cols[:need])
    for number, cells in rows:
        if isinstance(cells, Reject):
            yield cells
            continue
        raw = sep.join(cells) if fmt == "csv" else "\t".join(cells)
        if len(cells) < need:
            yield Reject(number, f"expected {shape}, found {len(cells)} column{'s' if len(cells) != 1 else ''}", raw)
            continue
        if len(cells) > len(cols):
            yield Reject(number, f"expected at most {len(cols)} columns ({sep.join(cols)}), found {len(cells)}", raw)
            continue
        headword, translation = cells[src], cells[tgt]
        if not headword.strip() or not translation.strip():
            empty = "source" if not headword.strip() else "target"
            yield Reject(number, f"expected a {empty} word, found an empty cell", raw)
            continue
        pos = None
        sense = None
        extra = {}
        for role, cell in zip(cols, cells):
            if role in ("source", "target", "-") or not cell.strip():
                continue
            if role == "pos":
                pos = cell.strip()
            elif role == "sense":
                try:
                    sense = int(cell)
                except ValueError:
                    yield Reject(number, f"expected a sense number, found {cell!r}", raw)
                    break
            else:
                extra[role] = cell.strip()
        else:
            yield Entry(headword, translation, pos, sense, number, extra)
