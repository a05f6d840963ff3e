"""The Hydra GGUF: one file holding a trans-tokenized body with both languages' tables, and its torch twin.

Hydra translation (kit.infer.hydra) reads English through the source model's table and Welsh
through the target table, and answers through the head of the answer's language. llama.cpp knows
one vocabulary per file, so the file gets the *union*: ``token_embd`` is ``[source rows; target
rows]`` (the head too when untied; a tied model's head is that same union table), source ids keep
their numbers and target id ``t`` is ``n_source + t``.

The file's own llama.cpp tokenizer is the source model's (so llama.cpp loads it like the source
model and tokenizes English as it did); the target rows carry unique placeholder tokens, because
llama.cpp's vocabulary cannot hold two tokens with one text and the kit's runtime tokenizes each
side itself anyway. Both tokenizers travel inside the file as ``taalkit.hydra.*`` strings (their
``tokenizer.json``), with the source row count, so one GGUF is all the runtime needs.

:class:`TorchHydra` is the same union model in torch — the reference every export is verified
against (:func:`verify_hydra_gguf`: llama.cpp's logits on union-id prompts against it, top-1 and
the largest difference) and what bench/hydra.py decodes with.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional, Sequence

from ..errors import TaalkitError
from .vocab import UNUSED, read_vocab
from .writer import ModelCard, read_shape, write_gguf

# kit.transtok.init's file names (kit.infer.hydra names them too, for the torch-free runtime).
SOURCE_EMBEDDINGS = "source_embeddings.safetensors"
SOURCE_TOKENIZER = "source_tokenizer"
KEY_N_SOURCE = "taalkit.hydra.n_source"
KEY_SOURCE_TOKENIZER = "taalkit.hydra.source_tokenizer"
KEY_TARGET_TOKENIZER = "taalkit.hydra.target_tokenizer"


def placeholder(t: int) -> str:
    """The llama.cpp token text of target row ``t`` (unique, never produced by either tokenizer)."""
    return f"[HYDRA_TARGET_{t}]"


def union_tables(model_dir: Path, source_dir: Path):
    """``(embed, head)`` float32 torch tensors of the union vocabulary; ``head`` is None when tied."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    from ..models.source import safetensors_index
    from .writer import _weight_files

    shape, _family = read_shape(model_dir)
    index = safetensors_index(_weight_files(model_dir))

    def tensor(name):
        if name not in index:
            return None
        with safe_open(str(index[name][1]), framework="pt") as f:
            return f.get_tensor(name).float()

    target_in = tensor("model.embed_tokens.weight")
    if target_in is None:
        raise TaalkitError(f"{model_dir}: no model.embed_tokens.weight")
    src = load_file(str(Path(source_dir) / SOURCE_EMBEDDINGS))
    source_in = src["embed_tokens"].float()
    if source_in.shape[1] != target_in.shape[1]:
        raise TaalkitError(f"{source_dir}: source table width {source_in.shape[1]} is not the model's "
                           f"{target_in.shape[1]}")
    embed = torch.cat([source_in, target_in])
    if shape.tied:
        if "lm_head" in src:
            raise TaalkitError(f"{source_dir}: an untied source head beside a tied model")
        return embed, None
    target_head = tensor("lm_head.weight")
    return embed, torch.cat([src["lm_head"].float(), target_head])


class TorchHydra:
    """The model's body (transformers, float32) with the union tables."""

    def __init__(self, model_dir: Path, source_dir: Path, threads: Optional[int] = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        if threads:
            torch.set_num_threads(threads)
        model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, use_safetensors=True,
                                                     trust_remote_code=False, dtype=torch.float32).eval()
        self.body = model.model
        self.embed, head = union_tables(model_dir, source_dir)
        self.head = self.embed if head is None else head
        self.n_source = int(self.embed.shape[0] - model.get_input_embeddings().weight.shape[0])
        # Gemma-style families scale the looked-up rows inside the body (embed_scale); feeding
        # inputs_embeds skips that, so the scale is applied here.
        self.scale = float(getattr(model.model.embed_tokens, "embed_scale", 1.0))

    def embeddings(self, ids):
        import torch

        return self.embed[torch.as_tensor(ids)] * self.scale

    def logits(self, ids: Sequence[int]):
        """Next-token logits over the union vocabulary after ``ids`` (numpy float32)."""
        import torch

        with torch.no_grad():
            h = self.body(inputs_embeds=self.embeddings([list(ids)])).last_hidden_state[0, -1]
            return (h @ self.head.T).numpy()


def write_hydra_gguf(model_dir: Path, source_dir: Path, out: Path, *, out_type: str = "F16",
                     card: Optional[ModelCard] = None, progress=None, cancel=None) -> dict:
    """Write the union-vocabulary GGUF of ``model_dir`` whose source tables are in ``source_dir``."""
    model_dir, source_dir = Path(model_dir), Path(source_dir)
    shape, _family = read_shape(model_dir)
    embed, head = union_tables(model_dir, source_dir)
    n_union = int(embed.shape[0])
    n_source = n_union - shape.vocab_size
    vocab = read_vocab(source_dir / SOURCE_TOKENIZER, n_source)
    vocab.tokens += [placeholder(t) for t in range(shape.vocab_size)]
    vocab.types += [UNUSED] * shape.vocab_size
    if not vocab.chat_template:
        vocab.chat_template = (model_dir / "chat_template.jinja").read_text(encoding="utf-8") \
            if (model_dir / "chat_template.jinja").is_file() else None
    replace = {"token_embd.weight": embed.numpy()}
    if head is not None:
        replace["output.weight"] = head.numpy()
    metadata = {KEY_N_SOURCE: n_source,
                KEY_SOURCE_TOKENIZER: (source_dir / SOURCE_TOKENIZER / "tokenizer.json").read_text(encoding="utf-8"),
                KEY_TARGET_TOKENIZER: (model_dir / "tokenizer.json").read_text(encoding="utf-8")}
    card = card or ModelCard(name=f"{model_dir.name}-hydra")
    report = write_gguf(model_dir, out, out_type=out_type, card=card, progress=progress, cancel=cancel,
                        shape=dataclasses.replace(shape, vocab_size=n_union), vocab=vocab, replace=replace,
                        metadata=metadata)
    report.update(n_source=n_source, n_target=shape.vocab_size)
    return report


def verify_hydra_gguf(path: os.PathLike | str, reference: TorchHydra, prompt_ids: Sequence[Sequence[int]],
                      *, n_ctx: int = 512) -> dict:
    """llama.cpp's next-token logits on union-id prompts against the torch union model."""
    import numpy as np

    from .verify import load_llama

    llm = load_llama(path, n_ctx=n_ctx, logits_all=True)
    if llm.n_vocab() != reference.embed.shape[0]:
        raise TaalkitError(f"{path}: {llm.n_vocab()} tokens, the torch reference {reference.embed.shape[0]}")
    max_diff, scale, agree, per_prompt = 0.0, 0.0, 0, []
    for ids in prompt_ids:
        ids = list(ids)
        want = reference.logits(ids)
        llm.reset()
        llm.eval(ids)
        got = np.array(llm.scores[len(ids) - 1], dtype=np.float32)
        diff = float(np.abs(got - want).max())
        same = int(got.argmax()) == int(want.argmax())
        max_diff, scale, agree = max(max_diff, diff), max(scale, float(np.abs(want).max())), agree + same
        per_prompt.append({"max_abs_diff": round(diff, 6), "top1_equal": same})
    del llm
    return {"prompts": len(per_prompt), "max_abs_diff": max_diff, "max_abs_logit": scale, "top1_equal": agree,
            "top1_all_equal": agree == len(per_prompt), "per_prompt": per_prompt}
