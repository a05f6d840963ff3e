"""``taalkit corpus import``: parallel and monolingual text (kit.corpus)."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .common import ProgressPrinter, open_workspace, workspace_option


@main.group("corpus")
def corpus_group() -> None:
    """Import parallel and monolingual text."""


@corpus_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["parallel", "mono"]), default="parallel", show_default=True)
@click.option("--columns", default=None, metavar="N,M",
              help="1-based columns to take (like cut -f): source,target for parallel, one for mono. "
                   "Default 1,2 / whole line.")
@click.option("--heldout", "heldout_fraction", default=0.05, show_default=True, type=click.FloatRange(0, 0.99),
              help="Fraction kept aside for evaluation.")
@click.option("--seed", default=0, show_default=True, help="Seed of the train/held-out split.")
@click.option("--reverse", is_flag=True, help="The file is target<TAB>source.")
@click.option("--skip-bad", "skip_bad", type=click.Path(path_type=Path), default=None, metavar="REJECTS_FILE",
              help="Import the good lines; write rejected ones with reasons to REJECTS_FILE.")
@workspace_option
@click.pass_context
def corpus_import(ctx, workspace, files, kind, columns, heldout_fraction, seed, reverse, skip_bad) -> None:
    """Import text files (TSV pairs, plain lines, .po/.mo, TMX) with a seeded train/held-out split."""
    from ..corpus import import_corpus
    from ..dictionary.store import write_rejects
    from ..textio.transaction import transaction
    from ..errors import TaalkitError

    cols = None
    if columns:
        try:
            cols = tuple(int(c) - 1 for c in columns.split(","))
        except ValueError:
            raise TaalkitError(f"--columns takes numbers like 1,2, got {columns!r}") from None
    ws = open_workspace(ctx)
    rejects: list | None = [] if skip_bad is not None else None
    printer = ProgressPrinter()
    results = []
    all_rejects = []
    with transaction(ws.db):
        for f in files:
            file_rejects = [] if rejects is not None else None
            results.append(import_corpus(ws, f, kind, columns=cols, heldout_fraction=heldout_fraction, seed=seed,
                                         reverse=reverse, rejects=file_rejects, progress=printer))
            all_rejects.extend((str(f), r) for r in file_rejects or [])
        if skip_bad is not None:
            write_rejects(skip_bad, all_rejects)
    for r in results:
        note = " (already imported, unchanged)" if r.already_imported else ""
        extras = [f"{n} {what}" for what, n in (("duplicates dropped", r.duplicates), ("rejected", r.rejected)) if n]
        click.echo(f"{r.path}: {r.segments} {r.kind} segments ({r.train} train / {r.heldout} held-out)"
                   + (f"; {', '.join(extras)}" if extras else "") + note)
