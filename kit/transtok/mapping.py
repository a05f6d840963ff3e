"""TokenMapping: the sparse target×source matrix W with E_tgt = W · E_src, and why.

Each row of W sums to 1 (or is empty for tokens initialised with the source mean, the
last resort). Besides W the mapping keeps every evidence kind's raw counts and one
example database row per (t, s) pair, so ``explain(token)`` can show which dictionary
entries and segments made t look like s. It is saved beside the model it initialised
(``mapping/mapping.npz`` + ``mapping/provenance.json``): numpy arrays, no pickles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse

from ..errors import TaalkitError
from ..fsutil import atomic_path
from .evidence import Evidence

METHODS = ("random", "mean", "fvt", "transtok")
# What decided each target row.
DECIDED = ("pinned", "evidence", "fvt", "mean", "random")
ALIGNED_KINDS = ("dictionary", "parallel", "identical")
# FVT as a prior of this many pseudo-counts on every evidence row (issue 19): a row seen once in the
# aligned text leans on the FVT split of its own text; a row seen hundreds of times is its evidence.
# Chosen on the three shipped languages (bench/init_quality.py --lang, bench/RESULTS.md).
FVT_PRIOR = 3.0
# The same for word-internal pieces ("ydd" in "ffenestrydd"): their counts come from whole-word links
# spread over the word's pieces, which say much less about one piece, so FVT weighs more there.
FVT_PRIOR_INSIDE = 30.0
WORD_START = (" ", "\u0120", "\u2581", "\t", "\n")  # text or piece beginning a word: " ", Ġ, ▁


@dataclass
class SourceWeight:
    source_id: int
    source_text: str
    weight: float
    counts: dict[str, float]  # evidence kind -> raw count behind this pair
    examples: dict[str, int]  # evidence kind -> DB row id of one example


@dataclass
class Explanation:
    target_id: int
    target_piece: str
    target_text: str
    decided_by: str
    sources: list[SourceWeight] = field(default_factory=list)


@dataclass
class TokenMapping:
    method: str
    weights: sparse.csr_matrix  # n_target × n_source, rows sum to 1 except mean/random rows
    decided: np.ndarray  # index into DECIDED per target token
    evidence: dict[str, Evidence]
    target_pieces: list[str]
    target_texts: list[str]
    source_texts: list[str]
    stats: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.weights.shape

    def rows(self, what: str) -> np.ndarray:
        return np.flatnonzero(self.decided == DECIDED.index(what))

    # -- building ---------------------------------------------------------------------
    @classmethod
    def combine(cls, method: str, evidence: dict[str, Evidence], *, target_pieces: Sequence[str],
                target_texts: Sequence[str], source_texts: Sequence[str],
                dictionary_weight: float = 1.0, min_share: float = 0.05, fvt_prior: float = FVT_PRIOR,
                fvt_prior_inside: float = FVT_PRIOR_INSIDE) -> "TokenMapping":
        """Combine evidence kinds into W for ``method`` (see METHOD.md for the baselines).

        ``transtok``: dictionary + parallel + identical counts; ``fvt`` for rows none of
        those cover; the source mean for rows even FVT cannot split. A row with evidence is
        blended with its FVT row by confidence: with n the row's (pruned) count total and k the
        prior (``fvt_prior`` for a piece that starts a word, ``fvt_prior_inside`` for one inside a
        word), W = (n · evidence share + k · FVT share) / (n + k) — the posterior mean of a
        Dirichlet prior of k pseudo-counts placed on the FVT split. Why: rows seen a handful of
        times in the aligned text were noisier than FVT, rows seen often beat it; pure evidence
        (k = 0, the old default) lost to this blend on all three shipped languages, and word-internal
        pieces gain most from FVT (their evidence is whole-word links spread over the word). ``fvt``: FVT rows
        only. ``mean``/``random``: no rows (the initialiser fills them). Pinned rows
        (special tokens, chat markers) override everything for every method.
        ``min_share`` drops, per row, source tokens below that share of the row's total
        (noise links from the aligner). The default 0.05 was chosen on the Welsh demo
        workspace's own held-out segments (not the bench's test file): step-0 bits/char
        3.38 with no pruning, 3.17 at 0.01, 3.05 at 0.05, 3.11 at 0.12 — a long tail of
        one-off links drags every averaged row towards the middle of the table.
        """
        if method not in METHODS:
            raise TaalkitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        n_t, n_s = len(target_texts), len(source_texts)
        empty = sparse.csr_matrix((n_t, n_s))
        pinned = evidence["pinned"].counts if "pinned" in evidence else empty
        fvt = evidence["fvt"].counts if "fvt" in evidence else empty
        rest = "random" if method == "random" else "mean"
        decided = np.full(n_t, DECIDED.index(rest), dtype=np.int8)
        if method == "transtok":
            counts = empty.copy()
            for kind in ALIGNED_KINDS:
                if kind in evidence:
                    scale = dictionary_weight if kind == "dictionary" else 1.0
                    counts = counts + scale * evidence[kind].counts
        elif method == "fvt":
            counts = fvt
        else:
            counts = empty
        counts = _drop_small(sparse.csr_matrix(counts), min_share)
        has = np.diff(counts.indptr) > 0
        decided[has] = DECIDED.index("fvt" if method == "fvt" else "evidence")
        if method == "transtok":
            has_fvt = np.diff(fvt.indptr) > 0
            use_fvt = ~has & has_fvt
            prior = np.where(starts_word(target_pieces, target_texts), fvt_prior, fvt_prior_inside)
            prior = np.where(has & has_fvt, prior, 0.0)
            if prior.any():
                # Rows as shares, then (n · evidence + k · FVT) / (n + k); normalised again below.
                n = np.asarray(counts.sum(axis=1)).ravel()
                counts = (sparse.diags(n / np.maximum(n + prior, 1e-300)) @ _normalise_rows(counts)
                          + sparse.diags(prior / np.maximum(n + prior, 1e-300)) @ _normalise_rows(fvt))
            counts = counts + sparse.diags(use_fvt.astype(float)) @ fvt
            decided[use_fvt] = DECIDED.index("fvt")
        is_pinned = np.diff(pinned.indptr) > 0
        keep = sparse.diags((~is_pinned).astype(float))
        counts = sparse.csr_matrix(keep @ counts + pinned)
        decided[is_pinned] = DECIDED.index("pinned")
        weights = _normalise_rows(counts)
        mapping = cls(method, weights, decided, dict(evidence), list(target_pieces),
                      list(target_texts), list(source_texts))
        mapping.stats = mapping.coverage()
        return mapping

    def coverage(self) -> dict:
        """How many target tokens each evidence kind covers and what decided each row."""
        n_t = self.shape[0]
        out = {"target_vocab": n_t, "source_vocab": self.shape[1], "nonzeros": int(self.weights.nnz)}
        for kind, ev in self.evidence.items():
            c = len(ev.covered)
            out[f"covered_{kind}"] = c
            out[f"share_{kind}"] = round(c / max(1, n_t), 4)
        for i, what in enumerate(DECIDED):
            out[f"rows_{what}"] = int((self.decided == i).sum())
        out["fallback"] = out["rows_fvt"] + out["rows_mean"] if self.method == "transtok" else 0
        return out

    # -- using ------------------------------------------------------------------------
    def apply(self, table: np.ndarray, *, seed: int = 0, device: str = "cpu") -> np.ndarray:
        """New rows for a source table (input embeddings or LM head): W · table, plus fallbacks.

        Mean rows get the table's mean row; random rows are drawn from a normal with the
        table's per-dimension mean and std (the ``random`` baseline).
        """
        table = np.asarray(table, dtype=np.float32)
        out = _torch_spmm(self.weights, table, device)  # one path for CPU and GPU (fp32 on both)
        mean_rows = self.rows("mean")
        if len(mean_rows):
            out[mean_rows] = table.mean(axis=0)
        random_rows = self.rows("random")
        if len(random_rows):
            rng = np.random.default_rng(seed)
            mu, sd = table.mean(axis=0), table.std(axis=0)
            out[random_rows] = (rng.standard_normal((len(random_rows), table.shape[1])) * sd + mu).astype(np.float32)
        return out

    def find(self, token: str) -> int:
        """A target token id from its vocabulary piece (``Ġcath``), its text (" cath") or an id."""
        if token in self.target_pieces:
            return self.target_pieces.index(token)
        for text in (token, " " + token):
            if text in self.target_texts:
                return self.target_texts.index(text)
        if token.isdigit() and int(token) < len(self.target_pieces):
            return int(token)
        raise TaalkitError(f"{token!r} is not a token of the target tokenizer; "
                           f"give its piece as the tokenizer writes it (e.g. 'Ġcath' for ' cath') or its id")

    def explain(self, token: str | int, top: int = 5) -> Explanation:
        """The top source tokens of a target token, with the evidence counts and examples behind each."""
        t = token if isinstance(token, int) else self.find(token)
        row = self.weights.getrow(t)
        order = np.argsort(-row.data, kind="stable")[:top]
        exp = Explanation(t, self.target_pieces[t], self.target_texts[t], DECIDED[int(self.decided[t])])
        for i in order:
            s = int(row.indices[i])
            counts, examples = {}, {}
            for kind, ev in self.evidence.items():
                c = float(ev.counts[t, s])
                if c:
                    counts[kind] = round(c, 4)
                    ex = ev.example(t, s)
                    if ex >= 0:
                        examples[kind] = ex
            exp.sources.append(SourceWeight(s, self.source_texts[s], float(row.data[i]), counts, examples))
        return exp

    # -- persistence ------------------------------------------------------------------
    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        with atomic_path(folder) as tmp:
            tmp.mkdir(parents=True)
            arrays = {"decided": self.decided, **_csr_arrays("weights", self.weights)}
            for kind, ev in self.evidence.items():
                arrays.update(_csr_arrays(kind, ev.counts))
                arrays[f"{kind}_example_keys"] = ev.example_keys
                arrays[f"{kind}_example_rows"] = ev.example_rows
            np.savez_compressed(tmp / "mapping.npz", **arrays)
            (tmp / "provenance.json").write_text(json.dumps({
                "method": self.method, "kinds": list(self.evidence), "stats": self.stats,
                "decided_names": list(DECIDED), "target_pieces": self.target_pieces,
                "target_texts": self.target_texts, "source_texts": self.source_texts,
            }, ensure_ascii=False), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: Path) -> "TokenMapping":
        folder = Path(folder)
        if not (folder / "mapping.npz").exists():
            raise TaalkitError(f"no token mapping in {folder}; run 'taalkit transtokenize' first")
        prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
        with np.load(folder / "mapping.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        evidence = {kind: Evidence(kind, _csr_from(arrays, kind), arrays[f"{kind}_example_keys"],
                                   arrays[f"{kind}_example_rows"]) for kind in prov["kinds"]}
        return cls(prov["method"], _csr_from(arrays, "weights"), arrays["decided"], evidence,
                   prov["target_pieces"], prov["target_texts"], prov["source_texts"], prov["stats"])


def starts_word(target_pieces: Sequence[str], target_texts: Sequence[str]) -> np.ndarray:
    """Which target tokens begin a word: their vocabulary piece (``Ġcath``, ``▁cath``) or decoded
    text (" cath") starts with a word boundary. The others are pieces inside words."""
    return np.array([bool(p) and p.startswith(WORD_START) or bool(t) and t.startswith(WORD_START)
                     for p, t in zip(target_pieces, target_texts)], dtype=bool)


def _normalise_rows(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    totals = np.asarray(counts.sum(axis=1)).ravel()
    inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    return sparse.csr_matrix(sparse.diags(inv) @ counts)


def _drop_small(counts: sparse.csr_matrix, min_share: float) -> sparse.csr_matrix:
    if min_share <= 0 or counts.nnz == 0:
        return counts
    totals = np.asarray(counts.sum(axis=1)).ravel()
    row_of = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    counts = counts.copy()
    counts.data[counts.data < min_share * totals[row_of]] = 0
    counts.eliminate_zeros()
    return counts


def _csr_arrays(name: str, m: sparse.csr_matrix) -> dict:
    m = sparse.csr_matrix(m)
    return {f"{name}_data": m.data, f"{name}_indices": m.indices, f"{name}_indptr": m.indptr,
            f"{name}_shape": np.array(m.shape)}


def _csr_from(arrays: dict, name: str) -> sparse.csr_matrix:
    return sparse.csr_matrix((arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
                             shape=tuple(arrays[f"{name}_shape"]))


def _torch_spmm(weights: sparse.csr_matrix, table: np.ndarray, device: str) -> np.ndarray:
    """W · table with torch on ``device`` (the GPU when trans-tokenizing there), always in fp32:
    the new rows are weighted averages, and bf16 would round them to 3 significant digits."""
    import torch

    coo = weights.tocoo()
    w = torch.sparse_coo_tensor(np.vstack([coo.row, coo.col]), coo.data.astype(np.float32),
                                size=weights.shape, device=device, check_invariants=False)
    return (w @ torch.from_numpy(table).to(device)).cpu().numpy()
