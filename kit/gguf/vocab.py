"""A Hugging Face tokenizer folder turned into the tokenizer metadata llama.cpp reads.

Why this exists: llama.cpp's own converter recognises a pre-tokenizer by hashing
what it outputs on a probe string, so any newly trained tokenizer (every
trans-tokenized model) is refused. A byte-level BPE tokenizer is fully described by
its token list, its merges, and the regex that splits text before BPE runs; the
regex is what ``tokenizer.ggml.pre`` names. We read the pre-tokenizer *config*
(the same structure the target tokenizer copied from the source model) and map it to
the llama.cpp name whose regex is that same split, so the GGUF tokenizes exactly as
the HF tokenizer does. :func:`kit.gguf.verify.verify_gguf` then proves it on text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import TaalkitError
from ..formats.gguf_pre import SPLIT_REGEX_PRE as _SPLIT_REGEX_PRE

# GGUF token types (gguf.TokenType), spelled out so this module imports nothing heavy.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

@dataclass
class GgufVocab:
    """Everything ``tokenizer.ggml.*`` needs, in token-id order."""

    model: str                      # "gpt2" (byte-level BPE) or "llama" (SentencePiece)
    pre: Optional[str]              # llama.cpp pre-tokenizer name (gpt2 model only)
    tokens: list[str]
    types: list[int]
    merges: list[str] = field(default_factory=list)
    scores: Optional[list[float]] = None
    bos_id: Optional[int] = None
    eos_id: Optional[int] = None
    unk_id: Optional[int] = None
    pad_id: Optional[int] = None
    add_bos: bool = False
    add_eos: bool = False
    chat_template: Optional[str] = None
    add_space_prefix: Optional[bool] = None   # "llama" model only: prepend "▁" to the text
    eot_id: Optional[int] = None              # end of a chat turn (the family's <|im_end|>, <|eot_id|> …)

    @property
    def size(self) -> int:
        return len(self.tokens)


def pre_tokenizer_name(pre_tokenizer: Optional[dict], where: str = "tokenizer.json") -> str:
    """The llama.cpp ``tokenizer.ggml.pre`` whose regex splits text as this HF pre-tokenizer does.

    Decided from the configuration, never by hashing outputs, so a brand-new vocabulary
    that kept its source model's pre-tokenizer gets the source's name:

    - ``ByteLevel(use_regex=True)`` alone: the GPT-2 regex -> ``"gpt-2"``.
    - ``Digits(individual_digits=True)`` then ``ByteLevel(use_regex=True)``: each digit split
      off, then the GPT-2 regex -> ``"smollm"`` (SmolLM2's own).
    - ``Split(<Llama-3 or Qwen2 regex>)`` then ``ByteLevel(use_regex=False)`` -> that name.
    """
    if not pre_tokenizer:
        raise TaalkitError(f"{where}: the tokenizer has no pre-tokenizer; only byte-level BPE "
                           "tokenizers with a known pre-tokenizer can be exported to GGUF")
    parts = pre_tokenizer["pretokenizers"] if pre_tokenizer.get("type") == "Sequence" else [pre_tokenizer]
    kinds = [p.get("type") for p in parts]
    last = parts[-1] if parts else {}
    if last.get("type") == "ByteLevel" and last.get("add_prefix_space"):
        raise TaalkitError(f"{where}: ByteLevel pre-tokenizer adds a prefix space, which llama.cpp's "
                           "byte-level BPE does not do; train the tokenizer with add_prefix_space=False")
    if kinds == ["ByteLevel"] and last.get("use_regex", True):
        return "gpt-2"
    if (kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits")
            and last.get("use_regex", True)):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not last.get("use_regex", True):
        pattern = parts[0].get("pattern", {})
        regex = pattern.get("Regex") if isinstance(pattern, dict) else None
        if regex in _SPLIT_REGEX_PRE and parts[0].get("behavior") == "Isolated" and not parts[0].get("invert"):
            return _SPLIT_REGEX_PRE[regex]
    raise TaalkitError(
        f"{where}: pre-tokenizer {' + '.join(map(str, kinds))} has no llama.cpp equivalent the kit "
        "knows; keep the source model's pre-tokenizer when training the target tokenizer"
    )


def read_vocab(model_dir: Path, n_vocab: Optional[int] = None) -> GgufVocab:
    """Read the tokenizer in ``model_dir`` (tokenizer.json + tokenizer_config.json) for GGUF.

    ``n_vocab`` is the model's embedding row count: rows beyond the tokenizer (padding some
    models carry) become unused ``[PAD<i>]`` tokens so ids and rows stay aligned.
    """
    model_dir = Path(model_dir)
    path = model_dir / "tokenizer.json"
    if not path.exists():
        raise TaalkitError(f"{model_dir}: no tokenizer.json; the model folder must hold a fast tokenizer")
    spec = json.loads(path.read_text(encoding="utf-8"))
    kind = (spec.get("model") or {}).get("type")
    if kind == "BPE" and not spec["model"].get("byte_fallback"):
        vocab = _byte_level_bpe(spec, path)
    elif kind == "BPE":  # SentencePiece kind (byte fallback): Llama-2, Mistral, Gemma
        from .vocab_spm import read_spm_vocab

        vocab = read_spm_vocab(spec, path)
    elif kind == "Unigram":
        raise TaalkitError(f"{path}: Unigram (SentencePiece) tokenizers are not exported yet; "
                           "train a byte-level BPE target tokenizer (the kit's default)")
    else:
        raise TaalkitError(f"{path}: tokenizer model {kind!r} cannot be written to GGUF")

    _apply_config(vocab, model_dir)
    if n_vocab is not None:
        if vocab.size > n_vocab:
            raise TaalkitError(f"{model_dir}: tokenizer has {vocab.size} tokens but the model only "
                               f"{n_vocab} embedding rows; resize the embeddings first")
        for i in range(vocab.size, n_vocab):
            vocab.tokens.append(f"[PAD{i}]")
            vocab.types.append(UNUSED)
    return vocab


def _byte_level_bpe(spec: dict, path: Path) -> GgufVocab:
    normalizer = spec.get("normalizer") or {}
    # NFC (Qwen2's) is written without it, as llama.cpp's own converter does: llama.cpp does not
    # normalize, so text that is already NFC (almost all text) tokenizes alike; the kit's target
    # tokenizers leave it out altogether (kit.tokenizer.train).
    if normalizer and normalizer.get("type") != "NFC":
        raise TaalkitError(f"{path}: byte-level BPE with a normalizer ({spec['normalizer'].get('type')}) "
                           "cannot be reproduced by llama.cpp; remove the normalizer")
    pre = pre_tokenizer_name(spec.get("pre_tokenizer"), str(path))
    model = spec["model"]
    by_id: dict[int, tuple[str, int]] = {i: (tok, NORMAL) for tok, i in model["vocab"].items()}
    for added in spec.get("added_tokens", []):
        # Added tokens are stored as their raw text; llama.cpp matches them before BPE.
        by_id[added["id"]] = (added["content"], CONTROL if added.get("special") else USER_DEFINED)
    size = max(by_id) + 1 if by_id else 0
    tokens, types = [], []
    for i in range(size):
        tok, typ = by_id.get(i, (f"[PAD{i}]", UNUSED))
        tokens.append(tok)
        types.append(typ)
    merges = []
    for merge in model.get("merges", []):
        pair = merge.split(" ", 1) if isinstance(merge, str) else merge
        if len(pair) != 2 or any(" " in p for p in pair):
            raise TaalkitError(f"{path}: merge {merge!r} cannot be written as 'left right'")
        merges.append(f"{pair[0]} {pair[1]}")
    return GgufVocab(model="gpt2", pre=pre, tokens=tokens, types=types, merges=merges)


def _apply_config(vocab: GgufVocab, model_dir: Path) -> None:
    """Special-token ids, add_bos/add_eos and the chat template, as transformers sees them."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, trust_remote_code=False)
    vocab.bos_id = tok.bos_token_id
    vocab.eos_id = tok.eos_token_id
    vocab.unk_id = tok.unk_token_id
    vocab.pad_id = tok.pad_token_id
    # What the tokenizer *does*, not what a flag claims: encode a word and look at the ends.
    probe = tok("a", add_special_tokens=True)["input_ids"]
    plain = tok("a", add_special_tokens=False)["input_ids"]
    vocab.add_bos = vocab.bos_id is not None and len(probe) > len(plain) and probe[0] == vocab.bos_id
    vocab.add_eos = vocab.eos_id is not None and len(probe) > len(plain) and probe[-1] == vocab.eos_id
    template = tok.chat_template
    if isinstance(template, dict):  # named templates: keep the default one
        template = template.get("default") or next(iter(template.values()), None)
    vocab.chat_template = template
