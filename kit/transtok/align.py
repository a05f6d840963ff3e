"""An in-process word aligner: IBM Model 1 with fast_align's diagonal prior, both directions.

Why our own: the published trans-tokenization code shells out to the fast_align binary,
runs one direction and keeps only its lexical table. A laptop kit cannot depend on a C++
build, and the EM is small enough to vectorise: every (sentence, target position, source
position) triple of the corpus is one entry of a few flat numpy arrays, and one EM
iteration is three ``np.bincount`` calls. The 15k-pair Welsh demo corpus plus 25k
dictionary entries aligns in seconds.

Bounded memory: the entries are never all in memory at once. Each EM pass walks the corpus in
chunks of about ``CHUNK_ENTRIES`` entries, rebuilds a chunk's arrays and adds its expected counts
into one sparse lexical table (a sorted array of the distinct co-occurring word pairs, which grows
with the vocabulary, not with the number of sentences). The first version held every entry of the
corpus at once: 109k pairs peaked at 4.9 GB; see bench/align_scale.py for the figures now.

The model (Dyer et al. 2013, fast_align) for one direction: each word f_j of a sentence
chooses a word e_i of its pair, or NULL, with

    p(a_j = i) ∝ exp(-λ |(i+1)/m - (j+1)/n|)   (diagonal prior; NULL gets p0)
    p(f_j | e_i) = θ(f | e)                      (lexical table, learned by EM)

λ (``tension``) is kept fixed rather than re-estimated: with short UI strings and
dictionary entries the default of fast_align (4.0) is what its optimiser lands near anyway.
Both directions are trained and their Viterbi links symmetrised: the intersection, plus
union links whose two words are both otherwise unaligned ("grow-final-and" without the
diagonal growing step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from ..errors import TaalkitError

# The word aligners: ``ibm1`` is in-process and the default; ``eflomal`` needs ``pip install eflomal``.
ALIGNERS = ("ibm1", "eflomal")


@dataclass
class Links:
    """Aligned word pairs: parallel arrays, one element per link."""

    sentence: np.ndarray  # index of the sentence pair the link came from
    target_word: np.ndarray  # word id on the target side
    source_word: np.ndarray  # word id on the source side


# Entries (sentence, generated position, conditioning position) per chunk. Each entry costs about
# 150 bytes of numpy temporaries while its chunk is built, so a chunk peaks near 300 MB whatever the
# corpus size; smaller chunks only add per-call overhead.
CHUNK_ENTRIES = 2_000_000
# Chunks kept between EM passes instead of rebuilt (20 bytes an entry): a corpus of up to ~20M
# entries (~100k sentence pairs) is built once; a bigger one rebuilds the chunks beyond.
KEEP_BYTES = 400 * 2**20


@dataclass
class _Side:
    """One side of the corpus as flat arrays: every sentence's words back to back."""

    words: np.ndarray
    length: np.ndarray
    offset: np.ndarray

    @classmethod
    def of(cls, sentences: Sequence[np.ndarray]) -> "_Side":
        length = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        words = np.concatenate(sentences).astype(np.int64, copy=False) if len(sentences) else \
            np.zeros(0, np.int64)
        offset = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
        return cls(words, length, offset)


@dataclass
class _Chunk:
    """The entries of sentences ``lo:hi`` for one direction (see :func:`_chunk`)."""

    group: np.ndarray  # generated-side position, local to the chunk (0 .. n_groups-1)
    cond_pos: np.ndarray  # conditioning-side position (global), -1 for NULL
    key: np.ndarray  # generated word × (n_cond_vocab + 1) + conditioning word (NULL = n_cond_vocab)
    prior: np.ndarray
    n_groups: int
    group_start: int  # global position of the chunk's first generated word


def _chunk_bounds(gen: _Side, cond: _Side, limit: int) -> list[tuple[int, int]]:
    """Sentence ranges whose entries (n × (m + 1) per sentence) stay near ``limit``; never split a sentence."""
    sizes = gen.length * (cond.length + 1)
    ends = np.cumsum(sizes)
    bounds, lo, base = [], 0, 0
    n = len(sizes)
    while lo < n:
        hi = int(np.searchsorted(ends, base + limit, side="right"))
        hi = max(hi, lo + 1)
        bounds.append((lo, hi))
        base = int(ends[hi - 1])
        lo = hi
    return bounds


def _chunk(gen: _Side, cond: _Side, lo: int, hi: int, n_cond_vocab: int, tension: float,
           p_null: float) -> _Chunk:
    """Entries of sentences ``lo:hi``: every (target position, source position or NULL) of each pair."""
    n = gen.length[lo:hi]
    m = cond.length[lo:hi]
    width = m + 1  # every position may also choose NULL
    sizes = n * width
    sent = np.repeat(np.arange(hi - lo), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    local = np.arange(int(sizes.sum()), dtype=np.int64) - starts[sent]
    w = width[sent]
    j = local // w
    i = local % w
    del local, w
    ms = m[sent]
    ns = n[sent]
    is_null = i == ms
    group_start = int(gen.offset[lo]) if hi > lo else 0
    group = (gen.offset[lo:hi] - group_start)[sent] + j
    cond_pos = np.where(is_null, -1, cond.offset[lo:hi][sent] + np.minimum(i, np.maximum(ms - 1, 0)))
    cond_word = np.where(is_null, n_cond_vocab, cond.words[np.maximum(cond_pos, 0)] if len(cond.words) else 0)
    key = gen.words[group + group_start] * (n_cond_vocab + 1) + cond_word
    del cond_word, sent

    # Diagonal prior, normalised over the non-NULL positions of each generated word.
    h = -np.abs((i + 1) / np.maximum(ms, 1) - (j + 1) / ns)
    del i, j, ms, ns
    a = np.where(is_null, 0.0, np.exp(tension * h))
    del h
    n_groups = int(n.sum())
    z = np.bincount(group, a, minlength=n_groups)
    prior = np.where(is_null, p_null, (1.0 - p_null) * a / np.maximum(z[group], 1e-300))
    return _Chunk(group=group, cond_pos=cond_pos, key=key, prior=prior, n_groups=n_groups,
                  group_start=group_start)


@dataclass
class _Kept:
    """A chunk kept between passes in compact form (int32 indices): 20 bytes an entry."""

    group: np.ndarray
    cond_pos: np.ndarray
    pair: np.ndarray  # the chunk's keys until the table is complete, then indices into it
    prior: np.ndarray
    n_groups: int
    group_start: int


def _em_viterbi(gen: _Side, cond: _Side, n_cond_vocab: int, iterations: int, tension: float,
                p_null: float, check: Callable[[], None], chunk_entries: int,
                keep_bytes: int) -> np.ndarray:
    """Run EM for θ, return for each generated position its best conditioning position (-1 = NULL).

    Streamed: each pass takes one chunk of entries at a time and adds its expected counts into the
    lexical table, so peak memory is the table, the chunks kept (``keep_bytes`` at most, in compact
    form, so a small corpus is built once) and one chunk being built, whatever the corpus size.
    Chunks beyond the kept ones are rebuilt in every pass, a few vectorised numpy calls each: time
    stays linear in the corpus. The expected counts are added in the same order as the in-memory
    EM added them, so the links are bit for bit the same (bench/align_scale.py checks).
    """
    bounds = _chunk_bounds(gen, cond, chunk_entries)
    kept: list[_Kept] = []
    budget = keep_bytes

    # Pass 0: the lexical table's index, the sorted distinct (generated word, conditioning word) keys.
    # Its size is the number of distinct co-occurring word pairs (it grows with the vocabulary, not
    # with the sentences); merged a few chunks at a time so no copy of every key exists.
    table = np.zeros(0, np.int64)
    pending: list[np.ndarray] = []
    pending_size = 0
    for n, (lo, hi) in enumerate(bounds):
        check()
        c = _chunk(gen, cond, lo, hi, n_cond_vocab, tension, p_null)
        u = np.unique(c.key)
        pending.append(u)
        pending_size += len(u)
        if pending_size > max(len(table), chunk_entries):
            table = np.unique(np.concatenate([table, *pending]))
            pending, pending_size = [], 0
        size = 28 * len(c.key)  # while the keys are int64; 20 bytes once they are table indices
        if len(kept) == n and size <= budget:  # the first chunks, as many as fit
            kept.append(_Kept(c.group.astype(np.int32), c.cond_pos.astype(np.int32), c.key, c.prior,
                              c.n_groups, c.group_start))
            budget -= size
        del c
    if pending:
        table = np.unique(np.concatenate([table, *pending]))
    del pending
    for k in kept:
        k.pair = np.searchsorted(table, k.pair).astype(np.int32)
    cond_of_pair = table % (n_cond_vocab + 1)

    def each():
        for n, (lo, hi) in enumerate(bounds):
            if n < len(kept):
                yield kept[n]
            else:
                c = _chunk(gen, cond, lo, hi, n_cond_vocab, tension, p_null)
                yield _Kept(c.group, c.cond_pos, np.searchsorted(table, c.key), c.prior, c.n_groups,
                            c.group_start)

    theta = np.ones(len(table))
    for _ in range(iterations):
        check()
        counts = np.zeros(len(table))
        for c in each():
            check()
            score = c.prior * theta[c.pair]
            z = np.bincount(c.group, score, minlength=c.n_groups)
            post = score / np.maximum(z[c.group], 1e-300)
            # In place and in entry order: the very additions one bincount over the whole corpus
            # makes, so chunking changes no bit of the result (np.add.at is also the faster here).
            np.add.at(counts, c.pair, post)
        totals = np.bincount(cond_of_pair, counts, minlength=n_cond_vocab + 1)
        theta = counts / np.maximum(totals[cond_of_pair], 1e-300)
    out = np.full(int(gen.length.sum()), -1, dtype=np.int64)
    for c in each():
        check()
        score = c.prior * theta[c.pair]
        # Groups are contiguous and in order: sort by (group, -score) and keep each group's first.
        order = np.lexsort((-score, c.group))
        g = c.group[order]
        first = np.ones(len(g), dtype=bool)
        first[1:] = g[1:] != g[:-1]
        best = order[first]
        out[c.group_start + c.group[best]] = c.cond_pos[best]
    return out


def align(source: Sequence[np.ndarray], target: Sequence[np.ndarray], *, n_source_vocab: int,
          n_target_vocab: int, iterations: int = 5, tension: float = 4.0, p_null: float = 0.08,
          check: Optional[Callable[[], None]] = None, chunk_entries: Optional[int] = None,
          keep_bytes: Optional[int] = None, aligner: str = "ibm1") -> Links:
    """Align sentence pairs given as arrays of word ids; return the symmetrised links.

    ``source[k]`` and ``target[k]`` are the two sides of pair k. Pairs with an empty side
    are skipped. A pair of one word on each side is always linked (a dictionary entry
    "cath ⇄ cat" needs no EM to be believed).

    ``aligner``: ``ibm1`` (this module's EM, always there) or ``eflomal`` (the optional
    ``eflomal`` package from PyPI: a Bayesian HMM+fertility aligner sampled in C; both of its
    directions are symmetrised the same way). ``iterations``, ``tension`` and ``p_null`` are
    IBM-1's; eflomal picks its own. eflomal is not deterministic (Gibbs sampling, and eflomal 2.0.0
    takes no seed: two runs on one corpus shared 85% of their links), and on the shipped data it was
    no clear win (bench/RESULTS.md, init_quality): hence optional, and IBM-1 the default.
    """
    if aligner not in ALIGNERS:
        raise TaalkitError(f"unknown aligner {aligner!r}; choose one of {', '.join(ALIGNERS)}")
    if aligner == "eflomal":
        require_eflomal()
    check = check or (lambda: None)
    src = [np.asarray(s, dtype=np.int64) for s in source]
    tgt = [np.asarray(t, dtype=np.int64) for t in target]
    keep = np.array([len(s) > 0 and len(t) > 0 for s, t in zip(src, tgt)], dtype=bool)
    idx = np.flatnonzero(keep)
    if not len(idx):
        empty = np.zeros(0, dtype=np.int64)
        return Links(empty, empty, empty)
    s_side = _Side.of([src[k] for k in idx])
    t_side = _Side.of([tgt[k] for k in idx])
    del src, tgt
    chunk = chunk_entries or CHUNK_ENTRIES
    kept_bytes = KEEP_BYTES if keep_bytes is None else keep_bytes

    if aligner == "eflomal":
        key_f, key_r = _eflomal_links(s_side, t_side, check)
    else:
        # target | source: each target word picks a source position.
        fwd = _em_viterbi(t_side, s_side, n_source_vocab, iterations, tension, p_null, check, chunk, kept_bytes)
        # source | target: each source word picks a target position.
        rev = _em_viterbi(s_side, t_side, n_target_vocab, iterations, tension, p_null, check, chunk, kept_bytes)
        n_s = len(s_side.words)
        t_pos_f = np.flatnonzero(fwd >= 0)
        key_f = t_pos_f * n_s + fwd[t_pos_f]
        s_pos_r = np.flatnonzero(rev >= 0)
        key_r = rev[s_pos_r] * n_s + s_pos_r
        del fwd, rev, t_pos_f, s_pos_r
    return _symmetrise(key_f, key_r, s_side, t_side, idx)


def _symmetrise(key_f: np.ndarray, key_r: np.ndarray, s_side: _Side, t_side: _Side, idx: np.ndarray) -> Links:
    """Both directions' links (keys: global target position × n source positions + source position)
    → the intersection, plus union links whose two words are both otherwise unaligned; a pair of
    one word on each side is always linked."""
    s_words, t_words = s_side.words, t_side.words
    s_len, t_len = s_side.length, t_side.length
    n_s = len(s_words)
    inter = np.intersect1d(key_f, key_r)
    union_only = np.setdiff1d(np.union1d(key_f, key_r), inter)
    del key_f, key_r
    t_aligned = np.zeros(len(t_words), dtype=bool)
    s_aligned = np.zeros(n_s, dtype=bool)
    t_aligned[inter // n_s] = True
    s_aligned[inter % n_s] = True
    extra = union_only[~t_aligned[union_only // n_s] & ~s_aligned[union_only % n_s]]
    keys = np.concatenate([inter, extra])
    # One word on each side: always a link.
    one = np.flatnonzero((s_len == 1) & (t_len == 1))
    keys = np.union1d(keys, t_side.offset[one] * n_s + s_side.offset[one])
    t_pos = keys // n_s
    s_pos = keys % n_s
    t_sent = np.searchsorted(t_side.offset, t_pos, side="right") - 1  # sentence of each target position
    return Links(sentence=idx[t_sent], target_word=t_words[t_pos], source_word=s_words[s_pos])


def require_eflomal():
    """The ``eflomal`` module, or a TaalkitError saying what to install (it is optional: a C build
    from PyPI under the GPL, which the offline installer does not ship)."""
    try:
        import eflomal
    except ImportError:
        raise TaalkitError("the eflomal aligner is not installed; install it with 'pip install eflomal' "
                           "or use --aligner ibm1") from None
    return eflomal


def _eflomal_links(s_side: _Side, t_side: _Side, check: Callable[[], None]) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of eflomal as link keys (global target position × n source positions + source
    position). Word ids go to eflomal as they are (its own index format), so no text round trip."""
    import os
    import tempfile

    require_eflomal()
    from eflomal.cython import align as eflomal_align, write_text

    def sentences(side: _Side) -> tuple:
        return tuple(np.split(side.words.astype(np.uint32), np.cumsum(side.length)[:-1]))

    check()
    with tempfile.TemporaryDirectory(prefix="taalkit-eflomal-") as tmp:
        paths = {k: os.path.join(tmp, k) for k in ("src", "trg", "fwd", "rev")}
        for key, side in (("src", s_side), ("trg", t_side)):
            with open(paths[key], "wb") as f:
                write_text(f, sentences(side), int(side.words.max()) + 1 if len(side.words) else 1)
        eflomal_align(paths["src"], paths["trg"], links_filename_fwd=paths["fwd"],
                      links_filename_rev=paths["rev"], model=3, n_samplers=2, quiet=True)
        check()
        keys = [_read_links(paths[k], s_side, t_side) for k in ("fwd", "rev")]
    return keys[0], keys[1]


def _read_links(path: str, s_side: _Side, t_side: _Side) -> np.ndarray:
    """Pharaoh lines ("i-j": source word i, target word j of that line's pair) → global link keys."""
    n_s = len(s_side.words)
    out = []
    with open(path, encoding="utf-8") as f:
        for k, line in enumerate(f):
            for link in line.split():
                i, j = link.split("-")
                out.append((t_side.offset[k] + int(j)) * n_s + s_side.offset[k] + int(i))
    return np.unique(np.array(out, dtype=np.int64))
