"""``eval`` wall time, batched decoding beside one line at a time, same test lines, same chrF columns.

    .venv/bin/python bench/eval_speed.py                     # 100 lines, source ± glossary, both directions
    .venv/bin/python bench/eval_speed.py --lines 20 --parallel 4,8

Why: ``taalkit eval --limit 100`` took 9.5 minutes translating one line after another. kit.evaluate
now decodes ``--parallel`` lines together in one llama.cpp context (kit.infer.batch). This runs
the same evaluation (a fresh workspace with the shipped Welsh dictionaries, the embedded SmolLM2
GGUF as the model) once per setting, one-at-a-time first as the baseline, and prints wall seconds,
the speed-up and each system's chrF, so a change in the translations shows beside the speed.
Greedy decoding in a batch can resolve a near-tie differently from a single sequence, so the
chrF columns may differ a little; they are printed, not assumed equal.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from kit.dictionary.store import import_files  # noqa: E402
from kit.evaluate import evaluate  # noqa: E402
from kit.workspace import Workspace  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "cy"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100)
    ap.add_argument("--parallel", default="8", help="comma-separated batch sizes to compare with 1")
    ap.add_argument("--systems", default="source,source+glossary")
    args = ap.parse_args()
    settings = [1] + [int(p) for p in args.parallel.split(",") if int(p) != 1]
    systems = tuple(args.systems.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws", source="en", target="cy")
        import_files(ws, [DATA / "dictd" / "freedict-eng-cym.index", DATA / "dictd" / "freedict-cym-eng.index"])
        rows = []
        for parallel in settings:
            started = time.perf_counter()
            results = evaluate(ws, DATA / "test_en_cy.tsv", systems=systems, limit=args.lines, parallel=parallel)
            seconds = time.perf_counter() - started
            rows.append((parallel, seconds, {(r["system"], r["direction"]): r["chrf"] for r in results}))
        ws.close()
    keys = list(rows[0][2])
    print(f"eval of {args.lines} lines × {len(systems)} systems × 2 directions "
          f"({args.lines * len(systems) * 2} translations), embedded SmolLM2-135M-Instruct Q4_1, "
          f"{os.cpu_count()} CPUs")
    head = f"{'parallel':>8} {'wall s':>8} {'speed-up':>9}" + "".join(f" {s + ' ' + d:>24}" for s, d in keys)
    print(head)
    print("-" * len(head))
    base = rows[0][1]
    for parallel, seconds, chrf in rows:
        print(f"{parallel:>8} {seconds:>8.1f} {base / seconds:>8.2f}x" + "".join(f" {chrf[k]:>24.2f}" for k in keys))
    print("(chrF per system and direction; parallel 1 = the one-at-a-time path of Translator.translate)")


if __name__ == "__main__":
    main()
