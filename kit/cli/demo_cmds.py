"""``taalkit demo``: the whole journey on the shipped data (kit.demo)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from . import main
from .common import ProgressPrinter, _store_workspace


def _explicit_workspace(ctx: click.Context):
    """The ``-w`` given before or after the verb, or None (the demo then uses ./demo-workspace)."""
    while ctx is not None:
        if ctx.obj and ctx.obj.get("workspace"):
            return Path(ctx.obj["workspace"])
        ctx = ctx.parent
    return None


@main.command("demo")
@click.option("--lang", type=click.Choice(["cy", "fy", "af"]), default="cy", show_default=True,
              help="Which shipped language to adapt SmolLM2 to.")
@click.option("--minutes", type=float, default=8.0, show_default=True, help="Fine-tuning budget.")
@click.option("--steps", type=int, default=None, help="Fine-tune exactly this many steps instead.")
@click.option("--eval-lines", "eval_lines", type=int, default=40, show_default=True,
              help="Held-out test lines to score.")
@click.option("-w", "--workspace", type=click.Path(path_type=Path), default=None, is_eager=True,
              callback=_store_workspace, help="Workspace folder (default: ./demo-workspace).")
@click.pass_context
def demo_cmd(ctx: click.Context, lang: str, minutes: float, steps, eval_lines: int, workspace) -> None:
    """Run the whole pipeline on the shipped data (default workspace: ./demo-workspace).

    Running it again reuses every finished step and resumes an interrupted fine-tuning run.
    """
    from ..demo import DemoSettings, default_demo_workspace, format_summary, run_demo
    from ..errors import Cancelled
    from ..progress import CancelToken

    ws_path = _explicit_workspace(ctx) or default_demo_workspace()
    click.echo(f"demo: en→{lang} in {ws_path}", err=True)
    settings = DemoSettings(budget_minutes=minutes, finetune_steps=steps, eval_limit=eval_lines)
    cancel = CancelToken()

    def on_sigint(_signum, _frame):
        if cancel.cancelled:  # a second Ctrl-C: stop now; finished steps are kept anyway
            raise KeyboardInterrupt
        cancel.cancel()
        click.echo("\nstopping at the next safe point (Ctrl-C again to stop at once)…", err=True)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        summary = run_demo(ws_path, lang=lang, settings=settings, progress=ProgressPrinter(), cancel=cancel)
    except Cancelled:
        click.echo("demo stopped; run the same command again to continue where it stopped", err=True)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, previous)
    click.echo(format_summary(summary))
