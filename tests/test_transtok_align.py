"""The in-process aligner and the word→token spreading, on data whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from kit.transtok.align import align
from kit.transtok.evidence import WordVocab, spread_links, spread_matrix


def _permuted_corpus(n_pairs: int, vocab: int, seed: int = 0):
    """Target word = a fixed permutation of the source word; a third of the pairs reversed."""
    rng = np.random.default_rng(seed)
    src, tgt = [], []
    for _ in range(n_pairs):
        s = rng.integers(0, vocab, rng.integers(1, 9))
        t = (s * 7 + 3) % vocab
        if len(t) > 2 and rng.random() < 0.3:
            t = t[::-1]
        src.append(s)
        tgt.append(t)
    return src, tgt


def test_aligner_recovers_a_hidden_word_translation():
    src, tgt = _permuted_corpus(3000, 300)
    links = align(src, tgt, n_source_vocab=300, n_target_vocab=300, iterations=5)
    correct = (links.source_word * 7 + 3) % 300 == links.target_word
    assert correct.mean() > 0.99
    assert len(links.sentence) > 0.95 * sum(len(t) for t in tgt)


def test_eflomal_recovers_the_same_hidden_translation():
    """eflomal is in the dev extras (pyproject), so this runs wherever the suite runs."""
    src, tgt = _permuted_corpus(3000, 300)
    links = align(src, tgt, n_source_vocab=300, n_target_vocab=300, aligner="eflomal")
    correct = (links.source_word * 7 + 3) % 300 == links.target_word
    assert correct.mean() > 0.99
    assert len(links.sentence) > 0.95 * sum(len(t) for t in tgt)
    one = align([np.array([4])], [np.array([9])], n_source_vocab=5, n_target_vocab=10, aligner="eflomal")
    assert (one.sentence.tolist(), one.target_word.tolist(), one.source_word.tolist()) == ([0], [9], [4])


def test_an_absent_or_unknown_aligner_is_one_taalkit_error(monkeypatch):
    import sys

    from kit.errors import TaalkitError

    src, tgt = _permuted_corpus(20, 10)
    with pytest.raises(TaalkitError, match="unknown aligner"):
        align(src, tgt, n_source_vocab=10, n_target_vocab=10, aligner="giza")
    monkeypatch.setitem(sys.modules, "eflomal", None)
    with pytest.raises(TaalkitError, match="pip install eflomal"):
        align(src, tgt, n_source_vocab=10, n_target_vocab=10, aligner="eflomal")


def test_links_point_back_to_their_sentence():
    src = [np.array([0, 1]), np.array([2]), np.array([], dtype=np.int64), np.array([1, 0])]
    tgt = [np.array([10, 11]), np.array([12]), np.array([5]), np.array([11, 10])]
    links = align(src, tgt, n_source_vocab=3, n_target_vocab=13, iterations=3)
    got = set(zip(links.sentence.tolist(), links.target_word.tolist(), links.source_word.tolist()))
    assert (1, 12, 2) in got  # one word each side: always linked
    assert all(k != 2 for k, _, _ in got)  # the pair with an empty side is skipped
    assert (0, 10, 0) in got and (3, 10, 0) in got and (3, 11, 1) in got


def test_diagonal_prior_breaks_ties_in_order():
    # Two identical source words, two target words never seen elsewhere: only position can decide.
    src = [np.array([0, 1])] * 5
    tgt = [np.array([0, 1])] * 5
    links = align(src, tgt, n_source_vocab=2, n_target_vocab=2, iterations=5)
    assert set(zip(links.target_word.tolist(), links.source_word.tolist())) == {(0, 0), (1, 1)}


def test_aligner_honours_cancel():
    from kit.errors import Cancelled
    from kit.progress import CancelToken

    token = CancelToken()
    token.cancel()
    src, tgt = _permuted_corpus(50, 20)
    with pytest.raises(Cancelled):
        align(src, tgt, n_source_vocab=20, n_target_vocab=20, check=token.check)


@pytest.mark.parametrize("a,b", [(1, 1), (1, 3), (2, 2), (3, 2), (4, 7)])
def test_spread_matrix_rows_sum_to_one(a, b):
    m = spread_matrix(a, b)
    assert m.shape == (a, b)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)


def test_spread_is_half_in_order_half_all_to_all():
    np.testing.assert_allclose(spread_matrix(2, 2), [[0.75, 0.25], [0.25, 0.75]])
    # One target token over three source tokens: in order and all-to-all agree.
    np.testing.assert_allclose(spread_matrix(1, 3), [[1 / 3, 1 / 3, 1 / 3]])


def test_spread_links_merges_repeated_word_pairs():
    tv, sv = WordVocab(), WordVocab()
    cath = tv.add((5,))
    cat = sv.add((7, 8))
    t, s, w, rows = spread_links(np.array([cath, cath]), np.array([cat, cat]), np.array([1.0, 2.0]),
                                 np.array([41, 42]), tv, sv)
    assert sorted(zip(t.tolist(), s.tolist(), w.tolist())) == [(5, 7, 1.5), (5, 8, 1.5)]
    assert set(rows.tolist()) == {41}
