"""The SentencePiece-kind target tokenizer, for sources that are SentencePiece (Gemma, Llama-2, Mistral).

Why a second kind: a Gemma or Llama-2 model reads text as SentencePiece pieces (``▁`` for a
space, unknown characters as ``<0xXX>`` byte pieces) and llama.cpp runs such a vocabulary
with its ``llama`` (SPM) tokenizer, which merges by *piece score*. A byte-level BPE target
would need a different llama.cpp tokenizer than the architecture's own and would throw away the
source's byte-fallback text handling, which trans-tokenization relies on to copy the rows of
pieces the source has (``▁cath`` is a piece in both vocabularies).

How: the ``sentencepiece`` library (the trainer Gemma's and Llama's own vocabularies came from)
trains a BPE model with byte fallback on the workspace text, with the source's whitespace
rules (Gemma adds no dummy prefix, Llama-2 does; neither collapses spaces). Its pieces and
scores become a ``tokenizers`` BPE whose merges are generated from the scores by
transformers' ``generate_merges`` (every two-piece split of every piece, ranked by the piece's
score), the construction transformers uses for Gemma itself: HF's rank-ordered BPE then
merges exactly as SentencePiece and llama.cpp do by score. The source's normalizer,
pre-tokenizer, decoder and BOS post-processor are kept, so the new tokenizer splits text the
way the model was trained to see it.

Special tokens: the source's role tokens (pad, eos, bos, unk, mask) and the chat-turn tokens
its chat template (or family) uses keep their source order at the lowest ids (Gemma: ``<pad>``
0, ``<eos>`` 1, ``<bos>`` 2, ``<unk>`` 3, ``<mask>`` 4, then ``<start_of_turn>``,
``<end_of_turn>``). Gemma's ~6,000 ``<unusedN>`` and image tokens are not carried: they would
be a third of a 16k vocabulary that no text ever produces. Byte pieces ``<0x00>``…``<0xFF>``
are all present, so no text becomes ``<unk>``.

Deterministic: SentencePiece on one thread with a fixed seed gives the same model for the same
text (tested across processes).
"""

from __future__ import annotations

import io
import json
import re
from typing import Iterable, Optional, Sequence

from ..errors import TaalkitError

ROLE_KEYS = ("pad_token", "eos_token", "bos_token", "unk_token", "mask_token")
# Lines longer than this (bytes) are cut by SentencePiece's trainer; corpus segments are far shorter.
MAX_SENTENCE_BYTES = 1 << 16
NORMAL, BYTE = 1, 6  # SentencePiece piece types
_ASCII_DIGITS = re.compile(r"[0-9]{2}")
_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")


def kept_specials(source, extra: Iterable[str] = ()) -> list[str]:
    """The source's special tokens a SentencePiece-kind target keeps, in source id order.

    Role tokens (pad/eos/bos/unk/mask), tokens the chat template names, the family's chat
    tokens (``chat_specials``) and ``extra`` (its end-of-turn tokens) — nothing else.
    """
    template = source.chat_template() or ""
    roles = {source.role(k) for k in ROLE_KEYS} - {None}
    family = getattr(source, "family", None)
    wanted = set(extra) | roles | set(getattr(family, "chat_specials", ()))
    return [s for s in source.special_strings if s in wanted or (len(s) > 1 and s in template)]


def _adds_dummy_prefix(spec: dict) -> bool:
    """Whether the source puts ``▁`` before the text (Llama-2 yes, Gemma no)."""
    def parts(node, key):
        node = node or {}
        return node.get(key, [node]) if node.get("type") == "Sequence" else [node]

    for n in parts(spec.get("normalizer"), "normalizers"):
        if n.get("type") == "Prepend" and n.get("prepend") == "\u2581":
            return True
    for p in parts(spec.get("pre_tokenizer"), "pretokenizers"):
        if p.get("type") == "Metaspace":
            return p.get("prepend_scheme", "always" if p.get("add_prefix_space", True) else "never") != "never"
    return False


def _splits_digits(spec: dict) -> bool:
    """Whether the source vocabulary has no multi-digit piece (Gemma, Llama-2: digits one by one)."""
    vocab = (spec.get("model") or {}).get("vocab") or {}
    added = {t.get("content") for t in spec.get("added_tokens") or []}  # <unused12> is no text piece
    pieces = vocab.keys() if isinstance(vocab, dict) else (v[0] for v in vocab)
    return not any(_ASCII_DIGITS.search(p) for p in pieces if p not in added and not _BYTE_PIECE.match(p))


def train_spm_pieces(texts: Sequence[str], *, vocab_size: int, dummy_prefix: bool, split_digits: bool,
                     seed: int = 0) -> list[tuple[str, float, int]]:
    """SentencePiece BPE with byte fallback on ``texts``: ``[(piece, score, type)]`` without ``<unk>``.

    ``type`` is SentencePiece's (1 normal, 6 byte). ``vocab_size`` counts these pieces plus
    ``<unk>``; ``hard_vocab_limit=False`` lets a small text end below it.
    """
    import sentencepiece as spm

    lines = [line for text in texts for line in text.splitlines() if line.strip()]
    if not lines:
        raise TaalkitError("there is no text to train a tokenizer on; import a corpus or a dictionary first")
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, model_type="bpe", vocab_size=vocab_size,
            hard_vocab_limit=False, character_coverage=1.0, byte_fallback=True,
            add_dummy_prefix=dummy_prefix, remove_extra_whitespaces=False, normalization_rule_name="identity",
            split_digits=split_digits, allow_whitespace_only_pieces=True, max_sentencepiece_length=16,
            max_sentence_length=MAX_SENTENCE_BYTES, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
            num_threads=1, minloglevel=2, input_sentence_size=0, shuffle_input_sentence=False)
    except RuntimeError as err:
        raise TaalkitError(f"sentencepiece could not train the tokenizer: {' '.join(str(err).split())[:200]}") from None
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    return [(sp.id_to_piece(i), float(sp.get_score(i)), BYTE if sp.is_byte(i) else NORMAL)
            for i in range(sp.get_piece_size()) if not (sp.is_unknown(i) or sp.is_control(i))]


def build_spm_tokenizer(texts: Sequence[str], source, *, vocab_size: int, seed: int = 0,
                        extra_specials: Iterable[str] = ()):
    """A trained SentencePiece-kind ``tokenizers.Tokenizer`` with the source's text handling and specials.

    ``source`` is a :class:`kit.tokenizer.train.SourceTokenizer`; ``extra_specials`` are
    tokens to keep besides the roles and the chat template's (the family's end-of-turn).
    """
    from tokenizers import AddedToken, Tokenizer, models
    from transformers.tokenization_utils_base import generate_merges

    spec = source.spec
    specials = kept_specials(source, extra_specials)
    unk = source.role("unk_token")
    if unk is None:
        raise TaalkitError(f"{source.folder}: the source tokenizer names no unk_token; a SentencePiece-kind "
                           "tokenizer needs one")
    pieces = train_spm_pieces(texts, vocab_size=max(2, vocab_size - len(specials) + 1),
                              dummy_prefix=_adds_dummy_prefix(spec), split_digits=_splits_digits(spec), seed=seed)
    vocab: dict[str, int] = {}
    for s in specials:
        vocab[s] = len(vocab)
    scores: dict[str, float] = {}
    for piece, score, _typ in pieces:
        if piece in vocab:
            continue
        vocab[piece] = len(vocab)
        scores[piece] = score
    # Merges from the scores alone (special tokens never take part): SentencePiece's order.
    ordered = dict(sorted(scores.items(), key=lambda kv: -kv[1]))
    bytes_ = {p for p, _s, typ in pieces if typ == BYTE}  # <0xXX>: used whole, never merged
    merges = generate_merges(vocab, ordered, skip_tokens=set(specials) | bytes_)
    model = models.BPE(vocab=vocab, merges=merges, unk_token=unk, byte_fallback=True, fuse_unk=True,
                       dropout=None)
    tok = Tokenizer(model)
    base = json.loads(tok.to_str())
    for key in ("normalizer", "pre_tokenizer", "decoder"):
        base[key] = spec.get(key)
    tok = Tokenizer.from_str(json.dumps(base))
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    post = spec.get("post_processor")
    if post is not None:
        from .train import _remap_post_processor

        spec_out = json.loads(tok.to_str())
        spec_out["post_processor"] = _remap_post_processor(post, tok)
        tok = Tokenizer.from_str(json.dumps(spec_out))
    return tok


def spm_scores(spec: dict) -> Optional[dict[str, float]]:
    """Piece -> score of a SentencePiece-kind ``tokenizer.json``, from its merge order.

    A piece's score is minus the rank of the first merge that makes it; single characters and
    byte pieces score 0. For merges built by ``generate_merges`` (this module, transformers'
    Gemma/Llama conversions and its GGUF reader) the order of these scores is SentencePiece's,
    which is all llama.cpp's SPM tokenizer uses. ``None`` if ``spec`` is no BPE.
    """
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        return None
    first: dict[str, int] = {}
    for k, merge in enumerate(model.get("merges") or []):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        first.setdefault(left + right, k)
    vocab = model.get("vocab") or {}
    return {tok: (-float(first[tok]) if tok in first else 0.0) for tok in vocab}
