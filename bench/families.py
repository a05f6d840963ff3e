"""GGUF export and verification per model family, beside a plain ``save_pretrained`` of the same model.

Run:  .venv/bin/python bench/families.py [--hidden 512] [--layers 4] [--families llama,qwen2,...]

For each family the kit supports (Llama/SmolLM2, Mistral, Llama-3 with llama3 RoPE scaling,
Qwen2 with biases, Qwen3 with q/k norms, SmolLM3 with NoPE layers; built by ``tests/family_models.py`` from each family's
real config, scaled to ``--hidden``/``--layers``, random weights): the baseline is
``save_pretrained`` (safetensors, float32) of the same model in the same run (fastest of
``--repeats``, like every write here); then the kit's
writer (F16 and F32 GGUF) and the verification llama.cpp runs after an export (load, tokenization
of held-out text against the HF tokenizer, next-token logits against PyTorch on 8 prompts). The
table gives seconds, file sizes and the ratio export/save_pretrained; top-1 and max |Δ| show
each export is the model it claims to be. Tiny vocabularies (~500 tokens): the times are the
layers', not the embedding table's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--families", default="llama,mistral,llama3,qwen2,qwen3,smollm3")
    ap.add_argument("--repeats", type=int, default=3, help="each write is timed this many times; the fastest is kept")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from family_models import TEXTS, build_family_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kit.fsutil import human_bytes
    from kit.gguf.verify import PROBE_TEXTS, compare_logits, compare_tokenization, load_llama
    from kit.gguf.writer import write_gguf

    work = Path(tempfile.mkdtemp(prefix="taalkit-bench-families-"))
    rows = []
    try:
        for family in args.families.split(","):
            src = build_family_model(family, work / f"src-{family}", hidden=args.hidden, layers=args.layers)
            model = AutoModelForCausalLM.from_pretrained(src, local_files_only=True, use_safetensors=True)
            params = sum(p.numel() for p in model.parameters())
            save_s = float("inf")
            for _ in range(args.repeats):  # fastest of n: the machine is shared, page cache varies
                shutil.rmtree(work / f"plain-{family}", ignore_errors=True)
                t = time.perf_counter()
                model.save_pretrained(work / f"plain-{family}", safe_serialization=True)
                save_s = min(save_s, time.perf_counter() - t)
            save_bytes = sum(f.stat().st_size for f in (work / f"plain-{family}").glob("*.safetensors"))
            del model
            row = {"family": family, "params": params, "save_s": save_s, "save_bytes": save_bytes}
            tok = AutoTokenizer.from_pretrained(src, local_files_only=True)
            for out_type in ("F16", "F32"):
                out = work / f"{family}-{out_type}.gguf"
                best = float("inf")
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    write_gguf(src, out, out_type=out_type)
                    best = min(best, time.perf_counter() - t)
                row[f"{out_type}_s"] = best
                row[f"{out_type}_bytes"] = out.stat().st_size
            t = time.perf_counter()
            llm = load_llama(work / f"{family}-F16.gguf", n_ctx=256, logits_all=True)
            toks = compare_tokenization(llm, tok, TEXTS[-6:] + PROBE_TEXTS)
            logits = compare_logits(llm, src, [tok(x)["input_ids"][:64] for x in (TEXTS[-6:] + PROBE_TEXTS[:2])])
            row["verify_s"] = time.perf_counter() - t
            row["tok_ok"] = toks["identical"]
            row["top1"] = f"{logits['top1_equal']}/{logits['prompts']}"
            row["max_diff"] = logits["max_abs_diff"]
            del llm
            rows.append(row)
            print(f"{family}: done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nGGUF export per family (hidden {args.hidden}, {args.layers} layers, random weights, 1 thread, "
          f"fastest of {args.repeats})\n")
    print("| family | parameters | save_pretrained s (MB) | F16 GGUF s (MB) | F16 / save | F32 GGUF s (MB) "
          "| verify s | tokenization | top-1 | max abs diff (F16) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in rows:
        print(f"| {r['family']} | {r['params'] / 1e6:.1f} M | {r['save_s']:.2f} ({human_bytes(r['save_bytes'])}) "
              f"| {r['F16_s']:.2f} ({human_bytes(r['F16_bytes'])}) | {r['F16_s'] / r['save_s']:.2f}x "
              f"| {r['F32_s']:.2f} ({human_bytes(r['F32_bytes'])}) | {r['verify_s']:.2f} "
              f"| {'identical' if r['tok_ok'] else 'DIFFERS'} | {r['top1']} | {r['max_diff']:.1e} |")


if __name__ == "__main__":
    main()
