"""``taalkit dict import|search|stats``: the bilingual dictionary (kit.dictionary)."""

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
