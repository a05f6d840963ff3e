"""FreeDict dictd dictionaries: an ``.index`` of ``headword<TAB>offset<TAB>length`` and a ``.dict.dz``.

The numbers are dictd's base64 digits (``A–Z a–z 0–9 + /`` = 0..63, most significant first).
``.dict.dz`` is gzip-compatible, so the whole body is decompressed once and sliced; dictzip's
random access is not needed for a one-pass import.

An entry body looks like::

    cath /kˈɑːθ/ <n, s, f>
    cat

or, with several senses, numbered lines of comma-separated translations::

    aag /ˈɑːx/
    1. ah, oh, ow
    2. woe

Headwords starting with ``00database`` are not words but the dictionary's own metadata
(name, licence text, URL); they become the provenance of the import.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from pathlib import Path
from typing import Iterator, Optional

from ..errors import TaalkitError
from ..fsutil import sha256_file
from ..langs import pair_from_name, workspace_code
from ..textio.records import Entry, Reject, Source
from ..textio.files import check_input_file, lines_or_rejects

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(B64)}

_HEAD = re.compile(r"^(?P<hw>.*?)(?:\s+/(?P<ipa>[^/]*)/)?(?:\s+<(?P<pos>[^<>]*)>)?\s*$")
_SENSE = re.compile(r"^\s*(?P<n>\d+)\.\s*(?P<text>.*)$")
_TRAILING_POS = re.compile(r"\s*<(?P<pos>[^<>]*)>\s*$")
# Newer FreeDict bodies add labelled lines under a sense ("Synonym: …", "see: …") and quoted
# examples ('"Das Haus." - "The house."'); they are notes about the sense, not translations.
_NOTE = re.compile(r"^\s*(?P<label>synonyms?|antonyms?|see(?: also)?|notes?|usage|examples?|etymology|"
                   r"related|plural|abbreviation|cf\.?)\s*:\s*(?P<text>.*)$", re.I)


def decode_number(digits: str) -> int:
    """dictd base64 → int; ``ValueError`` on a character outside the alphabet."""
    if not digits:
        raise ValueError("empty number")
    value = 0
    for c in digits:
        value = value * 64 + _B64_VALUE[c]  # KeyError → caught by the caller
    return value


def encode_number(value: int) -> str:
    """int → dictd base64 (for writing test fixtures)."""
    if value == 0:
        return "A"
    out = []
    while value:
        value, r = divmod(value, 64)
        out.append(B64[r])
    return "".join(reversed(out))


def data_file_for(index: Path) -> Path:
    """The ``.dict.dz`` (or plain ``.dict``) beside an ``.index``; a clear error when missing."""
    stem = index.name[: -len(".index")] if index.name.endswith(".index") else index.stem
    for name in (stem + ".dict.dz", stem + ".dict"):
        candidate = index.with_name(name)
        if candidate.exists():
            return candidate
    raise TaalkitError(
        f"{index}: dictd index without its data file; expected {index.with_name(stem + '.dict.dz')} beside it"
    )


def read(path: Path, source_lang: str, target_lang: str) -> Source:
    """Read a dictd pair given either its ``.index`` or its ``.dict.dz``."""
    path = Path(path)
    if path.name.endswith((".dict.dz", ".dict")):
        stem = path.name[: -len(".dict.dz")] if path.name.endswith(".dict.dz") else path.name[: -len(".dict")]
        path = path.with_name(stem + ".index")
    index = check_input_file(path)
    data_path = data_file_for(index)
    check_input_file(data_path, binary_ok=True)
    data = _decompress(data_path)

    entries = list(_index_lines(index))  # small: (line, headword, offset, length) or Reject
    meta = _metadata(entries, data)
    pair = pair_from_name(index.name)
    hw_lang = workspace_code(pair[0], source_lang, target_lang) if pair else None
    tr_lang = workspace_code(pair[1], source_lang, target_lang) if pair else None
    if pair is None:
        raise TaalkitError(
            f"{index}: cannot tell the languages from the file name (expected e.g. freedict-cym-eng.index); "
            "rename it to <from>-<to>.index with ISO 639-3 codes"
        )
    sha = hashlib.sha256()
    for part in (index, data_path):
        sha.update(sha256_file(part).encode())
    return Source(
        path=str(index), format="dictd", sha256=sha.hexdigest(), total_lines=len(entries), kind="dictionary", headword_lang=hw_lang, translation_lang=tr_lang,
        name=meta.get("short") or index.name, licence=_licence(meta.get("info", "")),
        url=meta.get("url") if meta.get("url") not in (None, "unknown") else None,
        description=meta.get("info"), records=_entries(entries, data, index),
    )


def _decompress(data_path: Path) -> bytes:
    raw = data_path.read_bytes()
    if not data_path.name.endswith(".dz"):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise TaalkitError(f"{data_path}: not a readable .dict.dz (gzip) file: {err}") from None


def _index_lines(index: Path) -> Iterator[tuple | Reject]:
    for number, line in lines_or_rejects(index):
        if isinstance(line, Reject):  # a bad byte or an endless line: --skip-bad sets it aside
            yield line
            continue
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) != 3:
            yield Reject(number, f"expected headword<TAB>offset<TAB>length, found {len(cells)} "
                                 f"tab-separated field{'s' if len(cells) != 1 else ''}", line)
            continue
        try:
            offset, length = decode_number(cells[1]), decode_number(cells[2])
        except (KeyError, ValueError):
            yield Reject(number, f"expected dictd base64 numbers (A-Z a-z 0-9 + /), found {cells[1]!r} {cells[2]!r}",
                         line)
            continue
        yield (number, cells[0], offset, length)


def _metadata(entries: list, data: bytes) -> dict[str, str]:
    meta = {}
    for item in entries:
        if isinstance(item, tuple) and item[1].startswith("00database"):
            _, hw, offset, length = item
            body = data[offset:offset + length].decode("utf-8", errors="replace").strip()
            meta[hw[len("00database"):]] = body
    return meta


def _licence(info: str) -> Optional[str]:
    m = re.search(r"GNU General Public License,? ver(?:sion|\.)? ?([0-9.]+)( and\s+any later version)?", info)
    if m:
        return f"GPL-{m.group(1).rstrip('.0') or m.group(1)}" + ("+" if m.group(2) else "")
    for name in ("CC-BY-SA", "Creative Commons", "Public Domain", "MIT", "BSD"):
        if name.lower() in info.lower():
            return name
    return None


def _entries(items: list, data: bytes, index: Path) -> Iterator[Entry | Reject]:
    size = len(data)
    for item in items:
        if isinstance(item, Reject):
            yield item
            continue
        number, headword, offset, length = item
        if headword.startswith("00database"):
            continue
        if offset + length > size:
            yield Reject(number, f"expected an entry inside the {size}-byte .dict data, found offset {offset} "
                                 f"+ length {length} past its end", headword)
            continue
        try:
            body = data[offset:offset + length].decode("utf-8")
        except UnicodeDecodeError:
            yield Reject(number, "expected a UTF-8 entry body, found undecodable bytes", headword)
            continue
        yield from parse_body(body, headword.strip(), number)


def parse_body(body: str, headword: str, line: int) -> Iterator[Entry | Reject]:
    """One dictd entry body → an :class:`Entry` per translation (sense numbers kept)."""
    lines = [ln for ln in body.split("\n") if ln.strip()]
    if not lines:
        yield Reject(line, f"expected an entry body for {headword!r}, found nothing", headword)
        return
    head = _HEAD.match(lines[0].strip())
    body_hw = head.group("hw").strip() if head else lines[0].strip()
    pos = _clean_pos(head.group("pos")) if head else None
    ipa = head.group("ipa") if head else None
    # The index holds dictd's folded lookup key (lower case, punctuation dropped); the body
    # has the real spelling, so it wins when present.
    headword = body_hw or headword
    if not headword:
        yield Reject(line, "expected a headword, found an empty one", body[:60])
        return
    out: list[Entry] = []
    sense = None
    notes: dict[str, list[str]] = {}
    for text in lines[1:]:
        note = _NOTE.match(text)
        if note or text.strip().startswith('"'):
            label = note.group("label").lower() if note else "example"
            notes.setdefault(label, []).append(note.group("text").strip() if note else text.strip())
            continue
        m = _SENSE.match(text)
        if m:
            sense, text = int(m.group("n")), m.group("text")
        text = text.strip()
        tr_pos = None
        pm = _TRAILING_POS.search(text)
        if pm:
            tr_pos, text = _clean_pos(pm.group("pos")), text[: pm.start()].strip()
        for translation in split_translations(text):
            extra = {}
            if ipa:
                extra["ipa"] = ipa
            if tr_pos:
                extra["translation_pos"] = tr_pos
            out.append(Entry(headword, translation, pos, sense, line, extra))
    if not out:
        yield Reject(line, f"expected at least one translation under {headword!r}, found none", body[:60])
        return
    for entry in out:
        if notes:
            entry.extra["notes"] = notes
        yield entry


def split_translations(text: str) -> list[str]:
    """Split on commas and semicolons outside parentheses: ``flake off, peel off`` → two."""
    out, depth, current = [], 0, []
    for c in text:
        if c in "([":
            depth += 1
        elif c in ")]" and depth:
            depth -= 1
        if c in ",;" and depth == 0:
            out.append("".join(current))
            current = []
        else:
            current.append(c)
    out.append("".join(current))
    return [" ".join(t.split()) for t in out if t.strip()]


def _clean_pos(pos: Optional[str]) -> Optional[str]:
    if not pos:
        return None
    return ", ".join(p.strip() for p in pos.split(",") if p.strip()) or None
