"""The target-language tokenizer: train it on the workspace's text, measure it against the source's.

Public names: :func:`train_tokenizer` (``taalkit tokenizer train``), :func:`tokenizer_stats`
(``taalkit tokenizer stats``), :func:`default_vocab_size`, :func:`training_text`,
:func:`read_text_file`. Modules: ``text`` (which text), ``train`` (the trainer and what it keeps
from the source tokenizer), ``stats`` (fertility and chars/token).
"""

from __future__ import annotations

from .stats import measure, tokenizer_stats
from .text import count_words, heldout_text, read_text_file, training_text
from .train import ALGOS, default_vocab_size, train_tokenizer

__all__ = ["ALGOS", "count_words", "default_vocab_size", "heldout_text", "measure", "read_text_file",
           "tokenizer_stats", "train_tokenizer", "training_text"]
