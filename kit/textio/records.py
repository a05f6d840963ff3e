"""What the format readers produce: entries, parallel segments and rejected lines.

Each reader turns one file into a :class:`Source` (where it came from, which languages,
licence) and a stream of records. Readers never raise on a bad line: they yield a
:class:`Reject`, and the store decides whether that aborts the import (the default) or
goes to the ``--skip-bad`` file. That keeps the all-or-nothing rule in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Union


@dataclass
class Entry:
    """One headword→translation pair of a dictionary (text as found in the file)."""

    headword: str
    translation: str
    pos: Optional[str] = None
    sense: Optional[int] = None
    line: Optional[int] = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Segment:
    """One parallel (source, target) pair or, with ``source_text=None``, a monolingual line."""

    source_text: Optional[str]
    target_text: str
    line: Optional[int] = None


@dataclass
class Reject:
    """A line the reader could not use: ``FILE:LINE: expected …, found …``."""

    line: Optional[int]
    reason: str
    raw: str = ""


Record = Union[Entry, Segment, Reject]


@dataclass
class Source:
    """Provenance of one file: how it was read, in which languages, under which licence.

    ``kind`` is ``dictionary`` (records are :class:`Entry`) or ``parallel``/``mono``
    (records are :class:`Segment`). For a dictionary, ``headword_lang`` is the language of
    the headwords; for segments it is the source-text language.
    """

    path: str
    format: str
    kind: str
    headword_lang: Optional[str] = None
    translation_lang: Optional[str] = None
    name: Optional[str] = None
    licence: Optional[str] = None
    url: Optional[str] = None
    description: Optional[str] = None
    sha256: Optional[str] = None
    total_lines: Optional[int] = None  # for progress: records carry their line numbers
    # What said which language each side is ("the file name 'cy-en.tsv'", "the header row"); "" when
    # nothing in the file did and the languages are the workspace's pair by default (kit.dictionary.tabular).
    direction_from: str = ""
    records: Iterator[Record] = field(default_factory=lambda: iter(()))


#: Longest dictionary field (headword, translation, pos, a note) in characters: a real one is a
#: few words; a 50 MB "headword" is a broken file, and would cost the database and the FTS index
#: hundreds of MB.
MAX_FIELD_CHARS = 64 * 1024
#: Longest side of a text segment: a long paragraph fits, a whole book on one line does not.
MAX_SEGMENT_CHARS = 1024 * 1024


def oversized(record: Union[Entry, Segment]) -> Optional[Reject]:
    """A :class:`Reject` naming the first field over its limit, or None (one limit for every reader)."""
    if isinstance(record, Entry):
        limit = MAX_FIELD_CHARS
        fields = [("headword", record.headword), ("translation", record.translation), ("pos", record.pos)]
        fields += [(k, v) for k, v in record.extra.items() if isinstance(v, str)]
    else:
        limit = MAX_SEGMENT_CHARS
        fields = [("source text", record.source_text), ("target text", record.target_text)]
    for name, value in fields:
        if value is not None and len(value) > limit:
            return Reject(record.line, f"expected a {name} of at most {limit // 1024} K characters, "
                                       f"found {len(value) // 1024} K", value[:200])
    return None


def accepted(records: Iterator[Record], path: str, rejects: Optional[list[Reject]]) -> Iterator[Union[Entry, Segment]]:
    """Pass good records through; a :class:`Reject` aborts (``rejects is None``) or is collected.

    Raising here, inside the importer's transaction, is what rolls the whole import back.
    Every reader's records come through here, so the field-size limits are checked here.
    """
    from ..errors import InputFormatError

    for record in records:
        if not isinstance(record, Reject):
            record = oversized(record) or record
        if isinstance(record, Reject):
            if rejects is None:
                raise InputFormatError(path, record.line, record.reason)
            rejects.append(record)
        else:
            yield record


def reversed_source(source: Source) -> Source:
    """The same source with its two sides swapped (a parallel file written target-first)."""
    records = source.records

    def swap() -> Iterator[Union[Segment, Reject]]:
        for r in records:
            yield Segment(r.target_text, r.source_text, r.line) if isinstance(r, Segment) else r

    source.headword_lang, source.translation_lang = source.translation_lang, source.headword_lang
    source.records = swap()
    return source
