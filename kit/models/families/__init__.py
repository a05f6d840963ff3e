"""Model families: the one place that knows how each architecture differs from the others.

Every stage asks this registry instead of testing architecture names itself:
``model add`` refuses what no family supports (naming the family and the supported list),
:class:`kit.models.shape.ModelShape` is read by the family, the GGUF writer asks the family
for its hyper-parameter keys, tensor transforms and extra tensors, the tokenizer trainer asks
which kind of tokenizer to train, fine-tuning asks for the LoRA target modules, and chat for
the end-of-turn tokens. Modelled on llama.cpp's ``convert_hf_to_gguf`` model classes and
Ollama's ``convert_*.go``: a small base class with defaults that fit Llama, and one subclass
per family overriding only what differs.

Tensor *names* are never tabulated here: the writer maps Hugging Face names to GGUF names
with the ``gguf`` package's ``get_tensor_name_map(arch, n_layers)`` and checks the result
against ``gguf.MODEL_TENSORS[arch]`` (every checkpoint tensor must land on a tensor kind the
architecture has), so a new family gets its names from the library llama.cpp itself uses.

How a new family plugs in (``kit/models/families/<name>.py``)::

    from . import Family, register

    @register
    class Phi3Family(Family):
        name = "phi3"                       # registry key, stored as ModelShape.family
        title = "Phi-3"                     # shown in refusals and the README table
        hf_architectures = ("Phi3ForCausalLM",)
        model_types = ("phi3",)
        gguf_arch = "phi3"                  # gguf.MODEL_ARCH_NAMES value llama.cpp loads
        rope_permute = False                # True only for llama-style (interleaved) RoPE
        end_of_turn = ("<|end|>",)

        def refuse(self, shape):            # what the kit cannot do yet -> a reason, else None
            ...
        def add_hparams(self, w, shape):    # GGUF KV beyond the common ones (call super first)
            ...
        def transform(self, kind, hf_name, data, shape):   # numpy array in, numpy array out
            ...

then add the module name to ``FAMILY_MODULES`` below. The hooks, all with Llama defaults:

- ``shape_from_config(cfg)`` / ``shape_from_gguf(meta, tensors)`` -> :class:`ModelShape`;
- ``refuse(shape)`` -> a one-line reason the kit cannot take this model yet, or ``None``;
- ``add_hparams(writer, shape)`` -> the ``{arch}.*`` keys on a ``gguf.GGUFWriter``;
- ``transform(kind, hf_name, data, shape)`` -> the tensor as llama.cpp wants it (``kind`` is the
  ``gguf.MODEL_TENSOR``): the q/k permutation for ``rope_permute`` families, Gemma's norm +1;
- ``extra_tensors(shape)`` -> ``[(gguf_name, float32 array)]`` written after ``token_embd``
  (Llama-3's ``rope_freqs``);
- ``hf_config_from_gguf(config, meta, tensors)`` -> fix-ups to the config transformers' GGUF
  reader rebuilt (what GGUF does not store in a form transformers reads back);
- ``tokenizer_kind(spec)`` -> ``"bpe-bytelevel"`` or ``"spm"``: the kind of target tokenizer to
  train, from the source's ``tokenizer.json``; ``"spm"`` is trained by
  ``kit.tokenizer.spm.build_spm_tokenizer`` (see :mod:`kit.tokenizer.train`);
- ``lora_targets``, ``end_of_turn``, ``activations_per_token_layer(shape, seq_len)`` (the
  memory formula), ``preferred_dtype(device)`` (device policy: the dtype to train in).

This package imports neither torch nor transformers; the ``gguf`` package is imported only
inside the hooks that write tensors.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Optional

from ...errors import TaalkitError
from ..shape import ModelShape, estimate_parameters, rope_settings

TOKENIZER_KINDS = ("bpe-bytelevel", "spm")
LLAMA_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

_REGISTRY: dict[str, "Family"] = {}
# Modules holding families, imported in this order on first use; a missing one is skipped
# (so the registry works while a family is being written).
FAMILY_MODULES = ("llama", "qwen", "gemma")


class Family:
    """Defaults fit Llama: RMSNorm, rotate-half RoPE permuted to llama.cpp's interleaved pairs,
    grouped-query attention, a SwiGLU MLP, tied or untied head."""

    name: str = "generic"
    title: str = "generic"
    hf_architectures: tuple[str, ...] = ()
    model_types: tuple[str, ...] = ()
    gguf_arch: str = "llama"
    gguf_read_archs: tuple[str, ...] = ()    # GGUF architectures read back as this family; default (gguf_arch,)
    gguf_intake: bool = True                 # transformers can dequantize this family's GGUF files
    rope_permute: bool = True
    rope_types: tuple[str, ...] = ("linear",)  # scaling kinds the writer can express, besides plain RoPE
    lora_targets: tuple[str, ...] = LLAMA_LORA_TARGETS
    end_of_turn: tuple[str, ...] = ()
    # GGUF tensors (within a block) llama.cpp's loader requires for this architecture.
    required_block_tensors: tuple[str, ...] = ("attn_q.weight", "attn_k.weight", "attn_v.weight",
                                               "attn_output.weight", "ffn_down.weight", "ffn_up.weight")
    # Checkpoint tensors that are not weights of the model (recomputed by every loader).
    ignored_tensors = re.compile(r"rotary_emb\.inv_freq$")
    examples: str = ""                       # models of the family, for messages and the README

    # -- reading the shape ------------------------------------------------------------------

    def shape_from_config(self, cfg: dict) -> ModelShape:
        hidden = int(cfg.get("hidden_size") or cfg.get("n_embd") or 0)
        heads = int(cfg.get("num_attention_heads") or cfg.get("n_head") or max(1, hidden // 64))
        kv = int(cfg.get("num_key_value_heads") or heads)
        head_dim = int(cfg.get("head_dim") or (hidden // heads if heads else 0))
        layers = int(cfg.get("num_hidden_layers") or cfg.get("n_layer") or 0)
        inter = int(cfg.get("intermediate_size") or 4 * hidden)
        vocab = int(cfg.get("vocab_size") or 0)
        tied = bool(cfg.get("tie_word_embeddings", False))
        theta, scaling = rope_settings(cfg)
        archs = cfg.get("architectures") or []
        arch = archs[0] if archs else (self.hf_architectures[0] if self.hf_architectures else str(cfg.get("model_type")))
        bias = bool(cfg.get("attention_bias", False))
        params = estimate_parameters(vocab, hidden, layers, heads, kv, head_dim, inter, tied,
                                     per_layer_extra=self.extra_parameters_per_layer(heads, kv, head_dim, hidden))
        return ModelShape(
            parameters=params, vocab_size=vocab, hidden_size=hidden, layers=layers, heads=heads,
            intermediate_size=inter, tied=tied, kv_heads=kv, head_dim=head_dim,
            context_length=int(cfg.get("max_position_embeddings") or 2048), rope_theta=theta,
            rope_scaling=scaling, norm_eps=float(cfg.get("rms_norm_eps") or cfg.get("layer_norm_eps") or 1e-6),
            attention_bias=bias, architecture=arch, family=self.name, model_type=cfg.get("model_type"),
            config=dict(cfg))

    def extra_parameters_per_layer(self, heads: int, kv_heads: int, head_dim: int, hidden: int) -> int:
        """Parameters per layer beyond the Llama ones (biases, q/k norms) for config-only counts."""
        return 0

    def shape_from_gguf(self, meta: dict, tensors: dict[str, list[int]]) -> ModelShape:
        """The shape from GGUF metadata (``{arch}.*`` keys) and the tensor table."""
        arch = str(meta.get("general.architecture"))

        def key(name, default=None):
            value = meta.get(f"{arch}.{name}")
            return default if value is None else value

        hidden = int(key("embedding_length", 0))
        heads = int(key("attention.head_count", 1))
        kv = key("attention.head_count_kv", heads)
        kv = int(max(kv) if isinstance(kv, list) else kv)
        head_dim = int(key("attention.key_length", hidden // max(1, heads)))
        vocab = key("vocab_size") or meta.get("tokenizer.ggml.tokens.count")
        if vocab is None and "token_embd.weight" in tensors:
            vocab = max(tensors["token_embd.weight"])
        ff = key("feed_forward_length", 4 * hidden)
        ff = int(max(ff) if isinstance(ff, list) else ff)
        scaling = None
        if key("rope.scaling.type") == "linear" and key("rope.scaling.factor"):
            scaling = {"rope_type": "linear", "factor": float(key("rope.scaling.factor"))}
        from ..source import element_count

        return ModelShape(
            parameters=element_count(tensors.values()), vocab_size=int(vocab or 0), hidden_size=hidden,
            layers=int(key("block_count", 0)), heads=heads, intermediate_size=ff,
            tied="output.weight" not in tensors, kv_heads=kv, head_dim=head_dim,
            context_length=int(key("context_length", 2048)), rope_theta=_f32(key("rope.freq_base", 10000.0)),
            rope_scaling=scaling, norm_eps=_f32(key("attention.layer_norm_rms_epsilon", 1e-6)),
            attention_bias="blk.0.attn_q.bias" in tensors, architecture=self.hf_architectures[0],
            family=self.name, model_type=self.model_types[0] if self.model_types else None)

    # -- what the kit cannot do yet ------------------------------------------------------------

    def refuse(self, shape: ModelShape) -> Optional[str]:
        """A one-line reason this model cannot go through the kit yet, or ``None``."""
        if shape.rope_type != "default" and shape.rope_type not in self.rope_types:
            kinds = ", ".join(("plain",) + self.rope_types)
            return f"RoPE scaling {shape.rope_type!r} is not supported yet (supported: {kinds})"
        return None

    # -- GGUF writing ----------------------------------------------------------------------

    def add_hparams(self, w, shape: ModelShape) -> None:
        """The ``{arch}.*`` hyper-parameters llama.cpp reads for this architecture."""
        import gguf

        w.add_vocab_size(shape.vocab_size)
        w.add_context_length(shape.context_length)
        w.add_embedding_length(shape.hidden_size)
        w.add_feed_forward_length(shape.intermediate_size)
        w.add_block_count(shape.layers)
        w.add_head_count(shape.heads)
        w.add_head_count_kv(shape.kv_heads)
        w.add_rope_freq_base(shape.rope_theta)
        w.add_layer_norm_rms_eps(shape.norm_eps)
        w.add_rope_dimension_count(shape.head_dim)
        if shape.head_dim != shape.hidden_size // shape.heads:
            # llama.cpp assumes hidden/heads unless told (Qwen3, Gemma: head_dim from the config).
            w.add_key_length(shape.head_dim)
            w.add_value_length(shape.head_dim)
        if shape.rope_type == "linear":
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            w.add_rope_scaling_factor(float(shape.rope_scaling["factor"]))

    def transform(self, kind, hf_name: str, data, shape: ModelShape):
        """One tensor (float32 numpy) as llama.cpp wants it; ``kind`` is its ``gguf.MODEL_TENSOR``."""
        import gguf

        if self.rope_permute and hf_name.endswith(".weight"):
            if kind == gguf.MODEL_TENSOR.ATTN_Q:
                return unrotate(data, shape.heads)
            if kind == gguf.MODEL_TENSOR.ATTN_K:
                return unrotate(data, shape.kv_heads)
        return data

    def extra_tensors(self, shape: ModelShape) -> list[tuple[str, Any]]:
        """Tensors llama.cpp needs that the checkpoint does not hold (name, float32 array)."""
        return []

    def hf_config_from_gguf(self, config: dict, meta: dict, tensors: dict[str, list[int]]) -> dict:
        """The config transformers rebuilt from a GGUF, with what it could not read put back.

        Default: ``head_dim`` from ``{arch}.attention.key_length`` (transformers reads it for some
        architectures only; Qwen3's 128 is not hidden/heads).
        """
        key_length = meta.get(f"{meta.get('general.architecture')}.attention.key_length")
        if key_length and config.get("head_dim") != int(key_length):
            config = {**config, "head_dim": int(key_length)}
        return config

    # -- tokenizer, fine-tuning, chat -------------------------------------------------------------

    def tokenizer_kind(self, spec: dict) -> str:
        """The target tokenizer kind for a source whose ``tokenizer.json`` is ``spec``.

        Default: byte-level BPE when the source is byte-level, SentencePiece-kind (``▁`` for
        spaces, byte fallback) when it is SentencePiece-style (Llama-2, Mistral, Gemma).
        """
        return "bpe-bytelevel" if is_byte_level(spec) else "spm"

    def activations_per_token_layer(self, shape: ModelShape, seq_len: int) -> int:
        """Values one layer keeps for backward per token: ~26·hidden + 2·heads·seq (SDPA, no
        dropout masks), calibrated on SmolLM2-135M (see kit.models.memory.estimate_memory)."""
        return 26 * shape.hidden_size + 2 * shape.heads * seq_len

    def preferred_dtype(self, device: str) -> Optional[str]:
        """The dtype to train in on ``device``; ``None`` keeps the kit's default."""
        return None

    def end_of_turn_ids(self, vocab: dict[str, int]) -> list[int]:
        """Ids of this family's end-of-turn tokens present in a vocabulary (token -> id)."""
        return [vocab[t] for t in self.end_of_turn if t in vocab]

    def __repr__(self) -> str:
        return f"<Family {self.name}>"


def _f32(value) -> float:
    """A GGUF float32 as the decimal it was written from (1e-05, not 9.999999747e-06)."""
    return float(f"{float(value):.7g}")


def register(cls):
    """Class decorator: add one instance of ``cls`` to the registry (key ``cls.name``)."""
    family = cls()
    if family.name in _REGISTRY:
        raise RuntimeError(f"model family {family.name!r} registered twice")
    _REGISTRY[family.name] = family
    return cls


def _load() -> dict[str, Family]:
    if not _load.done:
        _load.done = True
        for module in FAMILY_MODULES:
            try:
                importlib.import_module(f"{__name__}.{module}")
            except ModuleNotFoundError as err:
                if err.name != f"{__name__}.{module}":
                    raise
    return _REGISTRY


_load.done = False  # type: ignore[attr-defined]


def families() -> list[Family]:
    """Every registered family, in ``FAMILY_MODULES`` order (then registration order within a module).

    Why not plain registration order: a module imported on its own before the registry loads (``from
    kit.models.families.gemma import …``) registers first, and the supported list in refusals — and
    which family claims an architecture first — would then depend on who imported what."""
    rank = {f"{__name__}.{module}": i for i, module in enumerate(FAMILY_MODULES)}
    return sorted(_load().values(), key=lambda f: rank.get(type(f).__module__, len(rank)))


def get(name: str) -> Family:
    found = _load().get(name)
    if found is None:
        raise TaalkitError(f"unknown model family {name!r}; known: {', '.join(_load())}")
    return found


def supported_text() -> str:
    """The supported list, for refusals: 'Llama / Mistral (…), Qwen2 / Qwen2.5 (…), …'."""
    return "; ".join(f"{f.title} ({', '.join(f.hf_architectures)})" for f in families())


def _by_architecture(arch: Optional[str], model_type: Optional[str]) -> Optional[Family]:
    for family in families():
        if arch and arch in family.hf_architectures:
            return family
    for family in families():
        if not arch and model_type and model_type in family.model_types:
            return family
    return None


def family_for_config(cfg: dict, where: str = "config.json") -> Family:
    """The family of a Hugging Face config, or a one-line refusal naming the supported list."""
    archs = cfg.get("architectures") or []
    arch = archs[0] if archs else None
    model_type = cfg.get("model_type")
    family = _by_architecture(arch, model_type)
    if family is None:
        raise TaalkitError(f"{where}: architecture {arch or model_type or 'unknown'} is not supported yet; "
                           f"supported: {supported_text()}")
    if model_type and family.model_types and model_type not in family.model_types:
        raise TaalkitError(f"{where}: model_type {model_type} does not match {arch} ({family.title}); "
                           f"supported: {supported_text()}")
    return family


def family_or_generic(cfg: dict) -> Family:
    """The family of ``cfg`` if any, else the Llama defaults (for estimates, never refusals)."""
    archs = cfg.get("architectures") or []
    return _by_architecture(archs[0] if archs else None, cfg.get("model_type")) or _GENERIC


def family_reading_gguf(arch: Optional[str]) -> Optional[Family]:
    """The family whose GGUFs carry ``general.architecture`` = ``arch``, or None."""
    return next((f for f in families() if arch in (f.gguf_read_archs or (f.gguf_arch,))), None)


def family_for_gguf(arch: str, where: str = "GGUF") -> Family:
    """The family that reads a GGUF whose ``general.architecture`` is ``arch`` (for model add: refuses)."""
    family = family_reading_gguf(arch)
    if family is None:
        raise TaalkitError(f"{where}: architecture {arch} is not supported yet; supported: {supported_text()}")
    if not family.gguf_intake:
        raise TaalkitError(f"{where}: {family.title} GGUF files cannot be added yet (transformers cannot "
                           f"read them back); add the model's Hugging Face folder instead")
    return family


def check_supported(shape: ModelShape, where: str) -> Family:
    """Refuse, at intake, what the family (or the kit) cannot take all the way to GGUF."""
    family = get(shape.family)
    reason = family.refuse(shape)
    if reason:
        raise TaalkitError(f"{where}: {family.title}: {reason}; supported: {supported_text()}")
    return family


def is_byte_level(spec: dict) -> bool:
    """Whether a ``tokenizer.json`` splits text into bytes first (GPT-2 style byte-level BPE)."""
    pre = spec.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    return any(p.get("type") == "ByteLevel" for p in parts if p)


def unrotate(weights, n_heads: int):
    """HF's q/k rows (rotate-half RoPE) reordered to llama.cpp's interleaved RoPE pairs.

    Within each head, HF keeps the two halves of each rotated pair ``head_dim/2`` apart;
    llama.cpp's "normal" RoPE wants them adjacent. Reshape to (heads, 2, half, …), swap,
    flatten back. NeoX-style families (Qwen, Gemma) rotate halves in llama.cpp too and
    must not get this.
    """
    rows = weights.shape[0]
    if rows % (2 * n_heads):
        raise TaalkitError(f"cannot un-rotate {rows} rows over {n_heads} heads")
    return (weights.reshape(n_heads, 2, rows // n_heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


_GENERIC = Family()
