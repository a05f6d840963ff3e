"""The streamed aligner: any chunking gives bit for bit the links of one chunk holding everything."""

from __future__ import annotations

import numpy as np
import pytest

from kit.transtok import align as al

from test_transtok_align import _permuted_corpus


def _links(src, tgt, vocab, **kw):
    links = al.align(src, tgt, n_source_vocab=vocab, n_target_vocab=vocab, iterations=4, **kw)
    return links.sentence, links.target_word, links.source_word


def _tied_corpus(n_pairs: int, seed: int = 1):
    """Repeated words and mirrored lengths: many exact and near ties for the Viterbi choice."""
    rng = np.random.default_rng(seed)
    src, tgt = [], []
    for _ in range(n_pairs):
        s = rng.integers(0, 6, rng.integers(1, 12))
        t = rng.integers(0, 6, rng.integers(0, 12))  # some empty targets: skipped pairs
        src.append(s)
        tgt.append(t)
    return src, tgt


@pytest.mark.parametrize("corpus", ["permuted", "tied"])
@pytest.mark.parametrize("chunk_entries, keep_bytes", [(50, 0), (997, 0), (997, 30_000), (10**5, 0)])
def test_chunked_em_equals_one_chunk_bit_for_bit(corpus, chunk_entries, keep_bytes):
    src, tgt = _permuted_corpus(800, 60) if corpus == "permuted" else _tied_corpus(800)
    whole = _links(src, tgt, 60, chunk_entries=10**9, keep_bytes=10**9)
    bits = _links(src, tgt, 60, chunk_entries=chunk_entries, keep_bytes=keep_bytes)
    assert len(whole[0]) > 500
    for a, b in zip(whole, bits):
        assert np.array_equal(a, b)


def test_chunks_cover_every_sentence_once_and_never_split_one():
    src, tgt = _tied_corpus(300)
    keep = [k for k in range(300) if len(src[k]) and len(tgt[k])]
    gen, cond = al._Side.of([tgt[k] for k in keep]), al._Side.of([src[k] for k in keep])
    bounds = al._chunk_bounds(gen, cond, 100)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(keep)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = gen.length * (cond.length + 1)
    for lo, hi in bounds:  # within the limit, unless one sentence alone is bigger
        assert sizes[lo:hi].sum() <= 100 or hi == lo + 1
    groups = np.concatenate([al._chunk(gen, cond, lo, hi, 6, 4.0, 0.08).group + gen.offset[lo]
                             for lo, hi in bounds])
    assert np.array_equal(np.unique(groups), np.arange(gen.length.sum()))


def test_streamed_aligner_still_cancels_between_chunks():
    from kit.errors import Cancelled

    calls = {"n": 0}

    def check():
        calls["n"] += 1
        if calls["n"] == 5:
            raise Cancelled("stop")

    src, tgt = _permuted_corpus(200, 30)
    with pytest.raises(Cancelled):
        al.align(src, tgt, n_source_vocab=30, n_target_vocab=30, chunk_entries=100, keep_bytes=0, check=check)
