"""Trans-tokenization: give the source model the target tokenizer's vocabulary.

The stage (``transtokenize``) reads the source model, the newest target tokenizer, the
dictionary and the parallel training text from the workspace; gathers evidence per kind
(``evidence.py``, with the aligner in ``align.py``); combines it into a sparse
:class:`TokenMapping` (``mapping.py``); and writes ``models/transtok-<method>/`` with
:class:`EmbeddingInit` (``init.py``). Methods: ``transtok`` (all evidence, each row blended
with its FVT split by how much evidence it has; the default), ``fvt``, ``mean``, ``random`` — each a
complete initialisation so they can be compared. The aligner is the in-process IBM-1 (``ibm1``) or,
when installed, ``eflomal`` (``aligner=``).

Each run also scores what it wrote: held-out bits per character at step 0, on the very texts and
block length the fine-tune measures (kit.corpus.heldout_texts), stored in the mapping's
stats and returned, so methods are compared without fine-tuning each for a step;
:func:`compare_methods` runs them all.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

from ..corpus import parallel_segments
from ..db import save_by_key
from ..dictionary.pairs import translation_pairs
from ..errors import TaalkitError, WorkspaceError
from ..fsutil import atomic_path
from ..progress import CancelToken, ProgressCallback, emit
from ..workspace import Workspace, now
from .align import ALIGNERS, require_eflomal
from .init import EmbeddingInit, mapping_dir
from .mapping import FVT_PRIOR, FVT_PRIOR_INSIDE, METHODS, TokenMapping

__all__ = ["transtokenize", "build_mapping", "TokenMapping", "EmbeddingInit", "METHODS", "ALIGNERS",
           "load_mapping", "compare_methods"]
HELDOUT_LIMIT = 100  # the fine-tune's FinetuneConfig.heldout_limit

STAGE = "transtokenize"


def transtokenize(ws: Workspace, *, method: str = "transtok", device: str = "auto", tokenizer=None,
                  source_model=None, progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None, iterations: int = 5,
                  dictionary_weight: float = 1.0, min_share: float = 0.05, seed: int = 0,
                  measure: bool = True, precision: str = "auto", aligner: str = "ibm1",
                  fvt_prior: float = FVT_PRIOR, fvt_prior_inside: float = FVT_PRIOR_INSIDE) -> dict:
    """Build ``models/transtok-<method>/`` and record it; returns the new ``models`` row.

    ``tokenizer``/``source_model`` override the workspace's newest ones: a DB row, a row
    name, or a folder path. Also writes a ``mappings`` row whose ``stats`` hold the
    coverage per evidence kind, the fallback count, the wall times and (``measure``) the
    held-out bits per character at step 0 (``heldout_bits_per_char``; None without held-out
    text), which the returned row carries too.

    ``device``: where the embedding averages are computed and the held-out text is scored (``cuda``
    when present under ``auto``); the scoring runs in bf16 where the device supports it
    (``precision``: ``auto``, ``bf16`` or ``fp32``); the new embeddings are always computed in fp32.

    ``aligner``: the word aligner of ``transtok`` (``ibm1`` in-process, or ``eflomal`` when that
    optional package is installed). ``fvt_prior``/``fvt_prior_inside``: how many pseudo-counts of
    FVT each evidence row is blended with (:meth:`TokenMapping.combine`); 0 and 0 is pure evidence.
    """
    if method not in METHODS:
        raise TaalkitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if aligner not in ALIGNERS:
        raise TaalkitError(f"unknown aligner {aligner!r}; choose one of {', '.join(ALIGNERS)}")
    if method == "transtok" and aligner == "eflomal":
        require_eflomal()  # before minutes of loading: one line naming what to install
    check = cancel.check if cancel is not None else (lambda: None)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    total = 5 if measure else 4

    from ..models.loading import compute_dtype

    device = _resolve_device(device)  # a missing GPU (or bf16) is refused before any work
    dtype = compute_dtype(device, precision)
    emit(progress, STAGE, 0, total, "loading source model and tokenizers")
    src_row, src_dir = _resolve_source(ws, source_model)
    tok_row, tok_dir = _resolve_tokenizer(ws, tokenizer)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source_tok = AutoTokenizer.from_pretrained(src_dir, local_files_only=True)
    target_tok = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
    _require_fast(source_tok, src_dir)
    _require_fast(target_tok, tok_dir)
    model = AutoModelForCausalLM.from_pretrained(src_dir, local_files_only=True, use_safetensors=True,
                                                 trust_remote_code=False, dtype="float32")
    n_source = model.get_input_embeddings().weight.shape[0]
    times["load_s"] = time.perf_counter() - t0
    check()

    emit(progress, STAGE, 1, total, "gathering evidence and aligning")
    t1 = time.perf_counter()
    mapping = build_mapping(ws, method, source_tok, target_tok, n_source=n_source, iterations=iterations,
                            dictionary_weight=dictionary_weight, min_share=min_share, check=check,
                            times=times, aligner=aligner, fvt_prior=fvt_prior,
                            fvt_prior_inside=fvt_prior_inside)
    times["mapping_s"] = time.perf_counter() - t1
    check()

    emit(progress, STAGE, 2, total, f"initialising embeddings ({method})",
         fallback=mapping.stats.get("fallback", 0))
    t2 = time.perf_counter()
    out_dir = ws.models_dir / f"transtok-{method}"
    with atomic_path(out_dir) as tmp:
        facts = EmbeddingInit(mapping, seed=seed, device=device).build(model, source_tok, target_tok, tmp)
        times["init_s"] = time.perf_counter() - t2
        check()
        emit(progress, STAGE, 3, total, "saving mapping")
        if measure:
            emit(progress, STAGE, 4, total, "measuring held-out bits per character")
            t3 = time.perf_counter()
            mapping.stats["heldout_bits_per_char"], mapping.stats["heldout_texts"] = _step0_bits_per_char(
                ws, model, target_tok, device, dtype)
            mapping.stats["device"], mapping.stats["precision"] = device, str(dtype).replace("torch.", "")
            times["measure_s"] = time.perf_counter() - t3
            check()
        mapping.stats["times"] = {k: round(v, 3) for k, v in times.items()}
        mapping.save(mapping_dir(tmp))
    times["total_s"] = time.perf_counter() - t0
    mapping.stats["times"] = {k: round(v, 3) for k, v in times.items()}
    row = _record(ws, method, out_dir, src_row, src_dir, tok_row, facts, mapping, target_tok)
    row["heldout_bits_per_char"] = mapping.stats.get("heldout_bits_per_char")
    emit(progress, STAGE, total, total, f"wrote {ws.relative(out_dir)}", seconds=round(times["total_s"], 1))
    return row


def _step0_bits_per_char(ws: Workspace, model, tokenizer, device: str, dtype=None) -> tuple[Optional[float], int]:
    """Bits per char of the new model on the fine-tune's held-out texts, at its default block length
    (autocast to ``dtype``, as the fine-tune evaluates: kit.models.loading.autocast)."""
    from ..corpus import heldout_texts
    from ..models.memory import default_batch
    from ..metrics import bits_per_char

    texts = heldout_texts(ws, HELDOUT_LIMIT, stand_in=True)
    if not texts:
        return None, 0
    from ..models.loading import autocast

    model.to(device)
    try:
        with autocast(device, dtype):
            value = bits_per_char(model, tokenizer, texts, device=device, max_length=default_batch(device)[1],
                                  batch_size=8)
    finally:
        model.to("cpu")  # free the GPU for the stages after this one
    return round(float(value), 4), len(texts)


def compare_methods(ws: Workspace, *, methods=None, progress: Optional[ProgressCallback] = None,
                    cancel: Optional[CancelToken] = None, **options) -> list[dict]:
    """Run every method (the baselines first, ``transtok`` last so it stays the newest model) and
    return one row per method: bits per char at step 0, fallback rows and seconds."""
    order = list(methods or [m for m in METHODS if m != "transtok"] + ["transtok"])
    rows = []
    for method in order:
        started = time.perf_counter()
        row = transtokenize(ws, method=method, progress=progress, cancel=cancel, **options)
        extra = json.loads(row.get("extra") or "{}")
        rows.append({"method": method, "bits_per_char": row.get("heldout_bits_per_char"),
                     "fallback": extra.get("fallback", 0), "seconds": round(time.perf_counter() - started, 1),
                     "path": row["path"]})
    return rows


def build_mapping(ws: Optional[Workspace], method: str, source_tokenizer, target_tokenizer, *,
                  n_source: Optional[int] = None, dictionary: Optional[list[tuple[int, str, str]]] = None,
                  parallel: Optional[list[tuple[int, str, str]]] = None, iterations: int = 5,
                  dictionary_weight: float = 1.0, min_share: float = 0.05, check=None,
                  times: Optional[dict] = None, aligner: str = "ibm1", fvt_prior: float = FVT_PRIOR,
                  fvt_prior_inside: float = FVT_PRIOR_INSIDE) -> TokenMapping:
    """Gather the evidence ``method`` needs and combine it into a :class:`TokenMapping`.

    ``dictionary``/``parallel`` are ``(row_id, source_text, target_text)`` lists; by default
    they are read from the workspace (``entries`` in the source⇄target direction, and
    ``segments`` of kind parallel in the train split).
    """
    from . import evidence as ev

    times = times if times is not None else {}
    t = time.perf_counter()
    target_pieces = _pieces(target_tokenizer)
    n_target = len(target_pieces)
    source_texts = _pad(ev.token_texts(source_tokenizer), n_source)
    n_source = len(source_texts)
    target_texts = _pad(ev.token_texts(target_tokenizer), n_target)
    evidence = {"pinned": ev.pinned_evidence(source_tokenizer, target_tokenizer, n_source, n_target)}
    pinned_ids = evidence["pinned"].covered
    if method in ("fvt", "transtok"):
        evidence["fvt"] = ev.fvt_evidence(target_texts, source_tokenizer, n_source)
    times["token_texts_s"] = time.perf_counter() - t
    info: dict[str, Any] = {}
    if method == "transtok":
        t = time.perf_counter()
        if dictionary is None:
            dictionary = translation_pairs(ws) if ws is not None else []
        if parallel is None:
            parallel = parallel_segments(ws) if ws is not None else []
        sets = []
        if dictionary:
            rows, src, tgt = zip(*dictionary)
            sets.append(ev.dictionary_pairs(rows, src, tgt))
        if parallel:
            rows, src, tgt = zip(*parallel)
            sets.append(ev.PairSet("parallel", rows, src, tgt))
        aligned, info = ev.aligned_evidence(sets, source_tokenizer, target_tokenizer, n_source, n_target,
                                            iterations=iterations, check=check, aligner=aligner)
        evidence.update(aligned)
        evidence["identical"] = ev.identical_evidence(target_texts, source_texts, exclude=pinned_ids)
        info.update(dictionary_entries=len(dictionary), parallel_segments=len(parallel))
        times["align_s"] = time.perf_counter() - t
    mapping = TokenMapping.combine(method, evidence, target_pieces=target_pieces, target_texts=target_texts,
                                   source_texts=source_texts, dictionary_weight=dictionary_weight,
                                   min_share=min_share, fvt_prior=fvt_prior, fvt_prior_inside=fvt_prior_inside)
    mapping.stats.update(info)
    mapping.stats["iterations"] = iterations
    if method == "transtok":
        mapping.stats.update(aligner=aligner, fvt_prior=fvt_prior, fvt_prior_inside=fvt_prior_inside)
    return mapping


def load_mapping(ws: Workspace, method: str = "transtok") -> TokenMapping:
    """The mapping saved with ``models/transtok-<method>/`` (for ``explain``)."""
    row = ws.model_named(f"transtok-{method}")
    folder = ws.model_dir(row) if row else ws.models_dir / f"transtok-{method}"
    return TokenMapping.load(mapping_dir(folder))


def _resolve_source(ws: Workspace, source_model) -> tuple[Optional[dict], Path]:
    """The source model: a row, a model name, or a folder; by default the newest ``source`` model."""
    if source_model is None:
        row = ws.latest_model("source")
        if row is None:
            raise WorkspaceError("no source model in this workspace", next_step="add_model")
        return row, ws.model_dir(row)
    if not isinstance(source_model, dict) and Path(source_model).exists():
        return None, Path(source_model)
    row = ws.model(source_model)
    return row, ws.model_dir(row)


def _resolve_tokenizer(ws: Workspace, tokenizer) -> tuple[Optional[dict], Path]:
    """The target tokenizer: a row, a tokenizer name, or a folder; by default the newest one."""
    if tokenizer is not None and not isinstance(tokenizer, dict) and Path(tokenizer).exists():
        return None, Path(tokenizer)
    row = ws.tokenizer(tokenizer, missing="no target tokenizer in this workspace")
    return row, ws.path_of(row)


def _resolve_device(device: str) -> str:
    """``auto`` → CUDA when torch sees a GPU; an absent device is refused naming what to install."""
    from ..models.loading import require_device

    return require_device(device, "trans-tokenization")


def _require_fast(tok, where) -> None:
    if not getattr(tok, "is_fast", False):
        raise TaalkitError(f"the tokenizer in {where} has no tokenizer.json (a fast tokenizer is needed)")


def _pieces(tokenizer) -> list[str]:
    vocab = tokenizer.get_vocab()
    n = max(len(tokenizer), max(vocab.values()) + 1)
    pieces = [""] * n
    for piece, i in vocab.items():
        pieces[i] = piece
    return pieces


def _pad(texts: list[str], n: Optional[int]) -> list[str]:
    if n is None:
        return texts
    return (texts + [""] * (n - len(texts)))[:n]


def _record(ws: Workspace, method, out_dir, src_row, src_dir, tok_row, facts, mapping, target_tok) -> dict:
    name = f"transtok-{method}"
    with ws.db.conn:
        # Updated in place when re-run: fine-tuned children, runs and exports keep pointing at it.
        model_id = save_by_key(ws.db, "models", {
            "name": name, "role": "transtok", "path": ws.relative(out_dir),
            "architecture": (src_row or {}).get("architecture"), "parameters": facts["parameters"],
            "vocab_size": facts["vocab_size"], "hidden_size": facts["hidden_size"], "tied": int(facts["tied"]),
            "chat_template": getattr(target_tok, "chat_template", None),
            "licence": (src_row or {}).get("licence"), "source_path": ws.relative(src_dir),
            "parent_id": (src_row or {}).get("id"), "method": method, "created_at": now(),
            "extra": json.dumps({"tokenizer_id": (tok_row or {}).get("id"),
                                 "fallback": mapping.stats.get("fallback", 0)}),
        })
        ws.db["mappings"].insert({
            "source_model_id": (src_row or {}).get("id"), "tokenizer_id": (tok_row or {}).get("id"),
            "method": method, "path": ws.relative(mapping_dir(out_dir)),
            "stats": json.dumps(mapping.stats), "created_at": now(),
        })
    return ws.model_by_id(model_id)
