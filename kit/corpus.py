"""Text for training and evaluation: parallel segment pairs and monolingual target-language text.

Imported files land in ``corpora`` (one row per file, with provenance) and ``segments``
(one row per pair or line). Each segment is put in ``train`` or ``heldout`` once, at import,
by a seeded hash of its text: the same sentence always lands on the same side, so a
duplicate can never leak from training into the held-out set, and re-running an import
gives the same split.

Later stages read text only through the readers here: :func:`target_texts`, :func:`parallel_pairs`
(:func:`parallel_segments` with the row ids), :func:`source_texts` and :func:`heldout_texts`.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .textio.files import check_input_file, count_lines
from .textio.records import Reject, Source, accepted, reversed_source
from .textio.segments import read_tabular
from .textio.transaction import transaction
from .errors import TaalkitError
from .fsutil import sha256_file
from .progress import CancelToken, ProgressCallback, emit
from .workspace import Workspace, now

KINDS = ("parallel", "mono")
SPLITS = ("train", "heldout")


@dataclass
class CorpusImport:
    """What one corpus import did."""

    corpus_id: int
    path: str
    kind: str
    segments: int
    train: int
    heldout: int
    duplicates: int = 0
    rejected: int = 0
    already_imported: bool = False


# -- readers of the workspace's text ------------------------------------------------------


def target_texts(ws: Workspace, split: Optional[str] = "train") -> list[str]:
    """Target-language text in import order: monolingual lines and the target side of pairs.

    ``split=None`` returns every split. Blank texts are left out.
    """
    _check_split(split)
    sql = "select target_text from segments where target_text is not null and trim(target_text) != ''"
    args: list = []
    if split is not None:
        sql += " and split = ?"
        args.append(split)
    return [row[0] for row in ws.db.execute(sql + " order by id", args)]


def parallel_segments(ws: Workspace, split: Optional[str] = "train") -> list[tuple[int, str, str]]:
    """``(segment id, source, target)`` of the parallel segments of ``split``, in import order;
    pairs with a blank side are left out."""
    _check_split(split)
    sql = ("select id, source_text, target_text from segments where kind = 'parallel' "
           "and trim(coalesce(source_text, '')) != '' and trim(coalesce(target_text, '')) != ''")
    args: list = []
    if split is not None:
        sql += " and split = ?"
        args.append(split)
    return [(i, s, t) for i, s, t in ws.db.execute(sql + " order by id", args)]


def parallel_pairs(ws: Workspace, split: Optional[str] = "train") -> list[tuple[str, str]]:
    """``(source, target)`` pairs in the workspace's language order, in import order."""
    return [(s, t) for _i, s, t in parallel_segments(ws, split)]


def source_texts(ws: Workspace, split: Optional[str] = "train") -> list[str]:
    """The source-language side of the parallel pairs (what users will ask to translate)."""
    return [s for _i, s, _t in parallel_segments(ws, split)]


def heldout_texts(ws: Workspace, limit: Optional[int] = None, *, stand_in: bool = False,
                  train: Optional[list[str]] = None) -> list[str]:
    """The held-out target texts (never trained on) that bits per character and checks measure on.

    ``stand_in``: a workspace without a ``heldout`` split gets every 20th training text instead
    (``train``, else :func:`target_texts`), which the fine-tune then leaves out of training; the
    fine-tune and ``transtokenize`` measure on this, so the step-0 figure is the fine-tune's step 0.
    """
    heldout = target_texts(ws, "heldout")
    if not heldout and stand_in:
        train = target_texts(ws, "train") if train is None else train
        heldout = train[::20] if len(train) >= 20 else []
    return heldout[:limit] if limit else heldout


def _check_split(split: Optional[str]) -> None:
    if split is not None and split not in SPLITS:
        raise TaalkitError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


# -- import ----------------------------------------------------------------------------------


def import_corpus(
    ws: Workspace,
    path: os.PathLike | str,
    kind: str = "parallel",
    *,
    columns: Optional[Sequence[int]] = None,
    heldout_fraction: float = 0.05,
    seed: int = 0,
    reverse: bool = False,
    rejects: Optional[list[Reject]] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> CorpusImport:
    """Import one text file as parallel pairs or monolingual lines, in one transaction.

    Parallel files are TSV (``source<TAB>target``; ``columns`` picks 0-based source and target
    columns, e.g. ``(0, 1)`` of an ``en<TAB>fy<TAB>nl`` file), or gettext ``.po``/``.mo`` and
    TMX. Monolingual files have one text per line (``columns=(i,)`` takes one TSV column).
    ``reverse`` swaps the two sides of a parallel file written target-first.
    A malformed line aborts the import with ``FILE:LINE`` unless ``rejects`` (a list) is given,
    which then collects the bad lines while the good ones are imported.
    """
    if kind not in KINDS:
        raise TaalkitError(f"corpus kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not 0 <= heldout_fraction < 1:
        raise TaalkitError(f"heldout fraction must be in [0, 1), got {heldout_fraction}")
    path = check_input_file(path, binary_ok=Path(path).suffix.lower() == ".mo")
    source = read_corpus_file(ws, path, kind, columns=columns)
    if source.total_lines is None and source.format != "mo":
        source.total_lines = count_lines(path)
    if reverse and kind == "parallel":
        source = reversed_source(source)
    with transaction(ws.db):
        return store_segments(ws, source, heldout_fraction=heldout_fraction, seed=seed,
                              rejects=rejects, progress=progress, cancel=cancel)


def read_corpus_file(ws: Workspace, path: Path, kind: str, *, columns: Optional[Sequence[int]] = None) -> Source:
    """Choose the reader for a corpus file by its extension (gettext, TMX, or tabular text)."""
    suffix = path.suffix.lower()
    if kind == "parallel" and suffix in (".po", ".pot", ".mo", ".tmx"):
        from .textio import gettext, tmx

        langs = (ws.source_lang, ws.target_lang)
        if suffix == ".tmx":
            return tmx.read(path, *langs)
        return gettext.read_mo(path, *langs) if suffix == ".mo" else gettext.read_po(path, *langs)
    return read_tabular(path, kind, ws.source_lang, ws.target_lang, columns=columns)


def store_segments(
    ws: Workspace,
    source: Source,
    *,
    heldout_fraction: float = 0.05,
    seed: int = 0,
    rejects: Optional[list[Reject]] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> CorpusImport:
    """Write a :class:`Source` of segments; the caller holds the transaction.

    Idempotent: a file already imported as the same kind (same sha256) is not imported again.
    """
    db = ws.db
    sha = source.sha256 or sha256_file(source.path)
    row = db.execute(
        "select id, segment_count from corpora where sha256 = ? and kind = ?", [sha, source.kind]
    ).fetchone()
    if row:
        counts = dict(db.execute(
            "select split, count(*) from segments where corpus_id = ? group by split", [row[0]]
        ).fetchall())
        return CorpusImport(row[0], source.path, source.kind, row[1] or 0, counts.get("train", 0),
                            counts.get("heldout", 0), already_imported=True)

    seen: set[tuple] = set()
    pairs: list[tuple[Optional[str], str, int]] = []
    duplicates = 0
    before = len(rejects) if rejects is not None else 0
    for n, seg in enumerate(accepted(source.records, source.path, rejects), 1):
        src = _nfc(seg.source_text) if seg.source_text is not None else None
        tgt = _nfc(seg.target_text)
        key = (src, tgt)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        pairs.append((src, tgt, seg.line))
        if n % 5000 == 0:
            if cancel is not None:
                cancel.check()
            emit(progress, "import", seg.line or n, source.total_lines, f"reading {Path(source.path).name}")
    if not pairs:
        raise TaalkitError(f"{source.path}: no usable {source.kind} text found")

    splits = assign_splits([(s or "", t) for s, t, _ in pairs], heldout_fraction, seed)
    cur = db.execute(
        "insert into corpora (name, path, kind, format, sha256, source_lang, target_lang, licence, "
        "segment_count, imported_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [source.name or Path(source.path).name, _stored_path(ws, source.path), source.kind, source.format,
         sha, source.headword_lang, source.translation_lang, source.licence, len(pairs), now()],
    )
    corpus_id = cur.lastrowid
    db.conn.executemany(
        "insert into segments (corpus_id, kind, source_text, target_text, split, line) values (?, ?, ?, ?, ?, ?)",
        [(corpus_id, source.kind, s, t, sp, line) for (s, t, line), sp in zip(pairs, splits)],
    )
    heldout = splits.count("heldout")
    emit(progress, "import", len(pairs), len(pairs), f"{Path(source.path).name}: {len(pairs)} segments")
    return CorpusImport(corpus_id, source.path, source.kind, len(pairs), len(pairs) - heldout, heldout,
                        duplicates=duplicates,
                        rejected=(len(rejects) - before) if rejects is not None else 0)


def assign_splits(texts: Sequence[tuple[str, str]], heldout_fraction: float, seed: int) -> list[str]:
    """``train``/``heldout`` per item: the ``round(n * fraction)`` items with the smallest seeded hash.

    Hashing the text (not the position) keeps the choice stable when a file is reordered and
    keeps identical texts on the same side.
    """
    n = len(texts)
    k = int(round(n * heldout_fraction))
    if k == 0:
        return ["train"] * n
    salt = str(seed).encode()

    def key(i: int) -> bytes:
        s, t = texts[i]
        return hashlib.blake2b(f"{s}\x00{t}".encode(), digest_size=8, key=salt[:64]).digest()

    order = sorted(range(n), key=key)
    result = ["train"] * n
    for i in order[:k]:
        result[i] = "heldout"
    return result


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _stored_path(ws: Workspace, path: str) -> str:
    return ws.relative(path)


# -- single segments (for ``transtokenize explain``) ------------------------------------------


def segment_pair(ws: Workspace, segment_id: int) -> Optional[tuple[str, str]]:
    """``(source, target)`` of one segment, or None."""
    row = ws.db.execute("select source_text, target_text from segments where id = ?", [segment_id]).fetchone()
    return (row[0], row[1]) if row else None


def pairs_containing(ws: Workspace, target: str, source: str, limit: int = 200) -> list[tuple[int, str, str]]:
    """``(segment id, source, target)`` of parallel segments whose sides contain ``source`` and
    ``target`` (case-insensitive, anywhere), at most ``limit``."""
    return [(i, s, t) for i, s, t in ws.db.execute(
        "select id, source_text, target_text from segments where kind = 'parallel' and target_text like ? "
        "and source_text like ? limit ?", [f"%{target}%", f"%{source}%", limit])]
