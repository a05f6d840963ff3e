"""Fine-tuning tokens/s in 1 and 2 processes (``taalkit finetune --processes N``) on this machine.

Run from the repository root::

    .venv/bin/python bench/finetune_scale.py                 # tiny Llama, 2 alternating rounds
    .venv/bin/python bench/finetune_scale.py --hidden 256 --layers 4 --steps 40 --rounds 4
    .venv/bin/python bench/finetune_scale.py --fsdp          # also P sharded ranks (--fsdp, FSDP2)

Both sides use the same cores: one process with ``TAALKIT_THREADS=P`` threads against P processes
with one thread each (gloo on CPU, through accelerate), the same global batch and the same steps, on
the same workspace copy. Each run is a real ``python -m kit.cli finetune`` process; its own
"trained N tokens in S s" line gives the training tokens/s (start-up, model loading and the
launcher are outside it; the wall time of the whole verb is shown beside it). Rounds alternate the
order so machine load drifts hit both sides alike. Efficiency = tokens/s(P processes) / tokens/s(1).
On a 2-core laptop expect at most 1: data parallelism pays on several GPUs or machines, and this
bench measures what splitting the same cores costs. ``--fsdp`` adds a third side, P ranks that each
hold 1/P of the weights and moments and gather every layer from the others for each forward and
backward: what sharding costs on top of plain data parallelism.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

TRAINED = re.compile(r"trained (\d+) tokens in .*?\((\d+) tokens/s\)")


def make_workspace(folder: Path, hidden: int, layers: int) -> Path:
    from conftest import TINY_ENGLISH, build_tiny_llama, train_tiny_bpe
    from test_finetune_data import finetune_workspace

    from kit.workspace import Workspace

    model = build_tiny_llama(folder / "tiny", train_tiny_bpe(TINY_ENGLISH), hidden=hidden, layers=layers)
    ws = Workspace.init(folder / "ws", source="en", target="cy")
    finetune_workspace(ws, model, copies=20)
    ws.close()
    return folder / "ws"


def run_once(template: Path, scratch: Path, processes: int, threads: int, args: list[str],
             fsdp: bool = False) -> dict:
    ws = scratch / f"ws-{processes}-{time.monotonic_ns()}"
    shutil.copytree(template, ws)
    env = dict(os.environ, TAALKIT_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "kit.cli", "-w", str(ws), "finetune", *args]
    if processes > 1:
        cmd += ["--processes", str(processes)] + (["--fsdp"] if fsdp else [])
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    shutil.rmtree(ws, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"finetune --processes {processes} failed:\n{done.stderr[-2000:]}")
    match = TRAINED.search(done.stdout + done.stderr)
    if match is None:
        raise SystemExit(f"no 'trained N tokens' line in the output:\n{done.stdout[-1000:]}")
    return {"tokens": int(match.group(1)), "tokens_per_s": float(match.group(2)), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fsdp", action="store_true", help="also P ranks with --fsdp (sharded)")
    opts = parser.parse_args()
    args = ["--steps", str(opts.steps), "--stage", "full", "--batch-size", str(opts.batch_size),
            "--seq-len", str(opts.seq_len), "--eval-every", str(opts.steps), "--checkpoint-every", str(opts.steps)]
    with tempfile.TemporaryDirectory(prefix="taalkit-scale-") as tmp:
        scratch = Path(tmp)
        template = make_workspace(scratch, opts.hidden, opts.layers)
        sides = [(1, False), (opts.processes, False)] + ([(opts.processes, True)] if opts.fsdp else [])
        results: dict[tuple, list[dict]] = {side: [] for side in sides}
        for r in range(opts.rounds):
            shift = r % len(sides)  # rotate the order so load drifts hit every side alike
            for n, fsdp in sides[shift:] + sides[:shift]:
                threads = opts.processes if n == 1 else 1
                results[(n, fsdp)].append(run_once(template, scratch, n, threads, args, fsdp))
    load = os.getloadavg()[0]
    print(f"tiny Llama hidden {opts.hidden}, {opts.layers} layers; {opts.steps} full steps of "
          f"{opts.batch_size}x{opts.seq_len} tokens (global batch); {opts.rounds} alternating rounds; "
          f"{os.cpu_count()} CPUs, load average {load:.1f}")
    print()
    print("| processes x threads | training tokens/s (median) | per round | wall of the verb, s (median) |")
    print("|---|---|---|---|")
    for (n, fsdp), runs in results.items():
        rates = [x["tokens_per_s"] for x in runs]
        walls = [x["wall_s"] for x in runs]
        shape = f"1 x {opts.processes}" if n == 1 else f"{n} x 1" + (" (--fsdp)" if fsdp else "")
        print(f"| {shape} | {statistics.median(rates):.0f} | {', '.join(f'{x:.0f}' for x in rates)} | "
              f"{statistics.median(walls):.1f} |")
    one = statistics.median(x["tokens_per_s"] for x in results[(1, False)])
    print()
    for (n, fsdp), runs in results.items():
        if n > 1:
            many = statistics.median(x["tokens_per_s"] for x in runs)
            print(f"efficiency ({n} processes{' with --fsdp' if fsdp else ''} / 1 process, same cores): "
                  f"{many / one:.2f}")


if __name__ == "__main__":
    main()
