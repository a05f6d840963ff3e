"""Refuse early with a smaller setting; pick the stage from budget and memory."""

from __future__ import annotations

import pytest

from kit.errors import ResourceError, TaalkitError
from kit.finetune.plan import (ModelShape, check_disk, check_fits, choose_stage, estimate_memory,
                               resolve_device)

# SmolLM2-135M's shape.
SMOL = ModelShape(parameters=134_515_008, vocab_size=49152, hidden_size=576, layers=30, heads=9,
                  intermediate_size=1536, tied=True)
GB = 2**30


def test_shape_from_config_counts_smollm2_parameters():
    from transformers import LlamaConfig

    cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True)
    assert ModelShape.from_config(cfg).parameters == 134_515_008


def test_estimate_matches_the_measured_cpu_ballpark():
    # ~7-9 GB RSS measured for full CPU training at batch 8x256 (issue 5).
    assert 6 * GB < estimate_memory(SMOL, "full", 8, 256, "cpu") < 10 * GB
    assert estimate_memory(SMOL, "lora", 8, 256, "cpu") < estimate_memory(SMOL, "full", 8, 256, "cpu")


def test_too_big_a_batch_is_refused_with_one_that_fits():
    with pytest.raises(ResourceError) as err:
        check_fits(SMOL, "full", 8, 256, "cpu", free=4 * GB)
    message = str(err.value)
    assert "--batch-size" in message and "4.0 GB free" in message
    b = int(message.split("--batch-size ")[1].split()[0])
    s = int(message.split("--seq-len ")[1].split()[0])
    check_fits(SMOL, "full", b, s, "cpu", free=4 * GB)  # the suggestion itself fits


def test_when_nothing_fits_full_suggests_lora():
    with pytest.raises(ResourceError, match="--stage lora"):
        check_fits(SMOL, "full", 1, 64, "cpu", free=1 * GB)


def test_auto_trains_every_weight_where_it_fits_else_embeddings_when_brief_or_lora():
    kw = dict(shape=SMOL, batch_size=4, seq_len=128, device="cpu")
    assert choose_stage("auto", minutes=5, steps=None, free=20 * GB, **kw) == "full"
    assert choose_stage("auto", minutes=None, steps=50, free=20 * GB, **kw) == "full"
    assert choose_stage("auto", minutes=120, steps=None, free=20 * GB, **kw) == "full"
    assert choose_stage("auto", minutes=5, steps=None, free=int(2.5 * GB), **kw) == "embeddings"
    assert choose_stage("auto", minutes=None, steps=50, free=int(2.5 * GB), **kw) == "embeddings"
    assert choose_stage("auto", minutes=120, steps=None, free=int(2.5 * GB), **kw) == "lora"
    assert choose_stage("lora", minutes=5, steps=None, free=20 * GB, **kw) == "lora"
    with pytest.raises(TaalkitError, match="unknown stage"):
        choose_stage("everything", minutes=5, steps=None, free=20 * GB, **kw)


def test_disk_check_refuses_with_numbers(tmp_path):
    huge = ModelShape(parameters=10**15, vocab_size=10, hidden_size=10, layers=1, heads=1,
                      intermediate_size=10, tied=True)
    with pytest.raises(ResourceError, match="not enough free disk"):
        check_disk(tmp_path, huge, "full")
    assert check_disk(tmp_path, SMOL, "embeddings") > 0


def test_devices():
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(TaalkitError, match="unknown device"):
        resolve_device("tpu")
