"""Bits per char of a GGUF in llama.cpp: the runtime twin of kit.metrics.bits_per_char."""

from __future__ import annotations

import random

import pytest

from kit.evaluate import evaluate, past_evaluations
from kit.infer.default_model import default_model_gguf
from kit.infer.perplexity import gguf_bits_per_char


def test_the_model_finds_english_easier_than_welsh_and_noise():
    english = ["The settings were saved.", "Open the file and send the message to your friend."]
    welsh = ["Cafodd y gosodiadau eu cadw.", "Agorwch y ffeil ac anfonwch y neges at eich ffrind."]
    rng = random.Random(0)
    noise = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(len(t))) for t in english]
    bpc = {name: gguf_bits_per_char(default_model_gguf(), texts, n_ctx=64, n_threads=1)
           for name, texts in (("en", english), ("cy", welsh), ("noise", noise))}
    assert 0.5 < bpc["en"] < bpc["cy"] < bpc["noise"] < 12


def test_empty_input_is_refused():
    with pytest.raises(ValueError):
        gguf_bits_per_char(default_model_gguf(), ["", "  "])


def test_evaluate_stores_bits_per_char_per_model(workspace, tmp_path):
    test = tmp_path / "t.tsv"
    test.write_text("Open the file\tAgor y ffeil\n", encoding="utf-8")
    results = evaluate(workspace, test, systems=("source", "source+glossary"), directions=("en->xx",),
                       bits_per_char=True)
    (bpc,) = [r for r in results if "bits_per_char" in r]  # one per model, not per prompt variant
    assert bpc["system"] == "source" and bpc["direction"] == "cy" and bpc["bits_per_char"] > 0
    stored = [r for r in past_evaluations(workspace) if r["metric"] == "bits_per_char"]
    assert len(stored) == 1 and stored[0]["value"] == pytest.approx(bpc["bits_per_char"], abs=1e-3)
