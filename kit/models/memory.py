"""How much memory a fine-tune of a model will need, from numbers the ``models`` table holds.

Shown by ``taalkit model list`` so a user sees *before* starting whether a model fits the
laptop. The formula (bytes, fp32 on CPU)::

    weights      4 · P
    optimizer   12 · T            gradient + two AdamW moments of the T trainable parameters
    activations  B · S · L · (26 · H + 2 · heads · S) · 4
    logits       3 · B · S · V · 4    logits, log-softmax and their gradient
    overhead     300 MiB          interpreter, torch, tokenizer

P parameters, B batch, S sequence length, L layers, H hidden size, V vocabulary,
heads = H / 64. T by stage: ``embeddings`` = V·H (·2 when the head is untied), ``lora`` =
rank 16 adapters on the family's LoRA target projections of every layer (their real in/out sizes), ``full`` = P. The figure is computed by
``kit.finetune.plan.estimate_memory`` itself (calibrated there to the
7–9 GB RSS measured for SmolLM2-135M at 8×256 on CPU), so the two agree when given the
same shape. When only P is known the shape is guessed from Llama proportions (H ≈ √(P/350),
L = 30, V = 32000): a rough figure, marked as such by the caller.
"""

from __future__ import annotations

from typing import Optional

from ..errors import TaalkitError

STAGES = ("embeddings", "lora", "full")


def estimate_finetune_ram(param_count: int, stage: str, batch: int, seq_len: int, *,
                          vocab_size: Optional[int] = None, hidden_size: Optional[int] = None,
                          layers: Optional[int] = None, tied: bool = True,
                          intermediate_size: Optional[int] = None) -> int:
    """Peak bytes of RAM for one CPU training step (see the module docstring for the formula)."""
    if stage not in STAGES:
        raise TaalkitError(f"unknown fine-tuning stage {stage!r}; use one of {', '.join(STAGES)}")
    if param_count <= 0 or batch < 1 or seq_len < 1:
        raise TaalkitError("parameter count, batch and sequence length must be positive")
    from ..finetune.plan import estimate_memory
    from .shape import guessed_shape

    shape = guessed_shape(int(param_count), vocab_size=vocab_size, hidden_size=hidden_size, layers=layers,
                          tied=tied, intermediate_size=intermediate_size)
    return estimate_memory(shape, stage, batch, seq_len, "cpu")
