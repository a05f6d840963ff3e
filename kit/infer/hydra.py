"""Hydra translation requests: each side of a prompt read through its own language's tokenizer and table.

Trans-tokenization gives the target language a new vocabulary and embedding table but keeps the
source model's body; kit.transtok.init saves the source table (and head, when untied) and tokenizer
beside the new model. The seed paper's zero-shot translation ("Hydra") uses both heads of that one
body: the English side of a request is read through the *source* tokenizer and table — exactly what
the body was pretrained on — the Welsh side through the target ones, and the answer is generated
through the head of the language it is written in. The two vocabularies are joined into one union
vocabulary: source ids first, target ids offset by the source vocabulary's size, so one id stream
(and one GGUF) carries both.

This module is the torch-free half that the torch reference (bench/hydra.py) and the runtime share:
where the source tables of a model are, how a request splits into sides, the union ids of a request,
the answer side's id range and stop ids, and decoding an answer. It names the files kit.transtok.init
writes instead of importing it, because the runtime tier never imports torch (kit.transtok does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..errors import TaalkitError

# The files kit.transtok.init writes beside a trans-tokenized model (SOURCE_EMBEDDINGS, SOURCE_TOKENIZER);
# tests/test_hydra.py checks the names stay equal.
SOURCE_EMBEDDINGS = "source_embeddings.safetensors"
SOURCE_TOKENIZER = "source_tokenizer"

SOURCE, TARGET = "source", "target"
# Private-use characters mark where the text and the draft sit in the rendered prompt; they never
# reach a tokenizer.
_MARKS = {"text": ("\ue000", "\ue001"), "draft": ("\ue002", "\ue003")}
_SPLIT = re.compile("([\ue000-\ue003])")
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
# kit.gguf.hydra's metadata keys: the source row count and both tokenizers (tokenizer.json text).
KEY_N_SOURCE = "taalkit.hydra.n_source"
KEY_SOURCE_TOKENIZER = "taalkit.hydra.source_tokenizer"
KEY_TARGET_TOKENIZER = "taalkit.hydra.target_tokenizer"


@dataclass(frozen=True)
class Segment:
    side: str  # SOURCE or TARGET: whose tokenizer and table read it
    text: str


def source_side_dir(ws, row: dict) -> Optional[Path]:
    """The folder holding the source tables of ``row``: its own (a trans-tokenized model), else the
    nearest ancestor's (a fine-tuned model keeps none; its transtok parent has them). None when no
    ancestor has them (a source model, a baseline without them).

    Why an ancestor's tables fit: the ``embeddings`` fine-tune stage trains only the target table
    and head, the body stays the one the source table was trained with. After ``lora``/``full`` the
    body has moved and the source side is only approximately right (:func:`body_changed` says so)."""
    seen: set = set()
    while row is not None and row["id"] not in seen:
        folder = ws.model_dir(row)
        if (folder / SOURCE_EMBEDDINGS).is_file() and (folder / SOURCE_TOKENIZER / "tokenizer.json").is_file():
            return folder
        seen.add(row["id"])
        row = ws.parent(row)
    return None


def body_changed(ws, row: dict) -> bool:
    """Whether a fine-tune between ``row`` and its source tables trained more than the embeddings."""
    seen: set = set()
    while row is not None and row["id"] not in seen:
        if (ws.model_dir(row) / SOURCE_EMBEDDINGS).is_file():
            return False
        method = row.get("method") or ""
        if method.startswith("finetune-") and method != "finetune-embeddings":
            return True
        seen.add(row["id"])
        row = ws.parent(row)
    return False


def split_request(rendered: str) -> list[tuple[str, str]]:
    """(kind, text) pieces of a prompt rendered with marked text and draft: kind ``frame``,
    ``text`` or ``draft``. A space just before a marked piece moves into it, so each side is
    tokenized as the whole prompt would be (byte-level BPE puts the space in the word's token)."""
    pieces: list[tuple[str, str]] = []
    kind = "frame"
    opens = {_MARKS[k][0]: k for k in _MARKS}
    for part in _SPLIT.split(rendered):
        if part in opens:
            kind = opens[part]
            if pieces and pieces[-1][0] == "frame" and pieces[-1][1].endswith(" "):
                pieces[-1] = ("frame", pieces[-1][1][:-1])
                part = " "
            else:
                continue
        elif part in (_MARKS["text"][1], _MARKS["draft"][1]):
            kind = "frame"
            continue
        if part:
            if pieces and pieces[-1][0] == kind:
                pieces[-1] = (kind, pieces[-1][1] + part)
            else:
                pieces.append((kind, part))
    return [(k, t) for k, t in pieces if t]


def request_segments(template, text: str, *, source: str, target: str, ws_source: str,
                     draft: Optional[str] = None, glossary=None, examples: Sequence = ()) -> list[Segment]:
    """The translation request of kit.infer.translate (same words, same chat template) as sides.

    The frame (template, instruction, labels, glossary) is in the source model's language and goes
    through the source side; the text and the memory examples' source sentences through the side
    of the language they are written in (``source``); the draft and the examples' translations
    through the side of ``target``. ``ws_source`` is the workspace's source language (the source
    model's own)."""
    from dataclasses import replace

    from .glossary import lang_code
    from .translate import translation_messages

    def side(lang: str) -> str:
        return SOURCE if lang_code(lang) == lang_code(ws_source) else TARGET

    def mark(kind: str, words: str) -> str:
        return _MARKS[kind][0] + words + _MARKS[kind][1]

    marked_draft = mark("draft", " ".join(draft.split())) if draft else None
    marked_examples = [replace(m, source=mark("text", m.source), target=mark("draft", m.target)) for m in examples]
    rendered = template.render(translation_messages(mark("text", text), source, target, glossary, marked_draft,
                                                    marked_examples))
    sides = {"frame": SOURCE, "text": side(source), "draft": side(target)}
    return [Segment(sides[kind], piece) for kind, piece in split_request(rendered)]


class HydraVocab:
    """The union vocabulary of a source and a target tokenizer (``tokenizers.Tokenizer`` objects).

    Source ids keep their numbers; target id ``t`` is ``n_source + t``. ``n_source`` is the source
    table's row count (it may exceed the tokenizer's vocabulary: padded tables)."""

    def __init__(self, source_tokenizer, target_tokenizer, n_source: int, n_target: int) -> None:
        self.tokenizers = {SOURCE: source_tokenizer, TARGET: target_tokenizer}
        self.n_source, self.n_target = int(n_source), int(n_target)
        self._pieces: Optional[list] = None

    @classmethod
    def from_dirs(cls, source_dir: Path, target_dir: Path, n_source: int, n_target: int) -> "HydraVocab":
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(Path(source_dir) / SOURCE_TOKENIZER / "tokenizer.json")),
                   Tokenizer.from_file(str(Path(target_dir) / "tokenizer.json")), n_source, n_target)

    @classmethod
    def from_gguf(cls, llm) -> "HydraVocab":
        """The union vocabulary a Hydra GGUF (kit.gguf.hydra) carries in its metadata."""
        from tokenizers import Tokenizer

        meta = llm.metadata
        if KEY_N_SOURCE not in meta:
            raise TaalkitError(f"{getattr(llm, 'model_path', 'the GGUF')}: not a Hydra GGUF (no {KEY_N_SOURCE}); "
                               "export one with kit.gguf.hydra.write_hydra_gguf")
        n_source = int(meta[KEY_N_SOURCE])
        return cls(Tokenizer.from_str(meta[KEY_SOURCE_TOKENIZER]), Tokenizer.from_str(meta[KEY_TARGET_TOKENIZER]),
                   n_source, llm.n_vocab() - n_source)

    @property
    def size(self) -> int:
        return self.n_source + self.n_target

    def offset(self, side: str) -> int:
        return 0 if side == SOURCE else self.n_source

    def span(self, side: str) -> tuple[int, int]:
        """The union ids ``[lo, hi)`` of one side: what an answer in that language may generate."""
        return (0, self.n_source) if side == SOURCE else (self.n_source, self.size)

    def encode(self, side: str, text: str) -> list[int]:
        off = self.offset(side)
        return [off + i for i in self.tokenizers[side].encode(text, add_special_tokens=False).ids]

    def encode_segments(self, segments: Sequence[Segment]) -> list[int]:
        ids: list[int] = []
        for seg in segments:
            ids += self.encode(seg.side, seg.text)
        return ids

    def stop_ids(self, side: str) -> set[int]:
        """The answer side's end-of-turn tokens, as union ids."""
        tok, off = self.tokenizers[side], self.offset(side)
        found = {tok.token_to_id(t) for t in STOP_TOKENS}
        return {off + i for i in found if i is not None}

    def decode(self, side: str, ids: Sequence[int]) -> str:
        off = self.offset(side)
        local = [i - off for i in ids]
        if any(i < 0 or i >= (self.n_source if side == SOURCE else self.n_target) for i in local):
            raise TaalkitError("a Hydra answer holds ids of the other language's side")
        return self.tokenizers[side].decode(local, skip_special_tokens=True)

    def piece(self, token: int) -> bytes:
        """The bytes one union id stands for (special tokens: none), for streaming an answer."""
        if self._pieces is None:
            self._pieces = _byte_pieces(self.tokenizers[SOURCE], self.n_source) + \
                _byte_pieces(self.tokenizers[TARGET], self.n_target)
        return self._pieces[token]


def _byte_pieces(tokenizer, rows: int) -> list[bytes]:
    """Each id's bytes for a byte-level BPE tokenizer (GPT-2's byte-to-character map undone);
    special and added tokens, and rows beyond the tokenizer, are empty."""
    chars = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    codes = chars[:]
    extra = 0
    for b in range(256):
        if b not in chars:
            chars.append(b)
            codes.append(256 + extra)
            extra += 1
    to_byte = {chr(c): b for b, c in zip(chars, codes)}
    out = [b""] * rows
    added = set(tokenizer.get_added_tokens_decoder())
    for piece, i in tokenizer.get_vocab(with_added_tokens=False).items():
        if i < rows and i not in added:
            out[i] = bytes(to_byte[c] for c in piece if c in to_byte)
    return out


class SideMask:
    """A logits processor: the answer may only use one side's ids (``[lo, hi)`` of the union).

    An answer in the target language ends with the target's end-of-turn token, which llama.cpp
    does not know as one (its rows carry placeholders, kit.gguf.hydra): its score moves onto the
    source's end-of-turn id, which llama.cpp stops at, so greedy decoding stops exactly where the
    target token would have won."""

    def __init__(self, span: tuple[int, int], stop_ids=(), redirect: Optional[int] = None) -> None:
        self.lo, self.hi = span
        self.stop_ids = sorted(stop_ids)
        self.redirect = redirect

    def __call__(self, input_ids, scores):
        import numpy as np

        best_stop = max(float(scores[i]) for i in self.stop_ids) if self.stop_ids else None
        scores[:self.lo] = -np.inf
        scores[self.hi:] = -np.inf
        if self.redirect is not None and best_stop is not None:
            scores[self.stop_ids] = -np.inf
            scores[self.redirect] = best_stop
        return scores


class HydraRuntime:
    """A Hydra GGUF loaded in llama.cpp, as the translator drives it: union-id requests, the answer
    side's mask, the side's tokens for the guard processors, and byte pieces for decoding.

    ``hydra`` False still needs this runtime (llama.cpp's own tokenizer is the source model's): the
    whole request then goes through the target side, which is the plain trans-tokenized model."""

    def __init__(self, llm) -> None:
        self.vocab = HydraVocab.from_gguf(llm)
        self.end_of_turn = min(self.vocab.stop_ids(SOURCE))  # llama.cpp stops at it (see SideMask)

    @classmethod
    def of(cls, llm) -> Optional["HydraRuntime"]:
        """The runtime of ``llm`` when it is a Hydra GGUF, else None."""
        meta = getattr(llm, "metadata", None) or {}
        return cls(llm) if KEY_N_SOURCE in meta else None

    def answer_side(self, target: str, ws_source: str, hydra: bool) -> str:
        from .glossary import lang_code

        return SOURCE if hydra and lang_code(target) == lang_code(ws_source) else TARGET

    def request_ids(self, template, text: str, *, source: str, target: str, ws_source: str, hydra: bool,
                    draft: Optional[str] = None, glossary=None, examples: Sequence = ()) -> list[int]:
        segments = request_segments(template, text, source=source, target=target, ws_source=ws_source,
                                    draft=draft, glossary=glossary, examples=examples)
        if hydra:
            return self.vocab.encode_segments(segments)
        return self.vocab.encode(TARGET, "".join(s.text for s in segments))

    def mask(self, side: str) -> SideMask:
        return SideMask(self.vocab.span(side), self.vocab.stop_ids(side),
                        self.end_of_turn if side == TARGET else None)
