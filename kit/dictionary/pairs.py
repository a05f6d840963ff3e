"""What later stages read from the dictionary: translation pairs and the words of one language.

``kit.transtok`` aligns the pairs, ``kit.finetune`` shows them as short translation examples, and
``kit.tokenizer`` learns the target language's words; all three read the ``entries`` table here.
"""

from __future__ import annotations

from typing import Optional

from ..workspace import Workspace


def translation_pairs(ws: Workspace) -> list[tuple[int, str, str]]:
    """``(entry id, source text, target text)`` for entries between the workspace's two languages,
    in the source⇄target direction whichever way the entry was written, each pair once."""
    src, tgt = ws.source_lang, ws.target_lang
    rows = ws.db.execute(
        "select id, headword, translation, headword_lang, translation_lang from entries "
        "where (headword_lang = ? and translation_lang = ?) or (headword_lang = ? and translation_lang = ?) "
        "order by id", [tgt, src, src, tgt]).fetchall()
    seen, out = set(), []
    for rid, head, trans, hl, _tl in rows:
        s, t = (trans, head) if hl == tgt else (head, trans)
        s, t = (s or "").strip(), (t or "").strip()
        if s and t and (s, t) not in seen:
            seen.add((s, t))
            out.append((rid, s, t))
    return out


def words_in(ws: Workspace, lang: str) -> list[str]:
    """The dictionary's words in ``lang`` (headwords of entries from it, translations of entries into
    it), each distinct word once, in entry order."""
    seen: set[str] = set()
    words: list[str] = []
    rows = ws.db.execute(
        "select headword, id from entries where headword_lang = ? "
        "union all select translation, id from entries where translation_lang = ? order by 2", [lang, lang])
    for (word, _id) in rows:
        if word and word not in seen:
            seen.add(word)
            words.append(word)
    return words


def has_entries(ws: Workspace) -> bool:
    """Whether the workspace holds any dictionary entry."""
    return bool(ws.db.execute("select 1 from entries limit 1").fetchone())


def entry_pair(ws: Workspace, entry_id: int) -> Optional[tuple[str, str]]:
    """``(headword, translation)`` of one entry, or None."""
    row = ws.db.execute("select headword, translation from entries where id = ?", [entry_id]).fetchone()
    return (row[0], row[1]) if row else None


def entries_containing(ws: Workspace, word: str, limit: int = 200) -> list[tuple[int, str, str]]:
    """``(entry id, headword, translation)`` of entries with ``word`` in either side, at most ``limit``."""
    return [(i, h, t) for i, h, t in ws.db.execute(
        "select id, headword, translation from entries where headword like ? or translation like ? limit ?",
        [f"%{word}%", f"%{word}%", limit])]
