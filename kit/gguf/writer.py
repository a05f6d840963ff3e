"""A Llama-family HF model folder written as one GGUF file llama.cpp can run.

Why our own writer: llama.cpp's ``convert_hf_to_gguf.py`` refuses tokenizers it has not
seen (it identifies them by hashing), and every trans-tokenized model has a new one. The
weights side is small and fixed for the Llama family, so the kit writes it directly with
the ``gguf`` package:

- tensor names as llama.cpp's loader expects (``token_embd``, ``blk.N.attn_q`` …);
- q/k rows permuted from HF's rotate-half RoPE layout back to llama.cpp's interleaved one
  (k with the KV-head count, which differs under grouped-query attention);
- 1-D tensors (RMS norms) kept F32, matrices F16 or F32;
- ``lm_head`` skipped when tied to the embeddings (llama.cpp reuses ``token_embd``);
- the tokenizer (:mod:`kit.gguf.vocab`) and a model card in the metadata.

Tensors are streamed one at a time into a temp file that is renamed when complete.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import __version__
from ..errors import TaalkitError
from ..fsutil import atomic_path, require_free_disk
from ..progress import CancelToken, ProgressCallback, emit
from .vocab import GgufVocab, read_vocab

LLAMA_ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM")
WRITE_TYPES = ("F32", "F16")

# HF parameter name (inside a layer) -> llama.cpp tensor name.
_LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_TOP_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.(.+)$")
_IGNORED = re.compile(r"(rotary_emb\.inv_freq)$")


@dataclass
class ModelCard:
    """What the GGUF says about itself (``general.*`` and ``taalkit.*`` keys)."""

    name: str
    languages: list[str] = field(default_factory=list)
    base_models: list[str] = field(default_factory=list)
    licence: Optional[str] = None
    description: Optional[str] = None
    dictionaries: list[str] = field(default_factory=list)
    corpora: list[str] = field(default_factory=list)
    kit_version: str = __version__


@dataclass
class PlannedTensor:
    gguf_name: str
    hf_name: str
    shape: tuple[int, ...]
    permute_heads: Optional[int] = None   # q/k: heads to un-rotate over


@dataclass
class LlamaLayout:
    """The hyper-parameters llama.cpp needs, read from config.json."""

    n_vocab: int
    n_embd: int
    n_ff: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ctx: int
    rope_theta: float
    rms_eps: float
    tied: bool
    rope_scaling: Optional[dict]

    @classmethod
    def from_config(cls, model_dir: Path) -> "LlamaLayout":
        path = Path(model_dir) / "config.json"
        if not path.exists():
            raise TaalkitError(f"{model_dir}: no config.json; not a Hugging Face model folder")
        cfg = json.loads(path.read_text(encoding="utf-8"))
        archs = cfg.get("architectures") or []
        if not any(a in LLAMA_ARCHITECTURES for a in archs):
            raise TaalkitError(f"{path}: architecture {archs or cfg.get('model_type')} is not in the "
                               f"Llama family the GGUF writer supports ({', '.join(LLAMA_ARCHITECTURES)})")
        if cfg.get("attention_bias") or cfg.get("mlp_bias"):
            raise TaalkitError(f"{path}: Llama variants with attention/MLP biases are not supported")
        rope = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
        theta = cfg.get("rope_theta") or rope.get("rope_theta") or 10000.0
        scaling = None
        kind = rope.get("rope_type") or rope.get("type") or "default"
        if kind == "linear":
            scaling = {"type": "linear", "factor": float(rope["factor"])}
        elif kind != "default":
            raise TaalkitError(f"{path}: RoPE scaling {kind!r} is not supported by the GGUF writer")
        n_head = int(cfg["num_attention_heads"])
        n_embd = int(cfg["hidden_size"])
        return cls(
            n_vocab=int(cfg["vocab_size"]), n_embd=n_embd, n_ff=int(cfg["intermediate_size"]),
            n_layer=int(cfg["num_hidden_layers"]), n_head=n_head,
            n_head_kv=int(cfg.get("num_key_value_heads") or n_head),
            head_dim=int(cfg.get("head_dim") or n_embd // n_head),
            n_ctx=int(cfg.get("max_position_embeddings") or 2048), rope_theta=float(theta),
            rms_eps=float(cfg.get("rms_norm_eps") or 1e-6),
            tied=bool(cfg.get("tie_word_embeddings", False)), rope_scaling=scaling,
        )


def _weight_files(model_dir: Path) -> list[Path]:
    """The safetensors files transformers would load: the index's shards, else ``model.safetensors``.

    Other ``.safetensors`` files in the folder (e.g. the source embeddings a trans-tokenized
    model keeps beside its weights) are not part of the model and are ignored.
    """
    model_dir = Path(model_dir)
    index = model_dir / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        missing = [s for s in shards if not (model_dir / s).exists()]
        if missing:
            raise TaalkitError(f"{model_dir}: weight shard {missing[0]} named in {index.name} is missing")
        return [model_dir / s for s in shards]
    single = model_dir / "model.safetensors"
    if single.exists():
        return [single]
    shards = sorted(model_dir.glob("model-*-of-*.safetensors"))
    if not shards:
        raise TaalkitError(f"{model_dir}: no model.safetensors; save the model with safe_serialization=True")
    return shards


def plan_tensors(model_dir: Path, layout: Optional[LlamaLayout] = None) -> tuple[list[PlannedTensor], dict[str, Path]]:
    """Which HF tensors become which GGUF tensors, in the order they are written.

    Reads only the safetensors headers. Returns the plan and ``hf_name -> file``.
    """
    from safetensors import safe_open

    layout = layout or LlamaLayout.from_config(model_dir)
    where: dict[str, Path] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for f in _weight_files(model_dir):
        with safe_open(str(f), framework="pt") as st:
            for key in st.keys():
                where[key] = f
                shapes[key] = tuple(st.get_slice(key).get_shape())
    plan: list[PlannedTensor] = []
    unknown = []
    layers: dict[int, list[PlannedTensor]] = {}
    top: dict[str, PlannedTensor] = {}
    for key, shape in shapes.items():
        if _IGNORED.search(key):
            continue
        if key in _TOP_TENSORS:
            if key == "lm_head.weight" and layout.tied:
                continue  # tied: llama.cpp reuses token_embd for the output
            top[key] = PlannedTensor(_TOP_TENSORS[key], key, shape)
            continue
        m = _LAYER_RE.match(key)
        if m and m.group(2) in _LAYER_TENSORS:
            i = int(m.group(1))
            heads = (layout.n_head if m.group(2).startswith("self_attn.q_proj")
                     else layout.n_head_kv if m.group(2).startswith("self_attn.k_proj") else None)
            layers.setdefault(i, []).append(
                PlannedTensor(f"blk.{i}.{_LAYER_TENSORS[m.group(2)]}", key, shape, heads))
            continue
        unknown.append(key)
    if unknown:
        raise TaalkitError(f"{model_dir}: tensors the Llama GGUF writer does not know: {', '.join(unknown[:5])}")
    if "model.embed_tokens.weight" not in top:
        raise TaalkitError(f"{model_dir}: no model.embed_tokens.weight; not a Llama-family checkpoint")
    if not layout.tied and "lm_head.weight" not in top:
        raise TaalkitError(f"{model_dir}: config says untied embeddings but there is no lm_head.weight")
    if sorted(layers) != list(range(layout.n_layer)) or any(len(v) != len(_LAYER_TENSORS) for v in layers.values()):
        raise TaalkitError(f"{model_dir}: expected {layout.n_layer} complete layers in the weights")
    plan.append(top["model.embed_tokens.weight"])
    for i in range(layout.n_layer):
        order = list(_LAYER_TENSORS.values())
        plan.extend(sorted(layers[i], key=lambda t: order.index(t.gguf_name.split(".", 2)[2])))
    plan.append(top["model.norm.weight"])
    if "lm_head.weight" in top:
        plan.append(top["lm_head.weight"])
    return plan, where


def unrotate(weights, n_heads: int):
    """HF's q/k rows (rotate-half RoPE) reordered to llama.cpp's interleaved RoPE pairs.

    Within each head, HF keeps the two halves of each rotated pair ``head_dim/2`` apart;
    llama.cpp wants them adjacent. Reshape to (heads, 2, half, …), swap, flatten back.
    """
    rows = weights.shape[0]
    if rows % (2 * n_heads):
        raise TaalkitError(f"cannot un-rotate {rows} rows over {n_heads} heads")
    return (weights.reshape(n_heads, 2, rows // n_heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def estimate_bytes(plan: list[PlannedTensor], out_type: str) -> int:
    """Bytes of tensor data a ``F32``/``F16`` file holds (norms always F32)."""
    total = 0
    for t in plan:
        n = 1
        for d in t.shape:
            n *= d
        total += n * (4 if len(t.shape) == 1 or out_type == "F32" else 2)
    return total


def write_gguf(model_dir: Path, out: Path, *, out_type: str = "F16", card: Optional[ModelCard] = None,
               progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Write ``model_dir`` (HF Llama-family folder) to ``out`` as an F16 or F32 GGUF.

    Returns ``{"path", "out_type", "tensors", "bytes", "pre", "vocab_size"}``. Nothing appears
    at ``out`` unless the whole file was written.
    """
    import numpy as np
    import gguf
    from safetensors import safe_open

    out_type = out_type.upper()
    if out_type not in WRITE_TYPES:
        raise TaalkitError(f"the writer produces {' or '.join(WRITE_TYPES)}; quantize from that for {out_type}")
    model_dir, out = Path(model_dir), Path(out)
    layout = LlamaLayout.from_config(model_dir)
    plan, where = plan_tensors(model_dir, layout)
    vocab = read_vocab(model_dir, layout.n_vocab)
    need = estimate_bytes(plan, out_type) + 64 * len(vocab.tokens) + 16 * 2**20
    require_free_disk(out.parent, need, f"the {out_type} GGUF")

    card = card or ModelCard(name=model_dir.name)
    ftype = gguf.LlamaFileType.ALL_F32 if out_type == "F32" else gguf.LlamaFileType.MOSTLY_F16
    total = len(plan)
    emit(progress, "export", 0, total, f"writing {out.name}")
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(tmp, "llama")
        try:
            _add_hparams(writer, layout, ftype)
            _add_card(writer, card)
            _add_vocab(writer, vocab)
            for t in plan:
                dtype = np.float32 if (len(t.shape) == 1 or out_type == "F32") else np.float16
                n = int(np.prod(t.shape)) * np.dtype(dtype).itemsize
                writer.add_tensor_info(t.gguf_name, t.shape, np.dtype(dtype), n)
            writer.write_header_to_file(tmp)
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
            handles: dict[Path, object] = {}
            try:
                for i, t in enumerate(plan, 1):
                    if cancel is not None:
                        cancel.check()
                    f = where[t.hf_name]
                    if f not in handles:
                        handles[f] = safe_open(str(f), framework="pt").__enter__()
                    data = handles[f].get_tensor(t.hf_name).float().numpy()
                    if t.permute_heads:
                        data = unrotate(data, t.permute_heads)
                    dtype = np.float32 if (data.ndim == 1 or out_type == "F32") else np.float16
                    writer.write_tensor_data(np.ascontiguousarray(data.astype(dtype)))
                    emit(progress, "export", i, total, t.gguf_name)
            finally:
                for h in handles.values():
                    h.__exit__(None, None, None)
        finally:
            writer.close()
    return {"path": str(out), "out_type": out_type, "tensors": total, "bytes": out.stat().st_size,
            "pre": vocab.pre, "vocab_size": vocab.size}


def _add_hparams(w, layout: LlamaLayout, ftype) -> None:
    import gguf

    w.add_type("model")
    w.add_vocab_size(layout.n_vocab)
    w.add_context_length(layout.n_ctx)
    w.add_embedding_length(layout.n_embd)
    w.add_feed_forward_length(layout.n_ff)
    w.add_block_count(layout.n_layer)
    w.add_head_count(layout.n_head)
    w.add_head_count_kv(layout.n_head_kv)
    w.add_rope_freq_base(layout.rope_theta)
    w.add_layer_norm_rms_eps(layout.rms_eps)
    w.add_rope_dimension_count(layout.head_dim)
    if layout.head_dim != layout.n_embd // layout.n_head:
        w.add_key_length(layout.head_dim)
        w.add_value_length(layout.head_dim)
    if layout.rope_scaling:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(layout.rope_scaling["factor"])
    w.add_file_type(ftype)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _add_card(w, card: ModelCard) -> None:
    w.add_name(card.name)
    if card.description:
        w.add_description(card.description)
    if card.licence:
        w.add_license(card.licence)
    if card.languages:
        w.add_languages(card.languages)
    if card.base_models:
        w.add_base_model_count(len(card.base_models))
        for i, base in enumerate(card.base_models):
            w.add_base_model_name(i, base)
    if card.corpora and hasattr(w, "add_dataset_count"):  # general.dataset.* arrived in gguf 0.14
        w.add_dataset_count(len(card.corpora))
        for i, corpus in enumerate(card.corpora):
            w.add_dataset_name(i, corpus)
    w.add_string("taalkit.version", card.kit_version)
    w.add_array("taalkit.dictionaries", card.dictionaries)
    w.add_array("taalkit.corpora", card.corpora)


def _add_vocab(w, vocab: GgufVocab) -> None:
    w.add_tokenizer_model(vocab.model)
    if vocab.pre:
        w.add_tokenizer_pre(vocab.pre)
    w.add_token_list(vocab.tokens)
    w.add_token_types(vocab.types)
    if vocab.add_space_prefix is not None:
        w.add_add_space_prefix(vocab.add_space_prefix)
    if vocab.scores is not None:
        w.add_token_scores(vocab.scores)
    if vocab.merges:
        w.add_token_merges(vocab.merges)
    for setter, value in ((w.add_bos_token_id, vocab.bos_id), (w.add_eos_token_id, vocab.eos_id),
                          (w.add_unk_token_id, vocab.unk_id), (w.add_pad_token_id, vocab.pad_id)):
        if value is not None:
            setter(value)
    # Written explicitly either way: llama.cpp's default for "gpt2" vocabularies differs by version.
    w.add_add_bos_token(vocab.add_bos)
    w.add_add_eos_token(vocab.add_eos)
    if vocab.chat_template:
        w.add_chat_template(vocab.chat_template)
