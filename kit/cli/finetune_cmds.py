"""``taalkit finetune``: brief fine-tuning with a progress bar; Ctrl-C stops cleanly and can be resumed."""

from __future__ import annotations

import json
import signal
import sys

import click

from . import main
from .common import ProgressPrinter, open_workspace, workspace_option


@main.command("finetune")
@click.option("--minutes", type=float, default=None, help="Time budget (default 5 minutes).")
@click.option("--steps", type=int, default=None, help="Step budget instead of a time budget.")
@click.option("--stage", type=click.Choice(["auto", "embeddings", "lora", "full"]), default="auto",
              show_default=True, help="What to train: embeddings (+head), LoRA adapters, or everything.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--resume", is_flag=True, help="Continue the last unfinished run from its newest checkpoint.")
@click.option("--model", "model_name", default=None, help="Model name or id from 'taalkit model list' (default: the newest trans-tokenized, else source).")
@click.option("--batch-size", type=int, default=None, help="Blocks per step (default 4 on CPU, 16 on GPU).")
@click.option("--seq-len", type=int, default=None, help="Tokens per block (default 128 on CPU, 512 on GPU).")
@click.option("--lr", type=float, default=None, help="Peak learning rate (default depends on the stage).")
@click.option("--eval-every", type=int, default=None, help="Measure held-out bits per char every N steps.")
@click.option("--checkpoint-every", type=int, default=None, help="Write a checkpoint every N steps.")
@click.option("--seed", type=int, default=0, show_default=True)
@workspace_option
@click.pass_context
def finetune_cmd(ctx: click.Context, minutes, steps, stage, device, resume, model_name, batch_size, seq_len,
                 lr, eval_every, checkpoint_every, seed, workspace) -> None:
    """Fine-tune the newest model on the workspace's text (resumable; Ctrl-C stops after a step)."""
    from ..errors import Cancelled
    from ..finetune import finetune
    from ..progress import CancelToken

    ws = open_workspace(ctx)
    cancel = CancelToken()
    printer = ProgressPrinter()
    first_bpc: list[float] = []

    def on_progress(event):
        if event.done == 0 and "bpc" in event.metrics:
            first_bpc.append(event.metrics["bpc"])
            click.echo(f"held-out bits per char at step 0: {event.metrics['bpc']:.4f}", err=True)
            return
        printer(event)

    def on_sigint(_signum, _frame):
        if cancel.cancelled:  # a second Ctrl-C: stop now, the last checkpoint still resumes
            raise KeyboardInterrupt
        cancel.cancel()
        click.echo("\nstopping after this step (Ctrl-C again to stop at once)…", err=True)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        row = finetune(ws, model=model_name, minutes=minutes, steps=steps, stage=stage, device=device,
                       resume=resume, batch_size=batch_size, seq_len=seq_len, lr=lr, eval_every=eval_every,
                       checkpoint_every=checkpoint_every, seed=seed, progress=on_progress, cancel=cancel)
    except Cancelled as err:
        click.echo(f"{err}", err=True)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, previous)
    extra = json.loads(row["extra"])
    click.echo(f"held-out bits per char: step 0 {extra['bpc_start']:.4f} -> step {extra['steps']} "
               f"{extra['bpc_end']:.4f}")
    rate = extra.get("tokens_per_s")
    click.echo(f"trained {extra['train_tokens']} tokens in {extra['train_seconds']:.0f} s"
               + (f" ({rate:.0f} tokens/s)" if rate else ""))
    click.echo(f"saved {row['name']} at {ws.model_dir(row)}")
