"""The prepared GPU run of issue 17: the real SmolLM2 on the Welsh demo data, on CUDA, in one go.

For a session that is lent a machine with an NVIDIA GPU (and a Python with a CUDA build of torch and
``taalkit[train]`` installed: the device machine cannot reach a registry)::

    python bench/gpu_check.py --check              # what this machine has; the plan; no work (any machine)
    python bench/gpu_check.py --minutes 1          # everything; fits one 10-minute device call (estimate)
    python bench/gpu_check.py --minutes 3 --out $OUT/gpu_check.json   # longer fine-tunes
    python bench/gpu_check.py --base gemma3-270m --minutes 1            # the embedded Gemma-3-270M instead
    python bench/gpu_check.py --device cpu --minutes 0.2 --rows 300 --plain-steps 2   # a CPU shakedown

What it runs, each step a real ``python -m kit.cli`` process in a fresh workspace (numbers read back
from the workspace's database, not from printed text):

1. ``init``, ``dict import`` (FreeDict cy⇄en), ``corpus import`` (the first ``--rows`` Welsh pairs),
   ``model add default`` (SmolLM2-135M-Instruct from the embedded GGUF; ``--base gemma3-270m`` for
   Gemma-3-270M), ``tokenizer train``;
2. ``transtokenize`` three times: ``--device cpu --precision fp32`` (the reference), ``--device cuda
   --precision fp32`` and ``--device cuda`` (bf16 scoring): held-out bits/char of each, the largest
   difference of the embedding tables against the CPU's, wall time;
3. ``finetune --device cuda --stage full`` and ``--stage lora`` for ``--minutes`` each (bf16 autocast,
   fp32 master weights): bits/char at step 0 and at the end, steps, training tokens/s;
4. a plain transformers loop (same blocks, batch, block length, fused AdamW, bf16 autocast, full
   fine-tune) for ``--plain-steps`` steps: tokens/s beside the kit's;
5. ``export --quant F16`` and ``--quant Q8_0`` of the full fine-tune with the kit's own checks
   (llama.cpp loads it, tokenization identical to the HF tokenizer; F16: next-token top-1 and
   largest logit difference against torch; Q8_0: top-1 agreement and KL against the F16).

It prints a table as it goes (so a run cut short still shows what it measured) and writes every
figure as JSON to ``--out`` (default ``$OUT/gpu_check.json`` when ``$OUT`` is set). The same checks
pass on the CPU path in the test suite (tests/test_transtok_device.py, test_finetune_*).
Exit status: 0 when every check passed, 1 when one failed, 2 for a usage problem (no GPU, no kit).

Not yet run on a GPU (none was lent to the session that wrote it). Its CPU shakedown (the last command
above, on the loaded 2-core machine) ran every step: setup 87 s, each trans-tokenization 30-33 s,
each 0.2-minute fine-tune 44-45 s of wall time, export F16 + Q8_0 111 s. On a GPU machine the
alignment and the exports stay on its CPU cores; with the 14.6k pairs, budget about 3 minutes for
setup and trans-tokenization, ``2 x (--minutes + 0.5)`` for the fine-tunes and 2 for the exports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the kit's CPU runs (before torch is imported)
REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "cy"
STEPS = ("setup", "transtok cpu fp32", "transtok cuda fp32", "transtok cuda", "finetune full", "finetune lora",
         "plain loop", "export")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="print the machine, the plan and exit (no work)")
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a shakedown")
    ap.add_argument("--minutes", type=float, default=1.5, help="budget of each fine-tune (default 1.5)")
    ap.add_argument("--base", choices=["default", "gemma3-270m"], default="default",
                    help="the embedded base model: SmolLM2-135M-Instruct (default) or Gemma-3-270M")
    ap.add_argument("--rows", type=int, default=0, help="only the first N training pairs (default: all 14.6k)")
    ap.add_argument("--plain-steps", type=int, default=30, help="steps of the plain transformers loop")
    ap.add_argument("--skip", action="append", default=[], choices=STEPS, metavar="STEP",
                    help=f"leave a step out (repeatable): {', '.join(STEPS)}")
    ap.add_argument("--workspace", type=Path, default=None, help="where to build it (default: a temp folder)")
    ap.add_argument("--out", type=Path, default=None, help="JSON results (default: $OUT/gpu_check.json)")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.rows < 0 or args.plain_steps < 1:
        ap.error("--minutes must be > 0, --rows >= 0, --plain-steps >= 1")
    if args.out is None and os.environ.get("OUT"):
        args.out = Path(os.environ["OUT"]) / "gpu_check.json"
    return args


def machine() -> dict:
    """What this Python and machine have; never raises."""
    info: dict = {"python": sys.version.split()[0], "executable": sys.executable}
    for name in ("torch", "transformers", "accelerate", "peft", "llama_cpp", "kit"):
        try:
            module = __import__(name)
            info[name] = getattr(module, "__version__", "present")
        except Exception as err:  # noqa: BLE001 - report whatever went wrong
            info[name] = f"MISSING ({type(err).__name__}: {err})"
    try:
        import torch

        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpus"] = torch.cuda.device_count()
            info["bf16"] = torch.cuda.is_bf16_supported()
            info["gpu_memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    except Exception:  # noqa: BLE001
        info["cuda"] = False
    return info


class Bench:
    def __init__(self, args: argparse.Namespace, ws: Path) -> None:
        self.args, self.ws = args, ws
        self.results: dict = {"machine": machine(), "settings": {k: str(v) for k, v in vars(args).items()},
                              "steps": {}}
        self.failed: list[str] = []

    # -- running the kit ------------------------------------------------------------------
    def kit(self, *words: str, timeout: float = 1800) -> tuple[float, str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
        cmd = [sys.executable, "-m", "kit.cli", "-w", str(self.ws), *words]
        print("  $ taalkit " + " ".join(words), flush=True)
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"taalkit {' '.join(words)} exited {done.returncode}: " + " | ".join(tail))
        return seconds, done.stdout

    def db(self, sql: str, args=()):
        with sqlite3.connect(self.ws / "taalkit.db") as conn:
            return conn.execute(sql, args).fetchall()

    def step(self, name: str, fn) -> None:
        if name in self.args.skip:
            print(f"[{name}] skipped", flush=True)
            return
        print(f"[{name}]", flush=True)
        try:
            row = fn()
        except Exception as err:  # noqa: BLE001 - one failed step must not hide the others' figures
            row = {"ok": False, "error": str(err)[:600]}
        self.results["steps"][name] = row
        if not row.get("ok", True):
            self.failed.append(name)
        print("  " + ", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        self.save()

    def save(self) -> None:
        if self.args.out:
            self.args.out.parent.mkdir(parents=True, exist_ok=True)
            self.args.out.write_text(json.dumps(self.results, indent=1), encoding="utf-8")

    # -- the steps --------------------------------------------------------------------------
    def setup(self) -> dict:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kit.cli", "init", str(self.ws), "--source", "en", "--target", "cy"],
                       check=True, capture_output=True, cwd=REPO)
        self.kit("dict", "import", *map(str, sorted((DATA / "dictd").glob("*.index"))))
        pairs = DATA / "train_en_cy.tsv"
        if self.args.rows:
            lines = pairs.read_text(encoding="utf-8").splitlines()[: self.args.rows]
            pairs = self.ws.parent / "train_en_cy.tsv"
            pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.kit("corpus", "import", str(pairs), "--kind", "parallel")
        self.kit("model", "add", self.args.base)
        self.kit("tokenizer", "train")
        (segments,), = self.db("select count(*) from segments")
        return {"ok": True, "segments": segments, "seconds": round(time.perf_counter() - t0, 1)}

    def transtok(self, device: str, precision: str, reference: bool = False) -> dict:
        seconds, _ = self.kit("transtokenize", "--device", device, "--precision", precision)
        (stats,), = self.db("select stats from mappings order by id desc limit 1")
        stats = json.loads(stats)
        tables = self.tables()
        row = {"ok": True, "bits_per_char": stats.get("heldout_bits_per_char"), "device": stats.get("device"),
               "precision": stats.get("precision"), "seconds": round(seconds, 1)}
        if reference:
            self.reference = (row["bits_per_char"], tables)
        elif getattr(self, "reference", None):
            bpc, ref = self.reference
            row["max_abs_diff_vs_cpu"] = float(max((tables[k] - ref[k]).abs().max() for k in ref))
            row["bpc_diff_vs_cpu"] = round(abs(row["bits_per_char"] - bpc), 4)
            tol = 1e-3 if precision == "fp32" else 0.05
            row["ok"] = row["max_abs_diff_vs_cpu"] < 1e-4 and row["bpc_diff_vs_cpu"] <= tol
        return row

    def tables(self) -> dict:
        from safetensors.torch import load_file

        weights = load_file(str(self.ws / "models" / "transtok-transtok" / "model.safetensors"))
        return {k: v.float() for k, v in weights.items() if "embed" in k or "lm_head" in k}

    def finetune(self, stage: str) -> dict:
        seconds, _ = self.kit("finetune", "--model", "transtok-transtok", "--device", self.args.device,
                              "--stage", stage, "--minutes", str(self.args.minutes))
        (run_id, config, summary), = self.db("select id, config, summary from runs order by id desc limit 1")
        s, c = json.loads(summary), json.loads(config)
        self.last_run = run_id
        ok = s.get("bpc_end") is not None and s["bpc_end"] < s["bpc_start"]
        return {"ok": ok, "run": run_id, "batch": f"{c['batch_size']}x{c['seq_len']}", "steps": s.get("steps"),
                "bpc_start": round(s["bpc_start"], 4), "bpc_end": round(s["bpc_end"], 4),
                "tokens_per_s": round(s.get("tokens_per_s") or 0), "wall_s": round(seconds, 1)}

    def plain_loop(self) -> dict:
        """Full fine-tune, bf16 autocast, fused AdamW: the bare step the kit's loop wraps."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        sys.path.insert(0, str(REPO))
        from kit.finetune.data import gather_training_text, pack_blocks
        from kit.models.memory import default_batch
        from kit.workspace import Workspace

        from kit.finetune.loop import set_threads

        device = self.args.device
        set_threads(device)  # CPU shakedown: the kit's thread count, so the two loops compare
        batch, seq_len = default_batch(device)
        folder = self.ws / "models" / "transtok-transtok"
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        ws = Workspace.open(self.ws)
        blocks = pack_blocks(tok, gather_training_text(ws, tok).documents, seq_len)
        ws.close()
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32).to(device)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.95), fused=True)
        cast = torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else torch.autocast(
            "cpu", enabled=False)

        def one(i: int) -> None:
            rows = blocks[(i * batch) % max(1, len(blocks) - batch):][:batch].to(device)
            with cast:
                loss = model(input_ids=rows, labels=rows).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        one(0)  # warm-up: kernels chosen, memory allocated
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(1, self.args.plain_steps + 1):
            one(i)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        row = {"ok": True, "batch": f"{batch}x{seq_len}", "steps": self.args.plain_steps,
               "tokens_per_s": round(self.args.plain_steps * batch * seq_len / seconds)}
        kit = self.results["steps"].get("finetune full", {}).get("tokens_per_s")
        if kit:
            row["kit_over_plain"] = round(kit / row["tokens_per_s"], 3)
        if device.startswith("cuda"):
            row["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        del model, opt
        return row

    def export(self) -> dict:
        """F16 (its next-token logits against torch's) then Q8_0 (its divergence from the F16)."""
        run = self.results["steps"].get("finetune full", {}).get("run")
        if not run:  # that step was skipped: the newest full fine-tune in the workspace
            found = self.db("select id from runs where status = 'finished' and config like '%\"stage\": \"full\"%' "
                            "order by id desc limit 1")
            run = found[0][0] if found else None
        if not run:
            return {"ok": False, "error": "no full fine-tune to export"}
        row: dict = {"ok": True}
        for quant in ("F16", "Q8_0"):
            seconds, out = self.kit("export", "--model", f"finetuned-{run}", "--quant", quant, "--json")
            report = json.loads(out[out.index("{"):])
            v = report.get("verification") or {}
            row["ok"] = row["ok"] and bool(v.get("ok")) and bool(v.get("loads"))
            row[f"{quant}_mb"] = round(report["size_bytes"] / 1e6, 1)
            row[f"{quant}_s"] = round(seconds, 1)
            if (v.get("tokenization") or {}).get("identical") is False:
                row["ok"], row["tokenization"] = False, "DIFFERS"
            logits = v.get("logits") or {}
            if logits:
                row[f"{quant}_top1_vs_torch"] = f"{logits['top1_equal']}/{logits['prompts']}"
                row[f"{quant}_max_abs_logit_diff"] = round(logits["max_abs_diff"], 4)
            divergence = v.get("divergence") or {}
            if divergence:
                row[f"{quant}_top1_vs_F16"] = round(divergence["top1_agreement"], 3)
                row[f"{quant}_kl_vs_F16"] = round(divergence["kl_mean"], 4)
            if (v.get("perplexity") or {}).get("bits_per_char") is not None:
                row[f"{quant}_bits_per_char"] = round(v["perplexity"]["bits_per_char"], 4)
        return row

    def table(self) -> str:
        lines = [f"{'step':<20} {'ok':<4} figures"]
        for name, row in self.results["steps"].items():
            figures = ", ".join(f"{k} {v}" for k, v in row.items() if k != "ok")
            lines.append(f"{name:<20} {'yes' if row.get('ok', True) else 'NO':<4} {figures}")
        return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    print("plan: " + " -> ".join(s for s in STEPS if s not in args.skip)
          + f" (base {args.base}, fine-tunes {args.minutes} min each, rows {args.rows or 'all'})", flush=True)
    missing = [k for k in ("torch", "transformers", "accelerate", "peft", "kit") if str(info[k]).startswith("MISSING")]
    if missing:
        print(f"error: this Python lacks {', '.join(missing)}; install taalkit[train] "
              f"(pip install -e '.[train]') first", file=sys.stderr)
        return 2
    if args.device.startswith("cuda") and not info.get("cuda"):
        print("error: torch sees no CUDA GPU here; run this on the GPU machine with a CUDA build of torch, "
              "or pass --device cpu for a shakedown", file=sys.stderr)
        return 2
    if args.check:
        return 0
    root = args.workspace or Path(tempfile.mkdtemp(prefix="taalkit-gpu-check-"))
    bench = Bench(args, root / "ws")
    cuda = args.device if args.device.startswith("cuda") else "cpu"
    try:
        bench.step("setup", bench.setup)
        if "setup" in bench.failed:
            print(bench.table())
            return 1
        bench.step("transtok cpu fp32", lambda: bench.transtok("cpu", "fp32", reference=True))
        bench.step("transtok cuda fp32", lambda: bench.transtok(cuda, "fp32"))
        bench.step("transtok cuda", lambda: bench.transtok(cuda, "auto"))
        bench.step("finetune full", lambda: bench.finetune("full"))
        bench.step("finetune lora", lambda: bench.finetune("lora"))
        bench.step("plain loop", bench.plain_loop)
        bench.step("export", bench.export)
    finally:
        print("\n" + bench.table(), flush=True)
        bench.save()
        if args.workspace is None:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if bench.failed else 0


if __name__ == "__main__":
    sys.exit(main())
