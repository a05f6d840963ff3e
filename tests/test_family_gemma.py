"""Gemma-2 and Gemma-3 through the whole journey, with tiny models of their real shape (tests/gemma_models.py).

Per family: trans-tokenize to a new SentencePiece-kind tokenizer, fine-tune 2 steps with LoRA and
2 in full, export F32/F16 with the kit's writer and compare llama.cpp's next-token logits with
PyTorch's (top-1 equal, max |Δ| bounded), check llama.cpp tokenizes held-out text like the HF
target tokenizer, quantize to Q8_0 and chat until ``<end_of_turn>``; ``model add`` of a Gemma
GGUF written by the kit gives back the folder's logits. The checks are shown to fail when a Gemma
rule is broken (norm +1, soft-caps, the sliding-window pattern), and what llama.cpp runs
differently is refused at ``model add`` naming the family.
"""

from __future__ import annotations

import json

import pytest

from gemma_models import TEXTS, WINDOW, build_gemma_model
from conftest import welsh_pairs_file
from kit.errors import TaalkitError
from kit.gguf.verify import PROBE_TEXTS, compare_logits, compare_tokenization, load_llama
from kit.gguf.writer import write_gguf
from kit.models import add_model, load_model, load_tokenizer
from kit.models.families import get

GEMMAS = ("gemma2", "gemma3")
F32_MAX_DIFF = 5e-3   # float32 in both: only summation order (and tanh/GELU approximations) differ
F16_MAX_DIFF = 3e-2   # F16 weights; logits of these tiny models are within ±3


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("TAALKIT_THREADS", "1")


@pytest.fixture(scope="module")
def gemma_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gemmas")
    return {f: build_gemma_model(f, root / f"tiny-{f}", seed=i) for i, f in enumerate(GEMMAS)}


def _logits(gguf_path, model_dir, tok, texts):
    llm = load_llama(gguf_path, n_ctx=256, logits_all=True)
    prompts = [tok(t)["input_ids"][:96] for t in texts if t.strip()]
    assert max(len(p) for p in prompts) > 2 * WINDOW  # the sliding window is exercised
    report = compare_logits(llm, model_dir, prompts)
    del llm
    return report


@pytest.mark.parametrize("family", GEMMAS)
def test_the_whole_gemma_journey(family, gemma_dirs, tmp_path):
    """model add -> SentencePiece tokenizer -> trans-tokenize -> LoRA 2 -> full 2 -> F32/F16/Q8_0 -> chat."""
    from kit.corpus import import_corpus
    from kit.finetune import finetune
    from kit.gguf import export_model, heldout_texts
    from kit.tokenizer import train_tokenizer
    from kit.transtok import transtokenize
    from kit.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws", source="en", target="cy")
    source = add_model(ws, str(gemma_dirs[family]))
    assert source["architecture"] == ("Gemma2ForCausalLM" if family == "gemma2" else "Gemma3ForCausalLM")
    import_corpus(ws, welsh_pairs_file(tmp_path), heldout_fraction=0.2)
    tok_row = train_tokenizer(ws, vocab_size=600)
    assert json.loads(tok_row["extra"])["kind"] == "spm"
    new_tok = load_tokenizer(ws.root / tok_row["path"])
    pieces = new_tok.convert_ids_to_tokens(list(range(len(new_tok))))
    # Role tokens at the source's ids, the chat tokens kept, Gemma's unused specials dropped, bytes present.
    assert pieces[:5] == ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    assert "<start_of_turn>" in pieces and "<end_of_turn>" in pieces and "<unused0>" not in pieces
    assert "<0x0A>" in pieces and any(p.startswith("\u2581") for p in pieces)
    transtokenize(ws, method="fvt", device="cpu")
    heldout = heldout_texts(ws)
    assert len(heldout) >= 10
    small = dict(batch_size=2, seq_len=32, device="cpu", eval_every=2, checkpoint_every=2)

    lora = finetune(ws, steps=2, stage="lora", **small)
    lora_dir = ws.model_dir(lora)
    target = load_tokenizer(lora_dir)
    assert len(target) < 700
    f32 = tmp_path / "lora-F32.gguf"
    info = write_gguf(lora_dir, f32, out_type="F32")
    assert info["family"] == family and info["eot_id"] == target.convert_tokens_to_ids("<end_of_turn>")
    long_texts = [" ".join(heldout[i:i + 3]) for i in range(0, 18, 3)]
    report = _logits(f32, lora_dir, target, long_texts)
    print(f"\n{family} LoRA F32: max |Δ| {report['max_abs_diff']:.2e} (logits up to {report['max_abs_logit']:.2f})")
    assert report["top1_all_equal"] and report["max_abs_diff"] < F32_MAX_DIFF

    full = finetune(ws, steps=2, stage="full", **small)
    full_dir = ws.model_dir(full)
    q8 = export_model(ws, quant="Q8_0")
    v = q8["verification"]
    assert v["tokenization"]["identical"], v["tokenization"]["first_mismatch"]
    assert v["tokenization"]["texts"] >= len(heldout)
    f16 = ws.gguf_dir / f"{full['name']}-F16.gguf"
    report16 = _logits(f16, full_dir, load_tokenizer(full_dir), long_texts + PROBE_TEXTS[:2])
    print(f"{family} full F16: max |Δ| {report16['max_abs_diff']:.2e}; Q8_0 KL {v['divergence']['kl_mean']:.2e}")
    assert report16["top1_all_equal"] and report16["max_abs_diff"] < F16_MAX_DIFF
    assert v["divergence"]["top1_agreement"] > 0.8
    _chat_stops_at_end_of_turn(ws.root / q8["path"], load_tokenizer(full_dir))
    ws.close()


def _chat_stops_at_end_of_turn(path, tok):
    """Bias <end_of_turn> so the tiny model says it at once: llama.cpp must stop there ('stop')."""
    from gguf import GGUFReader

    eot = tok.convert_tokens_to_ids("<end_of_turn>")
    fields = GGUFReader(str(path)).fields
    assert int(fields["tokenizer.ggml.eot_token_id"].contents()) == eot
    assert "<start_of_turn>" in fields["tokenizer.chat_template"].contents()
    llm = load_llama(path, n_ctx=256)
    out = llm.create_chat_completion(messages=[{"role": "user", "content": "Bore da"}], max_tokens=24,
                                     temperature=0.0, logit_bias={eot: 30.0})
    assert out["choices"][0]["finish_reason"] == "stop", out
    assert out["usage"]["completion_tokens"] <= 2
    del llm


def test_llama_cpp_tokenizes_like_the_gemma_tokenizer(gemma_dirs, tmp_path):
    """Spaces runs, tabs, digits, accents, other scripts, an emoji (byte fallback), and a chat turn."""
    folder = gemma_dirs["gemma3"]
    out = tmp_path / "g3.gguf"
    write_gguf(folder, out, out_type="F16")
    llm = load_llama(out, vocab_only=True)
    tok = load_tokenizer(folder)
    report = compare_tokenization(llm, tok, TEXTS[-7:] + PROBE_TEXTS)
    assert report["identical"], report["first_mismatch"]
    assert report["texts"] == 13


@pytest.mark.parametrize("family", GEMMAS)
def test_model_add_of_a_gemma_gguf_gives_back_the_folders_logits(family, gemma_dirs, tmp_path, workspace):
    import torch

    folder = gemma_dirs[family]
    gguf_path = tmp_path / f"{family}-F32.gguf"
    write_gguf(folder, gguf_path, out_type="F32")
    row = add_model(workspace, str(gguf_path), name=f"from-gguf-{family}")
    assert row["method"] == "gguf-dequantize"
    back = workspace.model_dir(row)
    tok, orig = load_tokenizer(back), load_tokenizer(folder)
    assert len(tok) == len(orig)
    for text in TEXTS[-7:] + PROBE_TEXTS:
        assert tok(text)["input_ids"] == orig(text)["input_ids"], text
    ids = torch.tensor([orig(" ".join(TEXTS[-4:]))["input_ids"]])
    assert ids.shape[1] > 2 * WINDOW
    with torch.no_grad():
        a, b = load_model(back)(ids).logits, load_model(folder)(ids).logits
    diff = float((a - b).abs().max())
    print(f"\n{family}: GGUF -> model add -> max |Δ| {diff:.2e}")
    assert diff < 1e-5


def test_breaking_a_gemma_rule_is_caught(gemma_dirs, tmp_path, monkeypatch):
    """The logit check can fail: norms written without +1, Gemma-2 without its soft-caps."""
    texts = [" ".join(TEXTS[-7:-4]), " ".join(TEXTS[-4:]), PROBE_TEXTS[0] * 2]
    for family in GEMMAS:
        folder = gemma_dirs[family]
        tok = load_tokenizer(folder)
        write_gguf(folder, tmp_path / f"{family}-right.gguf", out_type="F32")
        right = _logits(tmp_path / f"{family}-right.gguf", folder, tok, texts)
        fam = get(family)
        monkeypatch.setattr(fam, "_NORM_KINDS", ())
        write_gguf(folder, tmp_path / f"{family}-no-plus-one.gguf", out_type="F32")
        monkeypatch.undo()
        wrong = _logits(tmp_path / f"{family}-no-plus-one.gguf", folder, tok, texts)
        assert wrong["max_abs_diff"] > 20 * right["max_abs_diff"], family

    gemma2, folder = get("gemma2"), gemma_dirs["gemma2"]
    from kit.models.families.gemma import GemmaFamily

    def without_caps(w, shape):   # llama.cpp then falls back to the released 50 / 30
        GemmaFamily.add_hparams(gemma2, w, shape)

    monkeypatch.setattr(gemma2, "add_hparams", without_caps)
    write_gguf(folder, tmp_path / "no-caps.gguf", out_type="F32")
    monkeypatch.undo()
    tok = load_tokenizer(folder)
    right = _logits(tmp_path / "gemma2-right.gguf", folder, tok, texts)
    wrong = _logits(tmp_path / "no-caps.gguf", folder, tok, texts)
    assert wrong["max_abs_diff"] > 20 * right["max_abs_diff"]


def test_gemma_hparams_and_tensors_in_the_gguf(gemma_dirs, tmp_path):
    from gguf import GGUFReader

    for family in GEMMAS:
        out = tmp_path / f"{family}.gguf"
        write_gguf(gemma_dirs[family], out, out_type="F16")
        reader = GGUFReader(str(out))
        fields = reader.fields
        names = {t.name for t in reader.tensors}
        assert fields["general.architecture"].contents() == family
        assert fields["tokenizer.ggml.model"].contents() == "llama"
        assert fields["tokenizer.ggml.add_space_prefix"].contents() is False
        assert fields["tokenizer.ggml.add_bos_token"].contents() is True
        assert fields[f"{family}.attention.key_length"].contents() == 32     # head_dim, not 64/4
        assert fields[f"{family}.attention.sliding_window"].contents() == WINDOW
        assert "output.weight" not in names                                   # tied
        assert {"blk.0.post_attention_norm.weight", "blk.0.ffn_norm.weight", "blk.0.post_ffw_norm.weight"} <= names
        assert ("blk.0.attn_q_norm.weight" in names) is (family == "gemma3")
        assert (f"{family}.final_logit_softcapping" in fields) is (family == "gemma2")
        types = list(fields["tokenizer.ggml.token_type"].contents())
        assert types.count(6) == 256 and types[3] == 2 and types[0] == 3       # bytes, <unk>, <pad> control


def test_what_llama_cpp_runs_differently_is_refused_at_model_add(gemma_dirs, tmp_path, workspace):
    import shutil

    cases = {
        "gemma2": [({"final_logit_softcapping": None}, "Gemma-2: final_logit_softcapping is unset"),
                   ({"query_pre_attn_scalar": 144}, "Gemma-2: query_pre_attn_scalar 144 differs from head_dim")],
        "gemma3": [({"final_logit_softcapping": 30.0}, "Gemma-3: final_logit_softcapping is set"),
                   ({"layer_types": ["sliding_attention", "full_attention"] * 3}, "Gemma-3: sliding-window layer"),
                   ({"rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                                         "sliding_attention": {"rope_type": "default", "rope_theta": 5e4}}},
                    "Gemma-3: local-layer RoPE base 50000")],
    }
    n = 0
    for family, changes in cases.items():
        for change, message in changes:
            folder = tmp_path / f"bad-{family}-{n}"
            n += 1
            shutil.copytree(gemma_dirs[family], folder)
            cfg = json.loads((folder / "config.json").read_text())
            cfg.update(change)
            (folder / "config.json").write_text(json.dumps(cfg))
            with pytest.raises(TaalkitError, match=message) as err:
                add_model(workspace, str(folder), name=f"bad-{n}")
            assert "supported:" in str(err.value) and "Gemma-3 (Gemma3ForCausalLM)" in str(err.value)
    assert workspace.db.execute("select count(*) from models").fetchone()[0] == 0


def test_gemma_shape_record(gemma_dirs):
    """ModelShape from the config agrees with the weights (four norms a layer, q/k norms), head_dim 32."""
    from kit.finetune.loop import model_shape
    from kit.models.source import inspect_source

    for family, folder in gemma_dirs.items():
        measured = inspect_source(str(folder)).shape
        from_config = model_shape(folder)
        assert from_config.parameters == measured.parameters, family
        assert from_config.head_dim == 32 and from_config.tied
        model = load_model(folder)
        present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        assert set(get(family).lora_targets) <= present


def test_a_gemma_prompt_starts_with_one_bos_as_the_tokenizer_renders_it(gemma_dirs, tmp_path):
    """Gemma's template renders <bos> and llama.cpp adds one too: the kit must pass one, like transformers."""
    from kit.infer.engine import ChatTemplate, prompt_ids

    folder = gemma_dirs["gemma3"]
    out = tmp_path / "g3.gguf"
    write_gguf(folder, out, out_type="F16")
    llm = load_llama(out, vocab_only=True)
    messages = [{"role": "user", "content": "Bore da"}]
    prompt = ChatTemplate.from_llama(llm).render(messages)
    assert prompt.startswith("<bos><start_of_turn>user")
    expected = load_tokenizer(folder).apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    expected = expected["input_ids"] if isinstance(expected, dict) or hasattr(expected, "keys") else expected
    assert prompt_ids(llm, prompt) == list(expected)
    assert list(llm.tokenize(prompt.encode(), add_bos=True, special=True))[:2] == [llm.token_bos()] * 2  # the trap


def test_a_gguf_without_a_chat_template_chats_in_its_familys_format():
    """A base model's GGUF (the embedded Gemma-3-270M) has no template: its family's, not ChatML."""
    from kit.infer.engine import CHATML_TEMPLATE, template_source
    from kit.models.families.gemma import GEMMA_CHAT_TEMPLATE

    assert template_source({"general.architecture": "gemma3"}) == GEMMA_CHAT_TEMPLATE
    assert template_source({"general.architecture": "gemma3", "tokenizer.chat_template": "X"}) == "X"
    assert template_source({"general.architecture": "llama"}) == CHATML_TEMPLATE  # no family format known
