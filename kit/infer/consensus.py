"""Choose among candidate translations by agreement with each other (minimum Bayes risk).

Why: the translator has several candidates for one line — the model's answer, the dictionary's
word-by-word draft, the translations of the most similar sentences in the translation memory —
and no reference to judge them by. Each is wrong in its own way (the draft in word order and
sense, a memory match in the words that differ, the model in whatever it has not learned), but
what is right tends to be shared. Taking the candidate with the highest mean chrF against the
others (MBR decoding with chrF as the utility, as in Freitag et al. 2022, on a pool of a few
hybrid candidates instead of samples) keeps what they agree on. bench/translation_quality.py
measures it on and off ("consensus").

Why by hand: sacrebleu scores one pair at a time; the choice around it is these few lines.
"""

from __future__ import annotations

from typing import Sequence


def consensus(candidates: Sequence[str]) -> int:
    """Index of the candidate that agrees most with the others (sentence chrF); ties: the first.
    Empty candidates are never chosen unless all are."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    live = [i for i, c in enumerate(candidates) if c and c.strip()]
    if len(live) <= 1:
        return live[0] if live else 0
    best, best_score = live[0], -1.0
    for i in live:
        score = sum(chrf.sentence_score(candidates[i], [candidates[j]]).score for j in live if j != i)
        if score > best_score + 1e-9:
            best, best_score = i, score
    return best
