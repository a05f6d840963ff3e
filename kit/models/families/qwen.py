"""Qwen2 / Qwen2.5 and Qwen3 — llama.cpp's ``qwen2`` and ``qwen3`` architectures.

Both use NeoX-style RoPE (llama.cpp rotates halves, as HF does), so q/k are written as they
are: the Llama permutation would scramble them. Qwen2 has q/k/v biases (written as
``attn_q.bias`` …; the ``gguf`` name map gives the names). Qwen3 drops the biases and adds
per-head RMS norms on q and k (``attn_q_norm``/``attn_k_norm``), and takes ``head_dim`` from
its config (128 for 0.6B, where hidden/heads is 64), which the base class writes as
``key_length``/``value_length``. Chat is ChatML: a turn ends with ``<|im_end|>``.

Refused at intake: sliding-window attention (``use_sliding_window``, off in every released
Qwen2.5/Qwen3 config) and RoPE scaling (YaRN for long context), which the kit does not
write to GGUF yet.
"""

from __future__ import annotations

from typing import Optional

from . import Family, register
from ..shape import ModelShape


class _QwenBase(Family):
    rope_permute = False
    rope_types = ()
    end_of_turn = ("<|im_end|>", "<|endoftext|>")

    def refuse(self, shape: ModelShape) -> Optional[str]:
        if shape.config.get("use_sliding_window"):
            return "sliding-window attention (use_sliding_window) is not supported yet"
        return super().refuse(shape)


@register
class Qwen2Family(_QwenBase):
    name = "qwen2"
    title = "Qwen2 / Qwen2.5"
    hf_architectures = ("Qwen2ForCausalLM",)
    model_types = ("qwen2",)
    gguf_arch = "qwen2"
    examples = "Qwen2.5-0.5B/1.5B/3B(-Instruct)"
    required_block_tensors = Family.required_block_tensors + ("attn_q.bias", "attn_k.bias", "attn_v.bias")

    def shape_from_config(self, cfg: dict) -> ModelShape:
        from dataclasses import replace

        return replace(super().shape_from_config(cfg), attention_bias=True)  # q/k/v always have biases

    def extra_parameters_per_layer(self, heads: int, kv_heads: int, head_dim: int, hidden: int) -> int:
        return head_dim * (heads + 2 * kv_heads)  # q, k, v biases


@register
class Qwen3Family(_QwenBase):
    name = "qwen3"
    title = "Qwen3"
    hf_architectures = ("Qwen3ForCausalLM",)
    model_types = ("qwen3",)
    gguf_arch = "qwen3"
    examples = "Qwen3-0.6B/1.7B/4B"
    required_block_tensors = Family.required_block_tensors + ("attn_q_norm.weight", "attn_k_norm.weight")

    def refuse(self, shape: ModelShape) -> Optional[str]:
        if shape.config.get("attention_bias"):
            return "Qwen3 with attention biases is not supported yet"
        return super().refuse(shape)

    def extra_parameters_per_layer(self, heads: int, kv_heads: int, head_dim: int, hidden: int) -> int:
        return 2 * head_dim  # q_norm, k_norm
