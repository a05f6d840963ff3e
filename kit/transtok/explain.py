"""``taalkit transtokenize explain WORD``: which target tokens a word names, and for each source token
behind them an example a reader can check.

The mapping stores one example row per (target, source) pair: the first place the aligner saw them
together, which for a word-internal piece (``cath`` inside ``cathod``) or a spaced one may be a segment
where the word itself does not occur. :func:`example` keeps the stored row when it shows the word,
else finds one that does. The faces only print what these return.
"""

from __future__ import annotations

import re
from typing import Optional

from ..corpus import pairs_containing, segment_pair
from ..dictionary.pairs import entries_containing, entry_pair
from ..workspace import Workspace


def forms(mapping, token: str) -> list[int]:
    """Target token ids ``token`` names: a piece or an id as given; a plain word as ' word' (the spaced
    form, the one running text uses) and 'word' (inside a word), each where the vocabulary has it."""
    pieces = mapping.target_pieces
    if token in pieces and mapping.target_texts[pieces.index(token)] != token:
        return [pieces.index(token)]  # a piece as the tokenizer writes it ('Ġcath'): that one
    found = [mapping.target_texts.index(t) for t in (" " + token, token) if t in mapping.target_texts]
    if found:
        return found
    if token.isdigit() and int(token) < len(pieces):
        return [int(token)]
    return []


def contains(text: str, piece: str) -> bool:
    """Whether ``text`` holds the token's text: a spaced piece as a word start, else anywhere."""
    word = piece.strip()
    if not word:
        return False
    if piece.startswith(" "):
        return re.search(r"(?<!\w)" + re.escape(word), text, re.I) is not None
    return word.lower() in text.lower()


def stored_example(ws: Workspace, kind: str, row_id: int) -> Optional[tuple[str, str]]:
    """The two sides of an evidence row: a segment (``parallel``) or an entry (``dictionary``)."""
    if kind == "parallel":
        return segment_pair(ws, row_id)
    if kind == "dictionary":
        return entry_pair(ws, row_id)
    return None


def example(ws: Workspace, kind: str, row_id: int, target_text: str,
            source_text: str) -> tuple[int, Optional[tuple[str, str]]]:
    """``(row id, (left, right))``: the stored example if it shows the target token's text, else one
    that does (and the source's); the stored one when none is found (its sides None if it is gone)."""
    word, src = target_text.strip(), source_text.strip()
    stored = stored_example(ws, kind, row_id)
    if kind == "parallel":
        if stored and contains(stored[1], target_text):
            return row_id, stored
        for sid, s, t in pairs_containing(ws, word, src):
            if contains(t, target_text):
                return sid, (s, t)
    elif kind == "dictionary":
        if stored and (contains(stored[0], target_text) or contains(stored[1], target_text)):
            return row_id, stored
        for eid, h, t in entries_containing(ws, word):
            if contains(h, target_text) or contains(t, target_text):
                return eid, (h, t)
    return row_id, stored


def word_pieces(ws: Workspace, method: str, word: str) -> list[str]:
    """How the target tokenizer of ``transtok-<method>`` splits `` word`` (a word of its own)."""
    from ..models.loading import load_tokenizer

    row = ws.model_named(f"transtok-{method}")
    folder = ws.model_dir(row) if row else ws.models_dir / f"transtok-{method}"
    return load_tokenizer(folder).tokenize(" " + word.strip())


def mapping_stats(ws: Workspace) -> dict:
    """The statistics of the newest trans-tokenization (coverage per evidence, fallbacks, times, bits/char)."""
    import json

    row = ws.db.execute("select stats from mappings order by created_at desc, id desc limit 1").fetchone()
    return json.loads(row[0]) if row and row[0] else {}
