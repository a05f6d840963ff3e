"""Before a single step: which device, which stage, will it fit in memory, is there disk for it.

Why refuse early: a laptop that runs out of memory at step 40 swaps itself to a standstill or gets
the process killed, losing the run. The estimate below is deliberately simple (weights, gradients,
AdamW moments, activations, logits) and errs on the high side; when it does not fit, the message
names a batch size and block length that would.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from ..errors import ResourceError, TaalkitError
from ..fsutil import human_bytes, require_free_disk
# One device policy for every stage (kit.models.loading): which device, and which precision on it.
from ..models.loading import (CUDA_HINT, PRECISIONS, autocast, compute_dtype, require_device,  # noqa: F401
                              resolve_device)
# The memory formula lives with the model's shape and family (kit.models.memory); the stages it
# counts and the LoRA rank are the model's too.
from ..models.memory import STAGES, estimate_memory  # noqa: F401
from ..models.shape import LORA_RANK, ModelShape  # noqa: F401  (the one record of a model's shape, read by its family)

# `auto` trains every weight wherever that fits in memory, brief budgets included. The paper's first
# phase (embeddings + head only) was the brief default until the full stage was measured beside it on
# the trans-tokenized SmolLM2 (bench/translation_quality.py, configs draft+full and draft, RESULTS "translation_quality"):
# held-out bits/char 2.64 after 82 full steps (280 s of training) against 2.78 after 354 embedding
# steps (1,289 s); the model's own cy→en answers 29.1 against 22.7 chrF. Where the full stage does not
# fit, a budget below these trains the embeddings (+ head), the tables trans-tokenization wrote, which
# LoRA would leave as they are; a longer one trains LoRA adapters.
AUTO_EMBEDDINGS_MINUTES = 30
AUTO_EMBEDDINGS_STEPS = 300

# What the fine-tune trains on, beside the target text (kit.finetune.data), chosen by the measured
# table of bench/translation_quality.py. A workspace may override any of them in ``workspace_meta``
# key ``recipe`` (the bench does, to measure each on/off in one run).
RECIPE_DEFAULTS = {
    "draft": True,  # the word-by-word draft in every translation prompt (post-editing)
    "dictionary_examples": 0,  # up to this many dictionary entries as short translation pairs, both ways
    "memory": 0,  # the most similar other training pairs shown in each request (kit.infer.wordbyword.DEFAULT_MEMORY)
}


def recipe(ws) -> dict:
    """The training recipe of this workspace: the defaults above, with its own overrides."""
    out = dict(RECIPE_DEFAULTS)
    out.update({k: v for k, v in (ws.meta("recipe", None) or {}).items() if k in RECIPE_DEFAULTS})
    return out


def physical_cores() -> int:
    """Threads for CPU training: physical cores (hyper-threads only add contention), or TAALKIT_THREADS."""
    env = os.environ.get("TAALKIT_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        import psutil

        cores = psutil.cpu_count(logical=False)
    except ImportError:  # pragma: no cover - psutil comes with accelerate
        cores = None
    return max(1, cores or os.cpu_count() or 1)


def available_memory(device: str) -> int:
    """Bytes free for training on ``device`` (RAM for CPU/MPS, free VRAM for CUDA)."""
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def choose_stage(stage: str, *, minutes: Optional[float], steps: Optional[int], shape: ModelShape,
                 batch_size: int, seq_len: int, device: str, free: int) -> str:
    """``auto``: full fine-tuning when it fits; else embeddings for a brief budget, LoRA for a longer one."""
    if stage != "auto":
        if stage not in STAGES:
            raise TaalkitError(f"unknown stage {stage!r}; use embeddings, lora, full or auto")
        return stage
    if estimate_memory(shape, "full", batch_size, seq_len, device) < 0.8 * free:
        return "full"
    brief = (minutes is not None and minutes < AUTO_EMBEDDINGS_MINUTES) or (
        steps is not None and steps < AUTO_EMBEDDINGS_STEPS)
    return "embeddings" if brief else "lora"


@dataclass(frozen=True)
class Plan:
    device: str
    stage: str
    batch_size: int
    seq_len: int
    estimate_bytes: int
    free_bytes: int
    threads: int

    def as_dict(self) -> dict:
        return asdict(self)


def check_fits(shape: ModelShape, stage: str, batch_size: int, seq_len: int, device: str, free: int,
               shards: int = 1) -> int:
    """Raise :class:`ResourceError` naming a smaller setting when the step would not fit in ``free``."""
    need = estimate_memory(shape, stage, batch_size, seq_len, device, shards)
    if need <= 0.9 * free:
        return need
    where = "GPU memory" if device.startswith("cuda") else "memory"
    for b, s in _smaller_settings(batch_size, seq_len):
        if estimate_memory(shape, stage, b, s, device, shards) <= 0.9 * free:
            raise ResourceError(
                f"fine-tuning ({stage}, batch {batch_size}×{seq_len}) needs about {human_bytes(need)} of "
                f"{where}, {human_bytes(free)} free; try --batch-size {b} --seq-len {s}")
    if stage != "lora":
        raise ResourceError(
            f"fine-tuning ({stage}) needs about {human_bytes(need)} of {where}, {human_bytes(free)} free, "
            f"even at batch 1; try --stage lora or close other programs")
    raise ResourceError(
        f"this model needs about {human_bytes(need)} of {where} to fine-tune, {human_bytes(free)} free; "
        f"close other programs or use a machine with more memory")


def _smaller_settings(batch_size: int, seq_len: int):
    b, s = batch_size, seq_len
    while b > 1 or s > 64:
        if b > 1:
            b //= 2
        else:
            s //= 2
        yield b, s


def check_disk(run_dir: Path, shape: ModelShape, stage: str) -> int:
    """Room for three checkpoints (two kept + the one being written) and the final model folder."""
    trainable = shape.trainable(stage, LORA_RANK)
    checkpoint = 12 * trainable + 2**20  # weights + two AdamW moments, fp32
    final = 4 * shape.parameters
    need = 3 * checkpoint + final
    require_free_disk(run_dir, need, "fine-tuning checkpoints and the fine-tuned model")
    return need
