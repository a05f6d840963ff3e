"""What trans-tokenizing Gemma-3-270M buys in size and speed (issue 19, lever 1).

    .venv/bin/python bench/gemma_shrink.py                    # prepares a Welsh workspace first (~10 min)
    .venv/bin/python bench/gemma_shrink.py --workspace /tmp/tq-final/cy-gemma3-270m-base

Gemma-3-270M spends most of its parameters on a 262,144-token vocabulary; the trans-tokenized
model keeps the same transformer with the target tokenizer's few thousand tokens. This bench
measures, in one run and on the same machine, both models of one prepared workspace (the source
model as added, and ``transtok-transtok``):

- parameters (from the safetensors headers) and the Q8_0 GGUF size the kit exports;
- Welsh tokens per character on the held-out text (fewer tokens = less work per sentence);
- llama.cpp prompt processing and decode speed (tokens/s, and characters/s for prompt processing),
  alternating the two models so background load hits both alike, medians of ``--repeats``;
- one training step in torch (forward + backward, only the embeddings trainable, as the kit's first
  stage trains them) on a batch of the same shape, and the Welsh characters per second that makes.

Ratios are transtok / source; >1 means the trans-tokenized model is faster.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def parameters(folder: Path) -> int:
    """The model's own weights (``model*.safetensors``): a trans-tokenized folder also keeps the source
    tables beside them (kit.transtok.init.SOURCE_EMBEDDINGS), which the model does not run."""
    from kit.models.source import element_count, safetensors_shapes

    return element_count(safetensors_shapes(sorted(folder.glob("model*.safetensors"))).values())


def held_out(lang: str, limit: int) -> list[str]:
    from kit.demo import demo_data
    from kit.evaluate import read_test_pairs

    return [pair[1] for pair in read_test_pairs(demo_data(lang).test, limit=limit)]


def llama_speed(gguf: Path, texts: list[str], decode_tokens: int) -> dict:
    """Prompt processing over ``texts`` (one eval per line) and greedy decoding after the first line."""
    from kit.infer.engine import load_llama

    llm = load_llama(gguf, n_ctx=1024)
    tokens = chars = 0
    started = time.perf_counter()
    for text in texts:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        llm.reset()
        llm.eval(ids)
        tokens += len(ids)
        chars += len(text)
    prompt_s = time.perf_counter() - started
    llm.reset()
    llm.eval(llm.tokenize(texts[0].encode("utf-8"), add_bos=True, special=False))
    started = time.perf_counter()
    for _ in range(decode_tokens):
        token = llm.sample(temp=0.0)
        llm.eval([token])
    decode_s = time.perf_counter() - started
    del llm
    return {"prompt_tok_s": tokens / prompt_s, "prompt_char_s": chars / prompt_s, "decode_tok_s": decode_tokens / decode_s}


def train_step_seconds(folder: Path, batch: int, block: int, repeats: int) -> float:
    """Median seconds of one forward + backward with only the input/output embeddings trainable."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True, dtype=torch.float32,
                                                 local_files_only=True)
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    model.get_input_embeddings().weight.requires_grad_(True)
    model.get_output_embeddings().weight.requires_grad_(True)
    vocab = model.get_input_embeddings().weight.shape[0]
    ids = torch.randint(10, vocab, (batch, block))
    times = []
    for _ in range(repeats + 1):  # the first is warm-up
        started = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - started)
    del model
    return statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, help="a workspace prepared by bench/translation_quality.py "
                                                   "--base gemma3-270m (default: prepare one)")
    ap.add_argument("--lang", default="cy")
    ap.add_argument("--lines", type=int, default=40, help="held-out lines for tokens/char and prompt speed")
    ap.add_argument("--decode-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--block", type=int, default=256)
    args = ap.parse_args()

    from kit.workspace import Workspace
    from translation_quality import clone, prepare_base

    if args.workspace is None:
        base = Path(tempfile.gettempdir()) / f"taalkit-bench-gemma-shrink-{args.lang}"
        prepare_base(base, args.lang, 8000, "gemma3-270m")
    else:
        base = args.workspace
    work = Path(tempfile.mkdtemp(prefix="gemma-shrink-"))
    clone(base, work / "ws")  # exports are written into the copy, never into the prepared workspace
    ws = Workspace.open(work / "ws")
    from kit.gguf import export_model

    texts = held_out(args.lang, args.lines)
    rows = {}
    for name in ("source", "transtok-transtok"):
        row = ws.model(name)
        folder = ws.model_dir(row)
        export = export_model(ws, model=row, quant="Q8_0", verify=False)
        gguf = ws.model_dir({"path": export["path"]})
        rows[name] = {"params": parameters(folder), "gguf_mb": gguf.stat().st_size / 2**20, "gguf": gguf,
                      "folder": folder, "speed": [], "train": []}
    tok = {name: None for name in rows}
    from transformers import AutoTokenizer

    for name, r in rows.items():
        tok[name] = AutoTokenizer.from_pretrained(r["folder"], local_files_only=True)
        n_tokens = sum(len(tok[name](t, add_special_tokens=False)["input_ids"]) for t in texts)
        r["tok_per_char"] = n_tokens / sum(len(t) for t in texts)
    order = list(rows)
    for i in range(args.repeats):  # alternate: A B, B A, A B ...
        for name in (order if i % 2 == 0 else order[::-1]):
            rows[name]["speed"].append(llama_speed(rows[name]["gguf"], texts, args.decode_tokens))
    for name, r in rows.items():
        r["step_s"] = train_step_seconds(r["folder"], args.batch, args.block, args.repeats)
    ws.close()

    def med(name, key):
        return statistics.median(s[key] for s in rows[name]["speed"])

    src, new = rows["source"], rows["transtok-transtok"]
    print(f"Gemma-3-270M vs its trans-tokenized {args.lang} model; load average {os.getloadavg()[0]:.1f}; "
          f"{len(texts)} held-out lines, {args.repeats} alternating repeats, medians")
    print("| measure | source | trans-tokenized | ratio (transtok/source) |")
    print("|---|---|---|---|")
    print(f"| parameters | {src['params'] / 1e6:.1f}M | {new['params'] / 1e6:.1f}M | "
          f"{new['params'] / src['params']:.2f} |")
    print(f"| Q8_0 GGUF size | {src['gguf_mb']:.0f} MiB | {new['gguf_mb']:.0f} MiB | "
          f"{new['gguf_mb'] / src['gguf_mb']:.2f} |")
    print(f"| Welsh tokens per character | {src['tok_per_char']:.3f} | {new['tok_per_char']:.3f} | "
          f"{new['tok_per_char'] / src['tok_per_char']:.2f} |")
    for key, label in (("prompt_tok_s", "llama.cpp prompt tokens/s"), ("prompt_char_s", "llama.cpp prompt chars/s"),
                       ("decode_tok_s", "llama-cpp-python greedy decode tokens/s (sampling over the vocabulary in Python)")):
        a, b = med("source", key), med("transtok-transtok", key)
        print(f"| {label} | {a:.0f} | {b:.0f} | {b / a:.2f} |")
    a, b = src["step_s"], new["step_s"]
    print(f"| training step s (batch {args.batch}x{args.block}, embeddings trainable) | {a:.2f} | {b:.2f} | "
          f"{a / b:.2f} (speed-up) |")
    chars_a = args.batch * args.block / src["tok_per_char"] / a
    chars_b = args.batch * args.block / new["tok_per_char"] / b
    print(f"| Welsh characters trained per second | {chars_a:.0f} | {chars_b:.0f} | {chars_b / chars_a:.2f} |")


if __name__ == "__main__":
    main()
