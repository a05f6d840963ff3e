"""Hydra translation against the same model's plain answers (issue 19, lever 2), in torch.

    nice -n 10 .venv/bin/python bench/hydra.py --workspace /tmp/hydra/cy-draft-10   # both models, 100 lines
    nice -n 10 .venv/bin/python bench/hydra.py --drafts off --engine gguf             # the union GGUF instead
    nice -n 10 .venv/bin/python bench/hydra.py --models finetuned-1 --translator "own answers,kit default"
    .venv/bin/python bench/hydra.py --report                                        # table into RESULTS.md

The workspace is only read; make it a copy (bench/translation_quality.clone of a trained one, e.g.
/tmp/tq/cy-draft-10). ``--translator`` runs the kit's Translator (``hydra=`` off and on) on the union
GGUF, as ``taalkit eval`` does, and records whose text each answer is (model, draft, memory).

The seed paper's zero-shot translation: one body, two tables. A trans-tokenized model keeps the
source model's table and tokenizer beside it (kit.transtok.init); "Hydra" reads the English side of a
request through them (what the body was pretrained on) and the Welsh side through the target table,
and generates the answer through the head of the answer's language, masked to that language's ids
(kit.infer.hydra: the union vocabulary, source ids first, target ids after them).

"Plain" is the same model's own answer as the kit asks for it today: the whole request through the
target tokenizer and table, answer through the target head. Both read the same request words (the
translator's: chat template, ``Translate to Welsh: …``, the word-by-word draft when the workspace's
fine-tune trained with it), decode greedily with the translator's guard (no repeated 4-gram, no
echoed "Translate" first token), the same token budget (``min(512, 2 × the text's target tokens +
16)``), the same early stop and the same clean-up (kit.infer.translate.clean_output); nothing is
replaced afterwards (no fallback, no consensus): the model's own answers.

Measured on every model of the workspace that is trans-tokenized or fine-tuned from one (step 0 and
the fine-tuned model), both directions, on the first ``--lines`` lines of data/<lang>/test_en_<lang>.tsv,
chrF (kit.metrics.chrf). Rows are appended to ``<root>/rows.jsonl``.

The forward is torch (transformers' body fed ``inputs_embeds`` from the union table, logits from the
union head): both systems run on the same loaded weights in float32, eight lines at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BATCH = 8


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class TorchEngine:
    """Greedy decoding on the torch union model (kit.gguf.hydra.TorchHydra), eight lines at a time."""

    def __init__(self, model_dir: Path, source_dir: Path, threads: int = 2) -> None:
        from kit.gguf.hydra import TorchHydra
        from kit.infer.hydra import HydraVocab

        self.model = TorchHydra(model_dir, source_dir, threads=threads)
        self.vocab = HydraVocab.from_dirs(source_dir, model_dir, self.model.n_source,
                                          self.model.embed.shape[0] - self.model.n_source)

    def answer(self, jobs) -> list[str]:
        out = []
        for i in range(0, len(jobs), BATCH):
            out += self._batch(jobs[i:i + BATCH])
        return out

    def _batch(self, jobs):
        """Left-padded prompts (union ids); each answer masked to its side's ids, run through its
        processors (kit.infer.engine's numpy logits processors), stopped at the side's end-of-turn,
        the budget, or the translator's early stop."""
        import numpy as np
        import torch
        from transformers import DynamicCache

        from kit.infer.translate import clean_output

        n = len(jobs)
        prompts = [j.ids for j in jobs]
        width = max(len(p) for p in prompts)
        ids = torch.zeros((n, width), dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for b, p in enumerate(prompts):
            ids[b, width - len(p):] = torch.tensor(p)
            mask[b, width - len(p):] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        answers = [[] for _ in range(n)]
        texts = [""] * n
        done = [False] * n
        m = self.model
        with torch.no_grad():
            out = m.body(inputs_embeds=m.embeddings(ids), attention_mask=mask, position_ids=pos,
                         past_key_values=cache, use_cache=True)
            for _step in range(max(j.budget for j in jobs)):
                logits = (out.last_hidden_state[:, -1] @ m.head.T).numpy()
                nxt = []
                for b, job in enumerate(jobs):
                    if done[b]:
                        nxt.append(0)
                        continue
                    lo, hi = self.vocab.span(job.side)
                    scores = np.full(logits.shape[1], -np.inf, dtype=np.float32)
                    scores[lo:hi] = logits[b, lo:hi]
                    seen = np.asarray(prompts[b] + answers[b])
                    for proc in job.processors:
                        scores = proc(seen, scores)
                    tok = int(np.argmax(scores))
                    nxt.append(tok)
                    if tok in self.vocab.stop_ids(job.side):
                        done[b] = True
                        continue
                    answers[b].append(tok)
                    so_far = b"".join(self.vocab.piece(t) for t in answers[b]).decode("utf-8", errors="ignore")
                    piece = so_far[len(texts[b]):]
                    texts[b] = so_far
                    if len(answers[b]) >= job.budget or job.stop(so_far, piece):
                        done[b] = True
                if all(done):
                    break
                mask = torch.cat([mask, torch.ones((n, 1), dtype=torch.long)], dim=1)
                pos = pos[:, -1:] + 1
                out = m.body(inputs_embeds=m.embeddings(nxt)[:, None], attention_mask=mask,
                             position_ids=pos, past_key_values=cache, use_cache=True)
        return [clean_output(t, j.single_line) for t, j in zip(texts, jobs)]


class GgufEngine:
    """The runtime path: the union GGUF (kit.gguf.hydra) in llama.cpp, token-id prompts through the
    kit's batched generator, the answer side masked by kit.infer.hydra.SideMask."""

    def __init__(self, path: Path, threads: int = 2) -> None:
        from kit.infer.batch import BatchGenerator
        from kit.infer.engine import load_llama
        from kit.infer.hydra import HydraVocab

        self.llm = load_llama(path, n_ctx=1024, n_threads=threads)
        self.vocab = HydraVocab.from_gguf(self.llm)
        self.generator = BatchGenerator(self.llm, n_seq=BATCH, ctx_per_seq=1024)

    def answer(self, jobs) -> list[str]:
        from kit.infer.hydra import SOURCE, TARGET, SideMask
        from kit.infer.translate import clean_output

        eos = min(self.vocab.stop_ids(SOURCE))
        procs = [[SideMask(self.vocab.span(j.side), self.vocab.stop_ids(j.side), eos if j.side == TARGET else None)]
                 + j.processors for j in jobs]
        raw = self.generator.generate([j.ids for j in jobs], [j.budget for j in jobs], stop=[j.stop for j in jobs],
                                      processors=procs, detokenize=self.vocab.piece)
        return [clean_output(t, j.single_line) for t, j in zip(raw, jobs)]


@dataclass
class Job:
    ids: list
    budget: int
    processors: list
    single_line: bool
    side: str

    def stop(self, so_far: str, piece: str) -> bool:
        """kit.infer.translate.Plan.stop_early: looping, or a complete one-line answer."""
        from kit.infer.translate import clean_output, stuck_in_loop

        return stuck_in_loop(so_far) or (self.single_line and "\n" in piece and (
            so_far.count("\n") >= 3 or bool(clean_output(so_far, True))))


def system(ws, engine, template, *, hydra: bool, draft: bool):
    """``run(texts, to) -> [answer, ...]``: the model's own answers, Hydra or plain."""
    from kit.infer.engine import BanFirst, NoRepeatNGram
    from kit.infer.glossary import DictionaryLookup
    from kit.infer.hydra import SOURCE, TARGET, request_segments
    from kit.infer.translate import GUARD_NGRAM, direction
    from kit.infer.wordbyword import word_by_word

    vocab = engine.vocab

    def run(texts, to):
        src, tgt = direction(ws, to)
        lookup = DictionaryLookup(ws, src, tgt)
        side = (SOURCE if tgt == ws.source_lang else TARGET) if hydra else TARGET
        ban = {vocab.encode(side, w)[0] for w in ("Translate", " Translate")}
        jobs = []
        for text in texts:
            shown = word_by_word(ws, text, source_lang=src, target_lang=tgt, lookup=lookup) if draft else None
            segments = request_segments(template, text, source=src, target=tgt, ws_source=ws.source_lang,
                                        draft=shown)
            ids = vocab.encode_segments(segments) if hydra else vocab.encode(TARGET, "".join(s.text for s in segments))
            procs = [NoRepeatNGram(GUARD_NGRAM)]
            if not text.lstrip().lower().startswith("translate"):
                procs.append(BanFirst(ban))
            jobs.append(Job(ids, min(512, 2 * len(vocab.encode(TARGET, text)) + 16), procs,
                            "\n" not in text.strip(), side))
        return [" ".join(a.split()) for a in engine.answer(jobs)]

    return run


# Translator keyword arguments (bench/translation_quality.py's names), each run with hydra off and on.
TRANSLATOR_VARIANTS = {"own answers": {"fallback": False, "consensus": False}, "kit default": {}}


def translator_system(ws, llm, generator, path, *, hydra: bool, levers: dict):
    """The kit's translator (kit.infer.batch.translate_many, as ``taalkit eval`` runs it) on the union GGUF."""
    from kit.infer.batch import translate_many
    from kit.infer.translate import Translator

    translator = Translator(ws, llm=llm, model_path=path, hydra=hydra, **levers)

    def run(texts, to):
        results = translate_many(translator, texts, to=to, glossary=False, generator=generator)
        run.chosen = {k: sum(r.chosen == k for r in results) for k in ("model", "draft", "memory")}
        return [" ".join(r.text.split()) for r in results]

    return run


def score(ws, pairs, run) -> dict:
    from kit.metrics import chrf

    out = {}
    for to, col in ((ws.target_lang, 0), (ws.source_lang, 1)):
        started = time.perf_counter()
        hyps = run([p[col] for p in pairs], to)
        refs = [p[1 - col] for p in pairs]
        key = f"{ws.source_lang}->{to}" if to == ws.target_lang else f"{ws.target_lang}->{to}"
        out[key] = {"chrf": round(chrf(hyps, refs), 2), "chrf_pp": round(chrf(hyps, refs, word_order=2), 2),
                    "seconds": round(time.perf_counter() - started, 1), "examples": hyps[:3]}
        if getattr(run, "chosen", None):  # the translator: whose text each answer is (model, draft, memory)
            out[key]["chosen"] = run.chosen
        log(f"  {key}: chrF {out[key]['chrf']:.2f} ({out[key]['seconds']} s) e.g. {hyps[0]!r}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, default=Path("/tmp/hydra/cy-draft-10"),
                    help="a workspace with a trans-tokenized model (and fine-tuned ones); only read")
    ap.add_argument("--root", type=Path, default=Path("/tmp/hydra"))
    ap.add_argument("--lines", type=int, default=100)
    ap.add_argument("--models", default="", help="comma-separated model names (default: every transtok/finetuned)")
    ap.add_argument("--drafts", default="trained", help="'trained' (as the fine-tune asked), 'on', 'off' or 'on,off'")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engine", default="torch", choices=("torch", "gguf"),
                    help="torch: the float32 reference; gguf: the union GGUF (F16, kit.gguf.hydra) in llama.cpp")
    ap.add_argument("--translator", default="",
                    help="comma-separated Translator variants to measure with hydra off and on through the kit's "
                         "translator on the union GGUF (llama.cpp): " + ", ".join(TRANSLATOR_VARIANTS))
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    if args.report:
        return report(args.root)

    from kit.demo import demo_data
    from kit.evaluate import read_test_pairs
    from kit.infer.engine import ChatTemplate
    from kit.infer.hydra import body_changed, source_side_dir
    from kit.infer.wordbyword import uses_draft
    from kit.workspace import Workspace

    ws = Workspace.open(args.workspace)
    files = demo_data(ws.target_lang)
    pairs = read_test_pairs(files.test, limit=args.lines)
    subset = f"first {len(pairs)} lines of {files.test.relative_to(REPO)}"
    names = [m for m in args.models.split(",") if m]
    rows = [r for r in ws.models() if (r["name"] in names if names else r["role"] in ("transtok", "finetuned"))]
    drafts = [uses_draft(ws)] if args.drafts == "trained" else [d == "on" for d in args.drafts.split(",")]
    for row in rows:
        source_dir = source_side_dir(ws, row)
        if source_dir is None:
            log(f"{row['name']}: no source tables in it or its ancestors; skipped")
            continue
        model_dir = ws.model_dir(row)
        if args.engine == "gguf" or args.translator:
            from kit.gguf.hydra import write_hydra_gguf

            path = args.root / f"{args.workspace.name}-{row['name']}-hydra-F16.gguf"
            if not path.exists():
                write_hydra_gguf(model_dir, source_dir, path)
            model = GgufEngine(path, threads=args.threads)
            if args.translator:
                translator_rows(args, ws, row, model, path, pairs, subset)
                continue
        else:
            model = TorchEngine(model_dir, source_dir, threads=args.threads)
        template = ChatTemplate((model_dir / "chat_template.jinja").read_text(encoding="utf-8"))
        for draft in drafts:
            for hydra in (False, True):
                label = "Hydra" if hydra else "plain"
                log(f"{row['name']} ({row.get('method')}) {label}, draft {'on' if draft else 'off'}")
                scores = score(ws, pairs, system(ws, model, template, hydra=hydra, draft=draft))
                entry = {"workspace": str(args.workspace), "model": row["name"], "method": row.get("method"),
                         "body_changed": body_changed(ws, row), "system": label, "draft": draft,
                         "engine": args.engine,
                         "subset": subset, "scores": scores,
                         "command": f"nice -n 10 .venv/bin/python bench/hydra.py --workspace {args.workspace} "
                                    f"--lines {args.lines} --models {row['name']} --drafts {'on' if draft else 'off'} "
                                    f"--engine {args.engine}",
                         "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": os.getloadavg()[0]}
                with open(args.root / "rows.jsonl", "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        del model
    report(args.root, write=False)


def translator_rows(args, ws, row, engine, path, pairs, subset) -> None:
    for variant in args.translator.split(","):
        for hydra in (False, True):
            log(f"{row['name']} translator '{variant}', hydra {'on' if hydra else 'off'}")
            run = translator_system(ws, engine.llm, engine.generator, path, hydra=hydra,
                                    levers=TRANSLATOR_VARIANTS[variant])
            entry = {"workspace": str(args.workspace), "model": row["name"], "method": row.get("method"),
                     "system": "Hydra" if hydra else "plain", "translator": variant, "engine": "gguf F16",
                     "subset": subset, "scores": score(ws, pairs, run),
                     "command": f"nice -n 10 .venv/bin/python bench/hydra.py --workspace {args.workspace} "
                                f"--lines {args.lines} --models {row['name']} --translator '{variant}'",
                     "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": os.getloadavg()[0]}
            with open(args.root / "rows.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def report(root: Path, write: bool = True) -> None:
    """Hydra against plain for each (model, draft) measured in the same run: chrF both ways and ratios."""
    rows = [json.loads(line) for line in (root / "rows.jsonl").read_text().splitlines() if line.strip()]
    latest: dict = {}
    for r in rows:
        how = f"translator: {r['translator']}" if "translator" in r else f"own answers, draft {'yes' if r['draft'] else 'no'}"
        latest[(r["workspace"], r["model"], r.get("engine", "torch"), how, r["system"])] = r
    lines = ["| model | engine | decoding | en→cy plain | en→cy Hydra | ratio | cy→en plain | cy→en Hydra | ratio | command |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (wsp, model, engine, how, system), r in latest.items():
        if system != "plain" or (wsp, model, engine, how, "Hydra") not in latest:
            continue
        h = latest[(wsp, model, engine, how, "Hydra")]
        cells = []
        for key in r["scores"]:
            p, q = r["scores"][key]["chrf"], h["scores"][key]["chrf"]
            cells += [f"{p:.1f}", f"{q:.1f}", f"{q / p:.2f}" if p else "-"]
        what = f"{model} ({r['method']})"
        lines.append(f"| {what} | {engine} | {how} | " + " | ".join(cells) + f" | `{h['command']}` |")
    table = "\n".join(lines)
    print(table)
    if not write:
        return
    from _sections import run_notes, write_section

    write_section("hydra", f"## hydra\n\n`bench/hydra.py` (rows from {root}/rows.jsonl). Test lines: "
                  f"{rows[-1]['subset']}. chrF of the model's own answers (no fallback, no consensus), greedy, "
                  f"torch float32, Hydra and plain on the same loaded weights in the same run.\n\n"
                  f"{run_notes(root)}{table}\n")


if __name__ == "__main__":
    main()
