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
rank 16 adapters on the family's LoRA target projections of every layer (their real in/out sizes), ``full`` = P.
:func:`estimate_memory` is the formula, from a model's :class:`~kit.models.shape.ModelShape` (the
family gives the activations per token and layer); calibrated to the 7–9 GB RSS measured for
SmolLM2-135M at 8×256 on CPU. ``kit.finetune.plan`` checks a run against it before the first step,
and ``taalkit model list`` shows it, so the two agree. When only P is known the shape is guessed from Llama proportions (H ≈ √(P/350),
L = 30, V = 32000): a rough figure, marked as such by the caller.
"""

from __future__ import annotations

from typing import Optional

from ..errors import TaalkitError
from .shape import LORA_RANK, ModelShape

STAGES = ("embeddings", "lora", "full")


def default_batch(device: str) -> tuple[int, int]:
    """Batch × block length a device gets unless told otherwise: small on a laptop CPU (memory is
    shared with everything else). The fine-tune trains with it and trans-tokenization scores with its
    block length, so both stages stay inside the memory this module estimates."""
    return (16, 512) if device.startswith("cuda") else (4, 128)


def estimate_memory(shape: ModelShape, stage: str, batch_size: int, seq_len: int, device: str,
                    shards: int = 1) -> int:
    """Peak bytes for one training step: weights + grads + AdamW moments + activations + logits.

    Activations use ~26·hidden + 2·heads·seq values per token per layer (the usual 34·hidden less
    the dropout masks Llama-style models do not have; SDPA attention; fp32 on CPU, half on CUDA's
    bf16 autocast), calibrated to the 7–9 GB RSS measured for SmolLM2-135M at 8×256 on CPU; the logits over the vocabulary are counted three times
    (logits, log-softmax, their gradient), which dominates for small models with big vocabularies.
    """
    act_bytes = 2 if device.startswith("cuda") else 4
    tokens = batch_size * seq_len
    shards = max(1, int(shards))  # FSDP: each rank keeps 1/shards of weights, grads and moments ...
    weights = 4 * shape.parameters // shards
    trainable = shape.trainable(stage, LORA_RANK)
    optimizer = 12 * trainable // shards  # grad + two AdamW moments, fp32
    gathered = 4 * shape.parameters // max(1, shape.layers) if shards > 1 else 0  # ... plus one whole block
    per_token_layer = shape.activations_per_token_layer(seq_len)  # the family's formula
    activations = tokens * shape.layers * per_token_layer * act_bytes
    logits = 3 * tokens * shape.vocab_size * 4
    overhead = 300 * 2**20  # the interpreter, torch and tokenizer themselves
    return int(weights + gathered + optimizer + activations + logits + overhead)


def estimate_finetune_ram(param_count: int, stage: str, batch: int, seq_len: int, *,
                          vocab_size: Optional[int] = None, hidden_size: Optional[int] = None,
                          layers: Optional[int] = None, tied: bool = True,
                          intermediate_size: Optional[int] = None) -> int:
    """Peak bytes of RAM for one CPU training step (see the module docstring for the formula)."""
    if stage not in STAGES:
        raise TaalkitError(f"unknown fine-tuning stage {stage!r}; use one of {', '.join(STAGES)}")
    if param_count <= 0 or batch < 1 or seq_len < 1:
        raise TaalkitError("parameter count, batch and sequence length must be positive")
    from .shape import guessed_shape

    shape = guessed_shape(int(param_count), vocab_size=vocab_size, hidden_size=hidden_size, layers=layers,
                          tied=tied, intermediate_size=intermediate_size)
    return estimate_memory(shape, stage, batch, seq_len, "cpu")


#: What llama.cpp needs besides the weights to chat: the context (2048 tokens) and its runtime.
CHAT_OVERHEAD_BYTES = 150_000_000


def estimate_gguf_bytes(param_count: int, quant: str) -> int:
    """A GGUF's size from the parameter count alone: parameters × the type's bits per weight.

    The rough figure before the tensor shapes are read; ``kit.gguf.quantize.expected_size`` gives
    the exact one from the shapes (with the tensors a type cannot hold kept bigger).
    """
    from ..formats.gguf_types import quant_type

    return int(param_count * quant_type(quant).bits / 8)


def estimate_chat_ram(param_count: int, quant: str = "Q8_0") -> int:
    """RAM to chat with the model exported as ``quant``: its GGUF plus llama.cpp's context and runtime."""
    return estimate_gguf_bytes(param_count, quant) + CHAT_OVERHEAD_BYTES
