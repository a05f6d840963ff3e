"""The one way every stage loads a workspace model or tokenizer: local files only, no remote code.

Kept thin on purpose: the safety switches (``local_files_only=True``, never
``trust_remote_code``, safetensors only) live in one place, and a missing folder becomes a
one-line error naming the path instead of a Hub lookup traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..errors import TaalkitError


def resolve_device(name: Optional[str] = "auto") -> str:
    """``auto`` -> ``cuda`` if torch sees a GPU, else ``mps`` (Apple), else ``cpu``.

    An explicit device that is not there is an error, not a silent fallback: a user who asked
    for the GPU should learn that torch cannot see it.
    """
    import torch

    name = (name or "auto").strip().lower()
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if has_mps else "cpu"
    if name == "cpu":
        return "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TaalkitError(f"device {name} asked for, but torch sees no CUDA GPU; use auto or cpu")
        return name
    if name == "mps":
        if not has_mps:
            raise TaalkitError("device mps asked for, but this torch has no Apple MPS; use auto or cpu")
        return name
    raise TaalkitError(f"unknown device {name!r}; use auto, cpu, cuda or mps")


def _model_folder(path: os.PathLike | str, need: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise TaalkitError(f"{path}: no such model folder")
    if not (path / need).is_file():
        raise TaalkitError(f"{path / need}: missing; the folder is not a complete model "
                           "(add the model again with 'taalkit model add')")
    return path


def load_tokenizer(path: os.PathLike | str):
    """A ``PreTrainedTokenizerFast`` from a local folder (model folder or ``tokenizer/<name>/``)."""
    from transformers import AutoTokenizer

    folder = _model_folder(path, "tokenizer.json")
    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)


def load_model(path: os.PathLike | str, *, device: str = "cpu", dtype=None):
    """A causal LM from a local safetensors folder, on ``device`` (``auto`` allowed), in eval mode.

    ``dtype`` is a torch dtype or its name (``"float32"``, ``"bfloat16"``); default float32,
    what CPU training needs.
    """
    import torch
    from transformers import AutoModelForCausalLM

    folder = _model_folder(path, "config.json")
    if not any(folder.glob("*.safetensors")):
        raise TaalkitError(f"{folder}: no *.safetensors weights")
    if isinstance(dtype, str):
        if not hasattr(torch, dtype):
            raise TaalkitError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
        dtype = getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(
        str(folder), local_files_only=True, trust_remote_code=False, use_safetensors=True,
        dtype=dtype or torch.float32,
    )
    model.to(resolve_device(device))
    model.eval()
    return model
