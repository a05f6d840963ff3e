"""How fast the app answers a key while it fine-tunes: stage in a thread (before) vs a child process (after).

Why: on a 2-core machine the app took ~18 s to show Help while a fine-tune ran in a thread of
its own process (GIL and both cores shared with training). The app now runs the heavy stages
through ``kit.jobs`` in a child process. This bench drives the real app headless (Textual's
``run_test``), starts the same real fine-tune in each mode and times F1 presses (Help opens,
then closes; ``tests/tui/tui_helpers.key_latencies``) while it trains; the idle row (no job)
is the floor. All rows are measured in this one run, in alternating order per round.

    .venv/bin/python bench/ui_latency.py                         # tiny random Llama, seconds per round
    .venv/bin/python bench/ui_latency.py --hidden 256 --layers 4 # a heavier model (slower steps)
    .venv/bin/python bench/ui_latency.py --model smollm2         # the embedded SmolLM2-135M (minutes)

Latency = wall seconds from the key press until the new screen is active and the app idle.
The fine-tune model is a random Llama (``--hidden``/``--layers``) on the Welsh demo test pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.append(str(REPO / "tests" / "tui"))  # after tests/: its conftest is the one with the models

import kit  # noqa: E402,F401  (offline environment, OMP_WAIT_POLICY=PASSIVE)


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


async def measure(root: Path, mode: str, presses: int, gap: float,
                  after_first_step: bool = False) -> tuple[list[float], int, str]:
    """Key latencies with ``mode`` = idle | thread | process, the fine-tune steps done meanwhile, and
    a note ("" when all went well).

    By default the presses start right after the Fine-tune click, so they cover the whole job as a
    user meets it: loading torch and the model, packing the text, training, evaluating. With
    ``after_first_step`` they start once the first training step is reported, so every press
    lands while the model trains.
    """
    from textual.widgets import Input
    from tui_helpers import key_latencies, settle

    from tui.app import TaalkitApp
    from tui.widgets.error_modal import ErrorModal
    from tui.widgets.loss_plot import LossPlot

    app = TaalkitApp(workspace=root)
    app.stages_in_process = mode == "thread"
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        if mode == "idle":
            return await key_latencies(pilot, presses, gap), 0, ""
        screen = app.screen
        screen.query_one("#steps", Input).value = "100000"
        await pilot.click("#finetune")
        plot = screen.query_one(LossPlot)
        waited = time.perf_counter()
        while after_first_step and not plot.loss and time.perf_counter() - waited < 1800:
            await asyncio.sleep(0.1)
            if isinstance(app.screen, ErrorModal):
                return [], 0, f"fine-tune failed: {app.screen.message}"
        start_step = plot.loss[-1][0] if plot.loss else 0
        try:
            lat = await key_latencies(pilot, presses, gap)
            note = ""
        except AssertionError as err:  # a key never answered: that is the figure
            lat, note = [], str(err)
        steps = (plot.loss[-1][0] if plot.loss else 0) - start_step
        stopped = time.perf_counter()
        await pilot.press("escape")
        await settle(pilot)
        note += f" Esc to settled {time.perf_counter() - stopped:.1f} s"
        return lat, int(steps), note.strip()


BUILD = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from conftest import DATA, TINY_ENGLISH, build_tiny_llama, train_tiny_bpe
sys.path.append({tests!r} + "/tui")
from tui_helpers import fine_tune_workspace
root = Path({root!r})
if {smollm2}:
    from kit.corpus import import_corpus
    from kit.models import add_model
    from kit.workspace import Workspace

    ws = Workspace.init(root / "ws", source="en", target="cy")
    import_corpus(ws, DATA / "cy" / "test_en_cy.tsv", kind="parallel")
    add_model(ws, "default")  # the embedded SmolLM2-135M, as a user's first fine-tune
    ws.close()
else:
    model = build_tiny_llama(root / "model", train_tiny_bpe(TINY_ENGLISH), hidden={hidden}, layers={layers},
                             heads=max(1, {hidden} // 16), kv_heads=max(1, {hidden} // 32))
    fine_tune_workspace(root / "ws", DATA, model)
"""


def build(root: Path, hidden: int, layers: int, smollm2: bool = False) -> Path:
    """The model and workspace, made in a child process: this one must not have imported torch yet,
    as the app has not when a user presses Fine-tune (importing it is part of what is measured)."""
    import subprocess

    code = BUILD.format(tests=str(REPO / "tests"), root=str(root), hidden=hidden, layers=layers, smollm2=smollm2)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    return root / "ws"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=20, help="F1 presses per mode and round")
    ap.add_argument("--gap", type=float, default=0.25, help="seconds between presses")
    ap.add_argument("--rounds", type=int, default=2, help="rounds; the mode order alternates")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--after-first-step", action="store_true",
                    help="start pressing once the first training step is reported (else at the click)")
    ap.add_argument("--model", choices=("tiny", "smollm2"), default="tiny",
                    help="tiny: a random Llama of --hidden/--layers; smollm2: the embedded SmolLM2-135M")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="taalkit-ui-latency-"))
    try:
        base = build(tmp, args.hidden, args.layers, args.model == "smollm2")
        results: dict[str, list[float]] = {"idle": [], "thread": [], "process": []}
        steps: dict[str, int] = {"thread": 0, "process": 0}
        notes: list[str] = []
        for r in range(args.rounds):
            order = ("idle", "thread", "process") if r % 2 == 0 else ("process", "thread", "idle")
            for mode in order:
                root = tmp / f"ws-{mode}-{r}"
                shutil.copytree(base, root)
                lat, n, note = asyncio.run(measure(root, mode, args.presses, args.gap, args.after_first_step))
                results[mode] += lat
                if mode in steps:
                    steps[mode] += n
                if note:
                    notes.append(f"round {r + 1} {mode}: {note}")
                shown = f"p50 {statistics.median(lat):.3f} s  max {max(lat):.3f} s" if lat else "no answer"
                print(f"round {r + 1} {mode:<7} {shown}  {note}", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"# UI key latency while fine-tuning (F1 → Help and back; "
          + ("SmolLM2-135M; " if args.model == "smollm2" else
             f"random Llama hidden {args.hidden}, {args.layers} layers; ")
          + f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          + ("presses from the first training step on; " if args.after_first_step else
             "presses from the Fine-tune click on; ")
          + f"{args.rounds} rounds × {args.presses} presses {args.gap} s apart)")
    print()
    print("| stage runs in | presses | p50 (s) | p95 (s) | max (s) | p95 / idle p95 | steps trained while measured |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    idle95 = quantile(results["idle"], 0.95)
    label = {"idle": "no job (floor)", "thread": "app's thread (before)", "process": "child process (after)"}
    for mode in ("idle", "thread", "process"):
        lat = results[mode]
        if not lat:
            print(f"| {label[mode]} | 0 | — | — | — | — | {steps.get(mode, '—')} |")
            continue
        p95 = quantile(lat, 0.95)
        print(f"| {label[mode]} | {len(lat)} | {statistics.median(lat):.3f} | {p95:.3f} | {max(lat):.3f} | "
              f"{p95 / idle95:.1f}× | {steps.get(mode, '—')} |")
    print()
    if results["thread"] and results["process"]:
        t95, p95 = quantile(results["thread"], 0.95), quantile(results["process"], 0.95)
        print(f"p95 before / after: {t95 / p95:.1f}× (thread {t95:.3f} s, child process {p95:.3f} s)")
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
