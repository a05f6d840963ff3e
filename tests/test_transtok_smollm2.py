"""The real thing, once: SmolLM2-135M-Instruct trans-tokenized to a Welsh tokenizer (slow).

Uses the kit's own intake (``add_model(ws, "default")``), tokenizer training and importers
on a slice of the shipped Welsh demo data, then checks what the issue promises: special and
chat tokens copied exactly, a dictionary word built from its translation, and a model folder
that loads with ``AutoModelForCausalLM`` and generates.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
def test_smollm2_transtokenized_to_welsh_loads_and_generates(workspace, demo_data, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kit.corpus import import_corpus
    from kit.models import add_model
    from kit.tokenizer import train_tokenizer
    from kit.transtok import load_mapping, transtokenize

    torch.set_num_threads(1)
    lines = (demo_data / "cy/train_en_cy.tsv").read_text(encoding="utf-8").splitlines()[:3000]
    part = tmp_path / "train_en_cy.tsv"
    part.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_corpus(workspace, part, "parallel")
    d = workspace.db["dictionaries"].insert({"name": "hand", "headword_lang": "cy", "translation_lang": "en",
                                             "direction": "cy-en", "sha256": "h"}).last_pk
    workspace.db["entries"].insert({"dictionary_id": d, "headword": "ffenestr", "translation": "window",
                                    "headword_lang": "cy", "translation_lang": "en"})
    source_row = add_model(workspace, "default")
    train_tokenizer(workspace, vocab_size=4000)  # room for Welsh words beside the English of the pairs

    row = transtokenize(workspace, device="cpu")

    src_dir, new_dir = workspace.model_dir(source_row), workspace.model_dir(row)
    src_tok = AutoTokenizer.from_pretrained(src_dir, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(new_dir, local_files_only=True)
    src = AutoModelForCausalLM.from_pretrained(src_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(new_dir, local_files_only=True)
    e_src = src.get_input_embeddings().weight.detach().numpy()
    e_new = model.get_input_embeddings().weight.detach().numpy()
    assert e_new.shape == (len(tok), e_src.shape[1])
    for special in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert np.array_equal(e_new[tok.convert_tokens_to_ids(special)], e_src[src_tok.convert_tokens_to_ids(special)])
    exp = load_mapping(workspace).explain(" ffenestr")
    assert exp.sources[0].source_text.strip().lower() in {"window", "windows"}
    prompt = tok.apply_chat_template([{"role": "user", "content": "Agorwch y ffeil"}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    out = model.generate(**prompt, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > prompt["input_ids"].shape[1]
