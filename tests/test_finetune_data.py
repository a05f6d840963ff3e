"""What the fine-tune reads: packed blocks, translation prompts both ways, held-out text kept out."""

from __future__ import annotations

import shutil

import pytest
import torch

from kit.errors import WorkspaceError
from kit.finetune.data import BlockSampler, gather_training_text, pack_blocks, translation_prompts

from conftest import TINY_ENGLISH

HELDOUT_MARK = "zqxheldout"


def finetune_workspace(ws, model_dir, *, heldout: bool = True, copies: int = 3):
    """Fill ``ws`` with a source model row (a copy of ``model_dir``) and parallel segments.

    Train targets are upper-cased English with a number; held-out targets carry a marker word
    that appears nowhere in training, so a leak is visible in the packed blocks.
    """
    shutil.copytree(model_dir, ws.models_dir / "source")
    ws.db["models"].insert({"name": "tiny", "role": "source", "path": "models/source"})
    cid = ws.db["corpora"].insert({"name": "demo", "kind": "parallel"}).last_pk
    rows = [{"corpus_id": cid, "kind": "parallel", "source_text": t, "target_text": f"{t.upper()} {i}",
             "split": "train", "line": i} for i, t in enumerate(TINY_ENGLISH * copies)]
    if heldout:
        rows += [{"corpus_id": cid, "kind": "parallel", "source_text": t,
                  "target_text": f"{t.lower()} {HELDOUT_MARK}", "split": "heldout", "line": i}
                 for i, t in enumerate(TINY_ENGLISH[:10])]
    ws.db["segments"].insert_all(rows)
    return ws


def test_heldout_text_is_measured_but_never_packed(workspace, tiny_llama_dir, tiny_tokenizer):
    finetune_workspace(workspace, tiny_llama_dir)
    text = gather_training_text(workspace, tiny_tokenizer)
    assert text.heldout and all(HELDOUT_MARK in t for t in text.heldout)
    blocks = pack_blocks(tiny_tokenizer, text.documents, 32)
    decoded = tiny_tokenizer.decode(blocks.flatten().tolist())
    assert HELDOUT_MARK not in decoded
    assert "CAT SAT" in decoded  # and the training text is there


def test_without_a_heldout_split_every_20th_text_is_set_aside(workspace, tiny_llama_dir, tiny_tokenizer):
    finetune_workspace(workspace, tiny_llama_dir, heldout=False)
    text = gather_training_text(workspace, tiny_tokenizer, translation=False)
    assert text.heldout
    assert not set(text.heldout) & set(text.documents)


def test_translation_prompts_go_both_ways_through_the_chat_template(tiny_tokenizer):
    prompts = translation_prompts(tiny_tokenizer, [("Open the file", "Agor y ffeil")], "en", "cy")
    assert len(prompts) == 2
    assert "Translate to Welsh: Open the file" in prompts[0] and "Agor y ffeil<|im_end|>" in prompts[0]
    assert "Translate to English: Agor y ffeil" in prompts[1] and prompts[1].count("<|im_start|>") == 2


def test_pack_blocks_cuts_the_stream_into_equal_blocks_with_eos_between_documents(tiny_tokenizer):
    blocks = pack_blocks(tiny_tokenizer, TINY_ENGLISH, 16)
    assert blocks.shape[1] == 16 and blocks.dtype == torch.long
    assert (blocks == tiny_tokenizer.eos_token_id).sum() >= len(TINY_ENGLISH) - 2


def test_too_little_text_names_a_smaller_block(tiny_tokenizer):
    with pytest.raises(WorkspaceError, match="--seq-len"):
        pack_blocks(tiny_tokenizer, ["hi"], 256)


def test_empty_workspace_says_what_to_import(workspace, tiny_tokenizer):
    with pytest.raises(WorkspaceError, match="no target-language text"):
        gather_training_text(workspace, tiny_tokenizer)


def test_sampler_resumes_mid_epoch_exactly_and_covers_every_block_once_per_epoch():
    blocks = torch.arange(10).view(10, 1)
    straight = BlockSampler(blocks, seed=3)
    seq = [straight.next_batch(3).flatten().tolist() for _ in range(8)]
    assert all(len(batch) == 3 for batch in seq)  # also across the end of a pass
    flat = sum(seq, [])
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))
    assert straight.state()["epoch"] == 2 and straight.state()["cursor"] == 4

    half = BlockSampler(blocks, seed=3)
    for _ in range(4):
        half.next_batch(3)
    resumed = BlockSampler.from_state(blocks, dict(half.state()), seed=99)  # the stored seed wins
    assert [resumed.next_batch(3).flatten().tolist() for _ in range(4)] == seq[4:]


def test_sampler_refuses_a_changed_corpus():
    state = BlockSampler(torch.zeros(10, 2), seed=0).state()
    with pytest.raises(WorkspaceError, match="changed"):
        BlockSampler.from_state(torch.zeros(12, 2), state, seed=0)


def test_training_and_translation_ask_alike():
    """The fine-tune's "Translate to X: …" and kit.infer's request must be the same words for every code."""
    from types import SimpleNamespace

    from kit.finetune.data import translation_prompts
    from kit.infer.translate import user_message

    no_template = SimpleNamespace(chat_template=None)
    for code in ("cy", "cym", "CY-gb", "sw", "kw", "fy", "fry", "af", "tt", "zz"):
        into_target, into_source = translation_prompts(no_template, [("hello", "helo")], "en", code)
        assert into_target == f"{user_message('hello', code)}\nhelo", code
        assert into_source == f"{user_message('helo', 'en')}\nhello", code
    assert user_message("x", "cym") == "Translate to Welsh: x" and user_message("x", "zz") == "Translate to zz: x"


def test_with_a_dictionary_the_requests_carry_the_draft_and_say_so(workspace, tiny_llama_dir, tiny_tokenizer):
    """Recipe ``draft``: each request shows the word-by-word draft, exactly as kit.infer will ask."""
    from kit.infer.translate import user_message
    from kit.infer.wordbyword import uses_draft

    ws = finetune_workspace(workspace, tiny_llama_dir)
    ws.db["dictionaries"].insert({"id": 1, "name": "d"})
    ws.db["entries"].insert_all([
        {"dictionary_id": 1, "headword": "cat", "translation": "cath", "headword_lang": "en", "translation_lang": "cy"},
        {"dictionary_id": 1, "headword": "sat", "translation": "eisteddodd", "headword_lang": "en",
         "translation_lang": "cy"}])
    pair = next((s, t) for s, t in ws.db.execute(
        "select source_text, target_text from segments where split = 'train' and source_text like '%cat sat%'"))
    ws.set_meta(recipe={"memory": 0})  # the draft alone (the default; memory examples below)
    text = gather_training_text(ws, tiny_tokenizer)
    assert uses_draft(ws)
    request = user_message(pair[0], "cy", pair[0].replace("cat", "cath").replace("sat", "eisteddodd"))
    assert "\nWord by word: " in request and any(request in d for d in text.documents)
    ws.set_meta(recipe={"draft": False, "dictionary_examples": 2, "memory": 0})
    text = gather_training_text(ws, tiny_tokenizer)
    assert not uses_draft(ws) and not any("Word by word" in d for d in text.documents)
    assert any(f"{user_message('cat', 'cy')}<|im_end|>" in d and "cath<|im_end|>" in d for d in text.documents)
    # Recipe ``memory``: the requests show other training pairs, and the workspace says so for kit.infer.
    from kit.infer.wordbyword import prompt_recipe

    ws.set_meta(recipe={"memory": 1})
    text = gather_training_text(ws, tiny_tokenizer)
    assert prompt_recipe(ws) == {"draft": True, "memory": 1}
    assert sum("\nSimilar: " in d for d in text.documents) >= text.prompt_count // 2
