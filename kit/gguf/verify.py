"""Prove a GGUF file is the model it claims to be, with llama.cpp itself.

Why: a GGUF that loads can still be wrong in ways nobody sees by eye: a pre-tokenizer
regex that splits digits differently, un-permuted q/k rows (fluent-looking nonsense),
a missing BOS. So after every export the kit checks, with numbers:

- llama.cpp loads it;
- llama.cpp tokenizes held-out text (and a chat-formatted turn with special tokens) to
  exactly the ids the HF tokenizer gives;
- for F16/F32 files, llama.cpp's next-token logits match PyTorch's on the same ids
  (max |Δ| and top-1 agreement);
- held-out bits per character (and perplexity) under llama.cpp, so a quantized file can
  be reported beside its F16 reference;
- one short greedy chat reply, judged: not empty, not the prompt (or the fine-tune's
  ``Translate to …:`` request) echoed back, and ended by the model's end-of-turn token
  within the budget. A file can be a faithful copy of a model that does not chat yet; the
  report keeps the two apart (``ok`` is the file, ``chat.ok`` the reply).

Bits per character lead, because the rest of the kit (fine-tuning, eval) reports them and
they compare across tokenizers. Perplexity is per *token*: exp of the mean negative log-
likelihood per token, so one number depends on how long the tokens are. With a target
vocabulary of long pieces, 2.5 bits/char at ~5 characters per token is a perplexity in the
thousands (2 ** (2.5 * 5) ≈ 5800) — large, and not a sign of a broken file.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Iterator, Optional, Sequence

from ..errors import TaalkitError
from ..progress import CancelToken, ProgressCallback, emit
from ..formats.gguf_header import FILE_TYPES, gguf_file_type  # noqa: F401  (the header reader owns them)

# Text that stresses a pre-tokenizer: digit runs, whitespace runs, newlines, punctuation,
# apostrophes, accents, Welsh circumflexes, non-Latin scripts and an emoji.
PROBE_TEXTS = [
    "The year 2024 had 365 days; 1,000,000 people came at 10:30.",
    "Mae'r gath yn eistedd ar y mat. Dŵr, bara a chaws — ŵy, tŷ, ŷd.",
    "  leading spaces,\ttabs\tand\n\nnewlines  \n end ",
    "It's what they'll do, isn't it? \"Quotes\" (brackets) [x] {y} <z> 3.14e-5",
    "Café naïve façade — Ελληνικά, русский, 日本語, عربى 🙂!",
]


@contextlib.contextmanager
def _quiet():
    """llama.cpp prints load logs on fd 2 even with verbose=False in places; keep them off screen."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        try:
            os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def load_llama(path: os.PathLike | str, *, n_ctx: int = 512, vocab_only: bool = False, logits_all: bool = False):
    import llama_cpp

    path = Path(path)
    if not path.exists():
        raise TaalkitError(f"{path}: no such GGUF file")
    try:
        with _quiet():
            return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, vocab_only=vocab_only,
                                   logits_all=logits_all, n_threads=min(2, os.cpu_count() or 1),
                                   verbose=False)
    except (ValueError, RuntimeError) as err:
        raise TaalkitError(f"llama.cpp cannot load {path.name}: {err}") from None


def compare_tokenization(llm, hf_tokenizer, texts: Sequence[str]) -> dict:
    """llama.cpp ids vs HF ids on each text, plus one chat-formatted turn (special tokens parsed)."""
    checked, tokens, mismatches, first = 0, 0, 0, None
    cases = [(t, False) for t in texts if t]
    if hf_tokenizer.chat_template and texts:
        chat = hf_tokenizer.apply_chat_template([{"role": "user", "content": texts[0]}],
                                                tokenize=False, add_generation_prompt=True)
        cases.append((chat, True))
    for text, special in cases:
        want = hf_tokenizer(text, add_special_tokens=False)["input_ids"]
        got = llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)
        checked += 1
        tokens += len(want)
        if list(got) != list(want):
            mismatches += 1
            if first is None:
                at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
                first = {"text": text[:200], "position": at, "hf": want[at:at + 8], "llama_cpp": list(got[at:at + 8])}
    return {"texts": checked, "tokens": tokens, "mismatches": mismatches, "first_mismatch": first,
            "identical": mismatches == 0}


def _log_softmax(x):
    import numpy as np

    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def compare_logits(llm, hf_dir: Path, prompt_ids: Sequence[Sequence[int]]) -> dict:
    """Next-token logits after each prompt: llama.cpp vs the PyTorch model in float32."""
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the kit's own progress events report this step
    model = AutoModelForCausalLM.from_pretrained(hf_dir, local_files_only=True, trust_remote_code=False,
                                                 use_safetensors=True, dtype=torch.float32).eval()
    max_diff, agree, scale = 0.0, 0, 0.0
    per_prompt = []
    for ids in prompt_ids:
        ids = list(ids)
        with torch.no_grad():
            want = model(torch.tensor([ids])).logits[0, -1].float().numpy()
        llm.reset()
        llm.eval(ids)
        got = np.array(llm.scores[len(ids) - 1], dtype=np.float32)
        diff = float(np.abs(got - want).max())
        same = int(got.argmax()) == int(want.argmax())
        max_diff = max(max_diff, diff)
        scale = max(scale, float(np.abs(want).max()))
        agree += same
        per_prompt.append({"max_abs_diff": round(diff, 6), "top1_equal": same})
    del model
    return {"prompts": len(per_prompt), "max_abs_diff": max_diff, "max_abs_logit": scale,
            "top1_equal": agree, "top1_all_equal": agree == len(per_prompt), "per_prompt": per_prompt}


def _scored_ids(llm, texts: Sequence[str], bos_id: Optional[int], n_ctx: int,
                cancel: Optional[CancelToken]) -> Iterator[list[int]]:
    """Token ids of each non-blank text as scored: BOS first (when there is one), cut to the context."""
    for text in texts:
        if not text or not text.strip():
            continue
        if cancel is not None:
            cancel.check()
        ids = list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))[: n_ctx - 1]
        yield ([bos_id] if bos_id is not None else []) + ids


def perplexity(llm, texts: Sequence[str], *, bos_id: Optional[int], n_ctx: int = 512,
               cancel: Optional[CancelToken] = None) -> dict:
    """Held-out perplexity (per token) and bits per character under llama.cpp.

    Each text is scored alone after a BOS (as kit.metrics.bits_per_char does in PyTorch), so
    the first real token counts too; texts longer than the context are cut.
    """
    import numpy as np

    nll, n_tok, n_chars = 0.0, 0, 0
    for ids in _scored_ids(llm, texts, bos_id, n_ctx, cancel):
        if len(ids) < 2:
            continue
        llm.reset()
        llm.eval(ids)
        logits = np.array(llm.scores[: len(ids)], dtype=np.float64)
        logp = _log_softmax(logits[:-1])
        nll -= float(logp[np.arange(len(ids) - 1), ids[1:]].sum())
        n_tok += len(ids) - 1
        n_chars += len(llm.detokenize(ids[1:]).decode("utf-8", "replace"))
    if not n_tok:
        return {"texts": 0, "tokens": 0, "perplexity": None, "bits_per_char": None}
    return {"texts": len(texts), "tokens": n_tok, "perplexity": math.exp(nll / n_tok),
            "bits_per_char": nll / math.log(2) / max(1, n_chars)}


def divergence(llm, ref, texts: Sequence[str], *, bos_id: Optional[int], n_ctx: int = 512,
               cancel: Optional[CancelToken] = None) -> dict:
    """Mean KL(reference || this file) per token and top-1 agreement, over held-out text.

    Perplexity can even improve by chance after quantization; KL against the F16 file measures
    how far the quantized model's predictions moved, which is what quantization costs.
    """
    import numpy as np

    kl, agree, n = 0.0, 0, 0
    for ids in _scored_ids(llm, texts, bos_id, n_ctx, cancel):
        rows = []
        for model in (ref, llm):
            model.reset()
            model.eval(ids)
            rows.append(_log_softmax(np.array(model.scores[: len(ids)], dtype=np.float64)))
        p, q = rows
        kl += float((np.exp(p) * (p - q)).sum())
        agree += int((p.argmax(-1) == q.argmax(-1)).sum())
        n += len(ids)
    if not n:
        return {"tokens": 0, "kl_mean": None, "top1_agreement": None}
    return {"tokens": n, "kl_mean": kl / n, "top1_agreement": agree / n}


def chat_reply(llm, prompt: str, max_tokens: int = 48) -> tuple[str, str]:
    """One greedy reply through the GGUF's own chat template: (text, finish reason)."""
    with _quiet():
        out = llm.create_chat_completion(messages=[{"role": "user", "content": prompt}],
                                         max_tokens=max_tokens, temperature=0.0, top_k=1)
    choice = out["choices"][0]
    return choice["message"]["content"] or "", choice.get("finish_reason") or ""


def _words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() else " " for c in text).split()


def judge_reply(prompt: str, reply: str, finish_reason: str) -> list[str]:
    """What is wrong with a chat reply, in words ([] = it is a reply).

    Echo means the reply starts with the prompt's first words, is mostly the prompt's words in
    order, or starts with a translation request (``Translate to English:``, what a fine-tuned
    model was trained on and sometimes parrots).
    """
    problems = []
    text = reply.strip()
    if not text:
        return ["empty"]
    said, asked = _words(text), _words(prompt)
    head = min(6, len(asked))
    if head and said[:head] == asked[:head]:
        problems.append("echoes the prompt")
    elif asked and len(said) >= 4:
        shared = sum(1 for a, b in zip(said, asked) if a == b)
        if shared >= 0.6 * min(len(said), len(asked)):
            problems.append("echoes the prompt")
    if said[:2] == ["translate", "to"]:
        problems.append("echoes a translation request ('Translate to …:')")
    if finish_reason != "stop":
        problems.append(f"does not end (no end-of-turn token within the {finish_reason or 'token'} limit)")
    return problems


def verify_gguf(path: os.PathLike | str, hf_dir: Optional[os.PathLike | str] = None,
                texts: Optional[Sequence[str]] = None, *, reference: Optional[os.PathLike | str] = None,
                logit_prompts: int = 20, ppl_texts: int = 40, n_ctx: int = 512, chat_prompt: Optional[str] = None,
                progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Check ``path`` with llama.cpp against the HF model folder ``hf_dir`` (when given).

    ``texts`` are held-out sentences (default: built-in probes). ``reference`` is the F16 file a
    quantized one is compared with (its perplexity is reported beside this file's).
    Returns a JSON-able dict; ``ok`` is True when tokenization is identical and, for F16/F32
    files, every prompt's top-1 next token agrees with PyTorch (the file is the model).
    ``chat`` judges the model's reply on its own (``chat.ok``, ``chat.problems``).
    """
    path = Path(path)
    texts = [t for t in (texts or []) if t and t.strip()] + PROBE_TEXTS
    file_type = gguf_file_type(path)
    report: dict = {"path": str(path), "file_type": file_type, "loads": False}
    emit(progress, "verify", 0, 4, "loading with llama.cpp")
    llm = load_llama(path, n_ctx=n_ctx, logits_all=True)
    report["loads"] = True
    report["n_vocab"] = llm.n_vocab()
    bos_id = llm.token_bos() if llm.token_bos() >= 0 else None
    hf_tok = None
    if hf_dir is not None:
        from transformers import AutoTokenizer

        hf_tok = AutoTokenizer.from_pretrained(hf_dir, local_files_only=True, trust_remote_code=False)
        if cancel is not None:
            cancel.check()
        emit(progress, "verify", 1, 4, "tokenization")
        report["tokenization"] = compare_tokenization(llm, hf_tok, texts)
        if file_type in ("F32", "F16") and logit_prompts:
            emit(progress, "verify", 2, 4, "logits against PyTorch")
            prompts = [hf_tok(t, add_special_tokens=True)["input_ids"][: n_ctx - 1] for t in texts[:logit_prompts]]
            report["logits"] = compare_logits(llm, Path(hf_dir), [p for p in prompts if p])
    if cancel is not None:
        cancel.check()
    emit(progress, "verify", 3, 4, "held-out perplexity")
    scored = texts[:ppl_texts]
    report["perplexity"] = perplexity(llm, scored, bos_id=bos_id, n_ctx=n_ctx, cancel=cancel)
    prompt = chat_prompt or texts[0]
    reply, finish = chat_reply(llm, prompt)
    report["reply"] = reply
    problems = judge_reply(prompt, reply, finish)
    report["chat"] = {"prompt": prompt, "reply": reply, "finish_reason": finish, "ok": not problems,
                      "problems": problems}
    if reference is not None and Path(reference).resolve() != path.resolve():
        ref = load_llama(reference, n_ctx=n_ctx, logits_all=True)
        report["reference"] = {"path": str(reference), "file_type": gguf_file_type(reference),
                               "perplexity": perplexity(ref, scored, bos_id=bos_id, n_ctx=n_ctx, cancel=cancel)}
        report["divergence"] = divergence(llm, ref, scored, bos_id=bos_id, n_ctx=n_ctx, cancel=cancel)
        del ref
    del llm
    tok_ok = report.get("tokenization", {}).get("identical", True)
    logit_ok = report.get("logits", {}).get("top1_all_equal", True)
    report["ok"] = bool(tok_ok and logit_ok)
    emit(progress, "verify", 4, 4, "ok" if report["ok"] else "MISMATCH")
    return report
