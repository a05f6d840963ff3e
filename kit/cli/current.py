"""``taalkit use NAME`` and the one line every model verb starts with: which model, and why that one.

The workspace has one *current* model (``kit.workspace.Workspace.current_model``); the verbs say
out loud which model or GGUF they load, so nothing "newest" shifts under the user unseen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from . import main
from .common import open_workspace, workspace_option_after_verb


def say(text: str) -> None:
    click.secho(text, dim=True, err=True)


def announce_model(ws, row: Optional[dict], *, chosen: bool = False) -> None:
    """``model NAME (current: why)`` or ``model NAME (--model; the current one is X)``."""
    if row is None:
        return
    current = ws.current_model()
    if not chosen or (current is not None and current["id"] == row["id"]):
        why = ws.current_model_choice() if current is not None and current["id"] == row["id"] else "--model"
        say(f"model {row['name']} (current: {why})")
    else:
        say(f"model {row['name']} (--model; the current model is "
            f"{current['name'] if current else 'none'})")


def runtime_gguf(ws, model: Optional[Path]) -> Path:
    """The GGUF chat/translate load: --model, else the current model's newest export, else the
    embedded SmolLM2, always said in one line."""
    from ..infer.default_model import default_model_gguf, resolve_model

    if model is not None:
        path = resolve_model(ws, model)
        current = ws.current_model() if ws is not None else None
        say(f"model {path.name} (--model" + (f"; the current model is {current['name']})" if current else ")"))
        return path
    export = ws.current_export() if ws is not None else None
    if export is not None:
        path = resolve_model(ws, None)
        say(f"model {ws.current_model()['name']} as {ws.relative(path)} "
            f"(current: {ws.current_model_choice()})")
        return path
    path = default_model_gguf()
    current = ws.current_model() if ws is not None else None
    why = (f"the current model {current['name']} has no GGUF export yet ('taalkit export')" if current
           else "no model in this workspace yet")
    click.secho(f"note: {why}; using the unadapted {embedded_name(path)}", fg="yellow", err=True)
    return path


def embedded_name(path: Path) -> str:
    """What the embedded GGUF is, in words: SmolLM2-135M-Instruct, its quantization, where it lives."""
    return f"SmolLM2-135M-Instruct ({_quant(path)}, embedded in taalkit: {path.name})"


def _quant(path: Path) -> str:
    try:
        from ..formats.gguf_header import gguf_file_type

        return gguf_file_type(path)
    except Exception:  # a header the reader does not know: the name still says enough
        return "GGUF"


@main.command("use")
@click.argument("name", required=False)
@workspace_option_after_verb
@click.pass_context
def use_cmd(ctx: click.Context, name: Optional[str]) -> None:
    """Make model NAME the current one: what finetune, export, eval, translate and chat work on.

    Without NAME, show the current model and the others. Baselines (transtokenize --method fvt,
    mean, random) and models made from them become current only this way.
    """
    ws = open_workspace(ctx)
    if name:
        row = ws.use_model(name)
        note = " (a baseline: chosen on purpose)" if ws.is_baseline(row) else ""
        click.echo(f"current model: {row['name']}{note}")
        return
    current = ws.current_model()
    click.echo(f"current model: {current['name']} ({ws.current_model_choice()})" if current
               else "no model yet; add one with 'taalkit model add default'")
    for r in ws.models():
        mark = "*" if current and r["id"] == current["id"] else " "
        kind = "baseline" if ws.is_baseline(r) else r["role"]
        export = ws.latest_export(r)
        click.echo(f" {mark} {r['name']:<24} {kind:<10} " + (ws.relative(export["file"]) if export else "(not exported)"))
