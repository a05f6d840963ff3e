"""The whole journey on the shipped data, in one call: ``taalkit demo`` / ``make demo``.

``run_demo`` drives every stage in order on ``data/<lang>/`` with the embedded SmolLM2 model:
import the dictionaries and parallel text, take in the source model, train the target
tokenizer, trans-tokenize, fine-tune for a fixed short budget, export Q8_0, evaluate on the
held-out test file, then ask the exported GGUF for example translations and a chat reply in
the target language. It returns a summary (sizes, times, bits per character before/after,
chrF) that :func:`format_summary` turns into the table the CLI prints.

Why it is resumable: a demo on a 2-core laptop takes a quarter of an hour and may be stopped.
Each step first looks for its output in the workspace and reuses it, and an interrupted
fine-tuning run is resumed from its checkpoint, so running the demo again continues where it
stopped. Step timings are kept in the workspace (``workspace_meta`` key ``demo``) so the final
table reports the time each step really took, not the near-zero time of reusing it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .langs import language_name
from .errors import TaalkitError
from .fsutil import atomic_path, human_bytes
from .progress import CancelToken, ProgressCallback, emit
from .shipped import data_root
from .workspace import Workspace

STAGE = "demo"
LANGS = ("cy", "fy", "af")
# The chat example asks, in the target language, the kind of question the demo text (software UI
# strings) covers, under a system prompt in that language too: a briefly tuned 135M model answers
# in the language of its context, so an English system prompt mostly gets English (or an echo) back.
CHAT_PROMPTS = {
    "cy": ("Rwyt ti'n gynorthwyydd defnyddiol. Ateb yn Gymraeg.", "Sut mae agor neges newydd?"),
    "fy": ("Do bist in behelpsume assistint. Antwurdzje yn it Frysk.", "Hoe iepenje ik in nij berjocht?"),
    "af": ("Jy is 'n behulpsame assistent. Antwoord in Afrikaans.", "Hoe maak ek 'n nuwe boodskap oop?"),
}
STEPS = ("dictionary", "corpus", "source model", "tokenizer", "trans-tokenize", "fine-tune", "baseline",
         "export", "evaluate", "examples")


@dataclass(frozen=True)
class DemoData:
    """Where one language's shipped files are and how to read them."""

    lang: str
    dictionaries: list[Path]
    dictionary_columns: Optional[list[str]]
    train: Path
    train_columns: Optional[tuple[int, int]]
    test: Path


@dataclass
class DemoSettings:
    """The knobs of a demo run; the defaults fit ``make demo`` in under 30 minutes on 2 cores."""

    budget_minutes: float = 8.0
    finetune_steps: Optional[int] = None  # overrides the minutes (the e2e test uses 2)
    finetune_options: dict = field(default_factory=dict)  # e.g. batch_size, seq_len, eval_every
    vocab_size: int = 8000
    method: str = "transtok"
    quant: str = "Q8_0"
    eval_limit: int = 40
    eval_systems: tuple[str, ...] = ("adapted", "adapted+glossary", "source", "wordbyword", "memory")
    eval_directions: tuple[str, ...] = ("en->xx",)
    chat_tokens: int = 60


def demo_data(lang: str, root: Optional[Path] = None) -> DemoData:
    """The files of one shipped language pair (see data/README.md)."""
    if lang not in LANGS:
        raise TaalkitError(f"the demo has data for {', '.join(LANGS)}, not {lang!r}")
    root = (root or data_root()) / lang
    if lang == "cy":
        return DemoData(lang, sorted((root / "dictd").glob("*.index")), None, root / "train_en_cy.tsv", None,
                        root / "test_en_cy.tsv")
    if lang == "af":
        return DemoData(lang, sorted((root / "dictd").glob("*.index")), None, root / "train_en_af.tsv", None,
                        root / "test_en_af.tsv")
    # Frisian: no FreeDict; a glossary ``en<TAB>fy<TAB>origin`` and triples ``en<TAB>fy<TAB>nl``.
    return DemoData(lang, [root / "glossary_en_fy.tsv"], ["source", "target", "origin"],
                    root / "train_en_fy_nl.tsv", (0, 1), root / "test_en_fy.tsv")


def default_demo_workspace() -> Path:
    """``./demo-workspace`` (gitignored in the checkout) unless ``-w`` says otherwise."""
    return Path.cwd() / "demo-workspace"


# -- the run ---------------------------------------------------------------------------------


class _Steps:
    """Runs named steps in order, reporting overall progress and keeping each step's wall time."""

    def __init__(self, ws: Workspace, progress: Optional[ProgressCallback], cancel: Optional[CancelToken]):
        self.ws = ws
        self.progress = progress
        self.cancel = cancel
        self.record: dict[str, Any] = ws.meta("demo", {}) or {}
        self.record.setdefault("times", {})
        self.reused: list[str] = []

    def run(self, index: int, name: str, done: Callable[[], bool], work: Callable[[], Any]) -> Any:
        if self.cancel is not None:
            self.cancel.check()
        if done():
            emit(self.progress, STAGE, index + 1, len(STEPS), f"{name}: already done, reusing it")
            self.reused.append(name)
            return None
        emit(self.progress, STAGE, index, len(STEPS), f"{name} …")
        started = time.perf_counter()
        result = work()
        self.record["times"][name] = round(time.perf_counter() - started, 1)
        self.ws.set_meta(demo=self.record)
        emit(self.progress, STAGE, index + 1, len(STEPS), f"{name}: done in {self.record['times'][name]:.0f} s")
        return result


def run_demo(ws_path: os.PathLike | str, *, lang: str = "cy", budget_minutes: float = 8.0,
             settings: Optional[DemoSettings] = None, data: Optional[Path] = None,
             progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Run (or continue) the demo pipeline in the workspace ``ws_path``; return the summary dict.

    ``settings`` overrides the defaults (``budget_minutes`` is a shortcut for its fine-tuning
    minutes). The workspace is created for ``en→lang`` if needed; one made for another pair
    is refused with a message naming a fresh folder.
    """
    settings = settings or DemoSettings(budget_minutes=budget_minutes)
    files = demo_data(lang, data)
    for path in [*files.dictionaries, files.train, files.test]:
        if not path.is_file():
            raise TaalkitError(f"{path}: demo data file is missing; restore data/ from the repository")
    started = time.perf_counter()
    ws = Workspace.init(ws_path, source="en", target=lang, name=f"demo-{lang}")
    try:
        summary = _run_steps(ws, files, settings, progress, cancel)
    finally:
        ws.close()
    summary["wall_s_this_run"] = round(time.perf_counter() - started, 1)
    return summary


def _run_steps(ws: Workspace, files: DemoData, settings: DemoSettings, progress, cancel) -> dict:
    steps = _Steps(ws, progress, cancel)
    db = ws.db

    def count(sql: str, args=()) -> int:
        return db.execute(sql, list(args)).fetchone()[0]

    # 1-2: words and text.
    steps.run(0, "dictionary", lambda: count("select count(*) from dictionaries") > 0,
              lambda: _import_dictionaries(ws, files, progress, cancel))
    steps.run(1, "corpus", lambda: count("select count(*) from corpora where kind = 'parallel'") > 0,
              lambda: _import_corpus(ws, files, progress, cancel))

    # 3-5: the model learns the new vocabulary.
    steps.run(2, "source model", lambda: ws.latest_model("source") is not None,
              lambda: _stage("kit.models", "add_model")(ws, "default", progress=progress, cancel=cancel))
    steps.run(3, "tokenizer", lambda: count("select count(*) from tokenizers") > 0,
              lambda: _stage("kit.tokenizer", "train_tokenizer")(ws, vocab_size=settings.vocab_size,
                                                                   progress=progress, cancel=cancel))
    steps.run(4, "trans-tokenize", lambda: count("select count(*) from models where role = 'transtok'") > 0,
              lambda: _stage("kit.transtok", "transtokenize")(ws, method=settings.method,
                                                               progress=progress, cancel=cancel))

    # 6: brief fine-tuning; an interrupted run continues from its checkpoint.
    def finetune_step():
        from .finetune import finetune, latest_unfinished_run

        if latest_unfinished_run(ws) is not None:
            return finetune(ws, resume=True, progress=progress, cancel=cancel)
        budget = ({"steps": settings.finetune_steps} if settings.finetune_steps is not None
                  else {"minutes": settings.budget_minutes})
        return finetune(ws, **budget, **settings.finetune_options, progress=progress, cancel=cancel)

    steps.run(5, "fine-tune", lambda: ws.latest_model("finetuned") is not None, finetune_step)

    # 7: the unadapted model on the same held-out text, so "before" means SmolLM2 as shipped.
    steps.run(6, "baseline", lambda: "source_bpc" in steps.record,
              lambda: steps.record.update(source_bpc=_source_bits_per_char(ws)))

    # 8: export the fine-tuned model for llama.cpp.
    steps.run(7, "export", lambda: _demo_export(ws, settings.quant) is not None,
              lambda: _stage("kit.gguf", "export_model")(ws, model=ws.latest_model("finetuned"),
                                                         quant=settings.quant, progress=progress, cancel=cancel))
    gguf = _demo_export(ws, settings.quant)

    # 9: chrF on the held-out test file, beside the baselines.
    test_name = ws.relative(files.test)

    def evaluated() -> bool:
        return count("select count(*) from evaluations where model = ? and test_file = ?",
                     [ws.relative(gguf), test_name]) > 0

    def evaluate_step():
        from .evaluate import evaluate

        return evaluate(ws, files.test, model_path=gguf, systems=settings.eval_systems,
                        directions=settings.eval_directions, limit=settings.eval_limit,
                        progress=progress, cancel=cancel)

    steps.run(8, "evaluate", evaluated, evaluate_step)

    # 10: show it: translations and a chat reply from the exported GGUF (always fresh; they are the point).
    emit(progress, STAGE, 9, len(STEPS), "examples: translating and chatting with the exported model")
    t0 = time.perf_counter()
    examples = _examples(ws, gguf, files, settings, cancel)
    steps.record["times"]["examples"] = round(time.perf_counter() - t0, 1)
    ws.set_meta(demo=steps.record)
    emit(progress, STAGE, len(STEPS), len(STEPS), "examples: done")

    summary = _summary(ws, files.lang, gguf, test_name, steps, examples, settings)
    with atomic_path(ws.exports_dir / "demo-summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return summary


def _demo_export(ws: Workspace, quant: str) -> Optional[Path]:
    """The GGUF of the newest fine-tuned model in ``quant``, if it was exported and is on disk."""
    model = ws.latest_model("finetuned")
    row = ws.latest_export(model, quant) if model else None
    path = row["file"] if row else None
    return path if path is not None and path.is_file() else None


def _source_bits_per_char(ws) -> float:
    """Bits per character of the source model, with its own tokenizer, on the fine-tuning run's held-out text."""
    import torch

    from .corpus import target_texts
    from .metrics import bits_per_char
    from .models import load_model, load_tokenizer

    run = ws.db.execute("select config from runs where kind = 'finetune' and status = 'finished' "
                        "order by id desc limit 1").fetchone()
    config = json.loads(run[0]) if run and run[0] else {}
    texts = target_texts(ws, "heldout")[: int(config.get("heldout_limit", 100))]
    folder = ws.model_dir(ws.latest_model("source"))
    model = load_model(folder, device="cpu", dtype=torch.float32)
    tokenizer = load_tokenizer(folder)
    value = bits_per_char(model, tokenizer, texts, max_length=int(config.get("seq_len", 256)), batch_size=8)
    del model
    return round(value, 4)


def _stage(module: str, name: str) -> Callable:
    """A stage function by name; a clear message if this kit was installed without it."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as err:
        if "torch" in str(err) or "transformers" in str(err):
            raise TaalkitError("the demo adapts a model, which needs the workbench tier: "
                               "pip install 'taalkit[train]'") from None
        raise
    except AttributeError:
        raise TaalkitError(f"this taalkit has no {module}.{name}; update the kit") from None


def _import_dictionaries(ws, files: DemoData, progress, cancel):
    from .dictionary import import_files

    return import_files(ws, files.dictionaries, columns=files.dictionary_columns, progress=progress, cancel=cancel)


def _import_corpus(ws, files: DemoData, progress, cancel):
    from .corpus import import_corpus

    return import_corpus(ws, files.train, kind="parallel", columns=files.train_columns,
                         progress=progress, cancel=cancel)


def _examples(ws, gguf: Path, files: DemoData, settings: DemoSettings, cancel) -> dict:
    """Three test sentences translated by the exported model, and a chat reply in the target language."""
    from .evaluate import read_test_pairs
    from .infer.chat import ChatSession
    from .infer.engine import load_llama
    from .infer.translate import Translator

    llm = load_llama(gguf, n_ctx=1024)
    translator = Translator(ws, llm=llm, model_path=gguf)
    translations = []
    for en, reference in read_test_pairs(files.test, limit=3):
        # Without the glossary: on the demo budget the bare adapted model scores higher (see the chrF table).
        result = translator.translate(en, to=ws.target_lang, glossary=False, cancel=cancel)
        translations.append({"source": en, "reference": reference, "hypothesis": result.text,
                             "glossary": len(result.glossary_entries)})
    name = language_name(ws.target_lang)
    system, prompt = CHAT_PROMPTS.get(ws.target_lang, (f"You are a helpful assistant. Answer in {name}.", "Hello!"))
    chat = ChatSession(llm, ws=ws, temperature=0.0, seed=0, max_tokens=settings.chat_tokens, system_prompt=system)
    reply = chat.send(prompt, cancel=cancel)
    text = "".join(reply)
    return {"translations": translations,
            "chat": {"prompt": prompt, "reply": text.strip(), "tokens_per_s": round(reply.tokens_per_s, 1)}}


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _summary(ws, lang, gguf: Path, test_name: str, steps: _Steps, examples: dict, settings: DemoSettings) -> dict:
    source = ws.latest_model("source")
    finetuned = ws.latest_model("finetuned")
    extra = json.loads(finetuned.get("extra") or "{}") if finetuned else {}
    tok = ws.latest_tokenizer()
    evals = {}
    for system, direction, metric, value in ws.db.execute(
            "select system, direction, metric, value from evaluations where test_file = ? "
            "and (model = ? or model in ('dictionary', 'translation memory') or system like 'source%') order by id",
            [test_name, ws.relative(gguf)]):
        evals.setdefault(f"{system} {direction}", {})[metric] = value
    return {
        "lang": lang, "workspace": str(ws.root),
        "times_s": steps.record["times"], "reused": steps.reused,
        "sizes": {
            "source model (safetensors)": _dir_bytes(ws.model_dir(source)) if source else None,
            "fine-tuned model (safetensors)": _dir_bytes(ws.model_dir(finetuned)) if finetuned else None,
            f"GGUF {settings.quant}": gguf.stat().st_size,
            "workspace database": ws.db_path.stat().st_size,
        },
        "tokenizer_vocab": tok["vocab_size"] if tok else None,
        "source_vocab": source.get("vocab_size") if source else None,
        "finetune": {k: extra.get(k) for k in ("steps", "bpc_start", "bpc_end", "tokens_per_s", "train_seconds")},
        "bits_per_char": {"source model (English tokenizer)": steps.record.get("source_bpc"),
                          "after trans-tokenization": extra.get("bpc_start"),
                          "after fine-tuning": extra.get("bpc_end")},
        "chrf": evals,
        "gguf": str(gguf),
        **examples,
    }


def format_summary(summary: dict) -> str:
    """The table ``taalkit demo`` prints at the end: what was made, how long it took, how good it is."""
    lines = [f"taalkit demo: en→{summary['lang']} ({language_name(summary['lang'])}) in {summary['workspace']}", ""]
    lines.append("Example translations by the exported GGUF (held-out test lines):")
    for t in summary["translations"]:
        lines += [f"  en:   {t['source']}", f"  ref:  {t['reference']}", f"  ours: {t['hypothesis']}", ""]
    chat = summary["chat"]
    lines += ["Chat:", f"  you:   {chat['prompt']}", f"  model: {chat['reply']}",
              f"  ({chat['tokens_per_s']} tokens/s)", ""]
    rows = [("step", "seconds")]
    rows += [(name, f"{secs:.0f}") for name, secs in summary["times_s"].items()]
    rows.append(("total", f"{sum(summary['times_s'].values()):.0f}"))
    lines += _table(rows) + [""]
    rows = [("size", "bytes")] + [(k, human_bytes(v)) for k, v in summary["sizes"].items() if v is not None]
    rows.append(("vocabulary source → target", f"{summary['source_vocab']} → {summary['tokenizer_vocab']}"))
    lines += _table(rows) + [""]
    rows = [("held-out bits per character", "value")]
    rows += [(k, "n/a" if v is None else f"{v:.3f}") for k, v in summary["bits_per_char"].items()]
    lines += _table(rows) + [""]
    rows = [("system (test set)", "chrF", "chrF++")]
    for name, metrics in summary["chrf"].items():
        rows.append((name, _num(metrics.get("chrF")), _num(metrics.get("chrF++"))))
    lines += _table(rows)
    if summary.get("reused"):
        lines += ["", f"reused from an earlier run: {', '.join(summary['reused'])}"]
    return "\n".join(lines)


def _num(value) -> str:
    return "skipped" if value is None else f"{value:.1f}"


def _table(rows: list[tuple]) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                    for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


__all__ = ["run_demo", "format_summary", "demo_data", "DemoSettings", "LANGS", "default_demo_workspace"]
