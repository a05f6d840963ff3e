"""Trans-tokenization and evaluation on an accelerator, checked on the CPU through the same code path.

A GPU run differs from the CPU default in two ways only: the embedding averages are a torch sparse
product on the device (every device now, CPU included), and forward passes run under bf16 autocast
where the device has bf16. ``precision="bf16"`` on the CPU takes exactly that path, so these tests
cover the plumbing without a GPU; the refusals are what a user without the engine or device sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import TINY_ENGLISH, build_tiny_llama, train_tiny_bpe

from kit.cli import main
from kit.finetune import finetune
from kit.finetune.plan import compute_dtype
from kit.errors import TaalkitError
from kit.transtok import load_mapping, transtokenize
from kit.workspace import Workspace

from test_finetune_data import finetune_workspace

WELSH = ["Mae'r ffenestr ar gau.", "Mae ci yn y parc.", "Agorwch y ffeil a chadw hi.", "Bore da, athro.",
         "Dwr, bara a chaws.", "Anfonwch y neges at eich ffrind."] * 6
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: nothing to refuse")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    source_tok = train_tiny_bpe(TINY_ENGLISH, vocab_size=420, out_dir=tmp_path_factory.mktemp("src_tok"))
    source = build_tiny_llama(tmp_path_factory.mktemp("src"), source_tok, tied=False, seed=3)
    target = tmp_path_factory.mktemp("tgt_tok")
    train_tiny_bpe(WELSH, vocab_size=300, out_dir=target)
    return source, target


def _workspace(root: Path, source: Path, target: Path) -> Workspace:
    ws = Workspace.init(root, source="en", target="cy")
    ws.db["models"].insert({"name": "source", "role": "source", "path": str(source)})
    ws.db["tokenizers"].insert({"name": "cy-bpe", "path": str(target), "vocab_size": 300})
    cid = ws.db["corpora"].insert({"name": "cy", "kind": "parallel"}).last_pk
    pairs = list(zip(TINY_ENGLISH[:6], WELSH[:6]))
    ws.db["segments"].insert_all(
        [{"corpus_id": cid, "kind": "parallel", "source_text": en, "target_text": cy, "line": i,
          "split": "heldout" if i % 3 == 0 else "train"} for i, (en, cy) in enumerate(pairs * 3)])
    return ws


def _tables(folder: Path):
    from safetensors.torch import load_file

    weights = load_file(str(folder / "model.safetensors"))
    return weights["model.embed_tokens.weight"], weights["lm_head.weight"]


def test_the_accelerator_path_on_cpu_gives_the_fp32_results(tmp_path, inputs):
    source, target = inputs
    ws = _workspace(tmp_path / "ws", source, target)
    fast = transtokenize(ws, device="cpu", precision="bf16")  # the path a bf16 GPU takes
    stats = json.loads(ws.db.execute("select stats from mappings order by id desc limit 1").fetchone()[0])
    assert stats["device"] == "cpu" and stats["precision"] == "bfloat16"
    embed_bf16, head_bf16 = _tables(ws.model_dir(fast))

    exact = transtokenize(ws, device="cpu", precision="fp32")
    embed, head = _tables(ws.model_dir(exact))
    # The embedding averages are fp32 on every path: the same numbers.
    torch.testing.assert_close(embed_bf16, embed, rtol=0, atol=0)
    torch.testing.assert_close(head_bf16, head, rtol=0, atol=0)
    # ... and they are W · source table (scipy's product as the reference), wherever W had evidence.
    from safetensors.torch import load_file

    src = load_file(str(source / "model.safetensors"))["model.embed_tokens.weight"].numpy()
    mapping = load_mapping(ws)
    rows = np.setdiff1d(np.arange(mapping.weights.shape[0]), np.concatenate([mapping.rows("mean"),
                                                                             mapping.rows("random")]))
    reference = np.asarray(mapping.weights.astype(np.float32) @ src)[rows]
    np.testing.assert_allclose(embed.numpy()[rows], reference, rtol=1e-5, atol=1e-6)
    # Held-out bits/char in bf16 autocast: within bf16's rounding of the fp32 figure.
    assert fast["heldout_bits_per_char"] == pytest.approx(exact["heldout_bits_per_char"], abs=0.05)
    assert fast["heldout_bits_per_char"] != exact["heldout_bits_per_char"]  # it did run in bf16


def test_finetune_in_bf16_autocast_on_cpu_tracks_fp32(tmp_path, tiny_llama_dir, monkeypatch):
    monkeypatch.setenv("TAALKIT_THREADS", "1")
    rows = {}
    for precision in ("bf16", "fp32"):
        ws = finetune_workspace(Workspace.init(tmp_path / precision, source="en", target="cy"), tiny_llama_dir)
        row = finetune(ws, steps=3, stage="full", batch_size=2, seq_len=32, eval_every=3, device="cpu",
                       precision=precision)
        extra = json.loads(row["extra"])
        losses = [r[0] for r in ws.db.execute("select loss from run_metrics where split = 'train' order by step")]
        rows[precision] = (extra["bpc_start"], extra["bpc_end"], losses)
    (b0, b1, bl), (f0, f1, fl) = rows["bf16"], rows["fp32"]
    assert b0 == pytest.approx(f0, abs=0.05) and b1 == pytest.approx(f1, abs=0.05)
    assert bl == pytest.approx(fl, abs=0.05)
    assert b0 != f0


@NO_GPU
def test_cuda_without_a_gpu_is_refused_naming_what_to_install(tmp_path, inputs, tiny_llama_dir):
    source, target = inputs
    ws = _workspace(tmp_path / "ws", source, target)
    runner = CliRunner()
    for args in (["transtokenize", "--device", "cuda"], ["finetune", "--device", "cuda", "--steps", "1"]):
        result = runner.invoke(main, ["-w", str(ws.root), *args])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.output, result.output
        assert "sees no CUDA GPU" in lines[0] and "install a CUDA build of torch" in lines[0], lines[0]
    assert ws.db.execute("select count(*) from models where role != 'source'").fetchone()[0] == 0
    with pytest.raises(TaalkitError, match="unknown precision"):
        compute_dtype("cpu", "fp16")


def test_several_processes_without_accelerate_is_refused_naming_what_to_install(tmp_path, tiny_llama_dir):
    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    # A real interpreter in which accelerate cannot be imported (None in sys.modules is exactly
    # what the import system reports for a package that is not installed).
    code = "import sys; sys.modules['accelerate'] = None; from kit.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code, "-w", str(ws.root), "finetune", "--steps", "1",
                           "--processes", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "needs Hugging Face accelerate" in lines[0] and "pip install 'taalkit[train]'" in lines[0]
    assert ws.db.execute("select count(*) from runs").fetchone()[0] == 0
