"""The training loop of ``taalkit finetune``: one run, from a model folder to a fine-tuned model folder.

Shape (after torchtune's recipes): :class:`FinetuneRun` loads the model and text, restores a checkpoint
when resuming, trains step by step, and saves. A run is a ``runs`` row plus ``runs/<id>/``; every step
adds a ``run_metrics`` row (loss, tokens/s, learning rate) and every ``eval_every`` steps a held-out
bits-per-character row, so the TUI and ``bench/`` read the same curve the CLI printed.

What makes resume exact: the checkpoint holds the trainable tensors, the optimizer's moments, the
scheduler, the data position (two integers, see ``data.BlockSampler``) and every RNG state; frozen
weights are re-read from the (unchanged) source model folder. Metrics logged after the checkpoint a
killed run resumes from are deleted, so the loss curve has neither gaps nor duplicates.

Several processes (``kit.finetune.distributed``): every rank runs this loop on its slice of the
same global batch; rank 0 alone evaluates, writes rows, checkpoints and the model, and tells the
others once per step whether to checkpoint or stop. With one process the group is ``Solo`` and
every collective is a no-op, so there is one loop, not two.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

from ..errors import Cancelled, TaalkitError, WorkspaceError
from ..fsutil import atomic_path
from ..progress import CancelToken, ProgressCallback, emit
from . import checkpoint as ckpt_io
from .data import BlockSampler, gather_training_text, pack_blocks
from ..models.memory import default_batch
from .distributed import Solo
from .plan import (ModelShape, autocast, available_memory, check_disk, check_fits, choose_stage, compute_dtype,
                   physical_cores, require_device, LORA_RANK)

STAGE = "finetune"
DEFAULT_LR = {"embeddings": 5e-4, "lora": 5e-4, "full": 5e-5}
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
CHECKPOINT_SECONDS = 300.0
METRICS_FLUSH_SECONDS = 1.0


@dataclass
class FinetuneConfig:
    """Everything that decides the numbers a run produces; stored with the run and every checkpoint."""

    model_id: Optional[int]
    model_path: str
    stage: str
    device: str
    batch_size: int
    seq_len: int
    lr: float
    steps: Optional[int] = None
    minutes: Optional[float] = None
    warmup_steps: int = 10
    eval_every: int = 25
    checkpoint_every: int = 25
    seed: int = 0
    lora_rank: int = LORA_RANK
    lora_dropout: float = 0.05
    grad_clip: float = 1.0
    translation: bool = True
    heldout_limit: int = 100
    extra: dict = field(default_factory=dict)
    base_sha256: Optional[str] = None  # checkpoint.weights_digest of model_path when the run started
    precision: str = "auto"  # forward passes: bf16 where the device supports it (plan.compute_dtype)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "FinetuneConfig":
        """From a stored config; keys this version does not know are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def lr_factor(step: int, warmup: int, total: Optional[int]) -> float:
    """Linear warm-up, then cosine decay to 10% when the step count is known, else constant."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if not total or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


class FinetuneRun:
    """One fine-tuning run in a workspace (new, or resumed from its newest checkpoint)."""

    def __init__(self, ws, config: FinetuneConfig, run_id: int, *, progress: Optional[ProgressCallback] = None,
                 cancel: Optional[CancelToken] = None, group: Optional[Solo] = None) -> None:
        self.group = group or Solo()
        self.ws = ws
        self.config = config
        self.run_id = run_id
        self.run_dir = ws.runs_dir / str(run_id)
        self.progress = progress if self.group.is_main else None
        self.cancel = cancel or CancelToken()
        self.step = 0
        self.elapsed = 0.0  # training seconds so far, across resumes (the --minutes budget)
        # --minutes is the wall time of the whole verb (issue 18): what loading and the step-0 evaluation
        # took, and the final evaluation and save still to come, are kept out of the training time.
        self._born = time.monotonic()
        self._overhead_s = 0.0
        self._eval0_s = 0.0
        self.train_seconds = 0.0  # seconds inside optimizer steps only (for tokens/s)
        self.train_tokens = 0
        self.loop_seconds = 0.0  # wall time of the step loop in this process, evals and saves included
        self.eval_seconds = 0.0
        self.checkpoint_seconds = 0.0
        self.bpc_start: Optional[float] = None
        self.bpc_last: Optional[float] = None
        self.bpc_step: Optional[int] = None  # the step bpc_last was measured at
        self._pending: list[dict] = []  # metric rows not yet written (see flush_metrics)
        self._flushed_at = time.monotonic()

    # -- setup ------------------------------------------------------------------------------
    def load(self, checkpoint: Optional[ckpt_io.Checkpoint] = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress events say what happens
        cfg = self.config
        model_dir = self.ws.model_dir({"path": cfg.model_path})
        emit(self.progress, STAGE, 0, None, f"loading {model_dir.name}")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.save_dtype = _folder_dtype(model_dir)
        self.model = self._build_model()
        self.device = torch.device(self.group.device or cfg.device)  # each rank its own GPU
        self.model.to(self.device)

        text = gather_training_text(self.ws, self.tokenizer, translation=cfg.translation,
                                    heldout_limit=cfg.heldout_limit)
        self.text = text
        self.blocks = pack_blocks(self.tokenizer, text.documents, cfg.seq_len)
        self.data_sha256 = data_digest(self.blocks, text.heldout)
        self._check_data(checkpoint)
        self.sampler = BlockSampler.from_state(self.blocks, checkpoint.state["data"] if checkpoint else None,
                                               cfg.seed)
        self.train_model, self.optimizer = self.group.wrap(
            self.model, lambda m: make_optimizer([p for p in m.parameters() if p.requires_grad], cfg.lr,
                                                 cfg.device))
        self.trainable = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        self.weights_held = None  # (this rank's share, all weights) under FSDP
        if self.group.fsdp:
            self.weights_held = (sum(getattr(p, "_local_tensor", p).numel() for p in self.model.parameters()),
                                 sum(p.numel() for p in self.model.parameters()))
            emit(self.progress, STAGE, 0, None, f"sharded over {self.group.world} processes (FSDP2): rank 0 "
                 f"holds {self.weights_held[0]:,} of {self.weights_held[1]:,} weights")
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, cfg.warmup_steps, cfg.steps))
        if checkpoint is not None:
            self._restore(checkpoint)
        self.cancel.check()  # a Ctrl-C during loading stops here, before any step

    def _check_data(self, checkpoint) -> None:
        """Every rank, and a resumed run, must train on the very blocks the run started with: the
        sampler's position and each rank's slice of a batch mean nothing on other text."""
        g = self.group
        problem = None
        if g.world > 1:
            first = g.share(self.data_sha256)
            if first != self.data_sha256:
                problem = (f"rank {g.rank} packed other training text than rank 0 (the text gathering "
                           f"is not the same in every process); train with one process and report this")
        recorded = (checkpoint.state.get("extra") or {}).get("data_sha256") if checkpoint else None
        if problem is None and recorded and recorded != self.data_sha256:
            problem = (f"run {self.run_id}'s training text has changed since its checkpoint (text imported or "
                       f"removed?); resuming would continue on other text: start a new run with "
                       f"'taalkit finetune'")
        try:
            g.all_ok(problem)
        except TaalkitError as err:
            err.all_ranks = True  # every rank reached this check and raises it
            raise

    def _build_model(self):
        """The model as the stage trains it (fp32 master weights; LoRA adapters seeded by the run)."""
        import torch
        from transformers import AutoModelForCausalLM

        torch.manual_seed(self.config.seed)
        model = AutoModelForCausalLM.from_pretrained(self.ws.model_dir({"path": self.config.model_path}),
                                                     local_files_only=True, use_safetensors=True,
                                                     trust_remote_code=False, dtype=torch.float32)
        return self._prepare(model)

    def _prepare(self, model):
        """Freeze what the stage does not train; wrap with LoRA adapters for ``lora``."""
        cfg = self.config
        if cfg.stage == "embeddings":
            model.requires_grad_(False)
            model.get_input_embeddings().weight.requires_grad_(True)
            head = model.get_output_embeddings()
            if head is not None:  # the same tensor as the input table when tied
                head.weight.requires_grad_(True)
        elif cfg.stage == "lora":
            from peft import LoraConfig, get_peft_model

            present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
            targets = [t for t in LORA_TARGETS if t in present]
            if not targets:
                raise TaalkitError(f"no LoRA target layers ({', '.join(LORA_TARGETS)}) in this model; "
                                   f"use --stage full or embeddings")
            model = get_peft_model(model, LoraConfig(
                r=cfg.lora_rank, lora_alpha=2 * cfg.lora_rank, lora_dropout=cfg.lora_dropout,
                target_modules=targets, bias="none", task_type="CAUSAL_LM"))
            if self.group.world > 1:
                _slice_lora_dropout(model, self.group.rank, self.group.world)
        elif cfg.stage == "full":
            model.requires_grad_(True)
        else:
            raise TaalkitError(f"unknown stage {cfg.stage!r}")
        model.train()
        return model

    def _restore(self, checkpoint: ckpt_io.Checkpoint) -> None:
        import torch

        params = dict(self.trainable)
        missing = set(params) - set(checkpoint.trainable)
        if missing:
            raise WorkspaceError(f"checkpoint {checkpoint.path} does not match the model "
                                 f"({len(missing)} tensors missing); start a new run")
        g = self.group
        with torch.no_grad():
            for name, tensor in checkpoint.trainable.items():
                params[name].copy_(g.shard(tensor.to(params[name].device), params[name]))
        by_index = [p for group in self.optimizer.param_groups for p in group["params"]]
        ckpt_io.restore_optimizer(self.optimizer, checkpoint, self.device,
                                  place=lambda i, t: g.shard(t.to(by_index[i].device), by_index[i]))
        self.scheduler.load_state_dict(checkpoint.state["scheduler"])
        extra = checkpoint.state.get("extra", {})
        self.step = checkpoint.step
        self.elapsed = float(extra.get("elapsed_s", 0.0))
        self.bpc_start = extra.get("bpc_start")
        self.bpc_last = extra.get("bpc_last")
        ckpt_io.restore_rng(checkpoint, rank=self.group.rank)

    # -- the loop ---------------------------------------------------------------------------
    def evaluate(self) -> float:
        from ..metrics import bits_per_char

        with self._autocast():
            value = bits_per_char(self.model, self.tokenizer, self.text.heldout, device=str(self.device),
                                  max_length=self.config.seq_len, batch_size=8)
        self.model.train()
        return value

    def _autocast(self):
        """bf16 autocast where the device supports it (fp32 master weights and optimizer)."""
        device = str(self.device) if hasattr(self, "device") else self.config.device
        return autocast(device, compute_dtype(device, self.config.precision))

    def train_step(self) -> tuple[float, int]:
        """One optimizer step on one global batch; returns (loss over the global batch, its tokens).

        Every rank draws the same global batch (same sampler state) and trains on its rows of it;
        the gradients are averaged over the ranks, which is the gradient of the global batch
        because every block has the same number of tokens.
        """
        g = self.group
        batch = self.sampler.next_batch(self.config.batch_size)
        per_rank = self.config.batch_size // g.world
        batch = batch[g.rank * per_rank:(g.rank + 1) * per_rank].to(self.device)
        with self._autocast():
            loss = self.train_model(input_ids=batch, labels=batch).loss
        g.backward(loss)
        if self.config.grad_clip:
            g.clip(self.train_model, [p for _, p in self.trainable], self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return g.mean(float(loss.detach())), int(batch.numel()) * g.world

    def _done(self) -> bool:
        cfg = self.config
        if cfg.steps is not None:
            return self.step >= cfg.steps
        budget = (cfg.minutes or 0) * 60
        if self.step == 0:
            return budget <= 0  # at least one step, however short the budget
        # Before this session's loop: loading, step 0. After it: the final evaluation (about as long as
        # step 0's) and writing the model (reserved as 2% of the budget).
        tail = self._eval0_s + 0.02 * budget
        return self.elapsed + self._overhead_s + tail >= budget

    def _total_estimate(self) -> Optional[int]:
        if self.config.steps is not None:
            return self.config.steps
        if self.step == 0 or self.elapsed <= 0:
            return None
        per_step = self.elapsed / self.step
        budget = self.config.minutes * 60
        remaining = max(0.0, budget - self.elapsed - self._overhead_s - self._eval0_s - 0.02 * budget)
        if remaining == 0:
            return self.step
        # At least one more step while time is left, so a bar never shows 100% before the end.
        return self.step + max(1, round(remaining / max(per_step, 1e-6)))

    def run(self) -> None:
        """Train until the step or time budget is spent; on cancel, checkpoint and raise Cancelled."""
        cfg = self.config
        db = self.ws.db
        if self.step == 0 and self.group.fsdp and not self.group.is_main:
            self.evaluate()  # a sharded forward needs every rank; rank 0 keeps the number
            self.bpc_step = 0
        elif self.step == 0 and self.group.is_main:
            t0 = time.monotonic()
            self.bpc_start = self.evaluate()
            self._eval0_s = time.monotonic() - t0
            self.bpc_last = self.bpc_start
            self.bpc_step = 0
            db["run_metrics"].insert({"run_id": self.run_id, "step": 0, "bits_per_char": self.bpc_start,
                                      "elapsed_s": 0.0, "split": "heldout"})
            emit(self.progress, STAGE, 0, cfg.steps, f"held-out bits per char at step 0: {self.bpc_start:.4f}",
                 bpc=self.bpc_start)
        last_saved_step = self.step
        last_saved_time = time.monotonic()
        loop_started = time.perf_counter()
        self._overhead_s = time.monotonic() - self._born
        try:
            self._loop(last_saved_step, last_saved_time)
        finally:
            self.flush_metrics()
            self.loop_seconds += time.perf_counter() - loop_started

    def flush_metrics(self) -> None:
        """Write buffered metric rows in one transaction.

        One commit per step would cost more than a tiny model's step; rows not yet flushed when
        a run is killed belong to steps after its last checkpoint, which a resume redoes anyway.
        """
        if self._pending and self.group.is_main:
            self.ws.db["run_metrics"].insert_all(self._pending)
            self._pending = []
        self._flushed_at = time.monotonic()

    def _loop(self, last_saved_step: int, last_saved_time: float) -> None:
        cfg = self.config
        g = self.group
        save_due = False
        while True:
            # Rank 0's view decides for all (its clock, its Ctrl-C): one broadcast per step.
            save_due, done, cancelled = g.decide(save_due, self._done(),
                                                 self.cancel.cancelled or g.cancel_requested())
            if save_due:
                t0 = time.perf_counter()
                self.save_checkpoint()
                self.checkpoint_seconds += time.perf_counter() - t0
                self.elapsed += time.perf_counter() - t0
                last_saved_step, last_saved_time = self.step, time.monotonic()
            if done:
                return
            if cancelled:
                if self.step != last_saved_step:
                    self.save_checkpoint()
                raise Cancelled(f"stopped at step {self.step}; continue with 'taalkit finetune --resume'")
            started = time.perf_counter()
            loss, tokens = self.train_step()
            step_seconds = time.perf_counter() - started
            self.train_seconds += step_seconds
            self.train_tokens += tokens
            if not math.isfinite(loss):
                raise TaalkitError(f"the loss became {loss} at step {self.step}; try a lower --lr "
                                   f"(now {cfg.lr:g})")
            save_due = bool(cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or \
                time.monotonic() - last_saved_time > CHECKPOINT_SECONDS
            evaluated = bool(cfg.eval_every and self.step % cfg.eval_every == 0)
            if not g.is_main:  # the other ranks only train; rank 0 measures, logs and reports
                if evaluated and g.fsdp:  # ... but a sharded forward needs every rank
                    self.evaluate()
                    self.bpc_step = self.step
                self.elapsed += time.perf_counter() - started
                continue
            lr = self.scheduler.get_last_lr()[0]
            metrics = {"loss": loss, "tokens_per_s": tokens / max(step_seconds, 1e-9), "lr": lr}
            if evaluated:
                t0 = time.perf_counter()
                self.bpc_last = self.evaluate()
                self.bpc_step = self.step
                self.eval_seconds += time.perf_counter() - t0
                metrics["bpc"] = self.bpc_last
            self.elapsed += time.perf_counter() - started
            self._pending.append({"run_id": self.run_id, "step": self.step, "loss": loss,
                                  "tokens_per_s": metrics["tokens_per_s"], "lr": lr,
                                  "elapsed_s": self.elapsed, "split": "train"})
            if evaluated:
                self._pending.append({"run_id": self.run_id, "step": self.step,
                                      "bits_per_char": self.bpc_last, "elapsed_s": self.elapsed,
                                      "split": "heldout"})
            if evaluated or time.monotonic() - self._flushed_at > METRICS_FLUSH_SECONDS:
                self.flush_metrics()
            total = self._total_estimate()
            if total:
                rate = self.elapsed / max(1, self.step)
                metrics["eta_s"] = max(0.0, (total - self.step) * rate)
            emit(self.progress, STAGE, self.step, total, "", **metrics)

    def save_checkpoint(self) -> Optional[Path]:
        """Every rank calls this at the same step (rank 0 decided); rank 0 alone writes."""
        g = self.group
        ranks_rng = g.rng_states()  # a collective: before any rank-0-only work
        if g.fsdp:  # gathering the shards is a collective too: every rank, same order
            trainable = {name: g.full(p).detach().to("cpu") for name, p in self.trainable}
            optimizer = ckpt_io.optimizer_state(self.optimizer, g.full)
        else:
            trainable, optimizer = dict(self.trainable), self.optimizer
        if not g.is_main:
            return None
        self.flush_metrics()  # rows up to this step are on disk before the checkpoint that covers them
        path = ckpt_io.save_checkpoint(
            self.run_dir, self.step, trainable=trainable, optimizer=optimizer,
            scheduler=self.scheduler, data_state=self.sampler.state(), config=self.config.as_dict(),
            extra={"elapsed_s": self.elapsed, "bpc_start": self.bpc_start, "bpc_last": self.bpc_last,
                   "processes": self.group.world, "data_sha256": self.data_sha256},
            rank_rng=ranks_rng[1:])
        self.ws.db.execute("update runs set step = ? where id = ?", [self.step, self.run_id])
        self.ws.db.conn.commit()
        return path

    # -- the result -------------------------------------------------------------------------
    def save_model(self) -> Optional[tuple[Path, float]]:
        """Final held-out score, LoRA merged into the weights, a plain model folder written atomically.

        Every rank calls it; rank 0 alone writes and returns (folder, bits per char), the others None.
        Under FSDP every rank takes part in the last evaluation and in gathering the weights.
        """
        import torch

        g = self.group
        if not g.is_main:
            if g.fsdp:
                if self.bpc_step != self.step:
                    self.evaluate()
                for tensor in self.model.state_dict().values():
                    g.full(tensor)
            return None
        if self.bpc_step == self.step and self.bpc_last is not None:
            bpc_end = self.bpc_last  # the loop just measured this very step
        else:
            bpc_end = self.evaluate()
            self.ws.db["run_metrics"].delete_where("run_id = ? and step = ? and split = 'heldout'",
                                                   [self.run_id, self.step])  # e.g. resumed at the end
            self.ws.db["run_metrics"].insert({"run_id": self.run_id, "step": self.step,
                                              "bits_per_char": bpc_end, "elapsed_s": self.elapsed,
                                              "split": "heldout"})
        model = self.model
        if g.fsdp:  # rank 0 gathers the whole state into a plain, unsharded copy of the model
            state = {name: g.full(tensor).detach().to("cpu") for name, tensor in model.state_dict().items()}
            model = self._build_model()
            model.load_state_dict(state)
        if self.config.stage == "lora":
            model = model.merge_and_unload()
        model = model.to("cpu")
        if self.save_dtype is not None and self.save_dtype != torch.float32:
            model = model.to(self.save_dtype)
        target = self.ws.models_dir / f"finetuned-{self.run_id}"
        with atomic_path(target) as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            self.tokenizer.save_pretrained(tmp)
        self.model = model
        return target, bpc_end


@functools.lru_cache(maxsize=1)
def _batch_slice_dropout_class():
    import torch

    class BatchSliceDropout(torch.nn.Module):
        """Dropout whose mask is drawn for the whole global batch, of which this rank keeps its rows.

        Why: with N ranks each rank trains on ``batch/N`` rows, and a plain dropout draws masks for
        those rows only, so N processes differed from one (LoRA adapters after 6 steps: 2e-3). Every
        rank's generator is seeded and advanced alike, so drawing the global mask (what one process
        draws) and keeping rank ``r``'s rows gives N ranks the very masks of one process. The mask is
        ``bernoulli_`` on an empty tensor divided by 1-p: how torch's dropout draws it on a CPU.
        """

        def __init__(self, p: float, rank: int, world: int) -> None:
            super().__init__()
            self.p, self.rank, self.world = float(p), int(rank), int(world)

        def forward(self, x):
            if not self.training or self.p == 0.0:
                return x
            rows = x.shape[0]
            noise = torch.empty((rows * self.world, *x.shape[1:]), dtype=x.dtype, device=x.device)
            noise.bernoulli_(1 - self.p).div_(1 - self.p)
            return x * noise[self.rank * rows:(self.rank + 1) * rows]

        def extra_repr(self) -> str:
            return f"p={self.p}, rank={self.rank} of {self.world}"

    return BatchSliceDropout


def batch_slice_dropout(p: float, rank: int, world: int):
    """A :class:`BatchSliceDropout` module (the class is made on first use: torch is imported lazily)."""
    return _batch_slice_dropout_class()(p, rank, world)


def _slice_lora_dropout(model, rank: int, world: int) -> None:
    """Swap peft's LoRA dropouts for ``BatchSliceDropout`` (same p) on a rank of ``world``."""
    import torch

    for module in model.modules():
        dropouts = getattr(module, "lora_dropout", None)
        if isinstance(dropouts, torch.nn.ModuleDict):
            for name, dropout in list(dropouts.items()):
                if isinstance(dropout, torch.nn.Dropout):
                    dropouts[name] = batch_slice_dropout(dropout.p, rank, world)


def data_digest(blocks, heldout) -> str:
    """SHA-256 of the packed training blocks and the held-out texts: what a run trains and measures on."""
    import hashlib

    h = hashlib.sha256(blocks.numpy().tobytes())
    for text in heldout:
        h.update(text.encode("utf-8") + b"\0")
    return h.hexdigest()


def make_optimizer(params: list, lr: float, device: str):
    """AdamW with torch's fused kernel where the device has one (CPU and CUDA), the loop otherwise.

    Why fused: the default AdamW walks the tensors in Python, one small kernel per tensor and moment.
    Measured on the 2-core laptop, one optimizer step (with clipping): SmolLM2-135M full fine-tune
    327 ms → 75 ms, its LoRA adapters 15 ms → 6 ms. Same update rule; the step count of fused state
    lives on the parameter's device, which ``load_state_dict`` handles when a run resumes.
    """
    import torch

    settings = dict(lr=lr, betas=(0.9, 0.95), weight_decay=0.0, eps=1e-8)
    if device.split(":")[0] in ("cpu", "cuda"):
        try:
            return torch.optim.AdamW(params, fused=True, **settings)
        except (RuntimeError, ValueError):  # an older torch, or a dtype the fused kernel lacks
            pass
    return torch.optim.AdamW(params, **settings)


def _folder_dtype(model_dir: Path):
    """The dtype the source folder stores (the fine-tuned folder keeps it), or None when unstated."""
    import torch

    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = config.get("dtype") or config.get("torch_dtype")
    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}.get(name)


def model_shape(model_dir: Path) -> ModelShape:
    from transformers import AutoConfig

    return ModelShape.from_config(AutoConfig.from_pretrained(model_dir, local_files_only=True))


def set_threads(device: str, local_processes: int = 1) -> Optional[int]:
    """CPU training uses one thread per physical core, shared out among the ranks on this machine
    (more threads than cores only adds contention); returns the previous count to restore."""
    import torch

    if device != "cpu":
        return None
    previous = torch.get_num_threads()
    torch.set_num_threads(threads_per_rank(local_processes))
    return previous


def threads_per_rank(local_processes: int = 1) -> int:
    if os.environ.get("TAALKIT_THREADS"):
        return physical_cores()  # an explicit count is per process
    return max(1, physical_cores() // max(1, local_processes))


def run_row_summary(run: FinetuneRun, bpc_end: Optional[float]) -> dict:
    return {
        "steps": run.step, "bpc_start": run.bpc_start, "bpc_end": bpc_end,
        "train_tokens": run.train_tokens, "train_seconds": round(run.train_seconds, 3),
        "tokens_per_s": (run.train_tokens / run.train_seconds) if run.train_seconds else None,
        "elapsed_s": round(run.elapsed, 3), "loop_seconds": round(run.loop_seconds, 3),
        "eval_seconds": round(run.eval_seconds, 3), "checkpoint_seconds": round(run.checkpoint_seconds, 3),
        "documents": len(run.text.documents),
        "target_texts": run.text.target_count, "translation_prompts": run.text.prompt_count,
        "heldout_texts": len(run.text.heldout), "blocks": len(run.blocks),
        "peak_rss_bytes": _peak_rss(),
        "rank0_weights_held": run.weights_held[0] if getattr(run, "weights_held", None) else None,
    }


def _peak_rss() -> Optional[int]:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def plan_run(ws, model_row: dict, *, stage: str, device: str, minutes, steps, batch_size, seq_len,
             lr, eval_every, checkpoint_every, seed, processes: int = 1,
             local_processes: int = 1, fsdp: bool = False, precision: str = "auto") -> FinetuneConfig:
    """Decide device, stage and sizes; refuse early when memory or disk will not do.

    With ``processes`` ranks the batch stays the global batch (each rank trains on
    ``batch/processes`` rows of it), so the memory a rank needs is that of its share; ranks on one
    CPU machine share its RAM (``local_processes`` of them), ranks on GPUs each have their own.
    """
    device = require_device(device, "fine-tuning")
    compute_dtype(device, precision)  # an unknown precision, or bf16 on a GPU without it: refused now
    model_dir = ws.model_dir(model_row)
    if not (model_dir / "config.json").is_file():
        raise WorkspaceError(f"model folder {model_dir} is missing or has no config.json")
    shape = model_shape(model_dir)
    default_b, default_s = default_batch(device)
    batch_size = int(batch_size or default_b)
    seq_len = int(seq_len or default_s)
    if batch_size < 1 or seq_len < 8:
        raise TaalkitError("--batch-size must be at least 1 and --seq-len at least 8")
    if processes > 1 and batch_size % processes:
        raise TaalkitError(f"--batch-size {batch_size} is the global batch and must divide among "
                           f"--processes {processes}; try --batch-size {max(1, batch_size // processes) * processes}")
    from transformers import AutoConfig

    max_pos = getattr(AutoConfig.from_pretrained(model_dir, local_files_only=True), "max_position_embeddings", None)
    if max_pos:
        seq_len = min(seq_len, int(max_pos))
    free = available_memory(device)
    if processes > 1 and not device.startswith("cuda"):
        free //= max(1, local_processes)  # the ranks on this machine share its memory
    per_rank = batch_size // max(1, processes)
    shards = processes if fsdp else 1
    stage = choose_stage(stage, minutes=minutes, steps=steps, shape=shape, batch_size=per_rank,
                         seq_len=seq_len, device=device, free=free)
    need = check_fits(shape, stage, per_rank, seq_len, device, free, shards)
    check_disk(ws.runs_dir, shape, stage)
    if steps is None and minutes is None:
        minutes = 5.0
    if steps is not None and steps < 1:
        raise TaalkitError("--steps must be at least 1")
    if minutes is not None and minutes <= 0:
        raise TaalkitError("--minutes must be more than 0")
    if eval_every is None:
        eval_every = max(1, steps // 10) if steps else 25
    if checkpoint_every is None:
        checkpoint_every = max(1, min(50, steps // 4)) if steps else 25
    # A time budget on a CPU may hold only a handful of steps: a short warm-up there.
    warmup = min(10, max(1, steps // 10)) if steps else (10 if device.startswith("cuda") else 3)
    return FinetuneConfig(
        base_sha256=ckpt_io.weights_digest(model_dir), precision=precision,
        model_id=model_row.get("id"), model_path=model_row["path"], stage=stage, device=device,
        batch_size=batch_size, seq_len=seq_len, lr=float(lr if lr is not None else DEFAULT_LR[stage]),
        steps=steps, minutes=minutes if steps is None else None, warmup_steps=warmup,
        eval_every=int(eval_every), checkpoint_every=int(checkpoint_every), seed=int(seed),
        extra={"threads": threads_per_rank(local_processes) if device == "cpu" else None,
               "memory_estimate_bytes": need, "free_memory_bytes": free, "processes": int(processes),
               "fsdp": bool(fsdp)})
