"""``taalkit dict import|search|stats`` and ``taalkit corpus import``: bring words and text in."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import main
from .common import ProgressPrinter, open_workspace, workspace_option


@main.group("dict")
def dict_group() -> None:
    """Import dictionaries and look words up."""


def _format_choices():
    from ..dictionary.detect import FORMATS

    return list(FORMATS)


@dict_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(_format_choices()), default=None,
              help="Override format detection.")
@click.option("--reverse", is_flag=True,
              help="Store the dictionary the other way round: headwords from the second column, each side "
                   "keeping its language.")
@click.option("--from", "from_lang", default=None, metavar="LANG",
              help="Language of the source (first) column, e.g. cy; with --to, instead of the header, the file "
                   "name or the content.")
@click.option("--to", "to_lang", default=None, metavar="LANG", help="Language of the target (second) column.")
@click.option("--replace", is_flag=True,
              help="A file imported before with another mapping (columns, languages): replace that import.")
@click.option("--skip-bad", "skip_bad", type=click.Path(path_type=Path), default=None, metavar="REJECTS_FILE",
              help="Import the good rows; write rejected ones with reasons to REJECTS_FILE.")
@click.option("--kind", type=click.Choice(["dictionary", "parallel", "mono"]), default=None,
              help="Store a TSV as parallel segments (or mono text) instead of dictionary entries.")
@click.option("--columns", default=None, metavar="ROLES",
              help="Column roles of a TSV/CSV, e.g. source,target,pos (default) or source,target,origin; "
                   "'-' skips a column.")
@workspace_option
@click.pass_context
def dict_import(ctx, workspace, files, fmt, reverse, from_lang, to_lang, replace, skip_bad, kind,
                columns) -> None:
    """Import dictionary files (dictd, TEI, TSV/CSV, Apertium, .po/.mo, TMX) in one transaction.

    A TSV/CSV's languages come from --from/--to, else its header row (en<TAB>cy), else its file name
    (cy-en.tsv), else its content compared with the workspace's text in each language; each file's
    line says which and why.
    """
    import sys

    from ..dictionary.store import MappingChanged, import_files
    from ..errors import TaalkitError

    if (from_lang is None) != (to_lang is None):
        raise TaalkitError("give both --from LANG and --to LANG (the languages of the two columns)")
    langs = (from_lang, to_lang) if from_lang else None
    ws = open_workspace(ctx)

    def run(replace_old: bool):
        return import_files(ws, list(files), format=fmt, reverse=reverse, kind=kind, columns=columns,
                            rejects_path=skip_bad, langs=langs, replace=replace_old, progress=ProgressPrinter())

    try:
        results = run(replace)
    except MappingChanged as err:  # nothing was written: the import is one transaction
        if not sys.stdin.isatty():
            raise
        click.echo(str(err).rsplit(". Pass --replace", 1)[0] + ".", err=True)
        if not click.confirm("Replace the earlier import?", default=False, err=True):
            raise TaalkitError("nothing imported (the earlier import is kept)") from None
        results = run(True)
    for r in results:
        unit = "entries" if r.kind == "dictionary" else f"{r.kind} segments"
        note = " (already imported, unchanged)" if r.already_imported else ""
        extras = [f"{n} {what}" for what, n in (("duplicates dropped", r.duplicates), ("rejected", r.rejected)) if n]
        shown = f" {r.headword_lang}→{r.translation_lang}" if r.headword_lang else ""
        if r.replaced:
            note += f" (replaced the earlier import #{', #'.join(map(str, r.replaced))})"
        click.echo(f"{r.path}: {r.count} {unit}{shown} [{r.format}]" + (f"; {', '.join(extras)}" if extras else "")
                   + note)
        if r.kind == "dictionary" and r.direction_from:
            how = "from " + r.direction_from if not r.direction_from.startswith("assumed") else r.direction_from
            click.echo(f"  direction {r.headword_lang}→{r.translation_lang}"
                       + (" (after --reverse)" if reverse else "") + f": {how}")
    if skip_bad is not None:
        rejected = sum(r.rejected for r in results)
        click.echo(f"{rejected} rejected row(s) written to {skip_bad}")


@dict_group.command("search")
@click.argument("word")
@click.option("--limit", default=30, show_default=True)
@click.option("--lang", default=None, help="Only entries with this language on either side.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows.")
@workspace_option
@click.pass_context
def dict_search(ctx, workspace, word, limit, lang, as_json) -> None:
    """Look a word up in both directions (exact, prefix, then full text)."""
    from ..dictionary.search import search

    rows = search(open_workspace(ctx), word, limit=limit, lang=lang)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo(f"no entries for {word!r}")
        ctx.exit(1)
    for r in rows:
        pos = f" <{r['pos']}>" if r["pos"] else ""
        sense = f" {r['sense']}." if r["sense"] else ""
        click.echo(f"{r['headword']}{pos} ({r['headword_lang']}) →{sense} {r['translation']} ({r['translation_lang']})")


@dict_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
@workspace_option
@click.pass_context
def dict_stats(ctx, workspace, as_json) -> None:
    """Entries, headwords, per dictionary and direction, and coverage of the training text."""
    from ..dictionary.search import stats

    s = stats(open_workspace(ctx))
    if as_json:
        click.echo(json.dumps(s, ensure_ascii=False, indent=1))
        return
    click.echo(f"entries: {s['entries']}   headwords: {s['headwords']}   dictionaries: {s['dictionaries']}   "
               f"segments: {s['segments']}")
    if "coverage" in s:
        click.echo(f"coverage of training text by the dictionary: {s['coverage'] * 100:.1f}% of words")
    for d in s["per_dictionary"]:
        click.echo(f"  #{d['id']} {d['direction']:<7} {d['entries']:>7} entries {d['headwords']:>7} headwords  "
                   f"[{d['format']}] {d['name']} ({d['licence'] or 'licence unknown'})")
    for c in s["per_corpus"]:
        click.echo(f"  text #{c['id']} {c['kind']:<8} {c['segments']:>7} segments "
                   f"({c['train'] or 0} train / {c['heldout'] or 0} held-out) {c['name']}")


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
