"""Translation memory: the workspace's own parallel text, searched for the pairs most like a new input.

Why: a community's parallel text is usually from the domain it wants translated (the Welsh demo's
is software strings), and there the nearest already-translated sentence is the best single hint a
small model can get — it shows the words *and* the phrasing, in context, where the dictionary shows
only isolated words. Measured on the Welsh demo (bench/translation_quality.py, "translation memory"
row): the nearest training pair's translation alone scores higher chrF than the dictionary word by
word. The translator puts the closest pairs in the consensus pool (kit.infer.consensus), a failed
answer falls back to the best match when it is close enough, and — a lever, off by default since
it did not help at a 10-CPU-minute budget — the request can show them (``Similar: source = target``
lines, recipe ``memory``; the fine-tune then trains on requests built the same way).

Similarity is the Dice overlap of character-trigram sets weighted by inverse document frequency
(``2·shared / (query + pair)``, 0..1; it beat the cosine by 5 chrF on the Welsh demo): robust
to inflection, mutation and word order, language-independent, and cheap. Why by hand: the runtime
tier has numpy but neither scikit-learn nor scipy, and the whole index is an inverted list of
trigram -> pair numbers, scored with one ``numpy.bincount`` per query (30k queries in seconds).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

#: Trigrams found in more than this share of the pairs say nothing about which pair is closest.
COMMON_SHARE = 0.2
#: How close the best match must be for the fallback to prefer it over the word-by-word draft.
FALLBACK_SIMILARITY = 0.5
MEMORY_LABEL = "Similar"


def trigrams(text: str) -> set[str]:
    padded = f" {' '.join(text.lower().split())} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


@dataclass(frozen=True)
class Match:
    source: str
    target: str
    similarity: float  # weighted Dice overlap, 0..1


class TranslationMemory:
    """Pairs (``source`` side searched, ``target`` side returned) with a trigram index over ``source``."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = [(" ".join(s.split()), " ".join(t.split())) for s, t in pairs if s.strip() and t.strip()]
        grams = [trigrams(s) for s, _t in self.pairs]
        df = Counter(g for gs in grams for g in gs)
        n = max(1, len(self.pairs))
        self.idf = {g: math.log(1 + n / c) for g, c in df.items() if c <= COMMON_SHARE * n or n < 50}
        self.common = {g for g in df if g not in self.idf}
        self.unseen_idf = math.log(1 + n)  # a trigram no pair has: as rare as can be
        postings: dict[str, list[int]] = {}
        mass = np.zeros(n, dtype=np.float64)
        for i, gs in enumerate(grams):
            for g in sorted(gs):  # a fixed order: float sums must not depend on PYTHONHASHSEED
                w = self.idf.get(g)
                if w:
                    postings.setdefault(g, []).append(i)
                    mass[i] += w
        self.postings = {g: np.asarray(ids, dtype=np.int32) for g, ids in postings.items()}
        self.mass = mass

    def __len__(self) -> int:
        return len(self.pairs)

    def similar(self, text: str, k: int = 2, *, exclude: Optional[str] = None,
                min_similarity: float = 0.05) -> list[Match]:
        """The ``k`` pairs whose source side is most like ``text`` (best first); ``exclude`` leaves
        out pairs whose source is that text (a training pair must not be its own example)."""
        if not self.pairs or k <= 0:
            return []
        query = sorted(trigrams(text) - self.common)  # sorted: the same scores in every process
        grams = [g for g in query if g in self.postings]
        if not grams:
            return []
        ids = np.concatenate([self.postings[g] for g in grams])
        w = np.concatenate([np.full(len(self.postings[g]), self.idf[g]) for g in grams])
        shared = np.bincount(ids, weights=w, minlength=len(self.pairs))
        query_mass = sum(self.idf.get(g, self.unseen_idf) for g in query)
        scores = 2 * shared / (self.mass + query_mass)
        skip = " ".join(exclude.split()).lower() if exclude else None
        order = np.argsort(-scores, kind="stable")[: k + 8]
        out: list[Match] = []
        seen: set[str] = set()
        for i in order:
            similarity = float(scores[i])
            if similarity < min_similarity:
                break
            source, target = self.pairs[i]
            if source.lower() == skip or source.lower() in seen:
                continue
            seen.add(source.lower())
            out.append(Match(source, target, round(similarity, 4)))
            if len(out) >= k:
                break
        return out


def closest_translation(memory: "TranslationMemory", text: str) -> str:
    """The translation memory used alone: the target side of the most similar pair ("" when none is alike)."""
    best = memory.similar(text, 1)
    return best[0].target if best else ""


def memory_lines(matches: Sequence[Match]) -> str:
    """The examples as they appear in a translation request, one ``Similar: source = target`` each."""
    return "\n".join(f"{MEMORY_LABEL}: {m.source} = {m.target}" for m in matches)


def workspace_memory(ws, source_lang: str, target_lang: str) -> TranslationMemory:
    """The workspace's training pairs (never the held-out split) searched on the ``source_lang`` side."""
    from ..corpus import parallel_pairs

    pairs = [(s, t) for s, t in parallel_pairs(ws, "train") if s and t]
    if source_lang == ws.source_lang:
        return TranslationMemory(pairs)
    if source_lang == ws.target_lang:
        return TranslationMemory([(t, s) for s, t in pairs])
    return TranslationMemory([])
