"""How good is the adapted model? chrF / chrF++ on held-out pairs, beside the baselines, in one run.

Systems (each in both directions):
- ``adapted`` / ``adapted+glossary``: the workspace's newest exported GGUF (or ``model_path``),
  without and with the dictionary glossary in the prompt;
- ``source`` / ``source+glossary``: the unadapted SmolLM2 GGUF the kit ships, same prompts;
- ``wordbyword``: the dictionary alone, word for word;
- ``memory``: the workspace's translation memory alone (the translation of the most similar
  training pair, kit.infer.memory).

So a user sees what adaptation bought, what the glossary adds, and both parents the translator
combines (dictionary and parallel text). Every score is stored in
``evaluations`` (one row per model, system, direction and metric) so runs can be compared.
Runtime tier: llama.cpp only, no torch.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from .errors import InputFormatError, TaalkitError
from .chrf import chrf
from .progress import CancelToken, ProgressCallback, emit
from .textio.files import iter_lines
from .workspace import now



@dataclass(frozen=True)
class System:
    """One row of the evaluation: which model translates (none: a lookup), with or without the glossary."""

    name: str
    model: Optional[str] = None  # "adapted" | "source"; None: no model, a lookup in the workspace
    glossary: bool = False
    needs: str = ""  # "dictionary" | "parallel text": what the workspace must hold for it to run

    def lookup(self, ws, source: str, target: str) -> Callable[[str], str]:
        """The model-free systems: text -> translation."""
        if self.name == "wordbyword":
            from .infer.glossary import DictionaryLookup
            from .infer.wordbyword import word_by_word

            lookup = DictionaryLookup(ws, source, target)
            return lambda text: word_by_word(ws, text, source_lang=source, target_lang=target, lookup=lookup)
        from .infer.memory import closest_translation, workspace_memory

        memory = workspace_memory(ws, source, target)
        return lambda text: closest_translation(memory, text)


SYSTEM_TABLE = {s.name: s for s in (
    System("adapted", "adapted"), System("adapted+glossary", "adapted", glossary=True, needs="dictionary"),
    System("source", "source"), System("source+glossary", "source", glossary=True, needs="dictionary"),
    System("wordbyword", needs="dictionary"), System("memory", needs="parallel text"),
)}
SYSTEMS = tuple(SYSTEM_TABLE)
#: Lines decoded together; bench/eval_speed.py measures the speed-up over one at a time.
PARALLEL = 8
DIRECTIONS = ("en->xx", "xx->en")


def read_test_pairs(path: os.PathLike | str, limit: Optional[int] = None) -> list[tuple[str, str]]:
    """``source<TAB>target`` pairs (source = the workspace's source language, e.g. en<TAB>cy)."""
    path = Path(path)
    if not path.is_file():
        raise TaalkitError(f"{path}: no such test file")
    pairs = []
    for number, line in iter_lines(path):  # the importers' reader: encodings, BOM, bad bytes by line
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
            raise InputFormatError(path, number, f"expected 'source<TAB>target', found {len(cols)} column(s)")
        pairs.append((cols[0].strip(), cols[1].strip()))
        if limit is not None and len(pairs) >= limit:
            break
    if not pairs:
        raise InputFormatError(path, 0, "no test pairs in the file")
    return pairs


def _resolve_direction(ws, name: str) -> tuple[str, str]:
    src, tgt = ws.source_lang, ws.target_lang
    table = {"en->xx": (src, tgt), "xx->en": (tgt, src), f"{src}->{tgt}": (src, tgt), f"{tgt}->{src}": (tgt, src)}
    if name not in table:  # en->xx / xx->en stay accepted (older scripts) but are not advertised
        raise TaalkitError(f"unknown direction {name!r}; this workspace's directions are {src}->{tgt} and "
                           f"{tgt}->{src}")
    return table[name]


def evaluate(ws, test_file: os.PathLike | str, *, model_path: Optional[os.PathLike | str] = None,
             source_model_path: Optional[os.PathLike | str] = None,
             systems: Sequence[str] = SYSTEMS, directions: Sequence[str] = DIRECTIONS,
             limit: Optional[int] = None, n_ctx: int = 1024, bits_per_char: bool = False,
             parallel: int = PARALLEL,
             progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> list[dict]:
    """Score every (system, direction) on ``test_file``; returns one dict per pair, stored in the DB.

    Each dict: ``system, direction, model, chrf, chrf_pp, n, seconds, glossary_entries`` (mean per
    sentence), plus ``skipped`` (a reason) when a system could not run, e.g. no adapted model yet.
    With ``bits_per_char``, one more row per model: ``bits_per_char`` of the held-out target-language
    side (``direction`` = the target language), computed in llama.cpp.

    ``parallel`` lines are decoded together by one llama.cpp context (kit.infer.batch); 1 is the
    one-at-a-time path of ``Translator.translate``. Progress events carry ``eta_s`` from the
    measured seconds per model translation (the word-by-word systems cost nothing), and the first
    measured batch sends one event with ``estimate_s``, the whole run's expected time.
    """
    from .infer.default_model import default_model_gguf, latest_export_gguf
    from .infer.engine import load_llama
    from .infer.translate import Translator

    unknown = [s for s in systems if s not in SYSTEM_TABLE]
    if unknown:
        raise TaalkitError(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    chosen = [SYSTEM_TABLE[s] for s in systems]
    pairs = read_test_pairs(test_file, limit)
    dirs = [(d, *_resolve_direction(ws, d)) for d in directions]
    has = {"dictionary": bool(ws.db.execute("select 1 from entries limit 1").fetchone()),
           "parallel text": bool(ws.db.execute(
               "select 1 from segments where kind = 'parallel' and split = 'train' limit 1").fetchone()),
           "": True}

    models: dict[str, Optional[Path]] = {}
    adapted = Path(model_path) if model_path else latest_export_gguf(ws)
    if model_path and not adapted.is_file():
        raise TaalkitError(f"{adapted}: no such GGUF file")
    models["adapted"] = adapted if adapted and adapted.is_file() else None
    if source_model_path:
        models["source"] = Path(source_model_path)
    elif any(s.model == "source" for s in chosen):  # the embedded model is optional otherwise
        models["source"] = default_model_gguf()

    test_name = ws.relative(test_file)
    results: list[dict] = []
    model_units = sum(len(pairs) for s in chosen for _ in dirs if s.model and models.get(s.model))
    clock = _Clock(model_units)
    total_units = len(chosen) * len(dirs) * len(pairs)
    done = 0
    translators: dict[str, Translator] = {}
    generators: dict = {}
    memo: dict[tuple, tuple[str, int]] = {}
    try:
        for system in chosen:
            model = models.get(system.model) if system.model else None
            for name, src, tgt in dirs:
                row = {"system": system.name, "direction": f"{src}->{tgt}", "model": "", "n": len(pairs),
                       "chrf": None, "chrf_pp": None, "seconds": 0.0, "glossary_entries": 0.0}
                if system.model and model is None:
                    row["skipped"] = _no_export(ws)
                elif not has[system.needs]:
                    row["skipped"] = _missing(system.needs)
                if "skipped" in row:
                    results.append(row)
                    done += len(pairs)
                    emit(progress, "evaluate", done, total_units, f"{system.name} {src}->{tgt}: skipped")
                    continue
                started = time.perf_counter()
                sources = [en if src == ws.source_lang else xx for en, xx in pairs]
                refs = [xx if src == ws.source_lang else en for en, xx in pairs]
                if system.model is None:
                    row["model"] = "dictionary" if system.needs == "dictionary" else "translation memory"
                    translate_one = system.lookup(ws, src, tgt)
                    outputs = []
                    for text in sources:
                        if cancel is not None:
                            cancel.check()
                        outputs.append((translate_one(text), 0))
                    done += len(pairs)
                    emit(progress, "evaluate", done, total_units, f"{system.name} {src}->{tgt}",
                         **clock.metrics())
                else:
                    row["model"] = ws.relative(model)
                    if system.model not in translators:
                        translators[system.model] = Translator(ws, llm=load_llama(model, n_ctx=n_ctx),
                                                               model_path=model)
                    base = done

                    def tick(k: int, label=f"{system.name} {src}->{tgt}", base=base) -> None:
                        first = clock.tick()
                        emit(progress, "evaluate", base + k, total_units, label, **clock.metrics(first))

                    outputs = _model_outputs(translators[system.model], model, sources, tgt, system.glossary,
                                             memo, parallel, generators, n_ctx, tick, cancel)
                    done += len(pairs)
                hyps = [h for h, _ in outputs]
                n_entries = sum(e for _, e in outputs)
                row["chrf"] = round(chrf(hyps, refs), 2)
                row["chrf_pp"] = round(chrf(hyps, refs, word_order=2), 2)
                row["seconds"] = round(time.perf_counter() - started, 1)
                row["glossary_entries"] = round(n_entries / len(pairs), 2)
                row["examples"] = [{"source": s, "reference": r, "hypothesis": h}
                                   for s, r, h in zip(sources[:3], refs[:3], hyps[:3])]
                _store(ws, row, test_name, system.glossary)
                results.append(row)
    finally:
        for generator in generators.values():
            generator.close()
    if bits_per_char:
        results += _bits_per_char_rows(ws, pairs, models, systems, test_name, cancel)
    return results


def _bits_per_char_rows(ws, pairs, models, systems, test_name, cancel) -> list[dict]:
    """Held-out bits per char of the target-language side, once per model (not per prompt variant)."""
    from .infer.perplexity import gguf_bits_per_char

    rows = []
    families = list(dict.fromkeys(SYSTEM_TABLE[s].model for s in systems if SYSTEM_TABLE[s].model))
    texts = [target for _source, target in pairs]
    for family in families:
        model = models.get(family)
        if model is None:
            continue
        started = time.perf_counter()
        value = gguf_bits_per_char(model, texts, cancel=cancel)
        row = {"system": family, "direction": ws.target_lang, "model": ws.relative(model), "n": len(texts),
               "bits_per_char": round(value, 4), "seconds": round(time.perf_counter() - started, 1)}
        ws.db["evaluations"].insert({
            "model": row["model"], "system": family, "test_file": test_name, "direction": ws.target_lang,
            "metric": "bits_per_char", "value": value, "glossary": 0,
            "details": json.dumps({"n": len(texts), "seconds": row["seconds"]}), "created_at": now()})
        rows.append(row)
    return rows


def _missing(what: str) -> str:
    if what == "dictionary":
        return "no dictionary in the workspace; import one with 'taalkit dict import'"
    return "no parallel text in the workspace; import some with 'taalkit corpus import'"


def _no_export(ws) -> str:
    current = ws.current_model()
    if current is None:
        return "no exported model; run 'taalkit export' or pass --model"
    return f"no export of the current model {current['name']}; run 'taalkit export' or pass --model"


class _Clock:
    """Seconds per model translation, measured as they finish, for an ETA over what is left."""

    def __init__(self, units: int) -> None:
        self.units, self.done = units, 0
        self.started = time.perf_counter()
        self.announced = False

    def tick(self) -> bool:
        """Count one model translation; True once, when the first batch gives a rate worth telling."""
        self.done += 1
        if not self.announced and (self.done >= min(PARALLEL, self.units)):
            self.announced = True
            return True
        return False

    def metrics(self, first: bool = False) -> dict:
        if not self.done:
            return {}
        per = (time.perf_counter() - self.started) / self.done
        left = per * max(0, self.units - self.done)
        out = {"eta_s": round(left, 1)}
        if first:
            out["estimate_s"] = round(per * self.units, 1)
        return out


def _model_outputs(translator, model: Path, texts: list[str], target: str, use_glossary: bool, memo: dict,
                   parallel: int, generators: dict, n_ctx: int, tick, cancel) -> list[tuple[str, int]]:
    """(translation, glossary entries used) per text, memoised per model file and prompt variant.

    Greedy decoding is deterministic: the same GGUF, prompt and settings give the same output,
    so when "adapted" is the source GGUF itself (no export yet) its work is not done twice.
    With ``parallel`` > 1 the texts not in the memo are decoded together (kit.infer.batch).
    """
    model_key = str(Path(model).resolve())
    keys = [(model_key, text, target, use_glossary) for text in texts]
    todo_keys = [key for key in dict.fromkeys(keys) if key not in memo]
    finished = len(keys) - len(todo_keys)
    for k in range(finished):
        tick(k + 1)
    if todo_keys and parallel > 1:
        from .infer.batch import BatchGenerator, translate_many

        if model_key not in generators:
            generators[model_key] = BatchGenerator(translator.llm, n_seq=parallel, ctx_per_seq=n_ctx)
        count = [finished]

        def one_done(_i: int) -> None:
            count[0] += 1
            tick(count[0])

        results = translate_many(translator, [key[1] for key in todo_keys], to=target, glossary=use_glossary,
                                 generator=generators[model_key], cancel=cancel, on_done=one_done)
        for key, result in zip(todo_keys, results):
            memo[key] = (result.text, len(result.glossary_entries))
    else:
        for n, key in enumerate(todo_keys, start=finished + 1):
            if cancel is not None:
                cancel.check()
            result = translator.translate(key[1], to=target, glossary=use_glossary)
            memo[key] = (result.text, len(result.glossary_entries))
            tick(n)
    return [memo[key] for key in keys]


def _store(ws, row: dict, test_name: str, use_glossary: bool) -> None:
    details = json.dumps({k: row[k] for k in ("n", "seconds", "glossary_entries", "examples")}, ensure_ascii=False)
    created = now()
    ws.db["evaluations"].insert_all([
        {"model": row["model"], "system": row["system"], "test_file": test_name, "direction": row["direction"],
         "metric": metric, "value": row[key], "glossary": int(use_glossary), "details": details,
         "created_at": created}
        for metric, key in (("chrF", "chrf"), ("chrF++", "chrf_pp"))
    ])


def past_evaluations(ws, limit: int = 200) -> list[dict]:
    """Stored scores, newest first, for comparing runs (TUI, ``taalkit eval --history``)."""
    cols = ("id", "model", "system", "test_file", "direction", "metric", "value", "glossary", "created_at")
    rows = ws.db.execute(f"select {', '.join(cols)} from evaluations order by id desc limit ?", [limit])
    return [dict(zip(cols, r)) for r in rows]
