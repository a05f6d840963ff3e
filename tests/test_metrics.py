"""Bits per character and chrF: the numbers every comparison in the kit rests on."""

import math

import pytest

from kit.metrics import bits_per_char, chrf


def test_uniform_model_scores_log2_vocab_per_token(tiny_llama_dir):
    """With all-zero logits every token costs log2(V) bits: bpc = tokens * log2(V) / chars."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, local_files_only=True)
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied: zeroes the input table too, so logits are all zero
    texts = ["The cat sat on the mat.", "Hello, how are you today?"]
    n_tokens = sum(len(tok(t, add_special_tokens=False).input_ids) for t in texts)
    n_chars = sum(len(t) for t in texts)
    expected = n_tokens * math.log2(len(tok)) / n_chars
    assert bits_per_char(model, tok, texts, batch_size=1) == pytest.approx(expected, rel=1e-5)
    assert bits_per_char(model, tok, texts, batch_size=2) == pytest.approx(expected, rel=1e-5)


def test_bits_per_char_rejects_empty_input(tiny_llama_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, local_files_only=True)
    with pytest.raises(ValueError):
        bits_per_char(model, tok, ["", "  "])


def test_chrf_perfect_and_partial():
    assert chrf(["Mae'r ffeil wedi'i chadw."], ["Mae'r ffeil wedi'i chadw."]) == pytest.approx(100.0)
    partial = chrf(["Mae'r ffeil"], ["Mae'r ffeil wedi'i chadw."])
    assert 0 < partial < 100
    assert chrf(["Mae'r ffeil"], ["Mae'r ffeil wedi'i chadw."], word_order=2) != partial
