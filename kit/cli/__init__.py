"""``taalkit <verb>``: the scriptable twin of the TUI.

Thin by design: each verb parses options, opens the workspace and calls one
stage function in ``kit``. Verb groups live one module each beside this file
and import their heavy libraries (torch, transformers, llama_cpp) inside the
command, so ``taalkit --help`` and the runtime verbs start fast and work
without torch installed.
"""

from __future__ import annotations

import sqlite3
import os
import sys

# Hugging Face's own progress bars ("Loading weights", "Writing model shards") would interleave with
# the kit's progress lines; every stage reports its own progress, so theirs are off for the CLI.
# Set before transformers is imported (it reads this once, through huggingface_hub).
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
from pathlib import Path

import click

from .. import __version__
from ..errors import TaalkitError
from .common import events_option, workspace_option, workspace_option_after_verb


class TaalkitGroup(click.Group):
    """Turns a :class:`TaalkitError` into one line on stderr and exit code 2, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TaalkitError as err:
            if (ctx.obj or {}).get("events"):  # the app's child process: the error's kind travels too
                from ..progress import error_to_json_line

                click.echo(error_to_json_line(err))
            from .next_steps import say

            click.secho(f"error: {say(err)}", fg="red", err=True)
            ctx.exit(err.exit_code)
        except sqlite3.Error as err:  # a busy, read-only or damaged workspace: one line from kit.db
            from ..db import user_message

            if user_message(err) is None:
                raise
            click.secho(f"error: {user_message(err)}", fg="red", err=True)
            ctx.exit(2)

    def list_commands(self, ctx):
        # Pipeline order, not alphabetical: the help text reads like the journey.
        return list(self.commands)


@click.group(cls=TaalkitGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@workspace_option
@events_option
@click.version_option(__version__, prog_name="taalkit")
@click.pass_context
def main(ctx: click.Context, workspace) -> None:
    """taalkit: adapt a small LLM to your language, offline, then chat and translate with it.

    Run without a verb to open the app.
    """
    if ctx.invoked_subcommand is None:
        from tui.app import run_app

        run_app(workspace=workspace)


@main.command("init")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--source", "-s", default="en", show_default=True, help="Language code of the model's language.")
@click.option("--target", "-t", required=True, help="Language code of your language, e.g. cy.")
@click.option("--name", help="A display name (default: the folder name).")
def init_cmd(path: Path, source: str, target: str, name) -> None:
    """Create a workspace for one language adaptation."""
    from ..workspace import Workspace

    ws = Workspace.init(path, source=source, target=target, name=name)
    click.echo(f"workspace {ws.root} ready ({ws.source_lang}→{ws.target_lang})")


@main.command("status")
@workspace_option_after_verb
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """Show where the workspace stands in the pipeline."""
    from .common import open_workspace

    ws = open_workspace(ctx)
    click.echo(f"{ws.name}: {ws.source_lang}→{ws.target_lang} at {ws.root}")
    for step, done in ws.checklist().items():
        click.echo(f"  [{'x' if done else ' '}] {step}")
    current = ws.current_model()
    if current is None:
        click.echo("current model: none yet ('taalkit model add default')")
    else:
        export = ws.current_export()
        click.echo(f"current model: {current['name']} ({ws.current_model_choice()})"
                   + (f"; exported as {ws.relative(export['file'])}" if export else "; not exported yet"))


def _register() -> None:
    # Each module adds its verbs to ``main``; order = pipeline order in --help.
    # One module per verb group of kit: dict (kit.dictionary), corpus (kit.corpus), model (kit.models),
    # tokenizer (kit.tokenizer), use (kit.workspace), transtokenize, finetune, export (kit.gguf),
    # chat/translate/eval (kit.infer, kit.evaluate), demo (kit.demo), bundle/open/keygen (kit.bundle).
    from . import (dict_cmds, corpus_cmds, model_cmds, tokenizer_cmds, current, transtok_cmds,  # noqa: F401
                   finetune_cmds, export_cmds, infer_cmds, demo_cmds, bundle_cmds)


_register()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
