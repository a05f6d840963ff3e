"""The one way every stage loads a workspace model or tokenizer, and the one device policy.

Kept thin on purpose: the safety switches (``local_files_only=True``, never
``trust_remote_code``, safetensors only) live in one place, and a missing folder becomes a
one-line error naming the path instead of a Hub lookup traceback. Which device ``auto`` means, a
refusal naming what to install when the asked-for device is absent, and the precision forward
passes run in (bf16 where the device has it) are decided here too, for trans-tokenization and
fine-tuning alike.
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


CUDA_HINT = ("install a CUDA build of torch (https://pytorch.org/get-started/locally/) on a machine with an "
             "NVIDIA GPU, or use --device cpu")
PRECISIONS = ("auto", "bf16", "fp32")


def require_device(name: Optional[str], purpose: str) -> str:
    """The device to run ``purpose`` on (``auto`` resolved), or a one-line refusal naming what to install."""
    import torch

    name = (name or "auto").strip().lower()
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TaalkitError(f"{purpose} on --device {name}: this torch ({torch.__version__}) sees no CUDA GPU; "
                           f"{CUDA_HINT}")
    if name.startswith("cuda:"):
        index = name.split(":", 1)[1]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise TaalkitError(f"{purpose} on --device {name}: torch sees {torch.cuda.device_count()} GPU(s), "
                               f"numbered from cuda:0")
    return resolve_device(name)


def compute_dtype(device: str, precision: str = "auto"):
    """The dtype forward passes run in: bf16 where the device supports it (CUDA since Ampere), else
    fp32. ``bf16``/``fp32`` force one (on a CPU, bf16 is how a test walks the GPU's code path).
    Weights stay fp32 either way (autocast: master weights and optimizer in fp32)."""
    import torch

    if precision not in PRECISIONS:
        raise TaalkitError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    kind = torch.device(device).type
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        if kind == "cuda" and not torch.cuda.is_bf16_supported():
            raise TaalkitError(f"this GPU ({torch.cuda.get_device_name(torch.device(device))}) has no bf16; "
                               f"use --precision fp32")
        return torch.bfloat16
    if kind == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def autocast(device: str, dtype):
    """Autocast to ``dtype`` on ``device`` (nothing to do for fp32)."""
    import contextlib

    import torch

    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


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
