"""Does the adapted model translate better than the dictionary it was given? (issue 19)

    .venv/bin/python bench/translation_quality.py                         # Welsh, every lever, 10-min budget
    .venv/bin/python bench/translation_quality.py --configs draft --budget 30
    .venv/bin/python bench/translation_quality.py --lang fy --configs draft
    .venv/bin/python bench/translation_quality.py --report                # table + PNG from stored rows

Prints chrF and chrF++ (sacrebleu) in both directions on a fixed subset of the shipped test set
(the first ``--lines`` lines, 100 by default, of ``data/<lang>/test_en_<lang>.tsv``) for: the two
parents the translator combines — the dictionary word by word, and the translation memory alone
(the translation of the most similar training pair, kit.infer.memory); each unadapted base (the
shipped SmolLM2 GGUF, and Gemma-3-270M when the kit has it) with and without the draft, the memory
examples and the consensus; and the adapted model of every training configuration ("lever") with
each decoding lever on and off, so every lever is measured on/off in the same run, on the same
lines, against the same dictionary and parallel text. Defaults were chosen on other lines of the
test file (401-500), never on the reported ones.

**The budget is load-independent.** Seven people share this 2-core machine, so wall minutes
measure the neighbours as much as the code. A budget of ``B`` minutes is the number of optimizer
steps that ``B × 120`` *CPU seconds of the training process* buy (``time.process_time`` across
training steps, measured in this run by a short calibration run per stage: 10 quiet wall minutes
on 2 threads are ≈ 1200 CPU-s), passed to ``finetune(steps=N)``. The same N steps then give the
same model however loaded the machine is. Each row also records its wall time and the load
average, so the distortion is visible.

Each finished row is appended to ``<root>/rows.jsonl`` (a partial run keeps what it measured);
``--report`` rewrites the ``translation_quality`` section of bench/RESULTS.md (between markers)
and draws ``bench/translation_learning_curve.png`` (chrF against CPU budget, both directions,
word by word as the line to beat). The command that reproduces a row is stored with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

CPU_SECONDS_PER_MINUTE = 120  # 2 threads fully busy for one wall minute
PNG = REPO / "bench" / "translation_learning_curve.png"

# Training levers: the recipe (kit.finetune.plan.RECIPE_DEFAULTS keys) and the stage.
CONFIGS = {
    "plain": {"recipe": {"draft": False, "dictionary_examples": 0, "memory": 0}, "stage": "embeddings"},
    "draft": {"recipe": {"draft": True, "dictionary_examples": 0, "memory": 0}, "stage": "embeddings"},
    "draft+memory": {"recipe": {"draft": True, "dictionary_examples": 0, "memory": 2}, "stage": "embeddings"},
    "memory": {"recipe": {"draft": False, "dictionary_examples": 0, "memory": 2}, "stage": "embeddings"},
    "draft+memory+full": {"recipe": {"draft": True, "dictionary_examples": 0, "memory": 2}, "stage": "full"},
    "draft+memory+lora": {"recipe": {"draft": True, "dictionary_examples": 0, "memory": 2}, "stage": "lora"},
    "draft+full": {"recipe": {"draft": True, "dictionary_examples": 0, "memory": 0}, "stage": "full"},
    "draft+dict": {"recipe": {"draft": True, "dictionary_examples": 4000, "memory": 0}, "stage": "embeddings"},
}
# Decoding levers on each adapted model: Translator keyword arguments; {} = the kit's defaults, as trained.
VARIANTS = {
    "kit default": {},
    "no guard": {"guard": False},
    "no fallback": {"fallback": False},
    "own answers": {"fallback": False, "consensus": False},  # the model alone, nothing replaced
    "no memory shown": {"memory": 0},
    "memory fallback off": {"memory_fallback": False},
    "consensus": {"consensus": True},
    "consensus no memory shown": {"consensus": True, "memory": 0},
    "model always in the pool": {"memory_trust": 2.0},  # the consensus before MEMORY_TRUST
    "bias 3": {"draft_bias": 3.0},
    "bias 6": {"draft_bias": 6.0},
    "bias 6 no fallback": {"draft_bias": 6.0, "fallback": False},
    "bias 6 no guard": {"draft_bias": 6.0, "guard": False},
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_avg() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return -1.0


# -- workspaces ----------------------------------------------------------------------------
def prepare_base(root: Path, lang: str, vocab_size: int, base_model: str = "default"):
    """Dictionary, corpus, source model (``base_model``: an embedded model's name), tokenizer and the
    trans-tokenized model, made once."""
    from kit.demo import _import_corpus, _import_dictionaries, demo_data
    from kit.workspace import Workspace

    ws = Workspace.init(root, source="en", target=lang, name=f"tq-{lang}")
    files = demo_data(lang)
    if not ws.db.execute("select count(*) from entries").fetchone()[0]:
        _import_dictionaries(ws, files, None, None)
    if not ws.db.execute("select count(*) from segments").fetchone()[0]:
        _import_corpus(ws, files, None, None)
    if ws.latest_model("source") is None:
        from kit.models import add_model

        add_model(ws, base_model)
    if not ws.db.execute("select count(*) from tokenizers").fetchone()[0]:
        from kit.tokenizer import train_tokenizer

        train_tokenizer(ws, vocab_size=vocab_size)
    if not ws.db.execute("select count(*) from models where role = 'transtok'").fetchone()[0]:
        from kit.transtok import transtokenize

        transtokenize(ws, method="transtok")
    return ws, files


def clone(base: Path, dest: Path) -> None:
    """A copy of the prepared workspace: model files hard-linked (never written again), the DB copied."""
    import sqlite3

    from kit.workspace import DB_NAME

    if dest.exists():
        shutil.rmtree(dest)

    def link_or_copy(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(base, dest, copy_function=link_or_copy,
                    ignore=lambda _d, names: [n for n in names if n.startswith(DB_NAME)])
    source, target = sqlite3.connect(base / DB_NAME), sqlite3.connect(dest / DB_NAME)
    with target:
        source.backup(target)  # consistent even with the base open in WAL mode
    source.close()
    target.close()


# -- training (in a child process: its own CPU clock and memory) ---------------------------
def train_child(args) -> None:
    """``--train-child``: fine-tune one config for ``--steps`` steps, export Q8_0, print JSON."""
    from kit.finetune import finetune
    from kit.gguf import export_model
    from kit.workspace import Workspace

    ws = Workspace.open(args.workspace)
    config = CONFIGS[args.config]
    ws.set_meta(recipe=config["recipe"])
    marks: list[tuple[int, float]] = []

    def progress(event):
        if event.stage == "finetune" and "loss" in event.metrics:
            marks.append((int(event.done), time.process_time()))

    t0, c0 = time.perf_counter(), time.process_time()
    row = finetune(ws, model="transtok-transtok", steps=args.steps, stage=config["stage"],
                   eval_every=max(1, args.steps // 8), progress=progress, seed=args.seed)
    train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    steps_cpu = marks[-1][1] - marks[0][1] if len(marks) > 1 else None
    per_step = steps_cpu / (marks[-1][0] - marks[0][0]) if steps_cpu else None
    extra = json.loads(row.get("extra") or "{}")
    gguf = None
    if not args.no_export:
        export = export_model(ws, model=row, quant="Q8_0", verify=False)
        gguf = str(ws.model_dir({"path": export["path"]}))
    curve = [dict(zip(("step", "bpc"), r)) for r in ws.db.execute(
        "select step, bits_per_char from run_metrics where run_id = ? and split = 'heldout' order by step",
        [extra.get("run_id")])]
    print("RESULT " + json.dumps({
        "steps": args.steps, "cpu_s_per_step": per_step, "train_wall_s": round(train_wall, 1),
        "train_cpu_s": round(train_cpu, 1), "bpc_start": extra.get("bpc_start"), "bpc_end": extra.get("bpc_end"),
        "gguf": gguf, "curve": curve, "load_end": load_avg()}), flush=True)


def run_child(root: Path, workspace: Path, config: str, steps: int, *, no_export=False, seed: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--train-child", "--workspace", str(workspace), "--config", config,
           "--steps", str(steps), "--root", str(root), "--seed", str(seed)] + (["--no-export"] if no_export else [])
    logf = root / f"train-{workspace.name}.log"
    with open(logf, "w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    lines = [line for line in logf.read_text().splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"training {config} failed (rc {proc.returncode}); see {logf}")
    return json.loads(lines[-1][7:])


def calibrate(root: Path, base: Path, stage: str, base_model: str = "default") -> float:
    """CPU seconds per optimizer step for ``stage`` of ``base_model`` (cached in ``<root>/calibration.json``)."""
    cache = root / "calibration.json"
    known = json.loads(cache.read_text()) if cache.exists() else {}
    key = stage if base_model == "default" else f"{base_model}:{stage}"
    if key not in known:
        ws_path = root / f"calib-{key.replace(':', '-')}"
        clone(base, ws_path)
        config = next(name for name, c in CONFIGS.items() if c["stage"] == stage)
        result = run_child(root, ws_path, config, 12, no_export=True)
        known[key] = result["cpu_s_per_step"]
        cache.write_text(json.dumps(known, indent=1))
        shutil.rmtree(ws_path, ignore_errors=True)
        log(f"calibration {key}: {known[key]:.2f} CPU-s per step (load {load_avg()})")
    return known[key]


# -- scoring ----------------------------------------------------------------------------------
def score(ws, pairs, system_fn) -> dict:
    """chrF/chrF++ both directions; system_fn(texts, to) -> [(hypothesis, fell_back), ...]."""
    from kit.metrics import chrf

    out = {}
    for to, src_col in ((ws.target_lang, 0), (ws.source_lang, 1)):
        started = time.perf_counter()
        results = system_fn([pair[src_col] for pair in pairs], to)
        hyps = [h for h, _f in results]
        refs = [pair[1 - src_col] for pair in pairs]
        fell = sum(int(f) for _h, f in results)
        echo = sum(int(h.lower().startswith("translate to")) for h in hyps)
        key = f"{ws.source_lang}->{to}" if to == ws.target_lang else f"{ws.target_lang}->{to}"
        out[key] = {"chrf": round(chrf(hyps, refs), 2), "chrf_pp": round(chrf(hyps, refs, word_order=2), 2),
                    "fallbacks": fell, "echoes": echo, "seconds": round(time.perf_counter() - started, 1),
                    "examples": hyps[:3]}
    return out


_LOADED: dict = {}  # gguf path -> (llm, batch generator): one load per model file
_GENERATED: dict = {}  # (gguf, direction, levers that change the request or decoding, texts) -> raw answers


def model_system(ws, gguf, **levers):
    """The kit's translator on ``gguf`` with decoding ``levers`` (Translator keywords), eight lines at
    a time, as ``taalkit eval`` runs it (kit.infer.batch.translate_many: plan, generate, finish).

    Variants that differ only after decoding (fallback, memory fallback, consensus) reuse the raw
    answers of an earlier variant with the same request and decoding: same greedy output, a fraction
    of the time, on this shared 2-core machine. So every line is decoded here, also those whose answer
    the kit leaves out and does not decode (``Plan.answer_left_out``: ``finish`` ignores it there), and
    the scores are the kit's."""
    from kit.infer.batch import BatchGenerator
    from kit.infer.engine import load_llama
    from kit.infer.translate import Translator

    key_file = str(gguf)
    if key_file not in _LOADED:
        llm = load_llama(gguf, n_ctx=1024)
        _LOADED[key_file] = (llm, BatchGenerator(llm, n_seq=8, ctx_per_seq=1024))
    llm, generator = _LOADED[key_file]
    translator = Translator(ws, llm=llm, model_path=gguf, **levers)
    decoding = (translator.draft, translator.memory, translator.guard, translator.draft_bias)

    def run(texts, to):
        plans = [translator.plan(text, to=to, glossary=False, n_ctx=generator.ctx_per_seq) for text in texts]
        key = (key_file, str(ws.root), to, decoding, tuple(texts))
        if key not in _GENERATED:
            _GENERATED[key] = generator.generate([p.prompt for p in plans], [p.budget for p in plans],
                                                 stop=[p.stop_early for p in plans],
                                                 processors=[p.processors for p in plans])
        results = [translator.finish(plan, raw) for plan, raw in zip(plans, _GENERATED[key])]
        return [(" ".join(r.text.split()), r.fell_back) for r in results]

    return run, translator


def memory_system(ws, *, with_draft: bool = False):
    """The translation memory alone: the translation of the most similar training pair (kit.infer.memory).
    ``with_draft``: no model either, but the consensus (kit.infer.consensus) of the word-by-word draft
    and the two closest pairs — what the translator's consensus would give if the model added nothing."""
    from kit.infer.consensus import consensus
    from kit.infer.glossary import DictionaryLookup
    from kit.infer.memory import closest_translation, workspace_memory
    from kit.infer.translate import CONSENSUS_MATCHES, direction
    from kit.infer.wordbyword import word_by_word

    memories, lookups = {}, {}

    def run(texts, to):
        src, tgt = direction(ws, to)
        memory = memories.setdefault(to, workspace_memory(ws, src, tgt))
        lookup = lookups.setdefault(to, DictionaryLookup(ws, src, tgt))
        out = []
        for text in texts:
            if with_draft:
                pool = [word_by_word(ws, text, source_lang=src, target_lang=tgt, lookup=lookup)] + [
                    m.target for m in memory.similar(text, CONSENSUS_MATCHES)]
                out.append((pool[consensus(pool)], False))
            else:
                out.append((closest_translation(memory, text), False))
        return out

    return run


def append_row(root: Path, row: dict) -> None:
    row.update(load=load_avg(), at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    with open(root / "rows.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    dirs = " ".join(f"{k} {v['chrf']:.1f}/{v['chrf_pp']:.1f}" for k, v in row["scores"].items())
    log(f"ROW {row['lang']} {row['system']} [{row.get('budget', '-')}]: {dirs}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", default="cy")
    ap.add_argument("--root", type=Path, default=Path("/tmp/taalkit-bench-translation"))
    ap.add_argument("--lines", type=int, default=100)
    ap.add_argument("--budget", type=float, nargs="+", default=[10.0], help="CPU-equivalent minutes")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--variants", default="kit default,no fallback,no memory shown,memory fallback off",
                    help="comma-separated names of VARIANTS, or 'all'")
    ap.add_argument("--eval-only", action="store_true",
                    help="score the variants on models already trained in <root> (no training)")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--no-gemma", action="store_true", help="leave the unadapted Gemma-3-270M rows out")
    ap.add_argument("--no-smollm2", action="store_true", help="leave the unadapted SmolLM2-135M rows out")
    ap.add_argument("--parents-only", action="store_true",
                    help="of the baselines, only the two parents: word by word and the translation memory")
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--base", default="default",
                    help="the embedded model to adapt (default: SmolLM2-135M; gemma3-270m: Gemma-3-270M)")
    ap.add_argument("--seed", type=int, default=0,
                    help="training seed (batch order, dropout): rows of several seeds give the spread over runs")
    ap.add_argument("--steps-per-minute", type=float,
                    help="optimizer steps per budget minute, instead of this run's calibration: to repeat an "
                         "earlier run's step count on a differently loaded machine")
    ap.add_argument("--report", action="store_true")
    # internal: one training run in a child process
    ap.add_argument("--train-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--no-export", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.train_child:
        return train_child(args)
    args.root.mkdir(parents=True, exist_ok=True)
    if args.report:
        return report(args.root)

    from kit.evaluate import read_test_pairs
    from kit.infer.default_model import default_model_gguf
    from kit.infer.glossary import DictionaryLookup
    from kit.infer.wordbyword import word_by_word

    base = args.root / f"{args.lang}{_base_tag(args)}-base"
    log(f"preparing {base}")
    ws, files = prepare_base(base, args.lang, args.vocab_size, args.base)
    pairs = read_test_pairs(files.test, limit=args.lines)
    subset = f"first {len(pairs)} lines of {files.test.relative_to(REPO)}"
    common = {"lang": args.lang, "subset": subset}
    command = f".venv/bin/python bench/translation_quality.py --lang {args.lang} --lines {args.lines}"
    if args.base != "default":
        command += f" --base {args.base}"

    if not args.no_baselines:
        lookups = {}

        def wbw(texts, to):
            src = ws.target_lang if to == ws.source_lang else ws.source_lang
            lookups.setdefault(to, DictionaryLookup(ws, src, to))
            return [(word_by_word(ws, text, source_lang=src, target_lang=to, lookup=lookups[to]), False)
                    for text in texts]

        baseline = command + " --configs none"
        append_row(args.root, {**common, "system": "word by word", "scores": score(ws, pairs, wbw),
                               "command": baseline})
        append_row(args.root, {**common, "system": "translation memory (closest training pair)",
                               "scores": score(ws, pairs, memory_system(ws)), "command": baseline})
        append_row(args.root, {**common, "system": "no model: consensus of the draft and the 2 closest pairs",
                               "scores": score(ws, pairs, memory_system(ws, with_draft=True)), "command": baseline})
        bases = [] if args.parents_only or args.no_smollm2 else [("SmolLM2-135M", default_model_gguf())]
        gemma = None if args.no_gemma or args.parents_only else _gemma_gguf()
        if gemma is not None and not args.no_gemma and not args.parents_only:
            bases.append(("Gemma-3-270M", gemma))
        levers_by_label = {"": {"draft": False, "memory": 0, "fallback": False, "consensus": False},
                           " + draft": {"draft": True, "memory": 0, "consensus": False},
                           " + draft + memory": {"draft": True, "memory": 2, "consensus": False},
                           " + draft + memory + consensus": {"draft": True, "memory": 2, "consensus": True},
                           # what an adapted model's "kit default" rows use: the base through the same translator
                           " + kit defaults": {}}
        for base_name, gguf in bases:
            labels = list(levers_by_label) if base_name.startswith("SmolLM2") else \
                ["", " + draft + memory + consensus", " + kit defaults"]
            for label in labels:
                levers = levers_by_label[label]
                fn, _t = model_system(ws, gguf, **levers)
                append_row(args.root, {**common, "system": f"{base_name} unadapted{label}",
                                       "scores": score(ws, pairs, fn), "command": baseline})

    configs = [c for c in args.configs.split(",") if c in CONFIGS]
    variants = VARIANTS if args.variants == "all" else {v: VARIANTS[v] for v in args.variants.split(",")}
    if args.eval_only:
        return eval_only(args, configs, variants, common, command)
    for budget in args.budget:
        for config in configs:
            if args.steps_per_minute:
                steps = max(1, round(budget * args.steps_per_minute))
            else:
                per_step = calibrate(args.root, base, CONFIGS[config]["stage"], args.base)
                steps = max(1, round(budget * CPU_SECONDS_PER_MINUTE / per_step))
            ws_path = args.root / _run_name(args, config, budget)
            clone(base, ws_path)
            log(f"training {config} for {steps} steps ({budget:g} CPU-equivalent minutes)")
            load_start = load_avg()
            trained = run_child(args.root, ws_path, config, steps, seed=args.seed)
            from kit.workspace import Workspace

            cws = Workspace.open(ws_path)
            for variant, levers in variants.items():
                fn, _t = model_system(cws, trained["gguf"], **levers)
                append_row(args.root, {
                    **common, "system": _adapted(args, config), "variant": variant, "budget": budget,
                    "steps": steps, "seed": args.seed, "train": {k: trained[k] for k in ("train_wall_s", "train_cpu_s", "bpc_start",
                                                                       "bpc_end", "curve", "load_end")},
                    "load_start": load_start, "scores": score(cws, pairs, fn),
                    "command": command + f" --configs {config} --budget {budget:g}" + _repeat_flags(args)})
            cws.close()
    report(args.root)


def eval_only(args, configs, variants, common, command) -> None:
    """Decoding levers need no new training: score them on the GGUFs the training rows left behind."""
    from kit.workspace import Workspace

    rows = [json.loads(line) for line in (args.root / "rows.jsonl").read_text().splitlines() if line.strip()]
    for budget in args.budget:
        for config in configs:
            trained = next((r for r in reversed(rows) if r["system"] == _adapted(args, config)
                            and r.get("budget") == budget and r["lang"] == args.lang and "train" in r
                            and r.get("seed", 0) == args.seed), None)
            ws_path = args.root / _run_name(args, config, budget)
            ggufs = sorted((ws_path / "gguf").glob("*Q8_0.gguf"))
            logf = args.root / f"train-{ws_path.name}.log"
            if trained is None and logf.exists():  # trained, but the scoring run stopped before a row
                found = [line for line in logf.read_text().splitlines() if line.startswith("RESULT ")]
                if found:
                    result = json.loads(found[-1][7:])
                    trained = {"steps": result["steps"], "train": {k: result[k] for k in (
                        "train_wall_s", "train_cpu_s", "bpc_start", "bpc_end", "curve", "load_end")}}
            if trained is None or not ggufs:
                log(f"no trained {config} at {budget:g} in {args.root}; train it first")
                continue
            cws = Workspace.open(ws_path)
            pairs = _pairs(args)
            for variant, levers in variants.items():
                fn, _t = model_system(cws, ggufs[-1], **levers)
                append_row(args.root, {**common, "system": _adapted(args, config), "variant": variant,
                                       "budget": budget, "steps": trained["steps"], "seed": args.seed, "train": trained["train"],
                                       "load_start": load_avg(), "scores": score(cws, pairs, fn),
                                       "command": command + f" --configs {config} --budget {budget:g}"
                                                            + _repeat_flags(args)
                                                            + f" --eval-only --variants '{variant}'"})
            cws.close()


def _run_name(args, config: str, budget: float) -> str:
    """The trained workspace's folder name in ``<root>``: language, base, config, budget (and seed)."""
    seed = f"-seed{args.seed}" if args.seed else ""
    return f"{args.lang}{_base_tag(args)}-{config}-{budget:g}{seed}".replace("+", "_")


def _repeat_flags(args) -> str:
    """The flags that make a row's command repeat its step count and seed."""
    flags = f" --seed {args.seed}" if args.seed else ""
    return flags + (f" --steps-per-minute {args.steps_per_minute:g}" if args.steps_per_minute else "")


def _base_tag(args) -> str:
    """Workspace-name part for a base other than the default: SmolLM2 rows keep their old names."""
    return "" if args.base == "default" else f"-{args.base}"


def _adapted(args, config: str) -> str:
    """The row's system name: ``adapted: CONFIG`` for SmolLM2, ``adapted TITLE: CONFIG`` otherwise."""
    if args.base == "default":
        return f"adapted: {config}"
    from kit.models.embedded import find

    return f"adapted {find(args.base).title}: {config}"


def _gemma_gguf():
    """The embedded Gemma-3-270M GGUF when its packages are installed (joined once into the cache)."""
    try:
        from kit.models.embedded import find, gguf_path

        return gguf_path(find("gemma3-270m"))
    except Exception as err:  # not installed: the row is left out, with a note
        log(f"no Gemma-3-270M row: {err}")
        return None


def _pairs(args):
    from kit.demo import demo_data
    from kit.evaluate import read_test_pairs

    return read_test_pairs(demo_data(args.lang).test, limit=args.lines)


# -- the report ------------------------------------------------------------------------------
def report(root: Path) -> None:
    rows = [json.loads(line) for line in (root / "rows.jsonl").read_text().splitlines() if line.strip()]
    if not rows:
        print("no rows yet")
        return
    lines = ["| lang | system | decoding | budget (CPU-min) | steps | en→x chrF | en→x chrF++ | x→en chrF | "
             "x→en chrF++ | fallbacks en→x / x→en | bits/char start → end | train wall s | load | command |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = list(r["scores"].values())
        t = r.get("train") or {}
        bpc = f"{t['bpc_start']:.3f} → {t['bpc_end']:.3f}" if t.get("bpc_end") else ""
        lines.append(f"| {r['lang']} | {r['system']} | {r.get('variant', '')} | {r.get('budget', '')} | "
                     f"{r.get('steps', '')} | {s[0]['chrf']:.1f} | {s[0]['chrf_pp']:.1f} | {s[1]['chrf']:.1f} | "
                     f"{s[1]['chrf_pp']:.1f} | {s[0]['fallbacks']} / {s[1]['fallbacks']} | {bpc} | "
                     f"{t.get('train_wall_s', '')} | {r.get('load_start', r.get('load', ''))} | `{r['command']}` |")
    subset = rows[0]["subset"]
    table = "\n".join(lines)
    print(table)
    from _sections import run_notes, write_section

    write_section("translation_quality",
                  f"## translation_quality\n\n`.venv/bin/python bench/translation_quality.py` "
                  f"(rows from {root}/rows.jsonl). Test lines: {subset}. Budget: optimizer steps worth N×120 "
                  f"CPU-seconds of the training process (calibrated per stage in the same run, or an earlier "
                  f"run's steps per minute repeated with --steps-per-minute), so a loaded machine changes the "
                  f"wall time (shown with the 1-min load average), not the model.\n\n"
                  f"![chrF by budget](translation_learning_curve.png)\n\n{run_notes(root)}{table}\n")
    plot(rows)


def plot(rows) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no matplotlib: no learning-curve PNG)")
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 6))
    for ax, index, title in ((axes[0], 0, "en→x"), (axes[1], 1, "x→en")):
        series: dict[str, list] = {}
        drawn = set()
        for r in rows:
            if r.get("budget") is not None and r.get("variant") in ("kit default", "own answers", "model always in the pool") and r["lang"] == "cy":
                series.setdefault(f"{r['system']} ({r['variant']})", []).append(
                    (r["budget"], list(r["scores"].values())[index]["chrf"]))
            parent = {"word by word": ("grey", "--"), "translation memory (closest training pair)": ("black", ":"),
                      "no model: consensus of the draft and the 2 closest pairs": ("green", "-.")}
            if r["system"] in parent and r["lang"] == "cy" and r["system"] not in drawn:
                drawn.add(r["system"])
                colour, style = parent[r["system"]]
                ax.axhline(list(r["scores"].values())[index]["chrf"], color=colour, ls=style, label=r["system"])
        for name, points in series.items():
            by_budget: dict[float, list] = {}
            for budget, value in points:  # several seeds at one budget: their mean, and the range as a bar
                by_budget.setdefault(budget, []).append(value)
            xs = sorted(by_budget)
            means = [sum(by_budget[x]) / len(by_budget[x]) for x in xs]
            spread = [[m - min(by_budget[x]) for x, m in zip(xs, means)], [max(by_budget[x]) - m for x, m in zip(xs, means)]]
            ax.errorbar(xs, means, yerr=spread, marker="o", capsize=3, label=name)
        ax.set_title(f"Welsh {title}: chrF by fine-tuning budget")
        ax.set_xlabel("budget (CPU-equivalent minutes, 120 CPU-s each)")
        ax.set_ylabel("chrF")
    handles, labels = axes[0].get_legend_handles_labels()  # one legend below both panels, off the data
    fig.tight_layout(rect=(0, 0.3, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7)
    fig.savefig(PNG, dpi=90)
    print(f"wrote {PNG}")


if __name__ == "__main__":
    main()
