"""Llama / Mistral: SmolLM2, TinyLlama, Llama-2, Llama-3.x, Mistral — llama.cpp's ``llama`` architecture.

Llama-style RoPE: HF stores q/k rows for rotate-half, llama.cpp's "normal" RoPE rotates
adjacent pairs, so q/k are permuted (the base class does it). Llama-3.x's ``llama3`` RoPE
scaling is not a GGUF key: llama.cpp reads per-frequency divisors from a ``rope_freqs``
tensor, computed here from transformers' own llama3 frequencies (the library that defines
the scaling is the one owner of its formula), and read back at intake by matching that
tensor against the Llama-3.1/3.2 settings.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from . import Family, register
from ..shape import ModelShape

# Llama-3.x's published llama3 RoPE settings (3.1: factor 8, 3.2: factor 32); transformers'
# GGUF reader does not rebuild them, so intake recognises the rope_freqs tensor of each.
LLAMA3_ROPE_SETTINGS = tuple(
    {"rope_type": "llama3", "factor": factor, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
     "original_max_position_embeddings": 8192} for factor in (8.0, 32.0, 16.0, 4.0, 2.0))
ROPE_SCALING_KEY = "taalkit.rope_scaling"   # the source's scaling as JSON, written beside rope_freqs


@register
class LlamaFamily(Family):
    name = "llama"
    title = "Llama / Mistral"
    hf_architectures = ("LlamaForCausalLM", "MistralForCausalLM")
    model_types = ("llama", "mistral")
    gguf_arch = "llama"
    gguf_read_archs = ("llama", "mistral")
    rope_permute = True
    rope_types = ("linear", "llama3")
    end_of_turn = ("<|eot_id|>", "<|im_end|>", "</s>")
    examples = "SmolLM2, TinyLlama, Llama-2, Llama-3.1/3.2, Mistral-7B"

    def refuse(self, shape: ModelShape) -> Optional[str]:
        cfg = shape.config
        if cfg.get("attention_bias") or cfg.get("mlp_bias"):
            return "Llama variants with attention/MLP biases are not supported yet"
        return super().refuse(shape)

    def shape_from_gguf(self, meta: dict, tensors: dict[str, list[int]]) -> ModelShape:
        from dataclasses import replace

        shape = super().shape_from_gguf(meta, tensors)
        arch = "MistralForCausalLM" if meta.get("general.architecture") == "mistral" else "LlamaForCausalLM"
        scaling = shape.rope_scaling
        if "rope_freqs.weight" in tensors:
            # A rope_freqs the kit cannot name would be lost on the way to PyTorch: refused at intake.
            scaling = llama3_scaling_from_gguf(meta, tensors) or {"rope_type": "rope_freqs of unknown settings"}
        return replace(shape, architecture=arch, model_type="mistral" if arch.startswith("Mistral") else "llama",
                       rope_scaling=scaling)

    def add_hparams(self, w, shape: ModelShape) -> None:
        super().add_hparams(w, shape)
        if shape.rope_type == "llama3":
            w.add_string(ROPE_SCALING_KEY, json.dumps(shape.rope_scaling, sort_keys=True))

    def extra_tensors(self, shape: ModelShape) -> list[tuple[str, Any]]:
        if shape.rope_type != "llama3":
            return []
        return [("rope_freqs.weight", llama3_rope_factors(shape.head_dim, shape.rope_theta, shape.rope_scaling))]

    def hf_config_from_gguf(self, config: dict, meta: dict, tensors: dict[str, list[int]]) -> dict:
        config = super().hf_config_from_gguf(config, meta, tensors)
        if "rope_freqs.weight" not in tensors:
            return config
        scaling = llama3_scaling_from_gguf(meta, tensors)
        if scaling is None:
            return config
        theta = float(meta.get(f"{meta.get('general.architecture')}.rope.freq_base") or 500000.0)
        config = {k: v for k, v in config.items() if k not in ("rope_scaling", "rope_theta")}
        config["rope_parameters"] = {**scaling, "rope_theta": theta}
        return config


def llama3_rope_factors(head_dim: int, theta: float, scaling: dict):
    """``rope_freqs``: llama.cpp divides each RoPE frequency by these (float32, head_dim/2 values).

    Computed as plain frequencies / transformers' llama3 frequencies, so the GGUF rotates
    exactly as the PyTorch model does.
    """
    import numpy as np
    import torch
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = LlamaConfig(hidden_size=head_dim * 2, num_attention_heads=2, head_dim=head_dim,
                         max_position_embeddings=int(scaling.get("original_max_position_embeddings", 8192)) * 4,
                         rope_parameters={**scaling, "rope_theta": float(theta)})
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    plain = 1.0 / (float(theta) ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    return np.ascontiguousarray((plain / scaled.float()).numpy().astype(np.float32))


def llama3_scaling_from_gguf(meta: dict, tensors: dict[str, list[int]]) -> Optional[dict]:
    """The llama3 scaling a GGUF's ``rope_freqs`` encodes: the kit's own key, else a known Llama-3.x setting."""
    stored = meta.get(ROPE_SCALING_KEY)
    if stored:
        return json.loads(stored)
    factors = meta.get("_rope_freqs")
    if factors is None:
        return None
    import numpy as np

    arch = meta.get("general.architecture")
    theta = float(meta.get(f"{arch}.rope.freq_base") or 500000.0)
    head_dim = 2 * len(factors)
    for setting in LLAMA3_ROPE_SETTINGS:
        if np.allclose(llama3_rope_factors(head_dim, theta, setting), factors, rtol=1e-4):
            return dict(setting)
    return None


@register
class SmolLM3Family(LlamaFamily):
    """SmolLM3: Llama layout (permuted RoPE) with no RoPE at all in every 4th layer (NoPE).

    llama.cpp's ``smollm3`` skips RoPE in layers 3, 7, 11, … (a fixed step of 4, not read from
    the file), so a config with any other ``no_rope_layers`` pattern is refused.
    """

    name = "smollm3"
    title = "SmolLM3"
    hf_architectures = ("SmolLM3ForCausalLM",)
    model_types = ("smollm3",)
    gguf_arch = "smollm3"
    gguf_read_archs = ("smollm3",)
    gguf_intake = False   # transformers 5 has no GGUF reader for smollm3
    rope_types = ("linear",)
    end_of_turn = ("<|im_end|>", "<|eot_id|>")
    examples = "SmolLM3-3B"

    def refuse(self, shape: ModelShape) -> Optional[str]:
        layers = shape.config.get("no_rope_layers")
        expected = [0 if (i + 1) % 4 == 0 else 1 for i in range(shape.layers)]
        if layers is not None and list(layers) != expected:
            return "no_rope_layers other than every 4th layer are not supported (llama.cpp's fixed NoPE step)"
        if shape.config.get("use_sliding_window"):
            return "sliding-window attention (use_sliding_window) is not supported yet"
        return super().refuse(shape)

    def shape_from_gguf(self, meta: dict, tensors: dict[str, list[int]]) -> ModelShape:
        from dataclasses import replace

        return replace(super().shape_from_gguf(meta, tensors), architecture="SmolLM3ForCausalLM",
                       model_type="smollm3")
