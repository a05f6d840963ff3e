"""Every supported byte-level/Llama family through the whole journey, with tiny models of its real shape.

Per family (Llama/SmolLM2, Mistral, Llama-3 with llama3 RoPE scaling, Qwen2 with biases, Qwen3 with
q/k norms and its own head_dim): trans-tokenize to a new tokenizer, fine-tune 2 steps with LoRA
and 2 more in full, export F32/F16 with the kit's writer and compare llama.cpp's next-token logits
with PyTorch's (top-1 equal, max |Δ| bounded), check llama.cpp tokenizes held-out text as the HF
target tokenizer does, quantize to Q8_0 and chat until the family's end-of-turn token; and
``model add`` of a GGUF of each family gives back the logits of the folder it came from.
Gemma has its own test module (kit/models/families/gemma.py is another family module).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from family_models import END_OF_TURN, FAMILIES, TEXTS, build_family_model
from conftest import welsh_pairs_file
from kit.errors import TaalkitError
from kit.gguf.verify import PROBE_TEXTS, compare_logits, compare_tokenization, load_llama
from kit.gguf.writer import write_gguf
from kit.models import add_model, load_model, load_tokenizer
from kit.models.families import family_for_config, get

F32_MAX_DIFF = 2e-3   # float32 in both: only summation order differs
F16_MAX_DIFF = 2e-2   # F16 weights; logits of these tiny models are within ±2


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("TAALKIT_THREADS", "1")


@pytest.fixture(scope="module")
def family_dirs(tmp_path_factory):
    """One tiny model folder per family (the Mistral one is not named 'mistral': see gguf_roundtrip)."""
    root = tmp_path_factory.mktemp("families")
    return {f: build_family_model(f, root / f"tiny-{f}", seed=i) for i, f in enumerate(FAMILIES)}


def _prompt_ids(tok, texts):
    return [tok(t)["input_ids"][:48] for t in texts if t.strip()]


def _logits_report(gguf_path, model_dir, tok, texts):
    llm = load_llama(gguf_path, n_ctx=128, logits_all=True)
    report = compare_logits(llm, model_dir, _prompt_ids(tok, texts))
    del llm
    return report


@pytest.mark.parametrize("family", FAMILIES)
def test_the_whole_journey(family, family_dirs, tmp_path):
    """model add -> tokenizer -> trans-tokenize -> LoRA 2 steps -> full 2 steps -> F32/F16/Q8_0 -> chat."""
    from kit.corpus import import_corpus
    from kit.finetune import finetune
    from kit.gguf import export_model, heldout_texts
    from kit.tokenizer import train_tokenizer
    from kit.transtok import transtokenize
    from kit.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws", source="en", target="cy")
    source = add_model(ws, str(family_dirs[family]))
    assert source["architecture"] == json.loads((family_dirs[family] / "config.json").read_text())["architectures"][0]
    import_corpus(ws, welsh_pairs_file(tmp_path), heldout_fraction=0.2)
    tok_row = train_tokenizer(ws, vocab_size=500)
    expected_kind = "spm" if family == "mistral" else "bpe-bytelevel"
    assert json.loads(tok_row["extra"])["kind"] == expected_kind
    transtokenize(ws, method="fvt", device="cpu")
    heldout = heldout_texts(ws)
    assert len(heldout) >= 10
    small = dict(batch_size=2, seq_len=32, device="cpu", eval_every=2, checkpoint_every=2)

    lora = finetune(ws, steps=2, stage="lora", **small)
    lora_dir = ws.model_dir(lora)
    target = load_tokenizer(lora_dir)
    assert len(target) < 600  # the new vocabulary, not the source's
    f32 = tmp_path / "lora-F32.gguf"
    info = write_gguf(lora_dir, f32, out_type="F32")
    assert info["family"] == family_for_config(json.loads((lora_dir / "config.json").read_text())).name
    report = _logits_report(f32, lora_dir, target, heldout[:6])
    print(f"\n{family} LoRA F32: max |Δ| {report['max_abs_diff']:.2e} (logits up to {report['max_abs_logit']:.2f})")
    assert report["top1_all_equal"] and report["max_abs_diff"] < F32_MAX_DIFF

    full = finetune(ws, steps=2, stage="full", **small)
    assert full["parent_id"] == lora["id"] or full["id"] != lora["id"]
    full_dir = ws.model_dir(full)
    q8 = export_model(ws, quant="Q8_0")
    v = q8["verification"]
    # llama.cpp tokenizes the held-out text (and a chat turn with its special tokens) like HF does.
    assert v["tokenization"]["identical"], v["tokenization"]["first_mismatch"]
    assert v["tokenization"]["texts"] >= len(heldout)
    f16 = ws.gguf_dir / f"{full['name']}-F16.gguf"
    report16 = _logits_report(f16, full_dir, load_tokenizer(full_dir), heldout[:6] + PROBE_TEXTS[:2])
    print(f"{family} full F16: max |Δ| {report16['max_abs_diff']:.2e}; Q8_0 KL {v['divergence']['kl_mean']:.2e}")
    assert report16["top1_all_equal"] and report16["max_abs_diff"] < F16_MAX_DIFF
    assert v["divergence"]["top1_agreement"] > 0.8

    # The Q8_0 file chats, and stops at the family's end-of-turn token.
    _chat_stops_at_end_of_turn(ws.root / q8["path"], load_tokenizer(full_dir), family)
    ws.close()


def _chat_stops_at_end_of_turn(path, tok, family):
    """Bias the end-of-turn token so the tiny random model says it after a few tokens: llama.cpp must
    stop there (finish_reason 'stop'), not run on to the token limit."""
    from gguf import GGUFReader

    eot = tok.convert_tokens_to_ids(END_OF_TURN[family])
    fields = GGUFReader(str(path)).fields
    assert int(fields["tokenizer.ggml.eot_token_id"].contents()) == eot
    assert "chat_template" in " ".join(fields)  # the source's template survived
    llm = load_llama(path, n_ctx=256)
    with_bias = llm.create_chat_completion(messages=[{"role": "user", "content": "Bore da"}], max_tokens=24,
                                           temperature=0.0, logit_bias={eot: 30.0})
    assert with_bias["choices"][0]["finish_reason"] == "stop", with_bias
    assert with_bias["usage"]["completion_tokens"] <= 2
    plain = llm.create_chat_completion(messages=[{"role": "user", "content": "Bore da"}], max_tokens=8,
                                       temperature=0.0)
    assert plain["choices"][0]["finish_reason"] in ("length", "stop")
    del llm


@pytest.mark.parametrize("family", FAMILIES)
def test_model_add_of_a_family_gguf_gives_back_the_folders_logits(family, family_dirs, tmp_path, workspace):
    import torch

    folder = family_dirs[family]
    gguf_path = tmp_path / f"{family}-F32.gguf"
    write_gguf(folder, gguf_path, out_type="F32")
    row = add_model(workspace, str(gguf_path), name=f"from-gguf-{family}")
    assert row["method"] == "gguf-dequantize"
    back = workspace.model_dir(row)
    tok, orig = load_tokenizer(back), load_tokenizer(folder)
    assert len(tok) == len(orig)
    for text in TEXTS[-6:] + PROBE_TEXTS:
        assert tok(text)["input_ids"] == orig(text)["input_ids"], text
    assert tok.eos_token == orig.eos_token == END_OF_TURN[family]
    ids = torch.tensor([orig(TEXTS[-3])["input_ids"]])
    with torch.no_grad():
        a, b = load_model(back)(ids).logits, load_model(folder)(ids).logits
    diff = float((a - b).abs().max())
    print(f"\n{family}: GGUF -> model add -> max |Δ| {diff:.2e}")
    assert diff < 1e-5


def test_permuting_a_neox_family_or_dropping_rope_freqs_would_be_caught(family_dirs, tmp_path, monkeypatch):
    """The checks above can fail: q/k permuted for Qwen2, or Llama-3 written without rope_freqs."""
    qwen = family_dirs["qwen2"]
    monkeypatch.setattr(get("qwen2"), "rope_permute", True)
    write_gguf(qwen, tmp_path / "wrong.gguf", out_type="F32")
    tok = load_tokenizer(qwen)
    texts = [t * 3 for t in TEXTS[-6:]]  # longer prompts: RoPE mistakes grow with the position
    monkeypatch.undo()
    write_gguf(qwen, tmp_path / "right.gguf", out_type="F32")
    right = _logits_report(tmp_path / "right.gguf", qwen, tok, texts)
    wrong = _logits_report(tmp_path / "wrong.gguf", qwen, tok, texts)
    assert wrong["max_abs_diff"] > 20 * right["max_abs_diff"]

    llama3 = family_dirs["llama3"]
    monkeypatch.setattr(get("llama"), "extra_tensors", lambda shape: [])
    write_gguf(llama3, tmp_path / "no-freqs.gguf", out_type="F32")
    tok = load_tokenizer(llama3)
    missing = _logits_report(tmp_path / "no-freqs.gguf", llama3, tok, texts)
    monkeypatch.undo()
    write_gguf(llama3, tmp_path / "freqs.gguf", out_type="F32")
    right = _logits_report(tmp_path / "freqs.gguf", llama3, tok, texts)
    assert missing["max_abs_diff"] > 20 * right["max_abs_diff"]


def test_llama3_scaling_is_recognised_from_rope_freqs_alone():
    """A Llama-3.2 GGUF from llama.cpp's converter has only rope_freqs: intake finds factor 32 from it."""
    from kit.models.families.llama import llama3_rope_factors, llama3_scaling_from_gguf

    real = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192}
    factors = llama3_rope_factors(64, 500000.0, real)
    meta = {"general.architecture": "llama", "llama.rope.freq_base": 500000.0, "_rope_freqs": factors.tolist()}
    assert llama3_scaling_from_gguf(meta, {"rope_freqs.weight": [32]}) == real
    meta["_rope_freqs"] = (factors * 1.5).tolist()
    assert llama3_scaling_from_gguf(meta, {"rope_freqs.weight": [32]}) is None


def test_family_hparams_and_tensors_in_the_gguf(family_dirs, tmp_path):
    from gguf import GGUFReader

    expect = {"llama": ("llama", "smollm"), "mistral": ("llama", None), "llama3": ("llama", "llama-bpe"),
              "qwen2": ("qwen2", "qwen2"), "qwen3": ("qwen3", "qwen2")}
    for family, (arch, pre) in expect.items():
        out = tmp_path / f"{family}.gguf"
        write_gguf(family_dirs[family], out, out_type="F16")
        reader = GGUFReader(str(out))
        fields = reader.fields
        names = {t.name for t in reader.tensors}
        assert fields["general.architecture"].contents() == arch
        written = fields["tokenizer.ggml.pre"].contents() if "tokenizer.ggml.pre" in fields else None
        assert written == pre or (pre is None and written == "default")  # SPM: no split regex
        assert ("blk.0.attn_q.bias" in names) is (family == "qwen2")
        assert ("blk.1.attn_k_norm.weight" in names) is (family == "qwen3")
        assert ("rope_freqs.weight" in names) is (family == "llama3")
        if family == "qwen3":
            assert fields["qwen3.attention.key_length"].contents() == 32  # head_dim from the config, not 64/4
    freqs = next(t for t in GGUFReader(str(tmp_path / "llama3.gguf")).tensors if t.name == "rope_freqs.weight")
    values = np.asarray(freqs.data, dtype=np.float32)
    assert values.shape == (8,) and values[0] == 1.0 and values[-1] == pytest.approx(32.0)  # 1 .. factor


def test_what_the_kit_cannot_do_is_refused_at_model_add_naming_the_family(family_dirs, tmp_path, workspace):
    import shutil

    cases = {
        "qwen2": ({"use_sliding_window": True}, "Qwen2 / Qwen2.5: sliding-window attention"),
        "qwen3": ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}},
                  "Qwen3: RoPE scaling 'yarn' is not supported yet"),
        "llama": ({"attention_bias": True}, "Llama / Mistral: Llama variants with attention/MLP biases"),
    }
    for family, (change, message) in cases.items():
        folder = tmp_path / f"bad-{family}"
        shutil.copytree(family_dirs[family], folder)
        cfg = json.loads((folder / "config.json").read_text())
        cfg.update(change)
        (folder / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(TaalkitError, match=message) as err:
            add_model(workspace, str(folder), name=f"bad-{family}")
        assert "supported: Llama / Mistral" in str(err.value) and "Qwen3 (Qwen3ForCausalLM)" in str(err.value)
    assert workspace.db.execute("select count(*) from models").fetchone()[0] == 0


def test_smollm3_exports_with_nope_layers_and_its_gguf_is_refused_at_model_add(tmp_path, workspace):
    """SmolLM3 (cheap to add: Llama layout, NoPE every 4th layer): F32 export matches torch; its GGUF
    cannot be read back by transformers, so model add says so in one line."""
    folder = build_family_model("smollm3", tmp_path / "tiny-smollm3")
    out = tmp_path / "smollm3.gguf"
    assert write_gguf(folder, out, out_type="F32")["eot_id"] == load_tokenizer(folder).convert_tokens_to_ids("<|im_end|>")
    report = _logits_report(out, folder, load_tokenizer(folder), [t * 2 for t in TEXTS[-6:]])
    assert report["top1_all_equal"] and report["max_abs_diff"] < F32_MAX_DIFF
    with pytest.raises(TaalkitError, match="SmolLM3 GGUF files cannot be added yet"):
        add_model(workspace, str(out))
    cfg = json.loads((folder / "config.json").read_text())
    cfg["no_rope_layers"] = [1, 0, 1, 0]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(TaalkitError, match="no_rope_layers other than every 4th"):
        add_model(workspace, str(folder))


def test_one_shape_record_for_every_stage(family_dirs):
    """ModelShape from the config agrees with the weights: parameters, head_dim, LoRA targets present."""
    from kit.finetune.loop import model_shape
    from kit.models.source import inspect_source

    for family, folder in family_dirs.items():
        measured = inspect_source(str(folder)).shape
        from_config = model_shape(folder)
        assert from_config.parameters == measured.parameters, family
        assert from_config.head_dim == (32 if family == "qwen3" else 16)
        model = load_model(folder)
        present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        assert set(get(measured.family).lora_targets) <= present
