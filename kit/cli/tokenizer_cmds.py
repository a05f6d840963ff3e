"""``taalkit tokenizer train|stats``: the target-language tokenizer (kit.tokenizer)."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .common import ProgressPrinter, open_workspace, print_table, workspace_option_after_verb


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
    print_table(table)
