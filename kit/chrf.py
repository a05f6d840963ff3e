"""chrF and chrF++: how translations are scored (``taalkit eval``, the bench).

Its own module because the runtime tier scores translations and must not import torch, which
:mod:`kit.metrics` (bits per character of a PyTorch model) needs.
"""

from __future__ import annotations

from typing import Iterable


def chrf(hypotheses: Iterable[str], references: Iterable[str], word_order: int = 0) -> float:
    """chrF (word_order=0) or chrF++ (word_order=2) with sacrebleu's defaults."""
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=word_order).corpus_score(list(hypotheses), [list(references)]).score
