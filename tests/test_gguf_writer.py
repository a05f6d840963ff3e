"""The GGUF writer against llama.cpp itself: real tiny Llamas, real tokenizers, real llama_cpp."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import TINY_ENGLISH, build_tiny_llama, train_tiny_bpe
from kit.errors import Cancelled, TaalkitError
from kit.gguf.verify import PROBE_TEXTS, compare_logits, compare_tokenization, load_llama
from kit.gguf.vocab import CONTROL, pre_tokenizer_name
from kit.gguf.writer import ModelCard, write_gguf

PROMPTS = ["The cat sat on the mat.", "Hello, how are you today?", "Numbers: 1 2 3 45 678.",
           "Delete this folder?\n\nOpen the file."]


def _fields(path):
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    return reader, {k: f for k, f in reader.fields.items()}


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_llama_untied_dir"])
def test_f32_export_matches_torch_logits_and_tokenization(request, tmp_path, fixture, tiny_tokenizer):
    model_dir = request.getfixturevalue(fixture)
    out = tmp_path / "m-F32.gguf"
    info = write_gguf(model_dir, out, out_type="F32")
    assert info["pre"] == "gpt-2"

    llm = load_llama(out, n_ctx=128, logits_all=True)
    tok = compare_tokenization(llm, tiny_tokenizer, PROMPTS + PROBE_TEXTS)
    assert tok["identical"], tok["first_mismatch"]
    ids = [tiny_tokenizer(p)["input_ids"] for p in PROMPTS]
    logits = compare_logits(llm, model_dir, ids)
    assert logits["max_abs_diff"] < 1e-3
    assert logits["top1_all_equal"]


def test_tied_model_has_no_output_tensor_and_untied_has_one(tmp_path, tiny_llama_dir, tiny_llama_untied_dir):
    for model_dir, expect in ((tiny_llama_dir, False), (tiny_llama_untied_dir, True)):
        out = tmp_path / f"{expect}.gguf"
        write_gguf(model_dir, out, out_type="F16")
        reader, _ = _fields(out)
        types = {t.name: t.tensor_type.name for t in reader.tensors}
        assert ("output.weight" in types) is expect
        assert types["token_embd.weight"] == "F16"
        assert types["blk.0.attn_norm.weight"] == "F32" and types["output_norm.weight"] == "F32"
        assert list(types)[0] == "token_embd.weight"


def test_f16_export_keeps_top1(tmp_path, tiny_llama_untied_dir, tiny_tokenizer):
    out = tmp_path / "m-F16.gguf"
    write_gguf(tiny_llama_untied_dir, out, out_type="F16")
    llm = load_llama(out, n_ctx=128, logits_all=True)
    logits = compare_logits(llm, tiny_llama_untied_dir, [tiny_tokenizer(p)["input_ids"] for p in PROMPTS])
    assert logits["top1_all_equal"]
    assert logits["max_abs_diff"] < 0.05


def test_metadata_card_and_tokenizer_keys(tmp_path, tiny_llama_dir, tiny_tokenizer):
    card = ModelCard(name="cy demo", languages=["en", "cy"], base_models=["SmolLM2-135M-Instruct"],
                     licence="apache-2.0", dictionaries=["eurfa"], corpora=["train_en_cy"])
    out = tmp_path / "card.gguf"
    write_gguf(tiny_llama_dir, out, out_type="F16", card=card)
    _, f = _fields(out)
    assert f["general.name"].contents() == "cy demo"
    assert f["general.languages"].contents() == ["en", "cy"]
    assert f["general.base_model.0.name"].contents() == "SmolLM2-135M-Instruct"
    assert f["general.license"].contents() == "apache-2.0"
    assert f["taalkit.dictionaries"].contents() == ["eurfa"]
    assert f["taalkit.corpora"].contents() == ["train_en_cy"]
    assert f["taalkit.version"].contents()
    assert f["tokenizer.ggml.model"].contents() == "gpt2"
    assert f["tokenizer.ggml.pre"].contents() == "gpt-2"
    assert f["tokenizer.ggml.add_bos_token"].contents() is False
    assert f["tokenizer.ggml.bos_token_id"].contents() == tiny_tokenizer.bos_token_id
    assert f["tokenizer.ggml.eos_token_id"].contents() == tiny_tokenizer.eos_token_id
    assert "<|im_start|>" in f["tokenizer.chat_template"].contents()
    tokens = f["tokenizer.ggml.tokens"].contents()
    types = f["tokenizer.ggml.token_type"].contents()
    assert len(tokens) == len(tiny_tokenizer)
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        assert types[tokens.index(special)] == CONTROL
    merges = json.loads((tiny_llama_dir / "tokenizer.json").read_text())["model"]["merges"]
    assert len(f["tokenizer.ggml.merges"].contents()) == len(merges)


def test_digit_splitting_pretokenizer_is_smollm_and_tokenizes_identically(tmp_path):
    """A new vocabulary that kept SmolLM2's Digits+ByteLevel pre-tokenizer gets llama.cpp's 'smollm'."""
    from tokenizers import pre_tokenizers

    texts = [t + f" {n} {n * 7}" for n, t in enumerate(TINY_ENGLISH)]
    tok = train_tiny_bpe(texts)
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    model_dir = build_tiny_llama(tmp_path / "digits", tok)
    spec = json.loads((model_dir / "tokenizer.json").read_text())
    assert pre_tokenizer_name(spec["pre_tokenizer"]) == "smollm"
    out = tmp_path / "digits.gguf"
    assert write_gguf(model_dir, out, out_type="F16")["pre"] == "smollm"
    llm = load_llama(out, vocab_only=True)
    from transformers import AutoTokenizer

    report = compare_tokenization(llm, AutoTokenizer.from_pretrained(model_dir), PROBE_TEXTS + texts[:5])
    assert report["identical"], report["first_mismatch"]


def test_unknown_pretokenizer_is_refused_with_one_line():
    with pytest.raises(TaalkitError, match="no llama.cpp equivalent"):
        pre_tokenizer_name({"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "ByteLevel"}]})
    with pytest.raises(TaalkitError, match="prefix space"):
        pre_tokenizer_name({"type": "ByteLevel", "add_prefix_space": True, "use_regex": True})


def test_an_unsupported_architecture_is_refused_naming_the_supported_families(tmp_path, tiny_llama_dir):
    import shutil

    other = tmp_path / "gpt2ish"
    shutil.copytree(tiny_llama_dir, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["architectures"] = ["GPT2LMHeadModel"]
    (other / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(TaalkitError, match="GPT2LMHeadModel is not supported yet; supported: Llama / Mistral.*Qwen2"):
        write_gguf(other, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


def test_cancelled_export_leaves_no_file(tmp_path, tiny_llama_dir):
    from kit.progress import CancelToken

    token = CancelToken()
    seen = []

    def progress(event):
        seen.append(event)
        if event.done >= 3:
            token.cancel()

    with pytest.raises(Cancelled):
        write_gguf(tiny_llama_dir, tmp_path / "out.gguf", progress=progress, cancel=token)
    assert seen and list(tmp_path.iterdir()) == []


def test_unrotate_undoes_hf_rotate_half_layout():
    """Row i of head h pairs with row i + half in HF; llama.cpp wants them adjacent."""
    from kit.gguf.writer import unrotate

    heads, head_dim = 2, 8
    rows = np.arange(heads * head_dim)[:, None].astype(np.float32)
    out = unrotate(rows, heads)[:, 0].astype(int).tolist()
    assert out == [0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15]


def sentencepiece_style_tokenizer(texts, out_dir):
    """A Llama-2/TinyLlama-style tokenizer: '▁' for spaces, BPE merges, byte fallback, BOS added."""
    from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    norm = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    probe = Tokenizer(models.BPE())
    probe.normalizer = norm
    probe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=200, show_progress=False))
    learned = json.loads(probe.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"<0x{b:02X}>": 3 + b for b in range(256)}}
    for piece in sorted(learned["vocab"], key=learned["vocab"].get):
        vocab.setdefault(piece, len(vocab))
    merges = [tuple(m) if not isinstance(m, str) else tuple(m.split(" ")) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = norm
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(out_dir)
    return fast


def test_sentencepiece_style_bpe_exports_as_llama_vocab(tmp_path):
    from kit.gguf.vocab import BYTE, UNKNOWN

    tok = sentencepiece_style_tokenizer(TINY_ENGLISH, tmp_path / "tok")
    model_dir = build_tiny_llama(tmp_path / "spm", tok)
    out = tmp_path / "spm.gguf"
    write_gguf(model_dir, out, out_type="F16")
    _, f = _fields(out)
    assert f["tokenizer.ggml.model"].contents() == "llama"
    assert f["tokenizer.ggml.add_bos_token"].contents() is True
    assert f["tokenizer.ggml.add_space_prefix"].contents() is True
    types = f["tokenizer.ggml.token_type"].contents()
    assert types[0] == UNKNOWN and types[3] == BYTE and types[1] == CONTROL
    llm = load_llama(out, vocab_only=True)
    report = compare_tokenization(llm, tok, PROMPTS + PROBE_TEXTS)
    assert report["identical"], report["first_mismatch"]
    # BOS is added the way the HF tokenizer adds it.
    assert llm.tokenize(b"The cat", add_bos=True) == tok("The cat")["input_ids"]


def test_extra_safetensors_beside_the_weights_are_ignored(tmp_path, tiny_llama_dir):
    """A trans-tokenized folder keeps source_embeddings.safetensors next to model.safetensors."""
    import shutil

    import torch
    from safetensors.torch import save_file

    folder = tmp_path / "transtok"
    shutil.copytree(tiny_llama_dir, folder)
    save_file({"embed_tokens": torch.zeros(4, 64)}, str(folder / "source_embeddings.safetensors"))
    info = write_gguf(folder, tmp_path / "t.gguf")
    assert info["tensors"] == 1 + 2 * 9 + 1


def test_llama_cpp_bits_per_char_equals_torch(tmp_path, tiny_llama_untied_dir, tiny_tokenizer):
    """The held-out number verification reports is the same quantity kit.metrics computes in PyTorch."""
    from transformers import AutoModelForCausalLM

    from kit.gguf.verify import perplexity
    from kit.metrics import bits_per_char

    out = tmp_path / "m.gguf"
    write_gguf(tiny_llama_untied_dir, out, out_type="F32")
    llm = load_llama(out, n_ctx=128, logits_all=True)
    ours = perplexity(llm, PROMPTS, bos_id=tiny_tokenizer.bos_token_id)["bits_per_char"]
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_untied_dir, local_files_only=True)
    assert ours == pytest.approx(bits_per_char(model, tiny_tokenizer, PROMPTS), rel=1e-4)
