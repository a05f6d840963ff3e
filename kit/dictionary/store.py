"""Writing dictionaries into the workspace database: one transaction, deduplicated, with provenance.

``import_files`` is the stage function behind ``taalkit dict import``. All files named in one
call are imported in a single transaction: one malformed line anywhere and nothing is written
(the error names ``FILE:LINE``), unless a rejects file is given, in which case good rows are
imported and bad ones written there with their reasons. A file already imported in the same
direction (same sha256) is skipped, so re-running an import is harmless.

Rows go in with ``executemany``; the FTS index is kept by the triggers created in the schema.
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

from ..errors import TaalkitError
from ..fsutil import atomic_path, sha256_file
from ..progress import CancelToken, ProgressCallback, emit
from ..workspace import Workspace, now
from ..textio.records import Entry, Reject, Source, accepted, reversed_source
from ..textio.transaction import transaction

BATCH = 5000


@dataclass
class ImportResult:
    """What importing one file did."""

    path: str
    format: str
    kind: str  # dictionary | parallel | mono
    id: int  # dictionaries.id or corpora.id
    count: int  # entries or segments stored
    headword_lang: Optional[str] = None
    translation_lang: Optional[str] = None
    duplicates: int = 0
    rejected: int = 0
    already_imported: bool = False
    direction_from: str = ""  # why these languages (kit.dictionary.tabular; "" for corpora)
    replaced: list = None  # ids of dictionaries this import replaced (another mapping of the same file)


def import_files(
    ws: Workspace,
    paths: Sequence[os.PathLike | str],
    *,
    format: Optional[str] = None,
    reverse: bool = False,
    kind: Optional[str] = None,
    columns: Optional[Sequence[str]] = None,
    rejects_path: Optional[os.PathLike | str] = None,
    heldout_fraction: float = 0.05,
    seed: int = 0,
    langs: Optional[Sequence[str]] = None,
    replace: bool = False,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> list[ImportResult]:
    """Import dictionary (and parallel-text) files into ``ws`` in one transaction.

    ``format`` overrides detection (see :data:`kit.dictionary.detect.FORMATS`); ``reverse``
    swaps headwords and translations; ``kind="parallel"`` stores a TSV as segment pairs instead
    of dictionary entries; ``columns`` names the TSV columns (``source,target,pos`` by default).
    ``rejects_path`` turns on skip-bad mode.

    ``langs`` = (language of the source column, language of the target column) says a dictionary's
    direction outright; without it a TSV/CSV's header or file name does, and where both are silent
    its content is compared with the workspace's text in each language (``direction_from`` of each
    result says which). A file imported before with another mapping (columns, languages) raises
    :class:`MappingChanged` unless ``replace``, which swaps the old dictionary for the new reading.
    """
    from .detect import open_source

    paths = expand_folders(paths)
    rejects: Optional[list[tuple[str, Reject]]] = [] if rejects_path is not None else None
    sources = [open_source(ws, p, format=format, kind=kind, columns=columns) for p in paths]
    for source in sources:
        if source.kind == "dictionary":
            settle_direction(ws, source, langs)
    results = []
    with transaction(ws.db):
        for i, source in enumerate(sources):
            if cancel is not None:
                cancel.check()
            emit(progress, "import", 0, source.total_lines, f"reading {Path(source.path).name} ({i + 1}/{len(sources)})")
            file_rejects: Optional[list[Reject]] = [] if rejects is not None else None
            if source.kind == "dictionary":
                result = store_dictionary(ws, source, reverse=reverse, rejects=file_rejects, columns=columns,
                                          replace=replace, progress=progress, cancel=cancel)
            else:
                from ..corpus import store_segments  # a parallel or mono file: the corpus stores it

                if reverse:
                    source = reversed_source(source)
                ci = store_segments(ws, source, heldout_fraction=heldout_fraction, seed=seed,
                                    rejects=file_rejects, progress=progress, cancel=cancel)
                result = ImportResult(source.path, source.format, source.kind, ci.corpus_id, ci.segments,
                                      source.headword_lang, source.translation_lang, ci.duplicates,
                                      ci.rejected, ci.already_imported)
            if rejects is not None:
                rejects.extend((source.path, r) for r in file_rejects)
            results.append(result)
        if rejects_path is not None:
            write_rejects(rejects_path, rejects)
    emit(progress, "import", 1, 1, f"{len(sources)} file(s) imported")
    return results


DICTIONARY_SUFFIXES = (".index", ".tei", ".dix")


def expand_folders(paths: Sequence[os.PathLike | str]) -> list[Path]:
    """A folder stands for the dictionaries in it (``*.index``, ``*.tei``, ``*.dix``), sorted.

    Text files in a folder are not taken: a ``train_*.tsv`` next to a dictionary is a corpus.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in DICTIONARY_SUFFIXES and f.is_file())
            if not found:
                raise TaalkitError(f"{p}: no dictionary files (*.index, *.tei, *.dix) in this folder")
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise TaalkitError("no files to import")
    return out


def write_rejects(path: os.PathLike | str, rejects: Iterable[tuple[str, Reject]]) -> None:
    """``FILE:LINE: reason<TAB>original line`` per rejected row (an empty file when none)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for file, r in rejects:
                raw = r.raw.replace("\t", "\\t").replace("\n", "\\n")
                f.write(f"{file}:{r.line or 0}: {r.reason}\t{raw}\n")


def store_dictionary(
    ws: Workspace,
    source: Source,
    *,
    reverse: bool = False,
    rejects: Optional[list[Reject]] = None,
    columns: Optional[Sequence[str] | str] = None,
    replace: bool = False,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> ImportResult:
    """Write one dictionary :class:`Source`; the caller holds the transaction."""
    db = ws.db
    hw_lang, tr_lang = source.headword_lang, source.translation_lang
    if reverse:
        hw_lang, tr_lang = tr_lang, hw_lang
    direction = f"{hw_lang or '?'}-{tr_lang or '?'}"
    sha = source.sha256 or sha256_file(source.path)
    mapping = _mapping(source, columns, reverse)
    same, other = _earlier_imports(db, sha, mapping, direction)
    if same:
        return ImportResult(source.path, source.format, "dictionary", same["id"], same["entry_count"] or 0,
                            hw_lang, tr_lang, already_imported=True, direction_from=source.direction_from)
    if other and not replace:
        raise MappingChanged(source.path, other, mapping)
    for old in other:
        db.execute("delete from entries where dictionary_id = ?", [old["id"]])
        db.execute("delete from dictionaries where id = ?", [old["id"]])

    cur = db.execute(
        "insert into dictionaries (name, path, format, sha256, headword_lang, translation_lang, direction, "
        "licence, url, description, entry_count, imported_at, mapping) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        [source.name or Path(source.path).name, ws.relative(source.path), source.format, sha, hw_lang, tr_lang,
         direction, source.licence, source.url, source.description, now(), json.dumps(mapping)],
    )
    dictionary_id = cur.lastrowid
    before = len(rejects) if rejects is not None else 0
    stored = duplicates = 0
    for batch, dups in _batches(accepted(source.records, source.path, rejects), dictionary_id,
                                hw_lang, tr_lang, reverse):
        if cancel is not None:
            cancel.check()
        db.conn.executemany(INSERT_ENTRY, batch)
        stored += len(batch)
        duplicates += dups
        if batch:
            emit(progress, "import", batch[-1][9] or 0, source.total_lines,
                 f"{Path(source.path).name}: {stored} entries")
    if stored == 0:
        raise TaalkitError(f"{source.path}: no dictionary entries found (is it the right --format?)")
    db.execute("update dictionaries set entry_count = ? where id = ?", [stored, dictionary_id])
    return ImportResult(source.path, source.format, "dictionary", dictionary_id, stored, hw_lang, tr_lang,
                        duplicates, (len(rejects) - before) if rejects is not None else 0,
                        direction_from=source.direction_from, replaced=[old["id"] for old in other])


class MappingChanged(TaalkitError):
    """The same file was imported before, read another way; ``--replace`` (or yes to the question)."""

    def __init__(self, path: str, earlier: list[dict], mapping: dict) -> None:
        old = earlier[0]
        then = json.loads(old["mapping"]) if old.get("mapping") else None
        how_then = describe_mapping(then) if then else f"as {old['direction'].replace('-', '→')}"
        super().__init__(f"{path} was imported before (dictionary #{old['id']}, {how_then}); this import reads it "
                         f"{describe_mapping(mapping)}. Pass --replace to replace the earlier import")
        self.path, self.earlier, self.mapping = path, earlier, mapping


def describe_mapping(mapping: dict) -> str:
    langs = "→".join(x or "?" for x in mapping.get("langs") or ())
    cols = ",".join(mapping["columns"]) if mapping.get("columns") else "default columns"
    return f"as {langs}, {cols}" + (", reversed" if mapping.get("reverse") else "")


def _mapping(source: Source, columns, reverse: bool) -> dict:
    """How a file was read: what a re-import compares (the file itself is its sha256)."""
    cols = None
    if columns is not None:
        cols = [c.strip().lower() for c in (columns.split(",") if isinstance(columns, str) else columns)]
    return {"columns": cols, "langs": [source.headword_lang, source.translation_lang], "reverse": bool(reverse)}


def _earlier_imports(db, sha: str, mapping: dict, direction: str) -> tuple[Optional[dict], list[dict]]:
    """(the earlier import read exactly this way, or None; earlier imports read another way).

    The same reading with ``reverse`` flipped is the file's other direction, kept beside it (a
    dictionary imported both ways). A row from before mappings were recorded counts as the same
    reading when its direction matches.
    """
    same, other = None, []
    flipped = dict(mapping, reverse=not mapping["reverse"])
    for row in db.query("select * from dictionaries where sha256 = ? order by id", [sha]):
        then = json.loads(row["mapping"]) if row.get("mapping") else None
        if then == mapping or (then is None and row["direction"] == direction):
            same = row
        elif then == flipped or (then is None and row["direction"] == "-".join(reversed(direction.split("-")))):
            continue
        else:
            other.append(row)
    return same, other


def settle_direction(ws: Workspace, source: Source, langs: Optional[Sequence[str]] = None) -> None:
    """Decide which language each side of a dictionary is, and record why in ``direction_from``.

    ``langs`` wins; a TSV/CSV silent about its languages is read by content against the
    workspace's text (kit.dictionary.tabular.columns_by_content); else the reader's answer stands.
    """
    from itertools import chain, islice

    from ..langs import workspace_code
    from .tabular import columns_by_content

    src, tgt = ws.source_lang, ws.target_lang
    if langs:
        a, b = (workspace_code(c.strip(), src, tgt) for c in langs)
        source.headword_lang, source.translation_lang = a, b
        source.direction_from = "--from/--to"
        return
    if source.format not in ("tsv", "csv") or source.direction_from:
        source.direction_from = source.direction_from or "the file"
        return
    sample = list(islice(source.records, 2000))
    source.records = chain(sample, source.records)
    entries = [r for r in sample if isinstance(r, Entry)]
    src_text, tgt_text = _workspace_text(ws, src), _workspace_text(ws, tgt)
    answer, sims = columns_by_content([e.headword for e in entries], [e.translation for e in entries],
                                      src_text, tgt_text)
    if answer is None:
        why = ("the workspace has no text to compare with yet" if not src_text or not tgt_text
               else "its words are as close to either language")
        source.headword_lang, source.translation_lang = src, tgt
        source.direction_from = (f"assumed: neither a header nor the file name names the languages and {why}; "
                                 f"--from/--to sets them")
        return
    first, second = (src, tgt) if answer else (tgt, src)
    source.headword_lang, source.translation_lang = first, second
    score = (sims["first~source"], sims["first~target"]) if answer else (sims["first~target"], sims["first~source"])
    source.direction_from = (f"the content: column 1 reads like the workspace's {first} text "
                             f"(trigram similarity {score[0]:.2f} vs {score[1]:.2f} with {second})")


def _workspace_text(ws: Workspace, lang: str, limit: int = 3000) -> list[str]:
    """Up to ``limit`` texts of each kind the workspace holds in ``lang``: corpus sides, dictionary words."""
    db = ws.db
    texts = []
    if lang == ws.source_lang:
        texts += [r[0] for r in db.execute("select source_text from segments where source_text is not null "
                                           "limit ?", [limit])]
    if lang == ws.target_lang:
        texts += [r[0] for r in db.execute("select target_text from segments where target_text is not null "
                                           "limit ?", [limit])]
    texts += [r[0] for r in db.execute("select headword from entries where headword_lang = ? limit ?", [lang, limit])]
    texts += [r[0] for r in db.execute("select translation from entries where translation_lang = ? limit ?",
                                       [lang, limit])]
    return [t for t in texts if t]


INSERT_ENTRY = (
    "insert or ignore into entries (dictionary_id, headword, translation, headword_orig, translation_orig, pos, "
    "sense, headword_lang, translation_lang, line, extra) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _batches(entries: Iterator[Entry], dictionary_id: int, hw_lang, tr_lang, reverse: bool):
    """Rows ready for ``executemany``, NFC-normalised, exact duplicates dropped (variants kept)."""
    seen: set[tuple] = set()
    batch: list[tuple] = []
    dups = 0
    nfc = unicodedata.normalize
    for e in entries:
        hw_orig, tr_orig = (e.translation, e.headword) if reverse else (e.headword, e.translation)
        hw = " ".join(nfc("NFC", hw_orig).split())
        tr = " ".join(nfc("NFC", tr_orig).split())
        key = (hw, tr, e.pos, e.sense)
        if key in seen:
            dups += 1
            continue
        seen.add(key)
        extra = dict(e.extra)
        if reverse:
            extra["reversed"] = True
        batch.append((dictionary_id, hw, tr, hw_orig, tr_orig, e.pos, e.sense, hw_lang, tr_lang, e.line,
                      json.dumps(extra, ensure_ascii=False) if extra else None))
        if len(batch) >= BATCH:
            yield batch, dups
            batch, dups = [], 0
    if batch or dups:
        yield batch, dups


def export_tsv(ws: Workspace, path: os.PathLike | str, *, dictionary_id: Optional[int] = None,
               original: bool = True) -> int:
    """Write entries as ``headword<TAB>translation[<TAB>pos]`` (the file's own spelling by default)."""
    cols = "headword_orig, translation_orig" if original else "headword, translation"
    sql = f"select {cols}, pos from entries"
    args: list = []
    if dictionary_id is not None:
        sql += " where dictionary_id = ?"
        args.append(dictionary_id)
    n = 0
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for hw, tr, pos in ws.db.execute(sql + " order by id", args):
                f.write("\t".join([hw, tr] + ([pos] if pos else [])) + "\n")
                n += 1
    return n
