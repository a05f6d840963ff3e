"""llama.cpp pre-tokenizer names (``tokenizer.ggml.pre``) and the Hugging Face pre-tokenizers they stand for.

Both directions read this one table: the GGUF writer names the pre-tokenizer of a tokenizer it
exports (:func:`kit.gguf.vocab.pre_tokenizer_name`), and model intake rebuilds it when it reads a
GGUF's tokenizer back (:func:`hf_pre_tokenizer`).
"""

from __future__ import annotations

from typing import Optional

# The split regexes of llama.cpp pre-tokenizer types that HF expresses as a Split before a
# regex-less ByteLevel. Keys are the exact pattern strings found in tokenizer.json.
SPLIT_REGEX_PRE = {
    # Llama 3 ("llama-bpe"): digits in runs of up to three.
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": "llama-bpe",
    # Qwen 2: single digits.
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": "qwen2",
}


BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}


def hf_pre_tokenizer(pre: str) -> Optional[dict]:
    """The HF pre-tokenizer (``tokenizer.json`` form) a llama.cpp ``tokenizer.ggml.pre`` name stands
    for: the inverse of :func:`pre_tokenizer_name`, for reading a GGUF's tokenizer back. ``None``
    for names the kit does not know."""
    if pre == "gpt-2":
        return dict(BYTE_LEVEL)
    if pre == "smollm":
        return {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, dict(BYTE_LEVEL)]}
    for regex, name in SPLIT_REGEX_PRE.items():
        if name == pre:
            return {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
                {**BYTE_LEVEL, "use_regex": False}]}
    return None
