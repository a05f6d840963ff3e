"""What ``taalkit transtokenize explain WORD`` prints: both forms of a word, spaced first, each with
an example that really contains the word (chosen by :mod:`kit.transtok.explain`).
"""

from __future__ import annotations

from typing import Optional

import click


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


def example(ws, kind: str, row_id: int, target_text: str, source_text: str) -> str:
    """One example line: the stored row if it shows the target token's text, else one that does."""
    from ..transtok.explain import example as find

    found_id, pair = find(ws, kind, row_id, target_text, source_text)
    return example_line(kind, found_id, pair)


def example_line(kind: str, row_id: int, pair) -> str:
    if kind == "dictionary":
        return f"entry {row_id}: {pair[0]} ⇄ {pair[1]}" if pair else f"entry {row_id}"
    if kind == "parallel":
        return f"segment {row_id}: {_short(pair[0])!r} ⇄ {_short(pair[1])!r}" if pair else f"segment {row_id}"
    return f"row {row_id}"


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def explain(ws, mapping, token: str, top: int) -> Optional[list[int]]:
    """Print every form of ``token``; None when the vocabulary has none (the caller says how it splits)."""
    from ..transtok.explain import forms

    ids = forms(mapping, token)
    if not ids:
        return None
    for n, token_id in enumerate(ids):
        if n:
            click.echo("")
        show(ws, mapping, token_id, top)
    return ids
