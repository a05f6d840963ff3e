"""Held-out bits per character of a GGUF model, computed in llama.cpp (no torch needed).

Same definition as :func:`kit.metrics.bits_per_char` (total NLL in bits over the characters
scored, each text scored alone after BOS), so an exported, quantized adapted model and the
unadapted SmolLM2 can be compared on the target language even though their tokenizers differ.
"""

from __future__ import annotations

import math
import os
from typing import Optional, Sequence

import numpy as np

from ..progress import CancelToken
from .engine import physical_cores


def gguf_bits_per_char(model_path: os.PathLike | str, texts: Sequence[str], *, n_ctx: int = 256,
                       n_threads: Optional[int] = None, cancel: Optional[CancelToken] = None) -> float:
    from llama_cpp import Llama

    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise ValueError("bits per char needs at least one non-empty text")
    threads = n_threads or physical_cores()
    llm = Llama(model_path=str(model_path), n_ctx=n_ctx, n_batch=n_ctx, n_threads=threads,
                n_threads_batch=threads, logits_all=True, verbose=False)
    bos = llm.token_bos()
    if bos is None or bos < 0:
        bos = llm.token_eos()
    total_bits, total_chars = 0.0, 0
    for text in texts:
        if cancel is not None:
            cancel.check()
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[: n_ctx - 1]
        if not ids:
            continue
        scored = llm.detokenize(ids).decode("utf-8", errors="replace")
        llm.reset()
        llm.eval([bos] + ids)
        logits = np.asarray(llm.scores[: len(ids)], dtype=np.float64)  # predictions for ids[0..]
        top = logits.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        nll = float((log_norm - logits[np.arange(len(ids)), ids]).sum())
        total_bits += nll / math.log(2)
        total_chars += len(scored)
    return total_bits / max(1, total_chars)
