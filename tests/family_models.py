"""Tiny random models of each supported family, built from the family's real config, scaled down.

Not a test module: ``tests/test_families*.py`` and ``bench/families.py`` import it. Every model
is a real transformers class with random weights saved as safetensors, with a real tokenizer
trained here in the family's own style (pre-tokenizer regex, special tokens, chat template,
end-of-turn token), so the whole journey runs its real code paths in seconds.

What is kept from each real config (the part that changes the code path): Llama-3.2-1B's
``llama3`` RoPE scaling (factor 32, θ 500000; its original context cut from 8192 to 64 like
the rest, so the scaled frequencies turn within a short test prompt), grouped KV heads and tied head; Qwen2.5-0.5B's
q/k/v biases, θ 1e6, tied head and NFC normalizer; Qwen3-0.6B's q/k norms and a ``head_dim``
that is not hidden/heads; SmolLM2's digit-splitting byte-level BPE; Mistral-7B's untied head
and SentencePiece tokenizer with byte fallback. Sizes are cut to hidden 64, 2 layers.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import CHAT_TEMPLATE, SPECIAL_TOKENS, TINY_ENGLISH

LLAMA3_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
QWEN2_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
               "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")

LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Welsh and English with digits, so the split regexes (digit runs, apostrophes) matter.
TEXTS = TINY_ENGLISH + [
    "Mae'r gath yn eistedd ar y mat.", "Bore da, athro. Sut wyt ti heddiw?", "Agorwch y ffeil a'i chadw.",
    "Rhifau: 1 2 3 45 678 2024.", "Ble mae'r orsaf? Dŵr, bara a chaws.", "It's 10:30 and they'll come at 12345.",
] * 3

FAMILIES = ("llama", "mistral", "llama3", "qwen2", "qwen3")
END_OF_TURN = {"llama": "<|im_end|>", "mistral": "</s>", "llama3": "<|eot_id|>", "qwen2": "<|im_end|>",
               "qwen3": "<|im_end|>"}


def _byte_level_tokenizer(regex, specials, *, normalizer=None, digits=False, vocab_size=400):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    if normalizer == "NFC":
        tok.normalizer = normalizers.NFC()
    if regex is not None:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    elif digits:
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                     pre_tokenizers.ByteLevel(add_prefix_space=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXTS, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    return tok


def family_tokenizer(family: str, out_dir: Path):
    """The family's tokenizer in miniature, saved to ``out_dir``; returns the transformers tokenizer."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    if family == "llama3":
        tok = _byte_level_tokenizer(LLAMA3_REGEX, LLAMA3_SPECIALS)
        tok.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
            special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                       pad_token="<|end_of_text|>")
        fast.chat_template = LLAMA3_TEMPLATE
    elif family == "smollm3":  # Llama-3's regex and ChatML turns
        tok = _byte_level_tokenizer(LLAMA3_REGEX, ["<|begin_of_text|>", "<|end_of_text|>"] + QWEN_SPECIALS[1:])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|im_end|>",
                                       pad_token="<|end_of_text|>")
        fast.chat_template = CHAT_TEMPLATE
    elif family in ("qwen2", "qwen3"):
        tok = _byte_level_tokenizer(QWEN2_REGEX, QWEN_SPECIALS, normalizer="NFC")
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
        fast.chat_template = CHAT_TEMPLATE
    elif family == "llama":  # SmolLM2: digits one by one, then GPT-2 byte-level
        tok = _byte_level_tokenizer(None, SPECIAL_TOKENS, digits=True)
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                       unk_token="<|endoftext|>", pad_token="<|im_end|>")
        fast.chat_template = CHAT_TEMPLATE
    elif family == "mistral":
        from test_gguf_writer import sentencepiece_style_tokenizer

        fast = sentencepiece_style_tokenizer(TEXTS, out_dir)
        fast.chat_template = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ '[INST] ' + "
                              "m['content'] + ' [/INST]' }}{% else %}{{ m['content'] + eos_token }}{% endif %}"
                              "{% endfor %}")
    else:
        raise ValueError(family)
    fast.save_pretrained(out_dir)
    return fast


def family_config(family: str, tokenizer, *, hidden: int = 64, layers: int = 2):
    """The family's real config shape, scaled down (default hidden 64, 2 layers, 4 heads, 2 KV heads)."""
    from transformers import LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config

    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    common = dict(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                  num_key_value_heads=2, **ids)
    k = hidden / 64  # MLP widths scale with the hidden size
    if family == "llama":  # SmolLM2-135M: tied, θ 100000
        return LlamaConfig(intermediate_size=int(160 * k), max_position_embeddings=8192, rms_norm_eps=1e-5,
                           rope_theta=100000.0, tie_word_embeddings=True, **common)
    if family == "mistral":  # Mistral-7B-v0.3: untied, θ 1e6, no sliding window
        return MistralConfig(intermediate_size=int(224 * k), max_position_embeddings=32768, rms_norm_eps=1e-5,
                             rope_theta=1000000.0, sliding_window=None, tie_word_embeddings=False, **common)
    if family == "llama3":  # Llama-3.2-1B: llama3 RoPE scaling, θ 500000, tied
        return LlamaConfig(intermediate_size=int(256 * k), max_position_embeddings=2048, rms_norm_eps=1e-5,
                           head_dim=hidden // 4, tie_word_embeddings=True,
                           rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                            "original_max_position_embeddings": 64}, **common)
    if family == "qwen2":  # Qwen2.5-0.5B: q/k/v biases, θ 1e6, tied
        return Qwen2Config(intermediate_size=int(352 * k), max_position_embeddings=32768, rms_norm_eps=1e-6,
                           rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False, **common)
    if family == "smollm3":  # SmolLM3-3B: NoPE every 4th layer, θ 5e6, tied
        from transformers import SmolLM3Config

        return SmolLM3Config(**{**common, "num_hidden_layers": max(4, layers)}, intermediate_size=int(176 * k),
                             max_position_embeddings=65536, rms_norm_eps=1e-6, rope_theta=5000000.0,
                             tie_word_embeddings=True, use_sliding_window=False)
    if family == "qwen3":  # Qwen3-0.6B: q/k norms, head_dim 128 != hidden/heads 64, tied
        return Qwen3Config(intermediate_size=int(192 * k), max_position_embeddings=40960, rms_norm_eps=1e-6, head_dim=hidden // 2,
                           rope_theta=1000000.0, tie_word_embeddings=True, **common)
    raise ValueError(family)


def build_family_model(family: str, out_dir: Path, *, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """A tiny random model of ``family`` with its tokenizer in ``out_dir`` (safetensors)."""
    import torch
    from transformers import AutoModelForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = family_tokenizer(family, out_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(family_config(family, tokenizer, hidden=hidden, layers=layers))
    with torch.no_grad():  # biases and q/k norms away from their 0/1 init, so a mistake in them shows
        for name, p in model.named_parameters():
            if name.endswith(".bias") or "q_norm" in name or "k_norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def config_of(folder: Path) -> dict:
    return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
