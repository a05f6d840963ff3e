"""``taalkit finetune``: brief fine-tuning with a progress bar; Ctrl-C stops cleanly and can be resumed.

``--processes N`` starts ``accelerate launch`` with N ranks running this same command (as workers),
and waits for it. Why the parent stays: a user's mistake found by a worker (memory, a missing run)
must still be one line and exit 2, not a launcher's stack of ChildFailedError reports, so rank 0
writes how the run ended into a status file the parent reads; and Ctrl-C reaches the parent only
(the launcher runs in its own session), which asks rank 0 to checkpoint and stop through a file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
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
@click.option("--processes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Data-parallel processes (accelerate; gloo on CPU, one GPU each with nccl). "
                   "--batch-size stays the global batch.")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True,
              help="Forward passes in bf16 where the device supports it (auto: CUDA since Ampere), or force one.")
@click.option("--fsdp", is_flag=True, help="Shard weights, gradients and optimizer state over the processes "
                                           "(FSDP2), for models that do not fit one device.")
@workspace_option
@click.pass_context
def finetune_cmd(ctx: click.Context, minutes, steps, stage, device, resume, model_name, batch_size, seq_len,
                 lr, eval_every, checkpoint_every, seed, processes, precision, fsdp, workspace) -> None:
    """Fine-tune the newest model on the workspace's text (resumable; Ctrl-C stops after a step)."""
    from ..errors import Cancelled, TaalkitError
    from ..finetune import distributed as dist
    from ..finetune import finetune
    from ..progress import CancelToken

    ws = open_workspace(ctx)
    if dist.world_size() <= 1 and processes > 1:
        forwarded = _forwarded_options(minutes=minutes, steps=steps, stage=stage, device=device, resume=resume,
                                       model=model_name, batch_size=batch_size, seq_len=seq_len, lr=lr,
                                       eval_every=eval_every, checkpoint_every=checkpoint_every, seed=seed,
                                       fsdp=fsdp, precision=None if precision == "auto" else precision)
        sys.exit(_launch(ws, processes, device, forwarded))
    if dist.world_size() > 1:
        sys.exit(_worker(ws, dict(model=model_name, minutes=minutes, steps=steps, stage=stage, device=device,
                                  resume=resume, batch_size=batch_size, seq_len=seq_len, lr=lr,
                                  eval_every=eval_every, checkpoint_every=checkpoint_every, seed=seed,
                                  fsdp=fsdp, precision=precision)))
    if fsdp:
        raise TaalkitError("--fsdp shards the model over several processes; add --processes N (N ≥ 2)")
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
                       checkpoint_every=checkpoint_every, seed=seed, progress=on_progress, cancel=cancel,
                       precision=precision)
    except Cancelled as err:
        click.echo(f"{err}", err=True)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, previous)
    _summary(ws, row)


def _summary(ws, row) -> None:
    extra = json.loads(row["extra"])
    click.echo(f"held-out bits per char: step 0 {extra['bpc_start']:.4f} -> step {extra['steps']} "
               f"{extra['bpc_end']:.4f}")
    rate = extra.get("tokens_per_s")
    click.echo(f"trained {extra['train_tokens']} tokens in {extra['train_seconds']:.0f} s"
               + (f" ({rate:.0f} tokens/s)" if rate else ""))
    click.echo(f"saved {row['name']} at {ws.model_dir(row)}")


def _forwarded_options(**options) -> list[str]:
    """The options a worker needs, as command-line words (defaults left out)."""
    out: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        out += [flag] if value is True else [flag, str(value)]
    return out


def _launch(ws, processes: int, device: str, forwarded: list[str]) -> int:
    """Run ``accelerate launch`` with ``processes`` ranks of this command; return the exit code."""
    import tempfile
    from pathlib import Path

    from ..finetune import distributed as dist
    from ..finetune.loop import threads_per_rank

    dist.require_accelerate()
    import torch

    on_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if on_cuda:
        dist.require_cuda_devices(processes)
    folder = Path(tempfile.mkdtemp(prefix="taalkit-ranks-"))
    status, cancel_file = folder / "status.json", folder / "cancel"
    env = {**os.environ, dist.ENV_STATUS: str(status), dist.ENV_CANCEL: str(cancel_file),
           "PYTHONUNBUFFERED": "1"}
    if not on_cuda:
        env["CUDA_VISIBLE_DEVICES"] = ""
        env.setdefault("OMP_NUM_THREADS", str(threads_per_rank(processes)))
    cmd = dist.launch_command(processes, ["-w", str(ws.root), "finetune", *forwarded], port=dist.free_port())
    ws.close()  # rank 0 writes the workspace; this process only waits
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)

    def on_sigint(_signum, _frame):
        if cancel_file.exists():  # a second Ctrl-C: stop every rank now; the last checkpoint resumes
            os.killpg(proc.pid, signal.SIGTERM)
            return
        cancel_file.touch()
        click.echo("\nstopping after this step (Ctrl-C again to stop at once)…", err=True)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        code = proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        ended = json.loads(status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        ended = None
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    if ended is None:
        click.echo(f"error: a fine-tuning process died (launcher exit {code}); the newest checkpoint is "
                   f"intact: continue with 'taalkit finetune --resume --processes {processes}'", err=True)
        return 1
    if ended.get("message"):
        prefix = "" if ended["exit"] == 130 else "error: "
        click.echo(prefix + ended["message"], err=True)
    return int(ended["exit"])


def _worker(ws, options: dict) -> int:
    """One rank under a launcher: rank 0 prints and reports; the others only train."""
    from ..errors import Cancelled, TaalkitError
    from ..finetune import distributed as dist
    from ..finetune import finetune
    from ..progress import CancelToken

    parent = dist.launched_by_parent()
    rank0 = os.environ.get("RANK", "0") == "0"
    cancel = CancelToken()
    if parent or not rank0:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # rank 0 hears of Ctrl-C through the cancel file
    else:
        signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    printer = ProgressPrinter() if rank0 else None

    def on_progress(event):
        if event.done == 0 and "bpc" in event.metrics:
            click.echo(f"held-out bits per char at step 0: {event.metrics['bpc']:.4f}", err=True)
            return
        printer(event)

    try:
        row = finetune(ws, progress=on_progress if rank0 else None, cancel=cancel, **options)
    except Cancelled as err:
        return _ended(parent, rank0, 130, str(err))
    except TaalkitError as err:
        return _ended(parent, rank0, err.exit_code, str(err))
    if row is not None:
        _summary(ws, row)
    return _ended(parent, rank0, 0, "")


def _ended(parent: bool, rank0: bool, code: int, message: str) -> int:
    """Report how this rank ended: through the parent's status file, or as a plain CLI would."""
    from ..finetune import distributed as dist

    if parent:
        if rank0:
            dist.write_status({"exit": code, "message": message})
        return 0  # the parent says it; a non-zero exit would only make the launcher print its report
    if rank0 and message:
        click.echo(message if code == 130 else f"error: {message}", err=True)
    return code
