"""Tiny random Gemma-2 and Gemma-3 models, built from the released configs scaled down.

Not a test module: ``tests/test_family_gemma*.py`` import it. Kept from each real config (the
parts that change a code path): Gemma-2-2B's soft-caps (scaled down to 0.5 / 1.5 with the tiny logits), its
every-other-layer sliding window, grouped KV heads, ``head_dim`` bigger than hidden/heads
(256 vs 288 in 2B; 32 vs 16 here) and ``query_pre_attn_scalar = head_dim``; Gemma-3-270M's
q/k norms, one KV head, five local layers then a global one (6 layers here), RoPE base 1e6
global / 10,000 local, no soft-caps. The sliding window is cut to 8 tokens so the test
prompts (longer than that) exercise it. The tokenizer is Gemma's style: SentencePiece BPE with
byte fallback, no dummy prefix, digits split, ``<pad> <eos> <bos> <unk> <mask>`` at ids 0–4,
``<start_of_turn>``/``<end_of_turn>`` and unused specials, BOS added, Gemma's turn template.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import TINY_ENGLISH

TEXTS = TINY_ENGLISH + [
    "Mae'r gath yn eistedd ar y mat.", "Bore da, athro. Sut wyt ti heddiw?", "Agorwch y ffeil a'i chadw.",
    "Rhifau: 1 2 3 45 678 2024.", "Ble mae'r orsaf? Dŵr, bara a chaws.", "It's 10:30 and they'll come at 12345.",
    "Two  spaces and   three, a tab\there.",
] * 3
GEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<unused0>", "<unused1>",
                  "<start_of_turn>", "<end_of_turn>"]
WINDOW = 8
# Gemma-2's caps are 50 (attention) and 30 (final) for logits of that size; these tiny random models'
# logits are within ±3, so the caps are scaled down with them to bite (a missing cap must show).
ATTN_CAP, FINAL_CAP = 0.5, 1.5


def gemma_tokenizer(out_dir: Path, texts=TEXTS, vocab_size: int = 400):
    """A Gemma-style SentencePiece tokenizer trained on ``texts``, saved to ``out_dir``."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.tokenization_utils_base import generate_merges

    from kit.models.families.gemma import GEMMA_CHAT_TEMPLATE
    from kit.tokenizer.spm import BYTE, train_spm_pieces

    pieces = train_spm_pieces(texts, vocab_size=vocab_size, dummy_prefix=False, split_digits=True)
    vocab = {s: i for i, s in enumerate(GEMMA_SPECIALS)}
    for piece, _score, _typ in pieces:
        vocab.setdefault(piece, len(vocab))
    scores = {p: s for p, s, _t in pieces}
    skip = set(GEMMA_SPECIALS) | {p for p, _s, t in pieces if t == BYTE}
    merges = generate_merges(vocab, dict(sorted(scores.items(), key=lambda kv: -kv[1])), skip_tokens=skip)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in GEMMA_SPECIALS])
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A <bos> $B",
                                                       special_tokens=[("<bos>", vocab["<bos>"])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>",
                                   pad_token="<pad>", mask_token="<mask>")
    fast.chat_template = GEMMA_CHAT_TEMPLATE
    fast.save_pretrained(out_dir)
    return fast


def gemma_config(family: str, tokenizer):
    from transformers import Gemma2Config, Gemma3TextConfig

    common = dict(vocab_size=len(tokenizer), hidden_size=64, num_attention_heads=4, head_dim=32,
                  query_pre_attn_scalar=32, intermediate_size=128, sliding_window=WINDOW, rms_norm_eps=1e-6,
                  hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
                  bos_token_id=tokenizer.bos_token_id, eos_token_id=[tokenizer.eos_token_id,
                                                                     tokenizer.convert_tokens_to_ids("<end_of_turn>")],
                  pad_token_id=tokenizer.pad_token_id)
    if family == "gemma2":  # Gemma-2-2B: soft-caps 50/30, local/global alternating, 2 KV heads of 4
        return Gemma2Config(num_hidden_layers=4, num_key_value_heads=2, max_position_embeddings=8192,
                            attn_logit_softcapping=ATTN_CAP, final_logit_softcapping=FINAL_CAP, rope_theta=10000.0,
                            **common)
    if family == "gemma3":  # Gemma-3-270M: q/k norms, one KV head, 5 local + 1 global, θ 1e6 / 10k
        return Gemma3TextConfig(num_hidden_layers=6, num_key_value_heads=1, max_position_embeddings=32768,
                                rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                                                 "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}},
                                **common)
    raise ValueError(family)


def build_gemma_model(family: str, out_dir: Path, *, seed: int = 0) -> Path:
    """A tiny random Gemma model of ``family`` (``gemma2``/``gemma3``) with its tokenizer in ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = gemma_tokenizer(out_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(gemma_config(family, tokenizer))
    with torch.no_grad():  # Gemma norms initialise to 0 (= x·1); move them so a missing +1 shows
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.3)
        model.get_input_embeddings().weight.mul_(3.0)  # logits large enough for the soft-caps to bite
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def config_of(folder: Path) -> dict:
    return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
