"""A SentencePiece-kind ``tokenizer.json`` written as llama.cpp's ``llama`` (SPM) vocabulary.

Why by hand: llama.cpp's converter reads a ``tokenizer.model`` protobuf, which a
trans-tokenized model does not have (its tokenizer is a ``tokenizers`` BPE with byte fallback,
see :mod:`kit.tokenizer.spm`), and it refuses vocabularies it has not seen. The metadata is
small and fully determined by ``tokenizer.json``:

- ``tokenizer.ggml.model = "llama"``, tokens in id order (``▁`` kept: llama.cpp escapes spaces
  to ``▁`` before it looks pieces up);
- scores: llama.cpp's SPM tokenizer repeatedly merges the adjacent pair whose *result* scores
  highest, so a piece scores minus the rank of the first merge that makes it
  (:func:`kit.tokenizer.spm.spm_scores`) — the order HF's BPE applies the same merges in;
- token types: ``<0xXX>`` byte pieces BYTE (llama.cpp's byte fallback), the unk token
  UNKNOWN, special added tokens CONTROL, other added tokens (Gemma's ``\\n`` runs) USER_DEFINED
  — llama.cpp matches those whole before SPM, as HF matches added tokens;
- ``add_space_prefix`` from the normalizer/pre-tokenizer (Llama-2 prepends ``▁``, Gemma does not).

Text handling llama.cpp's SPM cannot express (any other normalizer or pre-tokenizer) is
refused with the step named; :func:`kit.gguf.verify.verify_gguf` proves the rest on text.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import TaalkitError
from .vocab import BYTE, CONTROL, NORMAL, UNKNOWN, UNUSED, USER_DEFINED, GgufVocab

_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
SPACE = "\u2581"


def _steps(node, key: str) -> list[dict]:
    node = node or {}
    return list(node.get(key, [])) if node.get("type") == "Sequence" else ([node] if node else [])


def space_prefix(spec: dict, path: Path) -> bool:
    """Whether the tokenizer puts ``▁`` before the text; refuse steps llama.cpp's SPM cannot do.

    Accepted: normalizer ``Replace(" " -> "▁")`` with an optional ``Prepend("▁")`` (Llama-2,
    Gemma); pre-tokenizer none, ``Metaspace`` (older Llama-2 saves), or Gemma's
    ``Split(" ", merged_with_previous)``, which finds no space left after that normalizer.
    """
    prefix = False
    replaces = False
    for n in _steps(spec.get("normalizer"), "normalizers"):
        kind = n.get("type")
        if kind == "Prepend" and n.get("prepend") == SPACE:
            prefix = True
        elif kind == "Replace" and (n.get("pattern") or {}).get("String") == " " and n.get("content") == SPACE:
            replaces = True
        else:
            raise TaalkitError(f"{path}: SentencePiece-style tokenizer with a {kind} normalizer step has no "
                               "llama.cpp equivalent")
    for p in _steps(spec.get("pre_tokenizer"), "pretokenizers"):
        kind = p.get("type")
        if kind == "Metaspace":
            replaces = True
            prefix = prefix or p.get("prepend_scheme", "always" if p.get("add_prefix_space", True) else "never") != "never"
        elif kind == "Split" and (p.get("pattern") or {}).get("String") == " " and replaces:
            continue  # spaces are already "▁": nothing to split
        else:
            raise TaalkitError(f"{path}: SentencePiece-style tokenizer with a {kind} pre-tokenizer has no "
                               "llama.cpp equivalent")
    if not replaces:
        raise TaalkitError(f"{path}: SentencePiece-style tokenizer that does not turn spaces into '▁'; "
                           "llama.cpp's SPM tokenizer always does")
    return prefix


def read_spm_vocab(spec: dict, path: Path) -> GgufVocab:
    """The ``llama``-model GGUF vocabulary of a BPE ``tokenizer.json`` with byte fallback."""
    from ..tokenizer.spm import spm_scores

    model = spec.get("model") or {}
    if model.get("type") != "BPE" or not model.get("byte_fallback"):
        raise TaalkitError(f"{path}: not a SentencePiece-style BPE with byte fallback")
    prefix = space_prefix(spec, path)
    scores = spm_scores(spec) or {}
    unk = model.get("unk_token")
    by_id: dict[int, tuple[str, int, float]] = {}
    for tok, i in model["vocab"].items():
        typ = UNKNOWN if tok == unk else BYTE if _BYTE_PIECE.match(tok) else NORMAL
        by_id[int(i)] = (tok, typ, scores.get(tok, 0.0))
    for added in spec.get("added_tokens") or []:
        content = added["content"]
        typ = UNKNOWN if content == unk else CONTROL if added.get("special") else USER_DEFINED
        by_id[int(added["id"])] = (content, typ, 0.0)
    size = max(by_id) + 1 if by_id else 0
    tokens, types, out_scores = [], [], []
    for i in range(size):
        tok, typ, score = by_id.get(i, (f"[PAD{i}]", UNUSED, 0.0))
        tokens.append(tok)
        types.append(typ)
        out_scores.append(score)
    if not any(t == BYTE for t in types):
        raise TaalkitError(f"{path}: SentencePiece-style tokenizer without <0xXX> byte pieces; "
                           "llama.cpp needs them for byte fallback")
    return GgufVocab(model="llama", pre="default", tokens=tokens, types=types, scores=out_scores,
                     add_space_prefix=prefix)
