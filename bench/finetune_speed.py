"""Training tokens/s: the kit's fine-tuning loop beside a plain transformers + peft loop, one run.

Why: the kit's loop adds checkpoints, metrics rows, progress events and cancellation on top of the
bare step. This bench runs both on the same model, the same packed Welsh demo blocks in the same
order, the same LoRA settings, batch, block length, AdamW hyper-parameters and thread count, and
prints a table. The plain loop uses torch's default AdamW; the kit's uses the fused kernel (its own
choice, see kit.finetune.loop.make_optimizer), which computes the same update.

The baseline is measured in the same run, so machine load affects both alike: after one short
untimed warm-up loop, the rounds alternate their order (plain then kit, kit then plain, ...), an
even number of them so each order weighs the same, and the table reports every round, the geometric
mean of the per-round ratios, their median and the best of each. Both loops run on the same thread
count (shown per loop): an earlier version let the tiny-model fixture leave torch on one thread for
the plain loop while the kit used two, which made the kit look 40 % slower.

    .venv/bin/python bench/finetune_speed.py                      # tiny random Llama (seconds)
    .venv/bin/python bench/finetune_speed.py --model smollm2      # the embedded SmolLM2-135M (minutes)
    .venv/bin/python bench/finetune_speed.py --model-dir PATH     # any HF Llama-family folder

Kit tokens/s = trained tokens / wall time of the kit's step loop *including* its per-step metrics
rows and progress events, *excluding* held-out evaluations and checkpoint writes (reported apart).
Plain tokens/s = the same tokens / wall time of the plain loop.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import kit  # noqa: E402,F401  (offline environment, OMP_WAIT_POLICY=PASSIVE)


def build_workspace(root: Path, model: str, model_dir: str | None, rows: int):
    from kit.corpus import import_corpus
    from kit.workspace import Workspace

    ws = Workspace.init(root, source="en", target="cy")
    lines = (REPO / "data" / "cy" / "train_en_cy.tsv").read_text(encoding="utf-8").splitlines()[:rows]
    subset = root / "subset_en_cy.tsv"
    subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_corpus(ws, subset, "parallel")
    target = ws.models_dir / "source"
    if model_dir:
        shutil.copytree(model_dir, target)
    elif model == "smollm2":
        from kit.models import add_model  # the kit's own intake of the embedded GGUF

        row = add_model(ws, "default")
        return ws, row
    else:
        from conftest import build_tiny_llama, train_tiny_bpe

        texts = [line.split("\t")[-1] for line in lines]
        tok = train_tiny_bpe(texts, vocab_size=2000)
        build_tiny_llama(target, tok, hidden=128, layers=4, heads=4, kv_heads=2)
    row_id = ws.db["models"].insert({"name": "bench-source", "role": "source", "path": "models/source"}).last_pk
    return ws, ws.db["models"].get(row_id)


def planned_config(ws, source: dict, steps: int, batch_size: int, seq_len: int) -> dict:
    """The settings the kit's loop will use (its own planner), for the plain loop to copy."""
    from kit.finetune.loop import plan_run

    config = plan_run(ws, source, stage="lora", device="cpu", minutes=None, steps=steps, batch_size=batch_size,
                      seq_len=seq_len, lr=None, eval_every=steps, checkpoint_every=steps, seed=0)
    return config.as_dict()


def plain_loop(ws, config, steps: int) -> dict:
    """transformers + peft + torch AdamW, nothing else: the floor the kit's loop is held to."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kit.finetune.data import BlockSampler, gather_training_text, pack_blocks
    from kit.finetune.loop import LORA_TARGETS, lr_factor

    model_dir = ws.model_dir({"path": config["model_path"]})
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    torch.manual_seed(config["seed"])
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(
        r=config["lora_rank"], lora_alpha=2 * config["lora_rank"], lora_dropout=config["lora_dropout"],
        target_modules=list(LORA_TARGETS), bias="none", task_type="CAUSAL_LM"))
    model.train()
    text = gather_training_text(ws, tok)
    sampler = BlockSampler(pack_blocks(tok, text.documents, config["seq_len"]), config["seed"])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config["lr"], betas=(0.9, 0.95), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, config["warmup_steps"], config["steps"]))
    tokens = 0
    started = time.perf_counter()
    for _ in range(steps):
        batch = sampler.next_batch(config["batch_size"])
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        tokens += batch.numel()
    seconds = time.perf_counter() - started
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds, "loss": float(loss.detach()),
            "threads": torch.get_num_threads()}


def kit_loop(ws, steps: int, batch_size: int, seq_len: int) -> dict:
    from kit.finetune import finetune

    threads = []
    row = finetune(ws, steps=steps, stage="lora", batch_size=batch_size, seq_len=seq_len,
                   eval_every=steps, checkpoint_every=steps, device="cpu",
                   progress=lambda event: threads.append(_torch_threads()))
    s = json.loads(row["extra"])
    seconds = s["loop_seconds"] - s["eval_seconds"] - s["checkpoint_seconds"]
    run = ws.db["runs"].get(s["run_id"])
    last = list(ws.db.query("select loss from run_metrics where run_id = ? and split = 'train' "
                            "order by step desc limit 1", [s["run_id"]]))[0]["loss"]
    return {"tokens": s["train_tokens"], "seconds": seconds, "tokens_per_s": s["train_tokens"] / seconds,
            "loss": last, "checkpoint_s": s["checkpoint_seconds"], "eval_s": s["eval_seconds"],
            "config": json.loads(run["config"]), "peak_rss": s.get("peak_rss_bytes"),
            "threads": max(threads)}


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    ap.add_argument("--model-dir", default=None, help="an HF Llama-family folder instead")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--rows", type=int, default=3000, help="demo pairs to import")
    ap.add_argument("--repeats", type=int, default=6,
                    help="rounds, order alternating; an even count gives each order equal weight")
    ap.add_argument("--threads", type=int, default=None, help="default: physical cores")
    args = ap.parse_args()

    import torch

    from kit.finetune.plan import physical_cores

    threads = args.threads or physical_cores()
    os.environ["TAALKIT_THREADS"] = str(threads)  # the kit's loop reads its thread count from here
    tmp = Path(tempfile.mkdtemp(prefix="taalkit-bench-"))
    try:
        ws, source = build_workspace(tmp / "ws", args.model, args.model_dir, args.rows)
        # Building the tiny model sets torch to one thread (the test fixtures do): set the count only
        # now, so both loops really run on `threads` (each result records what it ran on).
        torch.set_num_threads(threads)
        config = planned_config(ws, source, args.steps, args.batch_size, args.seq_len)
        # One short untimed loop first: the first training steps in a process pay one-off costs
        # (kernel selection, allocator growth) that would otherwise land on whichever loop runs first.
        plain_loop(ws, config, min(5, args.steps))
        rounds = []
        for i in range(args.repeats):  # alternate the order: plain first, then kit first, ...
            order = ("plain", "kit") if i % 2 == 0 else ("kit", "plain")
            result = {}
            for which in order:
                gc.collect()  # the previous loop's model and optimizer go now, not inside the next timing
                result[which] = (plain_loop(ws, config, args.steps) if which == "plain"
                                 else kit_loop(ws, args.steps, args.batch_size, args.seq_len))
            rounds.append((order, result))
        print_table(args, config, threads, rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(args, config: dict, threads: int, rounds: list) -> None:
    """One row per round (both loops back to back, so they met the same machine load), then a summary."""
    import statistics

    import torch

    name = args.model_dir or args.model
    print(f"\nfine-tuning speed, model={name}, stage=lora r={config['lora_rank']}, "
          f"batch={config['batch_size']}x{config['seq_len']}, steps={args.steps}, threads={threads}, "
          f"torch {torch.__version__}")
    print(f"{'round':<7}{'order':<13}{'tokens':>8}{'plain tok/s':>13}{'kit tok/s':>11}{'kit/plain':>11}"
          f"{'plain loss':>12}{'kit loss':>10}")
    ratios = []
    for i, (order, r) in enumerate(rounds, 1):
        ratio = r["kit"]["tokens_per_s"] / r["plain"]["tokens_per_s"]
        ratios.append(ratio)
        print(f"{i:<7}{' then '.join(order):<13}{r['kit']['tokens']:>8}{r['plain']['tokens_per_s']:>13.1f}"
              f"{r['kit']['tokens_per_s']:>11.1f}{ratio:>11.3f}{r['plain']['loss']:>12.4f}{r['kit']['loss']:>10.4f}")
    k = rounds[-1][1]["kit"]
    print(f"(kit, not in its time: held-out evals {k['eval_s']:.2f} s, checkpoint writes "
          f"{k['checkpoint_s']:.2f} s)")
    best = {w: max(r[w]["tokens_per_s"] for _, r in rounds) for w in ("plain", "kit")}
    geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"kit / plain tokens/s: geometric mean of rounds {geomean:.3f}, median {statistics.median(ratios):.3f}, "
          f"best of each {best['kit'] / best['plain']:.3f}")
    if len(ratios) % 2:
        print("(an odd number of rounds: one order ran once more, and the loop that runs second in a round "
              "tends to be a few % slower on a busy machine)")
    same = all(abs(r["plain"]["loss"] - r["kit"]["loss"]) < 1e-4 for _, r in rounds)
    print(f"same computation (equal last losses): {'yes' if same else 'NO'}")
    ran_on = {r[w]["threads"] for _, r in rounds for w in ("plain", "kit")}
    print(f"same thread count in every loop: {'yes' if ran_on == {threads} else f'NO {sorted(ran_on)}'}")


if __name__ == "__main__":
    main()
