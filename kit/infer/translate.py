"""Prompted translation with the model's chat template, in both directions, dictionary-aware.

``translate(ws, "Open the file", to="cy")`` renders a system message (the task, plus the
glossary of dictionary entries for the input's words), the text as the user message, and
decodes greedily. ``translate_file`` does the same line by line for a plain or TSV file,
appending to the output so a crash at line 4,000 restarts at line 4,000.

Defaults that use the workspace's dictionary and parallel text, each measured on/off by
``bench/translation_quality.py`` (figures in bench/RESULTS.md):
- **draft**: the word-by-word draft goes into the request (``Word by word: …``) and the model
  post-edits it — the way kit.finetune trained it (see kit.infer.wordbyword);
- **guard**: greedy decoding never repeats an n-gram of its own answer and never starts by
  echoing the instruction (kit.infer.engine's logits processors);
- **fallback**: an answer that is empty, looping, or nothing like the draft in length is replaced
  by the closest translation-memory sentence when it is close enough, else by the draft;
- **consensus**: the answer given is the candidate — the model's, the draft, or one of the two
  closest memory sentences (kit.infer.memory) — that agrees most with the others
  (kit.infer.consensus). This is what lifts the translator above both the dictionary and the
  memory. The model's answer is a candidate only when no training sentence is close to the text
  (``MEMORY_TRUST``): its answers are post-edits of the draft and, where the memory has a close
  sentence, they side with the draft against the better memory sentences. There the model is not
  asked at all (``Plan.answer_left_out``), which on the shipped Welsh test lines is three lines in four.
Showing memory sentences in the request (``memory``) is a lever, off unless the fine-tune trained
with it.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from ..errors import TaalkitError
from ..progress import CancelToken, ProgressCallback, emit
from ..textio.files import iter_lines
from .default_model import resolve_model
from .engine import ChatTemplate, StreamStats, load_llama, prompt_ids, stream_tokens
from .hydra import TARGET, HydraRuntime
from .glossary import DictionaryLookup, Glossary, GlossaryEntry, build_glossary, lang_code, lang_name
from .consensus import consensus
from .memory import FALLBACK_SIMILARITY, Match, TranslationMemory, workspace_memory
from .wordbyword import DRAFT_LABEL, draft_instruction, prompt_recipe, word_by_word

# Defaults chosen by bench/translation_quality.py (see bench/RESULTS.md, "translation_quality").
GUARD_NGRAM = 4
DRAFT_BIAS = 0.0  # logit bonus for the draft's tokens (kit.infer.engine.DraftBias); 0 = off
# Choose among model answer, draft and memory matches by agreement (kit.infer.consensus). Chosen on
# test lines 401-450 (never the reported ones) with the 10-CPU-minute draft+memory model: chrF
# en→cy / cy→en 29.1 / 26.9 without, 44.4 / 43.1 with (word by word 35.2 / 33.8).
CONSENSUS = True
CONSENSUS_MATCHES = 2  # memory matches in the consensus pool
# The model's answer joins the consensus only when no training sentence is this close to the text
# (kit.infer.memory similarity of the closest): where the memory has a close sentence, the answer —
# a post-edit of the draft it was shown — sides with the draft and out-votes better memory
# sentences; where it has none, the answer is the one candidate about this very text. Chosen on test
# lines 401-450 (never the reported ones) over four adapted SmolLM2 models (10/30/60 CPU-minutes, old
# and new initialisation), chrF en→cy / cy→en: always in the pool 39.9-45.0 / 41.5-43.0, never
# 44.3 / 46.9, gated at 0.4 44.3-44.6 / 47.4-47.9 (0.5: 44.7-45.1 / 43.3-44.3).
MEMORY_TRUST = 0.4
# Hydra translation on a Hydra GGUF (kit.infer.hydra); measured on/off by bench/hydra.py on the
# 10-CPU-minute draft model, first 100 test lines: its own answers en→cy 11.3 → 8.5, cy→en 13.9 → 32.0,
# but with the consensus 45.9 → 47.2 and 47.0 → 42.2 (its fluent English wins the vote on 38 lines
# against 5, over better memory sentences). Off; ``hydra="en"`` is the one-way form.
HYDRA = False


@dataclass
class Translation:
    text: str
    glossary_entries: list[GlossaryEntry]
    source_lang: str
    target_lang: str
    model_path: str = ""
    prompt: str = ""  # what llama.cpp was given (where the plan left the answer out: would have been)
    tokens: int = 0
    tokens_per_s: float = 0.0
    seconds: float = 0.0
    stopped: bool = False
    notes: list[str] = field(default_factory=list)
    draft: str = ""  # the word-by-word draft the model was shown ("" when none)
    raw: str = ""  # the model's answer before the fallback (equal to text unless it fell back)
    fell_back: bool = False
    examples: list[Match] = field(default_factory=list)  # translation-memory pairs shown in the request
    chosen: str = "model"  # whose text this is: model | draft | memory (fallback or consensus)
    matches: list[Match] = field(default_factory=list)  # the similar sentences weighed (fallback, consensus)


def direction(ws, to: str) -> tuple[str, str]:
    """(source, target) language codes for a translation into ``to`` within this workspace."""
    to = lang_code(to or ws.target_lang)
    pair = (lang_code(ws.source_lang), lang_code(ws.target_lang))
    if to == pair[1]:
        return pair
    if to == pair[0]:
        return pair[1], pair[0]
    raise TaalkitError(f"this workspace translates between {pair[0]} and {pair[1]}; --to {to} is neither")


def system_message(source: str, target: str, glossary: Glossary) -> str:
    """The glossary as context: the dictionary entries and how to use them."""
    return (glossary.prompt_text() + f"\nUse these dictionary translations where they fit, and reply "
            f"with the {lang_name(target)} translation only.")


def user_message(text: str, target: str, draft: Optional[str] = None,
                 examples: Sequence[Match] = ()) -> str:
    """Word for word the instruction kit.finetune trains on (``Translate to Welsh: …``, then the
    translation-memory examples and the word-by-word draft when there are any), so an adapted model
    is asked the way it learned (kit.infer.wordbyword.draft_instruction builds it for both)."""
    from ..langs import translation_instruction

    return draft_instruction(translation_instruction(text, lang_code(target)), draft, examples)


def translation_messages(text: str, source: str, target: str, glossary: Optional[Glossary],
                         draft: Optional[str] = None, examples: Sequence[Match] = ()) -> list[dict]:
    """Without a glossary: the bare training-format turn (the template adds its default system prompt).
    With one: the glossary as the system message, before the same turn."""
    messages = [{"role": "user", "content": user_message(text, target, draft, examples)}]
    if glossary:
        messages.insert(0, {"role": "system", "content": system_message(source, target, glossary)})
    return messages


@dataclass
class Plan:
    """Everything decided about one translation before decoding: the one-at-a-time path
    (:meth:`Translator.translate`) and the batched one (kit.infer.batch) share it, so they cannot drift."""

    text: str
    source: str
    target: str
    draft: str  # the word-by-word draft ("" when neither shown nor needed for the fallback)
    shown: Optional[str]  # the draft as shown in the request (None: not shown)
    examples: list[Match]  # translation-memory pairs shown in the request
    matches: list[Match]  # the closest pairs, shown or not (the fallback and the consensus use them)
    prompt: str
    glossary: Glossary
    budget: int  # most tokens the answer may take
    single_line: bool
    processors: list
    notes: list[str] = field(default_factory=list)
    ids: Optional[list[int]] = None  # the request as token ids, when the runtime tokenizes (a Hydra GGUF)
    # A training sentence is this close to the text (``MEMORY_TRUST``), so the consensus leaves the
    # model's answer out: nobody decodes one, as it could not be chosen.
    answer_left_out: bool = False

    def stop_early(self, so_far: str, piece: str) -> bool:
        """Stop decoding: looping, or a one-line input whose one-line answer is complete."""
        return stuck_in_loop(so_far) or (self.single_line and "\n" in piece and (
            so_far.count("\n") >= 3 or bool(clean_output(so_far, True))))


class Translator:
    """One loaded model translating many texts (the model, dictionary lookups and memory are reused)."""

    def __init__(self, ws, *, model_path: Optional[os.PathLike | str] = None, llm=None, n_ctx: int = 2048,
                 n_threads: Optional[int] = None, max_entries: int = 24, draft: Optional[bool] = None,
                 guard: bool = True, fallback: bool = True, draft_bias: Optional[float] = None,
                 memory: Optional[int] = None, memory_fallback: bool = True,
                 consensus: Optional[bool] = None, hydra=None, memory_trust: Optional[float] = None) -> None:
        """``draft`` / ``memory`` None: as the workspace's fine-tune trained (kit.infer.wordbyword.prompt_recipe).
        ``memory`` is how many translation-memory pairs the request shows (0: none). The draft and the
        fallback need a dictionary, the memory parallel text; without them they are quietly off.
        ``memory_fallback``: a failed answer falls back to the closest pair when it is close enough
        (``FALLBACK_SIMILARITY``), else to the draft. ``consensus``: the answer is the candidate (the
        model's answer, the draft, the closest memory pairs) that agrees most with the others
        (kit.infer.consensus); None: ``CONSENSUS``. ``memory_trust``: the model's answer is a candidate
        only when the closest memory sentence is less similar than this (None: ``MEMORY_TRUST``; above 1:
        always a candidate). ``hydra`` (a Hydra GGUF, kit.gguf.hydra): the
        request's source-language words are read through the source model's own table and an answer
        in the source language is written through its head (kit.infer.hydra); a language code: only
        translations into that language; None: ``HYDRA``. A Hydra GGUF with ``hydra`` off runs as the
        plain trans-tokenized model."""
        self.ws = ws
        has_dictionary = bool(ws.db.execute("select 1 from entries limit 1").fetchone())
        trained = prompt_recipe(ws)
        self.draft = (trained["draft"] if draft is None else bool(draft)) and has_dictionary
        self.memory = int(trained["memory"] if memory is None else memory)
        self.guard = bool(guard)
        self.fallback = bool(fallback) and has_dictionary
        self.memory_fallback = bool(memory_fallback)
        self.consensus = CONSENSUS if consensus is None else bool(consensus)
        self.memory_trust = MEMORY_TRUST if memory_trust is None else float(memory_trust)
        self.draft_bias = DRAFT_BIAS if draft_bias is None else float(draft_bias)
        if llm is None:
            path = resolve_model(ws, model_path)
            llm = load_llama(path, n_ctx=n_ctx, n_threads=n_threads)
            self.model_path = str(path)
        else:
            self.model_path = str(model_path or getattr(llm, "model_path", ""))
        self.llm = llm
        self.template = ChatTemplate.from_llama(llm)
        self.union = HydraRuntime.of(llm)
        self.hydra = HYDRA if hydra is None else (hydra if isinstance(hydra, str) else bool(hydra))
        if self.hydra and self.union is None:
            raise TaalkitError(f"{self.model_path}: Hydra translation needs a Hydra GGUF (kit.gguf.hydra)")
        self.max_entries = max_entries
        self._lookups: dict[tuple[str, str], DictionaryLookup] = {}
        self._memories: dict[tuple[str, str], TranslationMemory] = {}

    def lookup(self, source: str, target: str) -> DictionaryLookup:
        key = (source, target)
        if key not in self._lookups:
            self._lookups[key] = DictionaryLookup(self.ws, source, target)
        return self._lookups[key]

    def memory_for(self, source: str, target: str) -> TranslationMemory:
        key = (source, target)
        if key not in self._memories:
            self._memories[key] = workspace_memory(self.ws, source, target)
        return self._memories[key]

    def word_by_word(self, text: str, *, to: str) -> str:
        source, target = direction(self.ws, to)
        return word_by_word(self.ws, text, source_lang=source, target_lang=target,
                            lookup=self.lookup(source, target))

    def prompt(self, text: str, *, to: str, glossary: bool = True, draft: Optional[str] = None,
               examples: Sequence[Match] = ()) -> tuple[str, Glossary]:
        source, target = direction(self.ws, to)
        gloss = build_glossary(self.ws, text, source_lang=source, target_lang=target,
                               max_entries=self.max_entries, lookup=self.lookup(source, target)) \
            if glossary else Glossary([], source, target)
        return self.template.render(translation_messages(text, source, target, gloss, draft, examples)), gloss

    def _tokenize(self, text: str, side: Optional[str]) -> list[int]:
        if side is not None:
            return self.union.vocab.encode(side, text)
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def _processors(self, text: str, draft: str = "", side: Optional[str] = None) -> list:
        """Fresh guard processors for one answer (they remember where the prompt ended); ``side``:
        the answer's side of a Hydra GGUF, whose ids it is masked to."""
        from .engine import BanFirst, DraftBias, NoRepeatNGram

        processors = [self.union.mask(side)] if side is not None else []
        if draft and self.draft_bias:
            ids = self._tokenize(" " + draft, side)
            processors.append(DraftBias(ids, self.draft_bias))
        if not self.guard:
            return processors
        processors.append(NoRepeatNGram(GUARD_NGRAM))
        if not text.lstrip().lower().startswith("translate"):
            # The echoed instruction starts with this word; an answer that should not, must not.
            ids = {self._tokenize(w, side)[0] for w in ("Translate", " Translate")}
            processors.append(BanFirst(ids))
        return processors

    def plan(self, text: str, *, to: str, glossary: bool = True, max_tokens: Optional[int] = None,
             n_ctx: Optional[int] = None) -> Plan:
        """Draft, memory examples, prompt, token budget and processors for one text; ``n_ctx`` is the
        context the answer must fit (the model's, or a batch slot's)."""
        source, target = direction(self.ws, to)
        draft = self.word_by_word(text, to=to) if (self.draft or self.fallback) else ""
        shown = draft if self.draft else None
        matches = self.memory_for(source, target).similar(text, max(self.memory, CONSENSUS_MATCHES)) \
            if (self.memory or self.consensus or self.memory_fallback and self.fallback) else []
        examples = matches[:self.memory]
        prompt, gloss = self.prompt(text, to=to, glossary=glossary, draft=shown, examples=examples)
        notes = []
        n_ctx = n_ctx or self.llm.n_ctx()

        hydra = self.hydra is True or (isinstance(self.hydra, str) and lang_code(self.hydra) == target)
        side = self.union.answer_side(target, self.ws.source_lang, hydra) if self.union else None

        def request_ids(gloss_, examples_):
            return self.union.request_ids(self.template, text, source=source, target=target, hydra=hydra,
                                          ws_source=self.ws.source_lang, draft=shown, glossary=gloss_ or None,
                                          examples=examples_)

        hydra_ids: list[list[int]] = []  # on a Hydra GGUF, the request of the latest count: the one sent

        def count(prompt_text: str) -> int:
            if self.union:
                hydra_ids[:] = [request_ids(gloss, examples)]
                return len(hydra_ids[0])
            return len(prompt_ids(self.llm, prompt_text))

        n_prompt = count(prompt)
        n_text = len(self._tokenize(text, TARGET if self.union else None))
        budget = max_tokens or min(512, 2 * n_text + 16)
        if n_prompt + budget > n_ctx and gloss:
            # The glossary is the first thing to give up when the context is short.
            notes.append("glossary left out: the text is too long for the model's context with it")
            prompt, gloss = self.prompt(text, to=to, glossary=False, draft=shown, examples=examples)
            n_prompt = count(prompt)
        if n_prompt + budget > n_ctx and examples:
            notes.append("similar translations left out: the text is too long for the model's context with them")
            examples = []
            prompt, gloss = self.prompt(text, to=to, glossary=False, draft=shown)
            n_prompt = count(prompt)
        if n_prompt + budget > n_ctx:
            budget = n_ctx - n_prompt
            if budget < 8:
                raise TaalkitError(f"the text is too long to translate in one piece ({n_text} tokens for a "
                                   f"{n_ctx}-token context); split it into shorter lines")
        single_line = "\n" not in text.strip()
        left_out = self.consensus and single_line and bool(matches) and matches[0].similarity >= self.memory_trust
        return Plan(text, source, target, draft, shown, examples, matches, prompt, gloss,
                    budget, single_line, self._processors(text, draft if self.draft else "", side), notes,
                    hydra_ids[0] if self.union else None, left_out)

    def finish(self, plan: Plan, generated: str, *, stopped: bool = False) -> Translation:
        """The answer from what the model generated: cleaned, and replaced when it is no translation —
        by the closest memory pair when that is close enough, else by the word-by-word draft. Where
        the plan left the model's answer out, ``generated`` is not read."""
        raw = "" if plan.answer_left_out else clean_output(generated, single_line=plan.single_line)
        out, fell_back, notes = raw, False, list(plan.notes)
        if self.fallback and plan.draft and not stopped and not plan.answer_left_out:
            why = degenerate(raw, plan.draft, plan.text)
            if why:
                fell_back = True
                match = plan.matches[0] if plan.matches else None
                if self.memory_fallback and match is not None and match.similarity >= FALLBACK_SIMILARITY:
                    out = match.target
                    notes.append(f"the model's answer was {why}: the translation of the most similar "
                                 f"sentence in the workspace is given instead")
                else:
                    out = plan.draft
                    notes.append(f"the model's answer was {why}: the word-by-word draft is given instead")
        chosen = "model" if not fell_back else ("memory" if out != plan.draft else "draft")
        if self.consensus and not stopped and plan.single_line:  # memory pairs are one line each
            close = plan.answer_left_out
            pool = ([] if close else [(chosen, out)]) + ([("draft", plan.draft)] if plan.draft else []) + [
                ("memory", m.target) for m in plan.matches[:CONSENSUS_MATCHES]]
            # Two candidates cannot outvote each other: agreement needs a third (a memory pair).
            pick = consensus([c for _k, c in pool]) if len(pool) >= 3 else 0
            if close or pick:
                chosen, out = pool[pick]
                notes.append(f"the {'word-by-word draft' if chosen == 'draft' else 'translation of a similar sentence'}"
                             f" agreed best with the other candidates and is given"
                             + (" (a training sentence is close to this text, so the model was not asked)"
                                if close else ""))
        return Translation(out, list(plan.glossary.entries), plan.source, plan.target, self.model_path,
                           plan.prompt, notes=notes, draft=plan.shown or "", raw=raw, fell_back=fell_back,
                           examples=list(plan.examples), stopped=stopped, chosen=chosen,
                           matches=list(plan.matches[:CONSENSUS_MATCHES]))

    def translate(self, text: str, *, to: str, glossary: bool = True, cancel: Optional[CancelToken] = None,
                  max_tokens: Optional[int] = None) -> Translation:
        plan = self.plan(text, to=to, glossary=glossary, max_tokens=max_tokens)
        stats = StreamStats()
        started = time.perf_counter()
        if plan.answer_left_out:
            result = self.finish(plan, "")
            result.seconds = time.perf_counter() - started
            return result
        if plan.ids is not None:  # a Hydra GGUF: token ids in, the runtime's own decoding (kit.infer.batch)
            from .batch import BatchGenerator

            with BatchGenerator(self.llm, n_seq=1, ctx_per_seq=self.llm.n_ctx()) as generator:
                raw = generator.generate([plan.ids], [plan.budget], stop=[plan.stop_early],
                                         processors=[plan.processors], cancel=cancel,
                                         detokenize=self.union.vocab.piece)[0]
            result = self.finish(plan, raw)
            result.seconds = time.perf_counter() - started
            return result
        stream = stream_tokens(self.llm, plan.prompt, max_tokens=plan.budget, stats=stats, temperature=0.0,
                               cancel=cancel, logits_processors=plan.processors)
        for piece in stream:
            if plan.stop_early(stats.text, piece):  # saves time; the rest would be cut off anyway
                stream.close()
                stats.finish_reason = "stop"
                break
        result = self.finish(plan, stats.text, stopped=stats.finish_reason == "stopped")
        result.tokens, result.tokens_per_s = stats.tokens, stats.tokens_per_s
        result.seconds = time.perf_counter() - started
        return result


# "Welsh:", "Translation:", "English translation:" — labels small models put before the answer.
LABEL_RE = re.compile(r"^(?:[\w ]{0,30}translation|welsh|english|cymraeg|saesneg|[A-Z][a-z]+)\s*:\s*", re.I)


# The request echoed back ("Translate to English: …") and the draft's label, which small models copy.
# The label may come back cut short ("Word by:"), so its words after the second are optional.
_LABEL_WORDS = DRAFT_LABEL.split()
ECHO_RE = re.compile(r"^\s*(?:translate to [^:\n]{1,40}:|" + r"\s+".join(map(re.escape, _LABEL_WORDS[:2]))
                     + "".join(rf"(?:\s+{re.escape(w)})?" for w in _LABEL_WORDS[2:]) + r"\s*:)\s*", re.I)


def _is_label(line: str) -> bool:
    return bool(LABEL_RE.match(line)) and not LABEL_RE.sub("", line).strip()


def stuck_in_loop(text: str, longest_unit: int = 8, repeats: int = 4) -> bool:
    """True when the text ends in one short unit repeated (``flaflaflafl``): a small model's dead end."""
    for k in range(2, longest_unit + 1):
        if len(text) >= k * repeats and text[-k * repeats:] == text[-k:] * repeats:
            return True
    return False


def clean_output(text: str, single_line: bool) -> str:
    """The model's answer without chat residue or an echoed request; for a one-line input, its first
    non-empty line."""
    text = text.replace("<|im_end|>", "").strip()
    if single_line:
        for line in text.splitlines():
            line = ECHO_RE.sub("", ECHO_RE.sub("", line.strip())).strip()
            if line and not _is_label(line):
                return LABEL_RE.sub("", line).strip()
        return ""
    return "\n".join(ECHO_RE.sub("", line) for line in text.splitlines())


def degenerate(answer: str, draft: str, source: str) -> str:
    """Why ``answer`` is no translation (empty, looping, the source copied, far from the draft's
    length), or "" when it looks like one. Judged without the reference, so usable at run time."""
    a, d = " ".join(answer.split()), " ".join(draft.split())
    if not a:
        return "empty"
    words = a.lower().split()
    trigrams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    if len(trigrams) >= 3 and len(set(trigrams)) <= len(trigrams) / 2 or stuck_in_loop(a):
        return "looping"
    if a.lower() == " ".join(source.split()).lower() and d.lower() != a.lower():
        return "the source text copied"
    if len(d) >= 12 and not (0.5 * len(d) <= len(a) <= 2.0 * len(d) + 8):
        return "far from the draft's length"
    return ""


def translate(ws, text: str, *, to: str, model_path: Optional[os.PathLike | str] = None, glossary: bool = True,
              translator: Optional[Translator] = None, cancel: Optional[CancelToken] = None) -> Translation:
    """Translate ``text`` into ``to`` (the workspace's target or source language)."""
    if not text or not text.strip():
        raise TaalkitError("nothing to translate: the text is empty")
    translator = translator or Translator(ws, model_path=model_path)
    return translator.translate(text, to=to, glossary=glossary, cancel=cancel)


# -- files ----------------------------------------------------------------------------
def read_source_lines(path: os.PathLike | str) -> tuple[list[str], bool]:
    """Source texts of a plain file (one per line) or a TSV (first column); (texts, is_tsv)."""
    path = Path(path)
    if not path.is_file():
        raise TaalkitError(f"{path}: no such file")
    is_tsv = path.suffix.lower() == ".tsv"
    texts = [line.split("\t")[0] if is_tsv else line for _number, line in iter_lines(path)]
    return texts, is_tsv


def _existing_output_lines(out_path: Path) -> list[str]:
    """Lines already translated; a half-written last line (a crash mid-write) is cut off."""
    if not out_path.exists():
        return []
    data = out_path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(out_path, "r+b") as f:
            f.truncate(keep)
        data = data[:keep]
    return data.decode("utf-8", errors="replace").splitlines()


def translate_file(ws, in_path: os.PathLike | str, out_path: os.PathLike | str, *, to: str,
                   model_path: Optional[os.PathLike | str] = None, glossary: bool = True,
                   progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
                   translator: Optional[Translator] = None) -> dict:
    """Translate a file line by line into ``out_path``, resuming after the lines already there.

    Output: one line per input line, ``source<TAB>translation`` for a TSV input, the translation
    alone for plain text. Each line is flushed to disk as it is done (append-only), so a stopped or
    crashed run continues where it ended. Returns counts: ``total``, ``resumed_from``, ``translated``.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    texts, is_tsv = read_source_lines(in_path)
    done_lines = _existing_output_lines(out_path)
    if len(done_lines) > len(texts):
        raise TaalkitError(f"{out_path} has {len(done_lines)} lines but {in_path} only {len(texts)}; "
                           "it belongs to another input, choose another --out")
    if is_tsv:
        for number, (line, text) in enumerate(zip(done_lines, texts), start=1):
            if line.split("\t")[0] != text.replace("\t", " "):
                raise TaalkitError(f"{out_path}:{number} does not match {in_path}:{number}; "
                                   "it belongs to another input, choose another --out")
    start = len(done_lines)
    total = len(texts)
    emit(progress, "translate", start, total, f"resuming at line {start + 1}" if start else "")
    if start == total:
        return {"total": total, "resumed_from": start, "translated": 0}
    translator = translator or Translator(ws, model_path=model_path)
    direction(ws, to)  # fail before opening the output
    out_path.parent.mkdir(parents=True, exist_ok=True)
    translated = 0
    with open(out_path, "a", encoding="utf-8") as out:
        for index in range(start, total):
            if cancel is not None:
                cancel.check()
            text = texts[index]
            result = translator.translate(text, to=to, glossary=glossary) if text.strip() else None
            hyp = " ".join(result.text.split()) if result else ""
            out.write((f"{text.replace(chr(9), ' ')}\t{hyp}" if is_tsv else hyp) + "\n")
            out.flush()
            os.fsync(out.fileno())
            translated += 1
            emit(progress, "translate", index + 1, total,
                 tokens_per_s=round(result.tokens_per_s, 1) if result else 0.0)
    return {"total": total, "resumed_from": start, "translated": translated}
