"""Gemma-2 and Gemma-3 (text) — llama.cpp's ``gemma2`` and ``gemma3`` architectures.

What differs from Llama, and where llama.cpp expects it (its ``gemma2``/``gemma3`` graphs and
the conversion rules its converter applies; checked here by logits against torch in tests):

- **Norms stored +1.** HF's Gemma RMSNorm computes ``x · (1 + w)`` and saves ``w``; llama.cpp
  multiplies by the stored tensor, so every norm (attention, post-attention, pre/post
  feed-forward, final, and Gemma-3's per-head q/k norms) is written as ``1 + w``
  (:meth:`GemmaFamily.transform`) and read back as ``stored − 1`` by transformers' GGUF reader.
- **Embeddings scaled by √hidden** at run time: both HF and llama.cpp do it themselves; the
  table is written as it is.
- **NeoX RoPE**: HF and llama.cpp both rotate halves, so q/k get no permutation.
- **Four norms per layer**: ``post_attention_layernorm`` is a *post*-attention norm here
  (``post_attention_norm``), ``pre_feedforward_layernorm`` is llama.cpp's ``ffn_norm``; the
  ``gguf`` package's name map for the architecture knows this.
- **Attention scale**: llama.cpp uses 1/√head_dim (the 27B models are special-cased by layer
  count), so a config whose ``query_pre_attn_scalar`` is not ``head_dim`` is refused.
- **Sliding-window layers**: llama.cpp fixes the pattern (Gemma-2: every other layer local,
  starting with the first; Gemma-3: five local then one global) and reads only the window size;
  a config whose ``layer_types`` differ is refused. Gemma-3's local layers use RoPE base
  10,000 in llama.cpp whatever the file says, so another local base is refused too.
- **Soft-capping** (Gemma-2): attention logits capped at 50 and final logits at 30 in the
  released models, written as ``attn_logit_softcapping``/``final_logit_softcapping``. Gemma-3
  has none (llama.cpp's gemma3 graph applies none), so a Gemma-3 config with one is refused.
- **Tied embeddings** (every Gemma), ``head_dim`` from the config (256 where hidden/heads is
  160 for Gemma-3-270M), GELU-tanh MLP.
- **Chat**: ``<start_of_turn>role\\n … <end_of_turn>\\n``; a turn ends with ``<end_of_turn>``.
  Base checkpoints (the embedded Gemma-3-270M) ship no chat template, so the family supplies
  the Gemma turn format (:data:`GEMMA_CHAT_TEMPLATE`) when the source has none.
- **Tokenizer**: SentencePiece (BPE, byte fallback, no dummy prefix, digits split); the
  target tokenizer is the SentencePiece kind (:mod:`kit.tokenizer.spm`).

Multimodal Gemma-3 checkpoints (4B and up: ``Gemma3ForConditionalGeneration``) are refused at
``model add``; the text-only ``Gemma3ForCausalLM`` ones (270M, 1B) and their GGUFs are taken.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from . import Family, register
from ..shape import ModelShape

# Gemma's turn format, written for the kit (the released instruct templates say the same: a
# system message is folded into the first user turn, the assistant role is called "model").
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% set ns = namespace(system='') %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
    "{% else %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + ns.system + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% set ns.system = '' %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
LOCAL_ROPE_BASE = 10000.0   # llama.cpp's fixed RoPE base for Gemma-3's sliding-window layers
ACTIVATIONS = ("gelu_pytorch_tanh", "gelu_tanh")


class GemmaFamily(Family):
    """What Gemma-2 and Gemma-3 share; the two subclasses say what differs."""

    rope_permute = False
    end_of_turn = ("<end_of_turn>",)
    chat_specials = ("<start_of_turn>", "<end_of_turn>")   # tokens a new vocabulary must keep to chat
    default_chat_template = GEMMA_CHAT_TEMPLATE
    licence_note = ("Gemma is provided under and subject to the Gemma Terms of Use "
                    "(https://ai.google.dev/gemma/terms); a model adapted from it is a Model Derivative "
                    "and carries the same terms and use restrictions.")
    swa_period = 2              # llama.cpp: layer i is global when (i + 1) % period == 0
    required_block_tensors = Family.required_block_tensors + (
        "attn_norm.weight", "post_attention_norm.weight", "ffn_norm.weight", "post_ffw_norm.weight")

    _NORM_KINDS = ("ATTN_NORM", "ATTN_POST_NORM", "FFN_NORM", "FFN_PRE_NORM", "FFN_POST_NORM",
                   "OUTPUT_NORM", "ATTN_Q_NORM", "ATTN_K_NORM")

    # -- shape ---------------------------------------------------------------------------------

    def shape_from_config(self, cfg: dict) -> ModelShape:
        cfg = dict(cfg)
        cfg.setdefault("tie_word_embeddings", True)   # Gemma configs leave it to the class default
        return super().shape_from_config(cfg)

    def extra_parameters_per_layer(self, heads: int, kv_heads: int, head_dim: int, hidden: int) -> int:
        return 2 * hidden   # pre- and post-feed-forward norms beside the two Llama ones

    def shape_from_gguf(self, meta: dict, tensors: dict[str, list[int]]) -> ModelShape:
        shape = super().shape_from_gguf(meta, tensors)
        arch = str(meta.get("general.architecture"))
        config = {"query_pre_attn_scalar": shape.head_dim, "hidden_activation": "gelu_pytorch_tanh",
                  "sliding_window": meta.get(f"{arch}.attention.sliding_window")}
        return replace(shape, tied=True, config={**shape.config, **config})

    def expected_layer_types(self, layers: int) -> list[str]:
        return ["full_attention" if (i + 1) % self.swa_period == 0 else "sliding_attention"
                for i in range(layers)]

    # -- refusals ------------------------------------------------------------------------------

    def refuse(self, shape: ModelShape) -> Optional[str]:
        cfg = shape.config
        if cfg.get("hidden_activation", cfg.get("hidden_act", "gelu_pytorch_tanh")) not in ACTIVATIONS:
            return f"activation {cfg.get('hidden_activation') or cfg.get('hidden_act')!r} is not Gemma's GELU-tanh"
        scalar = cfg.get("query_pre_attn_scalar", shape.head_dim)
        if scalar is not None and int(scalar) != int(shape.head_dim):
            return (f"query_pre_attn_scalar {scalar} differs from head_dim {shape.head_dim} (the 27B models); "
                    "llama.cpp scales attention by 1/sqrt(head_dim)")
        types = cfg.get("layer_types")
        if types and list(types) != self.expected_layer_types(shape.layers):
            return (f"sliding-window layer pattern {types} is not the one llama.cpp runs for {self.gguf_arch} "
                    f"(one global layer every {self.swa_period})")
        if cfg.get("use_bidirectional_attention"):
            return "bidirectional attention (an embedding model) is not a chat model"
        if not shape.tied:
            return "an untied output head is not how llama.cpp runs Gemma"
        return super().refuse(shape)

    # -- GGUF ------------------------------------------------------------------------------------

    def add_hparams(self, w, shape: ModelShape) -> None:
        super().add_hparams(w, shape)
        window = shape.config.get("sliding_window")
        if window:
            w.add_sliding_window(int(window))

    def transform(self, kind, hf_name: str, data, shape: ModelShape):
        """Norm weights as ``1 + w`` (HF's Gemma RMSNorm multiplies by ``1 + w``, llama.cpp by the tensor)."""
        if kind is not None and kind.name in self._NORM_KINDS:
            return data + 1.0
        return super().transform(kind, hf_name, data, shape)

    def hf_config_from_gguf(self, config: dict, meta: dict, tensors: dict[str, list[int]]) -> dict:
        """What transformers' GGUF reader leaves at its class defaults: the attention scale (256 by
        default, llama.cpp's is head_dim) and the soft-caps (Gemma-2)."""
        arch = str(meta.get("general.architecture"))
        config = dict(config)
        head_dim = meta.get(f"{arch}.attention.key_length") or config.get("head_dim")
        if head_dim:
            config["head_dim"] = int(head_dim)
            config["query_pre_attn_scalar"] = int(head_dim)
        config["tie_word_embeddings"] = True
        return config


@register
class Gemma2Family(GemmaFamily):
    name = "gemma2"
    title = "Gemma-2"
    hf_architectures = ("Gemma2ForCausalLM",)
    model_types = ("gemma2",)
    gguf_arch = "gemma2"
    rope_types = ()
    examples = "Gemma-2 2B/9B (-it)"
    swa_period = 2

    def refuse(self, shape: ModelShape) -> Optional[str]:
        cfg = shape.config
        for key in ("attn_logit_softcapping", "final_logit_softcapping"):
            if not cfg.get(key):
                return (f"{key} is unset; llama.cpp's gemma2 always soft-caps (50 and 30 in the released "
                        "models), so logits would differ")
        return super().refuse(shape)

    def add_hparams(self, w, shape: ModelShape) -> None:
        super().add_hparams(w, shape)
        w.add_attn_logit_softcapping(float(shape.config["attn_logit_softcapping"]))
        w.add_final_logit_softcapping(float(shape.config["final_logit_softcapping"]))

    def shape_from_gguf(self, meta: dict, tensors: dict[str, list[int]]) -> ModelShape:
        shape = super().shape_from_gguf(meta, tensors)
        caps = {"attn_logit_softcapping": float(meta.get("gemma2.attn_logit_softcapping") or 50.0),
                "final_logit_softcapping": float(meta.get("gemma2.final_logit_softcapping") or 30.0)}
        return replace(shape, config={**shape.config, **caps})

    def hf_config_from_gguf(self, config: dict, meta: dict, tensors: dict[str, list[int]]) -> dict:
        config = super().hf_config_from_gguf(config, meta, tensors)
        config["attn_logit_softcapping"] = float(meta.get("gemma2.attn_logit_softcapping") or 50.0)
        config["final_logit_softcapping"] = float(meta.get("gemma2.final_logit_softcapping") or 30.0)
        return config


@register
class Gemma3Family(GemmaFamily):
    name = "gemma3"
    title = "Gemma-3"
    hf_architectures = ("Gemma3ForCausalLM",)
    model_types = ("gemma3_text",)
    gguf_arch = "gemma3"
    rope_types = ("linear",)
    examples = "Gemma-3 270M/1B (-it); the embedded gemma3-270m"
    swa_period = 6
    required_block_tensors = GemmaFamily.required_block_tensors + ("attn_q_norm.weight", "attn_k_norm.weight")

    def extra_parameters_per_layer(self, heads: int, kv_heads: int, head_dim: int, hidden: int) -> int:
        return 2 * hidden + 2 * head_dim   # + q_norm, k_norm

    def refuse(self, shape: ModelShape) -> Optional[str]:
        cfg = shape.config
        for key in ("attn_logit_softcapping", "final_logit_softcapping"):
            if cfg.get(key):
                return f"{key} is set, but llama.cpp's gemma3 applies no soft-capping"
        local = local_rope_base(cfg)
        if local is not None and float(local) != LOCAL_ROPE_BASE:
            return f"local-layer RoPE base {local} (llama.cpp's gemma3 uses {LOCAL_ROPE_BASE:g})"
        return super().refuse(shape)

    def hf_config_from_gguf(self, config: dict, meta: dict, tensors: dict[str, list[int]]) -> dict:
        config = super().hf_config_from_gguf(config, meta, tensors)
        kind, factor = meta.get("gemma3.rope.scaling.type"), meta.get("gemma3.rope.scaling.factor")
        params = config.get("rope_parameters")
        if kind == "linear" and factor and isinstance(params, dict) and isinstance(params.get("full_attention"), dict):
            params = {k: dict(v) for k, v in params.items()}
            params["full_attention"].update(rope_type="linear", factor=float(factor))
            config["rope_parameters"] = params
        return config


def local_rope_base(cfg: dict) -> Optional[float]:
    """The RoPE base of Gemma-3's sliding-window layers, in transformers 4's or 5's spelling."""
    params = cfg.get("rope_parameters") or {}
    local = params.get("sliding_attention") if isinstance(params, dict) else None
    if isinstance(local, dict) and local.get("rope_theta") is not None:
        return float(local["rope_theta"])
    value = cfg.get("rope_local_base_freq")
    return float(value) if value is not None else None
