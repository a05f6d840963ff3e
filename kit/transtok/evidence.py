"""Evidence that target token t corresponds to source token s, one kind at a time.

Each kind is kept as its own sparse target×source count matrix with, for every (t, s)
pair, the database row (dictionary entry or segment) of one example behind it, so the
combined mapping can always say *why* t looks like s (``taalkit transtokenize explain``).

Kinds (METHOD.md, "Where w(t, s) comes from"):

- ``dictionary``: every entry is a tiny aligned sentence pair; entries and parallel
  segments go through the same EM aligner (``align.py``) so multi-word entries are aligned
  inside the entry instead of spread uniformly.
- ``parallel``: aligned word pairs of the parallel segments.
- ``identical``: a target token whose text is also a source token (numbers, punctuation,
  names, shared subwords) gets one count on its twin.
- ``pinned``: special tokens and chat-template markers; they replace all other evidence
  so their rows are copied exactly.
- ``fvt``: the target token's text split by the source tokenizer (Fast Vocabulary
  Transfer); the fallback for tokens nothing else covers, the prior every evidence row is
  blended with (``TokenMapping.combine``), and a baseline on its own.

Aligned *words* are spread onto their tokens as the published code does, half "in order"
(both token lists stretched to a common length and zipped, which keeps first-token
information) and half all-to-all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Optional, Sequence

import numpy as np
from scipy import sparse

from . import align as _align

KINDS = ("pinned", "dictionary", "parallel", "identical", "fvt")
CHAT_ROLE_MARKERS = ("system", "user", "assistant", "\n")


@dataclass
class Evidence:
    """Counts of one evidence kind plus one example row per (t, s) pair."""

    kind: str
    counts: sparse.csr_matrix  # n_target × n_source
    example_keys: np.ndarray  # sorted t * n_source + s
    example_rows: np.ndarray  # DB row id (entries.id / segments.id), -1 when none

    @property
    def covered(self) -> np.ndarray:
        """Target token ids with any count of this kind."""
        return np.flatnonzero(np.diff(self.counts.indptr) > 0)

    def example(self, t: int, s: int) -> int:
        key = t * self.counts.shape[1] + s
        i = np.searchsorted(self.example_keys, key)
        if i < len(self.example_keys) and self.example_keys[i] == key:
            return int(self.example_rows[i])
        return -1


def make_evidence(kind: str, t: np.ndarray, s: np.ndarray, w: np.ndarray, rows: np.ndarray,
                  n_target: int, n_source: int) -> Evidence:
    t = np.asarray(t, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    counts = sparse.coo_matrix((np.asarray(w, dtype=np.float64), (t, s)),
                               shape=(n_target, n_source)).tocsr()
    counts.sum_duplicates()
    counts.eliminate_zeros()
    keys, first = np.unique(t * n_source + s, return_index=True)
    return Evidence(kind, counts, keys, np.asarray(rows, dtype=np.int64)[first] if len(first) else
                    np.zeros(0, np.int64))


# -- tokenization into words -----------------------------------------------------------
class WordVocab:
    """Words as tuples of token ids: the aligner's units on one side."""

    def __init__(self) -> None:
        self.index: dict[tuple, int] = {}
        self.words: list[tuple] = []

    def add(self, word: tuple) -> int:
        i = self.index.get(word)
        if i is None:
            i = self.index[word] = len(self.words)
            self.words.append(word)
        return i

    def __len__(self) -> int:
        return len(self.words)


def tokenize_words(tokenizer, texts: Sequence[str], vocab: WordVocab) -> list[np.ndarray]:
    """Split each text into words (the tokenizer's own pre-tokenizer) and return word ids."""
    backend = tokenizer.backend_tokenizer
    out = []
    for enc in backend.encode_batch(list(texts), add_special_tokens=False):
        words, current, last = [], [], object()
        for tok, wid in zip(enc.ids, enc.word_ids):
            if wid != last or wid is None:
                if current:
                    words.append(vocab.add(tuple(current)))
                current = []
                last = wid
            current.append(tok)
        if current:
            words.append(vocab.add(tuple(current)))
        out.append(np.array(words, dtype=np.int64))
    return out


@lru_cache(maxsize=None)
def spread_matrix(a: int, b: int) -> np.ndarray:
    """How one aligned word pair of a target and b source tokens spreads its count.

    Row p says how target token p's share (1) goes to the b source tokens: half in order
    (overlap of p's and q's stretches of the unit interval), half all-to-all (1/b each).
    """
    edges_a = np.arange(a + 1) / a
    edges_b = np.arange(b + 1) / b
    lo = np.maximum(edges_a[:-1, None], edges_b[None, :-1])
    hi = np.minimum(edges_a[1:, None], edges_b[None, 1:])
    in_order = np.clip(hi - lo, 0, None) * a
    return 0.5 * in_order + 0.5 / b


def spread_links(target_word: np.ndarray, source_word: np.ndarray, weight: np.ndarray,
                 rows: np.ndarray, target_vocab: WordVocab, source_vocab: WordVocab):
    """Turn aligned word pairs into (t, s, weight, row) token triples, vectorised per shape."""
    if len(target_word) == 0:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0), z
    # Merge repeated word pairs first: one spread per distinct pair.
    n_sw = len(source_vocab)
    key = target_word * n_sw + source_word
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    w = np.bincount(inv, weight, minlength=len(uniq))
    tw = uniq // n_sw
    sw = uniq % n_sw
    r = rows[first]
    a = np.fromiter((len(target_vocab.words[x]) for x in tw), dtype=np.int64, count=len(tw))
    b = np.fromiter((len(source_vocab.words[x]) for x in sw), dtype=np.int64, count=len(sw))
    ts, ss, ws, rs = [], [], [], []
    shapes = np.unique(np.stack([a, b], axis=1), axis=0)
    for A, B in shapes:
        sel = np.flatnonzero((a == A) & (b == B))
        T = np.array([target_vocab.words[x] for x in tw[sel]], dtype=np.int64).reshape(len(sel), A)
        S = np.array([source_vocab.words[x] for x in sw[sel]], dtype=np.int64).reshape(len(sel), B)
        M = spread_matrix(int(A), int(B))
        shape = (len(sel), A, B)
        ts.append(np.broadcast_to(T[:, :, None], shape).ravel())
        ss.append(np.broadcast_to(S[:, None, :], shape).ravel())
        ws.append((w[sel][:, None, None] * M[None]).ravel())
        rs.append(np.broadcast_to(r[sel][:, None, None], shape).ravel())
    return np.concatenate(ts), np.concatenate(ss), np.concatenate(ws), np.concatenate(rs)


@dataclass
class PairSet:
    """Sentence pairs of one evidence kind, with the DB row each came from and a weight."""

    kind: str
    rows: Sequence[int]
    source: Sequence[str]
    target: Sequence[str]
    weight: float = 1.0


def dictionary_pairs(rows: Sequence[int], source: Sequence[str], target: Sequence[str],
                     weight: float = 1.0) -> PairSet:
    """Dictionary entries as tiny sentence pairs, in both in-text forms.

    A byte-level tokenizer writes "cath" differently at the start of a text and after a
    space (" cath" → ``Ġcath``); running text mostly has the second, while the first starts
    sentences. Each entry is added in both forms at half weight so both token variants
    get evidence.
    """
    rows2 = list(rows) + list(rows)
    src2 = [" " + s for s in source] + list(source)
    tgt2 = [" " + t for t in target] + list(target)
    return PairSet("dictionary", rows2, src2, tgt2, weight * 0.5)


def aligned_evidence(pairsets: Sequence[PairSet], source_tokenizer, target_tokenizer,
                     n_source: int, n_target: int, *, iterations: int = 5,
                     check: Optional[Callable[[], None]] = None,
                     aligner: str = "ibm1") -> tuple[dict[str, Evidence], dict]:
    """Align all pair sets jointly (shared EM statistics), keep the links of each kind apart.

    ``aligner``: ``ibm1`` (in-process) or ``eflomal`` (optional package); see :func:`align.align`."""
    src_vocab, tgt_vocab = WordVocab(), WordVocab()
    src_sents, tgt_sents, kind_of, rows_of, weight_of = [], [], [], [], []
    for k, ps in enumerate(pairsets):
        src_sents += tokenize_words(source_tokenizer, ps.source, src_vocab)
        tgt_sents += tokenize_words(target_tokenizer, ps.target, tgt_vocab)
        kind_of.append(np.full(len(ps.source), k))
        rows_of.append(np.asarray(ps.rows, dtype=np.int64))
        weight_of.append(np.full(len(ps.source), ps.weight))
    if not src_sents:
        return {}, {"links": 0}
    kind_of = np.concatenate(kind_of)
    rows_of = np.concatenate(rows_of)
    weight_of = np.concatenate(weight_of)
    links = _align.align(src_sents, tgt_sents, n_source_vocab=len(src_vocab),
                         n_target_vocab=len(tgt_vocab), iterations=iterations, check=check,
                         aligner=aligner)
    out: dict[str, Evidence] = {}
    for k, ps in enumerate(pairsets):
        sel = kind_of[links.sentence] == k
        t, s, w, r = spread_links(links.target_word[sel], links.source_word[sel],
                                  weight_of[links.sentence[sel]], rows_of[links.sentence[sel]],
                                  tgt_vocab, src_vocab)
        ev = make_evidence(ps.kind, t, s, w, r, n_target, n_source)
        if ps.kind in out:  # two pair sets of one kind: add up
            prev = out[ps.kind]
            ev = Evidence(ps.kind, prev.counts + ev.counts, *_merge_examples(prev, ev))
        out[ps.kind] = ev
    info = {"links": int(len(links.sentence)), "source_words": len(src_vocab),
            "target_words": len(tgt_vocab), "sentence_pairs": len(src_sents)}
    return out, info


def _merge_examples(a: Evidence, b: Evidence):
    keys = np.concatenate([a.example_keys, b.example_keys])
    rows = np.concatenate([a.example_rows, b.example_rows])
    uniq, first = np.unique(keys, return_index=True)
    return uniq, rows[first]


# -- token-text evidence -----------------------------------------------------------
def token_texts(tokenizer) -> list[str]:
    """The text each token id stands for (``Ġcat`` → " cat"), via the tokenizer's decoder."""
    backend = tokenizer.backend_tokenizer
    vocab = backend.get_vocab(with_added_tokens=True)
    pieces = [""] * (max(vocab.values()) + 1 if vocab else 0)
    for piece, i in vocab.items():
        pieces[i] = piece
    decoder = backend.decoder
    if decoder is None:
        return pieces
    return [decoder.decode([p]) if p else "" for p in pieces]


def special_token_ids(tokenizer) -> dict[str, int]:
    """Special and added tokens of a tokenizer by their string."""
    out = {}
    for tok in tokenizer.all_special_tokens:
        i = tokenizer.convert_tokens_to_ids(tok)
        if i is not None:
            out[tok] = i
    for i, added in tokenizer.added_tokens_decoder.items():
        out[str(added.content)] = int(i)
    return out


def pinned_evidence(source_tokenizer, target_tokenizer, n_source: int, n_target: int) -> Evidence:
    """Special tokens and chat-template markers: copied from their source twins.

    The published code pins only pad/unk/bos/eos; a chat model also needs the template's
    markers (``<|im_start|>``, ``<|im_end|>``) and role words, or it stops chatting.
    Role words are pinned only when the target tokenizer has them as one token.
    """
    src_special = special_token_ids(source_tokenizer)
    src_vocab = source_tokenizer.get_vocab()
    t_ids, s_ids, w = [], [], []
    for text, t in special_token_ids(target_tokenizer).items():
        s = src_special.get(text, src_vocab.get(text))
        if s is not None and t < n_target and s < n_source:
            t_ids.append(t); s_ids.append(s); w.append(1.0)
    pinned_targets = set(t_ids)
    for marker in CHAT_ROLE_MARKERS:
        tt = target_tokenizer(marker, add_special_tokens=False)["input_ids"]
        ss = source_tokenizer(marker, add_special_tokens=False)["input_ids"]
        if len(tt) == 1 and ss and tt[0] not in pinned_targets:
            for s in ss:
                t_ids.append(tt[0]); s_ids.append(s); w.append(1.0 / len(ss))
            pinned_targets.add(tt[0])
    return make_evidence("pinned", np.array(t_ids), np.array(s_ids), np.array(w),
                         np.full(len(t_ids), -1), n_target, n_source)


def identical_evidence(target_texts: Sequence[str], source_texts: Sequence[str],
                       exclude: Sequence[int] = ()) -> Evidence:
    """One count from t to the source token with exactly the same text."""
    n_t, n_s = len(target_texts), len(source_texts)
    where: dict[str, int] = {}
    for i, text in enumerate(source_texts):
        if text and text not in where:
            where[text] = i
    skip = set(int(x) for x in exclude)
    pairs = [(t, where[text]) for t, text in enumerate(target_texts)
             if text and t not in skip and text in where]
    t = np.array([p[0] for p in pairs], dtype=np.int64)
    s = np.array([p[1] for p in pairs], dtype=np.int64)
    return make_evidence("identical", t, s, np.ones(len(t)), np.full(len(t), -1), n_t, n_s)


def fvt_evidence(target_texts: Sequence[str], source_tokenizer, n_source: int,
                 ids: Optional[Sequence[int]] = None) -> Evidence:
    """Fast Vocabulary Transfer: split t's text with the source tokenizer, 1/k to each piece."""
    n_t = len(target_texts)
    ids = np.arange(n_t) if ids is None else np.asarray(ids, dtype=np.int64)
    texts = [target_texts[i] for i in ids]
    encs = source_tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False) if texts else []
    t, s, w = [], [], []
    for tid, text, enc in zip(ids, texts, encs):
        pieces = [p for p in enc.ids if p < n_source] if text else []
        for p in pieces:
            t.append(tid); s.append(p); w.append(1.0 / len(pieces))
    return make_evidence("fvt", np.array(t, dtype=np.int64), np.array(s, dtype=np.int64),
                         np.array(w), np.full(len(t), -1), n_t, n_source)
