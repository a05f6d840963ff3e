"""GGUF facts read at the byte level, below both model intake (kit.models) and export (kit.gguf).

- :mod:`.gguf_header` — a GGUF's metadata and tensor table in milliseconds (not ``gguf.GGUFReader``).
- :mod:`.gguf_types` — the quantization types the kit offers, sized by ``gguf.GGML_QUANT_SIZES``.
- :mod:`.gguf_pre` — llama.cpp pre-tokenizer names and the Hugging Face pre-tokenizers they stand for.
"""
