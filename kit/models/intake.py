"""Bring a base model into the workspace as a safetensors folder: ``add_model`` and ``list_models``.

Why a copy in the workspace: every later stage loads the source model, and a Q4_1 GGUF
takes ~30 s to dequantize on a laptop while a safetensors folder loads in a second or two;
the copy also makes the workspace self-contained (bundles, moving it). A GGUF is therefore
dequantized once with transformers, the GGUF quantizer dropped (transformers refuses to save
a model that still claims to be quantized), and saved in float32 with its tokenizer and
generation config. A Hugging Face folder is copied file by file and checked.

Everything lands through :func:`kit.fsutil.atomic_path`: a failed or cancelled intake leaves
no folder and no row.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
from pathlib import Path
from typing import Optional

from ..errors import NameTaken, ResourceError, TaalkitError, WorkspaceError
from ..fsutil import atomic_path, human_bytes, require_free_disk, sha256_file
from ..progress import CancelToken, ProgressCallback, emit
from ..workspace import Workspace, now
from .memory import estimate_finetune_ram
from .source import SourceModel, inspect_source

STAGE = "model"
DEFAULT_NAME = "source"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Files of a Hugging Face model folder worth carrying; pickles (*.bin, *.pt) are never copied.
HF_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "added_tokens.json", "chat_template.jinja", "chat_template.json",
            "vocab.json", "merges.txt", "tokenizer.model", "README.md", "model.safetensors.index.json")
HF_GLOBS = ("*.safetensors", "LICENSE*", "LICENCE*", "NOTICE*")
# The fine-tune shape `model list` quotes RAM for (kit.finetune's CPU default).
LIST_BATCH, LIST_SEQ_LEN = 8, 256


def add_model(ws: Workspace, source: str = "default", *, name: Optional[str] = None,
              progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Add a base model (``default``, a HF folder or a ``.gguf``) as ``models/<name>``; return its row.

    Adding the same source again under the same name returns the existing row.
    """
    name = name or DEFAULT_NAME
    if not NAME_RE.match(name):
        raise TaalkitError(f"model name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    info = inspect_source(source)  # fast, and silent: a refusal is the only line the user sees
    emit(progress, STAGE, 1, 4, f"hashing {info.path.name}")
    sha = _fingerprint(info.files)
    existing = ws.model_named(name)
    if existing is not None:
        if existing["sha256"] == sha and (ws.model_dir(existing) / "config.json").is_file():
            emit(progress, STAGE, 4, 4, f"{name} already added")
            return existing
        # One message for the CLI and the app alike: neither face's controls are named here.
        raise NameTaken(f"the workspace already has a model named {name!r} (from {existing['source_path']}); "
                             "add this one under another model name, or in a new workspace")
    target = ws.models_dir / name
    if target.exists():
        raise NameTaken(f"{target} exists but is not a model of this workspace; move it away, "
                             "or add the model under another model name")
    need = (info.parameters or 0) * 4 if info.kind == "gguf" else sum(f.stat().st_size for f in info.files)
    require_free_disk(ws.models_dir, int(need * 1.05) + 32 * 2**20, f"the model {name}")
    if info.kind == "gguf":
        require_free_ram(dequantize_ram(info.parameters or 0), f"dequantizing {info.path.name}")

    with atomic_path(target) as tmp:
        tmp.mkdir()
        if info.kind == "gguf":
            method = "gguf-dequantize"
            _dequantize_gguf(info, tmp, progress, cancel)
        else:
            method = "copy"
            _copy_hf_folder(info, tmp, progress, cancel)
        if cancel is not None:
            cancel.check()
        facts = _check_saved(tmp, info)
    emit(progress, STAGE, 4, 4, f"saved {ws.relative(target)}")

    extra = {"display_name": info.display_name, "source_kind": info.kind, "layers": facts["layers"],
             "intermediate_size": facts["intermediate_size"], "dtype": facts["dtype"],
             "tokenizer_size": facts["tokenizer_size"], **{k: v for k, v in info.metadata.items()
                                                            if k != "chat_template" and v is not None}}
    row = {
        "name": name, "role": "source", "path": ws.relative(target), "architecture": info.architecture,
        "parameters": int(info.parameters or 0), "vocab_size": facts["vocab_size"],
        "hidden_size": facts["hidden_size"], "tied": int(facts["tied"]), "chat_template": facts["chat_template"],
        "licence": info.licence, "sha256": sha, "source_path": str(info.path), "parent_id": None,
        "method": method, "created_at": now(), "extra": json.dumps(extra, sort_keys=True),
    }
    try:
        row_id = ws.db["models"].insert(row).last_pk
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return {"id": row_id, **row}


def list_models(ws: Workspace) -> list[dict]:
    """Every model of the workspace with its disk size and the RAM a fine-tune would need.

    Adds ``disk_bytes``, ``present`` and ``ram_embeddings`` / ``ram_full`` (bytes, CPU, batch
    8 × 256 tokens; see :mod:`kit.models.memory`) to each ``models`` row.
    """
    out = []
    for row in ws.models():
        folder = ws.model_dir(row)
        extra = json.loads(row.get("extra") or "{}")
        row["present"] = (folder / "config.json").is_file()
        row["disk_bytes"] = folder_size(folder) if folder.is_dir() else 0
        shape = dict(vocab_size=row.get("vocab_size"), hidden_size=row.get("hidden_size"),
                     layers=extra.get("layers") or _config_value(folder, "num_hidden_layers"),
                     tied=bool(row.get("tied")),
                     intermediate_size=extra.get("intermediate_size") or _config_value(folder, "intermediate_size"))
        params = int(row.get("parameters") or 0)
        for stage in ("embeddings", "full"):
            row[f"ram_{stage}"] = (estimate_finetune_ram(params, stage, LIST_BATCH, LIST_SEQ_LEN, **shape)
                                   if params > 0 else None)
        out.append(row)
    return out


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def pin_chat_template(folder: Path, template: Optional[str] = None) -> None:
    """Write the chat template into ``tokenizer_config.json`` too.

    transformers 5 saves it as ``chat_template.jinja``; older readers (and people) look in
    ``tokenizer_config.json``. Both hold the same text, so any reader gets the same template.
    """
    template = template or read_chat_template(folder)
    cfg = folder / "tokenizer_config.json"
    if not template or not cfg.is_file():
        return
    data = json.loads(cfg.read_text(encoding="utf-8"))
    if data.get("chat_template") != template:
        data["chat_template"] = template
        cfg.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def read_chat_template(folder: Path) -> Optional[str]:
    """The chat template a saved tokenizer carries (tokenizer_config.json or chat_template.jinja)."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    cfg = folder / "tokenizer_config.json"
    if cfg.is_file():
        value = json.loads(cfg.read_text(encoding="utf-8")).get("chat_template")
        if isinstance(value, list):  # named templates: keep the default one
            value = next((t.get("template") for t in value if t.get("name") == "default"), None)
        return value
    return None


# -- the two intake paths ----------------------------------------------------------------------


def _dequantize_gguf(info: SourceModel, out: Path, progress, cancel) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    folder, file = str(info.path.parent), info.path.name
    emit(progress, STAGE, 1.5, 4, "reading the GGUF tokenizer")
    tokenizer = gguf_tokenizer(info.path, info.metadata.get("tokenizer_pre"))
    if cancel is not None:
        cancel.check()
    emit(progress, STAGE, 2, 4, "dequantizing the weights (about half a minute for 135M)")
    try:
        # transformers' GGUF reader draws its own tqdm bar on stderr; the kit's progress is enough.
        with contextlib.redirect_stderr(io.StringIO()):
            config = _gguf_config(info)
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, config=config, local_files_only=True,
                                                         trust_remote_code=False, use_safetensors=True,
                                                         dtype=torch.float32)
    except (ValueError, KeyError, RuntimeError) as err:
        raise TaalkitError(f"{info.path}: transformers could not read this GGUF ({' '.join(str(err).split())[:160]})") from None
    if cancel is not None:
        cancel.check()
    # transformers refuses save_pretrained on a model that still carries its GGUF quantizer.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = info.display_name
    emit(progress, STAGE, 3, 4, "saving safetensors")
    model.save_pretrained(out, safe_serialization=True)
    max_pos = getattr(model.config, "max_position_embeddings", None)
    if max_pos:
        tokenizer.model_max_length = int(max_pos)
    tokenizer.save_pretrained(out)
    pin_chat_template(out)
    del model


def _gguf_config(info: SourceModel):
    """The config transformers reads from a GGUF, with what its reader does not rebuild put back by
    the family (Qwen3's head_dim from ``key_length``, Llama-3's llama3 RoPE from ``rope_freqs``),
    so the model is built in the right shape before any weight is read."""
    from transformers import AutoConfig

    from .families import get

    config = AutoConfig.from_pretrained(str(info.path.parent), gguf_file=info.path.name, local_files_only=True,
                                        trust_remote_code=False)
    meta = info.gguf_meta
    before = config.to_dict()
    fixed = get(info.family or "llama").hf_config_from_gguf(dict(before), meta, meta.get("_tensors", {}))
    if fixed == before:
        return config
    fixed.pop("transformers_version", None)
    return type(config).from_dict(fixed)


def gguf_tokenizer(path: Path, pre: Optional[str] = None):
    """The tokenizer of a GGUF as a transformers fast tokenizer, with its real pre-tokenizer.

    transformers rebuilds a GGUF's byte-level BPE with plain ``ByteLevel`` splitting whatever
    ``tokenizer.ggml.pre`` says; for the names :func:`kit.formats.gguf_pre.hf_pre_tokenizer` knows the
    kit puts back what the model was trained with (SmolLM2: digits one by one; Llama-3 and Qwen2:
    their split regex), so HF and llama.cpp tokenize alike.
    """
    from transformers import AutoTokenizer

    path = Path(path)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True,
                                              trust_remote_code=False)
    from ..formats.gguf_header import read_header
    from ..formats.gguf_pre import hf_pre_tokenizer

    header = read_header(path)  # fast: skips the token arrays
    spec = hf_pre_tokenizer(pre) if pre else None
    if spec is not None:
        tokenizer.backend_tokenizer.pre_tokenizer = _pre_tokenizer_from_json(json.dumps(spec))
    if header.fields.get("tokenizer.ggml.model") == "llama":
        tokenizer = _llama_cpp_spaces(tokenizer, bool(header.fields.get("tokenizer.ggml.add_space_prefix", True)))
    return _without_phantom_tokens(tokenizer, header.array_lengths.get("tokenizer.ggml.tokens"))


def _llama_cpp_spaces(tokenizer, add_space_prefix: bool):
    """A SentencePiece-kind tokenizer that treats spaces as llama.cpp's SPM tokenizer does.

    transformers rebuilds it with ``Metaspace(prepend_scheme="first")``, which prepends "▁" only
    when the text does not already start with a space; llama.cpp always prepends one (when
    ``add_space_prefix``), so text starting with spaces came back one "▁" short. The Llama-2
    ``tokenizer.json`` form (Prepend "▁" + Replace " " -> "▁", no pre-tokenizer) is exactly
    llama.cpp's rule.
    """
    from tokenizers import normalizers

    steps = ([normalizers.Prepend("\u2581")] if add_space_prefix else []) + [normalizers.Replace(" ", "\u2581")]
    backend = tokenizer.backend_tokenizer
    backend.normalizer = normalizers.Sequence(steps)
    backend.pre_tokenizer = None
    return tokenizer


def _without_phantom_tokens(tokenizer, n: Optional[int]):
    """Drop tokens transformers' GGUF reader invents past the GGUF's ``n`` tokens.

    A GGUF without ``unk_token_id`` (every byte-level BPE: Llama-3, Qwen) comes back with an
    extra ``<|endoftext|>``/``<unk>`` appended as unk, one id past the embedding table; the
    model never saw it, so it is removed and no unk is set (byte-level BPE needs none).
    """
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    if n is None or len(tokenizer) <= int(n):
        return tokenizer
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    phantom = {a["content"] for a in spec.get("added_tokens", []) if a["id"] >= int(n)}
    spec["added_tokens"] = [a for a in spec.get("added_tokens", []) if a["id"] < int(n)]
    vocab = spec.get("model", {}).get("vocab")
    if isinstance(vocab, dict):
        spec["model"]["vocab"] = {t: i for t, i in vocab.items() if i < int(n)}
    roles = {k: v for k, v in tokenizer.special_tokens_map.items()
             if k in ("bos_token", "eos_token", "unk_token", "pad_token") and v not in phantom}
    fixed = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)), **roles)
    fixed.chat_template = tokenizer.chat_template
    return fixed
    return tokenizer


def _pre_tokenizer_from_json(spec: str):
    """A ``tokenizers`` pre-tokenizer from its JSON form (the library has no direct constructor)."""
    from tokenizers import Tokenizer, models

    probe = json.loads(Tokenizer(models.BPE()).to_str())
    probe["pre_tokenizer"] = json.loads(spec)
    return Tokenizer.from_str(json.dumps(probe)).pre_tokenizer


def _copy_hf_folder(info: SourceModel, out: Path, progress, cancel) -> None:
    files = [info.path / n for n in HF_FILES if (info.path / n).is_file()]
    for pattern in HF_GLOBS:
        files += [p for p in sorted(info.path.glob(pattern)) if p.is_file() and p not in files]
    total = sum(f.stat().st_size for f in files) or 1
    done = 0
    for f in files:
        if cancel is not None:
            cancel.check()
        shutil.copyfile(f, out / f.name)
        done += f.stat().st_size
        emit(progress, STAGE, 2 + done / total, 4, f"copied {f.name}")
    pin_chat_template(out)


def _check_saved(folder: Path, info: SourceModel) -> dict:
    """Read back what was written: config, weights headers, tokenizer; return the facts for the row."""
    from transformers import AutoConfig, AutoTokenizer

    from .source import safetensors_shapes

    config = AutoConfig.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        raise TaalkitError(f"{info.path}: no weights were written; the source is incomplete")
    shapes = safetensors_shapes(weights)
    embed = next((s for n, s in shapes.items() if n.endswith("embed_tokens.weight")), None)
    if embed is None or len(embed) != 2:
        raise TaalkitError(f"{info.path}: the weights have no token embedding table (embed_tokens)")
    if embed != [int(config.vocab_size), int(config.hidden_size)]:
        raise TaalkitError(f"{info.path}: embedding table is {embed[0]}×{embed[1]} but config.json says "
                           f"{config.vocab_size}×{config.hidden_size}")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    if len(tokenizer) > int(config.vocab_size):
        raise TaalkitError(f"{info.path}: the tokenizer has {len(tokenizer)} tokens but the model only "
                           f"{config.vocab_size} embedding rows")
    tied = bool(getattr(config, "tie_word_embeddings", False)) or not any(n.endswith("lm_head.weight") for n in shapes)
    dtype = str(getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or "").replace("torch.", "")
    return {"vocab_size": int(config.vocab_size), "hidden_size": int(config.hidden_size), "tied": tied,
            "layers": int(config.num_hidden_layers), "intermediate_size": int(getattr(config, "intermediate_size", 0) or 0),
            "chat_template": read_chat_template(folder) or getattr(tokenizer, "chat_template", None),
            "tokenizer_size": len(tokenizer), "dtype": dtype or None}


# -- helpers -----------------------------------------------------------------------------------


def dequantize_ram(parameters: int) -> int:
    """Peak bytes to dequantize a GGUF: the float32 tensors read, the model built from them, torch.

    Measured: SmolLM2-135M peaks at 1.2 GB RSS (2 × 538 MB of float32 + ~150 MB).
    """
    return 2 * 4 * parameters + 300 * 2**20


def require_free_ram(need: int, what: str) -> None:
    """Refuse early, with numbers, when ``what`` would not fit in available memory."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with accelerate
        return
    free = int(psutil.virtual_memory().available)
    if free < need:
        raise ResourceError(f"{what} needs about {human_bytes(need)} of memory, {human_bytes(free)} available; "
                            "close other programs or choose a smaller model")


def _fingerprint(files: list[Path]) -> str:
    """sha256 of the one source file, or of ``name<TAB>sha256`` lines when weights are sharded."""
    if len(files) == 1:
        return sha256_file(files[0])
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f"{f.name}\t{sha256_file(f)}\n".encode())
    return h.hexdigest()


def _config_value(folder: Path, key: str) -> Optional[int]:
    try:
        return int(json.loads((folder / "config.json").read_text(encoding="utf-8"))[key])
    except (OSError, ValueError, KeyError, TypeError):
        return None
