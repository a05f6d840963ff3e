"""Train the target-language tokenizer: ``train_tokenizer(ws)`` -> ``tokenizer/<name>/`` + a ``tokenizers`` row.

What is kept from the source model's tokenizer, and why:

- **pre-tokenizer, normalizer and decoder** (SmolLM2: each digit split off, then byte-level
  GPT-2 splitting): llama.cpp picks its splitting regex by the source's ``tokenizer.ggml.pre``
  name, so a new vocabulary that splits text the same way can be exported with that name.
- **special tokens at the same low ids** (SmolLM2: ``<|endoftext|>``=0, ``<|im_start|>``=1,
  ``<|im_end|>``=2, …): the trainer puts special tokens first, in the order given, so passing
  the source's specials in id order reproduces their ids when they were 0..k-1 in the source.
  Trans-tokenization then copies their embedding rows unchanged.
- **chat template, bos/eos/unk/pad**: the adapted model must still chat.

Default vocabulary size (``default_vocab_size``): half the number of distinct words of the
training text, rounded up to a multiple of 64, clamped to [1000, 16000]. A BPE vocabulary
much larger than the text's distinct words only memorises whole rare words; 16,000 keeps the
embedding table — what trans-tokenization and fine-tuning change — small on a laptop.
Measured by ``bench/tokenizer_fertility.py`` (held-out tokens/word, corpus text only): Welsh
8,806 distinct words -> 4,416 tokens, fertility 1.365, against 1.284 at 8,000, 1.262 at the
BPE's ceiling (10,531 tokens: pairs seen once are never merged) and SmolLM2's 2.582; Afrikaans
and Frisian look the same. With the FreeDict headwords the Welsh workspace has 17,969 distinct
words -> 9,024 tokens.

Which kind of tokenizer is decided by the source model's family
(:meth:`kit.models.families.Family.tokenizer_kind`): byte-level BPE sources (SmolLM, Llama-3,
Qwen) get a byte-level BPE with the source's pre-tokenizer; SentencePiece sources (Gemma,
Llama-2, Mistral) get the SentencePiece kind with byte fallback (:mod:`kit.tokenizer.spm`).
A normalizer llama.cpp does not apply (Qwen2's NFC) is left out of a byte-level target, so
llama.cpp and the HF tokenizer split every text alike.

Algorithms: ``bpe`` (default) is BPE of the kind above, the one the GGUF export supports; ``unigram`` is SentencePiece's unigram LM trained on the
source's pre-tokenized words and stored as a ``tokenizers`` Unigram behind the same
pre-tokenizer (see ``_sentencepiece_unigram``).

Deterministic: the same text and seed give a byte-identical ``tokenizer.json`` (BPE merges
break ties by token, not by hash order; SentencePiece runs on one thread; both tested across
processes). ``tokenizers``' own UnigramTrainer is *not* used: its float sums run in hash
order and its vocabulary changed from run to run. ``seed`` samples the text when it exceeds
``MAX_TRAIN_CHARS`` and seeds SentencePiece.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Optional

from ..db import save_by_key
from ..errors import TaalkitError, WorkspaceError
from ..fsutil import atomic_path, sha256_file
from ..progress import CancelToken, ProgressCallback, emit
from ..workspace import Workspace, now
from .text import MAX_TRAIN_CHARS, TrainingText, count_words, training_text

STAGE = "tokenizer"
ALGOS = ("bpe", "unigram")
MIN_VOCAB, MAX_VOCAB = 1000, 16000
BYTE_LEVEL_PRE = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
BYTE_LEVEL_DECODER = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}


def default_vocab_size(distinct_words: int) -> int:
    """Half the distinct words, rounded up to a multiple of 64, clamped to [1000, 16000]."""
    size = int(math.ceil(distinct_words / 2 / 64) * 64)
    return max(MIN_VOCAB, min(MAX_VOCAB, size))


class SourceTokenizer:
    """The parts of the source model's tokenizer a target tokenizer inherits (read from its files)."""

    def __init__(self, folder: Path) -> None:
        from ..models.families import family_or_generic

        self.folder = folder
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise WorkspaceError(f"{path}: missing; the source model has no fast tokenizer to copy from")
        self.spec = json.loads(path.read_text(encoding="utf-8"))
        cfg_path = folder / "tokenizer_config.json"
        self.config = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
        added = sorted(self.spec.get("added_tokens") or [], key=lambda t: t["id"])
        self.specials = [t for t in added if t.get("special")]
        self.byte_level = _has_byte_level(self.spec.get("pre_tokenizer"))
        try:
            model_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            model_config = {}
        self.family = family_or_generic(model_config)
        self.kind = self.family.tokenizer_kind(self.spec)

    @property
    def special_strings(self) -> list[str]:
        return [t["content"] for t in self.specials]

    def role(self, key: str) -> Optional[str]:
        value = self.config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        return value if value in self.special_strings else None

    def max_length(self) -> int:
        """The model's context length (the source tokenizer's own value is often a placeholder 1e30)."""
        try:
            n = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))["max_position_embeddings"]
            return int(n)
        except (OSError, ValueError, KeyError, TypeError):
            value = self.config.get("model_max_length")
            return int(value) if isinstance(value, int) and value < 10**7 else 8192

    def chat_template(self) -> Optional[str]:
        from ..models import read_chat_template

        # A base checkpoint without one (Gemma-3-270M) chats in its family's format.
        return read_chat_template(self.folder) or getattr(self.family, "default_chat_template", None)


def _has_byte_level(pre: Optional[dict]) -> bool:
    if not pre:
        return False
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    return any(p.get("type") == "ByteLevel" for p in parts)


def source_tokenizer_folder(ws: Workspace) -> Path:
    row = ws.latest_model("source")
    if row is None:
        raise WorkspaceError("the workspace has no source model yet", next_step="add_model")
    return ws.model_dir(row)


# Normalizers llama.cpp's byte-level BPE does not apply; kept, they would make HF and llama.cpp
# split non-normalized text differently.
UNREPRODUCIBLE_NORMALIZERS = ("NFC", "NFKC", "NFD", "NFKD")


def build_tokenizer(texts: list[str], source: SourceTokenizer, *, vocab_size: int, algo: str, seed: int = 0):
    """A trained ``tokenizers.Tokenizer`` with the source's pre-tokenizer, decoder and specials.

    The kind follows the source's family (``source.kind``): ``spm`` is trained by
    :func:`kit.tokenizer.spm.build_spm_tokenizer`, ``bpe-bytelevel`` here.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if algo == "bpe" and source.kind == "spm":
        from .spm import build_spm_tokenizer

        return build_spm_tokenizer(texts, source, vocab_size=vocab_size, seed=seed,
                                   extra_specials=source.family.end_of_turn)
    specials = source.special_strings
    # Keep the source's text handling when it is byte-level (every byte has a token, so no
    # <unk>); otherwise fall back to plain byte-level BPE, which any text survives.
    pre = source.spec.get("pre_tokenizer") if source.byte_level else BYTE_LEVEL_PRE
    decoder = source.spec.get("decoder") if source.byte_level else BYTE_LEVEL_DECODER
    normalizer = source.spec.get("normalizer") if source.byte_level else None
    if normalizer and normalizer.get("type") in UNREPRODUCIBLE_NORMALIZERS:
        normalizer = None
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if algo == "bpe":
        tok = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=specials,
                                      initial_alphabet=alphabet, show_progress=False)
    else:
        tok = Tokenizer(models.Unigram())
    spec = json.loads(tok.to_str())
    spec["pre_tokenizer"], spec["decoder"], spec["normalizer"] = pre, decoder, normalizer
    tok = Tokenizer.from_str(json.dumps(spec))
    if algo == "bpe":
        tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    else:
        unk = source.role("unk_token") or (specials[0] if specials else None)
        tok.model = _sentencepiece_unigram(texts, tok, specials, unk, vocab_size=vocab_size, seed=seed)
    post = source.spec.get("post_processor") if source.byte_level else None
    if post is not None:
        spec = json.loads(tok.to_str())
        spec["post_processor"] = _remap_post_processor(post, tok)
        tok = Tokenizer.from_str(json.dumps(spec))
    return tok


def _sentencepiece_unigram(texts: list[str], tok, specials: list[str], unk: Optional[str], *,
                           vocab_size: int, seed: int):
    """A ``tokenizers`` Unigram model trained by SentencePiece on the source's pre-tokenized words.

    SentencePiece's own text handling (``▁`` for spaces) would not match the source model's
    byte-level splitting, so it is given the words *after* the source's normalizer and
    pre-tokenizer (byte-level strings, no spaces) with their counts (``input_format=tsv``), and
    only its unigram pieces and scores are kept. Every one of the 256 byte symbols is in the
    vocabulary (unseen ones at the lowest score), so no text ever becomes ``<unk>``.
    SentencePiece with one thread is deterministic; ``seed`` seeds its sampler.
    """
    import io
    from collections import Counter

    import sentencepiece as spm
    from tokenizers import models, pre_tokenizers

    counts: Counter = Counter()
    for text in texts:
        if tok.normalizer is not None:
            text = tok.normalizer.normalize_str(text)
        counts.update(w for w, _ in tok.pre_tokenizer.pre_tokenize_str(text))
    words = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    seen = {c for w, _ in words for c in w}
    missing = sorted(set(pre_tokenizers.ByteLevel.alphabet()) - seen)
    pieces_wanted = vocab_size - len(specials) - len(missing)
    if pieces_wanted < len(seen) + 2:
        raise TaalkitError(f"--vocab-size {vocab_size} is too small for a unigram tokenizer of this text; "
                           f"use at least {len(specials) + len(missing) + len(seen) + 2}")
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter([f"{w}\t{n}" for w, n in words]), model_writer=model, input_format="tsv",
            model_type="unigram", vocab_size=pieces_wanted + 1, hard_vocab_limit=False, character_coverage=1.0,
            add_dummy_prefix=False, split_by_whitespace=False, split_by_unicode_script=False,
            split_by_number=False, split_digits=False, remove_extra_whitespaces=False,
            normalization_rule_name="identity", byte_fallback=False, max_sentencepiece_length=16,
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, num_threads=1, minloglevel=2)
    except RuntimeError as err:
        raise TaalkitError(f"sentencepiece could not train a unigram tokenizer: {err}") from None
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [(sp.id_to_piece(i), float(sp.get_score(i))) for i in range(sp.get_piece_size())
              if not (sp.is_unknown(i) or sp.is_control(i))]
    floor = min((score for _, score in pieces), default=0.0) - 10.0
    vocab = [(s, 0.0) for s in specials] + pieces + [(c, floor) for c in missing]
    unk_id = specials.index(unk) if unk in specials else None
    return models.Unigram(vocab, unk_id=unk_id, byte_fallback=False)


def _remap_post_processor(post: dict, tok) -> dict:
    """The source's post-processor with its special-token ids looked up in the new vocabulary."""
    text = json.dumps(post)
    data = json.loads(text)

    def fix(node):
        if isinstance(node, dict):
            if "ids" in node and "tokens" in node and isinstance(node["tokens"], list):
                node["ids"] = [tok.token_to_id(t) if tok.token_to_id(t) is not None else i
                               for t, i in zip(node["tokens"], node["ids"])]
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)
    fix(data)
    return data


def train_tokenizer(ws: Workspace, *, vocab_size: Optional[int] = None, algo: str = "bpe", seed: int = 0,
                    name: Optional[str] = None, target_only: bool = False,
                    progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Train a target tokenizer on the workspace's text; save ``tokenizer/<name>/``; return its row.

    The text is the target language plus, unless ``target_only``, the source side of the parallel
    pairs and the translation prompt's words (why: kit.tokenizer.text).
    """
    from transformers import PreTrainedTokenizerFast

    from ..models import pin_chat_template

    if algo not in ALGOS:
        raise TaalkitError(f"unknown tokenizer algorithm {algo!r}; use {' or '.join(ALGOS)}")
    if vocab_size is not None and not (300 <= vocab_size <= 262144):
        raise TaalkitError(f"--vocab-size {vocab_size} is out of range; use 300 to 262144")
    emit(progress, STAGE, 0, 3, "reading the workspace's text")
    source = SourceTokenizer(source_tokenizer_folder(ws))
    data = _sampled(training_text(ws, target_only=target_only, source_folder=source.folder), seed)
    words, distinct = count_words(data.texts)
    size = int(vocab_size or default_vocab_size(distinct))
    name = name or f"{ws.target_lang}-{algo}-{size}"
    if cancel is not None:
        cancel.check()
    emit(progress, STAGE, 1, 3, f"training {algo} ({size} tokens) on {len(data.texts)} texts")
    tok = build_tokenizer(data.texts, source, vocab_size=size, algo=algo, seed=seed)
    if cancel is not None:
        cancel.check()

    ids = {s: tok.token_to_id(s) for s in source.special_strings}
    same_ids = all(ids[t["content"]] == t["id"] for t in source.specials)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=source.role("bos_token"), eos_token=source.role("eos_token"),
        unk_token=source.role("unk_token"), pad_token=source.role("pad_token"),
        model_max_length=source.max_length(),
    )
    template = source.chat_template()
    if template:
        fast.chat_template = template
    target = ws.tokenizer_dir / name
    emit(progress, STAGE, 2, 3, f"saving {ws.relative(target)}")
    with atomic_path(target) as tmp:
        fast.save_pretrained(str(tmp))
        pin_chat_template(tmp, template)
        sha = sha256_file(tmp / "tokenizer.json")

    trained_on = {"texts": len(data.texts), "segments": data.segments, "dictionary_words": data.dictionary_words,
                  "source_texts": data.source_texts, "words": words, "distinct_words": distinct, "chars": data.chars}
    extra = {"requested_vocab_size": vocab_size, "target_vocab_size": size, "vocab_rule": None if vocab_size else "distinct_words/2, x64, [1000,16000]",
             "special_ids": ids, "special_ids_match_source": same_ids, "byte_level": source.byte_level,
             "kind": "unigram" if algo == "unigram" else source.kind, "family": source.family.name,
             "pre_tokenizer": json.loads(tok.to_str()).get("pre_tokenizer"),
             "source_model": str(source.folder.relative_to(ws.root)) if source.folder.is_relative_to(ws.root)
             else str(source.folder)}
    row = {"name": name, "path": ws.relative(target), "algo": algo, "vocab_size": tok.get_vocab_size(),
           "seed": seed, "sha256": sha, "trained_on": json.dumps(trained_on), "created_at": now(),
           "extra": json.dumps(extra, sort_keys=True)}
    row_id = save_by_key(ws.db, "tokenizers", row)  # in place when retrained: mappings keep their tokenizer
    emit(progress, STAGE, 3, 3, f"{name}: {row['vocab_size']} tokens")
    return {"id": row_id, **row}


def _sampled(data: TrainingText, seed: int) -> TrainingText:
    """Keep at most ``MAX_TRAIN_CHARS`` of text, sampled with ``seed``, in original order."""
    if data.chars <= MAX_TRAIN_CHARS:
        return data
    rng = random.Random(seed)
    keep = sorted(rng.sample(range(len(data.texts)), k=int(len(data.texts) * MAX_TRAIN_CHARS / data.chars)))
    return TrainingText([data.texts[i] for i in keep], data.segments, data.dictionary_words, data.source_texts)
