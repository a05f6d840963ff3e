"""A HF model folder of a supported family written as one GGUF file llama.cpp can run.

Why our own writer: llama.cpp's ``convert_hf_to_gguf.py`` refuses tokenizers it has not
seen (it identifies them by hashing), and every trans-tokenized model has a new one. The
weights side is small once the family is known, so the kit writes it directly with the
``gguf`` package, asking the family (:mod:`kit.models.families`) what differs:

- tensor names from ``gguf.get_tensor_name_map`` for the family's architecture, checked
  against ``gguf.MODEL_TENSORS`` (nothing dropped silently, every layer complete);
- the family's hyper-parameter keys, tensor transforms (Llama's q/k RoPE permutation, none
  for NeoX-style Qwen) and computed tensors (Llama-3's ``rope_freqs``);
- 1-D tensors (norms, biases) kept F32, matrices F16 or F32;
- ``lm_head`` skipped when tied to the embeddings (llama.cpp reuses ``token_embd``);
- the tokenizer (:mod:`kit.gguf.vocab`) with its chat template and end-of-turn token, and a
  model card in the metadata.

Tensors are streamed one at a time into a temp file that is renamed when complete.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .. import __version__
from ..errors import TaalkitError
from ..fsutil import atomic_path, require_free_disk
from ..models.families import Family
from ..models.shape import ModelShape
from ..progress import CancelToken, ProgressCallback, emit
from .vocab import GgufVocab, read_vocab

WRITE_TYPES = ("F32", "F16")


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
    hf_name: Optional[str]               # None for tensors the family computes (rope_freqs)
    shape: tuple[int, ...]
    kind: Any = None                     # gguf.MODEL_TENSOR
    data: Any = None                     # float32 array of a computed tensor


def read_shape(model_dir: Path) -> tuple[ModelShape, Family]:
    """The model's shape and family from ``config.json``; a one-line refusal for what cannot be written."""
    from ..models.source import read_hf_config

    path = Path(model_dir) / "config.json"
    _cfg, family, shape = read_hf_config(model_dir, missing=f"{model_dir}: no config.json; not a Hugging Face model folder")
    reason = family.refuse(shape)
    if reason:
        raise TaalkitError(f"{path}: {family.title}: {reason}; the GGUF writer cannot write it")
    return shape, family


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


def _arch(family: Family):
    """The ``gguf.MODEL_ARCH`` of a family's GGUF architecture name."""
    import gguf

    for arch, name in gguf.MODEL_ARCH_NAMES.items():
        if name == family.gguf_arch:
            return arch
    raise TaalkitError(f"the installed gguf package does not know the {family.gguf_arch!r} architecture; "
                       "upgrade it with 'pip install -U gguf'")


def plan_tensors(model_dir: Path, shape: Optional[ModelShape] = None,
                 family: Optional[Family] = None) -> tuple[list[PlannedTensor], dict[str, Path]]:
    """Which HF tensors become which GGUF tensors, in the order they are written.

    Names come from the ``gguf`` package's map for the family's architecture (the one
    llama.cpp's converter uses); every checkpoint tensor must map onto a tensor kind of
    ``gguf.MODEL_TENSORS[arch]``, and every layer must hold the same tensors, so nothing is
    silently dropped. Reads only the safetensors headers. Returns the plan and ``hf_name -> file``.
    """
    import gguf

    from ..models.source import safetensors_index

    if shape is None or family is None:
        shape, family = read_shape(model_dir)
    arch = _arch(family)
    names = gguf.get_tensor_name_map(arch, shape.layers)
    kinds = list(gguf.MODEL_TENSORS[arch])
    index = safetensors_index(_weight_files(model_dir))
    where: dict[str, Path] = {key: f for key, (_shape, f) in index.items()}
    shapes: dict[str, tuple[int, ...]] = {key: tuple(dims) for key, (dims, _f) in index.items()}
    unknown = []
    top: dict[str, PlannedTensor] = {}
    layers: dict[int, list[PlannedTensor]] = {}
    for key, dims in shapes.items():
        if family.ignored_tensors.search(key):
            continue
        if key == "lm_head.weight" and shape.tied:
            continue  # tied: llama.cpp reuses token_embd for the output
        found = names.get_type_and_name(key, try_suffixes=(".weight", ".bias"))
        if found is None or found[0] not in kinds:
            unknown.append(key)
            continue
        kind, name = found
        planned = PlannedTensor(name, key, dims, kind)
        m = _BLOCK_RE.match(name)
        if m:
            layers.setdefault(int(m.group(1)), []).append(planned)
        else:
            top[name] = planned
    where_txt = f"{model_dir} ({family.title})"
    if unknown:
        raise TaalkitError(f"{where_txt}: tensors the GGUF writer does not know for {family.gguf_arch}: "
                           f"{', '.join(unknown[:5])}")
    if "token_embd.weight" not in top:
        raise TaalkitError(f"{where_txt}: no token embedding table (model.embed_tokens.weight)")
    if not shape.tied and "output.weight" not in top:
        raise TaalkitError(f"{where_txt}: config says untied embeddings but there is no lm_head.weight")
    if sorted(layers) != list(range(shape.layers)):
        raise TaalkitError(f"{where_txt}: expected {shape.layers} layers in the weights, found {len(layers)}")
    first = sorted(_in_block(t.gguf_name) for t in layers[0])
    for i, block in layers.items():
        if sorted(_in_block(t.gguf_name) for t in block) != first:
            raise TaalkitError(f"{where_txt}: layer {i} does not hold the same tensors as layer 0")
    missing = [n for n in family.required_block_tensors if n not in first]
    if missing:
        raise TaalkitError(f"{where_txt}: layers lack {', '.join(missing)}, which llama.cpp's "
                           f"{family.gguf_arch} needs")

    def order(t: PlannedTensor):
        return (kinds.index(t.kind), t.gguf_name.endswith(".bias"))

    plan = [top.pop("token_embd.weight")]
    for name, data in family.extra_tensors(shape):
        plan.append(PlannedTensor(name, None, tuple(data.shape), None, data))
    for i in range(shape.layers):
        plan.extend(sorted(layers[i], key=order))
    plan.extend(sorted(top.values(), key=order))
    return plan, where


_BLOCK_RE = re.compile(r"^blk\.(\d+)\.")


def _in_block(name: str) -> str:
    return name.split(".", 2)[2]


def unrotate(weights, n_heads: int):
    """See :func:`kit.models.families.unrotate` (the Llama family's q/k permutation)."""
    from ..models.families import unrotate as _unrotate

    return _unrotate(weights, n_heads)


def estimate_bytes(plan: list[PlannedTensor], out_type: str) -> int:
    """Bytes of tensor data a ``F32``/``F16`` file holds (1-D tensors always F32)."""
    total = 0
    for t in plan:
        n = 1
        for d in t.shape:
            n *= d
        total += n * (4 if len(t.shape) == 1 or out_type == "F32" else 2)
    return total


def write_gguf(model_dir: Path, out: Path, *, out_type: str = "F16", card: Optional[ModelCard] = None,
               progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
               shape: Optional[ModelShape] = None, vocab: Optional[GgufVocab] = None,
               replace: Optional[dict] = None, metadata: Optional[dict] = None) -> dict:
    """Write ``model_dir`` (a HF folder of a supported family) to ``out`` as an F16 or F32 GGUF.

    Returns ``{"path", "out_type", "tensors", "bytes", "pre", "vocab_size", "family", "eot_id"}``.
    Nothing appears at ``out`` unless the whole file was written.

    The Hydra export (kit.gguf.hydra) writes the same body with other tables: ``shape`` and
    ``vocab`` replace the folder's, ``replace`` maps GGUF tensor names to float32 arrays written
    instead of the checkpoint's (their shape may differ), ``metadata`` adds string or integer keys.
    """
    import numpy as np
    import gguf
    from safetensors import safe_open

    out_type = out_type.upper()
    if out_type not in WRITE_TYPES:
        raise TaalkitError(f"the writer produces {' or '.join(WRITE_TYPES)}; quantize from that for {out_type}")
    model_dir, out = Path(model_dir), Path(out)
    folder_shape, family = read_shape(model_dir)
    shape = shape or folder_shape
    plan, where = plan_tensors(model_dir, shape, family)
    replace = replace or {}
    for t in plan:
        if t.gguf_name in replace:
            t.shape = tuple(replace[t.gguf_name].shape)
    vocab = vocab or read_vocab(model_dir, shape.vocab_size)
    eot = family.end_of_turn_ids({tok: i for i, tok in enumerate(vocab.tokens)})
    vocab.eot_id = eot[0] if eot else None
    # A base checkpoint without a template (Gemma-3-270M) chats in its family's format.
    vocab.chat_template = vocab.chat_template or getattr(family, "default_chat_template", None)
    need = estimate_bytes(plan, out_type) + 64 * len(vocab.tokens) + 16 * 2**20
    require_free_disk(out.parent, need, f"the {out_type} GGUF")

    card = card or ModelCard(name=model_dir.name)
    ftype = gguf.LlamaFileType.ALL_F32 if out_type == "F32" else gguf.LlamaFileType.MOSTLY_F16
    total = len(plan)
    emit(progress, "export", 0, total, f"writing {out.name}")
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(tmp, family.gguf_arch)
        try:
            writer.add_type("model")
            family.add_hparams(writer, shape)
            writer.add_file_type(ftype)
            writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
            _add_card(writer, card)
            _add_vocab(writer, vocab)
            for key, value in (metadata or {}).items():
                (writer.add_uint32 if isinstance(value, int) else writer.add_string)(key, value)
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
                    if t.gguf_name in replace:
                        data = family.transform(t.kind, t.hf_name, np.asarray(replace[t.gguf_name], np.float32), shape)
                    elif t.hf_name is None:
                        data = np.asarray(t.data, dtype=np.float32)
                    else:
                        f = where[t.hf_name]
                        if f not in handles:
                            handles[f] = safe_open(str(f), framework="pt").__enter__()
                        data = handles[f].get_tensor(t.hf_name).float().numpy()
                        data = family.transform(t.kind, t.hf_name, data, shape)
                    dtype = np.float32 if (data.ndim == 1 or out_type == "F32") else np.float16
                    writer.write_tensor_data(np.ascontiguousarray(data.astype(dtype)))
                    emit(progress, "export", i, total, t.gguf_name)
            finally:
                for h in handles.values():
                    h.__exit__(None, None, None)
        finally:
            writer.close()
    return {"path": str(out), "out_type": out_type, "tensors": total, "bytes": out.stat().st_size,
            "pre": vocab.pre, "vocab_size": vocab.size, "family": family.name, "eot_id": vocab.eot_id}


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
    if vocab.eot_id is not None:
        w.add_eot_token_id(vocab.eot_id)
    if vocab.chat_template:
        w.add_chat_template(vocab.chat_template)
