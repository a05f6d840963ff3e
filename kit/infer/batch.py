"""Greedy generation of many prompts at once: one llama.cpp context decoding several sequences.

Why: decoding one token of a small model on a CPU is bound by reading the weights, not by the
arithmetic, so one forward pass over eight sequences costs little more than over one. ``eval``
translates hundreds of independent lines; doing them eight at a time is what makes a 100-line
evaluation take minutes instead of ten (``bench/eval_speed.py`` measures it).

How: llama.cpp's batch API (``llama_batch`` with a sequence id per token) on a second context of
the already loaded model, with ``n_seq_max`` slots. Slots are refilled as soon as a sequence ends
(continuous batching), so one long reply does not hold the others back. llama-cpp-python's
high-level ``Llama`` only ever decodes sequence 0, hence the low-level calls here; the model
weights are shared with that ``Llama`` (no second load).

Decoding is greedy (argmax), like ``Translator.translate``; a batch's matrix shapes differ from a
single sequence's, so a rare near-tie can resolve differently — the bench reports chrF of both.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from ..errors import ResourceError, TaalkitError
from .engine import prompt_ids

#: (text so far, newest piece) -> stop now?
StopRule = Callable[[str, str], bool]


@dataclass
class _Slot:
    seq: int
    index: int = -1  # which request it serves; -1 = free
    pos: int = 0
    budget: int = 0
    pending: list[int] = field(default_factory=list)  # tokens to feed on the next decode
    out: list[int] = field(default_factory=list)
    data: bytes = b""


class BatchGenerator:
    """Greedy completions of many prompts, ``n_seq`` decoded together, on ``llm``'s weights."""

    def __init__(self, llm, *, n_seq: int = 8, ctx_per_seq: int = 1024, n_batch: int = 1024,
                 n_threads: Optional[int] = None) -> None:
        import llama_cpp

        self.llm = llm
        self.n_seq = max(1, int(n_seq))
        self.ctx_per_seq = int(ctx_per_seq)
        self.n_batch = int(n_batch)
        model = llm._model.model  # the loaded weights of the high-level Llama (see module docstring)
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self.n_vocab = llm.n_vocab()
        # The same settings as the single-sequence context (flash attention, KV types, threads…), so a
        # batched translation computes what a one-at-a-time one does; only the shape changes.
        params = type(llm.context_params).from_buffer_copy(llm.context_params)
        params.n_ctx = self.ctx_per_seq * self.n_seq
        params.n_batch = self.n_batch
        params.n_ubatch = min(512, self.n_batch)
        params.n_seq_max = self.n_seq
        if n_threads:
            params.n_threads = params.n_threads_batch = n_threads
        params.kv_unified = False  # each sequence its own ctx_per_seq cells
        params.no_perf = True
        ctx = llama_cpp.llama_init_from_model(model, params)
        if not ctx:
            raise ResourceError(f"llama.cpp could not make a context for {self.n_seq} sequences "
                                f"of {self.ctx_per_seq} tokens; try fewer")
        self._ctx = ctx
        self._mem = llama_cpp.llama_get_memory(ctx)
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)

    def close(self) -> None:
        import llama_cpp

        if getattr(self, "_ctx", None):
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._ctx)
            self._ctx = None

    def __enter__(self) -> "BatchGenerator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def generate(self, prompts: Sequence, max_tokens: Sequence[int], *,
                 stop: Optional[Sequence[Optional[StopRule]]] = None,
                 processors: Optional[Sequence[Sequence[Callable]]] = None, cancel=None,
                 on_done: Optional[Callable[[int, str], None]] = None,
                 detokenize: Optional[Callable[[int], bytes]] = None) -> list[str]:
        """Greedy text for each prompt (special tokens parsed, BOS as the model's metadata says).

        Each ends at an end-of-generation token, after ``max_tokens[i]`` tokens, or when
        ``stop[i](text, piece)`` says so. ``processors[i]`` are llama-cpp-python style logits
        processors, ``f(input_ids, scores) -> scores``, called before each argmax (the first call
        sees the prompt's ids only). ``on_done(i, text)`` is called as each one finishes.
        A prompt may also be a list of token ids, and ``detokenize(id) -> bytes`` replace llama.cpp's:
        a Hydra GGUF's runtime tokenizes and decodes each language itself (kit.infer.hydra).
        """
        import llama_cpp
        import numpy as np

        ids = [prompt_ids(self.llm, p) if isinstance(p, str)
               else [int(t) for t in p] for p in prompts]
        detokenize = detokenize or (lambda tok: self.llm.detokenize([tok]))
        for i, toks in enumerate(ids):
            if len(toks) + max_tokens[i] > self.ctx_per_seq:
                raise TaalkitError(f"prompt {i + 1} needs {len(toks) + max_tokens[i]} tokens, more than the "
                                   f"{self.ctx_per_seq} per sequence")
            if len(toks) > self.n_batch:
                raise TaalkitError(f"prompt {i + 1} has {len(toks)} tokens, more than a batch of {self.n_batch}")
        results: list[Optional[str]] = [None] * len(prompts)
        queue = list(range(len(prompts)))
        queue.reverse()
        slots = [_Slot(seq=s) for s in range(self.n_seq)]
        batch = self._batch
        while queue or any(s.index >= 0 for s in slots):
            if cancel is not None:
                cancel.check()
            # Fill free slots while their prompts fit into this decode.
            used = sum(len(s.pending) for s in slots if s.index >= 0)
            for s in slots:
                if s.index < 0 and queue and used + len(ids[queue[-1]]) <= self.n_batch:
                    s.index = queue.pop()
                    s.pos, s.out, s.data = 0, [], b""
                    s.pending = list(ids[s.index])
                    s.budget = int(max_tokens[s.index])
                    used += len(s.pending)
            batch.n_tokens = 0
            rows: dict[int, int] = {}  # slot seq -> batch row holding its logits
            for s in slots:
                if s.index < 0:
                    continue
                for k, tok in enumerate(s.pending):
                    j = batch.n_tokens
                    batch.token[j] = tok
                    batch.pos[j] = s.pos + k
                    batch.n_seq_id[j] = 1
                    batch.seq_id[j][0] = s.seq
                    batch.logits[j] = k == len(s.pending) - 1
                    batch.n_tokens += 1
                rows[s.seq] = batch.n_tokens - 1
                s.pos += len(s.pending)
                s.pending = []
            status = llama_cpp.llama_decode(self._ctx, batch)
            if status != 0:
                raise ResourceError(f"llama.cpp could not decode the batch (status {status}); try fewer sequences")
            for s in slots:
                if s.index < 0:
                    continue
                ptr = llama_cpp.llama_get_logits_ith(self._ctx, rows[s.seq])
                logits = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                               shape=(self.n_vocab,))
                procs = processors[s.index] if processors else ()
                if procs:
                    scores = np.array(logits, dtype=np.float32)  # a copy: processors write into it
                    seen = np.asarray(ids[s.index] + s.out, dtype=np.intc)
                    for proc in procs:
                        scores = proc(seen, scores)
                    tok = int(np.argmax(scores))
                else:
                    tok = int(logits.argmax())
                finished = bool(llama_cpp.llama_vocab_is_eog(self._vocab, tok))
                if not finished:
                    s.out.append(tok)
                    piece = detokenize(tok)
                    s.data += piece
                    text = s.data.decode("utf-8", errors="ignore")
                    rule = stop[s.index] if stop else None
                    finished = (len(s.out) >= s.budget
                                or bool(rule and rule(text, piece.decode("utf-8", errors="ignore"))))
                    s.pending = [tok]
                if finished:
                    text = s.data.decode("utf-8", errors="replace")
                    results[s.index] = text
                    if on_done is not None:
                        on_done(s.index, text)
                    llama_cpp.llama_memory_seq_rm(self._mem, s.seq, -1, -1)
                    s.index, s.pending = -1, []
        return [r or "" for r in results]


def translate_many(translator, texts: Sequence[str], *, to: str, glossary: bool = True,
                   generator: BatchGenerator, cancel=None,
                   on_done: Optional[Callable[[int], None]] = None) -> list:
    """:meth:`kit.infer.translate.Translator.translate` for many texts, decoded together.

    The same :meth:`~kit.infer.translate.Translator.plan` (draft, memory examples, prompt, budget,
    processors, stop rule) and :meth:`~kit.infer.translate.Translator.finish` (clean-up, fallback)
    as one at a time; only the decoding is shared. ``bench/eval_speed.py`` compares the chrF of
    both paths.
    """
    plans = [translator.plan(text, to=to, glossary=glossary, n_ctx=generator.ctx_per_seq) for text in texts]
    union = getattr(translator, "union", None)  # a Hydra GGUF: the plans carry token ids
    asked = [i for i, p in enumerate(plans) if not p.answer_left_out]  # the others need no decoding
    if on_done:
        for i, plan in enumerate(plans):
            if plan.answer_left_out:
                on_done(i)
    decoded = generator.generate([plans[i].prompt if plans[i].ids is None else plans[i].ids for i in asked],
                                 [plans[i].budget for i in asked], stop=[plans[i].stop_early for i in asked],
                                 processors=[plans[i].processors for i in asked], cancel=cancel,
                                 on_done=(lambda j, _t: on_done(asked[j])) if on_done else None,
                                 detokenize=union.vocab.piece if union else None) if asked else []
    raws = [""] * len(plans)
    for i, raw in zip(asked, decoded):
        raws[i] = raw
    return [translator.finish(plan, raw) for plan, raw in zip(plans, raws)]
