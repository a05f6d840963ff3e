"""The one record of a model's shape, read from its ``config.json`` (or a GGUF's metadata).

Why one record: intake, the memory estimate, trans-tokenization, the fine-tune planner, the
GGUF writer and the app all need the same dozen numbers (vocabulary, hidden size, layers,
heads, KV heads, head size, RoPE, tied head …). Four copies of them drifted apart (the writer
computed ``head_dim`` as hidden/heads, which is wrong for Qwen3 and Gemma); now every stage
reads :class:`ModelShape`, and which family a model belongs to is decided once, by
:mod:`kit.models.families`, from the same config.

This module imports neither torch nor transformers.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

LORA_RANK = 16


@dataclass(frozen=True)
class ModelShape:
    """Hyper-parameters of one causal LM, as its family reads them.

    The first seven fields are what the memory estimate needs (and may be given alone, e.g.
    for a model known only by its parameter count); the rest default from them. ``config``
    keeps the raw config dict for family-specific values (Gemma's soft-caps, SmolLM3's NoPE
    layers) without a field for each.
    """

    parameters: int
    vocab_size: int
    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int
    tied: bool
    kv_heads: Optional[int] = None          # grouped-query attention; default ``heads``
    head_dim: Optional[int] = None          # from the config when it says (Qwen3, Gemma); else hidden/heads
    context_length: int = 2048
    rope_theta: float = 10000.0
    rope_scaling: Optional[dict] = field(default=None, compare=False, hash=False)  # {"rope_type": ..., ...}
    norm_eps: float = 1e-5
    attention_bias: bool = False
    architecture: str = "LlamaForCausalLM"
    family: str = "llama"                   # key in kit.models.families
    model_type: Optional[str] = None
    config: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.kv_heads is None:
            object.__setattr__(self, "kv_heads", self.heads)
        if self.head_dim is None:
            object.__setattr__(self, "head_dim", self.hidden_size // max(1, self.heads))

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Any) -> "ModelShape":
        """From a transformers config object, a config dict, or a model folder (its config.json).

        Never refuses: an architecture no family knows is read the Llama way, which is what a
        memory estimate wants. Whether the kit can *handle* the model is
        :func:`kit.models.families.family_for_config`'s question.
        """
        from .families import family_or_generic

        cfg = config_dict(config)
        return family_or_generic(cfg).shape_from_config(cfg)

    def with_parameters(self, parameters: int) -> "ModelShape":
        """The same shape with the parameter count measured from the weights' shapes."""
        return replace(self, parameters=int(parameters))

    # -- derived numbers -------------------------------------------------------------------------

    @property
    def rope_type(self) -> str:
        return (self.rope_scaling or {}).get("rope_type") or "default"

    @property
    def q_dim(self) -> int:
        return int(self.heads * self.head_dim)

    @property
    def kv_dim(self) -> int:
        return int(self.kv_heads * self.head_dim)

    def trainable(self, stage: str, lora_rank: int = LORA_RANK) -> int:
        """Parameters a fine-tuning stage trains: embeddings (+ untied head), LoRA adapters, or all."""
        if stage == "embeddings":
            return self.vocab_size * self.hidden_size * (1 if self.tied else 2)
        if stage == "lora":
            return self.layers * lora_rank * self.lora_in_out()
        return self.parameters

    def lora_in_out(self) -> int:
        """Sum of (in + out) features over the LoRA-adapted projections of one layer."""
        h, i = self.hidden_size, self.intermediate_size
        sizes = {"q_proj": h + self.q_dim, "k_proj": h + self.kv_dim, "v_proj": h + self.kv_dim,
                 "o_proj": self.q_dim + h, "gate_proj": h + i, "up_proj": h + i, "down_proj": i + h}
        return sum(sizes.get(t, 2 * h) for t in self.family_spec().lora_targets)

    def activations_per_token_layer(self, seq_len: int) -> int:
        """Values kept for backward per token per layer (the family's memory formula)."""
        return self.family_spec().activations_per_token_layer(self, seq_len)

    def family_spec(self):
        from .families import family_or_generic

        return family_or_generic({"architectures": [self.architecture], "model_type": self.model_type})

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("config", None)
        return out


def config_dict(config: Any) -> dict:
    """A config as a plain dict: a dict as is, a folder's config.json, or a transformers config."""
    if isinstance(config, dict):
        return config
    if isinstance(config, (str, Path)):
        path = Path(config)
        path = path / "config.json" if path.is_dir() else path
        return json.loads(path.read_text(encoding="utf-8"))
    if hasattr(config, "to_dict"):
        return config.to_dict()
    raise TypeError(f"not a model config: {type(config).__name__}")


def rope_settings(cfg: dict) -> tuple[float, Optional[dict]]:
    """``(rope_theta, scaling)`` from either spelling: transformers 4's ``rope_theta`` +
    ``rope_scaling`` or 5's ``rope_parameters``. ``scaling`` is None for plain RoPE, else a dict
    with ``rope_type`` (``linear``, ``llama3``, ``yarn``, …) and its parameters."""
    params = cfg.get("rope_parameters") or {}
    scaling = cfg.get("rope_scaling") or {}
    if isinstance(params, dict) and set(params) and all(isinstance(v, dict) for v in params.values()):
        params = params.get("full_attention") or next(iter(params.values()))  # per-layer-type (Gemma-3)
    theta = cfg.get("rope_theta") or params.get("rope_theta") or scaling.get("rope_theta") or 10000.0
    merged = {**params, **scaling}
    kind = merged.get("rope_type") or merged.get("type") or "default"
    if kind == "default":
        return float(theta), None
    merged = {k: v for k, v in merged.items() if k not in ("type", "rope_theta")}
    merged["rope_type"] = kind
    return float(theta), merged


def estimate_parameters(vocab: int, hidden: int, layers: int, heads: int, kv_heads: int, head_dim: int,
                        intermediate: int, tied: bool, *, per_layer_extra: int = 0) -> int:
    """Parameters of a Llama-shaped model from its config (q/k/v/o, SwiGLU MLP, two norms per layer)."""
    per_layer = hidden * head_dim * (2 * heads + 2 * kv_heads) + 3 * hidden * intermediate + 2 * hidden
    return vocab * hidden * (1 if tied else 2) + layers * (per_layer + per_layer_extra) + hidden


def guessed_shape(parameters: int, *, vocab_size: Optional[int] = None, hidden_size: Optional[int] = None,
                  layers: Optional[int] = None, tied: bool = True,
                  intermediate_size: Optional[int] = None) -> ModelShape:
    """A shape when only some numbers are known: Llama proportions for the rest (a rough figure)."""
    hidden = int(hidden_size or max(64, round(math.sqrt(parameters / 350))))
    return ModelShape(parameters=int(parameters), vocab_size=int(vocab_size or 32000), hidden_size=hidden,
                      layers=int(layers or 30), heads=max(1, hidden // 64),
                      intermediate_size=int(intermediate_size or round(hidden * 8 / 3)), tied=bool(tied))
