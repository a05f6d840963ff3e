"""How well a tokenizer fits the target language: fertility and characters per token.

Fertility (tokens per word) is the first number that shows why the kit exists: an English
tokenizer cuts Welsh into many short pieces, so the model sees less text per token, learns
slower and fits less into its context. Measured on held-out text only, for the new and the
source tokenizer side by side, on exactly the same text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from ..errors import WorkspaceError
from ..workspace import Workspace
from .text import count_words, heldout_text
from .train import source_tokenizer_folder


def measure(tokenizer, texts: Sequence[str]) -> dict:
    """Tokens, fertility and chars/token of ``tokenizer`` (a transformers fast tokenizer) on ``texts``."""
    encodings = tokenizer.backend_tokenizer.encode_batch(list(texts), add_special_tokens=False)
    tokens = sum(len(e.ids) for e in encodings)
    words, _ = count_words(list(texts))
    chars = sum(len(t) for t in texts)
    return {"vocab_size": len(tokenizer), "tokens": tokens, "fertility": tokens / max(1, words),
            "chars_per_token": chars / max(1, tokens)}


def tokenizer_stats(ws: Workspace, texts: Optional[Sequence[str]] = None, *,
                    tokenizer: Optional[str] = None) -> dict:
    """Fertility and chars/token of the trained tokenizer and the source model's, on held-out text.

    ``texts`` defaults to the workspace's held-out segments (target side). Returns
    ``{"texts", "words", "chars", "source_of_text", "rows": [new, source]}``; each row has
    ``tokenizer``, ``vocab_size``, ``tokens``, ``fertility``, ``chars_per_token``.
    """
    from ..models import load_tokenizer

    where = "the texts given"
    if texts is None:
        texts = heldout_text(ws)
        where = "held-out segments of the workspace"
        if not texts:
            raise WorkspaceError("the workspace has no held-out text; import a corpus first or pass --file")
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise WorkspaceError("no text to measure the tokenizers on")
    row = ws.tokenizer(tokenizer or None)
    new = load_tokenizer(ws.path_of(row))
    src_folder = source_tokenizer_folder(ws)
    src = load_tokenizer(src_folder)
    words, _ = count_words(list(texts))
    rows = [{"tokenizer": f"{row['name']} (new)", **measure(new, texts)},
            {"tokenizer": f"{Path(src_folder).name} (source model)", **measure(src, texts)}]
    return {"texts": len(texts), "words": words, "chars": sum(len(t) for t in texts),
            "source_of_text": where, "rows": rows}
