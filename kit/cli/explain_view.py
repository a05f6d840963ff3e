"""What ``taalkit transtokenize explain WORD`` prints: both forms of a word, spaced first, each with
an example that really contains the word.

Why here and not in kit.transtok: the mapping stores one example row per (target, source) pair —
the first place the aligner saw them together, which for a word-internal piece (``cath`` inside
``cathod``) or a spaced one may be a segment where the word itself does not occur. Choosing an example
a reader can check is presentation, so it lives with the verb.
"""

from __future__ import annotations

import re
from typing import Optional

import click


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


def show(ws, mapping, token_id: int, top: int) -> None:
    exp = mapping.explain(token_id, top=top)
    text = exp.target_text
    where = "a word of its own (spaced)" if text.startswith(" ") else "inside a word"
    click.echo(f"target token {exp.target_id} {exp.target_piece!r} = {text!r} ({where}); row from {exp.decided_by}")
    if not exp.sources:
        click.echo("  (no source tokens: initialised with the source mean or at random)")
    for sw in exp.sources:
        counts = ", ".join(f"{k} {v:g}" for k, v in sw.counts.items())
        click.echo(f"  {sw.weight:6.3f}  {sw.source_text!r:<20} [{counts}]")
        for kind, row_id in sw.examples.items():
            click.echo(f"          {kind}: {example(ws, kind, row_id, text, sw.source_text)}")


def _contains(text: str, piece: str) -> bool:
    """Whether ``text`` holds the token's text: a spaced piece as a word start, else anywhere."""
    word = piece.strip()
    if not word:
        return False
    if piece.startswith(" "):
        return re.search(r"(?<!\w)" + re.escape(word), text, re.I) is not None
    return word.lower() in text.lower()


def example(ws, kind: str, row_id: int, target_text: str, source_text: str) -> str:
    """The stored example if it shows the target token's text, else one that does (and the source's)."""
    from .transtok_cmds import _example_text, _short

    word, src = target_text.strip(), source_text.strip()
    if kind == "parallel":
        r = ws.db.execute("select source_text, target_text from segments where id = ?", [row_id]).fetchone()
        if r and _contains(r[1], target_text):
            return _example_text(ws, kind, row_id)
        for sid, s, t in ws.db.execute(
                "select id, source_text, target_text from segments where kind = 'parallel' and target_text like ? "
                "and source_text like ? limit 200", [f"%{word}%", f"%{src}%"]):
            if _contains(t, target_text):
                return f"segment {sid}: {_short(s)!r} ⇄ {_short(t)!r}"
    elif kind == "dictionary":
        r = ws.db.execute("select headword, translation from entries where id = ?", [row_id]).fetchone()
        if r and (_contains(r[0], target_text) or _contains(r[1], target_text)):
            return _example_text(ws, kind, row_id)
        for eid, h, t in ws.db.execute("select id, headword, translation from entries where headword like ? "
                                       "or translation like ? limit 200", [f"%{word}%", f"%{word}%"]):
            if _contains(h, target_text) or _contains(t, target_text):
                return f"entry {eid}: {h} ⇄ {t}"
    return _example_text(ws, kind, row_id)


def explain(ws, mapping, token: str, top: int) -> Optional[list[int]]:
    """Print every form of ``token``; None when the vocabulary has none (the caller says how it splits)."""
    ids = forms(mapping, token)
    if not ids:
        return None
    for n, token_id in enumerate(ids):
        if n:
            click.echo("")
        show(ws, mapping, token_id, top)
    return ids
