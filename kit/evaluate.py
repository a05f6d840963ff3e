"""How good is the adapted model? chrF / chrF++ on held-out pairs, beside the baselines, in one run.

Systems (each in both directions):
- ``adapted`` / ``adapted+glossary``: the workspace's newest exported GGUF (or ``model_path``),
  without and with the dictionary glossary in the prompt;
- ``source`` / ``source+glossary``: the unadapted SmolLM2 GGUF the kit ships, same prompts;
- ``wordbyword``: the dictionary alone, word for word.

So a user sees what adaptation bought and what the glossary adds. Every score is stored in
``evaluations`` (one row per model, system, direction and metric) so runs can be compared.
Runtime tier: llama.cpp only, no torch.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Optional, Sequence

from .errors import InputFormatError, TaalkitError
from .metrics import chrf
from .progress import CancelToken, ProgressCallback, emit
from .dictionary.textfile import iter_lines
from .workspace import now

SYSTEMS = ("adapted", "adapted+glossary", "source", "source+glossary", "wordbyword")
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
    if name not in table:
        raise TaalkitError(f"unknown direction {name!r}; use en->xx or xx->en")
    return table[name]


def evaluate(ws, test_file: os.PathLike | str, *, model_path: Optional[os.PathLike | str] = None,
             source_model_path: Optional[os.PathLike | str] = None,
             systems: Sequence[str] = SYSTEMS, directions: Sequence[str] = DIRECTIONS,
             limit: Optional[int] = None, n_ctx: int = 1024, bits_per_char: bool = False,
             progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> list[dict]:
    """Score every (system, direction) on ``test_file``; returns one dict per pair, stored in the DB.

    Each dict: ``system, direction, model, chrf, chrf_pp, n, seconds, glossary_entries`` (mean per
    sentence), plus ``skipped`` (a reason) when a system could not run, e.g. no adapted model yet.
    With ``bits_per_char``, one more row per model: ``bits_per_char`` of the held-out target-language
    side (``direction`` = the target language), computed in llama.cpp.
    """
    from .infer.default_model import default_model_gguf, latest_export_gguf
    from .infer.engine import load_llama
    from .infer.glossary import DictionaryLookup
    from .infer.translate import Translator
    from .infer.wordbyword import word_by_word

    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise TaalkitError(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    pairs = read_test_pairs(test_file, limit)
    dirs = [(d, *_resolve_direction(ws, d)) for d in directions]
    has_dictionary = bool(ws.db.execute("select 1 from entries limit 1").fetchone())

    models: dict[str, Optional[Path]] = {}
    adapted = Path(model_path) if model_path else latest_export_gguf(ws)
    if model_path and not adapted.is_file():
        raise TaalkitError(f"{adapted}: no such GGUF file")
    models["adapted"] = adapted if adapted and adapted.is_file() else None
    if source_model_path:
        models["source"] = Path(source_model_path)
    elif any(s.split("+")[0] == "source" for s in systems):  # the embedded model is optional otherwise
        models["source"] = default_model_gguf()

    test_name = ws.relative(test_file)
    results: list[dict] = []
    total_units = len(systems) * len(dirs) * len(pairs)
    done = 0
    translators: dict[str, Translator] = {}
    memo: dict[tuple, tuple[str, int]] = {}
    for system in systems:
        family = system.split("+")[0]
        use_glossary = system.endswith("+glossary")
        model = models.get(family)
        for name, src, tgt in dirs:
            row = {"system": system, "direction": f"{src}->{tgt}", "model": "", "n": len(pairs),
                   "chrf": None, "chrf_pp": None, "seconds": 0.0, "glossary_entries": 0.0}
            if family != "wordbyword" and model is None:
                row["skipped"] = "no exported model; run 'taalkit export' or pass --model"
            elif (family == "wordbyword" or use_glossary) and not has_dictionary:
                row["skipped"] = "no dictionary in the workspace; import one with 'taalkit dict import'"
            if "skipped" in row:
                results.append(row)
                done += len(pairs)
                emit(progress, "evaluate", done, total_units, f"{system} {src}->{tgt}: skipped")
                continue
            started = time.perf_counter()
            if family == "wordbyword":
                row["model"] = "dictionary"
                lookup = DictionaryLookup(ws, src, tgt)
                system_fn = lambda text: (word_by_word(ws, text, source_lang=src, target_lang=tgt,  # noqa: E731
                                                       lookup=lookup), 0)
            else:
                row["model"] = ws.relative(model)
                if family not in translators:
                    translators[family] = Translator(ws, llm=load_llama(model, n_ctx=n_ctx), model_path=model)
                system_fn = _model_system(translators[family], model, tgt, use_glossary, memo)
            hyps, refs, n_entries = [], [], 0
            for en_text, xx_text in pairs:
                if cancel is not None:
                    cancel.check()
                source_text, reference = (en_text, xx_text) if src == ws.source_lang else (xx_text, en_text)
                hyp, entries = system_fn(source_text)
                hyps.append(hyp)
                refs.append(reference)
                n_entries += entries
                done += 1
                emit(progress, "evaluate", done, total_units, f"{system} {src}->{tgt}")
            row["chrf"] = round(chrf(hyps, refs), 2)
            row["chrf_pp"] = round(chrf(hyps, refs, word_order=2), 2)
            row["seconds"] = round(time.perf_counter() - started, 1)
            row["glossary_entries"] = round(n_entries / len(pairs), 2)
            row["examples"] = [{"source": s, "reference": r, "hypothesis": h}
                               for s, r, h in zip([p[0] if src == ws.source_lang else p[1] for p in pairs[:3]],
                                                  refs[:3], hyps[:3])]
            _store(ws, row, test_name, use_glossary)
            results.append(row)
    if bits_per_char:
        results += _bits_per_char_rows(ws, pairs, models, systems, test_name, cancel)
    return results


def _bits_per_char_rows(ws, pairs, models, systems, test_name, cancel) -> list[dict]:
    """Held-out bits per char of the target-language side, once per model (not per prompt variant)."""
    from .infer.perplexity import gguf_bits_per_char

    rows = []
    families = list(dict.fromkeys(s.split("+")[0] for s in systems if s != "wordbyword"))
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


def _model_system(translator, model: Path, target: str, use_glossary: bool, memo: dict):
    """text -> (translation, glossary entries used), memoised per model file and prompt variant.

    Greedy decoding is deterministic: the same GGUF, prompt and settings give the same output,
    so when "adapted" is the source GGUF itself (no export yet) its work is not done twice.
    """
    model_key = str(Path(model).resolve())

    def run(text: str) -> tuple[str, int]:
        key = (model_key, text, target, use_glossary)
        if key not in memo:
            result = translator.translate(text, to=target, glossary=use_glossary)
            memo[key] = (result.text, len(result.glossary_entries))
        return memo[key]

    return run


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
