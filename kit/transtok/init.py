"""EmbeddingInit: build the target-vocabulary model from the source model and a TokenMapping.

Only the embedding table and (for untied models) the LM head change; every other weight
is the source model's, byte for byte. The result is a plain Hugging Face folder
(safetensors + config + the target tokenizer) that ``AutoModelForCausalLM`` and every
later stage load like any other model. Beside it we keep the source model's own table
and head (``source_embeddings.safetensors``) and tokenizer (``source_tokenizer/``): the
paper's "Hydra" idea — one body, a table per language, swapped at will.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .mapping import TokenMapping

SOURCE_EMBEDDINGS = "source_embeddings.safetensors"
SOURCE_TOKENIZER = "source_tokenizer"


@dataclass
class EmbeddingInit:
    """Turns (source model, mapping, target tokenizer) into a new model folder."""

    mapping: TokenMapping
    seed: int = 0
    device: str = "cpu"

    def tables(self, model) -> dict[str, np.ndarray]:
        """The new input table and, for untied models, the new head (numpy, float32)."""
        src_in = model.get_input_embeddings().weight.detach().float().cpu().numpy()
        out = {"embed_tokens": self.mapping.apply(src_in, seed=self.seed, device=self.device)}
        if not is_tied(model):
            src_head = model.get_output_embeddings().weight.detach().float().cpu().numpy()
            out["lm_head"] = self.mapping.apply(src_head, seed=self.seed + 1, device=self.device)
        return out

    def build(self, model, source_tokenizer, target_tokenizer, out_dir: Path) -> dict:
        """Write the target-vocabulary model to ``out_dir`` (a fresh folder); return facts about it."""
        import torch
        from safetensors.torch import save_file

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        tied = is_tied(model)
        source_tables = {"embed_tokens": model.get_input_embeddings().weight.detach().float().cpu().clone()}
        if not tied:
            source_tables["lm_head"] = model.get_output_embeddings().weight.detach().float().cpu().clone()
        new = self.tables(model)
        n_target = new["embed_tokens"].shape[0]
        dtype = model.get_input_embeddings().weight.dtype

        model.resize_token_embeddings(n_target, mean_resizing=False)
        with torch.no_grad():
            model.get_input_embeddings().weight.copy_(torch.from_numpy(new["embed_tokens"]).to(dtype))
            if tied:
                model.tie_weights()
            else:
                model.get_output_embeddings().weight.copy_(torch.from_numpy(new["lm_head"]).to(dtype))
        _retarget_config(model, target_tokenizer, n_target)
        if not getattr(target_tokenizer, "chat_template", None) and getattr(source_tokenizer, "chat_template", None):
            target_tokenizer.chat_template = source_tokenizer.chat_template
        model.save_pretrained(out_dir, safe_serialization=True)
        target_tokenizer.save_pretrained(out_dir)
        save_file({k: v.contiguous() for k, v in source_tables.items()}, str(out_dir / SOURCE_EMBEDDINGS),
                  metadata={"what": "source model embedding table (and head if untied), for Hydra swaps"})
        source_tokenizer.save_pretrained(out_dir / SOURCE_TOKENIZER)
        return {"vocab_size": n_target, "hidden_size": int(new["embed_tokens"].shape[1]), "tied": tied,
                "parameters": int(sum(p.numel() for p in model.parameters()))}


def is_tied(model) -> bool:
    out = model.get_output_embeddings()
    return out is None or out.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


def _retarget_config(model, tokenizer, n_target: int) -> None:
    """Point vocab size and bos/eos/pad ids at the target tokenizer (config and generation config)."""
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    model.config.vocab_size = n_target
    text_config = getattr(model.config, "get_text_config", lambda: model.config)()
    text_config.vocab_size = n_target
    for key, value in ids.items():
        setattr(model.config, key, value)
        gen = getattr(model, "generation_config", None)
        if gen is not None:
            setattr(gen, key, value)


def load_source_tables(model_dir: Path) -> dict[str, "np.ndarray"]:
    """The source tables kept beside a trans-tokenized model (for Hydra-style swaps)."""
    from safetensors.numpy import load_file

    return load_file(str(Path(model_dir) / SOURCE_EMBEDDINGS))


def mapping_dir(model_dir: Path) -> Path:
    return Path(model_dir) / "mapping"


def source_tokenizer_dir(model_dir: Path) -> Optional[Path]:
    p = Path(model_dir) / SOURCE_TOKENIZER
    return p if p.exists() else None
