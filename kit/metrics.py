"""Bits per character: the one loss number comparable across tokenizers.

Per-token perplexity rewards a tokenizer that cuts text into few long tokens;
bits per character divides the total negative log-likelihood (in bits) of the
text by its number of characters, so a Welsh tokenizer and SmolLM2's English
one can be compared on the same held-out text (METHOD.md, "How to measure").
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from .chrf import chrf  # noqa: F401  (re-exported; the runtime tier imports kit.chrf, which needs no torch)


def bits_per_char(model, tokenizer, texts: Sequence[str], *, device: str = "cpu",
                  max_length: int = 256, batch_size: int = 8, add_bos: Optional[bool] = None) -> float:
    """Total NLL in bits of ``texts`` under ``model`` divided by their character count.

    Each text is scored on its own (no packing), starting after a BOS token when the
    tokenizer has one, so the first real token is predicted too and every character counts.
    Texts longer than ``max_length`` tokens are truncated and only their scored characters count.
    """
    import torch

    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise ValueError("bits_per_char needs at least one non-empty text")
    bos = tokenizer.bos_token_id
    if bos is None:
        bos = tokenizer.eos_token_id
    if add_bos is None:
        add_bos = bos is not None
    total_bits = 0.0
    total_chars = 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            rows, chars = [], []
            for text in chunk:
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                limit = max_length - (1 if add_bos else 0)
                if len(ids) > limit:
                    ids = ids[:limit]
                    text = tokenizer.decode(ids)
                rows.append(([bos] if add_bos else []) + ids)
                chars.append(len(text))
            width = max(len(r) for r in rows)
            input_ids = torch.zeros((len(rows), width), dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for i, r in enumerate(rows):
                input_ids[i, : len(r)] = torch.tensor(r)
                mask[i, : len(r)] = 1
            input_ids, mask = input_ids.to(device), mask.to(device)
            logits = model(input_ids=input_ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            target = input_ids[:, 1:]
            nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1) * mask[:, 1:]
            total_bits += float(nll.sum()) / math.log(2)
            total_chars += sum(chars)
    return total_bits / max(1, total_chars)
