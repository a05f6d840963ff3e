"""Training text for the fine-tune: target text and translation instructions, packed into blocks.

Why packing: the workspace text is mostly short UI strings and sentences; padding each to the block
length would waste most of a laptop's few tokens per second on pad tokens. Every document is tokenized,
followed by the EOS token, concatenated into one stream and cut into ``seq_len`` blocks.

Why translation instructions: a community wants the model to *translate*, so each parallel pair also
appears as a chat turn in both directions ("Translate to Welsh: …" → "…"), formatted with the model's
own chat template so the fine-tuned model answers the way ``kit.infer`` will ask.

Why the word-by-word draft in those turns (recipe ``draft``, kit.finetune.plan): with the dictionary's
draft in the request the model learns to post-edit (choose senses, fix order, inflect) instead of
translating from nothing, which a brief fine-tune can teach; the translator then asks the same way
(the choice is recorded in the workspace, kit.infer.wordbyword.record_prompt). Recipe
``dictionary_examples`` adds dictionary entries as short translation pairs.

The held-out split is only ever read for measuring bits per character, never packed into training blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from ..corpus import heldout_texts, parallel_pairs, target_texts
from ..errors import WorkspaceError


def translation_prompts(tokenizer, pairs: Sequence[tuple[str, str]], source_lang: str,
                        target_lang: str, drafts: Optional[Callable[[str, str, str], str]] = None,
                        examples: Optional[Callable[[str, str, str], list]] = None) -> list[str]:
    """Each pair as a chat exchange in both directions, through the model's chat template.

    Without a chat template the pair is written as a plain instruction line, so base models
    still learn the mapping. ``drafts(text, from_lang, into_lang)`` gives the word-by-word draft
    shown in the request (kit.infer.wordbyword.draft_instruction), none when omitted;
    ``examples(text, from_lang, into_lang)`` the translation-memory pairs shown (kit.infer.memory).
    """
    from ..langs import translation_instruction
    from ..infer.wordbyword import draft_instruction

    out: list[str] = []
    template = getattr(tokenizer, "chat_template", None)
    for source, target in pairs:
        for text, answer, frm, into in ((source, target, source_lang, target_lang),
                                        (target, source, target_lang, source_lang)):
            instruction = draft_instruction(translation_instruction(text, into),
                                            drafts(text, frm, into) if drafts is not None else None,
                                            examples(text, frm, into) if examples is not None else ())
            if template:
                out.append(tokenizer.apply_chat_template(
                    [{"role": "user", "content": instruction}, {"role": "assistant", "content": answer}],
                    tokenize=False))
            else:
                out.append(f"{instruction}\n{answer}")
    return out


@dataclass
class TrainingText:
    """What one run trains on and measures on, as strings (before tokenization)."""

    documents: list[str]
    heldout: list[str]
    target_count: int
    prompt_count: int


def gather_training_text(ws, tokenizer, *, translation: bool = True, heldout_limit: int = 128) -> TrainingText:
    """Collect the train documents and the held-out texts of a workspace.

    Held-out text comes from the ``heldout`` split. A workspace without one gets every 20th
    target text set aside (and removed from training), so bits per character is always
    measured on text the model never trained on.
    """
    texts = target_texts(ws, "train")
    heldout = heldout_texts(ws, stand_in=True, train=texts)
    pairs = parallel_pairs(ws, "train") if translation else []
    if not texts:
        raise WorkspaceError(
            "the workspace has no target-language text to fine-tune on; import some with "
            "'taalkit corpus import FILE' first")
    if not heldout:
        raise WorkspaceError(
            "the workspace has too little text to hold any out for measuring (need 20 lines or a "
            "held-out file); import more text first")
    heldout_set = set(heldout)
    texts = [t for t in texts if t not in heldout_set]
    pairs = [(s, t) for s, t in pairs if t not in heldout_set]
    from .plan import recipe

    settings = recipe(ws)
    if translation and settings["dictionary_examples"]:
        pairs = pairs + dictionary_examples(ws, int(settings["dictionary_examples"]))
    drafts = draft_maker(ws) if translation and settings["draft"] else None
    memory = int(settings["memory"]) if translation else 0
    examples = example_maker(ws, pairs, memory) if memory and pairs else None
    if translation:
        from ..infer.wordbyword import record_prompt

        record_prompt(ws, draft=drafts is not None, memory=memory if examples is not None else 0)
    prompts = translation_prompts(tokenizer, pairs, ws.source_lang, ws.target_lang, drafts,
                                  examples) if pairs else []
    # Interleave so a short run sees both kinds of text, not only the first kind.
    documents = _interleave(texts, prompts)
    return TrainingText(documents, heldout[:heldout_limit], len(texts), len(prompts))


def draft_maker(ws) -> Optional[Callable[[str, str, str], str]]:
    """``(text, from, into) -> word-by-word draft`` over the workspace dictionary (None without one).

    One lookup per direction, cached per word, so drafting 30k training requests costs seconds.
    """
    if not ws.db.execute("select 1 from entries limit 1").fetchone():
        return None
    from ..infer.glossary import DictionaryLookup
    from ..infer.wordbyword import word_by_word

    lookups: dict[tuple[str, str], DictionaryLookup] = {}

    def draft(text: str, frm: str, into: str) -> str:
        if (frm, into) not in lookups:
            lookups[(frm, into)] = DictionaryLookup(ws, frm, into)
        return word_by_word(ws, text, source_lang=frm, target_lang=into, lookup=lookups[(frm, into)])

    return draft


def example_maker(ws, pairs: Sequence[tuple[str, str]], k: int) -> Callable[[str, str, str], list]:
    """``(text, from, into) -> the k most similar other training pairs`` (kit.infer.memory), so each
    training request shows examples the way the translator will: never the pair itself, and never a
    held-out text (``pairs`` are the training pairs only)."""
    from ..infer.memory import TranslationMemory

    memories = {(ws.source_lang, ws.target_lang): TranslationMemory(pairs),
                (ws.target_lang, ws.source_lang): TranslationMemory([(t, s) for s, t in pairs])}

    def examples(text: str, frm: str, into: str) -> list:
        return memories[(frm, into)].similar(text, k, exclude=text)

    return examples


def dictionary_examples(ws, limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` dictionary entries as ``(source, target)`` pairs: short, clean translation
    examples (first sense of each headword, phrases and single words alike)."""
    from ..dictionary.pairs import translation_pairs

    seen, out = set(), []
    for _rid, source, target in translation_pairs(ws):
        target = target.split(";")[0].split(",")[0].strip()
        if source.lower() in seen or not target:
            continue
        seen.add(source.lower())
        out.append((source, target))
        if len(out) >= limit:
            break
    return out


def _interleave(a: list[str], b: list[str]) -> list[str]:
    if not b:
        return list(a)
    out: list[str] = []
    ratio = len(a) / len(b)
    ia = 0.0
    j = 0
    for item in b:
        ia += ratio
        while j < int(ia) and j < len(a):
            out.append(a[j])
            j += 1
        out.append(item)
    out.extend(a[j:])
    return out


def pack_blocks(tokenizer, documents: Sequence[str], seq_len: int):
    """Tokenize ``documents`` (EOS after each), concatenate and cut into ``[n, seq_len]`` blocks.

    The remainder shorter than a block is dropped; a corpus shorter than one block is an error
    that names a smaller ``--seq-len``.
    """
    import torch

    eos = tokenizer.eos_token_id
    stream: list[int] = []
    encoded = tokenizer(list(documents), add_special_tokens=False)["input_ids"]
    for ids in encoded:
        stream.extend(ids)
        if eos is not None:
            stream.append(eos)
    n = len(stream) // seq_len
    if n == 0:
        raise WorkspaceError(
            f"the training text is only {len(stream)} tokens, less than one block of {seq_len}; "
            f"import more text or try --seq-len {max(16, len(stream) // 2)}")
    return torch.tensor(stream[: n * seq_len], dtype=torch.long).view(n, seq_len)


class BlockSampler:
    """Shuffled passes over the blocks whose position is two integers, so a resume is exact.

    Pass ``epoch`` visits the blocks in the order of a permutation drawn from ``seed + epoch``;
    ``cursor`` is how far into that pass we are. Nothing else is needed to continue.
    """

    def __init__(self, blocks, seed: int, epoch: int = 0, cursor: int = 0) -> None:
        self.blocks = blocks
        self.seed = int(seed)
        self.epoch = int(epoch)
        self.cursor = int(cursor)
        self._order = None

    def _permutation(self):
        import torch

        if self._order is None:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._order = torch.randperm(len(self.blocks), generator=gen)
        return self._order

    def next_batch(self, batch_size: int):
        import torch

        picked = []
        rows = 0
        while rows < batch_size:
            order = self._permutation()
            if self.cursor >= len(order):
                self.epoch += 1
                self.cursor = 0
                self._order = None
                continue
            take = min(batch_size - rows, len(order) - self.cursor)
            picked.append(order[self.cursor:self.cursor + take])
            self.cursor += take
            rows += take
        return self.blocks[torch.cat(picked)]

    def state(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.seed, "blocks": len(self.blocks)}

    @classmethod
    def from_state(cls, blocks, state: Optional[dict], seed: int) -> "BlockSampler":
        if not state:
            return cls(blocks, seed)
        if state.get("blocks") not in (None, len(blocks)):
            raise WorkspaceError(
                f"the workspace text changed since this run started ({state['blocks']} blocks then, "
                f"{len(blocks)} now); start a new run instead of --resume")
        return cls(blocks, state.get("seed", seed), state.get("epoch", 0), state.get("cursor", 0))
