"""Run every benchmark and collect their tables into one file: bench/RESULTS.md (``make bench``).

    .venv/bin/python bench/run_all.py                       # every bench/*.py, 20 minutes each at most
    .venv/bin/python bench/run_all.py --only import_speed,decode_speed --timeout 300
    .venv/bin/python bench/run_all.py --list

Why one runner: each bench prints its own table with a baseline measured in the same run; this
collects them with the facts needed to read them later (machine, CPU count, memory, library
versions, git commit, date), runs each in its own subprocess (a crash or a hang costs only that
bench: it is stopped at ``--timeout`` and reported as such) and draws the figures where a curve
says more than numbers: the fine-tuning loss curve (``run_metrics`` of the newest finished run in
``--workspace``) and held-out bits per character by embedding initialisation (the table of
``init_quality.py``). Plots need matplotlib; without it they are skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
RESULTS = BENCH / "RESULTS.md"
VERSIONS = ("taalkit", "torch", "transformers", "tokenizers", "llama_cpp_python", "gguf", "peft",
            "sqlite-utils", "textual", "numpy")


def discover() -> list[Path]:
    """Every bench script but this one (and helpers whose name starts with ``_``), in name order."""
    return sorted(p for p in BENCH.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))


def machine() -> dict:
    """What the numbers were measured on."""
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        usable = os.cpu_count()
    try:
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # pragma: no cover
        load = "n/a"
    return {"os": platform.platform(), "cpu": cpu, "cpus usable": usable, "memory": mem,
            "python": platform.python_version(), "load average at start (1/5/15 min)": load}


def versions() -> dict:
    out = {}
    for name in VERSIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "kit", "bench"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + (" (with uncommitted changes in kit/ or bench/)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_bench(script: Path, timeout: float) -> dict:
    """Run one bench in a subprocess; keep its output, wall time and how it ended."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=timeout)
        status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as err:
        status = f"stopped after the {timeout:.0f} s timeout"
        stdout = _text(err.stdout)
        stderr = _text(err.stderr)
    return {"name": script.stem, "script": f"bench/{script.name}", "status": status,
            "wall_s": round(time.perf_counter() - started, 1), "stdout": stdout, "stderr": stderr}


def _text(data) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def tables(stdout: str) -> list[str]:
    """The markdown tables in a bench's output (runs of lines starting with ``|``), in order."""
    found, current = [], []
    for line in stdout.splitlines():
        if line.lstrip().startswith("|"):
            current.append(line.strip())
        elif current:
            found.append("\n".join(current))
            current = []
    if current:
        found.append("\n".join(current))
    return found


def table_rows(table: str) -> list[list[str]]:
    """Cells of a markdown table's body (header and separator dropped)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table.splitlines()]
    return [r for r in rows[2:] if r]


# -- plots -----------------------------------------------------------------------------------------


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def init_method_points(results: list[dict]) -> list[tuple[str, float]]:
    """(method, bits/char) from init_quality's table, the source-model reference included."""
    for result in results:
        if result["name"] != "init_quality":
            continue
        for table in tables(result["stdout"]):
            if "bits/char" not in table.splitlines()[0]:
                continue
            points = []
            for row in table_rows(table):
                try:
                    points.append((row[0], float(row[1])))
                except (IndexError, ValueError):
                    continue
            if points:
                return points
    return []


def loss_curve(workspaces: list[Path]) -> Optional[dict]:
    """Loss (and held-out bits/char) by step of the newest finished fine-tuning run in these workspaces."""
    best = None
    for ws in workspaces:
        db_path = ws / "taalkit.db"
        if not db_path.is_file():
            continue
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            run = con.execute("select id, finished_at, config from runs where kind = 'finetune' and "
                              "status = 'finished' order by finished_at desc, id desc limit 1").fetchone()
            if not run or (best and (run[1] or "") <= best["finished_at"]):
                continue
            rows = con.execute("select step, loss, bits_per_char from run_metrics where run_id = ? "
                               "order by step", [run[0]]).fetchall()
        except sqlite3.Error:
            continue
        finally:
            con.close()
        if len(rows) >= 2:
            config = json.loads(run[2] or "{}")
            best = {"workspace": str(ws), "run_id": run[0], "finished_at": run[1] or "",
                    "stage": config.get("stage"), "steps": [r[0] for r in rows if r[1] is not None],
                    "loss": [r[1] for r in rows if r[1] is not None],
                    "bpc": [(r[0], r[2]) for r in rows if r[2] is not None]}
    return best


def draw(results: list[dict], workspaces: list[Path], out_dir: Path) -> list[str]:
    """Write the PNGs; return markdown lines that show them (or say why not)."""
    plt = _pyplot()
    if plt is None:
        return ["_Plots skipped: matplotlib is not installed (`pip install matplotlib`, or the dev extra)._"]
    lines = []
    points = init_method_points(results)
    if points:
        fig, ax = plt.subplots(figsize=(6, 3))
        names = [p[0] for p in points]
        ax.barh(names, [p[1] for p in points], color=["#888" if "source" in n or "reference" in n else "#2a7"
                                                      for n in names])
        ax.invert_yaxis()
        ax.set_xlim(0, max(p[1] for p in points) * 1.15)  # room for the value labels
        ax.set_xlabel("held-out bits per character at step 0 (lower is better)")
        for i, (_, v) in enumerate(points):
            ax.text(v, i, f" {v:.2f}", va="center")
        fig.tight_layout()
        fig.savefig(out_dir / "bits_per_char_by_init.png", dpi=110)
        plt.close(fig)
        lines += ["![bits per character by initialisation method](bits_per_char_by_init.png)", ""]
    else:
        lines += ["_No bits/char-by-init plot: init_quality.py printed no table in this run._", ""]
    curve = loss_curve(workspaces)
    if curve:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot(curve["steps"], curve["loss"], label="training loss (nats/token)")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        if curve["bpc"]:
            ax2 = ax.twinx()
            ax2.plot([s for s, _ in curve["bpc"]], [b for _, b in curve["bpc"]], "o--", color="#c50",
                     label="held-out bits/char")
            ax2.set_ylabel("held-out bits/char")
        ax.set_title(f"fine-tuning run {curve['run_id']} ({curve['stage']})")
        fig.tight_layout()
        fig.savefig(out_dir / "finetune_loss.png", dpi=110)
        plt.close(fig)
        lines += ["![fine-tuning loss curve](finetune_loss.png)",
                  "", f"Loss curve: run {curve['run_id']} in `{curve['workspace']}` (finished {curve['finished_at']}).", ""]
    else:
        lines += ["_No loss curve: no finished fine-tuning run in "
                  + ", ".join(f"`{w}`" for w in workspaces) + " (run `taalkit demo` first)._", ""]
    return lines


# -- report ----------------------------------------------------------------------------------------


def report(results: list[dict], facts: dict, plot_lines: list[str]) -> str:
    lines = ["# taalkit benchmarks", "",
             f"Written by `bench/run_all.py` on {facts['date']} (git {facts['commit']}). Each bench prints its "
             "own baseline, measured in the same run on the same machine; compare rows within a table, "
             "not across machines.", "", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in facts["machine"].items()]
    lines += ["", "## Versions", "", "| package | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in facts["versions"].items()]
    lines += ["", "## Summary", "", "| bench | status | wall time (s) |", "|---|---|---|"]
    lines += [f"| [{r['name']}](#{r['name']}) | {r['status']} | {r['wall_s']} |" for r in results]
    lines += ["", "## Figures", ""] + plot_lines
    for r in results:
        doc = _first_paragraph(BENCH / Path(r["script"]).name)
        lines += ["", f"## {r['name']}", "", f"`.venv/bin/python {r['script']}` — {r['status']}, {r['wall_s']} s", ""]
        if doc:
            lines += [doc, ""]
        found = tables(r["stdout"])
        if found:
            for t in found:
                lines += [t, ""]
            tail = [l for l in r["stdout"].splitlines()[-15:] if l.strip() and not l.lstrip().startswith("|")]
            if tail:
                lines += ["Last lines of output:", "", "```", *tail, "```", ""]
        else:
            out = r["stdout"].strip().splitlines()[-40:]
            lines += ["Output (no markdown table printed):", "", "```", *(out or ["(nothing)"]), "```", ""]
        if r["status"] != "ok":
            err = r["stderr"].strip().splitlines()[-20:]
            lines += ["stderr (last lines):", "", "```", *(err or ["(nothing)"]), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _first_paragraph(script: Path) -> str:
    import ast

    try:
        doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError):
        return ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated bench names (default: all)")
    ap.add_argument("--skip", default="", help="comma-separated bench names to leave out")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds each bench may run")
    ap.add_argument("--workspace", type=Path, action="append", default=None,
                    help="workspace(s) whose newest fine-tuning run gives the loss curve "
                         "(default: ./demo-workspace and /tmp/taalkit-bench-cy)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--list", action="store_true", help="list the benches and exit")
    args = ap.parse_args(argv)

    scripts = discover()
    if args.list:
        print("\n".join(s.stem for s in scripts))
        return 0
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    skip = {n.strip() for n in args.skip.split(",") if n.strip()}
    unknown = (only | skip) - {s.stem for s in scripts}
    if unknown:
        print(f"error: no bench named {', '.join(sorted(unknown))}; see --list", file=sys.stderr)
        return 2
    scripts = [s for s in scripts if (not only or s.stem in only) and s.stem not in skip]
    facts = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
             "versions": versions(), "commit": git_commit()}
    results = []
    for i, script in enumerate(scripts, 1):
        print(f"[{i}/{len(scripts)}] {script.name} …", file=sys.stderr, flush=True)
        result = run_bench(script, args.timeout)
        print(f"[{i}/{len(scripts)}] {script.name}: {result['status']} in {result['wall_s']} s",
              file=sys.stderr, flush=True)
        results.append(result)
    workspaces = args.workspace or [REPO / "demo-workspace", Path("/tmp/taalkit-bench-cy")]
    out_dir = args.out.resolve().parent
    out_dir.mkdir(parents=True, exist_ok=True)
    text = report(results, facts, draw(results, workspaces, out_dir))
    from kit.fsutil import atomic_path

    with atomic_path(args.out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
