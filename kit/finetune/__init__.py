"""Brief fine-tuning after trans-tokenization: ``finetune(ws, ...)`` → a ``models`` row (role finetuned).

Modules, one job each: ``data`` (what the model reads: packed target text and translation
instructions; the held-out split kept apart), ``plan`` (device, stage, will it fit), ``checkpoint``
(all state, atomic, no pickle), ``loop`` (the steps). This file ties them to the workspace's
``runs``/``run_metrics``/``models`` tables.
"""

from __future__ import annotations

import json
import os
from typing import Optional, Union

from ..errors import Cancelled, TaalkitError, WorkspaceError
from ..progress import CancelToken, ProgressCallback

__all__ = ["finetune", "latest_unfinished_run"]

OWNER_FILE = "owner.pid"


def finetune(ws, *, model: Union[None, str, int, dict] = None, minutes: Optional[float] = None,
             steps: Optional[int] = None, stage: str = "auto", device: str = "auto", resume: bool = False,
             batch_size: Optional[int] = None, seq_len: Optional[int] = None, lr: Optional[float] = None,
             eval_every: Optional[int] = None, seed: int = 0, checkpoint_every: Optional[int] = None,
             progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
             fsdp: bool = False, precision: str = "auto") -> Optional[dict]:
    """Fine-tune the workspace's newest model (or ``model``) on its text; return the new ``models`` row.

    Budget: ``steps`` or ``minutes`` (default 5 minutes). ``resume=True`` continues the newest
    unfinished run from its newest checkpoint with that run's own settings (other arguments are
    ignored). Cancelling (``cancel.cancel()``, Ctrl-C in the CLI) checkpoints after the current step
    and raises :class:`kit.errors.Cancelled`. The returned row's ``extra`` JSON holds the run id and
    held-out bits per character at step 0 and at the end.

    Under a launcher (``taalkit finetune --processes N``, ``accelerate launch``) every rank calls
    this: rank 0 starts or picks the run and writes everything, the others train their share of
    each batch and return None (see :mod:`kit.finetune.distributed`). ``fsdp`` shards the model.
    ``precision``: forward passes in bf16 where the device supports it (``auto``), or ``bf16``/``fp32``.
    """
    from . import distributed as dist
    from .plan import require_device

    if minutes is not None and steps is not None:
        raise WorkspaceError("give either --minutes or --steps, not both")
    group = dist.current(require_device(device, "fine-tuning") if dist.world_size() > 1 else device, fsdp=fsdp)
    try:
        row = _finetune(ws, group, model=model, minutes=minutes, steps=steps, stage=stage, device=device,
                        resume=resume, batch_size=batch_size, seq_len=seq_len, lr=lr, eval_every=eval_every,
                        seed=seed, checkpoint_every=checkpoint_every, progress=progress, cancel=cancel,
                        precision=precision)
    except BaseException as err:
        # Every rank raised it at the same point (a stop rank 0 decided, a refusal it shared): leave
        # together. Anything else may have hit one rank only; a barrier could then wait forever.
        group.close(together=isinstance(err, Cancelled) or getattr(err, "all_ranks", False))
        raise
    group.close(together=True)
    return row


def _finetune(ws, group, *, model, minutes, steps, stage, device, resume, batch_size, seq_len, lr,
              eval_every, seed, checkpoint_every, progress, cancel, precision) -> Optional[dict]:
    from . import checkpoint as ckpt_io
    from .loop import FinetuneConfig, FinetuneRun, run_row_summary, set_threads
    from ..workspace import now

    checkpoint = None
    if group.is_main:
        try:
            run_id, config, checkpoint = _start_or_resume(
                ws, group, model=model, minutes=minutes, steps=steps, stage=stage, device=device,
                resume=resume, batch_size=batch_size, seq_len=seq_len, lr=lr, eval_every=eval_every,
                seed=seed, checkpoint_every=checkpoint_every, precision=precision)
        except TaalkitError as err:
            group.share({"error": str(err)})
            err.all_ranks = True
            raise
        group.share({"run_id": run_id, "config": config.as_dict(),
                     "checkpoint": str(checkpoint.path) if checkpoint else None})
    else:
        told = group.share(None)
        if "error" in told:
            err = TaalkitError(told["error"])
            err.all_ranks = True
            raise err
        run_id, config = told["run_id"], FinetuneConfig.from_dict(told["config"])
        # The very folder rank 0 resumes from (a shared filesystem, as on one machine).
        checkpoint = ckpt_io.load_checkpoint(told["checkpoint"]) if told["checkpoint"] else None
    if group.world > 1:  # every rank checks its own memory (its own GPU, or its share of the RAM)
        try:
            group.all_ok(_rank_memory_problem(ws, config, group))
        except TaalkitError as err:
            err.all_ranks = True
            raise

    previous_threads = set_threads(config.device, group.local_world)
    run = FinetuneRun(ws, config, run_id, progress=progress, cancel=cancel, group=group)
    try:
        run.load(checkpoint)
        run.run()
        saved = run.save_model()  # every rank: under FSDP the last evaluation and the gather need all
        if not group.is_main:
            return None
        folder, bpc_end = saved
    except Cancelled:
        if group.is_main:
            ws.db["runs"].update(run_id, {"status": "stopped", "step": run.step})
        raise
    except BaseException:
        if group.is_main:
            ws.db["runs"].update(run_id, {"status": "failed", "step": run.step})
        raise
    finally:
        if previous_threads is not None:
            import torch

            torch.set_num_threads(previous_threads)

    summary = run_row_summary(run, bpc_end)
    row = _record_model(ws, run, folder, summary)
    ws.db["runs"].update(run_id, {"status": "finished", "step": run.step, "total_steps": run.step,
                                  "output_model_id": row["id"],
                                  "finished_at": now(), "summary": json.dumps(summary)})
    # The run is complete and its model saved: checkpoints (optimizer state is 3× the weights) go.
    ckpt_io.prune(ws.runs_dir / str(run_id), keep=0)
    return row


def _start_or_resume(ws, group, *, model, minutes, steps, stage, device, resume, batch_size, seq_len, lr,
                     eval_every, seed, checkpoint_every, precision="auto"):
    """Rank 0 (or the only process): the run row, its config and the checkpoint to continue from."""
    from . import checkpoint as ckpt_io
    from .loop import FinetuneConfig, plan_run
    from ..workspace import now

    checkpoint = None
    if resume:
        run_row = latest_unfinished_run(ws)
        if run_row is None:
            raise WorkspaceError("there is no unfinished fine-tuning run to resume; start one with "
                                 "'taalkit finetune'")
        run_id = run_row["id"]
        _refuse_if_running(ws.runs_dir / str(run_id))
        checkpoint = ckpt_io.load_latest(ws.runs_dir / str(run_id))
        if checkpoint is not None:  # the checkpoint is the one source of resume state
            config = FinetuneConfig.from_dict(checkpoint.state["config"])
            _refuse_changed_weights(ws, run_id, config)
        else:  # killed before its first checkpoint: nothing trained yet, it starts over with its settings
            config = FinetuneConfig.from_dict(json.loads(run_row["config"]))
            config.base_sha256 = ckpt_io.weights_digest(ws.model_dir({"path": config.model_path}))
        if group.world > 1 and config.batch_size % group.world:
            raise TaalkitError(f"this run's global batch is {config.batch_size}, which does not divide among "
                               f"{group.world} processes; resume with a --processes that divides it")
        resumed_from = checkpoint.step if checkpoint else 0
        # Metrics written after the checkpoint are redone by this run: drop them, no gaps, no duplicates.
        ws.db.execute("delete from run_metrics where run_id = ? and step > ?", [run_id, resumed_from])
        if checkpoint is None:
            ws.db.execute("delete from run_metrics where run_id = ?", [run_id])
        ws.db.execute("update runs set status = 'running', step = ? where id = ?", [resumed_from, run_id])
        ws.db.conn.commit()
    else:
        model_row = ws.model(model, missing="the workspace has no model to fine-tune")
        config = plan_run(ws, model_row, stage=stage, device=device, minutes=minutes, steps=steps,
                          batch_size=batch_size, seq_len=seq_len, lr=lr, eval_every=eval_every,
                          checkpoint_every=checkpoint_every, seed=seed, processes=group.world,
                          local_processes=group.local_world, fsdp=group.fsdp, precision=precision)
        run_id = ws.db["runs"].insert({
            "kind": "finetune", "model_id": model_row.get("id"), "status": "running",
            "config": json.dumps(config.as_dict()), "step": 0, "total_steps": config.steps,
            "started_at": now(),
        }).last_pk
        ws.db["runs"].update(run_id, {"path": f"runs/{run_id}"})
    (ws.runs_dir / str(run_id)).mkdir(parents=True, exist_ok=True)
    (ws.runs_dir / str(run_id) / OWNER_FILE).write_text(f"{os.getpid()} {_started(os.getpid())}",
                                                       encoding="utf-8")
    return run_id, config, checkpoint


def _refuse_changed_weights(ws, run_id: int, config) -> None:
    """A checkpoint holds only the trainable tensors; the rest is re-read from the model folder,
    which must still hold the weights the run started from."""
    from . import checkpoint as ckpt_io

    folder = ws.model_dir({"path": config.model_path})
    if not (folder / "config.json").is_file():
        raise WorkspaceError(f"run {run_id} started from {config.model_path}, which is gone; "
                             f"start a new run with 'taalkit finetune'")
    if config.base_sha256 and ckpt_io.weights_digest(folder) != config.base_sha256:
        raise WorkspaceError(f"run {run_id} started from {config.model_path}, whose weights have changed since "
                             f"(trans-tokenized again?); its checkpoints would mix two models: start a new "
                             f"run with 'taalkit finetune'")


def _rank_memory_problem(ws, config, group) -> Optional[str]:
    """This rank's own memory check for its share of the batch; the message when it fails."""
    from .loop import model_shape
    from .plan import available_memory, check_fits

    device = str(group.device) if config.device.startswith("cuda") else config.device
    free = available_memory(device)
    if not device.startswith("cuda"):
        free //= max(1, group.local_world)
    try:
        check_fits(model_shape(ws.model_dir({"path": config.model_path})), config.stage,
                   config.batch_size // group.world, config.seq_len, device, free,
                   group.world if group.fsdp else 1)
    except TaalkitError as err:
        return f"rank {group.rank}: {err}"
    return None


def _refuse_if_running(run_dir) -> None:
    """Two processes training one run would corrupt it: refuse while its owner is alive."""
    try:
        fields = (run_dir / OWNER_FILE).read_text(encoding="utf-8").split()
        pid = int(fields[0])
        started = float(fields[1]) if len(fields) > 1 else None
    except (OSError, ValueError, IndexError):
        return
    if pid == os.getpid():
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return  # killed or crashed: resumable
    except PermissionError:
        pass
    now_started = _started(pid)
    if started is not None and now_started is not None and abs(now_started - started) > 1:
        return  # the pid was reused by an unrelated process since
    raise WorkspaceError(f"run {run_dir.name} is still being trained by process {pid}; stop it "
                         f"(Ctrl-C) before resuming")


def _started(pid: int) -> Optional[float]:
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # no psutil, or the process is gone
        return None


def latest_unfinished_run(ws) -> Optional[dict]:
    """The newest fine-tuning run that is not finished (stopped, failed, or killed while running)."""
    rows = list(ws.db.query("select * from runs where kind = 'finetune' and status != 'finished' "
                            "order by id desc limit 1"))
    return rows[0] if rows else None


def _record_model(ws, run, folder, summary: dict) -> dict:
    from ..db import save_by_key
    from ..fsutil import sha256_file
    from ..workspace import now

    cfg = run.config
    model_config = run.model.config
    parent = ws.model_by_id(cfg.model_id)
    weights = folder / "model.safetensors"
    name = f"finetuned-{run.run_id}"
    row = {
        "name": name, "role": "finetuned", "path": ws.relative(folder),
        "architecture": (model_config.architectures or [type(run.model).__name__])[0],
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "vocab_size": int(model_config.vocab_size), "hidden_size": int(model_config.hidden_size),
        "tied": int(bool(getattr(model_config, "tie_word_embeddings", False))),
        "chat_template": getattr(run.tokenizer, "chat_template", None),
        "licence": parent.get("licence") if parent else None,
        "sha256": sha256_file(weights) if weights.exists() else None,
        "source_path": parent.get("path") if parent else cfg.model_path,
        "parent_id": cfg.model_id, "method": f"finetune-{cfg.stage}", "created_at": now(),
        "extra": json.dumps({"run_id": run.run_id, **summary}),
    }
    row["id"] = save_by_key(ws.db, "models", row)  # in place when recorded again: exports keep their model
    return row
