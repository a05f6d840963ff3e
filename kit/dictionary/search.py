"""Looking words up, both ways, and describing what a workspace's dictionary holds.

A search for ``cath`` should show ``cath → cat`` (a Welsh headword) and ``cat → cath`` (an
English headword whose translation is ``cath``), then words starting with ``cath``, then
entries merely containing it. Exact and prefix matches use the B-tree indexes; everything
else goes through the FTS5 table ``entries_fts`` (``unicode61``, case-insensitive).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any, Optional

from ..workspace import Workspace

_COLUMNS = "e.id, e.headword, e.translation, e.pos, e.sense, e.headword_lang, e.translation_lang, d.name"
_FROM = "entries e join dictionaries d on d.id = e.dictionary_id"
_WORD = re.compile(r"\w+", re.UNICODE)


def search(ws: Workspace, word: str, *, limit: int = 50, lang: Optional[str] = None) -> list[dict[str, Any]]:
    """Entries matching ``word`` in either language, best first, as dicts.

    Order: exact headword, exact translation, headword prefix, translation prefix, full text.
    ``lang`` keeps only entries with that headword or translation language. Each row carries
    ``match`` (``headword``/``translation``/``prefix``/``text``) saying why it was found.
    """
    query = " ".join(unicodedata.normalize("NFC", word).split())
    if not query:
        return []
    lowered = query.lower()
    results: list[dict[str, Any]] = []
    seen: set[int] = set()
    lang_sql, lang_args = "", []
    if lang:
        lang_sql, lang_args = " and (e.headword_lang = ? or e.translation_lang = ?)", [lang, lang]

    def add(sql: str, args: list, match: str) -> None:
        if len(results) >= limit:
            return
        rows = ws.db.execute(
            f"select {_COLUMNS} from {_FROM} where {sql}{lang_sql} order by e.headword, e.sense, e.id limit ?",
            [*args, *lang_args, limit + len(seen)],
        ).fetchall()
        for row in rows:
            if row[0] in seen or len(results) >= limit:
                continue
            seen.add(row[0])
            results.append(_row(row, match))

    # Case variants instead of lower(column): keeps every look-up on the B-tree indexes
    # (search-as-you-type in the TUI runs this per key press).
    variants = list(dict.fromkeys([query, lowered, query.capitalize(), query.upper(), query.title()]))
    marks = ", ".join("?" * len(variants))
    add(f"e.headword in ({marks})", variants, "headword")
    add(f"e.translation in ({marks})", variants, "translation")
    for column in ("headword", "translation"):
        ranges = " or ".join(f"(e.{column} >= ? and e.{column} < ?)" for _ in variants)
        add(ranges, [x for v in variants for x in (v, v + "\U0010ffff")], "prefix")
    fts = fts_query(query)
    if fts and len(results) < limit:
        # Best bm25 rank first (entries sharing more, rarer words of the query).
        rows = ws.db.execute(
            f"select {_COLUMNS} from (select rowid, rank from entries_fts where entries_fts match ? "
            f"order by rank limit ?) f join entries e on e.id = f.rowid join dictionaries d on d.id = e.dictionary_id "
            f"where 1=1{lang_sql} order by f.rank",
            [fts, limit * 4 + len(seen), *lang_args],
        ).fetchall()
        for row in rows:
            if row[0] not in seen and len(results) < limit:
                seen.add(row[0])
                results.append(_row(row, "text"))
    return results


def fts_query(text: str) -> str:
    """Words of ``text`` as an FTS5 query: quoted prefix terms joined by OR, best (bm25) first.

    Quoting makes user input safe against FTS syntax (``"``, ``*``, ``OR``); OR lets a
    multi-word query still find entries that share only some of its words.
    """
    words = _WORD.findall(text)
    return " OR ".join(f'"{w}"*' for w in words)


def _row(row: tuple, match: str) -> dict[str, Any]:
    keys = ("id", "headword", "translation", "pos", "sense", "headword_lang", "translation_lang", "dictionary")
    out = dict(zip(keys, row))
    out["match"] = match
    return out


def stats(ws: Workspace) -> dict[str, Any]:
    """Counts for ``dict stats``: entries, headwords, per dictionary, per language, text coverage.

    ``coverage`` is the share of word types in the target-language training text that appear
    as a target-language headword or translation: how much of the community's text the
    dictionary can explain (tokenizer and trans-tokenization both lean on this).
    """
    db = ws.db
    entries, headwords = db.execute("select count(*), count(distinct headword) from entries").fetchone()
    dictionaries = [
        {"id": i, "name": name, "format": fmt, "direction": direction, "entries": n, "headwords": h,
         "licence": licence, "path": path}
        for i, name, fmt, direction, licence, path, n, h in db.execute(
            "select d.id, d.name, d.format, d.direction, d.licence, d.path, count(e.id), count(distinct e.headword) "
            "from dictionaries d left join entries e on e.dictionary_id = d.id group by d.id order by d.id"
        )
    ]
    by_lang = {f"{a}-{b}": n for a, b, n in db.execute(
        "select headword_lang, translation_lang, count(*) from entries group by 1, 2 order by 1, 2")}
    corpora = [
        {"id": i, "name": name, "kind": kind, "segments": n, "train": tr, "heldout": ho}
        for i, name, kind, n, tr, ho in db.execute(
            "select c.id, c.name, c.kind, count(s.id), sum(s.split = 'train'), sum(s.split = 'heldout') "
            "from corpora c left join segments s on s.corpus_id = c.id group by c.id order by c.id")
    ]
    result: dict[str, Any] = {
        "entries": entries,
        "headwords": headwords,
        "dictionaries": len(dictionaries),
        "segments": sum(c["segments"] for c in corpora),
    }
    cov = coverage(ws)
    if cov is not None:
        result["coverage"] = round(cov, 4)
    result["per_dictionary"] = dictionaries
    result["per_direction"] = by_lang
    result["per_corpus"] = corpora
    return result


def coverage(ws: Workspace, *, max_segments: int = 50_000) -> Optional[float]:
    """Token-weighted share of target training words found in the dictionary (None without text)."""
    target = ws.target_lang
    rows = ws.db.execute(
        "select target_text from segments where split = 'train' and target_text is not null limit ?",
        [max_segments]).fetchall()
    if not rows:
        return None
    counts: Counter[str] = Counter()
    for (text,) in rows:
        counts.update(w.lower() for w in _WORD.findall(text) if not w.isdigit())
    if not counts:
        return None
    known: set[str] = set()
    for (word,) in ws.db.execute(
        "select headword from entries where headword_lang = ? union select translation from entries "
        "where translation_lang = ?", [target, target]):
        known.update(w.lower() for w in _WORD.findall(word))
    total = sum(counts.values())
    return sum(n for w, n in counts.items() if w in known) / total
